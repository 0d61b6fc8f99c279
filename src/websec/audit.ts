/**
 * `shipshape audit deps [path]`: run the project's own package manager's audit (chosen by its
 * lockfile) with JSON output and read it into counts by severity and a list of advisories.
 */
import { runTool } from '../core/tool.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SEVERITIES = ['critical', 'high', 'moderate', 'low', 'info'] as const;
export type AuditSeverity = (typeof SEVERITIES)[number];
export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'yarn-berry';

export interface Advisory {
  package: string;
  severity: AuditSeverity;
  title: string;
  url: string;
  /** the vulnerable range, when the audit says */
  range?: string;
  /** whether upgrading fixes it (npm: `npm audit fix` can; pnpm/yarn: a patched version exists) */
  fixAvailable: boolean;
}

export interface AuditReport {
  dir: string;
  manager: PackageManager;
  counts: Record<AuditSeverity, number>;
  advisories: Advisory[];
  /** the --level asked for, and the advisories at or above it */
  level: AuditSeverity;
  failing: Advisory[];
}

const MAX_OUTPUT = 64 * 1024 * 1024;
const TIMEOUT_MS = 180_000;

export function severityOf(s: unknown): AuditSeverity {
  const v = String(s ?? '').toLowerCase();
  if (v === 'critical' || v === 'high' || v === 'moderate' || v === 'low' || v === 'info') return v;
  if (v === 'medium') return 'moderate';
  return 'info';
}

export function atOrAbove(s: AuditSeverity, level: AuditSeverity): boolean {
  return SEVERITIES.indexOf(s) <= SEVERITIES.indexOf(level);
}

/** Which package manager a directory uses, by its lockfile. */
export function detectManager(dir: string): { manager: PackageManager; lockfile: string } {
  if (existsSync(join(dir, 'pnpm-lock.yaml'))) return { manager: 'pnpm', lockfile: 'pnpm-lock.yaml' };
  if (existsSync(join(dir, 'yarn.lock'))) {
    const text = readFileSync(join(dir, 'yarn.lock'), 'utf8').slice(0, 2000);
    // berry lockfiles carry a __metadata block; classic ones start with "# yarn lockfile v1"
    return { manager: /__metadata:/.test(text) || !/yarn lockfile v1/.test(text) ? 'yarn-berry' : 'yarn', lockfile: 'yarn.lock' };
  }
  if (existsSync(join(dir, 'package-lock.json'))) return { manager: 'npm', lockfile: 'package-lock.json' };
  if (existsSync(join(dir, 'npm-shrinkwrap.json'))) return { manager: 'npm', lockfile: 'npm-shrinkwrap.json' };
  throw new Error(`${dir}: no lockfile (package-lock.json, pnpm-lock.yaml or yarn.lock): cannot tell which package manager to audit with`);
}

const COMMANDS: Record<PackageManager, [string, string[]]> = {
  npm: ['npm', ['audit', '--json']],
  pnpm: ['pnpm', ['audit', '--json']],
  yarn: ['yarn', ['audit', '--json']],
  'yarn-berry': ['yarn', ['npm', 'audit', '--json', '--recursive']],
};

/** Run the package manager (core/tool: its own process group, no SHIPSHAPE_* variables, a deadline). */
async function run(cmd: string, args: string[], cwd: string, signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    return await runTool(cmd, args, { cwd, timeoutMs: TIMEOUT_MS, signal, maxStdout: MAX_OUTPUT });
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`${cmd} is not installed (not on PATH); it is needed to audit this project`) : e;
  }
}

const empty = (): Record<AuditSeverity, number> => ({ critical: 0, high: 0, moderate: 0, low: 0, info: 0 });

function countsFrom(meta: unknown): Record<AuditSeverity, number> | undefined {
  if (!meta || typeof meta !== 'object') return undefined;
  const c = empty();
  for (const s of SEVERITIES) c[s] = Number((meta as Record<string, unknown>)[s] ?? 0) || 0;
  return c;
}

type Json = Record<string, unknown>;

/** npm 7+ `npm audit --json` (auditReportVersion 2). */
export function parseNpm(text: string): { counts: Record<AuditSeverity, number>; advisories: Advisory[] } {
  const j = JSON.parse(text) as Json;
  if (j.error) {
    const e = j.error as Json;
    throw new Error(`npm audit failed: ${String(e.summary || j.message || e.detail || e.code || JSON.stringify(e)).split('\n')[0]}`);
  }
  const advisories: Advisory[] = [];
  const seen = new Set<string>();
  for (const v of Object.values((j.vulnerabilities ?? {}) as Record<string, Json>)) {
    for (const via of (v.via ?? []) as unknown[]) {
      if (typeof via !== 'object' || via === null) continue;
      const a = via as Json;
      const key = `${String(a.name)}|${String(a.url ?? a.source)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      advisories.push({ package: String(a.name ?? v.name), severity: severityOf(a.severity), title: String(a.title ?? ''), url: String(a.url ?? ''), ...(a.range ? { range: String(a.range) } : {}), fixAvailable: v.fixAvailable !== false && v.fixAvailable !== undefined });
    }
  }
  const counts = countsFrom((j.metadata as Json | undefined)?.vulnerabilities) ?? empty();
  return { counts, advisories };
}

/**
 * pnpm `audit --json` (npm 6's report, passed through from the registry's /-/npm/v1/security/audits/quick
 * or /audits): { advisories: { id: { module_name, severity, title, url, patched_versions } }, metadata }.
 * pnpm prints its own failures (an endpoint that refuses, no lockfile) as { error: { code, message } }.
 */
export function parseLegacy(text: string, tool = 'pnpm audit'): { counts: Record<AuditSeverity, number>; advisories: Advisory[] } {
  const j = JSON.parse(text) as Json;
  if (j.error) throw new Error(`${tool} failed: ${firstLine((j.error as Json).message ?? JSON.stringify(j.error))}`);
  const advisories = Object.values((j.advisories ?? {}) as Record<string, Json>).map((a) => ({
    package: String(a.module_name ?? ''),
    severity: severityOf(a.severity),
    title: String(a.title ?? ''),
    url: String(a.url ?? ''),
    ...(a.vulnerable_versions ? { range: String(a.vulnerable_versions) } : {}),
    fixAvailable: typeof a.patched_versions === 'string' && a.patched_versions !== '<0.0.0',
  }));
  const counts = countsFrom((j.metadata as Json | undefined)?.vulnerabilities) ?? tally(advisories);
  return { counts, advisories };
}

/** The first line of a message (yarn puts the stack trace after it). */
function firstLine(v: unknown): string {
  return (String(v).trim().split('\n')[0] ?? '').replace(/^Error: /, '');
}

/**
 * yarn classic `yarn audit --json`: one JSON object a line on stdout (auditAdvisory for each path to
 * an advisory, then auditSummary). Its failures are JSON lines too, { type: 'error', data }, but on
 * stderr, while stdout has only an info line: so an audit without its auditSummary has failed, and
 * says why on stderr. (Its exit code is a bit mask of the severities found, not a failure.)
 */
export function parseYarnClassic(text: string, stderr = ''): { counts: Record<AuditSeverity, number>; advisories: Advisory[] } {
  const advisories: Advisory[] = [];
  const seen = new Set<string>();
  let counts: Record<AuditSeverity, number> | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const j = JSON.parse(line) as Json;
    const data = j.data as Json | undefined;
    if (j.type === 'auditAdvisory' && data?.advisory) {
      const a = data.advisory as Json;
      const key = String(a.id ?? a.url);
      if (seen.has(key)) continue;
      seen.add(key);
      advisories.push({ package: String(a.module_name ?? ''), severity: severityOf(a.severity), title: String(a.title ?? ''), url: String(a.url ?? ''), ...(a.vulnerable_versions ? { range: String(a.vulnerable_versions) } : {}), fixAvailable: typeof a.patched_versions === 'string' && a.patched_versions !== '<0.0.0' });
    } else if (j.type === 'auditSummary' && data) counts = countsFrom(data.vulnerabilities);
    else if (j.type === 'error') throw new Error(`yarn audit failed: ${firstLine(j.data)}`);
  }
  if (!counts) throw new Error(`yarn audit failed: ${stderr.trim() ? stderrReason(stderr) : 'it printed no auditSummary'}`);
  return { counts, advisories };
}

/**
 * yarn berry `yarn npm audit --json`, in two formats:
 *
 * - yarn 4: one JSON object a line, { value: package, children: { ID, Issue, URL, Severity, … } },
 *   exit 1 with advisories; nothing at all and exit 0 when there are none. A deprecated version is
 *   reported as a moderate advisory too (ID "name (deprecation)", no URL), as yarn does.
 * - yarn 2 and 3: the registry's answer to /-/npm/v1/security/audits/quick printed as it came, on one
 *   line (npm 6's report, as pnpm's: { advisories, metadata }), read as parseLegacy reads it. yarn 3
 *   exits 1 when it has advisories, yarn 2 exits 0 all the same.
 *
 * Failures are not JSON: "➤ YN0035: …" (yarn 3, 4) or "➤ YN0001: HTTPError: …" (yarn 2) lines on
 * stdout, or (yarn 4, when the advisory request fails while the deprecation look-ups are still
 * running) an unhandled rejection on stderr.
 */
export function parseYarnBerry(text: string, run?: { code: number | null; stderr: string }): { counts: Record<AuditSeverity, number>; advisories: Advisory[] } {
  const advisories: Advisory[] = [];
  const other: string[] = [];
  let report: Record<AuditSeverity, number> | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (!line.trim().startsWith('{')) {
      other.push(line.trim());
      continue;
    }
    const j = JSON.parse(line) as Json;
    if (j.advisories && typeof j.advisories === 'object' && j.metadata && typeof j.metadata === 'object') {
      // yarn 2 / 3: the registry's npm 6 report, as it came
      const legacy = parseLegacy(line, 'yarn npm audit');
      advisories.push(...legacy.advisories);
      report = legacy.counts;
      continue;
    }
    const c = j.children as Json | undefined;
    if (!c || typeof c !== 'object' || c.Severity === undefined) {
      if (j.type === 'error') other.push(String(j.data ?? ''));
      continue;
    }
    advisories.push({ package: String(j.value ?? ''), severity: severityOf(c.Severity), title: String(c.Issue ?? ''), url: String(c.URL ?? ''), ...(c['Vulnerable Versions'] ? { range: String(c['Vulnerable Versions']) } : {}), fixAvailable: true });
  }
  if (run && run.code !== 0 && advisories.length === 0 && !report) {
    const reason = other.map((l) => l.replace(/^\u27a4 YN\d{4}:\s*/, '')).filter((l) => l && !/^(Errors happened when preparing|This might be caused by)/.test(l));
    throw new Error(`yarn npm audit failed (exit ${run.code}): ${reason.length ? reason.slice(0, 4).join('; ') : stderrReason(run.stderr)}`);
  }
  return { counts: report ?? tally(advisories), advisories };
}

/**
 * What a failed package manager said on stderr, in a line or two: a JSON error line's first line,
 * the message of a thrown error (not its stack, nor the minified source line Node prints above an
 * unhandled one), else the last lines.
 */
export function stderrReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const found: string[] = [];
  for (const l of lines) {
    let m: RegExpMatchArray | null;
    if (l.startsWith('{')) {
      try {
        const j = JSON.parse(l) as Json;
        if (j.type === 'error') found.push(firstLine(j.data));
      } catch {
        // not JSON after all
      }
    } else if ((m = /^(?:originalError:\s*)?(?:\w+ )?\[?\w*Error\]?: (.+)$/.exec(l)) && l.length < 500) found.push(m[1] ?? '');
    else if ((m = /^\u27a4 YN\d{4}:\s*(.+)$/.exec(l))) found.push(m[1] ?? '');
  }
  const unique = [...new Set(found)].filter((l) => !/^(Errors happened when preparing|This might be caused by)/.test(l));
  if (unique.length) return unique.slice(0, 2).join('; ');
  return lines.filter((l) => !/^Node\.js v\d/.test(l)).slice(-3).join(' ');
}

function tally(list: Advisory[]): Record<AuditSeverity, number> {
  const c = empty();
  for (const a of list) c[a.severity]++;
  return c;
}

/** Audit the project in `dir` with its own package manager. Rejects with a clear message when it cannot. */
export async function auditDeps(dir: string, opts: { level?: AuditSeverity; signal?: AbortSignal } = {}): Promise<AuditReport> {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new Error(`${dir}: not a directory`);
  const level = opts.level ?? 'high';
  const { manager, lockfile } = detectManager(abs);
  const [cmd, args] = COMMANDS[manager];
  const r = await run(cmd, args, abs, opts.signal);
  const out = r.stdout.trim();
  let parsed: { counts: Record<AuditSeverity, number>; advisories: Advisory[] };
  if (!out && manager === 'yarn-berry' && r.code === 0) parsed = { counts: empty(), advisories: [] }; // berry prints nothing when nothing is found
  else if (!out) throw new Error(`${cmd} ${args.join(' ')} (for ${lockfile}) printed nothing${r.stderr.trim() ? `: ${stderrReason(r.stderr)}` : ''} (exit ${r.code})`);
  else {
    try {
      parsed = manager === 'npm' ? parseNpm(out) : manager === 'pnpm' ? parseLegacy(out) : manager === 'yarn' ? parseYarnClassic(out, r.stderr) : parseYarnBerry(out, r);
    } catch (e) {
      if (e instanceof SyntaxError) throw new Error(`${cmd} ${args.join(' ')} did not print JSON (exit ${r.code}): ${out.slice(0, 300)}`);
      throw e;
    }
  }
  const advisories = parsed.advisories.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || a.package.localeCompare(b.package));
  return { dir: abs, manager, counts: parsed.counts, advisories, level, failing: advisories.filter((a) => atOrAbove(a.severity, level)) };
}
