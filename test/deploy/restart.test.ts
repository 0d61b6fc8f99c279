/**
 * Shipshape restarting around deploys (in this process): the proxy daemon and the live release keep
 * serving while Shipshape is stopped and the next start adopts the release (the same process), a
 * deploy that was running when Shipshape died is marked failed and its lock freed (its leftover
 * process killed), and a release that stops serving is drained first, within the drain timeout.
 * (test/deploy/proxyd.test.ts does the same with `shipshape up` processes, SIGKILL and load.)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipshape, type Running } from '../../src/app.js';
import { deploy } from '../../src/deploy/index.js';
import type { EventRecord } from '../../src/core/api-types.js';
import type { ReleaseDetail } from '../../src/deploy/index.js';
import { openStore } from '../../src/modules.js';
import { killUnder } from '../helpers/procs.js';
import { ADMIN } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

describe('deploys across Shipshape restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-restart-'));
  const configPath = join(dir, 'shipshape.yaml');
  const dataDir = join(dir, 'data');
  let repo: Repo;
  let port: number;
  let s: Running | undefined;

  const start = async () => {
    s = await startShipshape({ configPath, dataDir, port: 0, logger: pino({ level: 'silent' }), adminToken: ADMIN, watchConfig: false });
    return s;
  };
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${s?.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
    return (await res.json()) as T;
  };
  const events = async (type: string) => (await api<{ items: EventRecord[] }>(`/api/v1/events?type=${type}&limit=100`)).items;

  beforeAll(async () => {
    repo = Repo.withApp('v1');
    port = await freePort();
    writeFileSync(
      configPath,
      `services:
  web:
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      drain_timeout: 1s
      environments:
        production: { proxy: { port: ${port} } }
`,
    );
  });
  afterAll(async () => {
    await s?.use(deploy).service.downAll();
    await s?.stop();
    await killUnder(dir);
    repo?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drains a request in flight on the old release before stopping it, and cuts one longer than the drain timeout', async () => {
    await start();
    const v1 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v1.state).toBe('live');
    repo.commit({ VERSION: 'v2\n' }, 'v2');
    const v2 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v2.state).toBe('live');
    // a slow request on v2, then a rollback takes v2 out: the request still completes
    const slow = get(port, '/slow?ms=400');
    const waiting = get(port, '/slow?ms=5000');
    await new Promise((r) => setTimeout(r, 100));
    const rb = await api<ReleaseDetail>('/api/v1/deploy/web/rollback', { method: 'POST', body: '{}' });
    expect(rb).toMatchObject({ id: v1.id, state: 'live' });
    expect(await get(port)).toMatchObject({ body: 'v1' });
    expect(await slow).toMatchObject({ status: 200, body: 'v2' });
    // longer than drain_timeout (1s): cut when v2 is stopped
    expect((await waiting).status).not.toBe(200);
    let stopped: EventRecord | undefined;
    while (!(stopped = (await events('deploy.stopped')).find((e) => e.data.release === v2.id)));
    expect(stopped.data).toMatchObject({ service: 'web', drained: false });
  });

  it('keeps serving while Shipshape is stopped, and adopts the live release (the same process) on the next start', async () => {
    const pid = (await get(port, '/pid')).body;
    await s?.stop();
    // the proxy daemon and the release outlive Shipshape
    expect(await get(port)).toMatchObject({ status: 200, body: 'v1' });
    await start();
    expect(await get(port)).toMatchObject({ status: 200, body: 'v1' });
    expect((await get(port, '/pid')).body).toBe(pid);
    const adopted = (await events('deploy.adopted'))[0];
    expect(adopted?.data).toMatchObject({ service: 'web', env: 'production', warm: false });
    expect(await events('deploy.restored')).toEqual([]);
  });

  it('marks a deploy that was running when Shipshape died as failed, frees its lock and kills what it left', async () => {
    await s?.stop();
    s = undefined;
    // what a Shipshape killed mid-deploy leaves: a running release, its lock, its app process
    const orphanRelease = 999;
    const orphan = spawn('/bin/sh', ['-c', 'sleep 600'], { env: { PATH: process.env.PATH, SHIPSHAPE_RELEASE: String(orphanRelease) }, detached: true, stdio: 'ignore' });
    const store = await openStore({ dataDir });
    const now = Date.now();
    await store.db
      .insertInto('releases')
      .values({ id: orphanRelease, service: 'web', env: 'production', state: 'running', version: 'v3', git_sha: 'a'.repeat(40), ref: 'HEAD', author: 'Ada', commit_message: 'v3', actor: 'token:ci', promoted_from: null, config: '{}', gates: '[]', error: null, dir: null, port: null, pid: orphan.pid, created_at: now, finished_at: null, live_at: null, ended_at: null })
      .execute();
    await store.db.insertInto('deploy_locks').values({ service: 'web', env: 'production', owner: 'token:ci', reason: 'deploying HEAD', release_id: orphanRelease, acquired_at: now, expires_at: now + 120_000 }).execute();
    await store.close();
    const exited = new Promise((r) => orphan.once('exit', r));

    await start();
    await exited; // killed: it was that release's (its environment says so)
    const r = await api<ReleaseDetail>(`/api/v1/deploy/web/releases/${orphanRelease}`);
    expect(r).toMatchObject({ state: 'failed', error: 'interrupted: Shipshape stopped during the deploy (traffic never went to it)' });
    expect(await get(port)).toMatchObject({ body: 'v1' });
    // the lock went with it: the next deploy runs
    const next = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(next).toMatchObject({ state: 'live', version: expect.any(String) });
    expect(await get(port)).toMatchObject({ body: 'v2' });
  });

  it('moves the proxy to a new port on a config reload, keeping the live release', async () => {
    const moved = await freePort();
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(`port: ${port} }`, `port: ${moved} }`));
    expect(await s?.reload()).toBe(true);
    expect(await get(moved)).toMatchObject({ status: 200, body: 'v2' });
    expect((await get(port)).status).toBe(0);
    port = moved;
  });

  it("keeps a running release's log file bounded: past the limit it moves to .1 and the app serves on", async () => {
    const live = (await api<{ environments: { live: { id: number } | null }[] }>('/api/v1/deploy/web')).environments[0]?.live;
    const log = join(dataDir, 'logs', 'releases', 'web', `${live?.id}.log`);
    expect(readFileSync(log, 'utf8')).toContain('listening on');
    s?.use(deploy).service.trimLogs(10);
    expect(readFileSync(`${log}.1`, 'utf8')).toContain('listening on');
    expect(statSync(log).size).toBe(0);
    expect(await get(port)).toMatchObject({ status: 200, body: 'v2' });
  });

  it('closes the listener and stops the releases of an environment removed from the config; the daemon exits with no environment left', async () => {
    const pid = Number((await get(port, '/pid')).body);
    const sock = join(dataDir, 'proxyd.sock');
    expect(existsSync(sock)).toBe(true);
    writeFileSync(configPath, 'services:\n  web: {}\n');
    expect(await s?.reload()).toBe(true);
    expect((await get(port)).status).toBe(0);
    for (let i = 0; i < 100 && existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(dataDir, 'proxyd.json'))).toBe(false);
    // the release's process is gone (or a zombie until its parent reaps it)
    const alive = () => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat[stat.lastIndexOf(')') + 2] !== 'Z';
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
