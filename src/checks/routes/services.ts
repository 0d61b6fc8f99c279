/** Services, checks, results, uptime and state changes. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Page } from '../../core/api-types.js';
import type { CheckSummary, ServiceSummary, StateChange } from '../api-types.js';
import type { Monitor } from '../monitor.js';
import { decodeCursor, encodeCursor, HttpProblem, notFound, parse } from '../../core/http/problem.js';

const includeSchema = z
  .string()
  .max(100)
  .optional()
  .transform((s) => {
    const parts = new Set((s ?? '').split(',').filter(Boolean));
    return { days: parts.has('days'), sparkline: parts.has('sparkline') };
  });
const listQuery = z.object({ include: includeSchema, limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional() }).strict();
const pageQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() }).strict();
const aggQuery = z
  .object({
    resolution: z.enum(['minute', 'hour', 'day']).default('minute'),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export function serviceRoutes(app: FastifyInstance, deps: { monitor: Monitor }): void {
  const { monitor } = deps;
  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };

  app.get('/api/v1/services', read, async (req): Promise<Page<ServiceSummary>> => {
    const q = parse(listQuery, req.query, 'query');
    const offset = decodeCursor<number>(q.cursor, 'number') ?? 0;
    const names = monitor.serviceNames();
    const slice = names.slice(offset, offset + q.limit);
    const items = slice.map((n) => monitor.service(n, q.include)).filter((s): s is ServiceSummary => !!s);
    const next = offset + q.limit < names.length ? encodeCursor(offset + q.limit) : null;
    return { items, next_cursor: next };
  });

  app.get<{ Params: { name: string } }>('/api/v1/services/:name', read, async (req) => {
    const q = parse(z.object({ include: includeSchema }).strict(), req.query, 'query');
    const s = monitor.service(req.params.name, q.include);
    if (!s) throw notFound(`no service named "${req.params.name}"`);
    return s;
  });

  app.post<{ Params: { name: string } }>('/api/v1/services/:name/run', write, async (req) => {
    if (!monitor.hasService(req.params.name)) throw notFound(`no service named "${req.params.name}"`);
    await monitor.runNow([req.params.name]);
    return monitor.service(req.params.name, { days: true, sparkline: true });
  });

  app.get<{ Params: { name: string } }>('/api/v1/services/:name/state-changes', read, async (req): Promise<Page<StateChange>> => {
    if (!monitor.hasService(req.params.name)) throw notFound(`no service named "${req.params.name}"`);
    const q = parse(pageQuery, req.query, 'query');
    const items = await monitor.stateChanges({ service: req.params.name, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items, next_cursor: items.length === q.limit ? encodeCursor((items[items.length - 1] as StateChange).id) : null };
  });

  app.get<{ Params: { name: string } }>('/api/v1/services/:name/uptime', read, async (req) => {
    const s = monitor.service(req.params.name, { days: true });
    if (!s) throw notFound(`no service named "${req.params.name}"`);
    return { service: s.name, state: s.state, uptime: s.uptime, days: s.days };
  });

  app.get('/api/v1/state-changes', read, async (req): Promise<Page<StateChange>> => {
    const q = parse(pageQuery.extend({ service: z.string().max(100).optional() }), req.query, 'query');
    const items = await monitor.stateChanges({ service: q.service, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items, next_cursor: items.length === q.limit ? encodeCursor((items[items.length - 1] as StateChange).id) : null };
  });

  app.get('/api/v1/checks', read, async (req): Promise<Page<CheckSummary>> => {
    const q = parse(pageQuery.extend({ limit: z.coerce.number().int().min(1).max(500).default(100) }), req.query, 'query');
    const offset = decodeCursor<number>(q.cursor, 'number') ?? 0;
    const all = monitor.allChecks(offset, q.limit + 1);
    const items = all.slice(0, q.limit);
    return { items, next_cursor: all.length > q.limit ? encodeCursor(offset + q.limit) : null };
  });

  const findCheck = (service: string, check: string) => {
    const c = monitor.check(service, check);
    if (!c) throw notFound(`no check "${check}" in service "${service}"`);
    return c;
  };

  app.get<{ Params: { service: string; check: string } }>('/api/v1/services/:service/checks/:check', read, async (req) => findCheck(req.params.service, req.params.check).summary);

  app.get<{ Params: { service: string; check: string } }>('/api/v1/services/:service/checks/:check/aggregates', read, async (req) => {
    const c = findCheck(req.params.service, req.params.check);
    const q = parse(aggQuery, req.query, 'query');
    const to = q.to ? Date.parse(q.to) : Date.now();
    const span = { minute: 6 * 3600_000, hour: 7 * 86_400_000, day: 90 * 86_400_000 }[q.resolution];
    const from = q.from ? Date.parse(q.from) : to - span;
    if (from > to) throw new HttpProblem(400, 'Bad Request', '"from" is after "to"', [{ path: 'query.from', message: 'must be before to' }]);
    return { items: await monitor.history.aggregates(c.dbId, q.resolution, from, to) };
  });

  app.get<{ Params: { service: string; check: string } }>('/api/v1/services/:service/checks/:check/failures', read, async (req) => {
    const c = findCheck(req.params.service, req.params.check);
    const q = parse(pageQuery, req.query, 'query');
    const items = await monitor.history.failed(c.dbId, q.limit, decodeCursor<number>(q.cursor, 'number'));
    return { items, next_cursor: items.length === q.limit ? encodeCursor((items[items.length - 1] as { id: number }).id) : null };
  });
}
