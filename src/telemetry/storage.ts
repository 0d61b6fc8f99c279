/**
 * The rollups in the store: series ids, the checkpoint's writes (closed 10s buckets, merged into
 * their minute and hour rows in the same transaction; the open buckets; the write-ahead log rows
 * it covers), retention, the open buckets of a graceful stop, and reading rows back (restarts,
 * charts and queries, query.ts).
 */
import type { Kysely } from 'kysely';
import type { Store } from '../core/store/db.js';
import type { TelemetryTables } from './migrations.js';
import { TIER_TABLE, type TelBucketTable } from './migrations.js';
import { floorTo, IDLE, seriesKey, STEP, TIERS, type ClosedBucket, type Kind, type Rollup, type Row, type Series, type SeriesDef, type Tier } from './rollup.js';
import { decodeBins, mergeEncoded } from './sketch.js';

const CHUNK = 400;
const fin = (v: number): number | null => (Number.isFinite(v) ? v : null);

export interface Retention {
  ten_seconds: number;
  minute: number;
  hour: number;
}

export function defOf(r: { kind: string; service: string; name: string; labels: string; type: string | null }): SeriesDef {
  let labels: Record<string, string> = {};
  try {
    labels = JSON.parse(r.labels) as Record<string, string>;
  } catch {
    /* a broken labels column loses the labels only */
  }
  const kind = r.kind as Kind;
  const sub = kind === 'vitals' ? (labels.page ?? '') : kind === 'metrics' ? r.labels : '';
  return { kind, service: r.service, name: r.name, sub, labels, type: r.type === 'counter' || r.type === 'gauge' ? r.type : null };
}

function labelsText(def: SeriesDef): string {
  if (def.kind === 'metrics') return def.sub;
  if (def.kind === 'vitals') return JSON.stringify({ page: def.sub });
  return '{}';
}

export function closedOf(r: TelBucketTable): ClosedBucket {
  let enc: Uint8Array | null = null;
  if (r.sketch) {
    try {
      enc = new Uint8Array(r.sketch);
      decodeBins(enc);
    } catch {
      enc = null; // an unreadable sketch loses only its quantiles
    }
  }
  return { t: Number(r.t), count: Number(r.count), errors: Number(r.errors), sum: Number(r.sum), min: r.min ?? Infinity, max: r.max ?? -Infinity, last: r.last ?? NaN, enc };
}

function rowOf(r: Row): TelBucketTable {
  return { series_id: r.series.id as number, t: r.t, count: r.count, errors: r.errors, sum: r.sum, min: fin(r.min), max: fin(r.max), last: fin(r.last), sketch: r.enc };
}

/** Give every series of the rows a store id (insert or look up, in batches). */
async function ensureIds(db: Kysely<TelemetryTables>, rows: Row[], now: number): Promise<void> {
  const missing = new Map<string, Series>();
  for (const r of rows) if (r.series.id === undefined) missing.set(seriesKey(r.series.def), r.series);
  const list = [...missing.values()];
  for (let i = 0; i < list.length; i += CHUNK) {
    const part = list.slice(i, i + CHUNK);
    const back = await db
      .insertInto('tel_series')
      .values(part.map((s) => ({ kind: s.def.kind, service: s.def.service, name: s.def.name, labels: labelsText(s.def), type: s.def.type, created_at: now })))
      .onConflict((oc) => oc.columns(['kind', 'service', 'name', 'labels']).doUpdateSet((eb) => ({ kind: eb.ref('excluded.kind') })))
      .returning(['id', 'kind', 'service', 'name', 'labels', 'type'])
      .execute();
    for (const b of back) {
      const s = missing.get(seriesKey(defOf(b)));
      if (s) s.id = Number(b.id);
    }
  }
}

async function upsert(db: Kysely<TelemetryTables>, tier: Tier, rows: TelBucketTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insertInto(TIER_TABLE[tier])
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc.columns(['series_id', 't']).doUpdateSet((eb) => ({
          count: eb.ref('excluded.count'),
          errors: eb.ref('excluded.errors'),
          sum: eb.ref('excluded.sum'),
          min: eb.ref('excluded.min'),
          max: eb.ref('excluded.max'),
          last: eb.ref('excluded.last'),
          sketch: eb.ref('excluded.sketch'),
        })),
      )
      .execute();
  }
}

async function upsertClosed(db: Kysely<TelemetryTables>, rows: Row[]): Promise<void> {
  for (const tier of TIERS) {
    const part = rows.filter((r) => r.tier === tier && r.series.id !== undefined).map(rowOf);
    // the same bucket twice in one batch (a restored partial, then its close): the last wins
    const byKey = new Map<string, TelBucketTable>();
    for (const r of part) byKey.set(`${r.series_id}:${r.t}`, r);
    await upsert(db, tier, [...byKey.values()]);
  }
}

/** Write rows (closed buckets of any tier, as they are) in one transaction. */
export async function writeRows(store: Store<TelemetryTables>, rows: Row[], now: number): Promise<void> {
  if (rows.length === 0) return;
  await store.db.transaction().execute(async (trx) => {
    await ensureIds(trx, rows, now);
    await upsertClosed(trx, rows);
  });
}

/** `b` (newer) added to `a`: counts and sums add, the newer `last` wins, sketches merge. */
export function mergeClosed(a: ClosedBucket, b: ClosedBucket): ClosedBucket {
  return {
    t: a.t,
    count: a.count + b.count,
    errors: a.errors + b.errors,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    last: Number.isNaN(b.last) ? a.last : b.last,
    enc: mergeEncoded(a.enc, b.enc),
  };
}

/**
 * Merge closed 10s rows into their series' minute and hour rows (read, add, write back): the upper
 * tiers always hold exactly the closed 10s buckets written, so no open minute or hour is kept in
 * memory and queries can read any closed period from the store.
 */
async function mergeUp(db: Kysely<TelemetryTables>, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  for (const tier of ['1m', '1h'] as const) {
    const step = STEP[tier];
    // the rows' sum per (series, period), oldest first (rows come in the order they closed)
    const deltas = new Map<number, Map<number, ClosedBucket>>();
    for (const r of rows) {
      if (r.series.id === undefined || r.tier !== '10s') continue;
      const t = floorTo(r.t, step);
      let byId = deltas.get(t);
      if (!byId) deltas.set(t, (byId = new Map()));
      const d = byId.get(r.series.id);
      const c: ClosedBucket = { t, count: r.count, errors: r.errors, sum: r.sum, min: r.min, max: r.max, last: r.last, enc: r.enc };
      byId.set(r.series.id, d ? mergeClosed(d, c) : c);
    }
    const out: TelBucketTable[] = [];
    for (const [t, byId] of deltas) {
      const ids = [...byId.keys()];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const have = await db
          .selectFrom(TIER_TABLE[tier])
          .select(['series_id', 't', 'count', 'errors', 'sum', 'min', 'max', 'last', 'sketch'])
          .where('t', '=', t)
          .where('series_id', 'in', ids.slice(i, i + CHUNK))
          .execute();
        for (const h of have) {
          const id = Number(h.series_id);
          const d = byId.get(id);
          if (d) byId.set(id, mergeClosed(closedOf(h), d));
        }
      }
      for (const [id, c] of byId) out.push({ series_id: id, t, count: c.count, errors: c.errors, sum: c.sum, min: fin(c.min), max: fin(c.max), last: fin(c.last), sketch: c.enc });
    }
    await upsert(db, tier, out);
  }
}

/**
 * A checkpoint, in one transaction: the closed 10s rows (merged into their minute and hour rows),
 * the open buckets of the series that changed (`dirty`) replacing what `tel_open` held for them,
 * and the deletion of the write-ahead log rows the snapshot covers (ids up to `walUpTo`). After a
 * crash, `loadOpen` restores exactly the state of the last checkpoint, consistent with the closed
 * rows it wrote, and the log holds what came after.
 */
export async function writeCheckpoint(store: Store<TelemetryTables>, closed: Row[], dirty: Series[], open: Row[], now: number, walUpTo?: number): Promise<void> {
  if (walUpTo === undefined && closed.length === 0 && open.length === 0 && dirty.every((s) => s.id === undefined)) return;
  await store.db.transaction().execute(async (trx) => {
    if (walUpTo !== undefined) await trx.deleteFrom('tel_wal').where('id', '<=', walUpTo).execute();
    await ensureIds(trx, closed.length === 0 ? open : open.length === 0 ? closed : [...closed, ...open], now);
    await upsertClosed(trx, closed);
    await mergeUp(trx, closed);
    const ids = dirty.filter((s) => s.id !== undefined).map((s) => s.id as number);
    for (let i = 0; i < ids.length; i += CHUNK) await trx.deleteFrom('tel_open').where('series_id', 'in', ids.slice(i, i + CHUNK)).execute();
    const raw = open.filter((r) => r.series.id !== undefined).map((r) => ({ ...rowOf(r), tier: r.tier }));
    for (let i = 0; i < raw.length; i += CHUNK) await trx.insertInto('tel_open').values(raw.slice(i, i + CHUNK)).execute();
  });
}

/**
 * At a graceful stop: the open buckets to restore, and the deletion of the write-ahead log rows the
 * snapshot covers (ids up to `walUpTo`). They stay out of the tier tables (a bucket is written there
 * once, when it closes); stored queries read them from `tel_open`.
 */
export async function writeOpen(store: Store<TelemetryTables>, raw: Row[], now: number, walUpTo?: number): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    if (walUpTo !== undefined) await trx.deleteFrom('tel_wal').where('id', '<=', walUpTo).execute();
    await ensureIds(trx, raw, now);
    await trx.deleteFrom('tel_open').execute();
    const rows = raw.map((r) => ({ ...rowOf(r), tier: r.tier }));
    for (let i = 0; i < rows.length; i += CHUNK) await trx.insertInto('tel_open').values(rows.slice(i, i + CHUNK)).execute();
  });
}

export async function prune(store: Store<TelemetryTables>, retention: Retention, now: number): Promise<void> {
  await store.db.deleteFrom('tel_10s').where('t', '<', now - retention.ten_seconds).execute();
  await store.db.deleteFrom('tel_1m').where('t', '<', now - retention.minute).execute();
  await store.db.deleteFrom('tel_1h').where('t', '<', now - retention.hour).execute();
}

/** Rows of one tier in [from, to] with their series, oldest first. */
export async function readRows(store: Store<TelemetryTables>, tier: Tier, from: number, to: number, filter?: { service?: string; kinds?: Kind[] }) {
  let q = store.db
    .selectFrom(`${TIER_TABLE[tier]} as b`)
    .innerJoin('tel_series as s', 's.id', 'b.series_id')
    .select(['s.id as id', 's.kind as kind', 's.service as service', 's.name as name', 's.labels as labels', 's.type as type', 'b.series_id as series_id', 'b.t as t', 'b.count as count', 'b.errors as errors', 'b.sum as sum', 'b.min as min', 'b.max as max', 'b.last as last', 'b.sketch as sketch'])
    .where('b.t', '>=', from)
    .where('b.t', '<=', to);
  if (filter?.service !== undefined) q = q.where('s.service', '=', filter.service);
  if (filter?.kinds) q = q.where('s.kind', 'in', filter.kinds);
  return q.orderBy('b.t').execute();
}

/**
 * The series that sent something in the last 27 hours (`IDLE`), with when they last did and a
 * counter's last value: each tier's newest row per series (10s rows for the last 10 minutes,
 * minutes for the last 2 hours, hours beyond), the finest one known winning.
 */
export async function recentSeries(store: Store<TelemetryTables>, now: number): Promise<{ def: SeriesDef; id: number; lastAt: number; last: number; lastT: number }[]> {
  const spans: [Tier, number][] = [
    ['1h', IDLE],
    ['1m', 2 * 3_600_000],
    ['10s', 10 * 60_000],
  ];
  const byId = new Map<number, { def: SeriesDef; id: number; lastAt: number; last: number; lastT: number }>();
  for (const [tier, span] of spans) {
    const table = TIER_TABLE[tier];
    const newest = store.db
      .selectFrom(table)
      .select(['series_id'])
      .select((eb) => eb.fn.max('t').as('mt'))
      .where('t', '>=', now - span)
      .groupBy('series_id')
      .as('m');
    const rows = await store.db
      .selectFrom(newest)
      .innerJoin(`${table} as b`, (j) => j.onRef('b.series_id', '=', 'm.series_id').onRef('b.t', '=', 'm.mt'))
      .innerJoin('tel_series as s', 's.id', 'b.series_id')
      .select(['s.id as id', 's.kind as kind', 's.service as service', 's.name as name', 's.labels as labels', 's.type as type', 'b.t as t', 'b.last as last'])
      .execute();
    for (const r of rows) {
      const id = Number(r.id);
      const t = Number(r.t);
      // the finest tier read last: its newest row dates the last sample most closely
      byId.set(id, { def: defOf(r), id, lastAt: t + STEP[tier] - 1, last: r.last ?? NaN, lastT: t });
    }
  }
  return [...byId.values()];
}

/** Restore the series of the last 27 hours (their identity, so the series limits go on counting them). */
export async function loadSeries(store: Store<TelemetryTables>, rollup: Rollup, now: number): Promise<number> {
  const list = await recentSeries(store, now);
  for (const r of list) rollup.restoreSeries(r.def, r.id, r.lastAt, r.last, r.lastT);
  return list.length;
}

/**
 * Restore the buckets that were open at the last stop or checkpoint. The rows stay: the restored
 * series are dirty, so the next checkpoint replaces them (a crash before it loses nothing).
 * Stores of earlier releases also hold the open minute and hour of each series there (merges of
 * its closed 10s buckets) and partial rows of the open buckets in the tier tables: the open minute
 * and hour become the minute and hour rows, the partial 10s rows go (the restored bucket is written
 * when it closes).
 */
export async function loadOpen(store: Store<TelemetryTables>, rollup: Rollup): Promise<number> {
  const rows = await store.db
    .selectFrom('tel_open as o')
    .innerJoin('tel_series as s', 's.id', 'o.series_id')
    .select(['s.id as id', 's.kind as kind', 's.service as service', 's.name as name', 's.labels as labels', 's.type as type', 'o.tier as tier', 'o.series_id as series_id', 'o.t as t', 'o.count as count', 'o.errors as errors', 'o.sum as sum', 'o.min as min', 'o.max as max', 'o.last as last', 'o.sketch as sketch'])
    .orderBy('o.t')
    .execute();
  const upper: Record<'1m' | '1h', TelBucketTable[]> = { '1m': [], '1h': [] };
  const partial: { series_id: number; t: number }[] = [];
  for (const r of rows) {
    if (r.tier === '10s') {
      rollup.restoreOpen(defOf(r), closedOf(r), Number(r.id));
      partial.push({ series_id: Number(r.series_id), t: Number(r.t) });
    } else if (r.tier === '1m' || r.tier === '1h') upper[r.tier].push({ series_id: Number(r.series_id), t: Number(r.t), count: r.count, errors: r.errors, sum: r.sum, min: r.min, max: r.max, last: r.last, sketch: r.sketch });
  }
  if (upper['1m'].length > 0 || upper['1h'].length > 0 || partial.length > 0) {
    const byT = new Map<number, number[]>();
    for (const p of partial) {
      let ids = byT.get(p.t);
      if (!ids) byT.set(p.t, (ids = []));
      ids.push(p.series_id);
    }
    await store.db.transaction().execute(async (trx) => {
      for (const tier of ['1m', '1h'] as const) await upsert(trx, tier, upper[tier]);
      for (const [t, ids] of byT) for (let i = 0; i < ids.length; i += CHUNK) await trx.deleteFrom('tel_10s').where('t', '=', t).where('series_id', 'in', ids.slice(i, i + CHUNK)).execute();
      await trx.deleteFrom('tel_open').where('tier', '!=', '10s').execute();
    });
  }
  return rows.length;
}
