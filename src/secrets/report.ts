/** The scan report as text, JSON or SARIF 2.1.0 (none of them holds a secret: matches are redacted). */
import { pathToFileURL } from 'node:url';
import { formatSize } from '../core/config/units.js';
import { packageVersion } from '../core/package-root.js';
import { sarifLog, type SarifLevel } from '../core/sarif.js';
import { RULE_CATALOG, type Severity } from './rules.js';
import type { ScanReport, SecretFinding } from './scan.js';

export const FORMATS = ['text', 'json', 'sarif'] as const;
export type Format = (typeof FORMATS)[number];

const where = (f: SecretFinding) => `${f.commit ? `${f.commit.slice(0, 12)}:` : ''}${f.file}:${f.line}:${f.column}`;

/** One finding on one line: `src/x.ts:12:7 stripe-secret-key Stripe secret or restricted API key sk_l… [high]`. */
export function findingLine(f: SecretFinding): string {
  const who = f.commit ? ` (${f.author ?? '?'}, ${f.date?.slice(0, 10) ?? '?'})` : '';
  return `${where(f)} ${f.ruleId} ${f.description} ${f.match} [${f.severity}]${who}`;
}

/** `3 findings: stripe-secret-key in src/x.ts:12, github-pat in .env:3, …` (for a check's message) */
export function summaryLine(r: ScanReport, max = 3): string {
  if (r.findings.length === 0) return 'no findings';
  const shown = r.findings.slice(0, max).map((f) => `${f.ruleId} in ${f.commit ? `${f.commit.slice(0, 12)}:` : ''}${f.file}:${f.line}`);
  const more = r.findings.length > max ? `, and ${r.findings.length - max} more` : '';
  return `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}`;
}

export function toText(r: ScanReport): string {
  const lines = r.findings.map(findingLine);
  for (const s of r.skipped) lines.push(`skipped ${s.file}: ${s.reason}`);
  const what = r.mode === 'files' ? 'files' : r.mode === 'staged' ? 'staged file changes' : 'file changes in the history';
  lines.push(
    `${r.findings.length === 0 ? 'no secrets found' : `${r.findings.length} secret${r.findings.length === 1 ? '' : 's'} found`} in ${r.files} ${r.files === 1 ? what.replace(/^files$/, 'file').replace('changes', 'change') : what} (${formatSize(r.bytes)}, ${(r.durationMs / 1000).toFixed(2)}s)${r.skipped.length ? `; ${r.skipped.length} skipped` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

export function toJson(r: ScanReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

const LEVEL: Record<Severity, SarifLevel> = { high: 'error', medium: 'warning', low: 'note' };

const uriOf = (file: string) => file.split('/').map(encodeURIComponent).join('/');

/** SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/): one run, the rule catalog, one result per finding. */
export function toSarif(r: ScanReport): string {
  const index = new Map(RULE_CATALOG.map((rule, i) => [rule.id, i]));
  const root = pathToFileURL(r.root).href;
  return sarifLog([
    {
      tool: {
        driver: {
          name: 'shipshape-secrets',
          fullName: 'Shipshape secret scanning',
          version: packageVersion(),
          rules: RULE_CATALOG.map((rule) => ({
            id: rule.id,
            name: rule.id.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase()),
            shortDescription: { text: rule.description },
            defaultConfiguration: { level: LEVEL[rule.severity] },
          })),
        },
      },
      originalUriBaseIds: { SRCROOT: { uri: root.endsWith('/') ? root : `${root}/` } },
      invocations: [
        {
          executionSuccessful: true,
          toolExecutionNotifications: r.skipped.map((s) => ({
            level: 'note',
            message: { text: `skipped: ${s.reason}` },
            locations: [{ physicalLocation: { artifactLocation: { uri: uriOf(s.file.replace(/^[0-9a-f]{12}:/, '')), uriBaseId: 'SRCROOT' } } }],
          })),
        },
      ],
      results: r.findings.map((f) => ({
        ruleId: f.ruleId,
        ...(index.has(f.ruleId) ? { ruleIndex: index.get(f.ruleId) } : {}),
        level: LEVEL[f.severity],
        message: { text: `${f.description}: ${f.match}${f.commit ? ` (added in commit ${f.commit.slice(0, 12)} by ${f.author ?? '?'})` : ''}` },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: uriOf(f.file), uriBaseId: 'SRCROOT' },
              region: { startLine: f.line, startColumn: f.column, endColumn: f.endColumn },
            },
          },
        ],
        partialFingerprints: { 'shipshapeSecret/v1': f.fingerprint },
        ...(f.commit ? { properties: { commit: f.commit, author: f.author, email: f.email, date: f.date } } : {}),
      })),
      columnKind: 'utf16CodeUnits',
    },
  ]);
}

export function render(r: ScanReport, format: Format): string {
  return format === 'json' ? toJson(r) : format === 'sarif' ? toSarif(r) : toText(r);
}
