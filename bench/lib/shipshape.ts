/** Building and starting Shipshape (the real CLI, `node bin/shipshape.js up`) for the benchmarks. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseProm, type Sample } from './prom.js';
import { freePort, startChild, waitForHttp, type Child } from './proc.js';

/** The node flags the `shipshape` command runs with (its shebang line), so the bench runs what users run. */
export function binNodeFlags(): string[] {
  const first = readFileSync(join(ROOT, 'bin', 'shipshape.js'), 'utf8').split('\n')[0] ?? '';
  const m = /node\s+(.*)$/.exec(first);
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

export const ROOT = join(import.meta.dirname, '..', '..');
export const TOKEN = 'bench-admin-token-0123456789abcdef0123456789abcdef';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Build dist/ with tsc and the bundle the CLI runs when either is missing (or older than src/, unless `onlyIfMissing`). */
export function ensureBuilt(log: (s: string) => void, onlyIfMissing = false): void {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  const bundle = join(ROOT, 'dist', 'bundle', 'shipshape.js');
  const missing = !existsSync(main) || !existsSync(bundle);
  const stale = !missing && newestMtime(join(ROOT, 'src')) > Math.min(statSync(main).mtimeMs, statSync(bundle).mtimeMs);
  if (!missing && (onlyIfMissing || !stale)) return;
  log(missing ? 'dist/ is missing: building with tsc and bundling…' : 'src/ is newer than dist/: rebuilding with tsc and bundling…');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    // tsc still emits on type errors; go on when the entry point exists, but say so
    if (!existsSync(main)) throw new Error(`tsc failed and produced no dist/:\n${out.slice(0, 4000)}`);
    log(`warning: tsc reported errors (dist/ was emitted anyway):\n${out.split('\n').slice(0, 10).join('\n')}`);
  }
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
}

export interface Server {
  child: Child;
  url: string;
  port: number;
  /** spawn → /health answered, ms */
  startupMs: number;
}

export async function startServer(opts: { dir: string; configYaml: string; dataDir: string; nodeArgs?: string[]; env?: NodeJS.ProcessEnv }): Promise<Server> {
  const config = join(opts.dir, 'shipshape.yaml');
  writeFileSync(config, opts.configYaml);
  const port = await freePort();
  // BENCH_NODE_ARGS: extra flags for the server under test (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof);
  // after the flags of bin/shipshape.js, so a V8 flag given here overrides the shipped value (the last one wins)
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = startChild(process.execPath, [...binNodeFlags(), ...(opts.nodeArgs ?? []), ...extra, join(ROOT, 'bin', 'shipshape.js'), 'up', '--config', config, '--port', String(port), '--data-dir', opts.dataDir], {
    cwd: opts.dir,
    env: { SHIPSHAPE_ADMIN_TOKEN: TOKEN, SHIPSHAPE_LOG_FORMAT: 'json', NODE_ENV: 'production', ...opts.env },
    logFile: join(opts.dir, 'shipshape.log'),
  });
  const url = `http://127.0.0.1:${port}`;
  const startupMs = await waitForHttp(`${url}/health`, child, 180_000);
  return { child, url, port, startupMs };
}

export async function scrape(url: string): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET /metrics answered ${r.status}: ${text.slice(0, 300)}`);
  return parseProm(text);
}

/** Start the keep-alive check target (or another bench server script: `script`) as its own process and return its port. */
export async function startTarget(dir: string, opts: { script?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<{ child: Child; port: number }> {
  const script = opts.script ?? 'target.ts';
  const child = startChild(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', join(ROOT, 'bench', script)], { cwd: ROOT, env: opts.env, logFile: join(dir, script.replace(/\.ts$/, '.log')) });
  const start = performance.now();
  while (performance.now() - start < 30_000) {
    const m = /LISTENING (\d+)/.exec(child.output());
    if (m) return { child, port: Number(m[1]) };
    if (child.proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${script} did not start:\n${child.output()}`);
}

/** A generated config: `services` services with `perService` http checks each. */
export function httpConfig(opts: { services: number; perService: number; url: string; every: string; timeout?: string; concurrency?: number }): string {
  const lines = [`defaults: { concurrency: ${opts.concurrency ?? 200} }`, 'services:'];
  const w = String(opts.services).length;
  for (let s = 1; s <= opts.services; s++) {
    lines.push(`  ${serviceName(s, w)}:`, '    checks:');
    for (let c = 1; c <= opts.perService; c++) {
      const name = opts.perService > 1 ? `name: h${String(c).padStart(2, '0')}, ` : '';
      lines.push(`      - { ${name}http: { url: "${opts.url}", every: ${opts.every}, timeout: ${opts.timeout ?? '5s'} } }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function serviceName(i: number, width = 4): string {
  return `svc-${String(i).padStart(Math.max(4, width), '0')}`;
}
