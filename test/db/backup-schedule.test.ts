/**
 * Scheduled backups end to end against the real PostgreSQL with the real pg_dump / pg_restore: the
 * db module's start / tick / stop on a clock the test moves (a cron schedule in Europe/Berlin across
 * the spring-forward change), verification after each backup or on its own schedule, GFS pruning
 * with events, a failed and a missed run read by a real `absent(backup.web) for 26h` alert rule, a
 * missed run taken at the next start, and a shutdown in the middle of a dump.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertRuleSchema } from '../../src/alerts/config.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { CheckReader } from '../../src/alerts/evaluate.js';
import type { Config } from '../../src/core/config/load.js';
import { EventLog } from '../../src/core/events.js';
import { backupSignalReader, createDb, type DbDomain } from '../../src/db/index.js';
import { openStore, parseConfig, type RawConfig, type RootStore } from '../../src/modules.js';
import type { TelemetryQuery } from '../../src/telemetry/types.js';
import { moduleContext } from '../helpers/module-context.js';
import { testDatabase } from './helpers.js';

const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

const NO_TELEMETRY = { lastSeen: () => undefined } as unknown as TelemetryQuery;
const NO_CHECKS = { heartbeat: () => undefined, heartbeatService: () => undefined } as unknown as CheckReader;

let pgdb: Awaited<ReturnType<typeof testDatabase>>;
let work: string;
let store: RootStore;
let events: EventLog;
let now: number;
let config: Config<RawConfig>;
let mods: DbDomain[];

const yamlOf = (url: string, backups: string) => `services:
  web:
    database:
      url: ${url}
      backups:
${backups
  .trim()
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
alerts:
  - name: web-backups
    when: absent(backup.web) for 26h
    severity: P1
`;
const load = (url: string, backups: string) => {
  const file = join(work, 'shipshape.yaml');
  writeFileSync(file, yamlOf(url, backups));
  config = parseConfig(yamlOf(url, backups), file, { env: {} });
};
const startDb = async (): Promise<DbDomain> => {
  const m = createDb(moduleContext({ store, events, config: () => config, now: () => now, dataDir: join(work, 'data') }));
  mods.push(m);
  await m.start?.();
  return m;
};
const backupsDir = () => join(work, 'backups');
const dbEvents = async () =>
  (await events.list({ limit: 500 }))
    .filter((e) => e.type.startsWith('db.'))
    .reverse()
    .map((e) => ({ type: e.type, actor: e.actor, id: (e.data as { id?: string }).id }));
const stateOf = () => JSON.parse(readFileSync(join(backupsDir(), '.schedule-web.json'), 'utf8')) as { since: string; backup?: { at: string; ok: boolean; id?: string; error?: string } };

beforeAll(async () => {
  pgdb = await testDatabase();
  await pgdb.query(`CREATE TABLE orders (id bigint PRIMARY KEY, total int); INSERT INTO orders SELECT g, g * 7 FROM generate_series(1, 500) g;`);
});
afterAll(async () => {
  await pgdb?.drop();
});
beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'shipshape-sched-'));
  store = await openStore({ dataDir: join(work, 'data') });
  events = new EventLog(store, () => now);
  mods = [];
});
afterEach(async () => {
  for (const m of mods) await m.stop?.();
  await store.close();
  rmSync(work, { recursive: true, force: true });
});

describe('scheduled backups while the server runs', () => {
  it('backs up on the cron schedule in its time zone, verifies each backup, prunes by the policy, and a failed or missed run fires absent(backup.web)', async () => {
    now = at('2026-03-27T12:00:00Z');
    load(pgdb.url, 'schedule: "0 3 * * *"\ntimezone: Europe/Berlin\nverify: true\nkeep: { daily: 2 }');
    const dbm = await startDb();
    const engine = new AlertEngine({ store, events, telemetry: NO_TELEMETRY, checks: NO_CHECKS, now: () => now, backups: backupSignalReader(() => config, join(work, 'data')) });
    await engine.load();
    await engine.setRules([alertRuleSchema.parse({ name: 'web-backups', when: 'absent(backup.web) for 26h', severity: 'P1' })]);
    const rule = async () => {
      await engine.evaluate();
      return engine.rulesStatus()[0];
    };

    // 03:00 in Berlin is 02:00 UTC before the change on 29 March and 01:00 UTC from that day on
    expect(dbm.scheduler.list()).toEqual([{ service: 'web', kind: 'backup', schedule: '0 3 * * *', timezone: 'Europe/Berlin', next: '2026-03-28T02:00:00.000Z' }]);
    expect(await dbm.tick()).toEqual([]);
    expect(stateOf().since).toBe('2026-03-27T12:00:00.000Z');
    // nothing taken yet, but the service has been watched for less than 26h
    expect(await rule()).toMatchObject({ state: 'inactive', conditionMet: false, labels: { service: 'web' }, reason: expect.stringMatching(/backups of web: no backup yet/) });

    now = at('2026-03-28T02:00:00Z');
    const [first] = await dbm.tick();
    expect(first).toMatchObject({ service: 'web', kind: 'backup', ok: true, id: 'web-20260328T020000Z', verified: true, pruned: [] });
    expect(iso(dbm.scheduler.nextDue())).toBe('2026-03-29T01:00:00.000Z');
    now = at('2026-03-29T01:00:00Z');
    expect((await dbm.tick())[0]).toMatchObject({ ok: true, id: 'web-20260329T010000Z', pruned: [] });
    now = at('2026-03-30T01:00:00Z');
    // the third backup: keep daily 2 drops the first
    expect((await dbm.tick())[0]).toMatchObject({ ok: true, id: 'web-20260330T010000Z', verified: true, pruned: ['web-20260328T020000Z'] });
    expect((await dbm.backups.list(backupsDir())).map((b) => [b.id, b.verified?.ok])).toEqual([
      ['web-20260330T010000Z', true],
      ['web-20260329T010000Z', true],
    ]);
    expect(readdirSync(backupsDir()).sort()).toEqual(['.schedule-web.json', 'web-20260329T010000Z', 'web-20260330T010000Z']);
    expect(await dbEvents()).toEqual([
      { type: 'db.backup_completed', actor: 'schedule', id: 'web-20260328T020000Z' },
      { type: 'db.backup_verified', actor: 'schedule', id: 'web-20260328T020000Z' },
      { type: 'db.backup_completed', actor: 'schedule', id: 'web-20260329T010000Z' },
      { type: 'db.backup_verified', actor: 'schedule', id: 'web-20260329T010000Z' },
      { type: 'db.backup_completed', actor: 'schedule', id: 'web-20260330T010000Z' },
      { type: 'db.backup_verified', actor: 'schedule', id: 'web-20260330T010000Z' },
      { type: 'db.backup_pruned', actor: 'schedule', id: 'web-20260328T020000Z' },
    ]);
    expect(await rule()).toMatchObject({ state: 'inactive', reason: 'backups of web: last good backup 0ms ago (web-20260330T010000Z) (< 1d2h)' });

    // the database is gone the next night: the scheduled run fails and the rule fires at once
    now = at('2026-03-31T01:00:00Z');
    load(pgdb.url.replace(/\/[^/]+$/, '/shipshape_no_such_database'), 'schedule: "0 3 * * *"\ntimezone: Europe/Berlin\nverify: true\nkeep: { daily: 2 }');
    await dbm.apply?.(config);
    const [failed] = await dbm.tick();
    expect(failed).toMatchObject({ ok: false, error: expect.stringMatching(/shipshape_no_such_database.*does not exist/) });
    expect(stateOf().backup).toMatchObject({ at: '2026-03-31T01:00:00.000Z', ok: false });
    expect((await dbEvents()).at(-1)).toMatchObject({ type: 'db.backup_failed', actor: 'schedule' });
    expect(await rule()).toMatchObject({ state: 'firing', valueText: 'last run failed', reason: expect.stringMatching(/^backups of web: the scheduled backup at 2026-03-31T01:00:00.000Z failed: .*does not exist.*; last good backup 1d ago/) });
    // nothing was pruned by a failed run, and no partial backup is left
    expect(readdirSync(backupsDir()).sort()).toEqual(['.schedule-web.json', 'web-20260329T010000Z', 'web-20260330T010000Z']);

    // fixed: the next run succeeds and the alert resolves
    load(pgdb.url, 'schedule: "0 3 * * *"\ntimezone: Europe/Berlin\nverify: true\nkeep: { daily: 2 }');
    await dbm.apply?.(config);
    now = at('2026-04-01T01:00:00Z');
    expect((await dbm.tick())[0]).toMatchObject({ ok: true, id: 'web-20260401T010000Z', pruned: ['web-20260329T010000Z'] });
    expect(await rule()).toMatchObject({ state: 'inactive', conditionMet: false });
    const alertTypes = async () =>
      (await events.list({ limit: 500 }))
        .filter((e) => e.type.startsWith('alert.'))
        .reverse()
        .map((e) => e.type);
    expect(await alertTypes()).toEqual(['alert.firing', 'alert.resolved']);

    // the server is down over the next night: 26 hours without a backup fire it again
    now = at('2026-04-02T02:59:00Z');
    expect(await rule()).toMatchObject({ state: 'inactive', value: 26 * H - 60_000 });
    now = at('2026-04-02T03:00:00Z');
    expect(await rule()).toMatchObject({ state: 'firing', value: 26 * H, reason: 'backups of web: last good backup 1d2h ago (web-20260401T010000Z), none for at least 1d2h' });
    now = at('2026-04-02T04:00:00Z');

    // at the next start the missed 03:00 run is taken at once, and the alert resolves
    await dbm.stop?.();
    const again = await startDb();
    expect(iso(again.scheduler.nextDue())).toBe('2026-04-02T01:00:00.000Z');
    expect((await again.tick())[0]).toMatchObject({ ok: true, id: 'web-20260402T040000Z' });
    expect(iso(again.scheduler.nextDue())).toBe('2026-04-03T01:00:00.000Z');
    expect(await rule()).toMatchObject({ state: 'inactive' });
    expect(await alertTypes()).toEqual(['alert.firing', 'alert.resolved', 'alert.firing', 'alert.resolved']);
    await engine.idle();
  });

  it('verifies on its own schedule: the newest unverified backup, and a failed verification fires the rule', async () => {
    now = at('2026-06-01T00:00:00Z');
    load(pgdb.url, 'schedule: "0 3 * * *"\nverify: "30 4 * * *"');
    const dbm = await startDb();
    expect(dbm.scheduler.list().map((j) => [j.kind, j.next])).toEqual([
      ['backup', '2026-06-01T03:00:00.000Z'],
      ['verify', '2026-06-01T04:30:00.000Z'],
    ]);
    now = at('2026-06-01T03:00:00Z');
    expect((await dbm.tick())[0]).toMatchObject({ kind: 'backup', ok: true, id: 'web-20260601T030000Z' });
    expect((await dbm.backups.list(backupsDir()))[0]?.verified).toBeNull();
    now = at('2026-06-01T04:30:00Z');
    expect(await dbm.tick()).toEqual([expect.objectContaining({ kind: 'verify', ok: true, id: 'web-20260601T030000Z', verified: true })]);
    expect((await dbm.backups.list(backupsDir()))[0]?.verified).toMatchObject({ ok: true, at: '2026-06-01T04:30:00.000Z' });

    // the server slept through 03:00 the next day: the backup is taken first, then the verification finds it
    now = at('2026-06-02T04:30:00Z');
    expect(await dbm.tick()).toEqual([expect.objectContaining({ kind: 'backup', ok: true, id: 'web-20260602T043000Z' }), expect.objectContaining({ kind: 'verify', ok: true, id: 'web-20260602T043000Z', verified: true })]);

    // a backup whose manifest no longer matches its dump fails the scheduled verification
    now = at('2026-06-03T03:00:00Z');
    const [b] = await dbm.tick();
    const manifest = join(backupsDir(), b?.id ?? '', 'manifest.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { tables: { rows: number }[] };
    (m.tables[0] as { rows: number }).rows += 1;
    writeFileSync(manifest, JSON.stringify(m));
    now = at('2026-06-03T04:30:00Z');
    expect((await dbm.tick())[0]).toMatchObject({ kind: 'verify', ok: false, id: b?.id, error: expect.stringMatching(/public\.orders: 500 rows after restore, 501 in the manifest/) });
    const signal = await backupSignalReader(() => config, join(work, 'data'))('web');
    expect(signal).toMatchObject({ lastOkId: 'web-20260602T043000Z', failed: { kind: 'verify', at: at('2026-06-03T04:30:00Z') } });
    expect((await dbEvents()).map((e) => e.type)).toEqual(['db.backup_completed', 'db.backup_verified', 'db.backup_completed', 'db.backup_verified', 'db.backup_completed', 'db.backup_verify_failed']);
    // with every backup verified (or failed) there is nothing left to verify
    now = at('2026-06-04T04:30:00Z');
    const day4 = await dbm.tick();
    expect(day4.map((o) => [o.kind, o.ok, o.verified ?? null])).toEqual([
      ['backup', true, null],
      ['verify', true, true],
    ]);
  });

  it('stops cleanly: a dump in flight is stopped, its partial backup removed, and the run taken again at the next start', async () => {
    now = at('2026-07-01T02:59:00Z');
    load(pgdb.url, 'schedule: "0 3 * * *"\nverify: true');
    const dbm = await startDb();
    now = at('2026-07-01T03:00:00Z');
    const running = dbm.tick();
    await dbm.stop?.();
    const [outcome] = await running;
    expect(outcome).toMatchObject({ ok: false, error: expect.stringMatching(/shutting down/) });
    expect(readdirSync(backupsDir()).filter((n) => !n.startsWith('.schedule'))).toEqual([]);
    // not recorded as a scheduled failure: the next start takes the 03:00 run
    expect(stateOf().backup).toBeUndefined();
    expect(await dbm.tick()).toEqual([]);
    now = at('2026-07-01T03:05:00Z');
    const next = await startDb();
    expect(iso(next.scheduler.nextDue())).toBe('2026-07-01T03:00:00.000Z');
    expect((await next.tick())[0]).toMatchObject({ ok: true, verified: true, id: 'web-20260701T030500Z' });
  });
});
