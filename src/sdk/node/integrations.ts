/**
 * Request instrumentation for plain Node `http`, Express, Fastify, Next.js route handlers and
 * SvelteKit. Each records route template, method, status and duration of every request, once,
 * when the response is done. Framework types are structural (or type-only imports): nothing here
 * loads a framework at runtime.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginCallback } from 'fastify';
import { normalizePath } from '../shared.js';
import { getDefaultClient, type ShipshapeClient } from './client.js';

const ROUTE = Symbol.for('shipshape.sdk.route');

/**
 * Name the route template of a request yourself (`setRoute(req, '/items/:id')`), for plain `http`
 * servers and custom routers. Wins over what an integration would work out.
 */
export function setRoute(req: object, template: string): void {
  (req as Record<symbol, unknown>)[ROUTE] = template;
}

function routeSet(req: object): string | undefined {
  const r = (req as Record<symbol, unknown>)[ROUTE];
  return typeof r === 'string' && r ? r : undefined;
}

/** 499 (client closed request, as nginx logs it) when the client went away before the response. */
function statusOf(res: ServerResponse): number {
  return res.writableFinished ? res.statusCode : 499;
}

function onDone(res: ServerResponse, fn: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    try {
      fn();
    } catch {
      // telemetry must never break a response
    }
  };
  res.once('finish', once);
  res.once('close', once);
}

export interface HttpOptions {
  /** the route template of a request; default: `setRoute()`'s, else the path with ids as `:id` */
  route?: (req: IncomingMessage) => string | undefined;
}

/**
 * Wrap a plain `http` request listener: `http.createServer(shipshape.http((req, res) => …))`.
 * Without a router there is no template, so ids in paths become `:id` unless you `setRoute()`.
 */
export function instrumentHttp<Req extends IncomingMessage, Res extends ServerResponse>(
  client: ShipshapeClient,
  listener: (req: Req, res: Res) => void,
  opts: HttpOptions = {},
): (req: Req, res: Res) => void {
  return function shipshapeHttp(this: unknown, req: Req, res: Res) {
    const start = performance.now();
    onDone(res, () => {
      let route = routeSet(req);
      if (!route && opts.route) route = opts.route(req);
      client.recordRequest({ route: route || normalizePath(req.url ?? '/'), method: req.method ?? 'GET', status: statusOf(res), durationMs: performance.now() - start });
    });
    return listener.call(this, req, res);
  };
}

/** What the Express middleware reads from Express' request (structural: Express is not loaded). */
export type ExpressLikeRequest = IncomingMessage & { route?: { path?: unknown }; baseUrl?: string; originalUrl?: string };

/**
 * Express middleware: `app.use(shipshape.express())` before your routes. The route is the matched
 * template with its router's mount path (`/api` + `/items/:id`); requests no route matched are
 * recorded as `unmatched`.
 */
export function expressMiddleware(client: ShipshapeClient): (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  return function shipshapeExpress(req, res, next) {
    const start = performance.now();
    // Express restores req.baseUrl on the way out of a router: note it while the route runs
    let seen: string | undefined;
    const remember = () => {
      if (req.route && seen === undefined) seen = expressRoute(req);
    };
    res.once('prefinish', remember);
    onDone(res, () => {
      remember();
      client.recordRequest({ route: routeSet(req) ?? seen ?? expressRoute(req) ?? 'unmatched', method: req.method ?? 'GET', status: statusOf(res), durationMs: performance.now() - start });
    });
    next();
  };
}

function expressRoute(req: ExpressLikeRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined || path === null) return undefined;
  const p = typeof path === 'string' ? path : Array.isArray(path) ? path.map(String).join('|') : String(path);
  const joined = `${req.baseUrl ?? ''}${p === '/' && req.baseUrl ? '' : p}`;
  return joined || '/';
}

/**
 * Fastify plugin: `await app.register(shipshape.fastify)`. Applies to every route of the app (not
 * encapsulated); the route is Fastify's template (`/items/:id`), 404s are `unmatched`.
 */
export function fastifyPlugin(client: ShipshapeClient): FastifyPluginCallback {
  const plugin: FastifyPluginCallback = (app, _opts, done) => {
    app.addHook('onResponse', (request, reply, next) => {
      try {
        // routeOptions.url is the template; undefined when no route matched (the 404 handler)
        const route = routeSet(request.raw) ?? request.routeOptions.url;
        client.recordRequest({ route: route || 'unmatched', method: request.method, status: request.raw.aborted ? 499 : reply.statusCode, durationMs: reply.elapsedTime });
      } catch {
        // never break the response
      }
      next();
    });
    done();
  };
  // what fastify-plugin does: the hook applies to the whole app, not only this plugin's scope
  const p = plugin as unknown as Record<symbol, unknown>;
  p[Symbol.for('skip-override')] = true;
  p[Symbol.for('fastify.display-name')] = 'shipshape';
  p[Symbol.for('plugin-meta')] = { name: 'shipshape', fastify: '>=4' };
  return plugin;
}

export interface RouteOptions {
  /** the route template as your framework names it: `/api/items/[id]` */
  route?: string;
  /** the client; default: the last one created */
  client?: ShipshapeClient;
}

/**
 * Wrap a Next.js App Router route handler (or any `(Request, …) => Response`):
 * `export const GET = withShipshape(async (req, ctx) => …, { route: '/api/items/[id]' })`.
 * A handler that throws is recorded as a 500 and the error goes on to Next.js.
 */
export function withShipshape<A extends unknown[], R extends Response | undefined | void>(
  handler: (req: Request, ...rest: A) => R | Promise<R>,
  opts: RouteOptions = {},
): (req: Request, ...rest: A) => Promise<R> {
  return async function shipshapeRoute(req: Request, ...rest: A): Promise<R> {
    const start = performance.now();
    const record = (status: number) => {
      try {
        const client = opts.client ?? getDefaultClient();
        client?.recordRequest({ route: opts.route ?? normalizePath(req.url), method: req.method, status, durationMs: performance.now() - start });
      } catch {
        // never break the handler
      }
    };
    let res: R;
    try {
      res = await handler(req, ...rest);
    } catch (e) {
      // Next.js' notFound() and redirect() throw too; they carry a digest saying what they are
      record(nextStatus(e));
      throw e;
    }
    record(res instanceof Response ? res.status : 200);
    return res;
  };
}

function nextStatus(e: unknown): number {
  const digest = (e as { digest?: unknown } | null)?.digest;
  if (typeof digest === 'string') {
    if (digest.startsWith('NEXT_HTTP_ERROR_FALLBACK;')) return Number(digest.split(';')[1]) || 500;
    if (digest === 'NEXT_NOT_FOUND') return 404;
    if (digest.startsWith('NEXT_REDIRECT')) return Number(digest.split(';')[3]) || 307;
  }
  return 500;
}

/** SvelteKit's `handle` hook input (structural: SvelteKit is not loaded). */
export interface SvelteKitHandleInput<E extends { request: Request; route: { id: string | null } }> {
  event: E;
  resolve: (event: E, opts?: never) => Response | Promise<Response>;
}

/**
 * SvelteKit `handle` hook (src/hooks.server.ts): `export const handle = shipshape.sveltekit()`,
 * or inside `sequence(…)`. The route is SvelteKit's route id (`/items/[id]`).
 */
export function svelteKitHandle(client?: ShipshapeClient) {
  return async function handle<E extends { request: Request; route: { id: string | null } }>({ event, resolve }: SvelteKitHandleInput<E>): Promise<Response> {
    const start = performance.now();
    const record = (status: number) => {
      try {
        (client ?? getDefaultClient())?.recordRequest({
          route: event.route?.id ?? 'unmatched',
          method: event.request.method,
          status,
          durationMs: performance.now() - start,
        });
      } catch {
        // never break the request
      }
    };
    try {
      const res = await resolve(event);
      record(res.status);
      return res;
    } catch (e) {
      record(typeof (e as { status?: unknown })?.status === 'number' ? (e as { status: number }).status : 500);
      throw e;
    }
  };
}
