/** HTTP API of the notify domain: silences, the notification queue, alerts as notify sees them. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { duration } from '../core/config/zod-units.js';
import { HttpProblem, decodeCursor, encodeCursor, notFound, parse } from '../core/http/problem.js';
import { actorOf } from '../core/http/auth.js';
import type { NotifyConfig } from './config.js';
import { channelKind } from './channels/index.js';
import { channelTargets, resolveRoutes, routesFor, type Dispatcher } from './dispatcher.js';
import { parseMatcher, type Matcher } from './match.js';
import type { NotifyQueue } from './queue.js';
import type { TestSendResult } from './test-send.js';
import { SilenceError, type Silences } from './silences.js';
import { routeRows, routeView } from './tree.js';

export interface NotifyRouteDeps {
  silences: Silences;
  queue: NotifyQueue;
  dispatcher: Dispatcher;
  config: () => NotifyConfig;
  afterSilenceChange: () => Promise<void>;
  /** send a test message through a channel now */
  testChannel: (name: string, actor: string) => Promise<TestSendResult>;
}

const matcherObject = z
  .object({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a label name'), value: z.string().max(1000), isRegex: z.boolean().default(false), isEqual: z.boolean().default(true) })
  .strict();

const silenceBody = z
  .object({
    matchers: z.array(z.union([z.string().max(1000), matcherObject])).min(1).max(50),
    startsAt: z.iso.datetime({ offset: true }).optional(),
    endsAt: z.iso.datetime({ offset: true }).optional(),
    duration: duration().refine((ms) => ms > 0, 'a silence lasts longer than 0s').optional().describe('instead of endsAt: 2h, 30m…'),
    comment: z.string().min(1).max(2000),
    createdBy: z.string().max(200).optional(),
  })
  .strict()
  .refine((b) => !(b.endsAt && b.duration !== undefined), { message: 'give endsAt or duration, not both', path: ['duration'] })
  .refine((b) => b.endsAt || b.duration !== undefined, { message: 'endsAt or duration is required (silences expire)', path: ['endsAt'] });

export function notifyRoutes(app: FastifyInstance, d: NotifyRouteDeps): void {
  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const }, bodyLimit: 32 * 1024 };

  // what `shipshape notify test <channel>` does, for the dashboard and scripts: 200 sent, 502 the channel failed
  app.post('/api/v1/notify/channels/:name/test', write, async (req, reply) => {
    const p = parse(z.object({ name: z.string().min(1).max(200) }), req.params, 'params');
    const r = await d.testChannel(p.name, `the API (${actorOf(req)})`);
    return reply.code(r.ok ? 200 : 502).send(r);
  });

  app.get('/api/v1/silences', read, async (req) => {
    const q = parse(z.object({ state: z.enum(['active', 'pending', 'expired', 'all']).default('all'), limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict(), req.query, 'query');
    return { items: await d.silences.list({ state: q.state, limit: q.limit }) };
  });

  app.get('/api/v1/silences/:id', read, async (req) => {
    const p = parse(z.object({ id: z.string().max(100) }), req.params, 'params');
    const s = await d.silences.get(p.id).catch((e: Error) => {
      throw new HttpProblem(400, 'Bad Request', e.message);
    });
    if (!s) throw notFound(`no silence "${p.id}"`);
    return s;
  });

  app.post('/api/v1/silences', write, async (req, reply) => {
    const b = parse(silenceBody, req.body, 'body');
    let matchers: Matcher[];
    try {
      matchers = b.matchers.map((m) => (typeof m === 'string' ? parseMatcher(m) : m));
    } catch (e) {
      throw new HttpProblem(400, 'Bad Request', `invalid body: matchers: ${(e as Error).message}`, [{ path: 'body.matchers', message: (e as Error).message }]);
    }
    const startsAt = b.startsAt ? Date.parse(b.startsAt) : undefined;
    const endsAt: number | undefined = b.endsAt ? Date.parse(b.endsAt) : undefined;
    const durationMs = b.duration;
    try {
      // the author is the token that made it
      const s = await d.silences.create({ matchers, startsAt, endsAt, durationMs, createdBy: req.token?.name ?? 'anonymous', comment: b.comment }, actorOf(req));
      await d.afterSilenceChange();
      return reply.code(201).send(s);
    } catch (e) {
      if (e instanceof SilenceError) throw new HttpProblem(400, 'Bad Request', `invalid silence: ${e.message}`);
      throw e;
    }
  });

  app.delete('/api/v1/silences/:id', { config: { scope: 'write' as const } }, async (req) => {
    const p = parse(z.object({ id: z.string().max(100) }), req.params, 'params');
    let s;
    try {
      s = await d.silences.expire(p.id, actorOf(req));
    } catch (e) {
      if (e instanceof SilenceError) throw new HttpProblem(400, 'Bad Request', e.message);
      throw e;
    }
    if (!s) throw notFound(`no silence "${p.id}"`);
    await d.afterSilenceChange();
    return s;
  });

  app.get('/api/v1/notifications', read, async (req) => {
    const q = parse(
      z
        .object({
          status: z.enum(['pending', 'sent', 'failed', 'superseded']).optional(),
          channel: z.string().max(100).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    const items = await d.queue.list({ status: q.status, channel: q.channel, limit: q.limit, before: decodeCursor<number>(q.cursor, 'number') });
    return { items, counts: await d.queue.counts(), next_cursor: items.length === q.limit ? encodeCursor(items[items.length - 1]!.id) : null };
  });

  app.post('/api/v1/notifications/:id/retry', { config: { scope: 'write' as const } }, async (req) => {
    const p = parse(z.object({ id: z.coerce.number().int().min(1) }), req.params, 'params');
    const r = await d.queue.retry(p.id);
    if (!r) throw notFound(`no failed or pending notification ${p.id}`);
    return r;
  });

  app.get('/api/v1/notify/alerts', read, async () => {
    const items = d.dispatcher.status().map((s) => ({
      fingerprint: s.alert.fingerprint,
      labels: s.alert.labels,
      annotations: s.alert.annotations,
      state: s.alert.state,
      value: s.alert.valueText,
      activeAt: s.alert.activeAt,
      firedAt: s.alert.firedAt,
      source: s.alert.source,
      suppressed: s.silencedBy.length > 0 || s.inhibitedBy.length > 0,
      silenced_by: s.silencedBy,
      inhibited_by: s.inhibitedBy,
      groups: s.groups,
      channels: s.channels,
      receivers: s.receivers,
      time_muted_by: s.timeMutedBy,
    }));
    return { items };
  });

  app.get('/api/v1/notify/groups', read, async () => {
    const items = [...d.dispatcher.groups.values()].map((g) => ({
      key: g.key,
      labels: g.labels,
      alerts: [...g.alerts.values()].map((a) => ({ fingerprint: a.fingerprint, state: a.state, alertname: a.labels.alertname })),
      created_at: new Date(g.createdAt).toISOString(),
      next_flush_at: new Date(g.nextFlushAt).toISOString(),
      notified: Object.fromEntries(Object.entries(g.notified).map(([c, e]) => [c, { firing: e.firing, resolved: e.resolved, at: new Date(e.at).toISOString() }])),
    }));
    return { items };
  });

  // the routing tree (what `shipshape notify routes` prints), and where an alert with given labels goes
  app.get('/api/v1/notify/routes', read, async () => ({ items: routeRows(resolveRoutes(d.config())) }));

  app.post('/api/v1/notify/routes/test', { config: { scope: 'read' as const }, bodyLimit: 64 * 1024 }, async (req) => {
    const b = parse(z.object({ labels: z.record(z.string().min(1).max(256), z.string().max(4096)) }).strict(), req.body, 'body');
    return { items: routesFor(resolveRoutes(d.config()), b.labels).map(routeView) };
  });

  app.get('/api/v1/notify/channels', read, async () => {
    return {
      items: [...channelTargets(d.config()).values()].map((c) => ({ name: c.name, kind: c.kind, target: channelKind(c.kind).describe(c.spec as never), send_resolved: c.sendResolved })),
    };
  });
}
