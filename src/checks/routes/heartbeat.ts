/**
 * Heartbeat push URLs: cron jobs and backups report in at `/api/v1/heartbeat/<name>/<secret>`;
 * the random secret is the credential, the name is for people. A wrong secret, an unknown name and
 * the old secret-less `/api/v1/heartbeat/<name>` all get the same 404, so names cannot be probed.
 */
import type { FastifyInstance } from 'fastify';
import type { Monitor } from '../monitor.js';
import { notFound } from '../../core/http/problem.js';

const NOT_FOUND = 'no heartbeat has that URL: ping /api/v1/heartbeat/<name>/<secret> (GET /api/v1/heartbeats or `shipshape heartbeats` show it)';

export function heartbeatRoutes(app: FastifyInstance, deps: { monitor: Monitor }): void {
  const handler = async (req: { params: { token: string; secret?: string } }) => {
    const { token, secret } = req.params;
    const shaped = /^[A-Za-z0-9._-]{1,128}$/.test(token) && secret !== undefined && /^[A-Za-z0-9_-]{1,128}$/.test(secret);
    if (!shaped || !(await deps.monitor.ping(token, secret))) throw notFound(NOT_FOUND);
    return { ok: true, token, at: new Date().toISOString() };
  };
  const opts = { config: { scope: 'public' as const, rateLimit: { max: 120, timeWindow: '1 minute' } }, bodyLimit: 16_384 };
  app.post<{ Params: { token: string; secret: string } }>('/api/v1/heartbeat/:token/:secret', opts, handler);
  app.get<{ Params: { token: string; secret: string } }>('/api/v1/heartbeat/:token/:secret', opts, handler);
  // the secret-less form of 0.1.0: the same answer for every name
  app.post<{ Params: { token: string } }>('/api/v1/heartbeat/:token', opts, handler);
  app.get<{ Params: { token: string } }>('/api/v1/heartbeat/:token', opts, handler);
  app.get('/api/v1/heartbeats', { config: { scope: 'admin' as const } }, async () => ({ items: deps.monitor.heartbeatList(), next_cursor: null }));
}
