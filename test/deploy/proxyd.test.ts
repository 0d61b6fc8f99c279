/**
 * The deploy proxy as its own process (the built package: `shipshape up` in child processes, the
 * daemon and the releases as they run in production): traffic keeps flowing while Shipshape is
 * SIGKILLed or stopped and started again, the same release process serves afterwards; a killed
 * daemon is started again with its routes; a release that died while Shipshape was down is
 * started again; the control socket is private and refuses garbage; a daemon of another protocol
 * version hands its listening sockets over; `shipshape down` takes it all down. Every process a test starts is killed in afterAll (killAllUnder).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import type { EnvironmentStatus, Release, ReleaseDetail } from '../../src/deploy/index.js';
import { ChildServers, type ChildServer } from '../helpers/child-server.js';
import { processesUnder } from '../helpers/procs.js';
import { ADMIN } from '../helpers/server.js';
import { freePort, get, load, Repo } from './helpers.js';

const BIN = resolve('bin/shipshape.js');

/** Send raw lines to the control socket; resolve with the answer lines once `count` came. */
function control(sock: string, lines: string[], count: number): Promise<string[]> {
  return new Promise((done, fail) => {
    const c = connect(sock);
    let buf = '';
    const got: string[] = [];
    const timer = setTimeout(() => {
      c.destroy();
      fail(new Error(`no answer: ${buf}`));
    }, 5000);
    c.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        got.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (got.length >= count) {
        clearTimeout(timer);
        c.destroy();
        done(got);
      }
    });
    c.on('error', fail);
    c.on('connect', () => c.write(lines.map((l) => `${l}\n`).join('')));
  });
}

const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('the deploy proxy daemon across Shipshape restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-proxyd-'));
  const dataDir = join(dir, 'data');
  const sock = join(dataDir, 'proxyd.sock');
  let repo: Repo;
  let port: number;
  let servers: ChildServers;
  let s: ChildServer;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
    return (await res.json()) as T;
  };
  const events = async (type: string) => (await api<{ items: EventRecord[] }>(`/api/v1/events?type=${type}&limit=100`)).items;
  const daemonPid = async () => {
    const [line] = await control(sock, ['{"id":1,"op":"hello"}'], 1);
    return (JSON.parse(line as string) as { result: { pid: number } }).result.pid;
  };

  beforeAll(async () => {
    repo = Repo.withApp('v1');
    port = await freePort();
    writeFileSync(
      join(dir, 'shipshape.yaml'),
      `services:
  web:
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 10s, interval: 50ms }
      keep_warm: 10m
      environments:
        production: { proxy: { port: ${port} } }
`,
    );
    servers = new ChildServers(dir, { SHIPSHAPE_ADMIN_TOKEN: ADMIN });
    s = await servers.up('shipshape.yaml', 'data');
  });
  afterAll(async () => {
    await servers?.killAllUnder();
    repo?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves every request while Shipshape is SIGKILLed and started again; the same release serves, and deploys and warm rollbacks work after', async () => {
    const v1 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v1.state).toBe('live');
    const pid = (await get(port, '/pid')).body;
    const traffic = load(port, 4);
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGKILL');
    await s.exited;
    await new Promise((r) => setTimeout(r, 1000));
    s = await servers.up('shipshape.yaml', 'data');
    await new Promise((r) => setTimeout(r, 500));
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
    expect(new Set(result.bodies)).toEqual(new Set(['v1']));
    expect((await get(port, '/pid')).body).toBe(pid);
    expect((await events('deploy.adopted')).map((e) => e.data.release)).toEqual([v1.id]);
    const { items } = await api<{ items: Release[] }>('/api/v1/deploy/web/releases');
    expect(items.find((r) => r.id === v1.id)?.state).toBe('live');

    // a deploy and a warm rollback still work, under load, without a failed request
    repo.commit({ VERSION: 'v2\n' }, 'v2');
    const more = load(port, 4);
    const v2 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v2.state).toBe('live');
    expect(await get(port)).toMatchObject({ body: 'v2' });
    const back = await api<ReleaseDetail>('/api/v1/deploy/web/rollback', { method: 'POST', body: '{}' });
    expect(back).toMatchObject({ id: v1.id, state: 'live' });
    const rolled = (await events('deploy.rolled_back')).find((e) => e.data.to === v1.id);
    expect(rolled?.data).toMatchObject({ warm: true });
    expect((await get(port, '/pid')).body).toBe(pid);
    const r2 = await more.stop();
    expect(r2.failed).toEqual([]);
  }, 120_000);

  it('serves every request while Shipshape stops gracefully (SIGTERM) and starts again, adopting the live and the warm release', async () => {
    const v2 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v2.state).toBe('live');
    const pid = (await get(port, '/pid')).body;
    const adoptedBefore = (await events('deploy.adopted')).length;
    const traffic = load(port, 4);
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    await s.exited;
    await new Promise((r) => setTimeout(r, 1000));
    s = await servers.up('shipshape.yaml', 'data');
    await new Promise((r) => setTimeout(r, 500));
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    expect(new Set(result.bodies)).toEqual(new Set(['v2']));
    expect((await get(port, '/pid')).body).toBe(pid);
    // the live release and the warm one (v1, still in its keep_warm window) are both adopted
    const all = await events('deploy.adopted');
    const adopted = all.slice(0, all.length - adoptedBefore);
    expect(adopted.map((e) => [e.data.release, e.data.warm])).toEqual(expect.arrayContaining([[v2.id, false], [expect.any(Number), true]]));
    expect(adopted.length).toBe(2);
    const st = (await api<{ environments: EnvironmentStatus[] }>('/api/v1/deploy/web')).environments[0];
    expect(st?.live?.state).toBe('live');
    expect(st?.warm.length).toBe(1);
    expect(st?.proxy.listening).toBe(true);
  }, 120_000);

  it('supervises an adopted release: when it exits, it is started again', async () => {
    const pid = Number((await get(port, '/pid')).body);
    const crashedBefore = (await events('deploy.crashed')).length;
    process.kill(pid, 'SIGKILL');
    const crashed = await until('deploy.crashed', async () => {
      const all = await events('deploy.crashed');
      return all.length > crashedBefore ? all[0] : undefined;
    });
    expect(crashed.data).toMatchObject({ live: true });
    expect(crashed.data.while_down).toBeUndefined();
    await until('deploy.restored', async () => (await events('deploy.restored')).find((e) => e.data.attempt === 1));
    const after = await get(port, '/pid');
    expect(after.status).toBe(200);
    expect(after.body).not.toBe(String(pid));
    expect(await get(port)).toMatchObject({ status: 200, body: 'v2' });
  }, 60_000);

  it('starts the daemon again when it is killed while Shipshape runs; it serves its routes from its state file', async () => {
    const before = await daemonPid();
    expect(JSON.parse(readFileSync(join(dataDir, 'proxyd.json'), 'utf8'))).toMatchObject({ routes: [{ env: 'web/production', port }] });
    process.kill(before, 'SIGKILL');
    const ev = await until('deploy.proxy_restarted', async () => (await events('deploy.proxy_restarted'))[0]);
    expect(ev.data).toMatchObject({ restored: ['web/production'] });
    expect(await daemonPid()).not.toBe(before);
    expect(await until('traffic again', async () => ((await get(port)).status === 200 ? get(port) : undefined))).toMatchObject({ status: 200, body: 'v2' });
    const traffic = load(port, 4);
    await new Promise((r) => setTimeout(r, 300));
    expect((await traffic.stop()).failed).toEqual([]);
  }, 60_000);

  it('starts a live release again that died while Shipshape was down', async () => {
    const pid = Number((await get(port, '/pid')).body);
    s.child.kill('SIGKILL');
    await s.exited;
    process.kill(pid, 'SIGKILL');
    s = await servers.up('shipshape.yaml', 'data');
    const crashed = await until('deploy.crashed', async () => (await events('deploy.crashed')).find((e) => e.data.while_down === true));
    expect(crashed.data).toMatchObject({ live: true });
    await until('deploy.restored', async () => (await events('deploy.restored')).find((e) => e.data.attempt === undefined));
    const after = await get(port, '/pid');
    expect(after.status).toBe(200);
    expect(after.body).not.toBe(String(pid));
    expect(await get(port)).toMatchObject({ status: 200, body: 'v2' });
  }, 60_000);

  it('keeps its control socket private (0600) and answers malformed messages with an error, not a crash', async () => {
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o077).toBe(0);
    const answers = (await control(sock, ['not json', '{"id":2,"op":"explode"}', '{"id":3,"op":"switch","env":"web/production","target":{"release":"x","port":99999}}', '{"id":4,"op":"hello"}'], 4)).map((l) => JSON.parse(l) as { id: number | null; ok: boolean; error?: string; result?: { protocol: number } });
    expect(answers[0]).toMatchObject({ id: null, ok: false, error: expect.stringMatching(/^malformed message: not JSON/) });
    expect(answers[1]).toMatchObject({ id: 2, ok: false, error: expect.stringMatching(/^invalid message: op: /) });
    expect(answers[2]).toMatchObject({ id: 3, ok: false, error: expect.stringMatching(/^invalid message: .*target\.release/) });
    expect(answers[3]).toMatchObject({ id: 4, ok: true, result: { protocol: 1 } });
    // and it still serves
    expect(await get(port)).toMatchObject({ status: 200, body: 'v2' });
  });

  it('hands the listening sockets over to a daemon of another protocol version (an upgrade) without a failed request', async () => {
    const real = await daemonPid();
    s.child.kill('SIGKILL');
    await s.exited;
    // an "older" daemon: the real one stops (keeping its state file) and one announcing protocol 0 serves the same routes
    process.kill(real, 'SIGTERM');
    await until('the daemon to exit', async () => !existsSync(sock));
    const old = spawn(process.execPath, [resolve('dist/deploy/proxyd.js'), '--data-dir', dataDir], { cwd: dataDir, env: { ...process.env, SHIPSHAPE_PROXYD_PROTOCOL: '0' }, detached: true, stdio: 'ignore' });
    const oldExited = new Promise((r) => old.once('exit', r));
    await until('the old daemon to serve', async () => (await get(port)).status === 200);
    const [hello] = await control(sock, ['{"id":1,"op":"hello"}'], 1);
    expect(JSON.parse(hello as string)).toMatchObject({ result: { protocol: 0, pid: old.pid } });

    const traffic = load(port, 4);
    await new Promise((r) => setTimeout(r, 300));
    s = await servers.up('shipshape.yaml', 'data');
    await until('the new daemon', async () => (await daemonPid().catch(() => old.pid)) !== old.pid);
    await oldExited;
    await new Promise((r) => setTimeout(r, 300));
    const result = await traffic.stop();
    expect(result.failed, JSON.stringify(result.failed.slice(0, 5))).toEqual([]);
    expect(new Set(result.bodies)).toEqual(new Set(['v2']));
    const [after] = await control(sock, ['{"id":1,"op":"hello"}'], 1);
    expect(JSON.parse(after as string)).toMatchObject({ result: { protocol: 1, restored: ['web/production'] } });
    expect(readFileSync(join(dataDir, 'proxyd.log'), 'utf8')).toMatch(/"msg":"took over from the previous daemon","routes":\["web\/production"\]/);
  }, 60_000);

  it('takes everything down with `shipshape down`: releases stop, the listener closes, the daemon exits', async () => {
    const run = await new Promise<{ status: number | null; stdout: string }>((done) => {
      const child = spawn(process.execPath, [BIN, 'down', 'web', '--json', '--url', s.url, '--token', ADMIN]);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (status) => done({ status, stdout }));
    });
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as { down: { env: string; stopped: number[] }[] };
    expect(out.down[0]?.env).toBe('production');
    expect(out.down[0]?.stopped.length).toBe(2);
    expect((await get(port)).status).toBe(0);
    // only the Shipshape server itself is left under the directory
    await until('the daemon and releases to exit', async () => processesUnder(dir).every((p) => p === s.child.pid));
    const { items } = await api<{ items: Release[] }>('/api/v1/deploy/web/releases');
    expect(items.filter((r) => r.state === 'live' || r.state === 'warm')).toEqual([]);
    expect((await events('deploy.down'))[0]?.data).toMatchObject({ service: 'web', env: 'production' });
  }, 60_000);
});
