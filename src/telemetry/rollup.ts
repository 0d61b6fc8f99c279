/**
 * The in-memory rollups every telemetry source lands in.
 *
 * A series is kind + service + name (route, vital, event or metric name) + sub (page for vitals,
 * canonical labels for metrics). Samples go into per-10s buckets (count, errors, sum, min, max,
 * last, and a DDSketch for requests and vitals). A bucket closes 5s after its period ends (late
 * samples land in the oldest open bucket); closed 10s buckets are merged into the open minute,
 * closed minutes into the open hour (sketch merges are exact, so downsampled quantiles keep
 * DDSketch's 1% relative accuracy). Every closed bucket is handed to the store as a row.
 *
 * Memory is bounded by the number of series (`ingest.max_series`) and by what each keeps for
 * queries: 7 minutes of 10s buckets, 70 minutes of minutes and 27 hours of hours (closed buckets
 * keep only their non-empty sketch bins).
 */
import type { DDSketch } from '@datadog/sketches-js';
import { accept, addEncoded, encodeSketch, newSketch, quantileOf } from './sketch.js';

export type Kind = 'requests' | 'vitals' | 'events' | 'metrics';
export type Tier = '10s' | '1m' | '1h';
export const TIERS: readonly Tier[] = ['10s', '1m', '1h'];
export const STEP: Record<Tier, number> = { '10s': 10_000, '1m': 60_000, '1h': 3_600_000 };
/** how long closed buckets stay in memory for queries */
export const KEEP: Record<Tier, number> = { '10s': 7 * 60_000, '1m': 70 * 60_000, '1h': 27 * 3_600_000 };
/** a 10s bucket closes this long after its period ended (batches in flight) */
export const GRACE = 5_000;
/** the longest window the in-memory query answers; longer windows are clamped to it */
export const MAX_WINDOW = 26 * 3_600_000;
export const OTHER = '(other)';

const floorTo = (t: number, step: number) => t - (((t % step) + step) % step);

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

/** A bucket still taking samples (or merges). */
export class OpenBucket {
  count = 0;
  errors = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = NaN;
  lastAt = -Infinity;
  sketch: DDSketch | null;
  constructor(
    public t: number,
    withSketch: boolean,
  ) {
    this.sketch = withSketch ? newSketch() : null;
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

export class Series {
  /** the store's id, once flushed */
  id: number | undefined;
  open10: OpenBucket[] = [];
  tens: ClosedBucket[] = [];
  minute: OpenBucket | undefined;
  minutes: ClosedBucket[] = [];
  hour: OpenBucket | undefined;
  hours: ClosedBucket[] = [];
  /** counters: the last cumulative value seen */
  prev = NaN;
  prevAt = -Infinity;
  /** epoch ms of the newest sample */
  lastAt = 0;
  /** its open 10s buckets changed since the last checkpoint (Rollup.takeDirty) */
  dirty = false;
  /** its open minute or hour changed (a 10s bucket closed) since the last checkpoint */
  dirtyUpper = false;
  /** the ingest token (origin) whose series budget this series counts against */
  origin: string | undefined = undefined;
  constructor(readonly def: SeriesDef) {}
  get sketched(): boolean {
    return this.def.kind === 'requests' || this.def.kind === 'vitals';
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
  /** the aligned start actually covered (rates divide by now - start) */
  start: number;
}

function closeBucket(b: OpenBucket): ClosedBucket {
  return { t: b.t, count: b.count, errors: b.errors, sum: b.sum, min: b.min, max: b.max, last: b.last, enc: b.sketch && b.sketch.count > 0 ? encodeSketch(b.sketch) : null };
}

function mergeInto(target: OpenBucket, c: ClosedBucket | OpenBucket, lastAt: number): void {
  target.count += c.count;
  target.errors += c.errors;
  target.sum += c.sum;
  if (c.min < target.min) target.min = c.min;
  if (c.max > target.max) target.max = c.max;
  if (!Number.isNaN(c.last) && lastAt >= target.lastAt) {
    target.last = c.last;
    target.lastAt = lastAt;
  }
  if (target.sketch) {
    if (c instanceof OpenBucket) {
      if (c.sketch && c.sketch.count > 0) target.sketch.merge(c.sketch);
    } else if (c.enc) addEncoded(target.sketch, c.enc);
  }
}

export class Rollup {
  private readonly idx: Record<Kind, Map<string, Map<string, Map<string, Series>>>> = { requests: new Map(), vitals: new Map(), events: new Map(), metrics: new Map() };
  seriesCount = 0;
  private readonly perService = new Map<string, number>();
  private readonly perOrigin = new Map<string, number>();
  /**
   * The origin (ingest token) of the samples being taken: set by the ingest routes around one
   * synchronous batch, so new series count against that token's budget; undefined otherwise.
   */
  origin: string | undefined = undefined;
  /** when set, sees every sample given (src/telemetry/wal.ts journals an OTLP request's samples) */
  tap: RollupTap | undefined = undefined;
  /** series whose open 10s buckets (`dirty`) or open minute/hour (`dirtyUpper`) changed since the last takeDirty() */
  private dirty: Series[] = [];
  private dirtyUpper: Series[] = [];
  /** samples older than this go into this bucket (the oldest open one) */
  openFrom = 0;
  pending: Row[] = [];

  constructor(private readonly opts: RollupOptions) {}

  // ---- series lookup -------------------------------------------------------------------------

  find(kind: Kind, service: string, name: string, sub: string): Series | undefined {
    return this.idx[kind].get(service)?.get(name)?.get(sub);
  }

  /** The series for a sample, created if the limit allows; folded or undefined (dropped) otherwise. */
  series(kind: Kind, service: string, name: string, sub: string, labels: Record<string, string> | null, type: SeriesDef['type'], weight: number, force = false): Series | undefined {
    let bySvc = this.idx[kind].get(service);
    const hit = bySvc?.get(name)?.get(sub);
    if (hit) return hit;
    const def: SeriesDef = { kind, service, name, sub, labels: labels ?? (kind === 'vitals' ? { page: sub } : {}), type };
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
      // metrics lose the series (a counter folded with others would make no sense)
      if (kind === 'metrics') {
        this.opts.onLimited?.(def, 'dropped', weight, limit);
        return undefined;
      }
      // fold into the service's own `(other)` series (allowed a little over the limit), else drop
      const foldName = kind === 'vitals' ? name : OTHER;
      const foldSub = kind === 'vitals' ? OTHER : '';
      const folded = bySvc?.get(foldName)?.get(foldSub);
      if (folded) {
        this.opts.onLimited?.(def, 'folded', weight, limit);
        return folded;
      }
      if (this.seriesCount >= max + Math.max(50, Math.floor(max / 20))) {
        this.opts.onLimited?.(def, 'dropped', weight, limit);
        return undefined;
      }
      this.opts.onLimited?.(def, 'folded', weight, limit);
      return this.series(kind, service, foldName, foldSub, kind === 'vitals' ? { page: OTHER } : {}, type, weight, true);
    }
    if (!bySvc) this.idx[kind].set(service, (bySvc = new Map()));
    let byName = bySvc.get(name);
    if (!byName) bySvc.set(name, (byName = new Map()));
    const s = new Series(def);
    byName.set(sub, s);
    this.seriesCount++;
    this.perService.set(service, (this.perService.get(service) ?? 0) + 1);
    if (origin !== undefined) {
      s.origin = origin;
      this.perOrigin.set(origin, (this.perOrigin.get(origin) ?? 0) + 1);
    }
    return s;
  }

  private markDirty(s: Series, upper = false): void {
    if (!this.opts.collect) return;
    if (!s.dirty) {
      s.dirty = true;
      this.dirty.push(s);
    }
    if (upper && !s.dirtyUpper) {
      s.dirtyUpper = true;
      this.dirtyUpper.push(s);
    }
  }

  /** The series whose open buckets changed since the last call (a checkpoint writes their open state). */
  takeDirty(): { ten: Series[]; upper: Series[] } {
    const ten = this.dirty;
    const upper = this.dirtyUpper;
    this.dirty = [];
    this.dirtyUpper = [];
    for (const s of ten) s.dirty = false;
    for (const s of upper) s.dirtyUpper = false;
    return { ten, upper };
  }

  /** Put series back on the dirty lists (a checkpoint that failed). */
  redirty(d: { ten: Series[]; upper: Series[] }): void {
    for (const s of d.ten) this.markDirty(s);
    for (const s of d.upper) this.markDirty(s, true);
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
    for (let i = n - 1; i >= 0; i--) {
      const b = list[i] as OpenBucket;
      if (b.t === t) return b;
      if (b.t < t) {
        const nb = new OpenBucket(t, s.sketched);
        list.splice(i + 1, 0, nb);
        return nb;
      }
    }
    const nb = new OpenBucket(t, s.sketched);
    list.unshift(nb);
    return nb;
  }

  // ---- ingest (hot paths: no per-sample allocation beyond new series and buckets) ----------------

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
    accept(b.sketch as DDSketch, v, count);
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
    accept(b.sketch as DDSketch, v, 1);
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
    if (s.def.type === 'counter') {
      // a counter's increase; the first value is the baseline, a drop is a reset
      const prev = s.prev;
      s.prev = value;
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

  /** Close what is due at `now` (every few seconds); `force` closes everything (nothing is kept open). */
  advance(now: number): void {
    const openFrom = floorTo(now - GRACE, 10_000);
    if (openFrom <= this.openFrom) return;
    this.openFrom = openFrom;
    for (const s of this.all()) this.closeSeries(s, openFrom, now);
  }

  private emit(s: Series, tier: Tier, c: ClosedBucket): void {
    if (this.opts.collect) this.pending.push({ ...c, series: s, tier });
  }

  private closeSeries(s: Series, openFrom: number, now: number): void {
    if ((s.open10.length > 0 && (s.open10[0] as OpenBucket).t < openFrom) || (s.minute && s.minute.t + STEP['1m'] <= openFrom) || (s.hour && s.hour.t + STEP['1h'] <= openFrom)) this.markDirty(s, true);
    while (s.open10.length > 0 && (s.open10[0] as OpenBucket).t < openFrom) {
      const b = s.open10.shift() as OpenBucket;
      const c = closeBucket(b);
      s.tens.push(c);
      this.emit(s, '10s', c);
      this.mergeUp(s, 'minute', c, b.lastAt);
    }
    if (s.minute && s.minute.t + STEP['1m'] <= openFrom) this.closeMinute(s);
    if (s.hour && s.hour.t + STEP['1h'] <= openFrom) this.closeHour(s);
    this.prune(s, now);
  }

  private closeMinute(s: Series): void {
    const m = s.minute as OpenBucket;
    s.minute = undefined;
    const c = closeBucket(m);
    s.minutes.push(c);
    this.emit(s, '1m', c);
    this.mergeUp(s, 'hour', c, m.lastAt);
  }

  private closeHour(s: Series): void {
    const h = s.hour as OpenBucket;
    s.hour = undefined;
    const c = closeBucket(h);
    s.hours.push(c);
    this.emit(s, '1h', c);
  }

  private mergeUp(s: Series, tier: 'minute' | 'hour', c: ClosedBucket, lastAt: number): void {
    const step = tier === 'minute' ? STEP['1m'] : STEP['1h'];
    const t = floorTo(c.t, step);
    let target = s[tier];
    if (target && target.t !== t) {
      if (target.t < t) {
        if (tier === 'minute') this.closeMinute(s);
        else this.closeHour(s);
        target = undefined;
      } else return; // older than the open bucket (restored state): already counted
    }
    if (!target) target = s[tier] = new OpenBucket(t, s.sketched);
    mergeInto(target, c, lastAt);
  }

  private prune(s: Series, now: number): void {
    const drop = (ring: ClosedBucket[], keep: number) => {
      let i = 0;
      while (i < ring.length && (ring[i] as ClosedBucket).t < now - keep) i++;
      if (i > 0) ring.splice(0, i);
    };
    drop(s.tens, KEEP['10s']);
    drop(s.minutes, KEEP['1m']);
    drop(s.hours, KEEP['1h']);
    if (s.open10.length === 0 && !s.minute && !s.hour && s.tens.length === 0 && s.minutes.length === 0 && s.hours.length === 0) this.remove(s);
  }

  private remove(s: Series): void {
    const bySvc = this.idx[s.def.kind].get(s.def.service);
    const byName = bySvc?.get(s.def.name);
    if (byName?.get(s.def.sub) !== s) return;
    byName.delete(s.def.sub);
    if (byName.size === 0) bySvc?.delete(s.def.name);
    if (bySvc?.size === 0) this.idx[s.def.kind].delete(s.def.service);
    this.seriesCount--;
    const n = (this.perService.get(s.def.service) ?? 1) - 1;
    if (n > 0) this.perService.set(s.def.service, n);
    else this.perService.delete(s.def.service);
    if (s.origin !== undefined) {
      const o = (this.perOrigin.get(s.origin) ?? 1) - 1;
      if (o > 0) this.perOrigin.set(s.origin, o);
      else this.perOrigin.delete(s.origin);
    }
  }

  *all(): Generator<Series> {
    for (const kind of Object.keys(this.idx) as Kind[]) for (const bySvc of this.idx[kind].values()) for (const byName of bySvc.values()) yield* byName.values();
  }

  services(): Set<string> {
    const out = new Set<string>();
    for (const kind of Object.keys(this.idx) as Kind[]) for (const svc of this.idx[kind].keys()) out.add(svc);
    return out;
  }

  // ---- loading (restart, stored queries) ---------------------------------------------------------

  /** Put a stored closed bucket back into memory (rows must come oldest first per tier). */
  load(def: SeriesDef, tier: Tier, c: ClosedBucket, id?: number): Series | undefined {
    const s = this.series(def.kind, def.service, def.name, def.sub, def.labels, def.type, 0, true);
    if (!s) return undefined;
    if (id !== undefined) s.id = id;
    // a bucket restored as open supersedes the partial row a stop wrote for it
    const open = tier === '10s' ? s.open10.some((b) => b.t === c.t) : tier === '1m' ? s.minute?.t === c.t : s.hour?.t === c.t;
    if (open) return s;
    const ring = tier === '10s' ? s.tens : tier === '1m' ? s.minutes : s.hours;
    ring.push(c);
    const end = c.t + STEP[tier] - 1;
    if (c.count > 0 && end > s.lastAt) s.lastAt = end;
    if (def.type === 'counter' && !Number.isNaN(c.last) && c.t >= s.prevAt) {
      s.prev = c.last;
      s.prevAt = c.t;
    }
    return s;
  }

  /** Restore a bucket that was open at the last stop. */
  restoreOpen(def: SeriesDef, tier: Tier, c: ClosedBucket, id?: number): void {
    const s = this.series(def.kind, def.service, def.name, def.sub, def.labels, def.type, 0, true);
    if (!s) return;
    if (id !== undefined) s.id = id;
    const b = new OpenBucket(c.t, s.sketched);
    mergeInto(b, c, c.t);
    if (tier === '10s') {
      s.open10.push(b);
      s.open10.sort((x, y) => x.t - y.t);
    } else if (tier === '1m') s.minute = b;
    else s.hour = b;
    if (c.count > 0 && c.t > s.lastAt) s.lastAt = c.t;
    if (def.type === 'counter' && !Number.isNaN(c.last) && c.t >= s.prevAt) {
      s.prev = c.last;
      s.prevAt = c.t;
    }
    this.markDirty(s, true);
  }

  /** The open buckets of a series as they are, as rows (a checkpoint; restored by restoreOpen). */
  openRows(s: Series, tiers: 'all' | '10s' | 'upper' = 'all', out: Row[] = []): Row[] {
    if (tiers !== 'upper') for (const b of s.open10) out.push({ ...closeBucket(b), series: s, tier: '10s' });
    if (tiers !== '10s') {
      if (s.minute) out.push({ ...closeBucket(s.minute), series: s, tier: '1m' });
      if (s.hour) out.push({ ...closeBucket(s.hour), series: s, tier: '1h' });
    }
    return out;
  }

  /** Everything open, as rows: `raw` to restore exactly, `partial` (lower tiers merged in) for the tier tables. */
  snapshotOpen(): { raw: Row[]; partial: Row[] } {
    const raw: Row[] = [];
    const partial: Row[] = [];
    for (const s of this.all()) {
      raw.push(...this.openRows(s));
      for (const tier of TIERS) for (const c of this.openView(s, tier)) partial.push({ ...closeBucket(c), series: s, tier });
    }
    return { raw, partial };
  }

  /** Open data of a series at a tier: its open bucket merged with the lower tiers' open buckets, by period. */
  openView(s: Series, tier: Tier): OpenBucket[] {
    const step = STEP[tier];
    const byT = new Map<number, OpenBucket>();
    const add = (b: OpenBucket) => {
      const t = floorTo(b.t, step);
      let p = byT.get(t);
      if (!p) byT.set(t, (p = new OpenBucket(t, s.sketched)));
      mergeInto(p, b, b.lastAt);
    };
    for (const b of s.open10) add(b);
    if (tier !== '10s' && s.minute) add(s.minute);
    if (tier === '1h' && s.hour) add(s.hour);
    return [...byT.values()].sort((a, b) => a.t - b.t);
  }

  // ---- queries ------------------------------------------------------------------------------------

  /** Series of a kind matching service (all when undefined), name (all when undefined) and a sub filter. */
  match(kind: Kind, service: string | undefined, name: string | undefined, sub?: (s: Series) => boolean): Series[] {
    const out: Series[] = [];
    const svcs = service === undefined ? [...this.idx[kind].values()] : [this.idx[kind].get(service)].filter((x) => x !== undefined);
    for (const bySvc of svcs) {
      const names = name === undefined ? [...bySvc.values()] : [bySvc.get(name)].filter((x) => x !== undefined);
      for (const byName of names) for (const s of byName.values()) if (!sub || sub(s)) out.push(s);
    }
    return out;
  }

  /**
   * Aggregate the window [now - windowMs, now] over series. The newest ~5 minutes come from 10s
   * buckets, older parts of the last hour from minutes, older ones from hours (window starts are
   * aligned down to the tier used; `start` says where). Windows past 26h are clamped.
   */
  aggregate(list: Series[], windowMs: number, now: number, withSketch: boolean): Agg {
    const ws = now - Math.min(Math.max(windowMs, 1), MAX_WINDOW);
    const b1 = floorTo(now, STEP['1m']) - 5 * STEP['1m'];
    const b2 = floorTo(b1, STEP['1h']);
    const tensFrom = ws >= b1 ? floorTo(ws, STEP['10s']) : b1;
    const minFrom = ws >= b1 ? Infinity : ws >= b2 ? floorTo(ws, STEP['1m']) : b2;
    const hourFrom = ws >= b2 ? Infinity : floorTo(ws, STEP['1h']);
    const agg: Agg = { series: list.length, count: 0, errors: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, sketch: withSketch ? newSketch() : null, start: Math.min(tensFrom, minFrom, hourFrom) };
    for (const s of list) {
      let lastT = -Infinity;
      let last = NaN;
      const take = (b: ClosedBucket | OpenBucket) => {
        if (b.count === 0) return;
        agg.count += b.count;
        agg.errors += b.errors;
        agg.sum += b.sum;
        if (b.min < agg.min) agg.min = b.min;
        if (b.max > agg.max) agg.max = b.max;
        if (b.t >= lastT && !Number.isNaN(b.last)) {
          lastT = b.t;
          last = b.last;
        }
        if (agg.sketch) {
          if (b instanceof OpenBucket) {
            if (b.sketch && b.sketch.count > 0) agg.sketch.merge(b.sketch);
          } else if (b.enc) addEncoded(agg.sketch, b.enc);
        }
      };
      for (let i = s.tens.length - 1; i >= 0; i--) {
        const b = s.tens[i] as ClosedBucket;
        if (b.t < tensFrom) break;
        take(b);
      }
      for (const b of s.open10) if (b.t >= tensFrom) take(b);
      if (minFrom !== Infinity) {
        for (let i = s.minutes.length - 1; i >= 0; i--) {
          const b = s.minutes[i] as ClosedBucket;
          if (b.t < minFrom) break;
          if (b.t < b1) take(b);
        }
        if (s.minute && s.minute.t >= minFrom && s.minute.t < b1) take(s.minute);
      }
      if (hourFrom !== Infinity) {
        for (let i = s.hours.length - 1; i >= 0; i--) {
          const b = s.hours[i] as ClosedBucket;
          if (b.t < hourFrom) break;
          if (b.t < b2) take(b);
        }
        if (s.hour && s.hour.t >= hourFrom && s.hour.t < b2) take(s.hour);
      }
      if (!Number.isNaN(last)) agg.last += last;
    }
    return agg;
  }

  quantile(agg: Agg, q: number): number | null {
    return agg.sketch ? quantileOf(agg.sketch, q) : null;
  }

  lastSeen(service: string): number | undefined {
    let best = 0;
    for (const kind of Object.keys(this.idx) as Kind[]) {
      const bySvc = this.idx[kind].get(service);
      if (!bySvc) continue;
      for (const byName of bySvc.values()) for (const s of byName.values()) if (s.lastAt > best) best = s.lastAt;
    }
    return best > 0 ? best : undefined;
  }
}
