/**
 * The in-memory part of telemetry: the series and their open 10s buckets.
 *
 * A series is kind + service + name (route, vital, event or metric name) + sub (page for vitals,
 * canonical labels for metrics). Samples go into per-10s buckets (count, errors, sum, min, max,
 * last, and for requests and vitals the non-empty bins of a DDSketch-compatible quantile sketch,
 * kept as one small array: sketch.ts `SparseBins`). A bucket closes 5s after its period ends (late
 * samples land in the oldest open bucket) and goes to the store as a row (`pending`); the
 * checkpoint that writes it also merges it into the series' stored minute and hour rows
 * (storage.ts), so the store always holds every closed bucket at every tier. Closed buckets are not
 * kept in memory: queries read older windows from the store (query.ts; the live query keeps what it
 * read of closed periods merged per rule target, bounded: closed-cache.ts).
 *
 * Memory is bounded by the number of series (`ingest.max_series`). A series keeps its identity
 * (and a counter's last value) while it sent anything in the last 27 hours (`IDLE`, so the limits
 * keep counting it) and its open buckets (one, two around a period's end) while it is active.
 */
import { keyOf, sparseAddExact, addEncodedToSparse, encodeSparse, type SparseBins } from './sketch.js';

export type Kind = 'requests' | 'vitals' | 'events' | 'metrics';
export type Tier = '10s' | '1m' | '1h';
export const TIERS: readonly Tier[] = ['10s', '1m', '1h'];
export const STEP: Record<Tier, number> = { '10s': 10_000, '1m': 60_000, '1h': 3_600_000 };
/** a series that sent nothing for this long leaves memory (and no longer counts against the limits) */
export const IDLE = 27 * 3_600_000;
/** a 10s bucket closes this long after its period ended (batches in flight) */
export const GRACE = 5_000;
/** the longest window a query answers; longer windows are clamped to it */
export const MAX_WINDOW = 26 * 3_600_000;
export const OTHER = '(other)';

export const floorTo = (t: number, step: number): number => t - (((t % step) + step) % step);

export interface SeriesDef {
  kind: Kind;
  service: string;
  /** route, vital name, event name or metric name */
  name: string;
  /** page for vitals, canonical labels JSON for metrics, '' otherwise */
  sub: string;
  /** metric labels (vitals: { page }) */
  labels: Record<string, string>;
  type: 'gauge' | 'counter' | null;
}

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** the open buckets of a series with none (shared, never written: lists are replaced, not grown) */
const NO_BUCKETS = Object.freeze([]) as unknown as OpenBucket[];

/** A bucket still taking samples. */
export class OpenBucket {
  count = 0;
  errors = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = NaN;
  lastAt = -Infinity;
  /** samples the sketch counts as zero */
  zero = 0;
  /** the sketch's non-empty bins (requests and vitals), null otherwise */
  bins: SparseBins | null;
  constructor(
    public t: number,
    withSketch: boolean,
  ) {
    this.bins = withSketch ? [] : null;
  }

  /** count a value (>= 0) in the sketch */
  accept(value: number, count: number): void {
    const bins = this.bins;
    if (bins === null) return;
    const k = keyOf(value);
    if (k === null) this.zero += count;
    else this.bins = sparseAddExact(bins, k, count);
  }
}

export interface ClosedBucket {
  t: number;
  count: number;
  errors: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  /** the sketch's non-empty bins, encoded (src/telemetry/sketch.ts); requests and vitals only */
  enc: Uint8Array | null;
}

export interface Row extends ClosedBucket {
  series: Series;
  tier: Tier;
}

export class Series implements SeriesDef {
  /** the store's id, once written */
  id: number | undefined = undefined;
  /** open 10s buckets, oldest first (replaced by a new list of the exact size when one opens or closes) */
  open10: OpenBucket[] = NO_BUCKETS;
  /** counters: the last cumulative value seen, and the time of its bucket */
  prev = NaN;
  prevAt = -Infinity;
  /** epoch ms of the newest sample */
  lastAt = 0;
  /** its open buckets changed since the last checkpoint (Rollup.takeDirty) */
  dirty = false;
  /** the ingest token (origin) whose series budget this series counts against */
  origin: string | undefined = undefined;
  constructor(
    readonly kind: Kind,
    readonly service: string,
    readonly name: string,
    readonly sub: string,
    readonly type: 'gauge' | 'counter' | null,
    private readonly metricLabels: Record<string, string> | null,
  ) {}
  /** the series' definition (the series itself: no second object per series) */
  get def(): SeriesDef {
    return this;
  }
  get labels(): Record<string, string> {
    if (this.kind === 'metrics') return this.metricLabels ?? NO_LABELS;
    return this.kind === 'vitals' ? { page: this.sub } : NO_LABELS;
  }
  get sketched(): boolean {
    return this.kind === 'requests' || this.kind === 'vitals';
  }
}

export function seriesKey(def: Pick<SeriesDef, 'kind' | 'service' | 'name' | 'sub'>): string {
  return `${def.kind}\u0000${def.service}\u0000${def.name}\u0000${def.sub}`;
}

/** Canonical labels: sorted keys, as JSON. */
export function canonicalLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  const o: Record<string, string> = {};
  for (const k of keys) o[k] = labels[k] as string;
  return JSON.stringify(o);
}

export interface RollupOptions {
  maxSeries: () => number;
  /** series one service may hold (default: no limit below maxSeries) */
  maxSeriesPerService?: () => number;
  /** series one origin (ingest token) may create; undefined: no limit */
  maxSeriesPerOrigin?: (origin: string) => number | undefined;
  /** collect closed buckets as rows for the store (false for read-only views) */
  collect: boolean;
  /** a sample did not get its own series, because of `limit` */
  onLimited?: (def: SeriesDef, outcome: 'folded' | 'dropped', count: number, limit: Limit) => void;
}

export type Limit = 'max_series' | 'max_series_per_service' | 'max_series_per_token';

/** Sees every sample the rollup is given while set (`Rollup.tap`): the WAL journal of a request. */
export interface RollupTap {
  request(service: string, route: string, durationMs: number, error: boolean, at: number, count: number): void;
  vital(service: string, page: string, name: string, value: number, at: number): void;
  event(service: string, name: string, value: number, count: number, at: number): void;
  metric(service: string, name: string, labels: Record<string, string>, type: 'gauge' | 'counter', value: number, at: number): void;
}

export function closeBucket(b: OpenBucket): ClosedBucket {
  return { t: b.t, count: b.count, errors: b.errors, sum: b.sum, min: b.min, max: b.max, last: b.last, enc: b.bins === null ? null : encodeSparse(b.bins, b.zero) };
}

/** Series of one service by name: the series itself (requests, events) or its series by sub (vitals, metrics). */
type Leaf = Series | Map<string, Series>;
interface ServiceIndex {
  /** the service name (one string shared by all its series) */
  name: string;
  byName: Map<string, Leaf>;
}
const hasSub = (kind: Kind) => kind === 'vitals' || kind === 'metrics';

export class Rollup {
  private readonly idx: Record<Kind, Map<string, ServiceIndex>> = { requests: new Map(), vitals: new Map(), events: new Map(), metrics: new Map() };
  seriesCount = 0;
  /** series per service; its keys are the one copy of each service name */
  private readonly perService = new Map<string, number>();
  private readonly perOrigin = new Map<string, number>();
  /**
   * The origin (ingest token) of the samples being taken: set by the ingest routes around one
   * synchronous batch, so new series count against that token's budget; undefined otherwise.
   */
  origin: string | undefined = undefined;
  /** when set, sees every sample given (src/telemetry/wal.ts journals an OTLP request's samples) */
  tap: RollupTap | undefined = undefined;
  /** series whose open buckets changed since the last takeDirty() */
  private dirty: Series[] = [];
  /** samples older than this go into this bucket (the oldest open one) */
  openFrom = 0;
  /** closed buckets not handed to the store yet */
  pending: Row[] = [];

  constructor(private readonly opts: RollupOptions) {}

  // ---- series lookup -------------------------------------------------------------------------

  find(kind: Kind, service: string, name: string, sub: string): Series | undefined {
    const leaf = this.idx[kind].get(service)?.byName.get(name);
    if (leaf === undefined) return undefined;
    if (leaf instanceof Series) return sub === '' ? leaf : undefined;
    return leaf.get(sub);
  }

  /** The series for a sample, created if the limit allows; folded or undefined (dropped) otherwise. */
  series(kind: Kind, service: string, name: string, sub: string, labels: Record<string, string> | null, type: SeriesDef['type'], weight: number, force = false): Series | undefined {
    const hit = this.find(kind, service, name, sub);
    if (hit) return hit;
    const max = this.opts.maxSeries();
    const origin = force ? undefined : this.origin;
    let limit: Limit | null = null;
    if (!force) {
      if (this.seriesCount >= max) limit = 'max_series';
      else if (this.opts.maxSeriesPerService && (this.perService.get(service) ?? 0) >= this.opts.maxSeriesPerService()) limit = 'max_series_per_service';
      else if (origin !== undefined) {
        const cap = this.opts.maxSeriesPerOrigin?.(origin);
        if (cap !== undefined && (this.perOrigin.get(origin) ?? 0) >= cap) limit = 'max_series_per_token';
      }
    }
    if (limit !== null) {
      const def: SeriesDef = { kind, service, name, sub, labels: labels ?? (kind === 'vitals' ? { page: sub } : {}), type };
      // metrics lose the series (a counter folded with others would make no sense)
      if (kind === 'metrics') {
        this.opts.onLimited?.(def, 'dropped', weight, limit);
        return undefined;
      }
      // fold into the service's own `(other)` series (allowed a little over the limit), else drop
      const foldName = kind === 'vitals' ? name : OTHER;
      const foldSub = kind === 'vitals' ? OTHER : '';
      const folded = this.find(kind, service, foldName, foldSub);
      if (folded) {
        this.opts.onLimited?.(def, 'folded', weight, limit);
        return folded;
      }
      if (this.seriesCount >= max + Math.max(50, Math.floor(max / 20))) {
        this.opts.onLimited?.(def, 'dropped', weight, limit);
        return undefined;
      }
      this.opts.onLimited?.(def, 'folded', weight, limit);
      return this.series(kind, service, foldName, foldSub, null, type, weight, true);
    }
    let svc = this.idx[kind].get(service);
    if (!svc) {
      const shared = this.serviceName(service);
      this.idx[kind].set(shared, (svc = { name: shared, byName: new Map() }));
    }
    const s = new Series(kind, svc.name, name, sub, type, kind === 'metrics' ? labels : null);
    if (hasSub(kind)) {
      let bySub = svc.byName.get(name) as Map<string, Series> | undefined;
      if (!bySub) svc.byName.set(name, (bySub = new Map()));
      bySub.set(sub, s);
    } else svc.byName.set(name, s);
    this.seriesCount++;
    this.perService.set(svc.name, (this.perService.get(svc.name) ?? 0) + 1);
    if (origin !== undefined) {
      s.origin = origin;
      this.perOrigin.set(origin, (this.perOrigin.get(origin) ?? 0) + 1);
    }
    return s;
  }

  /** the one copy of a service name kept by the series of all kinds */
  private serviceName(service: string): string {
    for (const kind of Object.keys(this.idx) as Kind[]) {
      const svc = this.idx[kind].get(service);
      if (svc) return svc.name;
    }
    return service;
  }

  private markDirty(s: Series): void {
    if (!this.opts.collect || s.dirty) return;
    s.dirty = true;
    this.dirty.push(s);
  }

  /** The series whose open buckets changed since the last call (a checkpoint writes their open state). */
  takeDirty(): Series[] {
    const list = this.dirty;
    this.dirty = [];
    for (const s of list) s.dirty = false;
    return list;
  }

  /** Put series back on the dirty list (a checkpoint that failed). */
  redirty(list: Series[]): void {
    for (const s of list) this.markDirty(s);
  }

  private bucket(s: Series, at: number, now: number): OpenBucket {
    if (!(at > 0) || at > now + 60_000) at = now;
    let t = floorTo(at, 10_000);
    if (t < this.openFrom) t = this.openFrom;
    if (at > s.lastAt) s.lastAt = at;
    if (!s.dirty) this.markDirty(s);
    const list = s.open10;
    const n = list.length;
    const lastB = list[n - 1];
    if (lastB !== undefined && lastB.t === t) return lastB;
    let pos = 0;
    for (let i = n - 1; i >= 0; i--) {
      const b = list[i] as OpenBucket;
      if (b.t === t) return b;
      if (b.t < t) {
        pos = i + 1;
        break;
      }
    }
    // a new list of exactly n + 1 (one or two buckets): an array grown by push or splice keeps
    // room for 17, ~150 bytes on every series
    const nb = new OpenBucket(t, s.sketched);
    const next: OpenBucket[] = new Array<OpenBucket>(n + 1);
    for (let i = 0; i < pos; i++) next[i] = list[i] as OpenBucket;
    next[pos] = nb;
    for (let i = pos; i < n; i++) next[i + 1] = list[i] as OpenBucket;
    s.open10 = next;
    return nb;
  }

  // ---- ingest (hot paths: no per-sample allocation beyond new series, buckets and bins) ----------

  request(service: string, route: string, durationMs: number, error: boolean, at: number, count: number, now: number): boolean {
    if (this.tap !== undefined) this.tap.request(service, route, durationMs, error, at, count);
    const s = this.series('requests', service, route, '', null, null, count);
    if (!s) return false;
    const b = this.bucket(s, at, now);
    b.count += count;
    if (error) b.errors += count;
    const v = durationMs > 0 ? durationMs : 0;
    b.sum += v * count;
    if (v < b.min) b.min = v;
    if (v > b.max) b.max = v;
    b.accept(v, count);
    return true;
  }

  vital(service: string, page: string, name: string, value: number, at: number, now: number): boolean {
    if (this.tap !== undefined) this.tap.vital(service, page, name, value, at);
    const s = this.series('vitals', service, name, page, null, null, 1);
    if (!s) return false;
    const b = this.bucket(s, at, now);
    const v = value > 0 ? value : 0;
    b.count++;
    b.sum += v;
    if (v < b.min) b.min = v;
    if (v > b.max) b.max = v;
    b.accept(v, 1);
    return true;
  }

  event(service: string, name: string, value: number, count: number, at: number, now: number): boolean {
    if (this.tap !== undefined) this.tap.event(service, name, value, count, at);
    const s = this.series('events', service, name, '', null, null, count);
    if (!s) return false;
    const b = this.bucket(s, at, now);
    b.count += count;
    b.sum += value;
    return true;
  }

  metric(service: string, name: string, labels: Record<string, string>, type: 'gauge' | 'counter', value: number, at: number, now: number): boolean {
    if (this.tap !== undefined) this.tap.metric(service, name, labels, type, value, at);
    const sub = canonicalLabels(labels);
    const s = this.series('metrics', service, name, sub, labels, type, 1);
    if (!s) return false;
    const b = this.bucket(s, at, now);
    b.count++;
    if (s.type === 'counter') {
      // a counter's increase; the first value is the baseline, a drop is a reset
      const prev = s.prev;
      s.prev = value;
      s.prevAt = b.t;
      if (!Number.isNaN(prev)) b.sum += value >= prev ? value - prev : value;
    } else b.sum += value;
    if (value < b.min) b.min = value;
    if (value > b.max) b.max = value;
    if (at >= b.lastAt || !(at > 0)) {
      b.last = value;
      b.lastAt = at > 0 ? at : now;
    }
    return true;
  }

  // ---- closing ----------------------------------------------------------------------------------

  /** Close the buckets due at `now` (called every few seconds) and let idle series go. */
  advance(now: number): void {
    const openFrom = floorTo(now - GRACE, 10_000);
    if (openFrom <= this.openFrom) return;
    this.openFrom = openFrom;
    const idleBefore = now - IDLE;
    for (const s of this.all()) {
      const list = s.open10;
      if (list.length > 0 && (list[0] as OpenBucket).t < openFrom) {
        this.markDirty(s);
        let k = 0;
        while (k < list.length && (list[k] as OpenBucket).t < openFrom) {
          const c = closeBucket(list[k++] as OpenBucket);
          if (this.opts.collect) this.pending.push({ ...c, series: s, tier: '10s' });
        }
        s.open10 = k === list.length ? NO_BUCKETS : list.slice(k);
      }
      if (s.open10.length === 0 && s.lastAt < idleBefore) this.remove(s);
    }
  }

  private remove(s: Series): void {
    const svc = this.idx[s.kind].get(s.service);
    if (!svc) return;
    const leaf = svc.byName.get(s.name);
    if (leaf instanceof Map) {
      if (leaf.get(s.sub) !== s) return;
      leaf.delete(s.sub);
      if (leaf.size === 0) svc.byName.delete(s.name);
    } else {
      if (leaf !== s) return;
      svc.byName.delete(s.name);
    }
    if (svc.byName.size === 0) this.idx[s.kind].delete(s.service);
    this.seriesCount--;
    const n = (this.perService.get(s.service) ?? 1) - 1;
    if (n > 0) this.perService.set(s.service, n);
    else this.perService.delete(s.service);
    if (s.origin !== undefined) {
      const o = (this.perOrigin.get(s.origin) ?? 1) - 1;
      if (o > 0) this.perOrigin.set(s.origin, o);
      else this.perOrigin.delete(s.origin);
    }
  }

  *all(): Generator<Series> {
    for (const kind of Object.keys(this.idx) as Kind[])
      for (const svc of this.idx[kind].values())
        for (const leaf of svc.byName.values()) {
          if (leaf instanceof Map) yield* leaf.values();
          else yield leaf;
        }
  }

  services(): Set<string> {
    const out = new Set<string>();
    for (const kind of Object.keys(this.idx) as Kind[]) for (const svc of this.idx[kind].keys()) out.add(svc);
    return out;
  }

  // ---- restoring (restart) ------------------------------------------------------------------------

  /** A series the store knows to have sent something recently (identity, last time, counter value). */
  restoreSeries(def: SeriesDef, id: number, lastAt: number, last: number, lastT: number): void {
    const s = this.series(def.kind, def.service, def.name, def.sub, def.labels, def.type, 0, true);
    if (!s) return;
    s.id = id;
    if (lastAt > s.lastAt) s.lastAt = lastAt;
    if (def.type === 'counter' && !Number.isNaN(last) && lastT >= s.prevAt) {
      s.prev = last;
      s.prevAt = lastT;
    }
  }

  /** Restore a 10s bucket that was open at the last stop or checkpoint. */
  restoreOpen(def: SeriesDef, c: ClosedBucket, id?: number): void {
    const s = this.series(def.kind, def.service, def.name, def.sub, def.labels, def.type, 0, true);
    if (!s) return;
    if (id !== undefined) s.id = id;
    const b = new OpenBucket(c.t, s.sketched);
    b.count = c.count;
    b.errors = c.errors;
    b.sum = c.sum;
    b.min = c.min;
    b.max = c.max;
    b.last = c.last;
    b.lastAt = c.t;
    if (b.bins !== null && c.enc) {
      b.zero = addEncodedToSparse(b.bins, c.enc);
      b.bins = b.bins.slice(); // no room left over from growing
    }
    const i = s.open10.findIndex((o) => o.t >= c.t);
    if (i >= 0 && (s.open10[i] as OpenBucket).t === c.t) s.open10[i] = b;
    else if (i >= 0) s.open10 = [...s.open10.slice(0, i), b, ...s.open10.slice(i)];
    else s.open10 = [...s.open10, b];
    if (c.count > 0 && c.t > s.lastAt) s.lastAt = c.t;
    if (def.type === 'counter' && !Number.isNaN(c.last) && c.t >= s.prevAt) {
      s.prev = c.last;
      s.prevAt = c.t;
    }
    this.markDirty(s);
  }

  /** The open buckets of a series as rows (a checkpoint; restored by restoreOpen). */
  openRows(s: Series, out: Row[] = []): Row[] {
    for (const b of s.open10) out.push({ ...closeBucket(b), series: s, tier: '10s' });
    return out;
  }

  /** Everything open, as rows (a graceful stop). */
  snapshotOpen(): Row[] {
    const out: Row[] = [];
    for (const s of this.all()) this.openRows(s, out);
    return out;
  }

  // ---- queries ------------------------------------------------------------------------------------

  /** Series of a kind matching service (all when undefined), name (all when undefined) and a sub filter. */
  match(kind: Kind, service: string | undefined, name: string | undefined, sub?: (s: Series) => boolean): Series[] {
    const out: Series[] = [];
    const svcs = service === undefined ? [...this.idx[kind].values()] : [this.idx[kind].get(service)].filter((x) => x !== undefined);
    for (const svc of svcs) {
      const leaves = name === undefined ? [...svc.byName.values()] : [svc.byName.get(name)].filter((x) => x !== undefined);
      for (const leaf of leaves) {
        if (leaf instanceof Map) {
          for (const s of leaf.values()) if (!sub || sub(s)) out.push(s);
        } else if (!sub || sub(leaf)) out.push(leaf);
      }
    }
    return out;
  }

  lastSeen(service: string): number | undefined {
    let best = 0;
    for (const kind of Object.keys(this.idx) as Kind[]) {
      const svc = this.idx[kind].get(service);
      if (!svc) continue;
      for (const leaf of svc.byName.values()) {
        if (leaf instanceof Map) {
          for (const s of leaf.values()) if (s.lastAt > best) best = s.lastAt;
        } else if (leaf.lastAt > best) best = leaf.lastAt;
      }
    }
    return best > 0 ? best : undefined;
  }
}
