/**
 * The HTTP server: a thin adapter from HTTP to the domains. Every route declares the scope it
 * needs (public ones say so); errors are RFC 9457 problem+json; bodies are size-limited.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { Logger } from 'pino';
import { ServiceError, storageFullCause } from '../core/errors.js';
import type { EventLog } from '../core/events.js';
import type { StorageState } from '../core/storage-health.js';
import { COMMON_HEADERS, type FastPath } from '../core/http/fast-path.js';
import { packageRoot } from '../core/package-root.js';
import { HttpProblem, problemType, sendProblem } from '../core/http/problem.js';
import { assertJsonDepth } from '../core/http/json.js';
import type { Metrics } from '../core/metrics.js';
import type { ModuleLifecycle } from '../core/module.js';
import type { Tokens } from '../core/tokens.js';
import { registerAuth } from './auth.js';
import { capConnectionsPerClient, clientErrorHandler, DEFAULT_LIMITS, frameworkErrors, safeInstance, serverTimeouts, trackEarlyAnswers, type HttpLimits } from './limits.js';
import { authRoutes } from './routes/auth.js';
import { eventRoutes } from './routes/events.js';
import { metricsRoutes } from './routes/metrics.js';

export interface ServerDeps {
  /** the created modules, whose routes are mounted in list order */
  modules: { name: string; instance: ModuleLifecycle<never> }[];
  tokens: Tokens;
  events: EventLog;
  metrics: Metrics;
  version: string;
  logger?: Logger;
  /** always mark the session cookie Secure (otherwise it is Secure when the request came over HTTPS) */
  secureCookies?: boolean;
  /**
   * Proxies whose X-Forwarded-For / -Proto / -Host are believed (Fastify's trustProxy: true,
   * false, addresses, CIDRs or proxy-addr's names such as `loopback`). Default `loopback`: a
   * reverse proxy on the same host (the usual TLS terminator) is trusted, nothing else.
   */
  trustedProxies?: boolean | string | string[];
  /** request deadline, keep-alive, per-client connection cap, stream token re-checks */
  limits?: Partial<HttpLimits>;
  /** a request failed because the store's disk is full (a hook for health reporting) */
  onStorageFull?: (cause: string, err: unknown) => void;
  /** Shipshape's own state for /health (today: whether the store can write) */
  selfHealth?: () => StorageState;
  /** where the built dashboard lives (default: dist/web of this package) */
  webRoot?: string;
}

export interface RouteInfo {
  method: string;
  url: string;
  scope: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** every route with the scope it needs (what the auth tests walk) */
    shipshapeRoutes: RouteInfo[];
  }
}

/** How long a client should wait before retrying when the disk is full (seconds). */
const STORAGE_FULL_RETRY_S = 60;

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const answeredEarly = new WeakSet<Socket>();
  // answers given before routing (core/http/fast-path): tried first, in order, on every request
  const fastPaths: FastPath[] = [];
  const timeouts = serverTimeouts(limits);
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger?.child({ component: 'http' }) as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: deps.trustedProxies ?? 'loopback',
    // stop() must not wait for idle keep-alive or SSE connections (browsers hold spare sockets open)
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true },
    // the plugins are ours and local: a loaded machine at start-up (checks already running) must
    // not turn a slow plugin load into "Plugin did not start in time"
    pluginTimeout: 0,
    // every request, headers and body, has a deadline; a stalled body cannot hold a socket
    ...timeouts,
    clientErrorHandler: clientErrorHandler(() => app.log, answeredEarly),
    frameworkErrors,
    // Fastify's own HTTP/1 server, with the fast paths in front of its router
    serverFactory: (handler) => {
      const server = createServer(timeouts.http, (req, res) => {
        for (const f of fastPaths) if (f(req, res)) return;
        handler(req, res);
      });
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.requestTimeout = timeouts.requestTimeout;
      server.setTimeout(0); // Fastify's default connectionTimeout: none beyond the request deadline
      return server;
    },
  });
  app.decorate('shipshapeFastPaths', fastPaths);
  capConnectionsPerClient(app.server, () => limits.maxConnectionsPerClient, app.log);
  trackEarlyAnswers(app, answeredEarly);

  // JSON bodies: Fastify's parser (prototype-poisoning checks), then a nesting limit, since
  // everything that walks a parsed body recursively (zod, JSON.stringify) overflows the stack
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    defaultJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      try {
        assertJsonDepth(value);
      } catch (e) {
        return done(e as Error, undefined);
      }
      done(null, value);
    });
  });
  const startedAt = Date.now();
  const routes: RouteInfo[] = [];
  const undeclared: (() => string | undefined)[] = [];
  app.addHook('onRoute', (r) => {
    // every route declares its permission; checked when the server is ready, since the dashboard
    // plugin marks its static files public in a hook that runs after this one
    undeclared.push(() => (r.config?.scope ? undefined : `${[r.method].flat().join(',')} ${r.url}`));
    for (const method of [r.method].flat()) {
      // read the scope lazily: plugins (the static files) may set it after this hook ran
      if (method !== 'HEAD') routes.push({ method, url: r.url, get scope() {
        return r.config?.scope ?? 'admin';
      } });
    }
  });
  app.decorate('shipshapeRoutes', routes);
  app.addHook('onReady', async () => {
    const missing = undeclared.map((f) => f()).filter(Boolean);
    if (missing.length) throw new Error(`routes without a declared scope (add config: { scope: 'read' | 'write' | 'admin' | 'public' }): ${missing.join('; ')}`);
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ServiceError) {
      const [status, title] = ({ not_found: [404, 'Not Found'], invalid: [400, 'Bad Request'], conflict: [409, 'Conflict'], busy: [429, 'Too Many Requests'] } as const)[err.kind];
      return sendProblem(reply, { type: problemType(status), title, status, detail: err.message, instance: req.url.split('?')[0] }, err.retryAfterS ? { 'retry-after': String(err.retryAfterS) } : undefined);
    }
    if (err instanceof HttpProblem) {
      return sendProblem(reply, { type: problemType(err.status), title: err.title, status: err.status, detail: err.detail, instance: req.url.split('?')[0], errors: err.errors }, err.headers);
    }
    const e = err as { statusCode?: number; code?: string; message: string; headers?: Record<string, string> };
    const full = storageFullCause(err);
    if (full) {
      // the store cannot write: say so (in the log, by name) and ask clients to come back later
      req.log.error({ err, cause: full }, `storage full (${full}): the request could not be stored; free disk space in the data directory or database`);
      deps.onStorageFull?.(full, err);
      return sendProblem(reply, { type: problemType(503), title: 'Service Unavailable', status: 503, detail: `the server's storage is full (${full}); nothing was stored, retry later`, instance: safeInstance(req.url.split('?')[0] ?? '') }, { 'retry-after': String(STORAGE_FULL_RETRY_S) });
    }
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return sendProblem(reply, { type: problemType(500), title: 'Internal Server Error', status: 500, detail: 'something went wrong on the server; it was logged', instance: req.url.split('?')[0] });
    }
    const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Content Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests' };
    let detail = e.message;
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') detail = 'the request body is larger than this endpoint accepts';
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') detail = 'send the body as application/json';
    // JSON.parse quotes the text around the error: a body holding a secret would echo part of it
    if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      const at = /position (\d+)/.exec(e.message)?.[1];
      detail = `the request body is not valid JSON${at ? ` (at character ${at})` : ''}`;
    }
    return sendProblem(reply, { type: problemType(status), title: titles[status] ?? 'Error', status, detail, instance: req.url.split('?')[0] }, e.headers);
  });

  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => {
      const err = new HttpProblem(429, 'Too Many Requests', `rate limit exceeded; retry in ${Math.ceil(ctx.ttl / 1000)}s`, undefined, { 'retry-after': String(Math.ceil(ctx.ttl / 1000)) });
      (err as unknown as { statusCode: number }).statusCode = 429;
      return err;
    },
  });
  registerAuth(app, deps.tokens);

  // Shipshape's own liveness (the services' health reports are the checks module's /api/health):
  // degraded (503) while its store cannot write, naming the cause
  app.get('/health', { config: { scope: 'public' } }, async (_req, reply) => {
    const storage = deps.selfHealth?.() ?? { full: false };
    const body = { status: storage.full ? 'degraded' : 'ok', version: deps.version, uptime_s: Math.round((Date.now() - startedAt) / 1000), storage };
    reply.header('cache-control', 'no-store');
    return reply.code(storage.full ? 503 : 200).send(body);
  });
  authRoutes(app, { tokens: deps.tokens, secureCookies: deps.secureCookies ?? false });
  eventRoutes(app, { events: deps.events, tokens: deps.tokens, recheckMs: limits.streamRecheckMs, onClose: (fn) => app.addHook('preClose', async () => fn()) });
  metricsRoutes(app, { metrics: deps.metrics });
  for (const m of deps.modules) m.instance.routes?.(app);

  const webRoot = deps.webRoot ?? join(packageRoot, 'dist', 'web');
  const hasWeb = existsSync(join(webRoot, 'index.html'));
  if (hasWeb) {
    // the dashboard's files are public (the app asks for a token before it shows anything)
    await app.register(async (web) => {
      web.addHook('onRoute', (r) => {
        r.config = { ...(r.config as object), scope: 'public' };
      });
      await web.register(fastifyStatic, {
        root: webRoot,
        prefix: '/',
        wildcard: false,
        index: ['index.html'],
        cacheControl: true,
        maxAge: '1h',
        setHeaders: (res, path) => {
          if (path.endsWith('index.html')) res.header('cache-control', 'no-cache');
        },
      });
    });
  }

  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.headers(COMMON_HEADERS);
    done(null, payload);
  });

  app.setNotFoundHandler({ preHandler: undefined }, (req, reply) => {
    const path = req.url.split('?')[0] as string;
    const isApi = path.startsWith('/api/') || path === '/metrics' || path.startsWith('/v1/');
    if (!isApi && req.method === 'GET' && hasWeb) {
      // the dashboard's own routes (/services/web…) load the single-page app
      reply.header('cache-control', 'no-cache');
      return reply.type('text/html; charset=utf-8').send(createReadStream(join(webRoot, 'index.html')));
    }
    return sendProblem(reply, { type: problemType(404), title: 'Not Found', status: 404, detail: `no route ${req.method} ${path}`, instance: path });
  });

  return app;
}
