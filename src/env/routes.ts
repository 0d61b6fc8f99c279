/**
 * HTTP routes of the env store, under /api/v1/env. Reading names, masked values, versions and
 * rotation needs `read`; everything that writes a secret or reads one back (set, unset, mark
 * rotated, pull, reveal, push to a hosted platform) needs `admin`: a secret grants what it unlocks, so changing or reading
 * one is an administrator's act, not a deployer's (a `write` token deploys; the release takes
 * the values through the server, never through the token). Values are never in a problem answer
 * (validation errors name the variable, not its value) and pulls are sent `no-store`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { NAME_RE } from '../core/config/schema.js';
import { actorOf } from '../core/http/auth.js';
import { HttpProblem, parse } from '../core/http/problem.js';
import { PLATFORMS, type Platform } from '../core/platforms.js';
import type { EnvPusher } from './push.js';
import { ENV_NAME_RE, MAX_VALUE, MAX_VARS, VAR_NAME_RE, type EnvStore } from './store.js';

const service = z.string().regex(NAME_RE, 'expected a service name');
const envName = z.string().regex(ENV_NAME_RE, 'expected an environment name like staging or production');
const varName = z.string().regex(VAR_NAME_RE, 'expected an environment variable name (letters, digits, "_", not starting with a digit)');
const target = z.object({ service, env: envName }).strict();
const targetVar = z.object({ service, env: envName, name: varName }).strict();
const listQuery = z.object({ service: service.optional(), env: envName.optional() }).strict();
const setBody = z
  .object({
    vars: z
      .record(varName, z.string().max(MAX_VALUE, `a value is at most ${MAX_VALUE} characters`))
      .refine((v) => Object.keys(v).length >= 1 && Object.keys(v).length <= MAX_VARS, `give 1 to ${MAX_VARS} variables`),
    /** store values the service's env schema rejects */
    force: z.boolean().optional(),
  })
  .strict();

const pushBody = z
  .object({
    to: z.enum(PLATFORMS as [Platform, ...Platform[]]),
    /** list what would change, change nothing */
    dry_run: z.boolean().optional(),
    /** remove the platform's variables the store does not have */
    prune: z.boolean().optional(),
  })
  .strict();

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

/**
 * JSON bodies parsed here rather than by Fastify's default parser, whose syntax errors quote
 * the body around the error (`…"A": sk_live_se"… is not valid JSON`): that would put part of
 * a secret into a problem answer.
 */
function quietJson(scope: FastifyInstance): void {
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : (JSON.parse(body as string) as unknown));
    } catch {
      done(new HttpProblem(400, 'Bad Request', 'the body is not valid JSON (expected { "vars": { "NAME": "value" } })'), undefined);
    }
  });
}

export function envRoutes(app: FastifyInstance, store: EnvStore, pusher: EnvPusher): void {
  void app.register(async (scope) => {
    quietJson(scope);
    routes(scope, store, pusher);
  });
}

function routes(app: FastifyInstance, store: EnvStore, pusher: EnvPusher): void {
  const read = { config: { scope: 'read' as const } };
  const admin = { config: { scope: 'admin' as const } };

  app.get('/api/v1/env', read, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return { items: await store.list(q), services: store.serviceNames(), key: await store.keyStatus() };
  });

  app.get('/api/v1/env/rotation', read, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return { items: await store.overdue(q) };
  });

  app.get('/api/v1/env/snapshots/:id', read, async (req) => {
    const { id } = parse(z.object({ id: z.string().max(100) }).strict(), req.params, 'params');
    return store.snapshotRef(id);
  });

  // a value may be up to 64 KB (a PEM bundle): the body of a set may be larger than the API's default limit
  app.post('/api/v1/env/:service/:env/vars', { ...admin, bodyLimit: 1024 * 1024 }, async (req) => {
    const t = parse(target, req.params, 'params');
    const b = parse(setBody, req.body, 'body');
    return { items: await store.set(t.service, t.env, b.vars, actorOf(req), { force: b.force }) };
  });

  app.delete('/api/v1/env/:service/:env/vars/:name', admin, async (req) => {
    const t = parse(targetVar, req.params, 'params');
    return store.unset(t.service, t.env, t.name, actorOf(req));
  });

  app.post('/api/v1/env/:service/:env/vars/:name/rotated', admin, async (req) => {
    const t = parse(targetVar, req.params, 'params');
    return store.markRotated(t.service, t.env, t.name, actorOf(req));
  });

  // sends every value to a hosted platform: an administrator's act, like a pull. 200 with ok: false
  // when the platform's CLI failed (the result says what was done before, what failed, what was not tried)
  app.post('/api/v1/env/:service/:env/push', admin, async (req) => {
    const t = parse(target, req.params, 'params');
    const b = parse(pushBody, req.body, 'body');
    return pusher.push(t.service, t.env, b.to, actorOf(req), { dryRun: b.dry_run, prune: b.prune });
  });

  app.get('/api/v1/env/:service/:env/values', admin, async (req, reply) => {
    const t = parse(target, req.params, 'params');
    const values = await store.pull(t.service, t.env);
    noStore(reply);
    return { service: t.service, env: t.env, values };
  });

  app.get('/api/v1/env/:service/:env/vars/:name/value', admin, async (req, reply) => {
    const t = parse(targetVar, req.params, 'params');
    const value = await store.reveal(t.service, t.env, t.name);
    noStore(reply);
    return { service: t.service, env: t.env, name: t.name, value };
  });
}
