/**
 * HTTP routes of the alerts domain.
 *
 * Alerts in (ingest token, `public` scope; the IngestGuard checks the token, that it may send the
 * kind `alerts` and the quota; alerts belong to no service, so a token restricted to `services`,
 * such as a browser token, gets 403 whatever the alert's labels say):
 * - `POST /api/v2/alerts`: Prometheus' alert push format (what Prometheus sends Alertmanager).
 * - `POST /api/v1/alerts/webhook`: Alertmanager webhook payload version 4 (Grafana sends the same).
 * - `POST /v2/enqueue`: PagerDuty Events API v2; the routing_key is an ingest token.
 * Read (read scope): `GET /api/v1/alerts`, `GET /api/v1/alerts/rules`.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { presentedIngestToken, type IngestGuard } from '../core/http/ingest.js';
import { decodeCursor, encodeCursor, parse } from '../core/http/problem.js';
import type { AlertEngine } from './engine.js';
import { amBody, fromAlertmanager, fromPagerDuty, fromPrometheus, pdBody, promBody } from './inbound.js';

export function alertRoutes(app: FastifyInstance, deps: { engine: AlertEngine; guard: IngestGuard; now: () => number }): void {
  const ingest = { config: { scope: 'public' as const }, bodyLimit: 1024 * 1024 };
  // token from the headers, checked before the body is read; PagerDuty's is in the body (routing_key)
  const authed = { ...ingest, onRequest: async (req: FastifyRequest) => void deps.guard.check(presentedIngestToken(req), { kind: 'alerts' }) };
  const read = { config: { scope: 'read' as const } };

  app.post('/api/v2/alerts', authed, async (req, reply) => {
    const alerts = fromPrometheus(parse(promBody, req.body, 'body'), deps.now());
    await deps.engine.receive(alerts, 'prometheus');
    return reply.code(200).send({ status: 'success', accepted: alerts.length });
  });

  app.post('/api/v1/alerts/webhook', authed, async (req, reply) => {
    const alerts = fromAlertmanager(parse(amBody, req.body, 'body'), deps.now());
    await deps.engine.receive(alerts, 'alertmanager');
    return reply.code(200).send({ status: 'success', accepted: alerts.length });
  });

  app.post('/v2/enqueue', { ...ingest, bodyLimit: 512 * 1024 }, async (req, reply) => {
    const raw = req.body as { routing_key?: unknown } | undefined;
    deps.guard.check(typeof raw?.routing_key === 'string' ? raw.routing_key : presentedIngestToken(req), { kind: 'alerts' });
    const { alert, dedupKey } = fromPagerDuty(parse(pdBody, req.body, 'body'), () => randomBytes(16).toString('hex'));
    await deps.engine.receive([alert], 'pagerduty');
    return reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: dedupKey });
  });

  app.get('/api/v1/alerts', read, async (req) => {
    const q = parse(
      z
        .object({
          state: z.enum(['firing', 'pending', 'resolved']).optional(),
          source: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z.string().max(200).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    const page = await deps.engine.list({ state: q.state, source: q.source, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items: page.items, next_cursor: page.nextBefore === null ? null : encodeCursor(page.nextBefore) };
  });

  app.get('/api/v1/alerts/rules', read, async () => ({ items: deps.engine.rulesStatus() }));
}
