/**
 * SIGKILL of Shipshape in the middle of a deploy (the built package, `shipshape up` in a child
 * process): on restart the interrupted release is failed, its lock is gone, what it left running
 * is killed, and the release that was live serves again — traffic never went to the new one.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseDetail } from '../../src/deploy/index.js';
import { ChildServers } from '../helpers/child-server.js';
import { ADMIN } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

/** Processes whose command line contains `needle` (from /proc). */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(needle) && state !== 'Z') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('SIGKILL of Shipshape mid-deploy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-kill-'));
  const hold = join(dir, 'hold');
  const marker = `${600 + Math.floor(Math.random() * 1000) / 1000}`; // a sleep only this test runs
  let repo: Repo;
  let port: number;
  let servers: ChildServers;

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
      gates:
        - name: hold
          run: "if [ -f ${hold} ]; then echo holding; sleep ${marker}; fi"
      environments:
        production: { proxy: { port: ${port} } }
`,
    );
    servers = new ChildServers(dir, { SHIPSHAPE_ADMIN_TOKEN: ADMIN });
  });
  afterAll(async () => {
    await servers?.killAllUnder();
    for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    repo?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('recovers: the interrupted release failed, its lock and leftovers gone, the old release serving', async () => {
    let s = await servers.up('shipshape.yaml', 'data');
    const api = async <T>(path: string, init: RequestInit = {}) => {
      const res = await fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
      return (await res.json()) as T;
    };
    const v1 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v1.state).toBe('live');
    expect(await get(port)).toMatchObject({ body: 'v1' });

    writeFileSync(hold, '');
    repo.commit({ VERSION: 'v2\n' }, 'v2');
    void fetch(`${s.url}/api/v1/deploy/web/deploys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    // wait until the gate is running
    let v2: ReleaseDetail | undefined;
    for (let i = 0; i < 400 && !v2?.steps.some((st) => st.name === 'gate hold' && st.state === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      const list = await api<{ items: ReleaseDetail[] }>('/api/v1/deploy/web/releases');
      const id = list.items.find((r) => r.id !== v1.id)?.id;
      if (id) v2 = await api<ReleaseDetail>(`/api/v1/deploy/web/releases/${id}`);
    }
    expect(v2?.state).toBe('running');
    while (processesWith(`sleep ${marker}`).length === 0) await new Promise((r) => setTimeout(r, 50));

    s.child.kill('SIGKILL');
    await s.exited;
    // the gate Shipshape was running outlived it (its own process group) …
    expect(processesWith(`sleep ${marker}`).length).toBeGreaterThan(0);

    s = await servers.up('shipshape.yaml', 'data');
    // … until the restart killed it
    for (let i = 0; i < 100 && processesWith(`sleep ${marker}`).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
    const after = await api<ReleaseDetail>(`/api/v1/deploy/web/releases/${v2?.id}`);
    expect(after).toMatchObject({ state: 'failed', error: 'interrupted: Shipshape stopped during the deploy (traffic never went to it)' });
    expect(after.steps.find((st) => st.name === 'gate hold')).toMatchObject({ state: 'failed', detail: 'interrupted' });
    expect(await get(port)).toMatchObject({ status: 200, body: 'v1', release: String(v1.id) });
    const status = await api<{ environments: { lock: unknown }[] }>('/api/v1/deploy/web');
    expect(status.environments[0]?.lock).toBeNull();

    rmSync(hold);
    const v3 = await api<ReleaseDetail>('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    expect(v3.state).toBe('live');
    expect(await get(port)).toMatchObject({ body: 'v2' });
    s.child.kill('SIGTERM');
    await s.exited;
  }, 120_000);
});
