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
  latestBackup(service: string, verified: boolean): { id: string; created_at: string } | null;
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
  const latest = db.latestBackup(service, b.verified);
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
