/**
 * Routes of the subscriptions module.
 *
 * Public, on every page that offers subscriptions (at its path, and at / on its host name): the
 * form's POST `<page>/subscribe`, and the links in mails, `<page>/subscriptions/confirm/:token`
 * and `<page>/subscriptions/unsubscribe/:token`. A GET of a link shows a page with a button and
 * changes nothing (mail scanners open links); the POST acts (and is RFC 8058's one-click
 * unsubscribe). Every answer, errors included, is an HTML page in the status page's look.
 *
 * Private, under /api/v1/subscriptions: list subscribers (addresses masked unless the token has the
 * admin scope), delete one, create a webhook subscriber (its secret shown once), list deliveries.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ServiceError } from '../core/errors.js';
import { actorOf } from '../core/http/auth.js';
import { HttpProblem, parse } from '../core/http/problem.js';
import { allows } from '../core/tokens.js';
import { renderNotice, type NoticeView, type ResolvedPage } from '../statuspage/index.js';
import { LinkError, type LinkAction } from './links.js';
import type { Subscriptions } from './service.js';

const email = z.string().trim().min(3).max(254).email();
const FORM_LIMIT = 8 * 1024;

interface PublicConfig {
  scope: 'public';
  rateLimit: { max: number; timeWindow: string };
  subscriptionPage: string;
}

export function subscriptionRoutes(app: FastifyInstance, svc: Subscriptions, now: () => number): void {
  // the public form and links: their own scope, so they read form bodies and answer errors as pages
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err, req, reply) => {
      const key = (req.routeOptions.config as unknown as Partial<PublicConfig>).subscriptionPage;
      const page = svc.offered().find((p) => p.key === key) ?? svc.offered()[0];
      const e = err as Error & { statusCode?: number; status?: number };
      let status = 500;
      let view: NoticeView;
      if (err instanceof LinkError) {
        status = err.status;
        view = { heading: err.heading, lines: [err.message], error: true };
      } else if (err instanceof ServiceError) {
        status = err.kind === 'not_found' ? 404 : err.kind === 'busy' ? 429 : 400;
        view = { heading: status === 404 ? 'Not available' : 'That did not work', lines: [err.message], error: true };
      } else if ((e.statusCode ?? e.status) === 429) {
        status = 429;
        view = { heading: 'Too many requests', lines: ['Please wait a while and try again.'], error: true };
      } else if (typeof (e.statusCode ?? e.status) === 'number' && (e.statusCode ?? e.status)! < 500) {
        status = (e.statusCode ?? e.status) as number;
        view = { heading: 'That did not work', lines: [status === 413 ? 'The form was too large.' : 'The request could not be read.'], error: true };
      } else {
        req.log.error({ err }, 'subscriptions: request failed');
        view = { heading: 'Something went wrong', lines: ['It was logged. Please try again later.'], error: true };
      }
      if (!page) return reply.code(status).type('text/plain; charset=utf-8').send(view.lines.join('\n'));
      const headers = (e as { headers?: Record<string, string> }).headers;
      if (headers?.['retry-after']) reply.header('retry-after', headers['retry-after']);
      return htmlPage(reply.code(status), page, baseOf(req, page), view, now());
    });
    for (const page of svc.offered()) {
      mountPublic(scope, svc, page, { prefix: page.path }, now);
      if (page.host) mountPublic(scope, svc, page, { prefix: '', host: page.host }, now);
    }
  });

  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };
  const id = z.object({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();

  app.get('/api/v1/subscriptions', read, async (req) => {
    const q = parse(
      z
        .object({
          page: z.string().max(40).optional(),
          kind: z.enum(['email', 'webhook']).optional(),
          state: z.enum(['pending', 'confirmed']).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z.coerce.number().int().min(1).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    // whole addresses and webhook URLs (which often hold tokens) only for admin tokens
    return svc.list(q, req.token !== undefined && allows(req.token.scopes, 'admin'));
  });

  app.delete('/api/v1/subscriptions/:id', write, async (req, reply) => {
    const p = parse(id, req.params, 'params');
    await svc.remove(p.id, actorOf(req));
    return reply.code(204).send();
  });

  app.post('/api/v1/subscriptions/webhooks', { ...write, bodyLimit: 16 * 1024 }, async (req, reply) => {
    const b = parse(
      z
        .object({
          page: z.string().min(1).max(40),
          url: z
            .string()
            .max(2000)
            .url()
            .refine((u) => /^https?:$/.test(new URL(u).protocol), 'expected an http(s) URL'),
          components: z.array(z.string().min(1).max(100)).max(500).default([]),
          description: z.string().max(200).optional(),
        })
        .strict(),
      req.body,
      'body',
    );
    const created = await svc.createWebhook(b, actorOf(req));
    return reply.code(201).header('cache-control', 'no-store').send(created);
  });

  app.get('/api/v1/subscriptions/deliveries', read, async (req) => {
    const q = parse(
      z
        .object({
          status: z.enum(['pending', 'sent', 'failed', 'dropped']).optional(),
          subscriber: z.coerce.number().int().min(1).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z.coerce.number().int().min(1).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    return svc.deliveries(q);
  });
}

/** Links inside a page: its path, or the host's root when reached on its host name. */
function baseOf(req: FastifyRequest, page: ResolvedPage): string {
  return page.host && req.host.toLowerCase() === page.host && !req.url.startsWith(`${page.path}/`) ? '' : page.path;
}

function htmlPage(reply: FastifyReply, page: ResolvedPage, base: string, view: NoticeView, at: number) {
  // tokens are in these URLs: keep them out of caches and Referer headers
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send(renderNotice(page, base, view, at));
}

function mountPublic(app: FastifyInstance, svc: Subscriptions, page: ResolvedPage, t: { prefix: string; host?: string }, now: () => number): void {
  const P = t.prefix;
  const cfg = (max: number, timeWindow: string) => ({ config: { scope: 'public', rateLimit: { max, timeWindow }, subscriptionPage: page.key } as PublicConfig, ...(t.host ? { constraints: { host: t.host } } : {}) });
  const current = () => svc.page(page.key);
  const base = () => (t.host ? '' : current().path);
  const show = (reply: FastifyReply, view: NoticeView) => htmlPage(reply, current(), base(), view, now());

  // the form: per client at most 10 posts an hour (and per address one mail an hour, in the service)
  app.post(`${P}/subscribe`, cfg(10, '1 hour'), async (req, reply) => {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/x-www-form-urlencoded')) throw new HttpProblem(415, 'Unsupported Media Type', 'send the form');
    const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    const parsed = email.safeParse(form.get('email') ?? '');
    if (!parsed.success) {
      return show(reply.code(400), { heading: 'Check the address', lines: ['That does not look like an email address. Go back and enter one like name@example.com.'], error: true });
    }
    const components = form.getAll('component').slice(0, 500);
    // a filled hidden field: a bot; it gets the same answer and nothing happens
    if (!form.get('website')) await svc.subscribe(page.key, parsed.data, components);
    return show(reply, {
      heading: 'Check your inbox',
      lines: [`If ${parsed.data} can receive mail, a confirmation link is on its way to it (at most one an hour).`, 'Nothing is sent to this address until the link is followed. If nothing arrives, check the spam folder.'],
    });
  });

  const token = (req: FastifyRequest) => {
    const t = (req.params as { token?: string }).token ?? '';
    if (t.length > 400) throw new LinkError(400, 'This link is not valid', 'It is not a link from this status page.');
    return t;
  };
  const action = (a: LinkAction, req: FastifyRequest) => `${base()}/subscriptions/${a}/${token(req)}`;

  app.get(`${P}/subscriptions/confirm/:token`, cfg(60, '1 minute'), async (req, reply) => {
    const found = await svc.inspect(page.key, token(req), 'confirm');
    const s = found?.subscriber;
    if (s?.state === 'confirmed') return show(reply, { heading: 'Already confirmed', lines: [`${s.address} gets updates of ${current().title}.`] });
    return show(reply, { heading: 'Confirm your subscription', lines: [`Send updates of ${current().title} to ${s?.address ?? 'this address'}?`], button: { label: 'Confirm subscription', action: action('confirm', req) } });
  });

  app.post(`${P}/subscriptions/confirm/:token`, cfg(60, '1 minute'), async (req, reply) => {
    const r = await svc.confirm(page.key, token(req));
    if (r.result === 'already') return show(reply, { heading: 'Already confirmed', lines: [`${r.subscriber.address} already gets updates of ${current().title}; nothing changed.`] });
    return show(reply, { heading: 'You are subscribed', lines: [`${r.subscriber.address} will get updates of ${current().title}. Every email has a link to unsubscribe.`] });
  });

  app.get(`${P}/subscriptions/unsubscribe/:token`, cfg(60, '1 minute'), async (req, reply) => {
    const found = await svc.inspect(page.key, token(req), 'unsubscribe');
    if (!found) return show(reply, { heading: 'You are not subscribed', lines: [`This address does not get updates of ${current().title} (anymore).`] });
    return show(reply, { heading: 'Unsubscribe?', lines: [`Stop sending updates of ${current().title} to ${found.subscriber.address}?`], button: { label: 'Unsubscribe', action: action('unsubscribe', req) } });
  });

  // also RFC 8058's one-click POST (body "List-Unsubscribe=One-Click", read and ignored)
  app.post(`${P}/subscriptions/unsubscribe/:token`, cfg(60, '1 minute'), async (req, reply) => {
    const r = await svc.unsubscribe(page.key, token(req));
    if (r === 'gone') return show(reply, { heading: 'You are not subscribed', lines: [`This address does not get updates of ${current().title} (anymore).`] });
    return show(reply, { heading: 'Unsubscribed', lines: [`You will get no more updates of ${current().title}.`] });
  });
}
