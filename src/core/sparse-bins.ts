/**
 * Compact quantile-sketch bins shared by the checks' history and telemetry: the non-empty bins of
 * a DDSketch (relative accuracy 1%) as one plain array, `[key, count, key, count, …]` sorted by key.
 * Small integers: a bucket of 10 distinct latencies costs ~100–200 bytes where a DDSketch with its
 * dense stores costs ~1–2 KB. Keys are DDSketch's own, so bins merge exactly with its stores and
 * quantiles keep the 1% bound.
 */
import { DDSketch } from '@datadog/sketches-js';

export const RELATIVE_ACCURACY = 0.01;

export type SparseBins = number[];

/** DDSketch's own key mapping (1% relative accuracy): keys computed here merge exactly with its stores. */
const MAPPING = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;
const MIN_INDEXABLE = MAPPING.minPossible;

/** The bin key of a value, or null when it counts as zero (values <= 0 and below DDSketch's range). */
export function keyOf(value: number): number | null {
  return value > MIN_INDEXABLE ? MAPPING.key(value) : null;
}

/** The pair index of bin `key` (binary search), or `-(where it would go) - 1` when there is none. */
function locate(bins: SparseBins, key: number): number {
  let lo = 0;
  let hi = bins.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const k = bins[mid * 2] as number;
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid;
  }
  return -lo - 1;
}

/** Add `count` to the bin `key` (a new bin is spliced in). */
export function sparseAdd(bins: SparseBins, key: number, count: number): void {
  const i = locate(bins, key);
  if (i >= 0) bins[i * 2 + 1] = (bins[i * 2 + 1] as number) + count;
  else bins.splice((-i - 1) * 2, 0, key, count);
}

/**
 * `sparseAdd` for bins that live long (open buckets): a new bin makes a new array of exactly the
 * size needed and returns it (the same array when the bin existed). An array grown in place by
 * `splice` gets half its length again plus 16 slots of room: ~480 bytes for 14 bins where they
 * need ~240, on every open bucket of every series.
 */
export function sparseAddExact(bins: SparseBins, key: number, count: number): SparseBins {
  const i = locate(bins, key);
  if (i >= 0) {
    bins[i * 2 + 1] = (bins[i * 2 + 1] as number) + count;
    return bins;
  }
  const n = bins.length;
  const at = (-i - 1) * 2;
  const out: SparseBins = new Array<number>(n + 2);
  for (let j = 0; j < at; j++) out[j] = bins[j] as number;
  out[at] = key;
  out[at + 1] = count;
  for (let j = at; j < n; j++) out[j + 2] = bins[j] as number;
  return out;
}

/** Merge compact bins into a DDSketch (its quantiles; sum/min/max are kept by the buckets). */
export function addSparse(target: DDSketch, bins: SparseBins, zero: number): void {
  const store = target.store;
  let total = zero;
  for (let i = 0; i < bins.length; i += 2) {
    const c = bins[i + 1] as number;
    store.add(bins[i] as number, c);
    total += c;
  }
  target.zeroCount += zero;
  target.count += total;
}

/** A DDSketch's bins as compact bins (negative values count as zero); returns the zero count. */
export function sparseFromSketch(s: DDSketch, bins: SparseBins): number {
  const dense = s.store.bins;
  for (let i = 0; i < dense.length; i++) {
    const c = dense[i] as number;
    if (c > 0) sparseAdd(bins, i + s.store.offset, c);
  }
  return s.zeroCount + s.negativeStore.count;
}
