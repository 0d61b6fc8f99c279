/**
 * The telemetry domain: ingest endpoints (OTLP/HTTP metrics and traces, the Shipshape SDK batch,
 * Prometheus scrapes), the in-memory rollups they land in, their flushing to the store, the
 * queries alert rules make and the dashboard's chart data.
 */
import { Counter, Gauge } from 'prom-client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config/load.js';
import type { Domain, DomainContext } from '../domain.js';
import { HttpProblem, notFound, parse } from '../server/http.js';
import { presentedIngestToken, type IngestGuard } from '../server/ingest.js';
import { bodyBytes, mediaType, rawBodies } from '../server/body.js';
import { chart } from './chart.js';
import type { IngestConfig } from './config.js';
import { OtlpConverter, OtlpError, type ConvertResult } from './otlp/convert.js';
import { decodeProto, encodeProto, MetricsRequest, MetricsResponse, TraceRequest, TraceResponse } from './otlp/proto.js';
import { Scraper } from './prometheus.js';
import { rollupQuery } from './query.js';
import { Rollup, type Kind, type SeriesDef } from './rollup.js';
import { ingestBatch, parseBatch } from './sdk.js';
import { loadOpen, loadRecent, prune, writeOpen, writeRows } from './storage.js';
import type { TelemetryQuery, TelemetrySink } from './types.js';

export { storedTelemetryQuery } from './storage.js';

export interface TelemetryDomain extends Domain {
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

export function createTelemetry(ctx: DomainContext, guard: IngestGuard): TelemetryDomain {
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

  // ---- routes ------------------------------------------------------------------------------------
  const otlpRoute = (kind: 'metrics' | 'traces') => async (req: FastifyRequest, reply: FastifyReply) => {
    const type = mediaType(req);
    const proto = type === 'application/x-protobuf' || type === 'application/protobuf';
    if (!proto && type !== 'application/json') throw new HttpProblem(415, 'Unsupported Media Type', `send OTLP as application/x-protobuf or application/json (got "${type || 'no content-type'}")`);
    const bytes = await bodyBytes(req, cfg().max_body);
    let body: unknown;
    try {
      body = proto ? decodeProto(kind === 'metrics' ? MetricsRequest : TraceRequest, bytes) : JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new HttpProblem(400, 'Bad Request', `the body is not a valid OTLP ${proto ? 'protobuf' : 'JSON'} ${kind === 'metrics' ? 'ExportMetricsServiceRequest' : 'ExportTraceServiceRequest'}: ${(e as Error).message}`);
    }
    let r: ConvertResult;
    try {
      r = kind === 'metrics' ? otlp.metrics(body, ctx.now()) : otlp.traces(body, ctx.now());
    } catch (e) {
      if (e instanceof OtlpError) throw new HttpProblem(400, 'Bad Request', `invalid OTLP ${kind}: ${e.message}`);
      throw e;
    }
    if (kind === 'metrics') received.otlp_metrics += r.accepted;
    else received.otlp_traces += r.accepted;
    const partial = r.rejected > 0 ? { partialSuccess: kind === 'metrics' ? { rejectedDataPoints: r.rejected, errorMessage: r.reason ?? '' } : { rejectedSpans: r.rejected, errorMessage: r.reason ?? '' } } : {};
    reply.code(200);
    if (proto) return reply.type('application/x-protobuf').send(Buffer.from(encodeProto(kind === 'metrics' ? MetricsResponse : TraceResponse, partial)));
    return reply.type('application/json').send(partial);
  };

  const cors = (reply: FastifyReply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-allow-methods', 'POST, OPTIONS');
    reply.header('access-control-allow-headers', 'authorization, content-type, content-encoding, x-shipshape-token');
    reply.header('access-control-max-age', '86400');
  };

  const chartQuery = z.object({ from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() }).strict();

  const routes = (app: FastifyInstance) => {
    void app.register(async (scope) => {
      rawBodies(scope, () => cfg().max_body);
      const ingest = {
        config: { scope: 'public' as const },
        onRequest: async (req: FastifyRequest) => {
          guard.check(presentedIngestToken(req));
        },
      };
      scope.post('/v1/metrics', ingest, otlpRoute('metrics'));
      scope.post('/v1/traces', ingest, otlpRoute('traces'));
      scope.options('/api/v1/ingest', { config: { scope: 'public' } }, async (_req, reply) => {
        cors(reply);
        return reply.code(204).send();
      });
      scope.post('/api/v1/ingest', ingest, async (req, reply) => {
        cors(reply);
        const bytes = await bodyBytes(req, cfg().max_body);
        const batch = parseBatch(bytes.toString('utf8'));
        const r = ingestBatch(rollup, batch, ctx.now());
        received.sdk += r.accepted;
        return reply.code(202).send(r);
      });
    });

    app.get<{ Params: { name: string } }>('/api/v1/services/:name/telemetry', { config: { scope: 'read' } }, async (req) => {
      const q = parse(chartQuery, req.query, 'query');
      const now = ctx.now();
      const to = q.to ? Date.parse(q.to) : now;
      const from = q.from ? Date.parse(q.from) : to - 3_600_000;
      if (!(from < to)) throw new HttpProblem(400, 'Bad Request', 'invalid query: from must be before to', [{ path: 'query.from', message: 'must be before to' }]);
      if (to - from > 400 * 86_400_000) throw new HttpProblem(400, 'Bad Request', 'invalid query: the range may span at most 400 days', [{ path: 'query.from', message: 'range too long' }]);
      const name = req.params.name;
      const known = ctx.config().services.some((s) => s.name === name) || rollup.services().has(name);
      if (!known) {
        const stored = await ctx.store.db.selectFrom('tel_series').select('id').where('service', '=', name).limit(1).executeTakeFirst();
        if (!stored) throw notFound(`no service named "${name}" (neither in the config nor sending telemetry)`);
      }
      return chart(ctx.store, rollup, name, from, to);
    });
  };

  return {
    name: 'telemetry',
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
    async apply(config: Config) {
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
