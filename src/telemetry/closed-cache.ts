/**
 * What the live query keeps of closed periods it read from the store, so an alert rule evaluated
 * every few seconds does not read the same stored rows again each time.
 *
 * A closed period (a 10s bucket, a minute, an hour) never changes once every 10s bucket in it is
 * closed and written: the checkpoint writes a closed bucket and merges it into its minute and hour
 * rows in one transaction, and nothing writes those rows again (only retention deletes them). So
 * the stored rows of such a period are read once and kept merged over the series list a query
 * covers (one rule target: a service's request series, a metric's series…) — a "part": counts,
 * sums, min/max, the merged sketch bins (encoded, like a stored row) and, for lists with gauges,
 * each series' last value. A window is then the parts of its closed periods plus what is still
 * open or not yet final, read as before.
 *
 * Lists are keyed by the store ids of their series, so a list whose series change (a new route, a
 * series written for the first time) is a new list. Memory is bounded three ways: parts a list's
 * queries no longer reach are dropped within two minutes, lists not queried for ten minutes go, and
 * past `maxBytes` (estimated) the least recently queried lists go.
 */
import type { Tier } from './rollup.js';
import { encodeSparse, addEncodedToSparse, type SparseBins } from './sketch.js';

/** The merged stored rows of one closed period over one series list. */
export interface Part {
  count: number;
  errors: number;
  sum: number;
  min: number;
  max: number;
  /** the merged sketch bins (encoded); null when there were none, undefined when not read */
  enc: Uint8Array | null | undefined;
  /** per series of the list (by position): the row's last value (NaN when none); null: no gauges or no values */
  lasts: Float64Array | null;
}

/** A stored row of a period, as read (closedOf). */
export interface PartRow {
  count: number;
  errors: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  enc: Uint8Array | null;
}

/** Builds a part from the rows of one period, in any order. */
export class PartBuilder {
  private readonly part: Part = { count: 0, errors: 0, sum: 0, min: Infinity, max: -Infinity, enc: undefined, lasts: null };
  private readonly bins: SparseBins = [];
  private zero = 0;
  constructor(
    private readonly size: number,
    private readonly gauges: boolean,
    private readonly withSketch: boolean,
  ) {}

  /** a row of the series at position `i` of the list */
  add(i: number, r: PartRow): void {
    // an empty row counts for nothing (aggregate's `take` skips it too)
    if (r.count === 0) return;
    const p = this.part;
    p.count += r.count;
    p.errors += r.errors;
    p.sum += r.sum;
    if (r.min < p.min) p.min = r.min;
    if (r.max > p.max) p.max = r.max;
    if (this.gauges && !Number.isNaN(r.last)) {
      if (p.lasts === null) p.lasts = new Float64Array(this.size).fill(NaN);
      p.lasts[i] = r.last;
    }
    if (this.withSketch && r.enc) this.zero += addEncodedToSparse(this.bins, r.enc);
  }

  done(): Part {
    if (this.withSketch) this.part.enc = encodeSparse(this.bins, this.zero);
    return this.part;
  }
}

/** One series list's parts, by tier and period start. */
export class ListParts {
  readonly parts: Record<Tier, Map<number, Part>> = { '10s': new Map(), '1m': new Map(), '1h': new Map() };
  /** a query of this list asked for sketches: parts are read with them from then on */
  sketch = false;
  /** estimated heap of the parts */
  bytes = 0;
  usedAt = 0;
  /** no longer in the cache (evicted or idle): a query still holding it keeps nothing more in it */
  gone = false;
  /** the oldest period start asked of each tier: [the sweep interval before, this one] */
  private readonly reach: Record<Tier, [number, number]> = { '10s': [Infinity, Infinity], '1m': [Infinity, Infinity], '1h': [Infinity, Infinity] };
  constructor(
    /** the store ids of the list's series, in the order part `lasts` use */
    readonly ids: readonly number[],
    readonly gauges: boolean,
  ) {}

  /** note that a query reached back to `from` in `tier` */
  reached(tier: Tier, from: number): void {
    const r = this.reach[tier];
    if (from < r[1]) r[1] = from;
  }

  /** Drop the parts older than what queries reached in this sweep interval and the one before; the bytes freed. */
  trim(): number {
    let freed = 0;
    for (const tier of Object.keys(this.parts) as Tier[]) {
      const r = this.reach[tier];
      const keepFrom = Math.min(r[0], r[1]);
      freed += this.drop(tier, keepFrom);
      this.reach[tier] = [r[1], Infinity];
    }
    return freed;
  }

  /** Drop the parts of `tier` before `before`; the bytes freed. */
  drop(tier: Tier, before: number): number {
    let freed = 0;
    const m = this.parts[tier];
    for (const [t, p] of m)
      if (t < before) {
        m.delete(t);
        freed += sizeOf(p);
      }
    this.bytes -= freed;
    return freed;
  }
}

/** Estimated heap of a part (object, numbers, the encoded bins, the lasts array, its map entry). */
function sizeOf(p: Part): number {
  return 160 + (p.enc ? 96 + p.enc.byteLength : 0) + (p.lasts ? 96 + p.lasts.byteLength : 0);
}

const SWEEP_EVERY = 60_000;
const LIST_IDLE = 10 * 60_000;

export interface ClosedCacheStats {
  lists: number;
  parts: number;
  /** the start of the oldest period kept (Infinity: none) */
  oldest: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

/** The closed periods queries read, merged per series list (see the file comment). */
export class ClosedCache {
  private readonly lists = new Map<string, ListParts>();
  private bytes = 0;
  /** rows before these were deleted by retention: parts there are neither used nor kept */
  private readonly prunedBefore: Record<Tier, number> = { '10s': -Infinity, '1m': -Infinity, '1h': -Infinity };
  private lastSweep = -Infinity;
  readonly counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(readonly maxBytes: number) {}

  /** The list of these store ids (created empty), marked as the most recently used. */
  list(ids: readonly number[], gauges: boolean, now: number): ListParts {
    const key = ids.join(',') + (gauges ? 'g' : '');
    let l = this.lists.get(key);
    if (l) this.lists.delete(key);
    else l = new ListParts(ids, gauges);
    this.lists.set(key, l);
    l.usedAt = now;
    if (now - this.lastSweep >= SWEEP_EVERY) this.sweep(now);
    return l;
  }

  /** A kept part of a period (null when there is none usable). */
  get(l: ListParts, tier: Tier, t: number, withSketch: boolean): Part | null {
    if (t < this.prunedBefore[tier]) return null;
    const p = l.parts[tier].get(t);
    if (p === undefined || (withSketch && p.enc === undefined)) {
      this.counters.misses++;
      return null;
    }
    this.counters.hits++;
    return p;
  }

  /**
   * Keep a part read from the store (its period must be closed and written). Over the budget, the
   * least recently queried other lists go; a part that still does not fit is not kept.
   */
  put(l: ListParts, tier: Tier, t: number, p: Part): void {
    if (l.gone || t < this.prunedBefore[tier]) return;
    const m = l.parts[tier];
    const old = m.get(t);
    const add = sizeOf(p) - (old ? sizeOf(old) : 0);
    if (this.bytes + add > this.maxBytes) this.evict(l, this.maxBytes - add);
    if (this.bytes + add > this.maxBytes) return;
    m.set(t, p);
    l.bytes += add;
    this.bytes += add;
  }

  /** Retention deleted the rows of `tier` before `before`: forget what was read of them. */
  pruned(tier: Tier, before: number): void {
    if (before > this.prunedBefore[tier]) this.prunedBefore[tier] = before;
    for (const l of this.lists.values()) this.bytes -= l.drop(tier, before);
  }

  /** Forget everything. */
  clear(): void {
    for (const l of this.lists.values()) l.gone = true;
    this.lists.clear();
    this.bytes = 0;
  }

  stats(): ClosedCacheStats {
    let parts = 0;
    let oldest = Infinity;
    for (const l of this.lists.values())
      for (const tier of Object.keys(l.parts) as Tier[]) {
        parts += l.parts[tier].size;
        for (const t of l.parts[tier].keys()) if (t < oldest) oldest = t;
      }
    return { lists: this.lists.size, parts, oldest, bytes: this.bytes, ...this.counters };
  }

  /** least recently used lists go until the estimate is at most `target` (never `keep`, the one being filled) */
  private evict(keep: ListParts, target: number): void {
    for (const [key, l] of this.lists) {
      if (this.bytes <= target) return;
      if (l === keep) continue;
      l.gone = true;
      this.lists.delete(key);
      this.bytes -= l.bytes;
      this.counters.evictions++;
    }
  }

  /**
   * Once a minute: lists not queried for ten minutes go; of the others, the parts older than what
   * their queries reached in this and the previous interval (windows slide past them).
   */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, l] of this.lists) {
      if (now - l.usedAt > LIST_IDLE) {
        l.gone = true;
        this.lists.delete(key);
        this.bytes -= l.bytes;
      } else this.bytes -= l.trim();
    }
  }
}
