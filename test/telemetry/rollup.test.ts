/**
 * Rollups with an injected clock, on SQLite and PostgreSQL: flushing, downsampling, restarts
 * without loss, the stored query `shipshape alerts test` uses, retention and the series limit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { moduleContext } from '../helpers/module-context.js';
import { EventLog } from '../../src/core/events.js';
import { createMetrics } from '../../src/core/metrics.js';
import type { RootStore as Store } from '../../src/modules.js';
import { createTelemetry, storedTelemetryQuery, type TelemetryDomain } from '../../src/telemetry/index.js';
import { decodeBins, encodeBins, binsOf, newSketch, sparseAdd, sparseAddExact } from '../../src/telemetry/sketch.js';
import { Rollup } from '../../src/telemetry/rollup.js';
import { storeTargets } from '../helpers/stores.js';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);

function setup(store: Store, yaml: string, clock: { now: number }) {
  const config = parseConfig(yaml, 'shipshape.yaml');
  const metrics = createMetrics();
  const ctx = moduleContext({ store, events: new EventLog(store, () => clock.now), metrics, config: () => config, now: () => clock.now });
  const tel = createTelemetry(ctx);
  return { tel, metrics, events: ctx.events };
}

const req = (route: string, ms: number, status: number, at: number) => ({ service: 'web', route, status, durationMs: ms, error: status >= 500, at });

describe('sketch encoding', () => {
  it('round-trips the bins a DDSketch holds', () => {
    const s = newSketch();
    for (let i = 1; i <= 1000; i++) s.accept(i * 1.7, 1 + (i % 3));
    s.accept(0, 4);
    const b = binsOf(s);
    const back = decodeBins(encodeBins(b));
    expect([...back.keys]).toEqual([...b.keys]);
    expect([...back.counts]).toEqual([...b.counts]);
    expect(back.zero).toBe(4);
    expect(encodeBins(b).length).toBeLessThan(s.toProto().length / 2);
    expect(() => decodeBins(Uint8Array.from([1, 5]))).toThrow(/truncated/);
  });

  it('compact bins grown to their exact size hold what bins grown in place hold, and open buckets out of order land in order', () => {
    const inPlace: number[] = [];
    let exact: number[] = [];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 48271) % 2147483647;
      const key = (seed % 400) - 150;
      const count = 1 + (seed % 3);
      sparseAdd(inPlace, key, count);
      const before = exact;
      exact = sparseAddExact(exact, key, count);
      if (exact !== before) expect(exact.length).toBe(before.length + 2);
    }
    expect(exact).toEqual(inPlace);
    // buckets opened late and early keep the list sorted, and closing drops them from the front
    const r = new Rollup({ maxSeries: () => 10, collect: true });
    const t = Date.UTC(2025, 0, 6, 12, 0, 0);
    for (const at of [t + 20_000, t, t + 10_000, t + 20_001, t + 5_000]) r.request('web', '/a', 5, false, at, 1, t + 25_000);
    const s = r.find('requests', 'web', '/a', '')!;
    expect(s.open10.map((b) => [b.t - t, b.count])).toEqual([[0, 2], [10_000, 1], [20_000, 2]]);
    r.advance(t + 21_000);
    expect(s.open10.map((b) => b.t - t)).toEqual([10_000, 20_000]);
    r.advance(t + 40_000);
    expect(s.open10).toEqual([]);
    expect(r.pending.map((p) => [p.t - t, p.count])).toEqual([[0, 2], [10_000, 1], [20_000, 2]]);
    r.request('web', '/a', 5, false, t + 40_000, 1, t + 40_000);
    expect(s.open10.map((b) => b.t - t)).toEqual([40_000]);
  });
});

for (const target of storeTargets) {
  describe(`telemetry rollups on ${target.name}`, () => {
    let made: Awaited<ReturnType<typeof target.make>>;
    let store: Store;
    beforeEach(async () => {
      made = await target.make();
      store = await made.open();
    });
    afterEach(async () => {
      await store.close();
      await made.cleanup();
    });

    it('flushes 10s buckets, downsamples to minutes and hours, and survives a restart without loss', async () => {
      const clock = { now: T0 };
      const yaml = 'services: {}\ningest:\n  tokens: [rollup-test-token-7d2e9a]\n';
      let { tel } = setup(store, yaml, clock);
      await tel.start?.();
      // 90 minutes: each 10s, 10 requests (1 error) on two routes
      let total = 0;
      for (let i = 0; i < 540; i++) {
        clock.now = T0 + i * 10_000 + 3_000;
        const batch = [];
        for (let j = 0; j < 10; j++) batch.push(req(j % 2 ? '/a' : '/b', j === 0 ? 900 : 20 + j, j === 0 ? 500 : 200, clock.now));
        tel.sink.requests(batch);
        total += 10;
        if (i % 30 === 0) await tel.flush();
      }
      await tel.flush();
      const win = (ms: number) => tel.query.errorRate('web', ms);
      expect((await win(300_000)).value).toBeCloseTo(0.1, 5);
      expect((await win(300_000)).samples).toBeGreaterThanOrEqual(300);
      expect((await win(300_000)).samples).toBeLessThanOrEqual(310);
      // 2h window: everything, from hours + minutes + 10s buckets
      expect((await win(7_200_000)).samples).toBe(total);
      // 9 in 10 requests take 21..29ms, 1 in 10 takes 900ms; quantiles within DDSketch's 1%
      expect((await tel.query.latency('web', 0.5, 7_200_000)).value).toBeGreaterThan(25 * 0.98);
      expect((await tel.query.latency('web', 0.5, 7_200_000)).value).toBeLessThan(25 * 1.02);
      expect((await tel.query.latency('web', 0.95, 7_200_000)).value).toBeGreaterThan(900 * 0.98);
      expect((await tel.query.latency('web', 0.95, 7_200_000)).value).toBeLessThan(900 * 1.02);
      expect((await tel.query.requestRate('web', 600_000, '/a')).value).toBeCloseTo(0.5, 1);

      const sum = async (table: 'tel_10s' | 'tel_1m' | 'tel_1h') => Number((await store.db.selectFrom(table).select((eb) => eb.fn.sum<number>('count').as('n')).executeTakeFirstOrThrow()).n ?? 0);
      const in10 = await sum('tel_10s');
      expect(in10).toBeGreaterThan(total - 40);
      // every closed 10s bucket is in its minute and hour rows as soon as it is written
      expect(await sum('tel_1m')).toBe(in10);
      expect(await sum('tel_1h')).toBe(in10);
      // windows past the newest minutes are read from the store's minute rows (memory keeps only open
      // buckets): the stored query reads them on each query; the live one read these closed minutes
      // once and keeps them merged (closed periods never change; closed-cache.test.ts)
      await store.db.updateTable('tel_1m').set((eb) => ({ count: eb('count', '*', 2) })).execute();
      expect((await (await storedTelemetryQuery(store, clock.now)).errorRate('web', 7_200_000)).samples).toBeGreaterThan(total + 1000);
      expect((await win(7_200_000)).samples).toBe(total);
      await store.db.updateTable('tel_1m').set((eb) => ({ count: eb('count', '/', 2) })).execute();
      expect((await (await storedTelemetryQuery(store, clock.now)).errorRate('web', 7_200_000)).samples).toBe(total);
      // stop, restart: what was open comes back, nothing is lost
      const before = (await tel.query.errorRate('web', 7_200_000)).samples;
      await tel.stop?.();
      ({ tel } = setup(store, yaml, clock));
      await tel.start?.();
      expect((await tel.query.errorRate('web', 7_200_000)).samples).toBe(before);
      expect((await tel.query.errorRate('web', 300_000)).value).toBeCloseTo(0.1, 5);
      // and the store-backed query (alerts test) reads the same
      const stored = await storedTelemetryQuery(store, clock.now);
      expect((await stored.errorRate('web', 7_200_000)).samples).toBe(before);
      expect((await stored.latency('web', 0.99, 7_200_000)).value).toBeCloseTo(900, -1.5);
      expect(stored.lastSeen('web')).toBeGreaterThan(clock.now - 20_000);
      // later: the restored open buckets close; every request is in the hour rows
      clock.now += 2 * 3_600_000;
      tel.sink.requests([req('/a', 10, 200, clock.now)]);
      await tel.flush();
      expect(await sum('tel_1h')).toBe(total);
      await tel.stop?.();
    });

    it('vitals, events and metrics', async () => {
      const clock = { now: T0 };
      const { tel } = setup(store, 'services: {}\n', clock);
      await tel.start?.();
      tel.sink.vitals([1000, 1500, 2000, 3000].map((value) => ({ service: 'web', page: '/', name: 'LCP' as const, value, at: clock.now })));
      tel.sink.vitals([{ service: 'web', page: '/pricing', name: 'LCP', value: 8000, at: clock.now }]);
      tel.sink.events([{ service: 'web', name: 'payment_failed', at: clock.now }, { service: 'api', name: 'payment_failed', count: 3, at: clock.now }]);
      tel.sink.metrics([{ service: 'db', name: 'pg_connections', labels: { db: 'main' }, type: 'gauge', value: 40, at: clock.now }]);
      tel.sink.metrics([{ service: 'db', name: 'pg_xact_commit_total', labels: { db: 'main' }, type: 'counter', value: 1000, at: clock.now }]);
      clock.now += 30_000;
      tel.sink.metrics([{ service: 'db', name: 'pg_connections', labels: { db: 'main' }, type: 'gauge', value: 45, at: clock.now }]);
      tel.sink.metrics([{ service: 'db', name: 'pg_xact_commit_total', labels: { db: 'main' }, type: 'counter', value: 1600, at: clock.now }]);
      expect((await tel.query.vital('web', 'LCP', 0.75, 300_000, '/')).value).toBeCloseTo(2000, -2);
      expect((await tel.query.vital('web', 'LCP', 0.75, 300_000)).samples).toBe(5);
      expect((await tel.query.vital('web', 'INP', 0.75, 300_000)).value).toBeNull();
      expect((await tel.query.eventRate('payment_failed', 300_000)).samples).toBe(4);
      expect((await tel.query.eventRate('payment_failed', 300_000, 'api')).samples).toBe(3);
      expect((await tel.query.metric('pg_connections', { db: 'main' }, 300_000, 'db')).value).toBe(45);
      expect((await tel.query.metric('pg_connections', { db: 'other' }, 300_000)).value).toBeNull();
      // 600 commits over a 5 minute (300-310s) window
      expect((await tel.query.metric('pg_xact_commit_total', {}, 300_000)).value).toBeCloseTo(2, 0);
      expect(tel.query.lastSeen('db')).toBe(clock.now);
      expect(tel.query.lastSeen('nobody')).toBeUndefined();
      await tel.stop?.();
    });

    it('bounds memory by ingest.max_series, folds the excess into (other), and reports it once', async () => {
      const clock = { now: T0 };
      const { tel, metrics } = setup(store, 'services: {}\ningest:\n  max_series: 10\n', clock);
      await tel.start?.();
      for (let i = 0; i < 200; i++) tel.sink.requests([req(`/user/${i}`, 10, 200, clock.now)]);
      expect(tel.seriesCount()).toBeLessThanOrEqual(10 + 50);
      expect(tel.seriesCount()).toBeGreaterThanOrEqual(10);
      // nothing lost for the service totals: the excess is in (other)
      expect((await tel.query.errorRate('web', 60_000)).samples).toBe(200);
      expect((await tel.query.errorRate('web', 60_000, '(other)')).samples).toBe(190);
      for (let i = 0; i < 200; i++) tel.sink.metrics([{ service: 'db', name: 'm', labels: { id: String(i) }, type: 'gauge', value: 1, at: clock.now }]);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/shipshape_telemetry_folded_samples_total\{kind="requests"\} 190/);
      expect(text).toMatch(/shipshape_telemetry_dropped_samples_total\{reason="cardinality"\} 200/);
      const subjects = async () => (await new EventLog(store).list({ limit: 10, type: 'telemetry.cardinality_limited' })).map((e) => e.subject).sort();
      await expect.poll(subjects, { timeout: 5000, interval: 20 }).toEqual(['service:db', 'service:web']);
      await tel.stop?.();
    });

    it('prunes rows past their retention', async () => {
      const clock = { now: T0 };
      const { tel } = setup(store, 'services: {}\ningest:\n  retention: { ten_seconds: 5m }\n', clock);
      await tel.start?.();
      tel.sink.events([{ service: 'web', name: 'x', at: clock.now }]);
      clock.now += 30_000;
      await tel.flush();
      expect((await store.db.selectFrom('tel_10s').selectAll().execute()).length).toBe(1);
      clock.now += 11 * 60_000;
      await tel.flush();
      expect((await store.db.selectFrom('tel_10s').selectAll().execute()).length).toBe(0);
      expect((await store.db.selectFrom('tel_1m').selectAll().execute()).length).toBe(1);
      await tel.stop?.();
    });
  });
}

export type { TelemetryDomain };
