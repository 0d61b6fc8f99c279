/** Heartbeat push URL: cron jobs and backups report in; the token in the path is the credential. */
import type { FastifyInstance } from 'fastify';
import type { Monitor } from '../monitor.js';
import { notFound } from '../../core/http/problem.js';

export function heartbeatRoutes(app: FastifyInstance, deps: { monitor: Monitor }): void {
  const handler = async (req: { params: { token: string } }) => {
    const token = req.params.token;
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(token) || !(await deps.monitor.ping(token))) throw notFound('no heartbeat check has that token');
    return { ok: true, token, at: new Date().toISOString() };
  };
  const opts = { config: { scope: 'public' as const, rateLimit: { max: 120, timeWindow: '1 minute' } }, bodyLimit: 16_384 };
  app.post<{ Params: { token: string } }>('/api/v1/heartbeat/:token', opts, handler);
  app.get<{ Params: { token: string } }>('/api/v1/heartbeat/:token', opts, handler);
}
