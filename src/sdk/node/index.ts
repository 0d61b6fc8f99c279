/**
 * `shipshape/sdk/node`: request timings and business events from a Node app to Shipshape.
 *
 * ```ts
 * import { createShipshape } from 'shipshape/sdk/node';
 * const shipshape = createShipshape({ url: 'http://127.0.0.1:4600', token: process.env.SHIPSHAPE_INGEST_TOKEN!, service: 'web' });
 * app.use(shipshape.express());                       // Express
 * await fastify.register(shipshape.fastify);          // Fastify
 * http.createServer(shipshape.http(listener));        // plain Node http
 * export const GET = shipshape.withShipshape(handler, { route: '/api/items/[id]' });  // Next.js
 * export const handle = shipshape.sveltekit();        // SvelteKit hooks.server.ts
 * shipshape.track('purchase_completed', { value: 49.9 });
 * ```
 * Nothing here loads server code or a framework: only Node built-ins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginCallback } from 'fastify';
import { ShipshapeClient as BaseClient, getDefaultClient, setDefaultClient, type ShipshapeOptions } from './client.js';
import {
  expressMiddleware,
  fastifyPlugin,
  instrumentHttp,
  svelteKitHandle,
  withShipshape as wrapRoute,
  type ExpressLikeRequest,
  type HttpOptions,
  type RouteOptions,
} from './integrations.js';

export type { ClientStats, RequestRecord, ShipshapeOptions } from './client.js';
export type { ExpressLikeRequest, HttpOptions, RouteOptions, SvelteKitHandleInput } from './integrations.js';
export { setRoute, withShipshape } from './integrations.js';
export { normalizePath } from '../shared.js';

/** A client with the framework integrations attached. */
export class Shipshape extends BaseClient {
  private fastifyCached?: FastifyPluginCallback;

  /** Wrap a plain `http` request listener. */
  http<Req extends IncomingMessage, Res extends ServerResponse>(listener: (req: Req, res: Res) => void, opts?: HttpOptions): (req: Req, res: Res) => void {
    return instrumentHttp(this, listener, opts);
  }

  /** Express middleware; `app.use()` it before the routes. */
  express(): (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
    return expressMiddleware(this);
  }

  /** Fastify plugin: `await app.register(shipshape.fastify)`. */
  get fastify(): FastifyPluginCallback {
    this.fastifyCached ??= fastifyPlugin(this);
    return this.fastifyCached;
  }

  /** Next.js App Router route handler wrapper. */
  withShipshape<A extends unknown[], R extends Response | undefined | void>(handler: (req: Request, ...rest: A) => R | Promise<R>, opts: Omit<RouteOptions, 'client'> = {}): (req: Request, ...rest: A) => Promise<R> {
    return wrapRoute(handler, { ...opts, client: this });
  }

  /** SvelteKit `handle` hook. */
  sveltekit(): ReturnType<typeof svelteKitHandle> {
    return svelteKitHandle(this);
  }
}

/**
 * Create the client (and make it the default one `withShipshape()` uses). Throws only on a bad
 * option; afterwards nothing it does throws or rejects.
 */
export function createShipshape(opts: ShipshapeOptions): Shipshape {
  const client = new Shipshape(opts);
  setDefaultClient(client);
  return client;
}

/** The client created last (e.g. in Next.js' instrumentation.ts `register()`), if any. */
export function getShipshape(): Shipshape | undefined {
  // duck-typed: Next.js dev reloads can load this module twice, and instanceof fails across copies
  const c = getDefaultClient() as Shipshape | undefined;
  return c && typeof c.express === 'function' ? c : undefined;
}

/**
 * For Next.js `instrumentation.ts`: create the client once per server process (dev reloads
 * included) from options or the environment (`SHIPSHAPE_URL`, `SHIPSHAPE_INGEST_TOKEN`,
 * `SHIPSHAPE_SERVICE`). `export async function register() { registerShipshape() }`
 */
export function registerShipshape(opts: Partial<ShipshapeOptions> = {}): Shipshape | undefined {
  const existing = getShipshape();
  if (existing) return existing;
  const url = opts.url ?? process.env.SHIPSHAPE_URL;
  const token = opts.token ?? process.env.SHIPSHAPE_INGEST_TOKEN;
  const service = opts.service ?? process.env.SHIPSHAPE_SERVICE;
  if (!url || !token || !service) return undefined;
  return createShipshape({ ...opts, url, token, service });
}

export { svelteKitHandle };
