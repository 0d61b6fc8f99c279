/**
 * What `db audit` does with a report after the rules ran: suppressions (accepted findings, each with
 * its reason, from `services.<name>.database.audit.suppress` or a `--suppress` file) taken out of the
 * findings and the counts, a one-line summary for events, and SARIF 2.1.0 for code-scanning tools.
 * Everything here but `loadSuppressions` is pure.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../core/config/load.js';
import { packageVersion } from '../core/package-root.js';
import { sarifLog, type SarifLevel } from '../core/sarif.js';
import { AUDIT_LEVELS, type AuditFinding, type AuditLevel, type AuditReport, type AuditSuppressedFinding, type AuditSuppression } from './api-types.js';
import { suppressionSchema } from './config.js';

/** `public.tmp_*` as an anchored regular expression: `*` matches any run of characters, everything else itself. */
function globRe(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

/** Does `s` accept this finding: same rule, and the object matches when the suppression names one. */
export function suppresses(s: AuditSuppression, f: AuditFinding): boolean {
  return s.rule === f.rule && (s.object === undefined || globRe(s.object).test(f.object));
}

/** Findings counted by level. */
export function countFindings(findings: readonly AuditFinding[]): Record<AuditLevel, number> {
  const counts: Record<AuditLevel, number> = { info: 0, warn: 0, error: 0 };
  for (const f of findings) counts[f.level]++;
  return counts;
}

/**
 * The report with the suppressed findings moved out of `findings` into `suppressed` (each with the
 * reason of the first suppression that accepts it), the counts recomputed from what is left (so a
 * suppressed finding never counts for --fail-on), and the suppressions that accepted nothing in
 * `unused_suppressions`.
 */
export function applySuppressions(report: AuditReport, suppressions: readonly AuditSuppression[]): AuditReport {
  const used = new Set<number>();
  const findings: AuditFinding[] = [];
  const suppressed: AuditSuppressedFinding[] = [...(report.suppressed ?? [])];
  for (const f of report.findings) {
    let first: AuditSuppression | undefined;
    suppressions.forEach((s, i) => {
      if (!suppresses(s, f)) return;
      used.add(i);
      first ??= s;
    });
    if (first) suppressed.push({ ...f, reason: first.reason });
    else findings.push(f);
  }
  return { ...report, findings, counts: countFindings(findings), suppressed, unused_suppressions: suppressions.filter((_, i) => !used.has(i)) };
}

/** One suppression as people read it: `rls_disabled on public.tmp_*` (`rls_disabled everywhere` without an object). */
export function suppressionLabel(s: AuditSuppression): string {
  return `${s.rule} ${s.object === undefined ? 'everywhere' : `on ${s.object}`}${s.source ? ` (${s.source})` : ''}`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `audit of web: 1 error, 2 warnings, 0 notes (1 suppressed)`: what events and logs say about a run. */
export function auditSummary(report: AuditReport, what: string): string {
  const c = report.counts;
  const sup = report.suppressed?.length ?? 0;
  return `audit of ${what}: ${plural(c.error, 'error', 'errors')}, ${plural(c.warn, 'warning', 'warnings')}, ${plural(c.info, 'note', 'notes')}${sup ? ` (${sup} suppressed)` : ''}`;
}

/** A service's `database.audit.suppress` entries, each labelled with where it is written in the config. */
export function configSuppressions(service: string, suppress: readonly Omit<AuditSuppression, 'source'>[]): AuditSuppression[] {
  return suppress.map((s, i) => ({ ...s, source: `services.${service}.database.audit.suppress[${i}]` }));
}

/** The suppressions of a YAML or JSON file (a list of `{ rule, object?, reason }`), each labelled `<file>[i]`; a bad entry is a ConfigError naming the file, line and entry. */
export function loadSuppressions(file: string): AuditSuppression[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read the suppressions file: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message}` }]);
  }
  const cfg = parseConfig<z.output<typeof suppressionSchema>[]>(text, file, { schema: z.array(suppressionSchema).max(1000), env: process.env });
  return cfg.raw.map((s, i) => ({ ...s, source: `${file}[${i}]` }));
}

// ---- SARIF ---------------------------------------------------------------------------------

const SARIF_LEVEL: Record<AuditLevel, SarifLevel> = { error: 'error', warn: 'warning', info: 'note' };

/** What each documented rule checks (docs/db.md, "Audit"); a rule not listed here is described by its name. */
const RULE_TEXT: Record<string, string> = {
  rls_disabled: 'A table in an exposed schema without row level security',
  policy_exists_rls_disabled: 'Policies on a table whose row level security is off',
  sensitive_columns_exposed: 'Sensitive-looking columns in an exposed table without row level security',
  security_definer_view: 'A view the API roles can read that runs with its owner\'s rights',
  auth_users_exposed: 'A view the API roles can read that reads auth.users',
  auth_schema_exposed: 'The auth schema is exposed',
  rls_enabled_no_policy: 'Row level security on, but no policy',
  function_search_path_mutable: 'A function without a fixed search_path',
  security_definer_function_executable: 'A SECURITY DEFINER function the API roles may execute',
  rls_policy_always_true: 'A permissive policy for the API roles that is always true for writes',
  multiple_permissive_policies: 'Several permissive policies for one role and command',
  materialized_view_in_api: 'A materialized view the API roles can read',
  extension_in_public: 'An extension installed in public',
  no_primary_key: 'A table without a primary key',
  duplicate_index: 'Identical indexes on one table',
  unindexed_foreign_key: 'A foreign key with no index starting with its columns',
  unused_index: 'An index no query has used',
  table_bloat: 'Dead rows vacuum has not reclaimed',
  connections_high: 'Client connections near max_connections',
  long_running_query: 'A query running longer than the limit',
  slow_statement: 'One of the slowest statements by total time (pg_stat_statements)',
};

/** What kind of object a finding is about, for SARIF's logical locations. */
const KIND_OF_RULE: Record<string, string> = {
  rls_disabled: 'table',
  rls_enabled_no_policy: 'table',
  policy_exists_rls_disabled: 'table',
  multiple_permissive_policies: 'table',
  sensitive_columns_exposed: 'table',
  no_primary_key: 'table',
  duplicate_index: 'table',
  unindexed_foreign_key: 'table',
  table_bloat: 'table',
  unused_index: 'index',
  function_search_path_mutable: 'function',
  security_definer_function_executable: 'function',
  security_definer_view: 'view',
  materialized_view_in_api: 'view',
  auth_users_exposed: 'view',
  extension_in_public: 'extension',
  rls_policy_always_true: 'policy',
  auth_schema_exposed: 'namespace',
};

function kindOf(f: AuditFinding): string {
  const known = KIND_OF_RULE[f.rule];
  if (known) return known;
  if (/ policy /.test(f.object)) return 'policy';
  if (/^extension /.test(f.object)) return 'extension';
  if (/\(.*\)$/.test(f.object)) return 'function';
  if (/(^|_)(view|views)(_|$)/.test(f.rule)) return 'view';
  if (/(^|_)index(_|$)/.test(f.rule)) return 'index';
  if (/(^|_)(rls|table|tables|policies|columns)(_|$)/.test(f.rule)) return 'table';
  return 'object';
}

const worst = (levels: readonly AuditLevel[]): AuditLevel => levels.reduce((a, b) => (AUDIT_LEVELS.indexOf(b) > AUDIT_LEVELS.indexOf(a) ? b : a), 'info');

/**
 * The report as SARIF 2.1.0: one run of "shipshape db audit", the rules found in it (the level of a
 * rule's worst finding as its default), one result per finding with its object as a logical
 * location, suppressed findings as results with an external suppression and its justification, and
 * unused suppressions as warnings of the run. `database` should be masked (maskUrl).
 */
export function auditToSarif(report: AuditReport, o: { database: string }): string {
  const all: { f: AuditFinding; reason?: string }[] = [...report.findings.map((f) => ({ f })), ...(report.suppressed ?? []).map((f) => ({ f, reason: f.reason }))];
  const ids = [...new Set(all.map((x) => x.f.rule))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  return sarifLog([
    {
      tool: {
        driver: {
          name: 'shipshape db audit',
          fullName: 'Shipshape database audit',
          version: packageVersion(),
          rules: ids.map((id) => ({
            id,
            name: id.replace(/(^|_)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase()),
            shortDescription: { text: RULE_TEXT[id] ?? id.replace(/_/g, ' ') },
            help: { text: `See docs/db.md, section "Audit" (#audit-shipshape-db-audit), rule ${id}; each result's message ends with its fix.` },
            defaultConfiguration: { level: SARIF_LEVEL[worst(all.filter((x) => x.f.rule === id).map((x) => x.f.level))] },
          })),
        },
      },
      invocations: [
        {
          executionSuccessful: true,
          toolExecutionNotifications: (report.unused_suppressions ?? []).map((s) => ({
            level: 'warning',
            message: { text: `the suppression of ${suppressionLabel(s)} matched no finding: remove it if what it accepted is gone` },
          })),
        },
      ],
      results: all.map(({ f, reason }) => ({
        ruleId: f.rule,
        ruleIndex: index.get(f.rule),
        level: SARIF_LEVEL[f.level],
        message: { text: `${f.message} Fix: ${f.remediation}` },
        locations: [{ logicalLocations: [{ name: f.object, kind: kindOf(f) }] }],
        partialFingerprints: { 'shipshapeDbAudit/v1': `${f.rule}:${f.object}` },
        ...(reason !== undefined ? { suppressions: [{ kind: 'external', justification: reason }] } : {}),
      })),
      properties: { database: o.database, checked: report.checked, counts: report.counts },
    },
  ]);
}
