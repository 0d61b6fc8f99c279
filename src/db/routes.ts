/**
 * HTTP routes of the db domain, read scope: the migration status of a service's database
 * (`GET /api/v1/db/<service>/migrations`), what `shipshape db status --service <name>` prints.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { parse } from '../core/http/problem.js';
import type { Migrations, MigrationTarget } from './service.js';

const serviceParam = z.object({ service: z.string().regex(NAME_RE, 'expected a service name') }).strict();

export function dbRoutes(app: FastifyInstance, service: Migrations, targetOf: (name: string) => MigrationTarget): void {
  app.get('/api/v1/db/:service/migrations', { config: { scope: 'read' } }, async (req) => {
    const p = parse(serviceParam, req.params, 'params');
    return service.status(targetOf(p.service));
  });
}
