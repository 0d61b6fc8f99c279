/**
 * What the proxy measures of each release: requests, failed requests (5xx, or cut before the
 * answer was complete) and latency. Counters only ever grow, so a window is the difference of two
 * snapshots (`since`), and windows of two releases taken at the same moments compare like for like
 * (the canary analysis, the watch window).
 *
 * Latency goes into fixed log-spaced buckets (each 10% wider than the one before, from 0.1 ms to
 * ~10 min): a snapshot is a copy of ~170 integers and a quantile is read to within 5%.
 */

const MIN_MS = 0.1;
const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 170; // 0.1 ms · 1.1^169 ≈ 10 min

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
}

/** The upper bound of a bucket, in ms. */
const upper = (i: number) => MIN_MS * GROWTH ** i;

export interface StatsSnapshot {
  requests: number;
  errors: number;
  buckets: Uint32Array;
}

export interface WindowStats {
  requests: number;
  errors: number;
  /** errors / requests (0 with no requests) */
  errorRate: number;
  /** 1 - errorRate, as the Flagger-style "request success rate" */
  successRate: number;
  /** ms; null with no requests */
  p95: number | null;
  p50: number | null;
}

export class ReleaseStats {
  requests = 0;
  errors = 0;
  private readonly buckets = new Uint32Array(BUCKETS);

  record(ms: number, error: boolean): void {
    this.requests++;
    if (error) this.errors++;
    this.buckets[bucketOf(ms)]!++;
  }

  /** Counters carried on from a snapshot (a daemon handing over to its successor). */
  static from(s: { requests: number; errors: number; buckets: ArrayLike<number> }): ReleaseStats {
    const st = new ReleaseStats();
    st.requests = s.requests;
    st.errors = s.errors;
    for (let i = 0; i < BUCKETS && i < s.buckets.length; i++) st.buckets[i] = s.buckets[i] ?? 0;
    return st;
  }

  snapshot(): StatsSnapshot {
    return { requests: this.requests, errors: this.errors, buckets: this.buckets.slice() };
  }

  /** What happened since `from` (a snapshot of this release); everything when `from` is absent. */
  since(from?: StatsSnapshot): WindowStats {
    const buckets = from ? this.buckets.map((n, i) => n - (from.buckets[i] ?? 0)) : this.buckets;
    return windowOf(this.requests - (from?.requests ?? 0), this.errors - (from?.errors ?? 0), buckets);
  }
}

/** Stats of the requests between two snapshots (`from` older). */
export function between(from: StatsSnapshot | undefined, to: StatsSnapshot): WindowStats {
  const buckets = from ? to.buckets.map((n, i) => n - (from.buckets[i] ?? 0)) : to.buckets;
  return windowOf(to.requests - (from?.requests ?? 0), to.errors - (from?.errors ?? 0), buckets);
}

function windowOf(requests: number, errors: number, buckets: Uint32Array): WindowStats {
  return {
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : 0,
    successRate: requests > 0 ? 1 - errors / requests : 1,
    p95: quantile(buckets, requests, 0.95),
    p50: quantile(buckets, requests, 0.5),
  };
}

/** The q-quantile of a bucket array holding `total` values: the upper bound of the bucket it falls in. */
function quantile(buckets: Uint32Array, total: number, q: number): number | null {
  if (total <= 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= rank) return Math.round(upper(i) * 100) / 100;
  }
  return Math.round(upper(BUCKETS - 1) * 100) / 100;
}

/** The counters of a release that has answered nothing yet. */
export function emptySnapshot(): StatsSnapshot {
  return { requests: 0, errors: 0, buckets: new Uint32Array(BUCKETS) };
}
