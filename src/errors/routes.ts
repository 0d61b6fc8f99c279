/**
 * HTTP for the errors domain: the Sentry ingest endpoints (`/api/<project>/envelope/` and
 * `/api/<project>/store/`, public, authenticated by the DSN's public key = an ingest token, open
 * to browsers by CORS) and the issues API under /api/v1.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Counter } from 'prom-client';
import { actorOf } from '../core/http/auth.js';
import { decodeCursor, encodeCursor, HttpProblem, notFound, parse } from '../core/http/problem.js';
import type { IngestGuard, IngestNeed } from '../core/http/ingest.js';
import { envelopeEvents, EnvelopeError, keyFromDsn, parseEnvelope, parseStoreBody, presentedSentryKey } from './envelope.js';
import { bodyBytes, peekFirstLine, rawBodies } from '../core/http/body.js';
import type { Issues } from './issues.js';
import { ISSUE_STATUSES } from './types.js';

export interface ErrorRouteDeps {
  issues: Issues;
  guard: IngestGuard;
  maxBody: () => number;
  /** a project no service claims sent an event (once per project, for a log line) */
  onUnknownProject: (project: number) => void;
  counter?: Counter<'outcome'>;
}

const bad = (detail: string) => new HttpProblem(400, 'Bad Request', detail);

/** the longest envelope header line read to find the DSN of a request that shows no key elsewhere */
const MAX_HEADER_LINE = 16 * 1024;

const CORS_ALLOW_HEADERS = 'content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage';

export function errorRoutes(app: FastifyInstance, deps: ErrorRouteDeps): void {
  const { issues, guard } = deps;

  // --- Sentry ingest, in its own context: any content type, read as raw bytes (decompressed, size-limited)
  void app.register(async (ingest) => {
    rawBodies(ingest, deps.maxBody);
    ingest.addHook('onSend', async (_req, reply, payload) => {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-expose-headers', 'retry-after, x-sentry-rate-limits, x-sentry-error');
      return payload;
    });

    /**
     * Credentials before any body: a key in the URL or headers is checked at once; without one,
     * an envelope can only carry it in its header (browser SDKs and tunnels put the DSN there), so
     * only the first line is read, and a request without a valid key there gets its 401 before
     * the rest of the body is read. A `/store/` body never carries the key.
     */
    const authed = new WeakSet<FastifyRequest>();
    /**
     * A token restricted to services may send errors only to a project one of them claims
     * (`services.<name>.sentry.project`); an unclaimed project belongs to no service (null).
     */
    const need = (req: FastifyRequest): IngestNeed => {
      const p = (req.params as { projectId?: string }).projectId ?? '';
      return { kind: 'errors', service: /^\d{1,9}$/.test(p) ? issues.serviceOf(Number(p)) : null };
    };
    const preParsing = async (req: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> => {
      const key = presentedSentryKey(req);
      if (key !== undefined || !req.routeOptions.url?.endsWith('/envelope/')) {
        guard.check(key, need(req));
        authed.add(req);
        return payload;
      }
      const { line, body } = await peekFirstLine(req, payload, MAX_HEADER_LINE);
      let dsn: unknown;
      try {
        dsn = line ? (JSON.parse(line) as { dsn?: unknown } | null)?.dsn : undefined;
      } catch {
        /* no readable key: 401 below */
      }
      try {
        guard.check(keyFromDsn(dsn), need(req));
      } catch (e) {
        body.resume(); // what was read is dropped; the rest of the body drains (within the request deadline)
        throw e;
      }
      authed.add(req);
      return body;
    };

    const project = (req: FastifyRequest): number => {
      const p = (req.params as { projectId: string }).projectId;
      if (!/^\d{1,9}$/.test(p) || Number(p) < 1) throw bad(`"${p.slice(0, 40)}" is not a project id: the DSN ends in the project number (http://<key>@host/<project>)`);
      const n = Number(p);
      if (issues.serviceOf(n) === null) deps.onUnknownProject(n);
      return n;
    };

    const routeOpts = { config: { scope: 'public' as const }, preParsing };
    const preflight = { config: { scope: 'public' as const } };

    for (const kind of ['envelope', 'store'] as const) {
      ingest.options(`/api/:projectId/${kind}/`, preflight, async (_req, reply) => {
        reply.header('access-control-allow-methods', 'POST, OPTIONS');
        reply.header('access-control-allow-headers', CORS_ALLOW_HEADERS);
        reply.header('access-control-max-age', '86400');
        return reply.code(204).send();
      });
    }

    ingest.post(`/api/:projectId/envelope/`, routeOpts, async (req) => {
      const p = project(req);
      if (!authed.has(req)) guard.check(undefined); // checked before the body in preParsing
      const body = await bodyBytes(req, deps.maxBody());
      let env: ReturnType<typeof parseEnvelope>;
      try {
        env = parseEnvelope(body);
      } catch (e) {
        if (e instanceof EnvelopeError) throw bad(`malformed envelope: ${e.message}`);
        throw e;
      }

      let events: Record<string, unknown>[];
      let dropped: number;
      try {
        ({ events, dropped } = envelopeEvents(env));
      } catch (e) {
        if (e instanceof EnvelopeError) throw bad(`malformed envelope: ${e.message}`);
        throw e;
      }
      if (dropped) deps.counter?.inc({ outcome: 'dropped' }, dropped);
      let firstId: string | undefined;
      for (const ev of events) {
        const r = await issues.ingest(p, ev);
        firstId ??= r.event_id;
        deps.counter?.inc({ outcome: r.duplicate ? 'duplicate' : 'stored' });
      }
      const id = firstId ?? (typeof env.header.event_id === 'string' ? env.header.event_id : undefined);
      return id ? { id } : {};
    });

    ingest.post(`/api/:projectId/store/`, routeOpts, async (req) => {
      const p = project(req);
      if (!authed.has(req)) guard.check(undefined);
      const body = await bodyBytes(req, deps.maxBody());
      let ev: Record<string, unknown>;
      try {
        ev = parseStoreBody(body, deps.maxBody());
      } catch (e) {
        if (e instanceof EnvelopeError) throw bad(`malformed event: ${e.message}`);
        throw e;
      }
      const r = await issues.ingest(p, ev);
      deps.counter?.inc({ outcome: r.duplicate ? 'duplicate' : 'stored' });
      return { id: r.event_id };
    });
  });

  // --- the issues API
  const read = { config: { scope: 'read' as const } };
  const idParams = z.object({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();
  const status = z.enum(ISSUE_STATUSES);

  app.get('/api/v1/issues', read, async (req) => {
    const q = parse(
      z
        .object({
          service: z.string().max(100).optional(),
          project: z.coerce.number().int().min(1).optional(),
          status: status.optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        })
        .strict(),
      req.query,
      'query',
    );
    let projects: number[] | undefined;
    if (q.service !== undefined) {
      projects = issues.projectsOf(q.service);
      if (!projects) throw notFound(`no service "${q.service}" in the config`);
    }
    if (q.project !== undefined) projects = projects ? projects.filter((x) => x === q.project) : [q.project];
    const c = decodeCursor<string>(q.cursor, 'string');
    let after: { last_seen: number; id: number } | undefined;
    if (c !== undefined) {
      const m = /^(\d+):(\d+)$/.exec(c);
      if (!m) throw bad('invalid cursor: pass the next_cursor value of a previous page');
      after = { last_seen: Number(m[1]), id: Number(m[2]) };
    }
    const items = await issues.list({ projects, status: q.status, limit: q.limit, after });
    const last = items[items.length - 1];
    return { items, next_cursor: items.length === q.limit && last ? encodeCursor(`${Date.parse(last.last_seen)}:${last.id}`) : null };
  });

  app.get('/api/v1/issues/:id', read, async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    const issue = await issues.get(id);
    if (!issue) throw notFound(`no issue ${id}`);
    return issue;
  });

  app.get('/api/v1/issues/:id/events', read, async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    const q = parse(z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(200).optional() }).strict(), req.query, 'query');
    const page = await issues.events(id, q.limit, decodeCursor<number>(q.cursor, 'number'));
    if (!page) throw notFound(`no issue ${id}`);
    const last = page.items[page.items.length - 1];
    return { items: page.items.map(({ cursor: _c, ...e }) => e), next_cursor: page.items.length === q.limit && last ? encodeCursor(last.cursor) : null };
  });

  app.patch('/api/v1/issues/:id', { config: { scope: 'write' }, bodyLimit: 4096 }, async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    const body = parse(z.object({ status }).strict(), req.body, 'body');
    const issue = await issues.setStatus(id, body.status, actorOf(req));
    if (!issue) throw notFound(`no issue ${id}`);
    return issue;
  });
}
