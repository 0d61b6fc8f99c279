/**
 * HTTP routes of the maintenance domain, under /api/v1/maintenance: read scope for GET, write for
 * changes. Errors are problem+json naming the field (`body.services.0`, `body.starts_at`); an
 * overlap with another window or a change the lifecycle does not allow is 409.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../core/config/units.js';
import { actorOf } from '../core/http/auth.js';
import { decodeCursor, encodeCursor, parse } from '../core/http/problem.js';
import type { Maintenance } from './service.js';
import { parseStart } from './time.js';
import { WINDOW_STATUSES } from './types.js';

const idParam = z.object({ id: z.string().regex(/^[1-9][0-9]{0,14}$/, 'expected a maintenance window number like 12').transform(Number) }).strict();

const dur = (what: string) =>
  z
    .union([z.string().max(20), z.number().int()])
    .transform((v, ctx) => {
      const ms = typeof v === 'number' ? v : parseDuration(v);
      if (ms === undefined || ms < 0) {
        ctx.addIssue({ code: 'custom', message: `expected ${what} like 30m, 2h or 1d, got "${String(v).slice(0, 20)}"` });
        return z.NEVER;
      }
      return ms;
    });

export function maintenanceRoutes(app: FastifyInstance, svc: Maintenance, now: () => number): void {
  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };
  const id = (p: unknown) => parse(idParam, p, 'params').id;
  const when = (what: string) =>
    z
      .string()
      .max(64)
      .transform((v, ctx) => {
        const t = parseStart(v, now());
        if (t === undefined) {
          ctx.addIssue({ code: 'custom', message: `expected ${what} as an RFC 3339 time like 2026-03-10T02:00:00Z, "now" or "+2h", got "${v.slice(0, 64)}"` });
          return z.NEVER;
        }
        return t;
      });
  const services = z
    .array(z.string().min(1).max(100))
    .min(1, 'name at least one affected service')
    .max(50)
    .superRefine((list, ctx) => {
      const known = svc.serviceNames();
      list.forEach((v, i) => {
        if (!known.includes(v)) ctx.addIssue({ code: 'custom', message: `unknown service "${v}"; services: ${known.join(', ') || 'none configured'}`, path: [i] });
      });
    });
  const addBody = z
    .object({
      title: z.string().trim().min(1, 'a title is required').max(300),
      message: z.string().trim().max(10_000).optional(),
      services,
      starts_at: when('starts_at'),
      duration: dur('a duration'),
      max: dur('a duration').optional(),
      notice: dur('a duration').optional(),
      auto_end: z.boolean().optional(),
    })
    .strict();

  app.get('/api/v1/maintenance', read, async (req) => {
    const q = parse(
      z
        .object({
          status: z.enum([...WINDOW_STATUSES, 'all']).optional(),
          service: z.string().max(100).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z.string().max(200).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    const page = await svc.list({ status: q.status, service: q.service, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items: page.items, next_cursor: page.nextBefore === null ? null : encodeCursor(page.nextBefore) };
  });

  app.post('/api/v1/maintenance', write, async (req, reply) => {
    const b = parse(addBody, req.body, 'body');
    const w = await svc.add({ title: b.title, message: b.message || undefined, services: b.services, starts_at: b.starts_at, duration_ms: b.duration, max_ms: b.max, notice_ms: b.notice, auto_end: b.auto_end }, actorOf(req));
    return reply.code(201).header('location', `/api/v1/maintenance/${w.id}`).send(w);
  });

  app.get('/api/v1/maintenance/:id', read, async (req) => svc.get(id(req.params)));

  const empty = z.object({}).strict();
  app.post('/api/v1/maintenance/:id/cancel', write, async (req) => {
    const i = id(req.params);
    parse(empty, req.body ?? {}, 'body');
    return svc.cancel(i, actorOf(req));
  });
  app.post('/api/v1/maintenance/:id/end', write, async (req) => {
    const i = id(req.params);
    parse(empty, req.body ?? {}, 'body');
    return svc.end(i, actorOf(req));
  });
  app.post('/api/v1/maintenance/:id/verify', write, async (req) => {
    const i = id(req.params);
    parse(empty, req.body ?? {}, 'body');
    return svc.verify(i, actorOf(req));
  });
  app.post('/api/v1/maintenance/:id/extend', write, async (req) => {
    const i = id(req.params);
    const b = parse(z.object({ ends_at: when('ends_at').optional(), by: dur('a duration').optional() }).strict().refine((x) => (x.ends_at === undefined) !== (x.by === undefined), 'give ends_at (a time) or by (a duration)'), req.body, 'body');
    const w = await svc.get(i);
    return svc.extend(i, b.ends_at ?? Date.parse(w.ends_at) + (b.by as number), actorOf(req));
  });
}
