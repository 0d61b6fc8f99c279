/**
 * The framework integrations on real servers on loopback, hit with real requests: each request is
 * recorded once with its route template (never the raw URL), method, status and a duration.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createShipshape, getShipshape, setRoute, withShipshape, type Shipshape } from '../../src/sdk/node/index.js';
import type { IngestRequest } from '../../src/sdk/shared.js';
import { allRequests, closedPort, startRecorder, watchProcessErrors, type Recorder } from './recorder.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(): Promise<{ r: Recorder; c: Shipshape }> {
  const r = await startRecorder();
  cleanup.push(() => r.close());
  const c = createShipshape({ url: r.url, token: 't', service: 'web', flushIntervalMs: 60_000, onError: () => undefined });
  cleanup.push(() => c.close());
  return { r, c };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function hit(base: string, paths: [string, string?][]): Promise<number[]> {
  const statuses: number[] = [];
  for (const [path, method = 'GET'] of paths) {
    const res = await fetch(`${base}${path}`, { method });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

/** what was recorded, without durations and times (checked separately) */
async function recorded(c: Shipshape, r: Recorder): Promise<Omit<IngestRequest, 'duration_ms' | 'at'>[]> {
  await c.flush();
  const reqs = allRequests(r.payloads());
  for (const q of reqs) {
    expect(q.duration_ms).toBeGreaterThanOrEqual(0);
    expect(q.duration_ms).toBeLessThan(30_000);
  }
  return reqs.map(({ route, method, status }) => ({ route, method, status })).sort((a, b) => `${a.route}${a.method}${a.status}`.localeCompare(`${b.route}${b.method}${b.status}`));
}

const sorted = <T extends { route: string; method: string; status: number }>(xs: T[]) => [...xs].sort((a, b) => `${a.route}${a.method}${a.status}`.localeCompare(`${b.route}${b.method}${b.status}`));

describe('Express middleware', () => {
  it('records route templates with the router mount path, 500s from thrown errors, 404s as unmatched', async () => {
    const { r, c } = await setup();
    const app = express();
    app.use(c.express());
    const api = express.Router();
    api.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    api.post('/orders', async (_req, res) => {
      await new Promise((x) => setTimeout(x, 20));
      res.status(201).end();
    });
    app.use('/api', api);
    app.get('/', (_req, res) => {
      res.send('home');
    });
    app.get('/boom', () => {
      throw new Error('kaput');
    });
    app.get('/async-boom', async () => {
      throw new Error('async kaput');
    });
    app.get('/custom/*rest', (req, res) => {
      setRoute(req, '/custom/[...rest]');
      res.send('ok');
    });
    // Express' default error handler logs to stderr; keep the test output clean
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('internal error');
    });
    const base = await listen(createServer(app));

    expect(await hit(base, [['/api/items/42'], ['/api/items/43?x=1'], ['/api/orders', 'POST'], ['/'], ['/boom'], ['/async-boom'], ['/nope/123'], ['/custom/a/b']])).toEqual([200, 200, 201, 200, 500, 500, 404, 200]);
    expect(await recorded(c, r)).toEqual(
      sorted([
        { route: '/api/items/:id', method: 'GET', status: 200 },
        { route: '/api/items/:id', method: 'GET', status: 200 },
        { route: '/api/orders', method: 'POST', status: 201 },
        { route: '/', method: 'GET', status: 200 },
        { route: '/boom', method: 'GET', status: 500 },
        { route: '/async-boom', method: 'GET', status: 500 },
        { route: 'unmatched', method: 'GET', status: 404 },
        { route: '/custom/[...rest]', method: 'GET', status: 200 },
      ]),
    );
    const orders = allRequests(r.payloads()).find((q) => q.route === '/api/orders');
    expect(orders!.duration_ms).toBeGreaterThanOrEqual(15);
  });
});

describe('Fastify plugin', () => {
  it('records Fastify route templates for every route, 500s and unmatched 404s', async () => {
    const { r, c } = await setup();
    const app = Fastify();
    cleanup.push(() => app.close());
    await app.register(c.fastify);
    app.get('/items/:id', async (req) => ({ id: (req.params as { id: string }).id }));
    // a route in an encapsulated child plugin is instrumented too
    await app.register(
      async (child) => {
        child.get('/users/:userId/orders', async () => []);
        child.post('/fail', async () => {
          throw new Error('kaput');
        });
      },
      { prefix: '/v2' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    expect(await hit(base, [['/items/1'], ['/items/2'], ['/v2/users/7/orders'], ['/v2/fail', 'POST'], ['/missing/99']])).toEqual([200, 200, 200, 500, 404]);
    expect(await recorded(c, r)).toEqual(
      sorted([
        { route: '/items/:id', method: 'GET', status: 200 },
        { route: '/items/:id', method: 'GET', status: 200 },
        { route: '/v2/users/:userId/orders', method: 'GET', status: 200 },
        { route: '/v2/fail', method: 'POST', status: 500 },
        { route: 'unmatched', method: 'GET', status: 404 },
      ]),
    );
  });
});

describe('plain Node http', () => {
  it('wraps a request listener; ids in paths become :id unless the app names the route', async () => {
    const { r, c } = await setup();
    const server = createServer(
      c.http((req, res) => {
        if (req.url?.startsWith('/reports/')) setRoute(req, '/reports/:name');
        if (req.url === '/fail') {
          res.statusCode = 500;
          res.end('no');
          return;
        }
        res.end('ok');
      }),
    );
    const base = await listen(server);
    expect(await hit(base, [['/users/123/orders?page=2'], ['/files/3f2a9c1e-1b2d-4c3e-8f9a-0b1c2d3e4f5a'], ['/reports/monthly'], ['/fail', 'DELETE']])).toEqual([200, 200, 200, 500]);
    expect(await recorded(c, r)).toEqual(
      sorted([
        { route: '/users/:id/orders', method: 'GET', status: 200 },
        { route: '/files/:id', method: 'GET', status: 200 },
        { route: '/reports/:name', method: 'GET', status: 200 },
        { route: '/fail', method: 'DELETE', status: 500 },
      ]),
    );
  });

  it('keeps answering when Shipshape is away: no unhandled rejection, memory bounded by maxQueue', async () => {
    const port = await closedPort();
    const watch = watchProcessErrors();
    cleanup.push(() => watch.stop());
    const c = createShipshape({ url: `http://127.0.0.1:${port}`, token: 't', service: 'web', flushIntervalMs: 5, maxBackoffMs: 5, maxQueue: 50, onError: () => undefined });
    cleanup.push(() => c.close());
    const base = await listen(createServer(c.http((_req, res) => res.end('ok'))));
    const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => fetch(`${base}/n/${i}`).then(async (res) => (await res.text(), res.status))));
    expect(statuses.every((s) => s === 200)).toBe(true);
    await new Promise((x) => setTimeout(x, 50));
    const s = c.stats();
    // at most maxQueue waiting, plus at most one batch being tried
    expect(s.queued).toBeLessThanOrEqual(50);
    expect(s.inFlight).toBeLessThanOrEqual(50);
    expect(s.queued + s.inFlight + s.dropped).toBe(300);
    expect(s.sent).toBe(0);
    expect(s.failures).toBeGreaterThan(0);
    expect(watch.errors).toEqual([]);
  });
});

describe('Next.js route handler wrapper', () => {
  it('records the route template and status, and a thrown handler as 500 (the error goes on)', async () => {
    const { r, c } = await setup();
    const GET = c.withShipshape(async (req: Request, ctx: { params: Promise<{ id: string }> }) => Response.json({ id: (await ctx.params).id, q: new URL(req.url).search }), { route: '/api/items/[id]' });
    const POST = c.withShipshape(
      async () => {
        throw new Error('db down');
      },
      { route: '/api/orders' },
    );
    const res = await GET(new Request('http://localhost:3000/api/items/42?x=1'), { params: Promise.resolve({ id: '42' }) });
    expect(await res.json()).toEqual({ id: '42', q: '?x=1' });
    await expect(POST(new Request('http://localhost:3000/api/orders', { method: 'POST' }))).rejects.toThrow('db down');
    // the module-level wrapper uses the last client created (e.g. in instrumentation.ts)
    expect(getShipshape()).toBe(c);
    const notFound = withShipshape(async () => {
      throw Object.assign(new Error('NEXT_HTTP_ERROR_FALLBACK;404'), { digest: 'NEXT_HTTP_ERROR_FALLBACK;404' });
    });
    await expect(notFound(new Request('http://localhost:3000/blog/hello-world-2024?ref=x'))).rejects.toThrow();
    expect(await recorded(c, r)).toEqual(
      sorted([
        { route: '/api/items/[id]', method: 'GET', status: 200 },
        { route: '/api/orders', method: 'POST', status: 500 },
        // without a template, long slugs with digits count as ids too (one series, not one per post)
        { route: '/blog/:id', method: 'GET', status: 404 },
      ]),
    );
  });
});

describe('SvelteKit handle hook', () => {
  it('records the route id, the status, and errors thrown by resolve', async () => {
    const { r, c } = await setup();
    const handle = c.sveltekit();
    const event = (url: string, id: string | null, method = 'GET') => ({ request: new Request(url, { method }), route: { id }, url: new URL(url) });
    const ok = await handle({ event: event('http://x/items/5', '/items/[id]'), resolve: () => new Response('ok') });
    expect(ok.status).toBe(200);
    const missing = await handle({ event: event('http://x/nope', null), resolve: () => new Response('nf', { status: 404 }) });
    expect(missing.status).toBe(404);
    await expect(
      handle({
        event: event('http://x/api/pay', '/api/pay', 'POST'),
        resolve: async () => {
          throw new Error('stripe down');
        },
      }),
    ).rejects.toThrow('stripe down');
    expect(await recorded(c, r)).toEqual(
      sorted([
        { route: '/items/[id]', method: 'GET', status: 200 },
        { route: 'unmatched', method: 'GET', status: 404 },
        { route: '/api/pay', method: 'POST', status: 500 },
      ]),
    );
  });
});
