import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events.js';
import { History } from '../../src/checks/history.js';
import { migrateModules, migrationTable } from '../../src/core/store/migrate.js';
import { storeMigrations, type RootStore as Store } from '../../src/modules.js';
import { allows, Tokens } from '../../src/core/tokens.js';
import { storeTargets } from '../helpers/stores.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe.each(storeTargets)('store on $name', (target) => {
  let store: Store;
  let open: () => Promise<Store>;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ open, cleanup } = await target.make());
    store = await open();
  });
  afterEach(async () => {
    await store.close();
    await cleanup();
  });

  it('a failed migration leaves the store as it was, and says which one failed', async () => {
    const tables = async () => (store.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db)).rows
      : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(store.db)).rows
    ).map((r) => r.name);
    const before = await tables();
    const probe = (fail: boolean) => [
      ...storeMigrations(),
      {
        module: 'probe',
        migrations: () => ({
          '0001_a': { up: async (db: Store['db']) => db.schema.createTable('probe_a').addColumn('id', 'integer').execute() },
          ...(fail
            ? {
                '0002_b': {
                  up: async (db: Store['db']) => {
                    await db.schema.createTable('probe_b').addColumn('id', 'integer').execute();
                    throw new Error('disk on fire');
                  },
                },
              }
            : {}),
        }),
      },
    ];
    await expect(migrateModules(store, probe(true))).rejects.toThrow(/migration probe\/0002_b failed and was rolled back: disk on fire/);
    // nothing of the module's pending migrations stayed: not its tables, not its tracking rows
    const after = await tables();
    expect(after).not.toContain('probe_a');
    expect(after).not.toContain('probe_b');
    expect(after.filter((t) => !before.includes(t) && t !== migrationTable('probe'))).toEqual([]);
    if (after.includes(migrationTable('probe'))) expect(await store.db.selectFrom(migrationTable('probe') as never).selectAll().execute()).toEqual([]);
    // and the fixed release migrates it
    await migrateModules(store, probe(false));
    expect(await tables()).toContain('probe_a');
  });

  it('runs its migrations once; opening again is a no-op', async () => {
    await migrateModules(store, storeMigrations());
    const again = await open();
    for (const m of storeMigrations()) {
      // each module's migrations are tracked in its own table
      const rows = await again.db.selectFrom(migrationTable(m.module) as never).selectAll().execute();
      expect(rows, m.module).toHaveLength(Object.keys(m.migrations(store.dialect)).length);
    }
    await again.close();
  });

  it('appends events and lists them newest first with a cursor; live listeners hear them', async () => {
    const log = new EventLog(store);
    const heard: string[] = [];
    log.onEvent((e) => heard.push(e.type));
    for (let i = 0; i < 5; i++) await log.append({ type: `t${i}`, actor: 'system', subject: 'x', data: { i } });
    const page1 = await log.list({ limit: 3 });
    expect(page1.map((e) => e.type)).toEqual(['t4', 't3', 't2']);
    const page2 = await log.list({ limit: 3, before: page1[2]!.id });
    expect(page2.map((e) => e.data.i)).toEqual([1, 0]);
    expect(heard).toEqual(['t0', 't1', 't2', 't3', 't4']);
    for (const type of ['deploy.started', 'deploy.finished', 'deployment_x']) await log.append({ type, actor: 'system', subject: 'x' });
    expect((await log.list({ limit: 10, type: 'deploy.*' })).map((e) => e.type)).toEqual(['deploy.finished', 'deploy.started']);
  });

  it('stores tokens hashed, verifies, scopes and revokes them', async () => {
    const tokens = new Tokens(store);
    const { token, info } = await tokens.create('ci', ['read']);
    expect(token).toMatch(/^ss_/);
    const row = await store.db.selectFrom('tokens').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token);
    expect(await tokens.verify(token)).toMatchObject({ name: 'ci', scopes: ['read'] });
    expect(await tokens.verify(`${token}x`)).toBeUndefined();
    expect(allows(['read'], 'write')).toBe(false);
    expect(allows(['admin'], 'read')).toBe(true);
    await tokens.revoke(info.id);
    expect(await tokens.verify(token)).toBeUndefined();
    await tokens.ensure('from-env-secret', 'env');
    expect((await tokens.verify('from-env-secret'))?.scopes).toEqual(['admin']);
    await expect(tokens.create('x', ['root' as never])).rejects.toThrow(/unknown scope "root"/);
  });

  describe('history', () => {
    let now = 0;
    const clock = () => now;
    const retention = { minute: 48 * HOUR, hour: 90 * DAY, day: 400 * DAY, failuresPerCheck: 3 };
    const t0 = Date.UTC(2026, 0, 1);

    it('folds results into minute, hour and day aggregates with latency quantiles', async () => {
      const h = new History(store, retention, clock);
      now = t0;
      // 61 minutes of a result every 10s: latencies 1..100ms cycling, every 30th fails
      let n = 0;
      for (let t = t0; t < t0 + 61 * MIN; t += 10_000) {
        now = t;
        n++;
        const ok = n % 30 !== 0;
        h.record(1, t, ok, (n % 100) + 1, ok ? undefined : { message: `boom ${n}`, conditions: [{ condition: 'status == 200', ok: false, actual: 'status = 500' }] });
      }
      now = t0 + 61 * MIN + 1;
      await h.flush();
      const minutes = await h.aggregates(1, 'minute', t0, now);
      expect(minutes).toHaveLength(61);
      expect(minutes[0]).toMatchObject({ t: new Date(t0).toISOString(), count: 6 });
      const hours = await h.aggregates(1, 'hour', t0, now);
      expect(hours).toHaveLength(1);
      expect(hours[0]!.count).toBe(360);
      expect(hours[0]!.failures).toBe(12);
      expect(hours[0]!.p50).toBeGreaterThan(45);
      expect(hours[0]!.p50).toBeLessThan(56);
      expect(hours[0]!.p95).toBeGreaterThan(90);
      expect(hours[0]!.max).toBe(100);
      // only the newest 3 failures are kept, with their details
      const failed = await h.failed(1, 10);
      expect(failed.map((f) => f.message)).toEqual(['boom 360', 'boom 330', 'boom 300']);
      expect(failed[0]!.conditions[0]).toMatchObject({ actual: 'status = 500' });
      expect(h.uptime24h(1)).toBeCloseTo((366 - 12) / 366, 2);
    });

    it('drops aggregates past their retention and keeps storage bounded', async () => {
      const h = new History(store, { ...retention, minute: 2 * HOUR, hour: 2 * DAY, day: 5 * DAY }, clock);
      for (let t = t0; t < t0 + 8 * DAY; t += 5 * MIN) {
        now = t;
        h.record(7, t, true, 10);
        if (t % HOUR === 0) {
          await h.flush();
          await h.prune();
        }
      }
      now = t0 + 8 * DAY;
      await h.flush();
      await h.prune();
      const count = async (table: 'agg_minute' | 'agg_hour' | 'agg_day') => Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      expect(await count('agg_minute')).toBeLessThanOrEqual(2 * 12 + 1);
      expect(await count('agg_hour')).toBeLessThanOrEqual(2 * 24 + 1);
      expect(await count('agg_day')).toBeLessThanOrEqual(6);
      expect(await count('agg_day')).toBeGreaterThanOrEqual(5);
    });

    it('hour and day quantiles are exactly a DDSketch\'s; the sparkline and 24h uptime keep their windows past 60 minutes and 24 hours', async () => {
      const { DDSketch } = await import('@datadog/sketches-js');
      const h = new History(store, retention, clock);
      const hourSketch = new Map<number, InstanceType<typeof DDSketch>>();
      const daySketch = new DDSketch({ relativeAccuracy: 0.01 });
      let n = 0;
      const end = t0 + 26 * HOUR;
      for (let t = t0; t < end; t += 30_000) {
        now = t;
        n++;
        // a spread of latencies, some tiny (counted as zero by the sketch) and some 0 (not counted)
        const latency = n % 97 === 0 ? 0 : n % 89 === 0 ? 1e-12 : Math.round((1 + ((n * 7919) % 5000) / 10) * 100) / 100;
        const ok = n % 50 !== 0;
        h.record(3, t, ok, latency, ok ? undefined : { message: 'down', conditions: [] });
        if (latency > 0) {
          const ht = Math.floor(t / HOUR) * HOUR;
          if (!hourSketch.has(ht)) hourSketch.set(ht, new DDSketch({ relativeAccuracy: 0.01 }));
          hourSketch.get(ht)!.accept(latency);
          if (t < t0 + DAY) daySketch.accept(latency);
        }
      }
      now = end;
      await h.flush();
      const r2 = (v: number) => Math.round(v * 100) / 100;
      const hours = await h.aggregates(3, 'hour', t0, end);
      expect(hours).toHaveLength(26);
      for (const row of hours) {
        const sk = hourSketch.get(Date.parse(row.t))!;
        expect(row.p50).toBe(r2(sk.getValueAtQuantile(0.5)));
        expect(row.p95).toBe(r2(sk.getValueAtQuantile(0.95)));
      }
      const [day] = await h.aggregates(3, 'day', t0, t0);
      expect(day!.p50).toBe(r2(daySketch.getValueAtQuantile(0.5)));
      expect(day!.p95).toBe(r2(daySketch.getValueAtQuantile(0.95)));
      // the sparkline: 60 points, one per minute, each closed minute's p95 as stored
      const spark = h.recent(3, 60);
      expect(spark).toHaveLength(60);
      const minutes = await h.aggregates(3, 'minute', end - 60 * MIN, end);
      const stored = new Map(minutes.map((m) => [m.t, m]));
      for (const p of spark.slice(0, -1)) {
        expect(p.p95).toBe(stored.get(p.t)?.p95 ?? null);
        expect(p.failures).toBe(stored.get(p.t)?.failures ?? 0);
      }
      // uptime over the closed hours of the last 24h plus the open one (failures every 50th result)
      const since = end - 24 * HOUR;
      const counted = hours.filter((x) => Date.parse(x.t) >= since);
      const total = counted.reduce((a, x) => a + x.count, 0);
      const failed = counted.reduce((a, x) => a + x.failures, 0);
      expect(h.uptime24h(3)).toBeCloseTo((total - failed) / total, 10);
    });

    it('keeps open buckets across a graceful restart', async () => {
      now = t0;
      const h = new History(store, retention, clock);
      for (let i = 0; i < 30; i++) h.record(2, t0 + i * 1000, true, 10 + i);
      now = t0 + 30_000;
      await h.persistOpen();
      const h2 = new History(store, retention, clock);
      await h2.load();
      for (let i = 30; i < 60; i++) h2.record(2, t0 + i * 1000, true, 10 + i);
      now = t0 + HOUR + 1;
      await h2.flush();
      const [minute] = await h2.aggregates(2, 'minute', t0, now);
      expect(minute).toMatchObject({ count: 60, max: 69 });
      const [hour] = await h2.aggregates(2, 'hour', t0, now);
      expect(hour!.count).toBe(60);
      expect(hour!.p50).toBeGreaterThan(35);
      expect(hour!.p50).toBeLessThan(42);
    });
  });
});
