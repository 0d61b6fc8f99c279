/** Shipshape's own metrics in the Prometheus text format, behind a read token. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../core/metrics.js';

export function metricsRoutes(app: FastifyInstance, deps: { metrics: Metrics }): void {
  app.get('/metrics', { config: { scope: 'read' } }, async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
