/** Health endpoints as the runbooks describe them: 200 when healthy, 503 otherwise. Public. */
import type { FastifyInstance } from 'fastify';
import type { Monitor } from '../../checks/monitor.js';
import { notFound } from '../http.js';

export function healthRoutes(app: FastifyInstance, deps: { monitor: Monitor; version: string; details: () => boolean; startedAt: number }): void {
  const pub = { config: { scope: 'public' as const } };
  app.get('/health', pub, async () => ({ status: 'ok', version: deps.version, uptime_s: Math.round((Date.now() - deps.startedAt) / 1000) }));
  app.get('/api/health', pub, async (_req, reply) => {
    const report = deps.monitor.health(deps.version, deps.details());
    reply.header('cache-control', 'no-store');
    return reply.code(report?.status === 'healthy' ? 200 : 503).send(report);
  });
  app.get<{ Params: { service: string } }>('/api/health/:service', pub, async (req, reply) => {
    const report = deps.monitor.health(deps.version, deps.details(), req.params.service);
    if (!report) throw notFound(`no service named "${req.params.service}"`);
    reply.header('cache-control', 'no-store');
    return reply.code(report.status === 'healthy' ? 200 : 503).send(report);
  });
}
