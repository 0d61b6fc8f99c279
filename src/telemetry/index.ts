/**
 * The telemetry domain: ingest endpoints (OTLP/HTTP metrics and traces, the Shipshape SDK batch,
 * Prometheus scrapes), the in-memory rollups they land in, their flushing to the store, the
 * queries alert rules make and the dashboard's chart data.
 */
import { Counter, Gauge } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { telemetryConfig, type IngestConfig, type TelemetryRaw } from './config.js';
import { telemetryMigrations, type TelemetryTables } from './migrations.js';
import { OtlpConverter } from './otlp/convert.js';
import { Scraper } from './prometheus.js';
import { telemetryRoutes } from './routes.js';
import { rollupQuery } from './query.js';
import { Rollup, type Kind, type SeriesDef } from './rollup.js';
import { loadOpen, loadRecent, prune, writeOpen, writeRows } from './storage.js';
import type { TelemetryQuery, TelemetrySink } from './types.js';

export { storedTelemetryQuery } from './storage.js';
export type { TelemetryQuery, TelemetrySink, Stat, VitalName } from './types.js';

export interface TelemetryDomain extends ModuleLifecycle<TelemetryRaw> {
  sink: TelemetrySink;
  query: TelemetryQuery;
  /** close due buckets and write them now (tests, the bench) */
  flush(): Promise<void>;
  /** how many series are in memory */
  seriesCount(): number;
}

const TICK = 2_000;
const PRUNE_EVERY = 10 * 60_000;
const MAX_PENDING_ROWS = 2_000_000;
const LIMIT_EVENT_EVERY = 3_600_000;

export function createTelemetry(ctx: ModuleContext<TelemetryTables, TelemetryRaw>): TelemetryDomain {
  const cfg = (): IngestConfig => ctx.config().raw.ingest;
  const log = ctx.logger.child({ component: 'telemetry' });
  const registry = ctx.metrics.registry;

  // ---- own metrics (plain numbers on the hot path, read by prom-client when scraped) ----------
  const dropped = { cardinality: 0, store: 0 };
  const folded: Record<Kind, number> = { requests: 0, vitals: 0, events: 0, metrics: 0 };
  const received = { sdk: 0, otlp_metrics: 0, otlp_traces: 0, prometheus: 0, sink: 0 };
  const deltaCounter = (name: string, help: string, label: string, values: Record<string, number>) => {
    const reported: Record<string, number> = {};
    return new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        for (const [k, v] of Object.entries(values)) {
          const d = v - (reported[k] ?? 0);
          if (d > 0) this.inc({ [label]: k }, d);
          reported[k] = v;
        }
      },
    });
  };
  deltaCounter('shipshape_telemetry_dropped_samples_total', 'Telemetry samples not kept, by reason (cardinality: over ingest.max_series; store: rows that could not be written)', 'reason', dropped);
  deltaCounter('shipshape_telemetry_folded_samples_total', 'Telemetry samples folded into a service\'s "(other)" series because ingest.max_series was reached', 'kind', folded);
  deltaCounter('shipshape_telemetry_received_total', 'Telemetry samples and data points received, by source', 'source', received);

  const limitEvents = new Map<string, number>();
  const onLimited = (def: SeriesDef, outcome: 'folded' | 'dropped', count: number) => {
    if (outcome === 'dropped') dropped.cardinality += count;
    else folded[def.kind] += count;
    const now = ctx.now();
    const last = limitEvents.get(def.service);
    if (last !== undefined && now - last < LIMIT_EVENT_EVERY) return;
    limitEvents.set(def.service, now);
    if (limitEvents.size > 10_000) limitEvents.clear();
    log.warn({ service: def.service, kind: def.kind, max_series: cfg().max_series }, 'telemetry series limit reached: new series are folded or dropped');
    void ctx.events
      .append({ type: 'telemetry.cardinality_limited', actor: 'system', subject: `service:${def.service}`, data: { service: def.service, kind: def.kind, name: def.name.slice(0, 200), outcome, max_series: cfg().max_series } })
      .catch(() => undefined);
  };

  const rollup = new Rollup({ maxSeries: () => cfg().max_series, collect: true, onLimited });
  const query = rollupQuery(rollup, ctx.now);
  const otlp = new OtlpConverter(rollup, (ctx.now() - 60_000) * 1e6);
  new Gauge({ name: 'shipshape_telemetry_series', help: 'Telemetry series in memory', registers: [registry], collect() {
    this.set(rollup.seriesCount);
  } });
  new Gauge({ name: 'shipshape_telemetry_pending_rows', help: 'Closed telemetry buckets waiting to be written', registers: [registry], collect() {
    this.set(rollup.pending.length);
  } });

  const sink: TelemetrySink = {
    requests(samples) {
      const now = ctx.now();
      received.sink += samples.length;
      for (const s of samples) rollup.request(s.service, s.route, s.durationMs, s.error, s.at, s.count ?? 1, now);
    },
    vitals(samples) {
      const now = ctx.now();
      received.sink += samples.length;
      for (const s of samples) rollup.vital(s.service, s.page, s.name, s.value, s.at, now);
    },
    events(samples) {
      const now = ctx.now();
      received.sink += samples.length;
      for (const s of samples) rollup.event(s.service, s.name, s.value ?? 0, s.count ?? 1, s.at, now);
    },
    metrics(samples) {
      const now = ctx.now();
      received.sink += samples.length;
      for (const s of samples) rollup.metric(s.service, s.name, s.labels, s.type, s.value, s.at, now);
    },
  };

  const scraper = new Scraper(
    (samples) => {
      const now = ctx.now();
      received.prometheus += samples.length;
      for (const s of samples) rollup.metric(s.service, s.name, s.labels, s.type, s.value, s.at, now);
    },
    log,
    ctx.now,
  );

  // ---- flushing ----------------------------------------------------------------------------------
  let flushing: Promise<void> | null = null;
  let lastPrune = 0;
  let flushFailures = 0;
  const doFlush = async () => {
    const now = ctx.now();
    rollup.advance(now);
    const rows = rollup.pending;
    if (rows.length > 0) {
      rollup.pending = [];
      try {
        await writeRows(ctx.store, rows, now);
        if (flushFailures > 0) log.info('telemetry rows are being written again');
        flushFailures = 0;
      } catch (e) {
        if (flushFailures++ === 0) log.error({ err: e }, 'writing telemetry rows failed; keeping them for the next try');
        rollup.pending = rows.concat(rollup.pending);
        const over = rollup.pending.length - MAX_PENDING_ROWS;
        if (over > 0) {
          rollup.pending.splice(0, over);
          dropped.store += over;
        }
      }
    }
    if (now - lastPrune >= PRUNE_EVERY) {
      lastPrune = now;
      await prune(ctx.store, cfg().retention, now).catch((e) => log.warn({ err: e }, 'pruning telemetry failed'));
    }
  };
  const flush = () => {
    flushing ??= doFlush().finally(() => {
      flushing = null;
    });
    return flushing;
  };
  let timer: NodeJS.Timeout | undefined;

  const routes = (app: FastifyInstance) =>
    telemetryRoutes(app, { rollup, otlp, received, guard: ctx.ingest, maxBody: () => cfg().max_body, now: ctx.now, store: ctx.store, configuredServices: () => Object.keys(ctx.config().raw.services) });

  return {
    sink,
    query,
    flush,
    seriesCount: () => rollup.seriesCount,
    async start() {
      const restored = await loadOpen(ctx.store, rollup);
      await loadRecent(ctx.store, rollup, ctx.now());
      if (restored > 0) log.info({ buckets: restored }, 'telemetry buckets restored from the last stop');
      await flush();
      scraper.apply(cfg().prometheus);
      timer = setInterval(() => void flush().catch((e) => log.error({ err: e }, 'telemetry flush failed')), TICK);
      timer.unref();
    },
    async apply(config: Config<TelemetryRaw>) {
      scraper.apply(config.raw.ingest.prometheus);
    },
    async stop() {
      clearInterval(timer);
      scraper.stop();
      if (flushing) await flushing.catch(() => undefined);
      await flush();
      await writeOpen(ctx.store, rollup.snapshotOpen(), ctx.now());
    },
    routes,
  };
}

export const telemetry = defineModule<TelemetryDomain, TelemetryTables, TelemetryRaw>({
  name: 'telemetry',
  description: 'OTLP/HTTP, SDK and Prometheus telemetry in: request rate, errors, latency quantiles, vitals, events',
  config: telemetryConfig,
  migrations: telemetryMigrations,
  events: ['telemetry.cardinality_limited'],
  create: (ctx) => createTelemetry(ctx),
});
export type { TelemetryRaw } from './config.js';
