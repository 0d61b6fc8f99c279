/**
 * HTTP routes of the incidents domain, under /api/v1/incidents: read scope for GET, write for
 * changes. Errors are problem+json naming the field (`body.severity`, `params.id`, …); a change the
 * lifecycle does not allow (acknowledging a resolved incident) is 409.
 */
import type { FastifyInstance } from 'fastify';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { parseDuration } from '../core/config/units.js';
import { actorOf } from '../core/http/auth.js';
import { decodeCursor, encodeCursor, parse } from '../core/http/problem.js';
import type { Incidents } from './service.js';
import { INCIDENT_STATES, UPDATE_STATUSES } from './types.js';

const idParam = z
  .object({
    id: z
      .string()
      .regex(/^(INC-)?[1-9][0-9]{0,14}$/i, 'expected an incident number like 12 or INC-12')
      .transform((s) => Number(s.replace(/^INC-/i, ''))),
  })
  .strict();

const title = z.string().trim().min(1, 'a title is required').max(300);
const message = z.string().trim().min(1, 'a message is required').max(10_000);
const who = z.string().trim().min(1).max(200).nullable();
const messageBody = z.object({ message: message.optional() }).strict();

const postmortemBody = z
  .object({
    summary: z.string().max(20_000).optional(),
    impact: z.string().max(20_000).optional(),
    root_cause: z.string().max(20_000).optional(),
    went_well: z.array(z.string().max(2000)).max(100).optional(),
    went_badly: z.array(z.string().max(2000)).max(100).optional(),
    action_items: z
      .array(
        z
          .object({
            title: z.string().trim().min(1).max(500),
            owner: z.string().max(200).optional(),
            due: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2025-07-01').optional(),
            done: z.boolean().optional(),
          })
          .strict(),
      )
      .max(200)
      .optional(),
  })
  .strict();

const tz = z
  .string()
  .max(64)
  .refine((v) => IANAZone.isValidZone(v), 'expected an IANA time zone like Europe/Berlin')
  .optional();

const windowParam = z
  .string()
  .max(20)
  .default('1h')
  .transform((t, ctx) => {
    const ms = parseDuration(t);
    if (ms === undefined || ms <= 0 || ms > 30 * 86_400_000) {
      ctx.addIssue({ code: 'custom', message: `expected a duration up to 30d like 1h or 30m, got "${t}"` });
      return z.NEVER;
    }
    return ms;
  });

export function incidentRoutes(app: FastifyInstance, svc: Incidents): void {
  // severities and services are checked against the config in force, so the problem names the field
  const severity = z
    .string()
    .min(1)
    .max(16)
    .superRefine((v, ctx) => {
      if (!svc.level(v)) ctx.addIssue({ code: 'custom', message: `unknown severity "${v}"; levels: ${svc.levels().map((l) => l.name).join(', ')}` });
    });
  const services = z
    .array(z.string().min(1).max(100))
    .max(50)
    .superRefine((list, ctx) => {
      const known = svc.serviceNames();
      list.forEach((v, i) => {
        if (!known.includes(v)) ctx.addIssue({ code: 'custom', message: `unknown service "${v}"; services: ${known.join(', ') || 'none configured'}`, path: [i] });
      });
    });
  const openBody = z
    .object({
      title,
      severity,
      services: services.default([]),
      message: message.optional(),
      roles: z.object({ commander: who.optional(), communications: who.optional(), scribe: who.optional() }).strict().optional(),
    })
    .strict();
  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };
  const id = (p: unknown) => parse(idParam, p, 'params').id;
  // bodies are optional on the lifecycle actions
  const body = <S extends z.ZodType>(s: S, b: unknown) => parse(s, b ?? {}, 'body');

  app.get('/api/v1/incidents', read, async (req) => {
    const q = parse(
      z
        .object({
          state: z.enum(INCIDENT_STATES).optional(),
          open: z.enum(['true', 'false']).optional(),
          severity: severity.optional(),
          service: z.string().max(100).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    const page = await svc.list({ state: q.state, open: q.open === 'true', severity: q.severity, service: q.service, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items: page.items, next_cursor: page.nextBefore === null ? null : encodeCursor(page.nextBefore) };
  });

  app.get('/api/v1/incidents/action-items', read, async (req) => {
    const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
    const q = parse(z.object({ open: flag.optional(), overdue: flag.optional(), owner: z.string().min(1).max(200).optional(), limit: z.coerce.number().int().min(1).max(1000).default(500) }).strict(), req.query, 'query');
    const items = await svc.actionItems({ open: q.open, overdue: q.overdue, owner: q.owner, limit: q.limit });
    return { items, overdue: items.filter((a) => a.overdue).length };
  });

  app.get('/api/v1/incidents/severities', read, async () => ({
    items: svc.levels().map((l, i) => ({
      name: l.name,
      alias: i < 10 ? `P${i}` : null,
      description: l.description ?? null,
      ack: l.ack ? (l.ack.kind === 'duration' ? l.ack.ms : 'next_business_day') : null,
      first_update: l.first_update ? (l.first_update.kind === 'duration' ? l.first_update.ms : 'next_business_day') : null,
      update_every: l.update_every ?? null,
      resolve: l.resolve ? (l.resolve.kind === 'duration' ? l.resolve.ms : 'next_business_day') : null,
    })),
  }));

  app.post('/api/v1/incidents', write, async (req, reply) => {
    const b = parse(openBody, req.body, 'body');
    const inc = await svc.open({ title: b.title, severity: b.severity, services: b.services, message: b.message, roles: b.roles }, actorOf(req));
    return reply.code(201).header('location', `/api/v1/incidents/${inc.id}`).send(inc);
  });

  app.get('/api/v1/incidents/:id', read, async (req) => svc.get(id(req.params)));

  app.patch('/api/v1/incidents/:id', write, async (req) => {
    const i = id(req.params);
    const b = parse(z.object({ title: title.optional(), severity: severity.optional(), services: services.optional() }).strict(), req.body, 'body');
    return svc.edit(i, b, actorOf(req));
  });

  app.post('/api/v1/incidents/:id/acknowledge', write, async (req) => {
    const i = id(req.params);
    body(z.object({}).strict(), req.body);
    return svc.acknowledge(i, actorOf(req));
  });
  for (const action of ['mitigate', 'resolve', 'close', 'decline', 'reopen'] as const) {
    app.post(`/api/v1/incidents/:id/${action}`, write, async (req) => {
      const i = id(req.params);
      const b = body(messageBody, req.body);
      return svc[action](i, actorOf(req), b.message);
    });
  }

  app.post('/api/v1/incidents/:id/merge', write, async (req) => {
    const i = id(req.params);
    const b = parse(z.object({ into: z.union([z.number().int().positive(), idParam.shape.id]) }).strict(), req.body, 'body');
    return svc.merge(i, b.into, actorOf(req));
  });

  app.post('/api/v1/incidents/:id/updates', write, async (req, reply) => {
    const i = id(req.params);
    const b = parse(z.object({ status: z.enum(UPDATE_STATUSES), message }).strict(), req.body, 'body');
    return reply.code(201).send(await svc.postUpdate(i, b, actorOf(req)));
  });

  app.post('/api/v1/incidents/:id/notes', write, async (req, reply) => {
    const i = id(req.params);
    const b = parse(z.object({ message }).strict(), req.body, 'body');
    return reply.code(201).send(await svc.addNote(i, b.message, actorOf(req)));
  });

  app.put('/api/v1/incidents/:id/roles', write, async (req) => {
    const i = id(req.params);
    const b = parse(z.object({ commander: who.optional(), communications: who.optional(), scribe: who.optional() }).strict(), req.body, 'body');
    return svc.setRoles(i, b, actorOf(req));
  });

  app.get('/api/v1/incidents/:id/timeline', read, async (req) => {
    const i = id(req.params);
    const q = parse(z.object({ limit: z.coerce.number().int().min(1).max(5000).default(1000) }).strict(), req.query, 'query');
    return svc.timeline(i, { limit: q.limit });
  });

  app.get('/api/v1/incidents/:id/changes', read, async (req) => {
    const i = id(req.params);
    const q = parse(z.object({ window: windowParam, limit: z.coerce.number().int().min(1).max(5000).default(1000) }).strict(), req.query, 'query');
    return svc.changesBefore(i, q.window, { limit: q.limit });
  });

  app.get('/api/v1/incidents/:id/postmortem', read, async (req, reply) => {
    const i = id(req.params);
    const q = parse(z.object({ tz }).strict(), req.query, 'query');
    return reply.type('text/markdown; charset=utf-8').send(await svc.postmortem(i, { timeZone: q.tz }));
  });

  app.put('/api/v1/incidents/:id/postmortem', write, async (req) => {
    const i = id(req.params);
    const b = parse(postmortemBody, req.body, 'body');
    return svc.setPostmortem(i, b, actorOf(req));
  });
}
