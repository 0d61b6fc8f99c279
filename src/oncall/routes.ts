/**
 * HTTP routes of the on-call domain, under /api/v1/oncall: who is on call, shifts, calendars
 * (read scope) and escalations; the ack / resolve links in pages are public (the signed,
 * single-use, expiring token is the credential): GET shows a confirm page and changes nothing
 * (mail scanners open links), POST acts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpProblem, parse } from '../core/http/problem.js';
import { escapeHtml } from './html.js';
import { calendarOf } from './ical.js';
import { LinkError } from './links.js';
import type { Oncall } from './service.js';

const DAY = 86_400_000;
const instant = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const t = Date.parse(v);
    if (!Number.isFinite(t)) {
      ctx.addIssue({ code: 'custom', message: `expected an ISO time like 2026-03-29T09:00:00Z, got "${v}"` });
      return z.NEVER;
    }
    return t;
  });
const name = z.string().min(1).max(63);
const tokenParam = z.object({ token: z.string().min(1).max(4000) }).strict();

function linkProblem(e: unknown): never {
  if (e instanceof LinkError) throw new HttpProblem(e.status, e.title, e.message);
  throw e;
}

export function oncallRoutes(app: FastifyInstance, svc: Oncall, now: () => number): void {
  const read = { config: { scope: 'read' as const } };

  app.get('/api/v1/oncall/now', read, async (req) => {
    const q = parse(z.object({ schedule: name.optional(), at: instant.optional() }).strict(), req.query, 'query');
    return { items: svc.whoIsOn(q.schedule, q.at ?? now()) };
  });

  app.get('/api/v1/oncall/schedules', read, async () => ({ items: svc.whoIsOn(undefined, now()) }));

  app.get('/api/v1/oncall/schedules/:name/shifts', read, async (req) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    const q = parse(z.object({ from: instant.optional(), to: instant.optional() }).strict(), req.query, 'query');
    const from = q.from ?? now();
    const to = q.to ?? from + 28 * DAY;
    if (to <= from || to - from > 400 * DAY) throw new HttpProblem(400, 'Bad Request', 'query.to: must be after from, at most 400 days later', [{ path: 'query.to', message: 'must be after from, at most 400 days later' }]);
    return { items: svc.shiftsOf(p.name, from, to) };
  });

  const window = (q: { days: number }) => ({ from: now() - 7 * DAY, to: now() + q.days * DAY });
  const daysQuery = z.object({ days: z.coerce.number().int().min(1).max(400).default(90) }).strict();

  app.get('/api/v1/oncall/schedules/:name/calendar.ics', read, async (req, reply) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    const w = window(parse(daysQuery, req.query, 'query'));
    const shifts = svc.shiftsOf(p.name, w.from, w.to);
    const tz = svc.whoIsOn(p.name, now())[0]?.time_zone;
    return reply.type('text/calendar; charset=utf-8').header('content-disposition', `inline; filename="${p.name}.ics"`).send(calendarOf({ name: `On call: ${p.name}`, description: `Shipshape on-call schedule ${p.name}`, timeZone: tz, shifts, now: now() }));
  });

  app.get('/api/v1/oncall/people', read, async () => ({ items: svc.people() }));

  app.get('/api/v1/oncall/people/:name/calendar.ics', read, async (req, reply) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    const w = window(parse(daysQuery, req.query, 'query'));
    const shifts = svc.shiftsOfPerson(p.name, w.from, w.to);
    return reply.type('text/calendar; charset=utf-8').header('content-disposition', `inline; filename="${p.name}.ics"`).send(calendarOf({ name: `On call: ${p.name}`, description: `Shipshape on-call shifts of ${p.name}`, shifts, now: now() }));
  });

  app.get('/api/v1/oncall/escalations/:incident', read, async (req) => {
    const p = parse(z.object({ incident: z.string().regex(/^(INC-)?[1-9][0-9]{0,14}$/i, 'expected an incident number like 12 or INC-12').transform((s) => Number(s.replace(/^INC-/i, ''))) }).strict(), req.params, 'params');
    return { items: await svc.escalations(p.incident) };
  });

  const pub = { config: { scope: 'public' as const, rateLimit: { max: 60, timeWindow: '1 minute' } } };

  app.get('/api/v1/oncall/ack/:token', pub, async (req, reply) => {
    const { token } = parse(tokenParam, req.params, 'params');
    const c = await svc.inspectLink(token).catch(linkProblem);
    const verb = c.a === 'ack' ? 'Acknowledge' : 'Resolve';
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><meta name="referrer" content="no-referrer"><title>${verb} ${escapeHtml(c.ref)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">
<h1>${verb} ${escapeHtml(c.ref)}?</h1>
<p><b>${escapeHtml(c.title)}</b> — now ${escapeHtml(c.state)}.</p>
<p>As <b>${escapeHtml(c.p)}</b>. This link works once and expires ${escapeHtml(new Date(c.e).toISOString())}.</p>
<form method="post" enctype="text/plain"><input type="hidden" name="confirm" value="yes"><button type="submit" style="font-size:1.2rem;padding:.5rem 1.5rem">${verb}</button></form>
</body></html>`;
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  });

  app.post('/api/v1/oncall/ack/:token', pub, async (req, reply) => {
    const { token } = parse(tokenParam, req.params, 'params');
    const inc = await svc.useLink(token).catch(linkProblem);
    if ((req.headers.accept ?? '').includes('text/html')) {
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(inc.ref)}</title></head><body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto"><h1>${escapeHtml(inc.ref)} is ${escapeHtml(inc.state)}</h1><p>${escapeHtml(inc.title)}</p></body></html>`);
    }
    return inc;
  });
}
