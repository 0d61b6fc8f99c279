/**
 * HTTP routes of the db domain, read scope: the migration status of a service's database
 * (`GET /api/v1/db/<service>/migrations`), what `shipshape db status --service <name>` prints; what
 * it is busy with (`GET /api/v1/db/<service>/top`), what `shipshape db top --json` prints; and its
 * backups with their verified state (`GET /api/v1/db/<service>/backups`), as `db backups` lists them;
 * and the audit checklist (`GET /api/v1/db/<service>/audit[?schemas=public&roles=anon&long_query=5m]`),
 * what `shipshape db audit --service <name> --json` prints: the service's `database.audit` schemas and
 * roles unless the query names others, and its suppressions always.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { parse } from '../core/http/problem.js';
import type { AuditReport, BackupsReport } from './api-types.js';
import { auditOptionsOf } from './audit.js';
import type { DbDomain } from './index.js';
import { dbTop } from './top.js';

const serviceParam = z.object({ service: z.string().regex(NAME_RE, 'expected a service name') }).strict();
const auditQuery = z
  .object({
    schemas: z.string().max(1000).optional(),
    roles: z.string().max(1000).optional(),
    long_query: z.string().max(20).default('5m'),
  })
  .strict();
const topQuery = z
  .object({
    limit: z.coerce.number().int('expected a whole number').min(1).max(1000).default(10),
    sort: z.enum(['total', 'mean']).default('total'),
  })
  .strict();

export function dbRoutes(app: FastifyInstance, db: Pick<DbDomain, 'service' | 'targetOf' | 'listBackups' | 'audit'>): void {
  app.get('/api/v1/db/:service/migrations', { config: { scope: 'read' } }, async (req) => {
    const p = parse(serviceParam, req.params, 'params');
    return db.service.status(db.targetOf(p.service));
  });
  app.get('/api/v1/db/:service/top', { config: { scope: 'read' } }, async (req) => {
    const p = parse(serviceParam, req.params, 'params');
    const o = parse(topQuery, req.query, 'query');
    return dbTop(db.targetOf(p.service).url, { limit: o.limit, order: o.sort });
  });
  // the security and health checklist (what `shipshape db audit --json` prints), read-only
  app.get('/api/v1/db/:service/audit', { config: { scope: 'read' } }, async (req): Promise<AuditReport> => {
    const p = parse(serviceParam, req.params, 'params');
    const o = parse(auditQuery, req.query, 'query');
    // the query's schemas and roles are checked here; those it leaves out come from the service's config
    const opts = auditOptionsOf({ schemas: o.schemas ?? 'public', longQuery: o.long_query, ...(o.roles !== undefined ? { roles: o.roles } : {}) }, { schemas: 'query.schemas', longQuery: 'query.long_query', roles: 'query.roles' });
    return db.audit(p.service, { longQueryMs: opts.longQueryMs, ...(o.schemas !== undefined ? { exposedSchemas: opts.exposedSchemas } : {}), ...(opts.roles ? { roles: opts.roles } : {}) });
  });
  app.get('/api/v1/db/:service/backups', { config: { scope: 'read' } }, async (req): Promise<BackupsReport> => {
    const p = parse(serviceParam, req.params, 'params');
    const o = parse(z.object({ limit: z.coerce.number().int('expected a whole number').min(1).max(1000).default(50) }).strict(), req.query, 'query');
    return db.listBackups(p.service, { limit: o.limit });
  });
}
