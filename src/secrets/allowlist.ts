/**
 * The allowlist file (default `.shipshape-secrets-allow` at the scanned path; docs/secrets.md):
 *
 *   # comments and blank lines are ignored
 *   path: test/fixtures/**          gitignore-style pattern, relative to the scanned path
 *   fingerprint: src/a.ts:stripe-secret-key:12
 *   regex: ^sk_test_                JavaScript regex, tested against the secret
 *   rule: generic-api-key           turn a rule off
 *
 * A line without a prefix is a fingerprint when it ends in `:<rule-id>:<line>` (so a
 * `.gitleaksignore` works as it is), else a path pattern.
 */
import { readFileSync } from 'node:fs';
import ignore, { type Ignore } from 'ignore';
import { RULE_IDS } from './rules.js';

export const DEFAULT_ALLOWLIST = '.shipshape-secrets-allow';

export class AllowlistError extends Error {}

export interface Allowlist {
  paths: Ignore;
  pathCount: number;
  fingerprints: Set<string>;
  regexes: RegExp[];
  rules: Set<string>;
}

export function emptyAllowlist(): Allowlist {
  return { paths: ignore(), pathCount: 0, fingerprints: new Set(), regexes: [], rules: new Set() };
}

const FINGERPRINT = /^(?:[0-9a-f]{7,64}:)?.+:([a-z0-9-]+):\d+$/;

export function parseAllowlist(text: string, file: string): Allowlist {
  const a = emptyAllowlist();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const m = /^(path|fingerprint|regex|rule)\s*:\s*(.*)$/.exec(line);
    const kind = m?.[1];
    const value = (m?.[2] ?? line).trim();
    if (m && !value) throw new AllowlistError(`${where}: "${kind}:" needs a value`);
    if (kind === 'regex') {
      try {
        a.regexes.push(new RegExp(value));
      } catch (e) {
        throw new AllowlistError(`${where}: not a valid regex (${(e as Error).message})`);
      }
    } else if (kind === 'rule') {
      if (!RULE_IDS.has(value)) throw new AllowlistError(`${where}: unknown rule "${value}" (rules: ${[...RULE_IDS].sort().join(', ')})`);
      a.rules.add(value);
    } else if (kind === 'fingerprint') {
      if (!FINGERPRINT.test(value)) throw new AllowlistError(`${where}: expected a fingerprint file:rule:line or commit:file:rule:line, got "${value}"`);
      a.fingerprints.add(value);
    } else if (kind === 'path') {
      a.paths.add(value);
      a.pathCount++;
    } else {
      const fp = FINGERPRINT.exec(value);
      if (fp && RULE_IDS.has(fp[1] as string)) a.fingerprints.add(value);
      else {
        a.paths.add(value);
        a.pathCount++;
      }
    }
  });
  return a;
}

/** The allowlist in `file`; `optional` returns an empty one when the file does not exist. */
export function loadAllowlist(file: string, optional: boolean): Allowlist {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return emptyAllowlist();
    throw new AllowlistError(`cannot read allowlist ${file}: ${(e as Error).message}`);
  }
  return parseAllowlist(text, file);
}

/** Whether a path (relative, forward slashes) is allowed as a whole. */
export function pathAllowed(a: Allowlist, rel: string): boolean {
  if (a.pathCount === 0 || !rel || rel.startsWith('../')) return false;
  return a.paths.ignores(rel);
}

export function findingAllowed(a: Allowlist, f: { ruleId: string; fingerprint: string; secret: string }): boolean {
  return a.rules.has(f.ruleId) || a.fingerprints.has(f.fingerprint) || a.regexes.some((r) => r.test(f.secret));
}
