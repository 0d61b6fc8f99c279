/** The db module inside a running Shipshape: the service API the deploy gate calls, the status route, events on the log. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import { db as dbModule } from '../../src/db/index.js';
import { concerns, describeEvent } from '../../src/incidents/timeline.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { guideFiles, MigrationsDir, testDatabase } from './helpers.js';

describe('db in a running server', () => {
  let pgdb: Awaited<ReturnType<typeof testDatabase>>;
  let dir: MigrationsDir;
  let s: TestServer;

  beforeAll(async () => {
    pgdb = await testDatabase();
    dir = new MigrationsDir(guideFiles());
    s = await startTestServer(`services:
  web:
    database:
      url: ${pgdb.url}
      migrations: ${dir.dir}
  api:
    description: no database
`);
  });
  afterAll(async () => {
    await s?.close();
    dir?.remove();
    await pgdb?.drop();
  });

  it('answers the deploy gate\'s question, migrates with events on the log, and serves the status', async () => {
    const domain = s.use(dbModule);
    const before = await domain.pending({ service: 'web' });
    expect(before.pending).toHaveLength(12);
    expect(before.gaps).toEqual(['009']);
    expect(before.drift).toEqual([]);

    await domain.service.migrate(domain.targetOf('web'), { actor: 'user:test', to: 3 });
    expect((await domain.pending({ url: pgdb.url, dir: dir.dir })).pending.map((p) => p.version)).toEqual([4, 5, 6, 7, 8, 10, 11, 12, 13]);

    const ev = (await (await s.api('/api/v1/events?type=db.*')).json()) as { items: EventRecord[] };
    expect(ev.items.map((e) => e.type)).toEqual(['db.migrated', 'db.migrated', 'db.migrated']);
    expect(ev.items[0]).toMatchObject({ subject: 'service:web', data: { service: 'web', filename: '003_add_post_indexes.sql' } });
    // what an incident on web shows on its timeline
    const first = ev.items[0] as EventRecord;
    expect(concerns(first, new Set(['web']), new Set())).toBe(true);
    expect(describeEvent(first)).toBe('db: migrated (service web): applied 003_add_post_indexes.sql (1 statement)');

    const r = await s.api('/api/v1/db/web/migrations');
    expect(r.status).toBe(200);
    const st = (await r.json()) as { applied: { filename: string }[]; pending: unknown[]; database: string };
    expect(st.applied.map((a) => a.filename)).toEqual(['001_create_user_profiles.sql', '002_create_posts.sql', '003_add_post_indexes.sql']);
    expect(st.pending).toHaveLength(9);
    expect(st.database).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\//);

    expect((await s.api('/api/v1/db/web/migrations', { token: null })).status).toBe(401);
    const none = await s.api('/api/v1/db/api/migrations');
    expect(none.status).toBe(404);
    expect(((await none.json()) as { detail: string }).detail).toContain('service "api" has no database: section');
  });
});
