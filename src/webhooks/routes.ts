/**
 * HTTP routes of the webhook inbox. `POST /hooks/<name>` is public (the signature is the
 * credential): the body is read as bytes within the hook's max_body (a larger one is answered 413
 * and the connection closed, without reading the rest), verified, stored, and only then answered
 * 200 `{ id }`. The API under /api/v1/webhooks: read scope to list and show, write to replay,
 * admin to read a stored body.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { parseDuration } from '../core/config/units.js';
import { actorOf } from '../core/http/auth.js';
import { rawBodies } from '../core/http/body.js';
import { HttpProblem, notFound, parse } from '../core/http/problem.js';
import { Rejected, type Inbox } from './service.js';

const hookName = z.string().regex(NAME_RE, 'expected a webhook name');
const idParam = z.object({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();
/** `1h` (that long ago) or an ISO instant; epoch ms out */
const since = z.string().transform((s, ctx) => {
  const d = parseDuration(s);
  if (d !== undefined) return Date.now() - d;
  const t = Date.parse(s);
  if (/^\d{4}-\d{2}-\d{2}/.test(s) && Number.isFinite(t)) return t;
  ctx.addIssue({ code: 'custom', message: 'expected a duration like 1h or 30m, or an ISO time' });
  return z.NEVER;
});

const listQuery = z
  .object({
    hook: hookName.optional(),
    state: z.enum(['pending', 'delivered', 'failed']).optional(),
    since: since.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.coerce.number().int().min(1).optional(),
  })
  .strict();

const replayBody = z.object({ state: z.literal('failed'), since, hook: hookName.optional() }).strict();

const tooLarge = (limit: number, hook: string) => new HttpProblem(413, 'Content Too Large', `the body is larger than webhooks.${hook}.max_body (${limit} bytes); it was not stored`);

export function webhookRoutes(app: FastifyInstance, inbox: Inbox): void {
  void app.register(async (scope) => {
    // every body of this scope arrives as bytes, whatever its content type: the signature is over those bytes
    rawBodies(scope, (req) => {
      const name = (req.params as { name?: string }).name ?? '';
      const hook = inbox.hook(name);
      return hook ? { limit: hook.max_body, tooLarge: (limit) => tooLarge(limit, name) } : notFound(`no webhook "${name}"`);
    });
    // an answer before the body was read (413, 404): close the connection rather than read the rest
    scope.addHook('onSend', async (req, reply, payload) => {
      if (reply.statusCode === 413 || (reply.statusCode === 404 && !req.raw.complete)) reply.header('connection', 'close');
      return payload;
    });
    scope.post(
      '/hooks/:name',
      {
        config: { scope: 'public' },
        onRequest: async (req) => {
          const name = (req.params as { name: string }).name;
          if (!inbox.hook(name)) throw notFound(`no webhook "${name}"`);
        },
      },
      async (req, reply) => {
        const name = (req.params as { name: string }).name;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          const r = await inbox.receive(name, body, req.headers, req.ip);
          return reply.code(200).send(r.duplicate ? { id: r.id, duplicate: true } : { id: r.id });
        } catch (e) {
          if (e instanceof Rejected) throw new HttpProblem(400, 'Bad Request', `webhook signature verification failed: ${e.message}`);
          throw e;
        }
      },
    );
  });

  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };
  const admin = { config: { scope: 'admin' as const } };

  app.get('/api/v1/webhooks', read, async () => ({ items: await inbox.hookList() }));

  app.get('/api/v1/webhooks/deliveries', read, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return inbox.list({ hook: q.hook, state: q.state, since: q.since, before: q.cursor, limit: q.limit });
  });

  app.get('/api/v1/webhooks/deliveries/:id', read, async (req) => inbox.show(parse(idParam, req.params, 'params').id));

  app.get('/api/v1/webhooks/deliveries/:id/body', admin, async (req) => inbox.body(parse(idParam, req.params, 'params').id));

  app.post('/api/v1/webhooks/deliveries/:id/replay', write, async (req) => inbox.replay(parse(idParam, req.params, 'params').id, actorOf(req)));

  app.post('/api/v1/webhooks/replay', write, async (req) => {
    const b = parse(replayBody, req.body, 'body');
    return inbox.replayFailed({ since: b.since, hook: b.hook, actor: actorOf(req) });
  });

  app.get('/api/v1/webhooks/rejections', read, async (req) => {
    const q = parse(z.object({ hook: hookName.optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }).strict(), req.query, 'query');
    return { items: await inbox.rejections(q) };
  });
}
