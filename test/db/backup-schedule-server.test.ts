/**
 * The running server: the db module arms its schedules at start, and the alerts engine reads
 * `absent(backup.web)` from the backups on disk (the db module is listed after alerts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRuleStatus } from '../../src/alerts/types.js';
import { db } from '../../src/db/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('backups in the running server', () => {
  let s: TestServer;
  const rule = async (): Promise<AlertRuleStatus> => ((await (await s.api('/api/v1/alerts/rules')).json()) as { items: AlertRuleStatus[] }).items[0] as AlertRuleStatus;
  const until = async (what: string, pred: (r: AlertRuleStatus) => boolean): Promise<AlertRuleStatus> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const r = await rule();
      if (pred(r)) return r;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  const manifest = (id: string, createdAt: number) => {
    const dir = join(s.dir, 'backups', id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ id, format: 'custom', file: 'dump.pgdump', created_at: new Date(createdAt).toISOString(), duration_ms: 1, service: 'web', database: 'postgres://app@127.0.0.1:5432/app', server_version: '16', pg_dump_version: 'pg_dump (PostgreSQL) 16', size: 1, sha256: '0'.repeat(64), tables: [] }));
  };

  beforeAll(async () => {
    s = await startTestServer(`
alerting:
  evaluate_every: 100ms
services:
  web:
    database:
      url: postgres://app@127.0.0.1:5432/app
      backups: { dir: backups, schedule: "0 3 * * *", timezone: America/New_York, keep: { daily: 7 } }
  api: {}
alerts:
  - name: web-backups
    when: absent(backup.web) for 26h
    severity: P1
`);
  });
  afterAll(async () => s?.close());

  it('arms the schedule at start and fires absent(backup.web) until a fresh backup is there', async () => {
    const [job] = s.use(db).scheduler.list();
    expect(job).toMatchObject({ service: 'web', kind: 'backup', schedule: '0 3 * * *', timezone: 'America/New_York' });
    // 03:00 in New York is 07:00 or 08:00 UTC
    expect(job?.next).toMatch(/T0[78]:00:00\.000Z$/);

    // the service has been watched for less than 26h and has no backup yet
    expect(await until('evaluated', (r) => /^backups of web/.test(r.reason ?? ''))).toMatchObject({ state: 'inactive', labels: { service: 'web' }, reason: expect.stringMatching(/^backups of web: no backup yet/) });

    manifest('web-old', Date.now() - 30 * 3_600_000);
    const firing = await until('firing', (r) => r.state === 'firing');
    expect(firing.reason).toMatch(/^backups of web: last good backup 1d6h ago \(web-old\), none for at least 1d2h$/);

    manifest('web-fresh', Date.now());
    const resolved = await until('resolved', (r) => r.state === 'inactive');
    expect(resolved.reason).toMatch(/^backups of web: last good backup \S+ ago \(web-fresh\)/);
  });
});
