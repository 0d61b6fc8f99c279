/**
 * Gates: what a release must pass before it is built and started. Two kinds today, behind one
 * interface (`run(context) → GateResult`), so later gates (pending migrations, a fresh backup, env
 * vars, headers) are one more case:
 *
 * - `run`: a shell command in the release directory; passes when it exits 0 within its timeout
 *   and, with `max_warnings`, when the warnings its output reports are not more than that.
 * - `bundle`: a size budget in size-limit style — the files a glob matches, summed, gzip-compressed
 *   (zlib level 9) unless `gzip: false`, against `limit`.
 * - `migrations` and `backup`: the service's database, through the db module (`databaseGate`):
 *   none of the release's migrations pending and no drift; a (verified) backup younger than max_age.
 *
 * How warnings are counted (the 0-warning policy), in order:
 * 1. A summary that states a number wins: the largest N in "N warning(s)" on any line (not a
 *    `line:col  warning` position; ESLint's
 *    "✖ 5 problems (0 errors, 5 warnings)", "Found 2 warnings", Vite, webpack, tsc-style tools).
 * 2. Otherwise each line that says `warning` / `warn` as a word (`file.ts(3,1): warning TS6133`,
 *    ESLint's "  3:1  warning  …", `npm warn …`, `WARN …`) counts as one.
 * A tool that prints warnings neither way can be made to (ESLint's --max-warnings, tsc's strict
 * flags) or its warnings turned into a non-zero exit.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatDuration, formatSize } from '../core/config/units.js';
import type { GateConfig } from './config.js';
import { runCommand } from './run.js';
import type { GateResult } from './types.js';

/** The warnings a command's output reports (see the rule above). */
export function countWarnings(output: string): number {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  let stated = -1;
  for (const m of text.matchAll(/(?<![:\d.])\b(\d+)\s+warnings?\b/gi)) stated = Math.max(stated, Number(m[1]));
  if (stated >= 0) return stated;
  let lines = 0;
  for (const line of text.split(/\r?\n/)) if (/(^|[^A-Za-z0-9_-])warn(ing)?s?\b/i.test(line)) lines++;
  return lines;
}

export function gateName(g: GateConfig): string {
  if (g.name) return g.name;
  if (g.run !== undefined) return g.run.length > 60 ? `${g.run.slice(0, 57)}…` : g.run;
  if (g.migrations) return 'migrations applied';
  if (g.backup) return `backup within ${formatDuration(g.backup.max_age)}`;
  if (g.env) return g.env.file ? `env ${g.env.file}` : 'env vars';
  if (g.secrets) return g.secrets.path === '.' ? 'secret scan' : `secret scan ${g.secrets.path}`;
  if (g.audit) return `dependency audit (${g.audit.level})`;
  if (g.headers) return `security headers ${g.headers.min_grade}${g.headers.url ? ` ${g.headers.url}` : ` ${g.headers.path ?? ''}`}`;
  return `bundle ${g.bundle?.path ?? ''}`;
}

export interface GateContext {
  dir: string;
  env: NodeJS.ProcessEnv;
  onOutput(text: string): void;
  onSpawn?: (pid: number) => void;
  signal?: AbortSignal;
}

/** What the database gates ask the db module (DeployPeers). */
export interface DatabaseReader {
  pending(service: string, releaseDir: string): Promise<{ pending: { filename: string; out_of_order: boolean; partial: boolean }[]; drift: { detail: string }[]; database: string; dir: string }>;
  latestBackup(service: string, verified: boolean): Promise<{ id: string; created_at: string } | null>;
}

/**
 * What the security gates ask the env, secrets and websec modules (DeployPeers). Each answers with
 * what the user would see from the CLI command of the same name; no value of a secret is in it.
 */
export interface SecurityReader {
  /** `shipshape env check` for the release: a file in the release directory, or the values it will run with */
  env(o: { service: string; env: string; dir: string; file?: string; example?: string; values: Record<string, string> }): Promise<{ errors: number; warnings: number; findings: { file?: string; line?: number; name?: string; severity: 'error' | 'warning'; message: string }[] }>;
  /** `shipshape secrets scan <path>` */
  secrets(o: { path: string; allowlist?: string; signal?: AbortSignal }): Promise<{ findings: { rule: string; file: string; line: number; match: string }[]; skipped: { file: string; reason: string }[]; files: number }>;
  /** `shipshape audit deps <dir>`: advisories at or above `level` fail */
  audit(o: { dir: string; level: string; signal?: AbortSignal }): Promise<{ manager: string; counts: Record<string, number>; failing: { name: string; severity: string; title: string }[] }>;
  /** `shipshape headers <url>` */
  headers(o: { url: string; signal?: AbortSignal }): Promise<{ url: string; score: number; grade: string; failed: { name: string; result: string; fix?: string }[] }>;
  /** whether `grade` is at least `min` (A+ … F) */
  gradeAtLeast(grade: string, min: string): boolean;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** An `env`, `secrets`, `audit` or `headers` gate (a `headers` gate with `path` gets the new release's URL). */
export async function securityGate(g: GateConfig, o: { service: string; env: string; dir: string; values: Record<string, string>; url?: string; signal?: AbortSignal }, sec: SecurityReader | undefined): Promise<GateResult & { output: string }> {
  const name = gateName(g);
  const started = Date.now();
  const kind = g.env ? ('env' as const) : g.secrets ? ('secrets' as const) : g.audit ? ('audit' as const) : ('headers' as const);
  const done = (passed: boolean, summary: string, output: string) => ({ name, kind, passed, summary, output, duration_ms: Date.now() - started });
  if (!sec) return done(false, `the ${kind} module is not running here: cannot tell`, '');
  const inDir = (p: string) => join(o.dir, p);
  try {
    if (g.env) {
      const r = await sec.env({ service: o.service, env: o.env, dir: o.dir, ...(g.env.file ? { file: inDir(g.env.file) } : {}), ...(g.env.example ? { example: inDir(g.env.example) } : {}), values: o.values });
      const output = r.findings.map((f) => `${f.file ? `${relative(o.dir, f.file) || f.file}${f.line ? `:${f.line}` : ''}  ` : ''}${f.severity}  ${f.name ?? ''}  ${f.message}`).join('\n');
      const failing = r.errors + (g.env.strict ? r.warnings : 0);
      const first = r.findings.find((f) => f.severity === 'error') ?? r.findings[0];
      if (failing) return done(false, `${plural(r.errors, 'error')}, ${plural(r.warnings, 'warning')}${first ? `: ${first.name ? `${first.name} ` : ''}${first.message}` : ''}`, output);
      return done(true, r.warnings ? `passed with ${plural(r.warnings, 'warning')}` : `every variable as its schema says for ${o.env}`, output);
    }
    if (g.secrets) {
      const r = await sec.secrets({ path: inDir(g.secrets.path), ...(g.secrets.allowlist ? { allowlist: inDir(g.secrets.allowlist) } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      const output = [...r.findings.map((f) => `${relative(o.dir, f.file) || f.file}:${f.line}  ${f.rule}  ${f.match}`), ...r.skipped.map((s) => `skipped ${relative(o.dir, s.file) || s.file}: ${s.reason}`)].join('\n');
      const first = r.findings[0];
      if (first) return done(false, `${plural(r.findings.length, 'secret')} found: ${first.rule} in ${relative(o.dir, first.file) || first.file}:${first.line}${r.findings.length > 1 ? ', …' : ''}`, output);
      return done(true, `no secret in ${plural(r.files, 'file')}${r.skipped.length ? ` (${r.skipped.length} skipped)` : ''}`, output);
    }
    if (g.audit) {
      const r = await sec.audit({ dir: o.dir, level: g.audit.level, ...(o.signal ? { signal: o.signal } : {}) });
      const counts = Object.entries(r.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'no advisories';
      const output = [`${r.manager} audit: ${counts}`, ...r.failing.map((a) => `${a.severity}  ${a.name}  ${a.title}`)].join('\n');
      if (r.failing.length) return done(false, `${plural(r.failing.length, 'advisory', 'advisories')} at or above ${g.audit.level} (${counts}): ${r.failing[0]?.name ?? ''}`, output);
      return done(true, `${r.manager} audit: none at or above ${g.audit.level} (${counts})`, output);
    }
    const h = g.headers as NonNullable<GateConfig['headers']>;
    const url = h.url ?? (o.url ? new URL(h.path ?? '/', o.url).toString() : undefined);
    if (!url) return done(false, 'no URL to grade: this driver gives the release no address', '');
    const r = await sec.headers({ url, ...(o.signal ? { signal: o.signal } : {}) });
    const output = [`${r.url}: ${r.grade} (${r.score}/100)`, ...r.failed.map((t) => `✗ ${t.name}: ${t.result}${t.fix ? ` — ${t.fix}` : ''}`)].join('\n');
    const what = `${r.grade} (${r.score}/100)${r.failed.length ? `: ${r.failed.map((t) => t.result).slice(0, 3).join(', ')}` : ''}`;
    if (!sec.gradeAtLeast(r.grade, h.min_grade)) return done(false, `grade ${what}, below ${h.min_grade}`, output);
    return done(true, `grade ${what}`, output);
  } catch (e) {
    return done(false, (e as Error).message, '');
  }
}

/** A `migrations` or `backup` gate. */
export async function databaseGate(g: GateConfig, service: string, dir: string, db: DatabaseReader | undefined, now: number): Promise<GateResult & { output: string }> {
  const name = gateName(g);
  const started = Date.now();
  const base = { name, kind: g.migrations ? ('migrations' as const) : ('backup' as const), output: '' };
  if (!db) return { ...base, duration_ms: 0, passed: false, summary: 'the db module is not running here: cannot tell' };
  if (g.migrations) {
    const r = await db.pending(service, dir);
    const lines = [...r.pending.map((p) => `pending: ${p.filename}${p.partial ? ' (a partial run)' : ''}${p.out_of_order ? ' (out of order)' : ''}`), ...r.drift.map((d) => `drift: ${d.detail}`)];
    const output = `${r.database}, migrations in ${r.dir}\n${lines.join('\n')}${lines.length ? '\n' : 'all applied, no drift\n'}`;
    const duration_ms = Date.now() - started;
    if (r.drift.length) return { ...base, output, duration_ms, passed: false, summary: `${r.drift.length} applied migration${r.drift.length === 1 ? '' : 's'} changed since (drift): ${r.drift[0]?.detail ?? ''}` };
    if (r.pending.length) return { ...base, output, duration_ms, passed: false, summary: `${r.pending.length} migration${r.pending.length === 1 ? '' : 's'} not applied (${r.pending.map((p) => p.filename).join(', ')}): run \`shipshape db migrate --service ${service}\` first` };
    return { ...base, output, duration_ms, passed: true, summary: 'every migration applied, no drift' };
  }
  const b = g.backup as NonNullable<GateConfig['backup']>;
  const latest = await db.latestBackup(service, b.verified);
  const duration_ms = Date.now() - started;
  if (!latest) return { ...base, duration_ms, passed: false, summary: `no ${b.verified ? 'verified ' : ''}backup of ${service}'s database: \`shipshape db backup --service ${service}\`${b.verified ? ' then `db verify-backup`' : ''}` };
  const age = now - Date.parse(latest.created_at);
  if (age > b.max_age) return { ...base, duration_ms, passed: false, summary: `the newest ${b.verified ? 'verified ' : ''}backup (${latest.id}) is ${formatDuration(age)} old, more than ${formatDuration(b.max_age)}` };
  return { ...base, duration_ms, passed: true, summary: `backup ${latest.id}, ${formatDuration(age)} old` };
}

export async function runGate(g: GateConfig, ctx: GateContext): Promise<GateResult & { output: string }> {
  const name = gateName(g);
  if (g.bundle) return { ...bundleGate(name, g.bundle, ctx.dir), output: '' };
  const r = await runCommand(g.run as string, { cwd: ctx.dir, env: ctx.env, timeoutMs: g.timeout, onOutput: ctx.onOutput, onSpawn: ctx.onSpawn, signal: ctx.signal });
  const base = { name, kind: 'run' as const, duration_ms: r.durationMs, exit_code: r.exitCode, output: r.output };
  if (r.timedOut) return { ...base, passed: false, summary: `timed out after ${formatDuration(g.timeout)} (killed)` };
  if (r.exitCode !== 0) return { ...base, passed: false, summary: r.exitCode === null ? `killed by ${r.signal ?? 'a signal'}` : `exited with ${r.exitCode}` };
  if (g.max_warnings !== undefined) {
    const warnings = countWarnings(r.output);
    if (warnings > g.max_warnings) return { ...base, warnings, passed: false, summary: `${warnings} warning${warnings === 1 ? '' : 's'}, more than max_warnings ${g.max_warnings}` };
    return { ...base, warnings, passed: true, summary: `passed with ${warnings} warning${warnings === 1 ? '' : 's'}` };
  }
  return { ...base, passed: true, summary: 'passed' };
}

/** A glob (`*`, `**`, `?`) as a regular expression over `/`-separated relative paths. */
export function globRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, root: string, out: string[], budget: { n: number }): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (--budget.n < 0) return;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== '.git') walk(p, root, out, budget);
    } else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
  }
}

function bundleGate(name: string, b: NonNullable<GateConfig['bundle']>, dir: string): GateResult {
  const started = Date.now();
  const re = globRegex(b.path);
  const all: string[] = [];
  walk(dir, dir, all, { n: 200_000 });
  const files = all
    .filter((f) => re.test(f))
    .sort()
    .map((f) => {
      const p = join(dir, f);
      return { path: f, size: b.gzip ? gzipSync(readFileSync(p), { level: 9 }).length : statSync(p).size };
    });
  const base = { name, kind: 'bundle' as const, limit: b.limit, files, duration_ms: Date.now() - started };
  if (files.length === 0) return { ...base, size: 0, passed: false, summary: `no file matches ${b.path}` };
  const size = files.reduce((s, f) => s + f.size, 0);
  const what = `${formatSize(size)}${b.gzip ? ' gzipped' : ''} in ${files.length} file${files.length === 1 ? '' : 's'}`;
  if (size > b.limit) return { ...base, size, passed: false, summary: `${what}, over the ${formatSize(b.limit)} limit by ${formatSize(size - b.limit)}` };
  return { ...base, size, passed: true, summary: `${what}, within the ${formatSize(b.limit)} limit` };
}
