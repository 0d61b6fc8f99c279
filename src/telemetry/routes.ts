/**
 * HTTP routes of the telemetry module: OTLP/HTTP (`/v1/metrics`, `/v1/traces`) and the SDK batch
 * (`/api/v1/ingest`), which take an ingest token, and the chart data of a service (read scope).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bodyBytes, mediaType, rawBodies } from '../core/http/body.js';
import { presentedIngestToken, type IngestGuard } from '../core/http/ingest.js';
import { HttpProblem, notFound, parse } from '../core/http/problem.js';
import type { Logger } from 'pino';
import type { Store } from '../core/store/db.js';
import { chart } from './chart.js';
import type { IngestKind } from './config.js';
import type { TelemetryTables } from './migrations.js';
import { attributes, OtlpError, type ConvertResult, type OtlpConverter } from './otlp/convert.js';
import { decodeRequest, encodeResponse } from './otlp/proto.js';
import type { Rollup } from './rollup.js';
import { ingestBatch, parseBatch, type Batch } from './sdk.js';

export interface TelemetryRouteDeps {
  rollup: Rollup;
  otlp: OtlpConverter;
  /** counters of accepted samples by source */
  received: { sdk: number; otlp_metrics: number; otlp_traces: number };
  guard: IngestGuard;
  maxBody: () => number;
  now: () => number;
  store: Store<TelemetryTables>;
  configuredServices: () => string[];
  /** whether new series count against this token's own budget */
  limitsTokens: (token: string) => boolean;
  /**
   * Log the samples the request just took (call it synchronously after taking them); resolves once
   * they are in the store (the write-ahead log, src/telemetry/wal.ts).
   */
  durable: (kind: 'sdk' | 'otlp_metrics' | 'otlp_traces') => Promise<void>;
  /** runs reads of memory and store with checkpoints held off */
  read: <T>(f: () => Promise<T>) => Promise<T>;
  log: Logger;
}

function batchKinds(b: Batch): IngestKind[] {
  const out: IngestKind[] = [];
  if (b.requests?.length) out.push('requests');
  if (b.vitals?.length) out.push('vitals');
  if (b.events?.length) out.push('events');
  return out;
}

/** The service names of an OTLP export (resource `service.name`, as the converter reads it). */
function otlpServices(body: unknown, kind: 'metrics' | 'traces'): Set<string> {
  const out = new Set<string>();
  const list = body && typeof body === 'object' ? (body as Record<string, unknown>)[kind === 'metrics' ? 'resourceMetrics' : 'resourceSpans'] : undefined;
  if (!Array.isArray(list)) return out;
  for (const r of list as { resource?: { attributes?: unknown } }[]) {
    const name = attributes(r?.resource?.attributes)['service.name'];
    out.add(typeof name === 'string' && name !== '' ? name : 'unknown_service');
  }
  return out;
}

export function telemetryRoutes(app: FastifyInstance, deps: TelemetryRouteDeps): void {
  const { rollup, otlp, received, guard, store } = deps;
  /** answer only once the samples are in the store (so an acknowledged batch survives a crash) */
  let storeFailures = 0;
  const stored = async (kind: 'sdk' | 'otlp_metrics' | 'otlp_traces') => {
    try {
      await deps.durable(kind);
      storeFailures = 0;
    } catch (e) {
      if (storeFailures++ === 0) deps.log.error({ err: e }, 'telemetry could not be stored; answering ingest with 503');
      throw new HttpProblem(503, 'Service Unavailable', 'the telemetry was taken but could not be written to the store yet; it is kept in memory and written when the store is back', undefined, { 'retry-after': '5' });
    }
  };
  /** take samples with the token's series budget */
  const asOrigin = <T>(token: string | undefined, take: () => T): T => {
    rollup.origin = token !== undefined && deps.limitsTokens(token) ? token : undefined;
    try {
      return take();
    } finally {
      rollup.origin = undefined;
    }
  };
  const otlpRoute = (kind: 'metrics' | 'traces') => async (req: FastifyRequest, reply: FastifyReply) => {
    const type = mediaType(req);
    const proto = type === 'application/x-protobuf' || type === 'application/protobuf';
    if (!proto && type !== 'application/json') throw new HttpProblem(415, 'Unsupported Media Type', `send OTLP as application/x-protobuf or application/json (got "${type || 'no content-type'}")`);
    const token = presentedIngestToken(req);
    const entry = guard.permit(token, { kind });
    const bytes = await bodyBytes(req, deps.maxBody());
    let body: unknown;
    try {
      body = proto ? decodeRequest(kind, bytes) : JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new HttpProblem(400, 'Bad Request', `the body is not a valid OTLP ${proto ? 'protobuf' : 'JSON'} ${kind === 'metrics' ? 'ExportMetricsServiceRequest' : 'ExportTraceServiceRequest'}: ${(e as Error).message}`);
    }
    if (entry.services) for (const service of otlpServices(body, kind)) guard.permit(entry, { kind, service });
    let r: ConvertResult;
    try {
      r = asOrigin(token, () => (kind === 'metrics' ? otlp.metrics(body, deps.now()) : otlp.traces(body, deps.now())));
    } catch (e) {
      if (e instanceof OtlpError) throw new HttpProblem(400, 'Bad Request', `invalid OTLP ${kind}: ${e.message}`);
      throw e;
    }
    if (kind === 'metrics') received.otlp_metrics += r.accepted;
    else received.otlp_traces += r.accepted;
    await stored(kind === 'metrics' ? 'otlp_metrics' : 'otlp_traces');
    const partial = r.rejected > 0 ? { partialSuccess: kind === 'metrics' ? { rejectedDataPoints: r.rejected, errorMessage: r.reason ?? '' } : { rejectedSpans: r.rejected, errorMessage: r.reason ?? '' } } : {};
    reply.code(200);
    if (proto) return reply.type('application/x-protobuf').send(Buffer.from(encodeResponse(kind, partial)));
    return reply.type('application/json').send(partial);
  };

  const cors = (reply: FastifyReply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-allow-methods', 'POST, OPTIONS');
    reply.header('access-control-allow-headers', 'authorization, content-type, content-encoding, x-shipshape-token');
    reply.header('access-control-max-age', '86400');
  };

  const chartQuery = z.object({ from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() }).strict();

  void app.register(async (scope) => {
    rawBodies(scope, () => deps.maxBody());
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
      const bytes = await bodyBytes(req, deps.maxBody());
      const batch = parseBatch(bytes.toString('utf8'));
      const token = presentedIngestToken(req);
      for (const kind of batchKinds(batch)) guard.permit(token, { kind, service: batch.service });
      const r = asOrigin(token, () => ingestBatch(rollup, batch, deps.now()));
      received.sdk += r.accepted;
      await stored('sdk');
      return reply.code(202).send(r);
    });
  });

  app.get<{ Params: { name: string } }>('/api/v1/services/:name/telemetry', { config: { scope: 'read' } }, async (req) => {
    const q = parse(chartQuery, req.query, 'query');
    const now = deps.now();
    const to = q.to ? Date.parse(q.to) : now;
    const from = q.from ? Date.parse(q.from) : to - 3_600_000;
    if (!(from < to)) throw new HttpProblem(400, 'Bad Request', 'invalid query: from must be before to', [{ path: 'query.from', message: 'must be before to' }]);
    if (to - from > 400 * 86_400_000) throw new HttpProblem(400, 'Bad Request', 'invalid query: the range may span at most 400 days', [{ path: 'query.from', message: 'range too long' }]);
    const name = req.params.name;
    const known = deps.configuredServices().includes(name) || rollup.services().has(name);
    if (!known) {
      const stored = await store.db.selectFrom('tel_series').select('id').where('service', '=', name).limit(1).executeTakeFirst();
      if (!stored) throw notFound(`no service named "${name}" (neither in the config nor sending telemetry)`);
    }
    return chart(store, rollup, name, from, to, deps.read);
  });
}
