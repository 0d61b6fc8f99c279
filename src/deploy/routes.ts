/**
 * HTTP routes of the deploy domain, under /api/v1/deploy/<service>: read scope to look, write
 * scope to deploy, promote, roll back and lock. Deploys, promotions and rollbacks answer with the
 * release when they end; with `Accept: application/x-ndjson` they stream their progress instead,
 * one JSON object a line (`Progress`: release, step, output, then done or error), which is what
 * `shipshape deploy` prints live. A refusal (a lock, a bad ref) is a problem+json answer either way.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { parseDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import { actorOf } from '../core/http/auth.js';
import { parse } from '../core/http/problem.js';
import type { Deployer } from './service.js';
import type { Progress, ReleaseDetail } from './types.js';

const serviceParam = z.object({ service: z.string().regex(NAME_RE, 'expected a service name') }).strict();
const releaseParam = z.object({ service: z.string().regex(NAME_RE, 'expected a service name'), id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();
const envName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected an environment name like staging or production');
const ref = z.string().min(1).max(200);
/** `10%`, `"10"` or 10: the share of traffic a canary starts with */
const canaryWeight = z
  .union([z.number(), z.string().regex(/^\s*\d{1,2}(\.\d+)?\s*%?\s*$/, 'expected a canary share like 10%')])
  .transform((v) => Number(String(v).replace('%', '').trim()))
  .refine((n) => Number.isInteger(n) && n >= 1 && n <= 99, 'a canary is a whole percentage from 1% to 99%');

const wantsStream = (req: FastifyRequest) => /application\/x-ndjson/.test(String(req.headers.accept ?? ''));

/**
 * Run a long operation: plain JSON at the end, or NDJSON progress as it goes. A failure before the
 * first progress line (refused: locked, unknown ref) is thrown, so it becomes a problem answer.
 */
async function respond(req: FastifyRequest, reply: FastifyReply, run: (onProgress: (p: Progress) => void) => Promise<ReleaseDetail>): Promise<ReleaseDetail | undefined> {
  if (!wantsStream(req)) return run(() => undefined);
  const queue: Progress[] = [];
  let started: (() => void) | null = null;
  const first = new Promise<void>((r) => (started = r));
  let write: ((p: Progress) => void) | null = null;
  const task = run((p) => {
    if (write) write(p);
    else {
      queue.push(p);
      started?.();
    }
  });
  // refused before it began: an ordinary problem answer
  await Promise.race([first, task]);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  write = (p) => {
    if (!raw.destroyed) raw.write(`${JSON.stringify(p)}\n`);
  };
  for (const p of queue.splice(0)) write(p);
  try {
    await task;
  } catch (e) {
    const status = e instanceof ServiceError ? { not_found: 404, invalid: 400, conflict: 409, busy: 429 }[e.kind] : 500;
    write({ type: 'error', status, title: status === 500 ? 'Internal Server Error' : 'Deploy failed', detail: (e as Error).message });
  }
  raw.end();
  return undefined;
}

export function deployRoutes(app: FastifyInstance, svc: Deployer): void {
  const read = { config: { scope: 'read' as const } };
  const write = { config: { scope: 'write' as const } };

  app.get('/api/v1/deploy', read, async () => ({ services: await Promise.all(svc.serviceNames().map(async (s) => ({ service: s, environments: await svc.status(s) }))) }));

  app.get('/api/v1/deploy/:service', read, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    return { service, environments: await svc.status(service) };
  });

  app.get('/api/v1/deploy/:service/releases', read, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const q = parse(z.object({ env: envName.optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }).strict(), req.query, 'query');
    return { items: await svc.list(service, q) };
  });

  // driver: command: what the platform itself lists (the list command's output)
  app.get('/api/v1/deploy/:service/platform', read, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    return svc.platformList(service);
  });

  app.get('/api/v1/deploy/:service/releases/:id', read, async (req) => {
    const p = parse(releaseParam, req.params, 'params');
    return svc.get(p.service, p.id);
  });

  app.post('/api/v1/deploy/:service/deploys', write, async (req, reply) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const b = parse(z.object({ env: envName.optional(), ref: ref.optional(), canary: canaryWeight.optional() }).strict(), req.body ?? {}, 'body');
    return respond(req, reply, (onProgress) => svc.deploy({ service, env: b.env, ref: b.ref, canary: b.canary, actor: actorOf(req), onProgress }));
  });

  app.post('/api/v1/deploy/:service/releases/:id/promote', write, async (req, reply) => {
    const p = parse(releaseParam, req.params, 'params');
    const b = parse(z.object({ to: envName }).strict(), req.body ?? {}, 'body');
    return respond(req, reply, (onProgress) => svc.promote({ service: p.service, release: p.id, to: b.to, actor: actorOf(req), onProgress }));
  });

  app.post('/api/v1/deploy/:service/rollback', write, async (req, reply) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const b = parse(z.object({ env: envName.optional(), release: z.number().int().min(1).optional() }).strict(), req.body ?? {}, 'body');
    return respond(req, reply, (onProgress) => svc.rollback({ service, env: b.env, release: b.release, actor: actorOf(req), onProgress }));
  });

  // take an environment (or all of the service's) down: the proxy stops listening, its releases stop
  app.post('/api/v1/deploy/:service/down', { config: { scope: 'admin' as const } }, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const b = parse(z.object({ env: envName.optional() }).strict(), req.body ?? {}, 'body');
    return { down: await svc.down(service, b.env, actorOf(req)) };
  });

  app.put('/api/v1/deploy/:service/lock', write, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const b = parse(
      z
        .object({
          env: envName.optional(),
          reason: z.string().trim().min(1, 'say why (it is shown to whoever tries to deploy)').max(500),
          for: z
            .string()
            .max(20)
            .default('24h')
            .transform((t, ctx) => {
              const ms = parseDuration(t);
              if (ms === undefined || ms <= 0 || ms > 30 * 86_400_000) {
                ctx.addIssue({ code: 'custom', message: `expected a duration up to 30d like 2h, got "${t}"` });
                return z.NEVER;
              }
              return ms;
            }),
        })
        .strict(),
      req.body ?? {},
      'body',
    );
    return svc.lock(service, b.env, actorOf(req), b.reason, b.for);
  });

  app.delete('/api/v1/deploy/:service/lock', write, async (req) => {
    const { service } = parse(serviceParam, req.params, 'params');
    const q = parse(z.object({ env: envName.optional() }).strict(), req.query, 'query');
    return { unlocked: await svc.unlock(service, q.env, actorOf(req)) };
  });
}
