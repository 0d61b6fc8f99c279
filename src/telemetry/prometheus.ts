/**
 * Prometheus scraping: each `ingest.prometheus` target's /metrics (text exposition format 0.0.4,
 * which OpenMetrics text mostly shares) on its interval, with a bounded timeout, into metric
 * samples of the configured service. Counters stay counters, gauges and untyped samples are
 * gauges, summaries give their quantiles as gauges, histograms and summaries give `_sum` and
 * `_count` as counters (histogram buckets are not kept). Failures are logged once per change.
 */
import { egressFetch } from '../core/egress-http.js';
import { egressDenial } from '../core/egress.js';
import type { Logger } from 'pino';
import type { MetricSample } from './types.js';

export interface ScrapeTarget {
  service: string;
  url: string;
  every: number;
  timeout: number;
  headers?: Record<string, string>;
}

const MAX_BYTES = 10 * 1024 * 1024;
const MAX_SAMPLES = 50_000;

function unescapeLabel(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

/** Parse the text format into samples (timestamps in the text win over `now`). */
export function parsePrometheusText(text: string, service: string, now: number): MetricSample[] {
  const types = new Map<string, string>();
  const out: MetricSample[] = [];
  const lines = text.split('\n');
  for (const raw of lines) {
    if (out.length >= MAX_SAMPLES) break;
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1] as string, (m[2] as string).toLowerCase());
      continue;
    }
    // name{labels} value [timestamp]
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
    const name = line.slice(0, i);
    if (!name) continue;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}' || i >= line.length) {
          i++;
          break;
        }
        const eq = line.indexOf('=', i);
        if (eq < 0) break;
        const key = line.slice(i, eq).trim();
        i = eq + 1;
        if (line[i] !== '"') break;
        i++;
        const start = i;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\') i++;
          i++;
        }
        labels[key] = unescapeLabel(line.slice(start, i));
        i++;
      }
    }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseValue(rest[0] ?? '');
    if (Number.isNaN(value) || !Number.isFinite(value)) continue;
    const ts = rest[1] !== undefined ? Number(rest[1]) : NaN;
    const at = Number.isFinite(ts) && ts > 0 ? ts : now;

    let family = name;
    let type = types.get(name);
    if (type === undefined) {
      for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
        if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) {
          family = name.slice(0, -suffix.length);
          type = types.get(family);
          break;
        }
      }
    }
    let kind: MetricSample['type'];
    if (type === 'counter') {
      if (name.endsWith('_created')) continue;
      kind = 'counter';
    } else if (type === 'histogram' || type === 'gaugehistogram') {
      if (name === `${family}_sum` || name === `${family}_count`) kind = type === 'histogram' ? 'counter' : 'gauge';
      else continue;
    } else if (type === 'summary') {
      if (name === `${family}_sum` || name === `${family}_count`) kind = 'counter';
      else if (name === family) kind = 'gauge';
      else continue;
    } else kind = 'gauge';
    out.push({ service, name, labels, type: kind, value, at });
  }
  return out;
}

/** Scrape one target once. */
export async function scrape(t: ScrapeTarget, now: () => number): Promise<MetricSample[]> {
  // through the egress policy: a scrape target is an outbound request like a check
  const res = await egressFetch(t.url, {
    headers: { accept: 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1', ...(t.headers ?? {}) },
    signal: AbortSignal.timeout(t.timeout),
    redirect: 'follow',
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status}`);
  }
  const reader = res.body?.getReader();
  if (!reader) return [];
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the response is larger than ${MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return parsePrometheusText(Buffer.concat(chunks).toString('utf8'), t.service, now());
}

export class Scraper {
  private readonly jobs = new Map<string, { target: ScrapeTarget; timer: NodeJS.Timeout | null; healthy: boolean | null; stopped: boolean }>();

  constructor(
    private readonly sink: (samples: MetricSample[]) => void,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** Start, keep or stop scrape jobs to match the targets. */
  apply(targets: ScrapeTarget[]): void {
    const want = new Map(targets.map((t) => [`${t.service}\u0000${t.url}`, t]));
    for (const [key, job] of this.jobs) {
      const t = want.get(key);
      if (!t || JSON.stringify(t) !== JSON.stringify(job.target)) {
        job.stopped = true;
        if (job.timer) clearTimeout(job.timer);
        this.jobs.delete(key);
      }
    }
    for (const [key, t] of want) {
      if (this.jobs.has(key)) continue;
      const job = { target: t, timer: null as NodeJS.Timeout | null, healthy: null as boolean | null, stopped: false };
      this.jobs.set(key, job);
      const run = async () => {
        if (job.stopped) return;
        try {
          const samples = await scrape(t, this.now);
          if (job.stopped) return;
          this.sink(samples);
          if (job.healthy === false) this.logger.info({ url: t.url, service: t.service }, 'prometheus scrape recovered');
          job.healthy = true;
        } catch (e) {
          if (job.healthy !== false) this.logger.warn({ url: t.url, service: t.service, error: egressDenial(e)?.message ?? (e as Error).message }, 'prometheus scrape failed');
          job.healthy = false;
        }
        if (!job.stopped) {
          job.timer = setTimeout(() => void run(), Math.max(100, t.every));
          job.timer.unref();
        }
      };
      job.timer = setTimeout(() => void run(), 0);
      job.timer.unref();
    }
  }

  stop(): void {
    for (const job of this.jobs.values()) {
      job.stopped = true;
      if (job.timer) clearTimeout(job.timer);
    }
    this.jobs.clear();
  }
}
