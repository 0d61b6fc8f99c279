/**
 * HTTP routes of the telemetry module: OTLP/HTTP (`/v1/metrics`, `/v1/traces`) and the SDK batch
 * (`/api/v1/ingest`), which take an ingest token, and the chart data of a service (read scope).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bodyBytes, mediaType, rawBodies } from '../core/http/body.js';
import { presentedIngestToken, type IngestGuard } from '../core/http/ingest.js';
import { HttpProblem, notFound, parse } from '../core/http/problem.js';
import type { Store } from '../core/store/db.js';
import { chart } from './chart.js';
import type { TelemetryTables } from './migrations.js';
import { OtlpError, type ConvertResult, type OtlpConverter } from './otlp/convert.js';
import { decodeProto, encodeProto, MetricsRequest, MetricsResponse, TraceRequest, TraceResponse } from './otlp/proto.js';
import type { Rollup } from './rollup.js';
import { ingestBatch, parseBatch } from './sdk.js';

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
}

export function telemetryRoutes(app: FastifyInstance, deps: TelemetryRouteDeps): void {
  const { rollup, otlp, received, guard, store } = deps;
  const otlpRoute = (kind: 'metrics' | 'traces') => async (req: FastifyRequest, reply: FastifyReply) => {
    const type = mediaType(req);
    const proto = type === 'application/x-protobuf' || type === 'application/protobuf';
    if (!proto && type !== 'application/json') throw new HttpProblem(415, 'Unsupported Media Type', `send OTLP as application/x-protobuf or application/json (got "${type || 'no content-type'}")`);
    const bytes = await bodyBytes(req, deps.maxBody());
    let body: unknown;
    try {
      body = proto ? decodeProto(kind === 'metrics' ? MetricsRequest : TraceRequest, bytes) : JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new HttpProblem(400, 'Bad Request', `the body is not a valid OTLP ${proto ? 'protobuf' : 'JSON'} ${kind === 'metrics' ? 'ExportMetricsServiceRequest' : 'ExportTraceServiceRequest'}: ${(e as Error).message}`);
    }
    let r: ConvertResult;
    try {
      r = kind === 'metrics' ? otlp.metrics(body, deps.now()) : otlp.traces(body, deps.now());
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
      const r = ingestBatch(rollup, batch, deps.now());
      received.sdk += r.accepted;
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
    return chart(store, rollup, name, from, to);
  });
}
