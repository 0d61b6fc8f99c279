/**
 * Quantile sketches for the rollups: DDSketch (relative accuracy 1%, mergeable) while a bucket is
 * open, a compact list of its non-empty bins once it is closed, and a small varint encoding of
 * those bins for the store (a DDSketch's own toProto() writes every bin between the lowest and the
 * highest as a double: 3KB for a typical latency spread, where this is a few hundred bytes).
 * Decoded bins merge back into a DDSketch exactly: quantiles of merged buckets keep the 1% bound.
 */
import { DDSketch } from '@datadog/sketches-js';
import { RELATIVE_ACCURACY, sparseAdd, type SparseBins } from '../core/sparse-bins.js';

export { RELATIVE_ACCURACY };
type DenseStore = DDSketch['store'];

/**
 * A DDSketch whose stores grow in chunks of 16 bins instead of 128: most buckets of a series hold
 * a narrow range of values, and thousands of series each keep an open bucket or three.
 */
export function newSketch(): DDSketch {
  const s = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
  const Store = s.store.constructor as new (chunkSize?: number) => DenseStore;
  s.store = new Store(16);
  s.negativeStore = new Store(16);
  return s;
}

/** The non-empty bins of a closed sketch (values <= 0 are counted in `zero`). */
export interface Bins {
  keys: Int32Array;
  counts: Float64Array;
  zero: number;
}

const EMPTY = new Int32Array(0);
const EMPTY_COUNTS = new Float64Array(0);

/** Add a value (negative values count as 0: latencies and vitals are never negative). */
export function accept(s: DDSketch, value: number, weight: number): void {
  s.accept(value > 0 ? value : 0, weight);
}

export function binsOf(s: DDSketch): Bins {
  const bins = s.store.bins;
  let n = 0;
  for (let i = 0; i < bins.length; i++) if ((bins[i] as number) > 0) n++;
  if (n === 0) return { keys: EMPTY, counts: EMPTY_COUNTS, zero: s.zeroCount + s.negativeStore.count };
  const keys = new Int32Array(n);
  const counts = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < bins.length; i++) {
    const c = bins[i] as number;
    if (c > 0) {
      keys[j] = i + s.store.offset;
      counts[j++] = c;
    }
  }
  return { keys, counts, zero: s.zeroCount + s.negativeStore.count };
}

/** Merge closed bins into a sketch (only its quantiles are kept up to date, not sum/min/max). */
export function addBins(target: DDSketch, b: Bins): void {
  const store = target.store;
  let n = b.zero;
  for (let i = 0; i < b.keys.length; i++) {
    const c = b.counts[i] as number;
    store.add(b.keys[i] as number, c);
    n += c;
  }
  target.zeroCount += b.zero;
  target.count += n;
}

/** The value at quantile q of a sketch, or null when it is empty. */
export function quantileOf(s: DDSketch, q: number): number | null {
  if (s.count <= 0) return null;
  const v = s.getValueAtQuantile(Math.min(1, Math.max(0, q)));
  return Number.isFinite(v) ? v : null;
}

/** Encode a sketch's non-empty bins directly (what closed buckets keep in memory and in the store). */
export function encodeSketch(s: DDSketch): Uint8Array {
  const bins = s.store.bins;
  const zero = s.zeroCount + s.negativeStore.count;
  let integral = Number.isInteger(zero);
  let n = 0;
  for (let i = 0; i < bins.length; i++) {
    const c = bins[i] as number;
    if (c > 0) {
      n++;
      if (!Number.isInteger(c)) integral = false;
    }
  }
  if (!integral) return encodeBins(binsOf(s));
  const out: number[] = [1];
  pushVarint(out, zero);
  pushVarint(out, n);
  let prev = 0;
  for (let i = 0; i < bins.length; i++) {
    const c = bins[i] as number;
    if (c > 0) {
      const key = i + s.store.offset;
      const d = key - prev;
      prev = key;
      pushVarint(out, d >= 0 ? d * 2 : -d * 2 - 1);
      pushVarint(out, c);
    }
  }
  return Uint8Array.from(out);
}

/** Merge encoded bins into a sketch (its quantiles; sum/min/max are kept by the buckets). */
export function addEncoded(target: DDSketch, bytes: Uint8Array): void {
  if (bytes[0] !== 1) {
    addBins(target, decodeBins(bytes));
    return;
  }
  let pos = 1;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error('truncated sketch');
      v += (b & 127) * mul;
      if (b < 128) return v;
      mul *= 128;
    }
  };
  const zero = read();
  const n = read();
  const store = target.store;
  let total = zero;
  let key = 0;
  for (let i = 0; i < n; i++) {
    const z = read();
    key += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const c = read();
    store.add(key, c);
    total += c;
  }
  target.zeroCount += zero;
  target.count += total;
}

// ---- encoding: [version][zero][n]( [zigzag key delta][count] )*, varints; version 2 stores counts as float64

function pushVarint(out: number[], v: number): void {
  // v is a non-negative integer up to 2^53
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

export function encodeBins(b: Bins): Uint8Array {
  let integral = Number.isInteger(b.zero);
  for (let i = 0; i < b.counts.length && integral; i++) integral = Number.isInteger(b.counts[i]);
  const out: number[] = [integral ? 1 : 2];
  if (integral) pushVarint(out, b.zero);
  pushVarint(out, b.keys.length);
  let prev = 0;
  for (let i = 0; i < b.keys.length; i++) {
    const d = (b.keys[i] as number) - prev;
    prev = b.keys[i] as number;
    pushVarint(out, d >= 0 ? d * 2 : -d * 2 - 1);
    if (integral) pushVarint(out, b.counts[i] as number);
  }
  const head = Uint8Array.from(out);
  if (integral) return head;
  // float counts (never from Shipshape's own sources, kept for safety): zero and counts as float64 after the keys
  const floats = new Float64Array(b.counts.length + 1);
  floats[0] = b.zero;
  floats.set(b.counts, 1);
  const bytes = new Uint8Array(head.length + floats.byteLength);
  bytes.set(head, 0);
  bytes.set(new Uint8Array(floats.buffer), head.length);
  return bytes;
}

export function decodeBins(bytes: Uint8Array): Bins {
  let pos = 0;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= bytes.length) throw new Error('truncated sketch');
      const b = bytes[pos++] as number;
      v += (b & 127) * mul;
      if (b < 128) return v;
      mul *= 128;
      if (mul > 2 ** 56) throw new Error('bad varint in sketch');
    }
  };
  const version = bytes[pos++];
  if (version !== 1 && version !== 2) throw new Error(`unknown sketch encoding ${String(version)}`);
  const zero = version === 1 ? read() : 0;
  const n = read();
  if (n > 100_000) throw new Error('sketch too large');
  const keys = new Int32Array(n);
  const counts = new Float64Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const z = read();
    prev += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    keys[i] = prev;
    if (version === 1) counts[i] = read();
  }
  if (version === 1) return { keys, counts, zero };
  const floats = new Float64Array(bytes.slice(pos, pos + (n + 1) * 8).buffer);
  if (floats.length !== n + 1) throw new Error('truncated sketch');
  counts.set(floats.subarray(1));
  return { keys, counts, zero: floats[0] as number };
}

// ---- compact bins: what an open bucket keeps instead of a DDSketch (src/core/sparse-bins.ts) ------

export { keyOf, sparseAdd, sparseAddExact, addSparse, type SparseBins } from '../core/sparse-bins.js';

/** Merge encoded bins into compact bins; returns the zero count they held. */
export function addEncodedToSparse(bins: SparseBins, bytes: Uint8Array): number {
  const b = decodeBins(bytes);
  for (let i = 0; i < b.keys.length; i++) sparseAdd(bins, b.keys[i] as number, b.counts[i] as number);
  return b.zero;
}

/** Encode compact bins (the store's and the closed buckets' format); null when empty. */
export function encodeSparse(bins: SparseBins, zero: number): Uint8Array | null {
  const n = bins.length >> 1;
  if (n === 0 && zero === 0) return null;
  const keys = new Int32Array(n);
  const counts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = bins[i * 2] as number;
    counts[i] = bins[i * 2 + 1] as number;
  }
  return encodeBins({ keys, counts, zero });
}

/** The sum of two encoded bin sets (a closed 10s bucket merged into its stored minute or hour). */
export function mergeEncoded(a: Uint8Array | null, b: Uint8Array | null): Uint8Array | null {
  if (!a) return b;
  if (!b) return a;
  const bins: SparseBins = [];
  const zero = addEncodedToSparse(bins, a) + addEncodedToSparse(bins, b);
  return encodeSparse(bins, zero);
}
