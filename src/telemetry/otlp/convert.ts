/**
 * OTLP metrics and traces (already decoded to the OTLP/JSON shape) into rollup samples.
 *
 * Requests come from the `http.server.request.duration` histogram (seconds; the older
 * `http.server.duration` in ms is accepted too): each bucket's count feeds the sketch at the
 * bucket's midpoint (the first bucket at half its upper bound, the overflow bucket at its lower
 * bound). Cumulative points are diffed per series (resource + scope + metric + attributes); a new
 * start time or a count that went down is a reset. Gauges and sums become metric samples. SERVER
 * spans become requests only for services that sent no request-duration metrics in the last 5
 * minutes, so nothing is counted twice.
 */
import type { Rollup } from '../rollup.js';

type Obj = Record<string, unknown>;
type Attr = string | number | boolean;

const REQUEST_METRICS: Record<string, number> = { 'http.server.request.duration': 1000, 'http.server.duration': 1 };
const UNIT_MS: Record<string, number> = { s: 1000, ms: 1, us: 0.001, 'μs': 0.001, ns: 0.000001, min: 60_000 };
const DELTA = 1;
const CUMULATIVE = 2;
const SPAN_KIND_SERVER = 2;
const STATUS_ERROR = 2;
/** a service that sent request metrics this recently is not counted again from its spans */
export const METRICS_PREFERRED_FOR = 5 * 60_000;
const STATE_TTL = 30 * 60_000;
const MAX_LABELS = 20;
const MAX_STATE = 500_000;

export class OtlpError extends Error {}

const arr = (x: unknown): Obj[] => (Array.isArray(x) ? (x as Obj[]) : []);
const obj = (x: unknown): Obj => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {});

/** A 64-bit number as OTLP/JSON (string or number) or protobufjs (Long-like) gives it. */
export function num(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'string') return x === '' ? NaN : Number(x);
  if (typeof x === 'bigint') return Number(x);
  if (x && typeof x === 'object' && 'low' in x && 'high' in x) {
    const l = x as { low: number; high: number; unsigned?: boolean };
    return l.high * 4294967296 + (l.low >>> 0);
  }
  return NaN;
}

function anyValue(v: unknown): Attr | undefined {
  const o = obj(v);
  if (typeof o.stringValue === 'string') return o.stringValue;
  if (o.intValue !== undefined && o.intValue !== null) return num(o.intValue);
  if (typeof o.doubleValue === 'number') return o.doubleValue;
  if (typeof o.doubleValue === 'string') return Number(o.doubleValue);
  if (typeof o.boolValue === 'boolean') return o.boolValue;
  return undefined;
}

export function attributes(list: unknown): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const kv of arr(list)) {
    if (typeof kv.key !== 'string') continue;
    const v = anyValue(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

function attrsKey(a: Record<string, Attr>): string {
  return JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));
}

function statusOf(a: Record<string, Attr>): number {
  const s = a['http.response.status_code'] ?? a['http.status_code'];
  const n = typeof s === 'number' ? s : typeof s === 'string' ? Number(s) : 0;
  return Number.isFinite(n) ? n : 0;
}

function isError(a: Record<string, Attr>, status: number): boolean {
  const e = a['error.type'];
  return status >= 500 || (e !== undefined && e !== '' && e !== false);
}

interface CumState {
  start: number;
  counts: number[];
  total: number;
  seen: number;
}

export interface ConvertResult {
  accepted: number;
  rejected: number;
  /** why points were rejected (the first reason) */
  reason?: string;
}

export class OtlpConverter {
  private readonly state = new Map<string, CumState>();
  /** services whose request metrics arrived, and when */
  private readonly metricServices = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    private readonly rollup: Rollup,
    /** cumulative series first seen with a start time before this (ns) only set a baseline */
    private readonly countFromNs: number,
  ) {}

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, s] of this.state) if (now - s.seen > STATE_TTL) this.state.delete(k);
    // bounded whatever the attributes: forgetting a series costs one export interval of it
    if (this.state.size > MAX_STATE) this.state.clear();
    for (const [k, at] of this.metricServices) if (now - at > METRICS_PREFERRED_FOR) this.metricServices.delete(k);
  }

  /**
   * The increase since the last point of a series: the counts themselves for DELTA points, the
   * difference for CUMULATIVE ones (all of it after a reset, nothing for a series first seen
   * mid-life whose earlier counts we never saw).
   */
  private increase(key: string, temporality: number, start: number, counts: number[], now: number): number[] | null {
    if (temporality !== CUMULATIVE) return counts;
    const prev = this.state.get(key);
    this.state.set(key, { start, counts, total: 0, seen: now });
    if (!prev) return Number.isFinite(start) && start >= this.countFromNs ? counts : null;
    if (prev.start !== start || prev.counts.length !== counts.length) return counts;
    const diff = new Array<number>(counts.length);
    for (let i = 0; i < counts.length; i++) {
      const d = (counts[i] as number) - (prev.counts[i] as number);
      if (d < 0) return counts; // went down: a reset
      diff[i] = d;
    }
    return diff;
  }

  metrics(body: unknown, now: number): ConvertResult {
    const root = obj(body);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OtlpError('expected an ExportMetricsServiceRequest object');
    if (root.resourceMetrics !== undefined && !Array.isArray(root.resourceMetrics)) throw new OtlpError('resourceMetrics must be an array');
    this.sweep(now);
    const res: ConvertResult = { accepted: 0, rejected: 0 };
    const reject = (n: number, why: string) => {
      res.rejected += n;
      res.reason ??= why;
    };
    for (const rm of arr(root.resourceMetrics)) {
      const resAttrs = attributes(obj(rm.resource).attributes);
      const service = typeof resAttrs['service.name'] === 'string' && resAttrs['service.name'] !== '' ? resAttrs['service.name'] : 'unknown_service';
      const resKey = attrsKey(resAttrs);
      for (const sm of arr(rm.scopeMetrics)) {
        const scope = obj(sm.scope);
        const scopeKey = `${String(scope.name ?? '')}@${String(scope.version ?? '')}`;
        for (const m of arr(sm.metrics)) {
          const name = typeof m.name === 'string' ? m.name : '';
          if (!name) {
            reject(1, 'a metric without a name');
            continue;
          }
          const base = `${resKey}\u0000${scopeKey}\u0000${name}\u0000`;
          if (m.histogram && name in REQUEST_METRICS) {
            const h = obj(m.histogram);
            const unit = typeof m.unit === 'string' && m.unit in UNIT_MS ? (UNIT_MS[m.unit] as number) : (REQUEST_METRICS[name] as number);
            this.metricServices.set(service, now);
            for (const p of arr(h.dataPoints)) this.histogramPoint(res, reject, service, base, num(h.aggregationTemporality), p, unit, now);
          } else if (m.exponentialHistogram && name in REQUEST_METRICS) {
            const h = obj(m.exponentialHistogram);
            const unit = typeof m.unit === 'string' && m.unit in UNIT_MS ? (UNIT_MS[m.unit] as number) : (REQUEST_METRICS[name] as number);
            this.metricServices.set(service, now);
            for (const p of arr(h.dataPoints)) this.exponentialPoint(res, reject, service, base, num(h.aggregationTemporality), p, unit, now);
          } else if (m.gauge || m.sum) {
            const isSum = !!m.sum;
            const g = obj(m.sum ?? m.gauge);
            const temporality = num(g.aggregationTemporality);
            const monotonic = isSum && g.isMonotonic === true;
            for (const p of arr(g.dataPoints)) {
              const v = p.asDouble !== undefined ? num(p.asDouble) : num(p.asInt);
              if (!Number.isFinite(v)) {
                reject(1, `${name}: a data point without a numeric value`);
                continue;
              }
              const a = attributes(p.attributes);
              const labels: Record<string, string> = {};
              let n = 0;
              for (const [k, val] of Object.entries(a)) if (n++ < MAX_LABELS) labels[k] = String(val).slice(0, 200);
              let value = v;
              if (isSum && temporality === DELTA) {
                // keep a running total so a delta sum reads like any counter
                const key = base + attrsKey(a);
                const st = this.state.get(key) ?? { start: 0, counts: [], total: 0, seen: now };
                st.total += v;
                st.seen = now;
                this.state.set(key, st);
                value = st.total;
              }
              const at = num(p.timeUnixNano) / 1e6;
              if (this.rollup.metric(service, name, labels, monotonic ? 'counter' : 'gauge', value, at, now)) res.accepted++;
              else reject(1, 'the series limit (ingest.max_series) is reached');
            }
          } else if (m.histogram || m.exponentialHistogram || m.summary) {
            // other distributions are accepted and not kept
            res.accepted += arr(obj(m.histogram ?? m.exponentialHistogram ?? m.summary).dataPoints).length;
          } else reject(1, `${name}: a metric without data`);
        }
      }
    }
    return res;
  }

  private histogramPoint(res: ConvertResult, reject: (n: number, why: string) => void, service: string, base: string, temporality: number, p: Obj, unitMs: number, now: number): void {
    const bounds = arr(p.explicitBounds).map(num) as unknown as number[];
    const counts = arr(p.bucketCounts).map(num) as unknown as number[];
    const a = attributes(p.attributes);
    if (counts.length === 0) {
      const total = num(p.count);
      if (!(total > 0)) return void res.accepted++;
      // no buckets: the mean stands for every request
      const sum = num(p.sum);
      this.feed(service, a, [Number.isFinite(sum) ? (sum / total) * unitMs : 0], [total], num(p.startTimeUnixNano), temporality, base, p, now);
      res.accepted++;
      return;
    }
    if (counts.length !== bounds.length + 1 || counts.some((c) => !(c >= 0)) || bounds.some((b) => !Number.isFinite(b))) {
      reject(1, 'a histogram point whose bucketCounts do not match explicitBounds');
      return;
    }
    const mids = counts.map((_, i) => {
      if (bounds.length === 0) return 0;
      if (i === 0) return Math.max(0, (bounds[0] as number) > 0 ? (bounds[0] as number) / 2 : (bounds[0] as number));
      if (i === bounds.length) return bounds[i - 1] as number;
      return ((bounds[i - 1] as number) + (bounds[i] as number)) / 2;
    });
    this.feed(
      service,
      a,
      mids.map((m) => m * unitMs),
      counts,
      num(p.startTimeUnixNano),
      temporality,
      base,
      p,
      now,
    );
    res.accepted++;
  }

  private exponentialPoint(res: ConvertResult, _reject: (n: number, why: string) => void, service: string, base: string, temporality: number, p: Obj, unitMs: number, now: number): void {
    const scale = num(p.scale) || 0;
    const b = 2 ** (2 ** -scale);
    const pos = obj(p.positive);
    const offset = num(pos.offset) || 0;
    const counts = [num(p.zeroCount) || 0, ...arr(pos.bucketCounts).map(num)] as number[];
    const mids = counts.map((_, i) => (i === 0 ? 0 : ((b ** (offset + i - 1) + b ** (offset + i)) / 2) * unitMs));
    // the scale and offset are part of the identity: a change starts a new cumulative series
    this.feed(service, attributes(p.attributes), mids, counts, num(p.startTimeUnixNano), temporality, `${base}${scale}:${offset}\u0000`, p, now);
    res.accepted++;
  }

  private feed(service: string, a: Record<string, Attr>, valuesMs: number[], counts: number[], start: number, temporality: number, base: string, p: Obj, now: number): void {
    const inc = this.increase(base + attrsKey(a), temporality, start, counts, now);
    if (!inc) return;
    const route = typeof a['http.route'] === 'string' ? a['http.route'] : '';
    const status = statusOf(a);
    const error = isError(a, status);
    const at = num(p.timeUnixNano) / 1e6;
    for (let i = 0; i < inc.length; i++) {
      const c = inc[i] as number;
      if (c > 0) this.rollup.request(service, route, valuesMs[i] as number, error, at, c, now);
    }
  }

  traces(body: unknown, now: number): ConvertResult {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OtlpError('expected an ExportTraceServiceRequest object');
    const root = body as Obj;
    if (root.resourceSpans !== undefined && !Array.isArray(root.resourceSpans)) throw new OtlpError('resourceSpans must be an array');
    const res: ConvertResult = { accepted: 0, rejected: 0 };
    for (const rs of arr(root.resourceSpans)) {
      const resAttrs = attributes(obj(rs.resource).attributes);
      const service = typeof resAttrs['service.name'] === 'string' && resAttrs['service.name'] !== '' ? resAttrs['service.name'] : 'unknown_service';
      const fromMetrics = (this.metricServices.get(service) ?? -Infinity) > now - METRICS_PREFERRED_FOR;
      for (const ss of arr(rs.scopeSpans)) {
        for (const span of arr(ss.spans)) {
          res.accepted++;
          const kind = span.kind === 'SPAN_KIND_SERVER' ? SPAN_KIND_SERVER : num(span.kind);
          if (kind !== SPAN_KIND_SERVER || fromMetrics) continue;
          const start = num(span.startTimeUnixNano);
          const end = num(span.endTimeUnixNano);
          if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) {
            res.accepted--;
            res.rejected++;
            res.reason ??= 'a span without valid start and end times';
            continue;
          }
          const a = attributes(span.attributes);
          const route = typeof a['http.route'] === 'string' ? a['http.route'] : typeof span.name === 'string' ? span.name : '';
          const status = statusOf(a);
          const code = obj(span.status).code;
          const error = code === STATUS_ERROR || code === 'STATUS_CODE_ERROR' || status >= 500;
          this.rollup.request(service, route, (end - start) / 1e6, error, end / 1e6, 1, now);
        }
      }
    }
    return res;
  }
}
