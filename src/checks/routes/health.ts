/** Health endpoints as the runbooks describe them: 200 when healthy, 503 otherwise. Public. (`/health`, Shipshape's own, is the server's.) */
import type { FastifyInstance } from 'fastify';
import type { Monitor } from '../monitor.js';
import { notFound } from '../../core/http/problem.js';

export function healthRoutes(app: FastifyInstance, deps: { monitor: Monitor; version: string; details: () => boolean }): void {
  const pub = { config: { scope: 'public' as const } };
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
