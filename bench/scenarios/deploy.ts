/**
 * deploy: releases under load with the process driver. A real server (`shipshape up`) deploys a
 * tiny node:http app from a git repository behind an environment proxy on loopback.
 *
 * 1. Proxy overhead: `wrk -t2 -c50` through the proxy, then straight at the live release's port,
 *    in the same run (the ceiling: what the app does alone), then through Caddy's reverse_proxy to
 *    the same release (what a team would otherwise put in front: a Go proxy using both cores).
 * 2. Under load (`wrk -c50` through the proxy the whole time): 20 deploys and 20 warm rollbacks
 *    in a row; every socket error and non-2xx answer wrk saw is counted (PM2's reload drops
 *    requests; kamal-proxy's cold rollback waits for a boot).
 * 3. Warm rollback: from the API call to the answer (the switch is one assignment: every request
 *    after it goes to the previous release) and to the first request a probe sees answered by it.
 * 4. Cold rollback (to a release no longer running): its time against the app's own boot time
 *    (spawn → first 200), measured here too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, removeTempDir, stopChild, tempDir, type Child } from '../lib/proc.js';
import { percentile, row, type Row } from '../lib/report.js';
import { startServer, TOKEN } from '../lib/shipshape.js';
import { parseWrk, wrk, type WrkResult } from './statuspage.js';
import type { ScenarioContext } from './types.js';

const ROUNDS = Number(process.env.BENCH_DEPLOY_ROUNDS ?? 20);
const OVERHEAD_S = Number(process.env.BENCH_DEPLOY_S ?? 10);

const APP = `const http = require('node:http');
const version = require('node:fs').readFileSync(__dirname + '/VERSION', 'utf8').trim();
const body = JSON.stringify({ ok: true, version, items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: 'item ' + i })) });
const server = http.createServer((req, res) => {
  if (req.url === '/api/health') { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok'); return; }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

interface Release {
  id: number;
  state: string;
  port: number | null;
  error: string | null;
}

async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(120_000) });
  const out = (await r.json()) as T & { detail?: string };
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${out.detail ?? JSON.stringify(out)}`);
  return out;
}

/** The release that answered one GET on a fresh connection. */
function releaseOf(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => done(res.headers['x-shipshape-release'] as string | undefined));
    });
    req.on('error', () => done(undefined));
    req.end();
  });
}

/** wrk until told to stop (SIGINT makes it print its summary). */
function wrkUntilStopped(url: string): { stop(): Promise<WrkResult> } {
  const p = spawn('wrk', ['-t2', '-c50', '-d3600s', '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((done) => p.on('exit', () => done()));
  return {
    async stop() {
      p.kill('SIGINT');
      await exited;
      const r = parseWrk(out);
      if (!Number.isFinite(r.rps)) throw new Error(`could not read wrk's output:\n${out}`);
      return r;
    },
  };
}

/** The app's own boot: spawn → first 200 from its health path. */
async function bootTime(dir: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const p = spawn(process.execPath, ['server.js'], { cwd: dir, env: { PATH: process.env.PATH, PORT: String(port) }, stdio: 'ignore' });
  try {
    for (;;) {
      const ok = await new Promise<boolean>((done) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/health', agent: false }, (res) => {
          res.resume();
          done(res.statusCode === 200);
        });
        req.on('error', () => done(false));
        req.end();
      });
      if (ok) return performance.now() - t0;
      if (performance.now() - t0 > 30_000) throw new Error('the app did not boot in 30 s');
      await sleep(5);
    }
  } finally {
    p.kill('SIGKILL');
  }
}

/** `wrk` through Caddy 2 (Debian's caddy) reverse-proxying 127.0.0.1:`upstream`: plain HTTP, no admin endpoint, no access log. */
async function throughCaddy(dir: string, upstream: number, seconds: number): Promise<WrkResult> {
  const port = await freePort();
  const config = join(dir, 'caddy.json');
  writeFileSync(config, JSON.stringify({ admin: { disabled: true }, apps: { http: { servers: { bench: { listen: [`127.0.0.1:${port}`], automatic_https: { disable: true }, routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${upstream}` }] }] }] } } } } }));
  const caddy = spawn('caddy', ['run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, XDG_DATA_HOME: join(dir, 'caddy-data'), XDG_CONFIG_HOME: join(dir, 'caddy-config') } });
  let err = '';
  caddy.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const failed = new Promise<never>((_, reject) => caddy.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('caddy is not installed: apt-get install -y caddy') : e)));
  try {
    const up = (async () => {
      for (let i = 0; i < 200; i++) {
        const ok = await new Promise<boolean>((done) => request(`http://127.0.0.1:${port}/`, (res) => (res.resume(), done(res.statusCode === 200))).on('error', () => done(false)).end());
        if (ok) return;
        if (caddy.exitCode !== null) throw new Error(`caddy exited (${caddy.exitCode}):\n${err}`);
        await sleep(50);
      }
      throw new Error(`caddy did not answer on ${port} in 10 s:\n${err}`);
    })();
    await Promise.race([up, failed]);
    await wrk(`http://127.0.0.1:${port}/`, 2); // warm-up, as for the proxy
    return await wrk(`http://127.0.0.1:${port}/`, seconds);
  } finally {
    caddy.kill('SIGKILL');
  }
}

export async function runDeploy(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('deploy');
  let child: Child | undefined;
  let serverUrl: string | undefined;
  try {
    const repo = join(dir, 'app');
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'main');
    git('config', 'user.name', 'Bench');
    git('config', 'user.email', 'bench@example.com');
    writeFileSync(join(repo, 'server.js'), APP);
    for (const v of ['v1', 'v2']) {
      writeFileSync(join(repo, 'VERSION'), `${v}\n`);
      git('add', '-A');
      git('commit', '-q', '-m', v);
      git('tag', v);
    }
    const proxyPort = await freePort();
    const server = await startServer({
      dir,
      dataDir: join(dir, 'data'),
      configYaml: `services:
  web:
    deploy:
      repo: ${repo}
      start: "node server.js"
      health: { path: /api/health, timeout: 30s, interval: 20ms }
      keep_warm: 10m
      keep_releases: 50
      drain_timeout: 5s
      environments:
        production: { proxy: { port: ${proxyPort} } }
`,
    });
    child = server.child;
    const url = server.url;
    serverUrl = url;
    const proxied = `http://127.0.0.1:${proxyPort}/`;
    ctx.log(`deploy: server on ${url}, proxy on ${proxyPort}`);
    let first = await api<Release>(url, 'POST', '/api/v1/deploy/web/deploys', { ref: 'v1' });
    if (first.state !== 'live') throw new Error(`the first deploy failed: ${first.error}`);
    first = await api<Release>(url, 'POST', '/api/v1/deploy/web/deploys', { ref: 'v2' });
    const live = first.port as number;

    // 1. proxy overhead, side by side
    await wrk(proxied, 2);
    const viaProxy = await wrk(proxied, OVERHEAD_S);
    const direct = await wrk(`http://127.0.0.1:${live}/`, OVERHEAD_S);
    const viaCaddy = await throughCaddy(dir, live, OVERHEAD_S);
    ctx.log(`deploy: proxy ${viaProxy.rps.toFixed(0)} req/s p99 ${viaProxy.p99Ms} ms; direct ${direct.rps.toFixed(0)} req/s p99 ${direct.p99Ms} ms; Caddy ${viaCaddy.rps.toFixed(0)} req/s p99 ${viaCaddy.p99Ms} ms`);

    // 2 + 3. deploys and warm rollbacks under load
    const load = wrkUntilStopped(proxied);
    await sleep(1000);
    const deployMs: number[] = [];
    const rollbackMs: number[] = [];
    const probeMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const d = await api<Release>(url, 'POST', '/api/v1/deploy/web/deploys', { ref: i % 2 ? 'v1' : 'v2' });
      if (d.state !== 'live') throw new Error(`deploy ${i + 1} failed: ${d.error}`);
      deployMs.push(performance.now() - t0);
      await sleep(300);
      const t1 = performance.now();
      const back = await api<Release>(url, 'POST', '/api/v1/deploy/web/rollback', {});
      rollbackMs.push(performance.now() - t1);
      // the first request a fresh client sends after the call is answered by the previous release
      const seen = await releaseOf(proxyPort);
      if (seen !== String(back.id)) throw new Error(`after rollback ${i + 1} release ${seen} answered, not ${back.id}`);
      probeMs.push(performance.now() - t1);
      await sleep(300);
    }
    const under = await load.stop();
    ctx.log(`deploy: ${ROUNDS} deploys + ${ROUNDS} rollbacks under load: ${under.requests} requests, ${under.errors} socket errors, ${under.non2xx} non-2xx`);

    // 4. cold rollback: to the oldest release still on disk (not running), against the app's boot
    const releases = (await api<{ items: (Release & { on_disk: boolean })[] }>(url, 'GET', '/api/v1/deploy/web/releases?limit=500')).items;
    const coldMs: number[] = [];
    const bootMs: number[] = [];
    const cold = releases.filter((r) => r.on_disk && r.state === 'retired').slice(-3);
    for (const r of cold) {
      const t = performance.now();
      const back = await api<Release>(url, 'POST', '/api/v1/deploy/web/rollback', { release: r.id });
      if (back.id !== r.id) throw new Error(`cold rollback to ${r.id} answered release ${back.id}`);
      coldMs.push(performance.now() - t);
      bootMs.push(await bootTime(repo));
    }
    const med = (a: number[]) => percentile([...a].sort((x, y) => x - y), 0.5) ?? Number.NaN;
    const max = (a: number[]) => (a.length ? Math.max(...a) : Number.NaN);
    const boot = med(bootMs);
    const rows: Row[] = [
      row({ scenario: 'deploy', metric: 'through the proxy, req/s (wrk -c50)', goal: '>= 0.7x direct', value: viaProxy.rps, unit: 'req/s', pass: viaProxy.rps >= 0.7 * direct.rps, reference: { name: 'straight to the app', value: direct.rps } }),
      row({ scenario: 'deploy', metric: 'through the proxy, against Caddy reverse_proxy', goal: '', value: viaProxy.rps, unit: 'req/s', pass: null, reference: { name: 'Caddy reverse_proxy, same app', value: viaCaddy.rps }, note: `Caddy: ${(viaCaddy.rps / direct.rps).toFixed(2)}x direct, p99 ${viaCaddy.p99Ms} ms` }),
      row({ scenario: 'deploy', metric: 'p99 overhead of the proxy', goal: '< 2 ms', value: viaProxy.p99Ms - direct.p99Ms, unit: 'ms', pass: viaProxy.p99Ms - direct.p99Ms < 2, note: `p99 ${viaProxy.p99Ms} ms vs ${direct.p99Ms} ms direct` }),
      row({ scenario: 'deploy', metric: `failed requests during ${ROUNDS} deploys + ${ROUNDS} rollbacks`, goal: '0', value: under.errors + under.non2xx, unit: '', pass: under.errors + under.non2xx === 0, note: `${under.requests} requests at ${under.rps.toFixed(0)} req/s; ${under.errors} socket errors, ${under.non2xx} non-2xx` }),
      row({ scenario: 'deploy', metric: 'warm rollback: call → switched (median)', goal: '< 50 ms', value: med(rollbackMs), unit: 'ms', pass: med(rollbackMs) < 50, note: `max ${max(rollbackMs).toFixed(1)} ms; to a probe answered by it: median ${med(probeMs).toFixed(1)} ms` }),
      row({ scenario: 'deploy', metric: 'deploy under load (median, start+health+switch)', goal: '', value: med(deployMs), unit: 'ms', pass: null, note: `max ${max(deployMs).toFixed(0)} ms` }),
      row({ scenario: 'deploy', metric: 'cold rollback minus app boot (median)', goal: '< 500 ms', value: med(coldMs) - boot, unit: 'ms', pass: med(coldMs) - boot < 500, reference: { name: 'app boot alone', value: boot }, note: `cold rollback ${med(coldMs).toFixed(0)} ms, app boot ${boot.toFixed(0)} ms (${cold.length} rollbacks)` }),
    ];
    return { rows, raw: { viaProxy, direct, viaCaddy, under, deployMs, rollbackMs, probeMs, coldMs, bootMs } };
  } finally {
    // the releases and the proxy daemon outlive the server on purpose: take them down first
    if (serverUrl) await api(serverUrl, 'POST', '/api/v1/deploy/web/down', {}).catch((e: Error) => ctx.log(`deploy: taking the releases down failed: ${e.message}`));
    if (child) await stopChild(child);
    removeTempDir(dir);
  }
}
