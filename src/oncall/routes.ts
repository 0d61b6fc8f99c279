/**
 * HTTP routes of the on-call domain, under /api/v1/oncall: who is on call, shifts, calendars,
 * calendar subscription URLs (read scope), feed revocation (write) and escalations. Public: the
 * calendar feeds by URL (the signed, revocable feed token is the credential) and the ack / resolve
 * links in pages (the signed, single-use, expiring token is): GET shows a confirm page and changes
 * nothing (mail scanners open links), POST acts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../core/http/auth.js';
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

  const scheduleCalendar = (name: string, days: number) => {
    const w = window({ days });
    const shifts = svc.shiftsOf(name, w.from, w.to);
    const tz = svc.whoIsOn(name, now())[0]?.time_zone;
    return calendarOf({ name: `On call: ${name}`, description: `Shipshape on-call schedule ${name}`, timeZone: tz, shifts, now: now() });
  };
  const personCalendar = (name: string, days: number) => {
    const w = window({ days });
    const shifts = svc.shiftsOfPerson(name, w.from, w.to);
    return calendarOf({ name: `On call: ${name}`, description: `Shipshape on-call shifts of ${name}`, shifts, now: now() });
  };

  app.get('/api/v1/oncall/schedules/:name/calendar.ics', read, async (req, reply) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    const q = parse(daysQuery, req.query, 'query');
    return reply.type('text/calendar; charset=utf-8').header('content-disposition', `inline; filename="${p.name}.ics"`).send(scheduleCalendar(p.name, q.days));
  });

  // calendar subscriptions: a URL a calendar app can poll without a login (the signed, revocable token is the credential)
  app.get('/api/v1/oncall/schedules/:name/subscription', read, async (req) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    return svc.subscription('schedule', p.name, actorOf(req));
  });

  app.get('/api/v1/oncall/people/:name/subscription', read, async (req) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    return svc.subscription('person', p.name, actorOf(req));
  });

  app.get('/api/v1/oncall/feeds', read, async () => ({ items: await svc.feeds() }));

  app.delete('/api/v1/oncall/feeds/:id', { config: { scope: 'write' as const } }, async (req) => {
    const p = parse(z.object({ id: z.string().regex(/^feed_[A-Za-z0-9_-]{12}$/, 'expected a feed id like feed_AbCdEfGhIjKl') }).strict(), req.params, 'params');
    return svc.revokeFeed(p.id, actorOf(req));
  });

  app.get('/api/v1/oncall/schedules/:name', read, async (req) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    return svc.scheduleDetail(p.name);
  });

  app.get('/api/v1/oncall/policies', read, async () => ({ items: svc.policies() }));

  app.get('/api/v1/oncall/escalations', read, async (req) => {
    const q = parse(z.object({ state: z.literal('active').default('active'), limit: z.coerce.number().int().min(1).max(500).default(200) }).strict(), req.query, 'query');
    return { items: await svc.activeEscalations(q.limit) };
  });

  app.get('/api/v1/oncall/people', read, async () => ({ items: svc.people() }));

  app.get('/api/v1/oncall/people/:name/calendar.ics', read, async (req, reply) => {
    const p = parse(z.object({ name }).strict(), req.params, 'params');
    const q = parse(daysQuery, req.query, 'query');
    return reply.type('text/calendar; charset=utf-8').header('content-disposition', `inline; filename="${p.name}.ics"`).send(personCalendar(p.name, q.days));
  });

  app.get('/api/v1/oncall/escalations/:incident', read, async (req) => {
    const p = parse(z.object({ incident: z.string().regex(/^(INC-)?[1-9][0-9]{0,14}$/i, 'expected an incident number like 12 or INC-12').transform((s) => Number(s.replace(/^INC-/i, ''))) }).strict(), req.params, 'params');
    return { items: await svc.escalations(p.incident) };
  });

  const pub = { config: { scope: 'public' as const, rateLimit: { max: 60, timeWindow: '1 minute' } } };

  // one answer for every refusal (unknown, tampered, revoked, target gone): it does not say which part was wrong
  const noFeed = () => new HttpProblem(404, 'Not Found', 'no such calendar feed (the URL is wrong or was revoked)');
  app.get('/api/v1/oncall/calendar/:file', pub, async (req, reply) => {
    const { file } = parse(z.object({ file: z.string().min(1).max(200) }).strict(), req.params, 'params');
    const feed = file.endsWith('.ics') ? await svc.feedOf(file.slice(0, -'.ics'.length)) : null;
    if (!feed) throw noFeed();
    const q = parse(daysQuery, req.query, 'query');
    const body = feed.kind === 'schedule' ? scheduleCalendar(feed.target, q.days) : personCalendar(feed.target, q.days);
    return reply
      .type('text/calendar; charset=utf-8')
      .header('content-disposition', `inline; filename="${feed.target}.ics"`)
      .header('cache-control', 'private, max-age=300')
      .header('referrer-policy', 'no-referrer')
      .send(body);
  });

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
