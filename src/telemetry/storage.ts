/**
 * The rollups in the store: series ids, batched writes of closed buckets (one transaction per
 * flush), retention, the open buckets of a graceful stop, and reading rows back (restarts, charts,
 * `storedTelemetryQuery` for `shipshape alerts test`).
 */
import type { Kysely } from 'kysely';
import type { Store } from '../core/store/db.js';
import type { TelemetryTables } from './migrations.js';
import { TIER_TABLE, type TelBucketTable } from './migrations.js';
import { KEEP, Rollup, seriesKey, STEP, TIERS, type ClosedBucket, type Kind, type Row, type Series, type SeriesDef, type Tier } from './rollup.js';
import { decodeBins } from './sketch.js';
import { rollupQuery } from './query.js';
import type { TelemetryQuery } from './types.js';

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

/** Write rows (closed buckets) in one transaction. */
export async function writeRows(store: Store<TelemetryTables>, rows: Row[], now: number): Promise<void> {
  if (rows.length === 0) return;
  await store.db.transaction().execute(async (trx) => {
    await ensureIds(trx, rows, now);
    await upsertClosed(trx, rows);
  });
}

/**
 * A checkpoint, in one transaction: the closed rows, the open buckets of the series that changed
 * (`dirty`) replacing what `tel_open` held for them, and the deletion of the write-ahead log rows
 * the snapshot covers (ids up to `walUpTo`). After a crash, `loadOpen` restores exactly the state of
 * the last checkpoint, consistent with the closed rows it wrote, and the log holds what came after.
 */
export async function writeCheckpoint(store: Store<TelemetryTables>, closed: Row[], dirty: { ten: Series[]; upper: Series[] }, open: Row[], now: number, walUpTo?: number): Promise<void> {
  if (walUpTo === undefined && closed.length === 0 && open.length === 0 && dirty.ten.every((s) => s.id === undefined) && dirty.upper.every((s) => s.id === undefined)) return;
  await store.db.transaction().execute(async (trx) => {
    if (walUpTo !== undefined) await trx.deleteFrom('tel_wal').where('id', '<=', walUpTo).execute();
    await ensureIds(trx, closed.length === 0 ? open : open.length === 0 ? closed : [...closed, ...open], now);
    await upsertClosed(trx, closed);
    const idsOf = (list: Series[]) => list.filter((s) => s.id !== undefined).map((s) => s.id as number);
    const ten = idsOf(dirty.ten);
    const upper = idsOf(dirty.upper);
    for (let i = 0; i < ten.length; i += CHUNK) await trx.deleteFrom('tel_open').where('tier', '=', '10s').where('series_id', 'in', ten.slice(i, i + CHUNK)).execute();
    for (let i = 0; i < upper.length; i += CHUNK) await trx.deleteFrom('tel_open').where('tier', 'in', ['1m', '1h']).where('series_id', 'in', upper.slice(i, i + CHUNK)).execute();
    const raw = open.filter((r) => r.series.id !== undefined).map((r) => ({ ...rowOf(r), tier: r.tier }));
    for (let i = 0; i < raw.length; i += CHUNK) await trx.insertInto('tel_open').values(raw.slice(i, i + CHUNK)).execute();
  });
}

/**
 * At a graceful stop: partial rows into the tier tables, and the raw open buckets to restore (and
 * the write-ahead log rows the snapshot covers, ids up to `walUpTo`).
 */
export async function writeOpen(store: Store<TelemetryTables>, snap: { raw: Row[]; partial: Row[] }, now: number, walUpTo?: number): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    if (walUpTo !== undefined) await trx.deleteFrom('tel_wal').where('id', '<=', walUpTo).execute();
    await ensureIds(trx, [...snap.raw, ...snap.partial], now);
    for (const tier of TIERS) await upsert(trx, tier, snap.partial.filter((r) => r.tier === tier).map(rowOf));
    await trx.deleteFrom('tel_open').execute();
    const raw = snap.raw.map((r) => ({ ...rowOf(r), tier: r.tier }));
    for (let i = 0; i < raw.length; i += CHUNK) await trx.insertInto('tel_open').values(raw.slice(i, i + CHUNK)).execute();
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

/** Fill a rollup's in-memory rings with what the store holds for the query horizon. */
export async function loadRecent(store: Store<TelemetryTables>, rollup: Rollup, now: number): Promise<void> {
  for (const tier of TIERS) {
    const from = Math.floor((now - KEEP[tier]) / STEP[tier]) * STEP[tier];
    const rows = await readRows(store, tier, from, now);
    for (const r of rows) rollup.load(defOf(r), tier, closedOf(r), Number(r.id));
  }
}

/**
 * Restore the buckets that were open at the last stop or checkpoint. The rows stay: the restored
 * series are dirty, so the next checkpoint replaces them (a crash before it loses nothing).
 */
export async function loadOpen(store: Store<TelemetryTables>, rollup: Rollup): Promise<number> {
  const rows = await store.db
    .selectFrom('tel_open as o')
    .innerJoin('tel_series as s', 's.id', 'o.series_id')
    .select(['s.id as id', 's.kind as kind', 's.service as service', 's.name as name', 's.labels as labels', 's.type as type', 'o.tier as tier', 'o.series_id as series_id', 'o.t as t', 'o.count as count', 'o.errors as errors', 'o.sum as sum', 'o.min as min', 'o.max as max', 'o.last as last', 'o.sketch as sketch'])
    .orderBy('o.t')
    .execute();
  for (const r of rows) if (r.tier === '10s' || r.tier === '1m' || r.tier === '1h') rollup.restoreOpen(defOf(r), r.tier, closedOf(r), Number(r.id));
  await store.db.deleteFrom('tel_open').where('tier', 'not in', ['10s', '1m', '1h']).execute();
  return rows.length;
}

/**
 * A TelemetryQuery over what the store holds (flushed rows and the partial rows a graceful stop
 * writes), as of `now`: for `shipshape alerts test`, which has no running server. It reads the last
 * 27 hours once; the returned query is synchronous like the live one.
 */
export async function storedTelemetryQuery(store: Store<TelemetryTables>, now: number = Date.now()): Promise<TelemetryQuery> {
  const rollup = new Rollup({ maxSeries: () => Number.MAX_SAFE_INTEGER, collect: false });
  await loadRecent(store, rollup, now);
  return rollupQuery(rollup, () => now);
}
