/**
 * TelemetryQuery: the live one (open buckets in memory, everything closed from the store) and the
 * store-only one `shipshape alerts test` uses.
 *
 * A window [now - w, now] is answered from 10s buckets for its newest ~5 minutes, from minute rows
 * for older parts of the last hour and from hour rows before (window starts are aligned down to the
 * tier used; `start` says where, rates divide by now - start). Minute and hour rows hold every
 * closed 10s bucket (storage.ts merges them in the checkpoint that writes the bucket), so the periods
 * read from them are complete. The live query reads a closed period's rows once: closed periods
 * never change, so it keeps them merged per series list (closed-cache.ts) and reads only what
 * closed since (an evaluation cycle of 1,000 rules over 10k series: ~0.1–0.2 s instead of ~2–4 s).
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { Store } from '../core/store/db.js';
import { TIER_TABLE, type TelemetryTables } from './migrations.js';
import { floorTo, MAX_WINDOW, STEP, type ClosedBucket, type Kind, type OpenBucket, type Rollup, type Row, type Series, type Tier } from './rollup.js';
import { addEncoded, addSparse, newSketch, quantileOf } from './sketch.js';
import { closedOf, defOf, recentSeries } from './storage.js';
import { ClosedCache, PartBuilder, type ListParts, type Part } from './closed-cache.js';
import type { Stat, TelemetryQuery, VitalName } from './types.js';

const NONE: Stat = { value: null, samples: 0 };
const CHUNK = 400;

/** A series a query covers: its store id (once written), its definition, its buckets in memory. */
interface Ref {
  id: number | undefined;
  type: 'gauge' | 'counter' | null;
  /** open (and closed but not yet written) buckets */
  mem: (OpenBucket | ClosedBucket)[];
}

/** A window's aggregate over matching series. */
export interface Agg {
  series: number;
  count: number;
  errors: number;
  sum: number;
  min: number;
  max: number;
  /** gauges: the sum of each series' newest value; counters: not used */
  last: number;
  sketch: DDSketch | null;
  /** the aligned start actually covered */
  start: number;
}

/** Where a query's data is: the series matching a filter, and the store. */
export interface QuerySource {
  store: Store<TelemetryTables>;
  /** the series of a kind matching service / name / a sub filter, with their buckets in memory */
  match(kind: Kind, service: string | undefined, name: string | undefined, sub?: (def: { sub: string; labels: Record<string, string> }) => boolean): Ref[];
  lastSeen(service: string): number | undefined;
  /** runs a query's reads (the live source holds checkpoints off meanwhile: memory and store agree) */
  read<T>(f: () => Promise<T>): Promise<T>;
  /** no bucket in memory is also a stored row */
  disjoint: boolean;
  /** the closed periods kept from earlier queries, and where the final ones end now (disjoint sources; undefined: read everything) */
  closed?: () => Closed | undefined;
}

function isOpen(b: OpenBucket | ClosedBucket): b is OpenBucket {
  return 'bins' in b;
}

/** The live source's kept closed periods, and where the closed and written periods end now. */
export interface Closed {
  cache: ClosedCache;
  /**
   * No sample goes into a bucket before this (the rollup's `openFrom`); every bucket before it that
   * is not in memory is written and never written again, and no 10s row at or after it is stored
   * (closed buckets are written oldest first, open ones never: `disjoint`). A query lowers it to the
   * oldest bucket its series hold in memory (open, or closed and not written yet): the periods
   * ending by then are final.
   */
  final: number;
}

/**
 * Aggregate the window [now - windowMs, now] over series (windows past 26h are clamped).
 * `disjoint`: no bucket in memory is also a stored row (the live source), so counts and sums can be
 * added up by the store itself when neither quantiles nor gauges' newest values are asked for.
 * `closed` (disjoint sources only): the closed periods of the window are taken from the cache, and
 * the ones it does not hold yet are read from the store once and kept there (closed-cache.ts).
 */
export async function aggregate(store: Store<TelemetryTables>, list: Ref[], windowMs: number, now: number, withSketch: boolean, disjoint = false, closed?: Closed): Promise<Agg> {
  const ws = now - Math.min(Math.max(windowMs, 1), MAX_WINDOW);
  const b1 = floorTo(now, STEP['1m']) - 5 * STEP['1m'];
  const b2 = floorTo(b1, STEP['1h']);
  const tensFrom = ws >= b1 ? floorTo(ws, STEP['10s']) : b1;
  const minFrom = ws >= b1 ? Infinity : ws >= b2 ? floorTo(ws, STEP['1m']) : b2;
  const hourFrom = ws >= b2 ? Infinity : floorTo(ws, STEP['1h']);
  const agg: Agg = { series: list.length, count: 0, errors: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, sketch: withSketch ? newSketch() : null, start: Math.min(tensFrom, minFrom, hourFrom) };
  const newest = new Map<Ref, { t: number; last: number }>();
  const newer = (ref: Ref, t: number, last: number) => {
    const n = newest.get(ref);
    if (!n || t >= n.t) newest.set(ref, { t, last });
  };
  const take = (ref: Ref, b: OpenBucket | ClosedBucket) => {
    if (b.count === 0) return;
    agg.count += b.count;
    agg.errors += b.errors;
    agg.sum += b.sum;
    if (b.min < agg.min) agg.min = b.min;
    if (b.max > agg.max) agg.max = b.max;
    if (!Number.isNaN(b.last)) newer(ref, b.t, b.last);
    if (agg.sketch) {
      if (isOpen(b)) {
        if (b.bins !== null) addSparse(agg.sketch, b.bins, b.zero);
      } else if (b.enc) addEncoded(agg.sketch, b.enc);
    }
  };
  // memory first; a stored 10s row of a bucket memory holds is not counted twice
  const inMemory = new Set<string>();
  const byId = new Map<number, Ref>();
  let final = closed?.final ?? -Infinity;
  for (const ref of list) {
    for (const b of ref.mem) {
      if (b.t < final) final = b.t;
      if (b.t < tensFrom) continue;
      take(ref, b);
      if (ref.id !== undefined && !disjoint) inMemory.add(`${ref.id}:${b.t}`);
    }
    if (ref.id !== undefined) byId.set(ref.id, ref);
  }
  const ids = [...byId.keys()];
  const plan: [Tier, number, number][] = [['10s', tensFrom, Infinity]];
  if (minFrom !== Infinity) plan.push(['1m', minFrom, b1]);
  if (hourFrom !== Infinity) plan.push(['1h', hourFrom, b2]);
  const sums = disjoint && !withSketch && list.every((r) => r.type !== 'gauge');

  // stored rows of [from, to) in a tier, read each time
  const readRange = async (tier: Tier, from: number, to: number) => {
    for (let i = 0; i < ids.length && sums; i += CHUNK) {
      let q = store.db
        .selectFrom(TIER_TABLE[tier])
        .select((eb) => [eb.fn.sum<number>('count').as('count'), eb.fn.sum<number>('errors').as('errors'), eb.fn.sum<number>('sum').as('sum'), eb.fn.min<number>('min').as('min'), eb.fn.max<number>('max').as('max')])
        .where('series_id', 'in', ids.slice(i, i + CHUNK))
        .where('t', '>=', from);
      if (to !== Infinity) q = q.where('t', '<', to);
      const r = await q.executeTakeFirst();
      if (!r || r.count === null || Number(r.count) === 0) continue;
      agg.count += Number(r.count);
      agg.errors += Number(r.errors ?? 0);
      agg.sum += Number(r.sum ?? 0);
      if (r.min !== null && Number(r.min) < agg.min) agg.min = Number(r.min);
      if (r.max !== null && Number(r.max) > agg.max) agg.max = Number(r.max);
    }
    for (let i = 0; i < ids.length && !sums; i += CHUNK) {
      let q = store.db
        .selectFrom(TIER_TABLE[tier])
        .select(['series_id', 't', 'count', 'errors', 'sum', 'min', 'max', 'last'])
        .where('series_id', 'in', ids.slice(i, i + CHUNK))
        .where('t', '>=', from);
      if (to !== Infinity) q = q.where('t', '<', to);
      const rows = withSketch ? await q.select('sketch').execute() : (await q.execute()).map((r) => ({ ...r, sketch: null }));
      for (const r of rows) {
        if (tier === '10s' && inMemory.has(`${r.series_id}:${r.t}`)) continue;
        const ref = byId.get(Number(r.series_id));
        if (ref) take(ref, closedOf(r));
      }
    }
  };

  const kept = closed && disjoint && ids.length > 0 ? closed.cache.list(ids, list.some((r) => r.id !== undefined && r.type === 'gauge'), now) : null;
  if (kept && withSketch) kept.sketch = true;
  for (const [tier, from, to] of plan) {
    const step = STEP[tier];
    // the closed and written periods of the range come from the cache (missing ones are read once)
    const end = kept && floorTo(from, step) === from ? Math.min(to, floorTo(final, step)) : from;
    if (kept && closed && end > from) {
      kept.reached(tier, from);
      const parts: (Part | null)[] = [];
      const missing: number[] = [];
      for (let t = from; t < end; t += step) {
        const p = closed.cache.get(kept, tier, t, withSketch);
        parts.push(p);
        if (!p) missing.push(t);
      }
      if (missing.length > 0) {
        for (const [t, p] of await readParts(store, kept, tier, missing, withSketch || kept.sketch)) {
          closed.cache.put(kept, tier, t, p);
          parts[(t - from) / step] = p;
        }
      }
      // oldest first, whether kept or just read: the same sums in the same order every time
      for (let k = 0; k < parts.length; k++) {
        const p = parts[k];
        if (!p || p.count === 0) continue;
        const t = from + k * step;
        agg.count += p.count;
        agg.errors += p.errors;
        agg.sum += p.sum;
        if (p.min < agg.min) agg.min = p.min;
        if (p.max > agg.max) agg.max = p.max;
        if (p.lasts)
          for (let i = 0; i < p.lasts.length; i++) {
            const v = p.lasts[i] as number;
            const ref = Number.isNaN(v) ? undefined : byId.get(kept.ids[i] as number);
            if (ref) newer(ref, t, v);
          }
        if (agg.sketch && p.enc) addEncoded(agg.sketch, p.enc);
      }
    }
    // what is not final yet (or not cached at all) is read as it is now; with the cache, no 10s row
    // at or after `final` is stored (the open buckets are in memory, the unwritten closed ones too)
    const stop = kept && tier === '10s' ? Math.min(to, final) : to;
    if (Math.max(from, end) < stop) await readRange(tier, Math.max(from, end), stop);
  }
  for (const n of newest.values()) agg.last += n.last;
  return agg;
}

/** The stored rows of some periods of a tier over a list's series, merged per period. */
async function readParts(store: Store<TelemetryTables>, l: ListParts, tier: Tier, periods: number[], withSketch: boolean): Promise<[number, Part][]> {
  const builders = new Map<number, PartBuilder>();
  for (const t of periods) builders.set(t, new PartBuilder(l.ids.length, l.gauges, withSketch));
  const at = new Map<number, number>();
  l.ids.forEach((id, i) => at.set(id, i));
  const from = periods[0] as number;
  const to = (periods[periods.length - 1] as number) + STEP[tier];
  for (let i = 0; i < l.ids.length; i += CHUNK) {
    const q = store.db
      .selectFrom(TIER_TABLE[tier])
      .select(['series_id', 't', 'count', 'errors', 'sum', 'min', 'max', 'last'])
      .where('series_id', 'in', l.ids.slice(i, i + CHUNK))
      .where('t', '>=', from)
      .where('t', '<', to);
    const rows = withSketch ? await q.select('sketch').execute() : (await q.execute()).map((r) => ({ ...r, sketch: null }));
    for (const r of rows) {
      const b = builders.get(Number(r.t));
      const pos = at.get(Number(r.series_id));
      if (b && pos !== undefined) b.add(pos, closedOf(r));
    }
  }
  return [...builders].map(([t, b]) => [t, b.done()]);
}

/**
 * Requests and failed requests of a service in [from, to): open buckets from memory, closed ones
 * from the stored minute rows (every closed 10s bucket is added into its minute row), so a window
 * is counted to the minute and reaches back as far as minute rows are kept. Null when the service
 * sent no request telemetry.
 */
export async function requestTotals(src: QuerySource, service: string, from: number, to: number): Promise<{ requests: number; failed: number } | null> {
  return src.read(async () => {
    const list = src.match('requests', service, undefined);
    if (list.length === 0) return null;
    let requests = 0;
    let failed = 0;
    const start = floorTo(from, STEP['1m']);
    for (const ref of list) {
      for (const b of ref.mem) {
        if (b.t < start || b.t >= to) continue;
        requests += b.count;
        failed += b.errors;
      }
    }
    const ids = list.map((r) => r.id).filter((id): id is number => id !== undefined);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const r = await src.store.db
        .selectFrom(TIER_TABLE['1m'])
        .select((eb) => [eb.fn.sum<number>('count').as('count'), eb.fn.sum<number>('errors').as('errors')])
        .where('series_id', 'in', ids.slice(i, i + CHUNK))
        .where('t', '>=', start)
        .where('t', '<', to)
        .executeTakeFirst();
      requests += Number(r?.count ?? 0);
      failed += Number(r?.errors ?? 0);
    }
    return { requests, failed };
  });
}

/** The queries alert rules make, over a source. */
export function telemetryQuery(src: QuerySource, now: () => number): TelemetryQuery {
  const rate = (count: number, start: number, t: number) => count / Math.max(1, (t - start) / 1000);
  const agg = (list: Ref[], windowMs: number, t: number, withSketch: boolean) => aggregate(src.store, list, windowMs, t, withSketch, src.disjoint, src.closed?.());
  const q = (a: Agg, p: number) => (a.sketch ? quantileOf(a.sketch, p) : null);
  return {
    requestRate: (service, windowMs, route) =>
      src.read(async () => {
        const list = src.match('requests', service, route);
        if (list.length === 0) return NONE;
        const t = now();
        const a = await agg(list, windowMs, t, false);
        return { value: rate(a.count, a.start, t), samples: a.count };
      }),
    errorRate: (service, windowMs, route) =>
      src.read(async () => {
        const list = src.match('requests', service, route);
        if (list.length === 0) return NONE;
        const a = await agg(list, windowMs, now(), false);
        return { value: a.count > 0 ? a.errors / a.count : null, samples: a.count };
      }),
    latency: (service, p, windowMs, route) =>
      src.read(async () => {
        const list = src.match('requests', service, route);
        if (list.length === 0) return NONE;
        const a = await agg(list, windowMs, now(), true);
        return { value: q(a, p), samples: a.count };
      }),
    vital: (service, name: VitalName, p, windowMs, page) =>
      src.read(async () => {
        const list = src.match('vitals', service, name, page === undefined ? undefined : (s) => s.sub === page);
        if (list.length === 0) return NONE;
        const a = await agg(list, windowMs, now(), true);
        return { value: q(a, p), samples: a.count };
      }),
    eventRate: (name, windowMs, service) =>
      src.read(async () => {
        const list = src.match('events', service, name);
        if (list.length === 0) return NONE;
        const t = now();
        const a = await agg(list, windowMs, t, false);
        return { value: rate(a.count, a.start, t), samples: a.count };
      }),
    metric: (name, labels, windowMs, service) =>
      src.read(async () => {
        const want = Object.entries(labels);
        const list = src.match('metrics', service, name, want.length === 0 ? undefined : (s) => want.every(([k, v]) => s.labels[k] === v));
        if (list.length === 0) return NONE;
        const t = now();
        const counters = list.filter((s) => s.type === 'counter');
        const gauges = list.filter((s) => s.type !== 'counter');
        let value: number | null = null;
        let samples = 0;
        if (gauges.length > 0) {
          const a = await agg(gauges, windowMs, t, false);
          samples += a.count;
          if (a.count > 0) value = a.last;
        }
        if (counters.length > 0) {
          const a = await agg(counters, windowMs, t, false);
          samples += a.count;
          if (a.count > 0) value = (value ?? 0) + rate(a.sum, a.start, t);
        }
        return { value, samples };
      }),
    lastSeen: (service) => src.lastSeen(service),
  };
}

/** Closed buckets waiting for the store, by series (what a checkpoint has not committed yet). */
export type Unwritten = () => Iterable<Row>;

/** What the live source keeps of closed periods at most (estimated heap; closed-cache.ts). */
export const CLOSED_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * The live source: series and open buckets from the rollup, closed buckets from the store (periods
 * that are closed and written kept in `cache` once read; retention must tell it what it deletes).
 */
export function liveSource(store: Store<TelemetryTables>, rollup: Rollup, unwritten: Unwritten, read: <T>(f: () => Promise<T>) => Promise<T>, cacheBytes = CLOSED_CACHE_BYTES): QuerySource & { cache: ClosedCache } {
  const cache = new ClosedCache(cacheBytes);
  return {
    store,
    read,
    cache,
    // open buckets are never stored (a stop writes them to tel_open only), closed ones not written yet are not either
    disjoint: true,
    // buckets before openFrom are closed (those of a failed checkpoint are in `mem` until written);
    // nothing is cached before the first advance (a restart: the store's rows are not known yet)
    closed: () => (rollup.openFrom > 0 ? { cache, final: rollup.openFrom } : undefined),
    lastSeen: (service) => rollup.lastSeen(service),
    match(kind, service, name, sub) {
      const list = rollup.match(kind, service, name, sub);
      if (list.length === 0) return [];
      const refs = new Map<Series, Ref>();
      for (const s of list) refs.set(s, { id: s.id, type: s.type, mem: [...s.open10] });
      for (const r of unwritten()) refs.get(r.series)?.mem.push(r);
      return [...refs.values()];
    },
  };
}

/**
 * A TelemetryQuery over what the store holds, as of `now`: for `shipshape alerts test`, which has
 * no running server. The series of the last 27 hours and the open buckets of the last checkpoint
 * or stop are read once; windows are read from the store as the rules ask.
 */
export async function storedTelemetryQuery(store: Store<TelemetryTables>, now: number = Date.now()): Promise<TelemetryQuery> {
  const series = await recentSeries(store, now);
  const open = await store.db
    .selectFrom('tel_open')
    .select(['series_id', 't', 'count', 'errors', 'sum', 'min', 'max', 'last', 'sketch'])
    .where('tier', '=', '10s')
    .execute();
  const openById = new Map<number, ClosedBucket[]>();
  for (const r of open) {
    const id = Number(r.series_id);
    let l = openById.get(id);
    if (!l) openById.set(id, (l = []));
    l.push(closedOf(r));
  }
  const lastSeen = new Map<string, number>();
  const entries = series.map((s) => {
    let lastAt = s.lastAt;
    for (const b of openById.get(s.id) ?? []) if (b.count > 0 && b.t > lastAt) lastAt = b.t;
    if (lastAt > (lastSeen.get(s.def.service) ?? 0)) lastSeen.set(s.def.service, lastAt);
    return { def: s.def, id: s.id };
  });
  // series known only from the open buckets (nothing closed yet)
  const known = new Set(series.map((s) => s.id));
  const extra = [...openById.keys()].filter((id) => !known.has(id));
  for (let i = 0; i < extra.length; i += CHUNK) {
    const rows = await store.db.selectFrom('tel_series').selectAll().where('id', 'in', extra.slice(i, i + CHUNK)).execute();
    for (const r of rows) {
      const def = defOf(r);
      entries.push({ def, id: Number(r.id) });
      for (const b of openById.get(Number(r.id)) ?? []) if (b.count > 0 && b.t > (lastSeen.get(def.service) ?? 0)) lastSeen.set(def.service, b.t);
    }
  }
  const src: QuerySource = {
    store,
    read: (f) => f(),
    // stores of earlier releases may hold a partial row of a bucket tel_open holds
    disjoint: false,
    lastSeen: (service) => lastSeen.get(service),
    match(kind, service, name, sub) {
      return entries.filter((e) => e.def.kind === kind && (service === undefined || e.def.service === service) && (name === undefined || e.def.name === name) && (!sub || sub(e.def))).map((e) => ({ id: e.id, type: e.def.type, mem: openById.get(e.id) ?? [] }));
    },
  };
  return telemetryQuery(src, () => now);
}
