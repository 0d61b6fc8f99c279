/** The deploy flow with Shipshape's store on a real PostgreSQL (bigint ids, the lock's primary key). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/core/api-types.js';
import type { Release, ReleaseDetail } from '../../src/deploy/index.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

describe('deploys on a PostgreSQL store', () => {
  let s: TestServer;
  let repo: Repo;
  let port: number;
  let db: { url: string; drop: () => Promise<void> };
  const tmp = mkdtempSync(join(tmpdir(), 'shipshape-deploy-pg-'));
  const go = join(tmp, 'go');

  beforeAll(async () => {
    db = await createTestDatabase();
    repo = Repo.withApp('v1');
    port = await freePort();
    s = await startTestServer(
      `services:
  web:
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      gates:
        - name: wait
          run: "if [ -f ${join(tmp, 'hold')} ]; then while [ ! -f ${go} ]; do sleep 0.05; done; fi"
      environments:
        production: { proxy: { port: ${port} } }
`,
      { databaseUrl: db.url },
    );
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
    repo?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  const deploy = async () => {
    const res = await s.api('/api/v1/deploy/web/deploys', { method: 'POST', body: '{}' });
    return { status: res.status, body: (await res.json()) as ReleaseDetail & Problem };
  };

  it('deploys, refuses a concurrent deploy, rolls back to the warm release', async () => {
    const v1 = (await deploy()).body;
    expect(v1).toMatchObject({ state: 'live', id: expect.any(Number) });
    repo.commit({ VERSION: 'v2\n' }, 'v2');

    writeFileSync(join(tmp, 'hold'), '');
    const pending = deploy();
    for (;;) {
      const st = (await (await s.api('/api/v1/deploy/web')).json()) as { environments: { lock: unknown }[] };
      if (st.environments[0]?.lock) break;
    }
    const refused = await deploy();
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/^web\/production is locked by token:admin/);
    writeFileSync(go, '');
    const v2 = (await pending).body;
    expect(v2).toMatchObject({ state: 'live', promoted_from: null });
    expect(await get(port)).toMatchObject({ body: 'v2' });

    const rb = (await (await s.api('/api/v1/deploy/web/rollback', { method: 'POST', body: '{}' })).json()) as ReleaseDetail;
    expect(rb).toMatchObject({ id: v1.id, state: 'live' });
    expect(rb.steps.map((st) => st.name)).toEqual(['cut', 'gate wait', 'start', 'health', 'switch', 'switch']);
    expect(await get(port)).toMatchObject({ body: 'v1', release: String(v1.id) });
    const list = (await (await s.api('/api/v1/deploy/web/releases')).json()) as { items: Release[] };
    expect(list.items.map((r) => [r.id, r.state])).toEqual([
      [v2.id, 'rolled_back'],
      [v1.id, 'live'],
    ]);
  }, 90_000);
});
