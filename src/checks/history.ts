/**
 * Check history that stays small: successful results are folded into per-minute, per-hour and
 * per-day aggregates (count, failures, latency p50/p95/max), failed results are kept with their
 * details (a bounded number per check), and everything older than its retention window is deleted.
 * Writes are batched: results land in memory and are written once per flush.
 */
import { DDSketch } from '@datadog/sketches-js';
import { addSparse, keyOf, sparseAddExact, sparseFromSketch, type SparseBins } from '../core/sparse-bins.js';
import type { Aggregate, FailedResult, SparkPoint } from './api-types.js';
import type { ConditionOutcome } from './types.js';
import type { Store } from '../core/store/db.js';
import type { AggTable, ChecksTables, OpenBucketsTable } from './tables.js';

export type Resolution = 'minute' | 'hour' | 'day';
const SIZE: Record<Resolution, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const TABLE = { minute: 'agg_minute', hour: 'agg_hour', day: 'agg_day' } as const;

export interface Retention {
  minute: number;
  hour: number;
  day: number;
  failuresPerCheck: number;
}

interface MinuteBucket {
  t: number;
  count: number;
  failures: number;
  max: number;
  values: number[];
  /**
   * values[0..folded) are in the hour and day bins already. The rest are added when the minute
   * closes, or before the open buckets are saved.
   */
  folded: number;
}
/**
 * An open hour or day. Its latencies are kept as the non-empty bins of a DDSketch (1% relative
 * accuracy; src/core/sparse-bins.ts): a check's latencies fill a narrow range, so this is a few
 * hundred bytes where a DDSketch with its dense stores was ~1–2 KB, twice per check.
 */
interface SketchBucket {
  t: number;
  count: number;
  failures: number;
  max: number;
  bins: SparseBins;
  /** latencies the sketch counts as zero (too small to index) */
  zero: number;
}

/**
 * A bounded ring of closed periods, `width` numbers each, in one Float64Array that grows (doubling)
 * up to `cap` entries: the last 60 minutes and the last 24 hours of every check (an object per entry
 * cost ~100 bytes, 84 per check at steady state; a ring allocated at full size would cost 2.6 KB
 * per check from the first minute).
 */
class Ring {
  private data: Float64Array;
  private start = 0;
  length = 0;
  constructor(
    private readonly width: number,
    private readonly cap: number,
  ) {
    this.data = new Float64Array(width * 2);
  }
  private get room(): number {
    return this.data.length / this.width;
  }
  /** field `f` of entry `i` (0: oldest) */
  at(i: number, f: number): number {
    return this.data[((this.start + i) % this.room) * this.width + f] as number;
  }
  /** append an entry (the oldest is dropped when full) */
  push(...values: number[]): void {
    if (this.length === this.room && this.room < this.cap) {
      const next = new Float64Array(Math.min(this.cap, this.room * 2) * this.width);
      for (let i = 0; i < this.length; i++) for (let f = 0; f < this.width; f++) next[i * this.width + f] = this.at(i, f);
      this.data = next;
      this.start = 0;
    }
    if (this.length === this.room) this.shift();
    const base = ((this.start + this.length) % this.room) * this.width;
    for (let f = 0; f < this.width; f++) this.data[base + f] = values[f] as number;
    this.length++;
  }
  shift(): void {
    if (this.length === 0) return;
    this.start = (this.start + 1) % this.room;
    this.length--;
  }
}
/** recent minutes: t, count, failures, p95 (NaN: null) */
const newRecent = () => new Ring(4, 64);
/** closed hours: t, count, failures */
const newHours = () => new Ring(3, 32);
/** A closed bucket, as the agg_minute / agg_hour / agg_day tables keep it. */
type ClosedRow = AggTable;
interface CheckHistory {
  minute?: MinuteBucket;
  hour?: SketchBucket;
  day?: SketchBucket;
  /** the last 60 closed minutes, oldest first (sparklines): t, count, failures, p95 (NaN: null) */
  recent: Ring;
  /** closed hours of the last 24h, oldest first (uptime_24h): t, count, failures */
  hours: Ring;
}

interface PendingFailure {
  check_id: number;
  at: number;
  latency: number;
  message: string;
  conditions: string;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
const floorTo = (t: number, size: number) => Math.floor(t / size) * size;
const newSketch = () => new DDSketch({ relativeAccuracy: 0.01 });

/** Count a latency (> 0) in a bucket's bins, as DDSketch.accept would. */
function acceptBin(b: SketchBucket, v: number): void {
  const k = keyOf(v);
  if (k === null) b.zero++;
  else b.bins = sparseAddExact(b.bins, k, 1);
}

/** The bins as a DDSketch (quantiles, and the stored format of open buckets). */
function sketchOf(b: SketchBucket): DDSketch {
  const s = newSketch();
  addSparse(s, b.bins, b.zero);
  return s;
}

export class History {
  private readonly byCheck = new Map<number, CheckHistory>();
  private closed: Record<Resolution, ClosedRow[]> = { minute: [], hour: [], day: [] };
  private failures: PendingFailure[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: Store<ChecksTables>,
    public retention: Retention,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(checkId: number): CheckHistory {
    let h = this.byCheck.get(checkId);
    if (!h) {
      h = { recent: newRecent(), hours: newHours() };
      this.byCheck.set(checkId, h);
    }
    return h;
  }

  /** Record one result (in memory; written at the next flush). */
  record(checkId: number, at: number, ok: boolean, latencyMs: number, failure?: { message: string; conditions: ConditionOutcome[] }): void {
    const h = this.entry(checkId);
    this.closeDue(checkId, h, at);
    const fail = ok ? 0 : 1;
    const mt = floorTo(at, SIZE.minute);
    if (!h.minute) h.minute = { t: mt, count: 0, failures: 0, max: 0, values: [], folded: 0 };
    const m = h.minute;
    m.count++;
    m.failures += fail;
    m.max = Math.max(m.max, latencyMs);
    m.values.push(latencyMs);
    for (const res of ['hour', 'day'] as const) {
      let b = h[res];
      if (!b) b = h[res] = { t: floorTo(at, SIZE[res]), count: 0, failures: 0, max: 0, bins: [], zero: 0 };
      b.count++;
      b.failures += fail;
      b.max = Math.max(b.max, latencyMs);
    }
    if (!ok && failure) {
      this.failures.push({ check_id: checkId, at, latency: latencyMs, message: failure.message.slice(0, 2000), conditions: JSON.stringify(failure.conditions).slice(0, 8000) });
    }
  }

  /** Close buckets whose period has ended before `at`. */
  private closeDue(checkId: number, h: CheckHistory, at: number): void {
    const m = h.minute;
    if (m && at >= m.t + SIZE.minute) {
      // the minute lies in the open hour and day: its latencies go into their sketches now
      // (values[0..folded) must still be in recording order when some were folded already)
      if (m.folded > 0) this.fold(h, m);
      const sorted = m.values.sort((a, b) => a - b);
      if (m.folded === 0) this.foldSorted(h, sorted);
      const row: ClosedRow = { check_id: checkId, t: m.t, count: m.count, failures: m.failures, p50: round(quantile(sorted, 0.5)), p95: round(quantile(sorted, 0.95)), max: round(m.max) };
      this.closed.minute.push(row);
      h.recent.push(m.t, m.count, m.failures, row.p95 ?? NaN);
      while (h.recent.length > 0 && h.recent.at(0, 0) < at - 60 * SIZE.minute) h.recent.shift();
      h.minute = undefined;
    }
    for (const res of ['hour', 'day'] as const) {
      const b = h[res];
      if (b && at >= b.t + SIZE[res]) {
        this.closed[res].push(this.sketchRow(checkId, b));
        if (res === 'hour') {
          h.hours.push(b.t, b.count, b.failures);
          while (h.hours.length > 0 && h.hours.at(0, 0) < at - 24 * SIZE.hour) h.hours.shift();
        }
        h[res] = undefined;
      }
    }
  }

  /** Add the latencies of the open minute not yet in the hour and day sketches (in any order). */
  private fold(h: CheckHistory, m: MinuteBucket): void {
    for (let i = m.folded; i < m.values.length; i++) {
      const v = m.values[i] as number;
      if (v <= 0) continue;
      if (h.hour) acceptBin(h.hour, v);
      if (h.day) acceptBin(h.day, v);
    }
    m.folded = m.values.length;
  }

  /** Add a closing minute's latencies (sorted, none folded yet) to the hour and day bins. */
  private foldSorted(h: CheckHistory, sorted: number[]): void {
    for (const b of [h.hour, h.day]) {
      if (!b) continue;
      for (const v of sorted) if (v > 0) acceptBin(b, v);
    }
  }

  private sketchRow(checkId: number, b: SketchBucket): ClosedRow {
    const sketch = sketchOf(b);
    const has = sketch.count > 0;
    return { check_id: checkId, t: b.t, count: b.count, failures: b.failures, p50: has ? round(sketch.getValueAtQuantile(0.5)) : null, p95: has ? round(sketch.getValueAtQuantile(0.95)) : null, max: round(b.max) };
  }

  /** Write closed buckets and failures in one transaction; close buckets of checks that stopped reporting. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const now = this.now();
    for (const [id, h] of this.byCheck) this.closeDue(id, h, now);
    const closed = this.closed;
    const failures = this.failures;
    this.closed = { minute: [], hour: [], day: [] };
    this.failures = [];
    if (!closed.minute.length && !closed.hour.length && !closed.day.length && !failures.length) return;
    try {
      await this.store.db.transaction().execute(async (trx) => {
        for (const res of ['minute', 'hour', 'day'] as const) {
          const rows = closed[res];
          for (let i = 0; i < rows.length; i += 500) {
            await trx
              .insertInto(TABLE[res])
              .values(rows.slice(i, i + 500))
              .onConflict((oc) =>
                oc.columns(['check_id', 't']).doUpdateSet((eb) => ({
                  count: eb.ref('excluded.count'),
                  failures: eb.ref('excluded.failures'),
                  p50: eb.ref('excluded.p50'),
                  p95: eb.ref('excluded.p95'),
                  max: eb.ref('excluded.max'),
                })),
              )
              .execute();
          }
        }
        for (let i = 0; i < failures.length; i += 500) {
          await trx.insertInto('check_failures').values(failures.slice(i, i + 500)).execute();
        }
        // keep only the newest N failures per check that just failed
        const touched = [...new Set(failures.map((f) => f.check_id))];
        for (const checkId of touched) {
          const cutoff = await trx
            .selectFrom('check_failures')
            .select('id')
            .where('check_id', '=', checkId)
            .orderBy('id', 'desc')
            .offset(this.retention.failuresPerCheck)
            .limit(1)
            .executeTakeFirst();
          if (cutoff) await trx.deleteFrom('check_failures').where('check_id', '=', checkId).where('id', '<=', cutoff.id).execute();
        }
      });
    } catch (e) {
      // keep the rows for the next attempt rather than lose them
      for (const res of ['minute', 'hour', 'day'] as const) this.closed[res].unshift(...closed[res]);
      this.failures.unshift(...failures);
      throw e;
    }
  }

  /** Delete aggregates older than their retention window. */
  async prune(): Promise<void> {
    const now = this.now();
    await this.store.db.deleteFrom('agg_minute').where('t', '<', now - this.retention.minute).execute();
    await this.store.db.deleteFrom('agg_hour').where('t', '<', now - this.retention.hour).execute();
    await this.store.db.deleteFrom('agg_day').where('t', '<', now - this.retention.day).execute();
  }

  /** Forget a check that left the config: its open buckets are closed and written at the next flush. */
  forget(checkId: number): void {
    const h = this.byCheck.get(checkId);
    if (!h) return;
    this.closeDue(checkId, h, Number.MAX_SAFE_INTEGER);
    this.byCheck.delete(checkId);
  }

  /** On a graceful stop: write open buckets so a restart continues them. */
  async persistOpen(): Promise<void> {
    const rows: OpenBucketsTable[] = [];
    for (const [id, h] of this.byCheck) {
      // the saved hour and day sketches hold every latency recorded (as earlier releases saved them)
      if (h.minute) this.fold(h, h.minute);
      if (h.minute) {
        // minutes are short: store the raw latencies in the sketch column
        rows.push({ check_id: id, resolution: 'minute', t: h.minute.t, count: h.minute.count, failures: h.minute.failures, max: h.minute.max, sketch: new Uint8Array(new Float64Array(h.minute.values).buffer) });
      }
      for (const res of ['hour', 'day'] as const) {
        const b = h[res];
        if (b) rows.push({ check_id: id, resolution: res, t: b.t, count: b.count, failures: b.failures, max: b.max, sketch: sketchOf(b).toProto() });
      }
    }
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('open_buckets').execute();
      for (let i = 0; i < rows.length; i += 500) await trx.insertInto('open_buckets').values(rows.slice(i, i + 500)).execute();
    });
  }

  /** On start: reload open buckets and the in-memory recent series. */
  async load(): Promise<void> {
    const now = this.now();
    const open = await this.store.db.selectFrom('open_buckets').selectAll().execute();
    for (const r of open) {
      const h = this.entry(Number(r.check_id));
      const bytes = r.sketch ? new Uint8Array(r.sketch) : null;
      if (r.resolution === 'minute') {
        const values = bytes ? Array.from(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))) : [];
        // the saved hour and day sketches include these latencies already
        h.minute = { t: Number(r.t), count: r.count, failures: r.failures, max: Number(r.max ?? 0), values, folded: values.length };
      } else if (r.resolution === 'hour' || r.resolution === 'day') {
        const b: SketchBucket = { t: Number(r.t), count: r.count, failures: r.failures, max: Number(r.max ?? 0), bins: [], zero: 0 };
        if (bytes) {
          try {
            b.zero = sparseFromSketch(DDSketch.fromProto(bytes), b.bins);
            b.bins = b.bins.slice();
          } catch {
            /* an unreadable sketch loses only its quantiles */
          }
        }
        h[r.resolution] = b;
      }
    }
    await this.store.db.deleteFrom('open_buckets').execute();
    const minutes = await this.store.db.selectFrom('agg_minute').select(['check_id', 't', 'count', 'failures', 'p95']).where('t', '>=', now - 60 * SIZE.minute).orderBy('t').execute();
    for (const r of minutes) this.entry(Number(r.check_id)).recent.push(Number(r.t), r.count, r.failures, r.p95 ?? NaN);
    const hours = await this.store.db.selectFrom('agg_hour').select(['check_id', 't', 'count', 'failures']).where('t', '>=', now - 24 * SIZE.hour).orderBy('t').execute();
    for (const r of hours) this.entry(Number(r.check_id)).hours.push(Number(r.t), r.count, r.failures);
    for (const [id, h] of this.byCheck) this.closeDue(id, h, now);
  }

  /** Success ratio of the last 24h (closed hours + the open hour), or null without data. */
  uptime24h(checkId: number): number | null {
    const h = this.byCheck.get(checkId);
    if (!h) return null;
    const since = this.now() - 24 * SIZE.hour;
    let count = 0;
    let failures = 0;
    for (let i = 0; i < h.hours.length; i++) {
      if (h.hours.at(i, 0) >= since) {
        count += h.hours.at(i, 1);
        failures += h.hours.at(i, 2);
      }
    }
    if (h.hour) {
      count += h.hour.count;
      failures += h.hour.failures;
    }
    return count === 0 ? null : (count - failures) / count;
  }

  /** The last `minutes` minutes, one point per minute (null where nothing ran), oldest first. */
  recent(checkId: number, minutes = 60): SparkPoint[] {
    const h = this.byCheck.get(checkId);
    const end = floorTo(this.now(), SIZE.minute);
    const byT = new Map<number, { count: number; failures: number; p95: number | null }>();
    if (h) {
      for (let i = 0; i < h.recent.length; i++) {
        const p95 = h.recent.at(i, 3);
        byT.set(h.recent.at(i, 0), { count: h.recent.at(i, 1), failures: h.recent.at(i, 2), p95: Number.isNaN(p95) ? null : p95 });
      }
    }
    if (h?.minute) {
      const sorted = [...h.minute.values].sort((a, b) => a - b);
      byT.set(h.minute.t, { count: h.minute.count, failures: h.minute.failures, p95: round(quantile(sorted, 0.95)) });
    }
    const out: SparkPoint[] = [];
    for (let t = end - (minutes - 1) * SIZE.minute; t <= end; t += SIZE.minute) {
      const x = byT.get(t);
      out.push({ t: new Date(t).toISOString(), p95: x?.p95 ?? null, failures: x?.failures ?? 0 });
    }
    return out;
  }

  async aggregates(checkId: number, resolution: Resolution, from: number, to: number): Promise<Aggregate[]> {
    const rows = await this.store.db
      .selectFrom(TABLE[resolution])
      .select(['t', 'count', 'failures', 'p50', 'p95', 'max'])
      .where('check_id', '=', checkId)
      .where('t', '>=', from)
      .where('t', '<=', to)
      .orderBy('t')
      .limit(5000)
      .execute();
    return rows.map((r) => ({ t: new Date(Number(r.t)).toISOString(), count: r.count, failures: r.failures, p50: r.p50, p95: r.p95, max: r.max }));
  }

  async failed(checkId: number, limit: number, before?: number): Promise<FailedResult[]> {
    let q = this.store.db.selectFrom('check_failures').selectAll().where('check_id', '=', checkId).orderBy('id', 'desc').limit(limit);
    if (before !== undefined) q = q.where('id', '<', before);
    const rows = await q.execute();
    return rows.map((r) => ({ id: Number(r.id), at: new Date(Number(r.at)).toISOString(), latency_ms: r.latency, message: r.message, conditions: JSON.parse(r.conditions) as ConditionOutcome[] }));
  }
}
