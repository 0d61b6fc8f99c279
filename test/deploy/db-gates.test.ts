/**
 * The database gates of a deploy, end to end: a real Shipshape server, a real git repository whose
 * releases carry SQL migrations, the real PostgreSQL and the real pg_dump. A release whose
 * migrations are not applied is stopped at its gate; once they are (with the verified backup
 * `backup_before` takes), it goes live; a later commit adding a migration is stopped again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { db } from '../../src/db/index.js';
import { parseConfig } from '../../src/modules.js';
import type { ReleaseDetail } from '../../src/deploy/index.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

describe('deploy gates on the service database', () => {
  let s: TestServer;
  let repo: Repo;
  let database: { url: string; drop: () => Promise<void> };
  const backups = mkdtempSync(join(tmpdir(), 'shipshape-gate-backups-'));
  let port: number;

  beforeAll(async () => {
    repo = Repo.withApp('v1');
    repo.commit({ 'migrations/001_create_orders.sql': '-- migrate:up\ncreate table orders (id bigint primary key);\n-- migrate:down\ndrop table orders;\n' }, 'orders table');
    database = await createTestDatabase('shipshape_gates');
    port = await freePort();
    s = await startTestServer(`services:
  shop:
    database:
      url: "${database.url}"
      migrations: ${repo.dir}/migrations
      backup_before: true
      backups: { dir: ${backups} }
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      gates:
        - migrations: true
        - backup: { max_age: 1h }
      environments:
        production: { proxy: { port: ${port} } }
`);
  });

  afterAll(async () => {
    await s?.close();
    repo?.remove();
    await database?.drop();
    rmSync(backups, { recursive: true, force: true });
  });

  const deploy = async () => (await (await s.api('/api/v1/deploy/shop/deploys', { method: 'POST', body: JSON.stringify({}) })).json()) as ReleaseDetail;

  it('stops a release whose migrations are not applied, naming them and the command', async () => {
    const r = await deploy();
    expect(r.state).toBe('failed');
    expect(r.error).toBe('gate migrations applied: 1 migration not applied (001_create_orders.sql): run `shipshape db migrate --service shop` first');
    expect(r.gates).toEqual([expect.objectContaining({ name: 'migrations applied', kind: 'migrations', passed: false })]);
    expect(r.steps.find((st) => st.name === 'gate migrations applied')?.output).toContain('pending: 001_create_orders.sql');
    expect((await get(port)).status).toBe(503);
  });

  it('lets it through once they are applied and a verified backup is fresh', async () => {
    const ran = await s.use(db).migrate('shop', { actor: 'token:ci' });
    expect(ran.done.map((a) => a.filename)).toEqual(['001_create_orders.sql']);
    const r = await deploy();
    expect(r.state, r.error ?? '').toBe('live');
    expect(r.gates.map((g) => [g.name, g.passed, g.summary])).toEqual([
      ['migrations applied', true, 'every migration applied, no drift'],
      ['backup within 1h', true, expect.stringMatching(/^backup \S+, .* old$/)],
    ]);
    expect(await get(port)).toMatchObject({ status: 200, body: 'v1' });
  });

  it("reads the release's own migrations: a commit adding one is stopped until it is applied", async () => {
    repo.commit({ VERSION: 'v2\n', 'migrations/002_add_total.sql': '-- migrate:up\nalter table orders add column total bigint;\n' }, 'v2 needs a total');
    const r = await deploy();
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^gate migrations applied: 1 migration not applied \(002_add_total\.sql\)/);
    expect(await get(port)).toMatchObject({ status: 200, body: 'v1' });
  });

  it('names a gate on a service without a database in the config error', () => {
    expect(() =>
      parseConfig(
        `services:
  web:
    deploy:
      start: "node server.js"
      gates:
        - backup: { max_age: 2h }
      environments:
        production: { proxy: { port: 18080 } }
`,
        '/srv/shipshape.yaml',
        { env: {} },
      ),
    ).toThrow('/srv/shipshape.yaml:6:11: services.web.deploy.gates[0]: a backup gate reads the service\'s database: add services.web.database: { url: "${DATABASE_URL}", migrations: migrations/ }');
  });
});
