/**
 * A service's telemetry for the dashboard's charts: request rate, error rate and latency
 * quantiles per step, web vitals p75 per step, and a per-route table, over [from, to]. The
 * resolution follows the range (10s up to 3h, 1m up to 2 days, 1h beyond); stored rows are
 * added to what is still in memory (open buckets, closed ones not written yet).
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { Store } from '../core/store/db.js';
import type { TelemetryTables } from './migrations.js';
import { STEP, type ClosedBucket, type OpenBucket, type Rollup, type Row, type Tier } from './rollup.js';
import { addEncoded, addSparse, newSketch, quantileOf } from './sketch.js';
import { closedOf, defOf, readRows } from './storage.js';
import type { VitalName } from './types.js';

export interface ChartResponse {
  service: string;
  from: string;
  to: string;
  /** the resolution: one point per step_ms; `t` values are epoch ms (UTC) of each step's start */
  step_ms: number;
  series: { t: number[]; request_rate: (number | null)[]; error_rate: (number | null)[]; p50: (number | null)[]; p95: (number | null)[]; p99: (number | null)[] };
  vitals: Partial<Record<VitalName, { t: number[]; p75: (number | null)[] }>>;
  routes: { route: string; requests: number; error_rate: number | null; p95: number | null }[];
}

export function tierFor(rangeMs: number): Tier {
  if (rangeMs <= 3 * 3_600_000) return '10s';
  if (rangeMs <= 2 * 86_400_000) return '1m';
  return '1h';
}

interface Acc {
  count: number;
  errors: number;
  sketch: DDSketch;
}

const round = (v: number | null, d = 3) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);

/**
 * The chart of a service over [from, to]: the stored rows of the tier (they hold every closed 10s
 * bucket written) plus what memory holds (open buckets, closed ones not written yet), added into
 * their period. `read` runs the reads with checkpoints held off (memory and store agree).
 */
export async function chart(store: Store<TelemetryTables>, rollup: Rollup, service: string, from: number, to: number, read: <T>(f: () => Promise<T>) => Promise<T> = (f) => f()): Promise<ChartResponse> {
  const tier = tierFor(to - from);
  const step = STEP[tier];
  const start = Math.floor(from / step) * step;
  const buckets: { kind: string; name: string; b: ClosedBucket | OpenBucket }[] = [];
  await read(async () => {
    const rows = await readRows(store, tier, start, to, { service, kinds: ['requests', 'vitals'] });
    for (const r of rows) {
      const def = defOf(r);
      buckets.push({ kind: def.kind, name: def.name, b: closedOf(r) });
    }
    const mem = [...rollup.match('requests', service, undefined), ...rollup.match('vitals', service, undefined)];
    const inChart = new Set(mem);
    for (const s of mem) for (const b of s.open10) buckets.push({ kind: s.kind, name: s.name, b });
    for (const r of rollup.pending as Row[]) if (inChart.has(r.series)) buckets.push({ kind: r.series.kind, name: r.series.name, b: r });
  });

  const n = Math.max(0, Math.min(10_000, Math.floor((to - start) / step) + 1));
  const t = Array.from({ length: n }, (_, i) => start + i * step);
  const perT: (Acc | undefined)[] = new Array(n);
  const vitals = new Map<string, (DDSketch | undefined)[]>();
  const routes = new Map<string, Acc>();
  const addSketch = (target: DDSketch, b: ClosedBucket | OpenBucket) => {
    if ('bins' in b) {
      if (b.bins !== null) addSparse(target, b.bins, b.zero);
    } else if (b.enc) addEncoded(target, b.enc);
  };
  for (const { kind, name, b } of buckets) {
    if (b.count <= 0 || b.t < start || b.t > to) continue;
    const i = Math.floor((b.t - start) / step);
    if (i < 0 || i >= n) continue;
    if (kind === 'requests') {
      let a = perT[i];
      if (!a) perT[i] = a = { count: 0, errors: 0, sketch: newSketch() };
      a.count += b.count;
      a.errors += b.errors;
      addSketch(a.sketch, b);
      let r = routes.get(name);
      if (!r) routes.set(name, (r = { count: 0, errors: 0, sketch: newSketch() }));
      r.count += b.count;
      r.errors += b.errors;
      addSketch(r.sketch, b);
    } else {
      let v = vitals.get(name);
      if (!v) vitals.set(name, (v = new Array(n)));
      let sk = v[i];
      if (!sk) v[i] = sk = newSketch();
      addSketch(sk, b);
    }
  }
  const q = (i: number, p: number) => {
    const a = perT[i];
    return a ? round(quantileOf(a.sketch, p), 2) : null;
  };
  const out: ChartResponse = {
    service,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    step_ms: step,
    series: {
      t,
      request_rate: t.map((_, i) => (perT[i] ? round((perT[i] as Acc).count / (step / 1000)) : null)),
      error_rate: t.map((_, i) => (perT[i] ? round((perT[i] as Acc).errors / (perT[i] as Acc).count, 5) : null)),
      p50: t.map((_, i) => q(i, 0.5)),
      p95: t.map((_, i) => q(i, 0.95)),
      p99: t.map((_, i) => q(i, 0.99)),
    },
    vitals: {},
    routes: [...routes.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, 100)
      .map(([route, a]) => ({ route, requests: a.count, error_rate: a.count > 0 ? round(a.errors / a.count, 5) : null, p95: round(quantileOf(a.sketch, 0.95), 2) })),
  };
  for (const [name, list] of vitals) {
    out.vitals[name as VitalName] = { t, p75: t.map((_, i) => (list[i] ? round(quantileOf(list[i] as DDSketch, 0.75), name === 'CLS' ? 4 : 1) : null)) };
  }
  return out;
}
