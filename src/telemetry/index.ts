/**
 * The telemetry domain: ingest endpoints (OTLP/HTTP metrics and traces, the Shipshape SDK batch,
 * Prometheus scrapes), the in-memory rollups they land in, their flushing to the store, the
 * queries alert rules make and the dashboard's chart data.
 */
import { Counter, Gauge } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { perServiceLimit, telemetryConfig, type IngestConfig, type TelemetryRaw } from './config.js';
import { telemetryMigrations, type TelemetryTables } from './migrations.js';
import { Scraper } from './prometheus.js';
import { telemetryRoutes } from './routes.js';
import { liveSource, requestTotals, telemetryQuery } from './query.js';
import { Rollup, type Kind, type Limit, type Row, type SeriesDef } from './rollup.js';
import { loadOpen, loadSeries, prune, writeCheckpoint, writeOpen } from './storage.js';
import type { TelemetryQuery, TelemetrySink } from './types.js';
import { takenBatches } from './sdk.js';
import { encodeSdkBatch, JournaledOtlp, Wal, type WalKind } from './wal.js';

export { storedTelemetryQuery } from './query.js';
export type { Answer, TelemetryQuery, TelemetrySink, Stat, VitalName } from './types.js';

export interface TelemetryDomain extends ModuleLifecycle<TelemetryRaw> {
  sink: TelemetrySink;
  query: TelemetryQuery;
  /**
   * Close due buckets and write a checkpoint (closed rows and the changed open buckets, and the
   * deletion of the write-ahead log rows it covers) now; what was ingested before the call is in the
   * store's rollup tables when it resolves.
   */
  flush(): Promise<void>;
  /** how many series are in memory */
  seriesCount(): number;
  /** requests and failed requests of a service in [from, to) (post-mortems); null without request telemetry */
  traffic(service: string, from: number, to: number): Promise<{ requests: number; failed: number } | null>;
}

const TICK = 2_000;
const PRUNE_EVERY = 10 * 60_000;
const MAX_PENDING_ROWS = 2_000_000;
const LIMIT_EVENT_EVERY = 3_600_000;

/**
 * Queries read the open buckets in memory and the closed ones in the store: a checkpoint (which
 * moves buckets from one to the other) waits for the queries reading, and queries wait for it.
 */
class ReadWriteGate {
  private readers = 0;
  private writing: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  async read<T>(f: () => Promise<T>): Promise<T> {
    while (this.writing) await this.writing;
    this.readers++;
    try {
      return await f();
    } finally {
      if (--this.readers === 0 && this.drained) this.drained();
    }
  }

  async write<T>(f: () => Promise<T>): Promise<T> {
    while (this.writing) await this.writing;
    let done!: () => void;
    this.writing = new Promise<void>((r) => (done = r));
    try {
      if (this.readers > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = null;
      return await f();
    } finally {
      this.writing = null;
      done();
    }
  }
}

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
  const onLimited = (def: SeriesDef, outcome: 'folded' | 'dropped', count: number, limit: Limit) => {
    if (outcome === 'dropped') dropped.cardinality += count;
    else folded[def.kind] += count;
    const now = ctx.now();
    const last = limitEvents.get(def.service);
    if (last !== undefined && now - last < LIMIT_EVENT_EVERY) return;
    limitEvents.set(def.service, now);
    if (limitEvents.size > 10_000) limitEvents.clear();
    const max = limit === 'max_series' ? cfg().max_series : limit === 'max_series_per_service' ? perServiceLimit(cfg()) : undefined;
    log.warn({ service: def.service, kind: def.kind, limit, max }, 'telemetry series limit reached: new series are folded or dropped');
    void ctx.events
      .append({ type: 'telemetry.cardinality_limited', actor: 'system', subject: `service:${def.service}`, data: { service: def.service, kind: def.kind, name: def.name.slice(0, 200), outcome, limit, max_series: cfg().max_series, ...(max !== undefined && limit !== 'max_series' ? { limit_value: max } : {}) } })
      .catch(() => undefined);
  };

  const rollup = new Rollup({
    maxSeries: () => cfg().max_series,
    maxSeriesPerService: () => perServiceLimit(cfg()),
    maxSeriesPerOrigin: (token) => ctx.ingest.entry(token)?.max_series ?? cfg().max_series_per_token,
    collect: true,
    onLimited,
  });
  const gate = new ReadWriteGate();
  const source = liveSource(ctx.store, rollup, () => rollup.pending, (f) => gate.read(f));
  const query = telemetryQuery(source, ctx.now);
  const otlp = new JournaledOtlp(rollup, (ctx.now() - 60_000) * 1e6);
  const wal = new Wal(ctx.store);
  deltaCounter('shipshape_telemetry_wal_total', 'Telemetry write-ahead log: appends (one INSERT each), rows (one per ingest request) and body bytes written', 'what', wal.stats);
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

  // ---- durability: write-ahead log + checkpoints ---------------------------------------------------
  // An ingest request appends one row to `tel_wal` (group-committed with concurrent ones, wal.ts)
  // and answers once it is stored. Every 2s a checkpoint writes, in one transaction, the closed
  // buckets, the open buckets of every series that changed (`tel_open`) as they were when it
  // started, and deletes the log rows that snapshot covers. At start `tel_open` is restored and the
  // log rows left are replayed on top: what was acknowledged survives a crash, nothing counts twice.
  const durable = (kind: WalKind): Promise<void> => {
    if (kind === 'sdk') {
      const taken = takenBatches.get(rollup);
      if (!taken) return Promise.resolve();
      takenBatches.delete(rollup);
      return wal.append(kind, taken.now, rollup.openFrom, encodeSdkBatch(taken.batch, taken.now));
    }
    const taken = otlp.take();
    if (!taken || taken.journal.size === 0) return Promise.resolve();
    return wal.append(kind, taken.at, rollup.openFrom, taken.journal.encode());
  };
  let lastPrune = 0;
  let flushFailures = 0;
  const writeSnapshot = async (walUpTo: number | undefined) => {
    // synchronous up to the write: the snapshot and the log rows it covers are taken together
    const now = ctx.now();
    rollup.advance(now);
    const rows = rollup.pending;
    rollup.pending = [];
    const dirty = rollup.takeDirty();
    const open: Row[] = [];
    for (const s of dirty) rollup.openRows(s, open);
    try {
      await writeCheckpoint(ctx.store, rows, dirty, open, now, walUpTo);
      if (flushFailures > 0) log.info('telemetry rows are being written again');
      flushFailures = 0;
    } catch (e) {
      if (flushFailures++ === 0) log.error({ err: e }, 'writing telemetry rows failed; keeping them for the next try');
      rollup.pending = rows.concat(rollup.pending);
      rollup.redirty(dirty);
      const over = rollup.pending.length - MAX_PENDING_ROWS;
      if (over > 0) {
        rollup.pending.splice(0, over);
        dropped.store += over;
      }
      throw e;
    }
  };
  const doCheckpoint = async () => {
    await gate.write(() => wal.checkpoint(writeSnapshot));
    const now = ctx.now();
    if (now - lastPrune >= PRUNE_EVERY) {
      lastPrune = now;
      const retention = cfg().retention;
      await prune(ctx.store, retention, now).catch((e) => log.warn({ err: e }, 'pruning telemetry failed'));
      // what queries kept of the deleted rows goes too (also after a failed prune: some rows may be gone)
      source.cache.pruned('10s', now - retention.ten_seconds);
      source.cache.pruned('1m', now - retention.minute);
      source.cache.pruned('1h', now - retention.hour);
    }
  };
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const flush = (): Promise<void> => {
    if (!running) {
      running = doCheckpoint().finally(() => {
        running = null;
      });
      return running;
    }
    // the checkpoint in flight took its snapshot before the caller's samples: wait for the next one
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = null;
        return flush();
      });
    return next;
  };
  let timer: NodeJS.Timeout | undefined;

  const routes = (app: FastifyInstance) =>
    telemetryRoutes(app, {
      rollup,
      otlp,
      received,
      guard: ctx.ingest,
      maxBody: () => cfg().max_body,
      now: ctx.now,
      store: ctx.store,
      configuredServices: () => Object.keys(ctx.config().raw.services),
      limitsTokens: (token) => ctx.ingest.entry(token)?.max_series !== undefined || cfg().max_series_per_token !== undefined,
      durable,
      read: (f) => gate.read(f),
      log,
    });

  return {
    sink,
    query,
    traffic: (service, from, to) => requestTotals(source, service, from, to),
    flush,
    seriesCount: () => rollup.seriesCount,
    async start() {
      await loadSeries(ctx.store, rollup, ctx.now());
      const restored = await loadOpen(ctx.store, rollup);
      if (restored > 0) log.info({ buckets: restored }, 'telemetry buckets restored from the last stop');
      const replayed = await wal.replay(rollup, log);
      if (replayed.rows > 0) log.info(replayed, 'telemetry ingest requests replayed from the write-ahead log');
      await flush().catch(() => undefined);
      scraper.apply(cfg().prometheus);
      // a failed checkpoint is logged once by doCheckpoint and retried on the next tick
      timer = setInterval(() => void flush().catch(() => undefined), TICK);
      timer.unref();
    },
    async apply(config: Config<TelemetryRaw>) {
      scraper.apply(config.raw.ingest.prometheus);
    },
    async stop() {
      clearInterval(timer);
      scraper.stop();
      await flush().catch(() => undefined);
      await flush();
      await gate.write(() => wal.checkpoint((walUpTo) => writeOpen(ctx.store, rollup.snapshotOpen(), ctx.now(), walUpTo)));
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
