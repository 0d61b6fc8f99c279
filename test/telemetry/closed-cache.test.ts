/**
 * The live query keeps the closed periods it read (closed-cache.ts): every answer must be the one
 * the same query gives without the cache (reading every stored row each time), while minutes close,
 * while a checkpoint has not written closed buckets yet, after retention deleted rows, and with a
 * budget too small to keep anything; windows past the 10s rows span stored minutes and the open
 * minute in memory. On SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RootStore } from '../../src/modules.js';
import type { Store } from '../../src/core/store/db.js';
import type { TelemetryTables } from '../../src/telemetry/migrations.js';
import { liveSource, telemetryQuery, type QuerySource } from '../../src/telemetry/query.js';
import { Rollup } from '../../src/telemetry/rollup.js';
import { writeCheckpoint } from '../../src/telemetry/storage.js';
import type { TelemetryQuery } from '../../src/telemetry/types.js';
import { storeTargets } from '../helpers/stores.js';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const MIN = 60_000;

/** every answer the rule queries give for a few windows, as plain data */
async function answers(q: TelemetryQuery): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const w of [20_000, MIN, 5 * MIN + 30_000, 10 * MIN, 3_600_000]) {
    out.push(['error_rate', w, await q.errorRate('web', w)]);
    out.push(['error_rate /a', w, await q.errorRate('web', w, '/a')]);
    out.push(['request_rate', w, await q.requestRate('web', w)]);
    for (const p of [0.5, 0.95, 0.99]) out.push(['latency', p, w, await q.latency('web', p, w)]);
    out.push(['gauge', w, await q.metric('queue_depth', {}, w, 'web')]);
    out.push(['counter', w, await q.metric('jobs_total', {}, w, 'web')]);
    out.push(['event_rate', w, await q.eventRate('signup', w)]);
  }
  return out;
}

for (const target of storeTargets) {
  describe(`the live query's kept closed periods on ${target.name}`, () => {
    let made: Awaited<ReturnType<typeof target.make>>;
    let root: RootStore;
    let store: Store<TelemetryTables>;
    beforeEach(async () => {
      made = await target.make();
      root = await made.open();
      store = root as unknown as Store<TelemetryTables>;
    });
    afterEach(async () => {
      await root.close();
      await made.cleanup();
    });

    it('answers exactly as reading every stored row does, as minutes close, before a checkpoint, after pruning and without room', async () => {
      const rollup = new Rollup({ maxSeries: () => 1000, collect: true });
      const clock = { now: T0 };
      const src = liveSource(store, rollup, () => rollup.pending, (f) => f());
      // the same source without the cache: what every query did before it
      const bare: QuerySource = { ...src, closed: undefined };
      // a cache too small to keep anything, and one that holds a few lists' periods at a time
      const tiny = liveSource(store, rollup, () => rollup.pending, (f) => f(), 1);
      const small = liveSource(store, rollup, () => rollup.pending, (f) => f(), 40_000);
      const cached = telemetryQuery(src, () => clock.now);
      const uncached = telemetryQuery(bare, () => clock.now);
      const starved = telemetryQuery(tiny, () => clock.now);
      const squeezed = telemetryQuery(small, () => clock.now);
      const same = async () => {
        const want = await answers(uncached);
        expect(await answers(cached)).toEqual(want);
        expect(await answers(starved)).toEqual(want);
        expect(await answers(squeezed)).toEqual(want);
        expect(small.cache.stats().bytes).toBeLessThanOrEqual(40_000);
        return want;
      };
      let counter = 0;
      // one step: samples of the last 10s (errors and latencies that change with time), then `checkpoint`
      const feed = (step: number) => {
        const at = clock.now - 2_000;
        for (let k = 0; k < 6; k++) {
          const route = ['/a', '/b', '/c'][k % 3] as string;
          rollup.request('web', route, 5 + ((step * 7 + k * 13) % 400), (step + k) % 9 === 0, at, 1 + (k % 2), clock.now);
        }
        rollup.metric('web', 'queue_depth', {}, 'gauge', (step * 3) % 17, at, clock.now);
        counter += 1 + (step % 4);
        rollup.metric('web', 'jobs_total', {}, 'counter', counter, at, clock.now);
        rollup.event('web', 'signup', 0, 1 + (step % 3), at, clock.now);
      };
      const checkpoint = async () => {
        rollup.advance(clock.now);
        const rows = rollup.pending;
        rollup.pending = [];
        const dirty = rollup.takeDirty();
        const open = dirty.flatMap((s) => rollup.openRows(s));
        await writeCheckpoint(store, rows, dirty, open, clock.now);
      };

      // 14 minutes, 10s steps; compare every 30s from minute 3 on (windows reach minute rows from minute 5)
      let step = 0;
      for (; clock.now < T0 + 14 * MIN; step++) {
        clock.now += 10_000;
        feed(step);
        await checkpoint();
        if (clock.now >= T0 + 3 * MIN && step % 3 === 0) await same();
      }
      expect(src.cache.counters.hits).toBeGreaterThan(1000);
      expect(src.cache.stats().bytes).toBeGreaterThan(0);
      expect(tiny.cache.stats().parts).toBe(0);
      expect(small.cache.stats().evictions).toBeGreaterThan(0);
      expect(small.cache.counters.hits).toBeGreaterThan(0);

      // a new minute closes with nothing but failures: the windows reaching it change, and agree
      const before = await answers(cached);
      for (let i = 0; i < 6; i++) {
        clock.now += 10_000;
        rollup.request('web', '/a', 1000, true, clock.now - 1_000, 50, clock.now);
        await checkpoint();
      }
      const after = await same();
      expect(after).not.toEqual(before);
      const tenMin = (await cached.errorRate('web', 10 * MIN)).samples;
      expect(tenMin).toBeGreaterThanOrEqual(300);

      // a checkpoint that did not write (store down): closed buckets wait in memory; the periods
      // they are in are not final, so nothing of them is kept until they are written
      for (let i = 0; i < 4; i++) {
        clock.now += 10_000;
        feed(step++);
        rollup.advance(clock.now);
        await same();
      }
      expect(rollup.pending.length).toBeGreaterThan(0);
      await checkpoint();
      await same();
      for (let i = 0; i < 8; i++) {
        clock.now += 10_000;
        feed(step++);
        await checkpoint();
        await same();
      }

      // retention deletes rows: what the cache kept of them goes too
      const cutoff = clock.now - 6 * MIN;
      await store.db.deleteFrom('tel_1m').where('t', '<', cutoff).execute();
      for (const s of [src, tiny, small]) s.cache.pruned('1m', cutoff);
      await same();
      expect((await cached.errorRate('web', 3_600_000)).samples).toBe((await uncached.errorRate('web', 3_600_000)).samples);

      // later, time moves on without traffic: the parts windows no longer reach go within two
      // minutes of queries, lists not queried for ten minutes go
      expect(src.cache.stats().oldest).toBeLessThan(T0 + 5 * MIN);
      clock.now += 3 * 3_600_000;
      await checkpoint();
      for (let i = 0; i < 3; i++) {
        await same();
        clock.now += MIN;
      }
      await same();
      // the oldest period any of the windows reaches: the hour of now - 1h
      expect(src.cache.stats().oldest).toBeGreaterThanOrEqual(clock.now - 2 * 3_600_000);
      clock.now += 11 * MIN;
      await cached.errorRate('web', 20_000);
      expect(src.cache.stats().lists).toBe(1);
    }, 120_000);
  });
}
