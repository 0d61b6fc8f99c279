/**
 * HTTP routes of the db domain, read scope: the migration status of a service's database
 * (`GET /api/v1/db/<service>/migrations`), what `shipshape db status --service <name>` prints, and
 * what it is busy with (`GET /api/v1/db/<service>/top`), what `shipshape db top --json` prints.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { parse } from '../core/http/problem.js';
import type { Migrations, MigrationTarget } from './service.js';
import { dbTop } from './top.js';

const serviceParam = z.object({ service: z.string().regex(NAME_RE, 'expected a service name') }).strict();
const topQuery = z
  .object({
    limit: z.coerce.number().int('expected a whole number').min(1).max(1000).default(10),
    sort: z.enum(['total', 'mean']).default('total'),
  })
  .strict();

export function dbRoutes(app: FastifyInstance, service: Migrations, targetOf: (name: string) => MigrationTarget): void {
  app.get('/api/v1/db/:service/migrations', { config: { scope: 'read' } }, async (req) => {
    const p = parse(serviceParam, req.params, 'params');
    return service.status(targetOf(p.service));
  });
  app.get('/api/v1/db/:service/top', { config: { scope: 'read' } }, async (req) => {
    const p = parse(serviceParam, req.params, 'params');
    const o = parse(topQuery, req.query, 'query');
    return dbTop(targetOf(p.service).url, { limit: o.limit, order: o.sort });
  });
}
