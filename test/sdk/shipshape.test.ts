/**
 * The Node SDK into a REAL Shipshape (its `/api/v1/ingest`): apps on Express, Fastify and plain
 * `http` serve real requests on loopback, and Shipshape's own API then shows their routes, error
 * rates and latencies, and the business events. Also the server's refusals as the SDK meets them:
 * a wrong token, the ingest quota (429 + Retry-After), gzip bodies.
 */
import { checks } from '../../src/checks/index.js';
import { telemetry as telemetryModule } from '../../src/telemetry/index.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createShipshape, setRoute, type Shipshape } from '../../src/sdk/node/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { watchProcessErrors } from './recorder.js';

const TOKEN = 'sdk-e2e-ingest-token-0123456789';
let srv: TestServer;
const cleanup: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  srv = await startTestServer(`
services:
  web: {}
  api: {}
  shop: {}
ingest:
  tokens: ["${TOKEN}"]
`);
});
afterAll(async () => {
  await srv?.close();
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function client(service: string, opts: Partial<Parameters<typeof createShipshape>[0]> = {}): Shipshape & { errors: Error[] } {
  const errors: Error[] = [];
  const c = createShipshape({ url: srv.url, token: TOKEN, service, flushIntervalMs: 60_000, onError: (e) => errors.push(e), ...opts });
  cleanup.push(() => c.close());
  return Object.assign(c, { errors });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function hit(base: string, paths: string[], method = 'GET'): Promise<number[]> {
  const out: number[] = [];
  for (const p of paths) {
    const res = await fetch(`${base}${p}`, { method });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

interface RouteRow {
  route: string;
  requests: number;
  error_rate: number | null;
  p95: number | null;
}

async function routes(service: string): Promise<RouteRow[]> {
  const res = await srv.api(`/api/v1/services/${service}/telemetry`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { routes: RouteRow[] };
  return body.routes.sort((a, b) => a.route.localeCompare(b.route));
}

const telemetry = () => srv.use(telemetryModule);

describe('Node SDK into a real Shipshape', () => {
  it('Express: routes, 5xx error rate and latency show up in the service telemetry', async () => {
    const c = client('web');
    const app = express();
    app.use(c.express());
    app.get('/api/items/:id', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 30)); // a slow route: part of the scenario, not a wait
      res.json({ ok: true });
    });
    app.post('/api/checkout', (_req, res) => {
      c.track('purchase_completed', { value: 25 });
      res.status(201).end();
    });
    app.get('/api/fail', () => {
      throw new Error('kaput');
    });
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('internal error');
    });
    const base = await listen(createServer(app));
    expect(await hit(base, ['/api/items/1', '/api/items/2', '/api/items/3', '/api/fail', '/nothing/here'])).toEqual([200, 200, 200, 500, 404]);
    expect(await hit(base, ['/api/checkout', '/api/checkout'], 'POST')).toEqual([201, 201]);
    expect(await c.flush()).toBe(true);
    expect(c.errors).toEqual([]);

    const rows = await routes('web');
    expect(rows.map(({ route, requests, error_rate }) => ({ route, requests, error_rate }))).toEqual([
      { route: '/api/checkout', requests: 2, error_rate: 0 },
      { route: '/api/fail', requests: 1, error_rate: 1 },
      { route: '/api/items/:id', requests: 3, error_rate: 0 },
      { route: 'unmatched', requests: 1, error_rate: 0 },
    ]);
    expect(rows.find((r) => r.route === '/api/items/:id')!.p95).toBeGreaterThanOrEqual(25);

    // what alert rules read: error_rate(web), p95(web.latency), rate(events.purchase_completed)
    const q = telemetry().query;
    expect((await q.errorRate('web', 300_000))).toEqual({ value: 1 / 7, samples: 7 });
    expect((await q.latency('web', 0.95, 300_000)).value).toBeGreaterThanOrEqual(25);
    expect((await q.eventRate('purchase_completed', 300_000, 'web')).samples).toBe(2);
  });

  it('Fastify and plain http apps each feed their own service', async () => {
    const f = client('api');
    const app = Fastify();
    cleanup.push(() => app.close());
    await app.register(f.fastify);
    app.get('/v1/users/:id', async () => ({ ok: true }));
    app.get('/v1/broken', async () => {
      throw new Error('nope');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const fbase = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await hit(fbase, ['/v1/users/1', '/v1/users/2', '/v1/broken'])).toEqual([200, 200, 500]);

    const h = client('shop');
    const hbase = await listen(
      createServer(
        h.http((req, res) => {
          if (req.url === '/pay') {
            setRoute(req, '/pay');
            res.statusCode = 503;
          }
          res.end();
        }),
      ),
    );
    expect(await hit(hbase, ['/orders/77', '/orders/78', '/pay'])).toEqual([200, 200, 503]);
    await Promise.all([f.flush(), h.flush()]);

    expect((await routes('api')).map(({ route, requests, error_rate }) => ({ route, requests, error_rate }))).toEqual([
      { route: '/v1/broken', requests: 1, error_rate: 1 },
      { route: '/v1/users/:id', requests: 2, error_rate: 0 },
    ]);
    expect((await routes('shop')).map(({ route, requests, error_rate }) => ({ route, requests, error_rate }))).toEqual([
      { route: '/orders/:id', requests: 2, error_rate: 0 },
      { route: '/pay', requests: 1, error_rate: 1 },
    ]);
  });

  it('gzip bodies are taken; a wrong token is refused with a clear reason and not retried', async () => {
    const c = client('web', { gzipAbove: 512 });
    const before = (await telemetry().query.requestRate('web', 300_000, '/bulk/:id')).samples;
    for (let i = 0; i < 400; i++) c.recordRequest({ route: '/bulk/:id', method: 'GET', status: 200, durationMs: i % 50 });
    expect(await c.flush()).toBe(true);
    expect((await telemetry().query.requestRate('web', 300_000, '/bulk/:id')).samples - before).toBe(400);

    const bad = client('web', { token: 'not-a-real-token' });
    bad.track('x');
    expect(await bad.flush()).toBe(false);
    expect(bad.errors[0]?.message).toMatch(/^shipshape ingest answered 401: a valid ingest token is required/);
    expect(bad.stats()).toMatchObject({ queued: 0, dropped: 1 });
  });

  it('a server that is away, then back: the app keeps serving and the data arrives', async () => {
    // a second Shipshape that is not up yet: take a port, release it, start Shipshape on it later
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const watch = watchProcessErrors();
    cleanup.push(() => watch.stop());

    const c = createShipshape({ url: `http://127.0.0.1:${port}`, token: TOKEN, service: 'web', flushIntervalMs: 20, maxBackoffMs: 50, onError: () => undefined });
    cleanup.push(() => c.close());
    const app = express();
    app.use(c.express());
    app.get('/ping/:n', (_req, res) => {
      res.send('pong');
    });
    const base = await listen(createServer(app));
    expect(await hit(base, Array.from({ length: 20 }, (_, i) => `/ping/${i}`))).toEqual(Array(20).fill(200));
    await expect.poll(() => c.stats().failures, { timeout: 5000, interval: 10 }).toBeGreaterThan(0);
    expect(c.stats().sent).toBe(0);

    const late = await startTestServerOn(port);
    cleanup.push(() => late.close());
    await expect.poll(() => c.stats().sent, { timeout: 5000, interval: 25 }).toBe(20);
    expect(c.stats()).toMatchObject({ sent: 20, dropped: 0 });
    const res = await late.api('/api/v1/services/web/telemetry');
    const rows = ((await res.json()) as { routes: RouteRow[] }).routes;
    expect(rows).toEqual([{ route: '/ping/:n', requests: 20, error_rate: 0, p95: expect.any(Number) }]);
    expect(watch.errors).toEqual([]);
  });

  it('over the ingest quota: 429 with Retry-After is waited out, then the data arrives', async () => {
    const limited = await startTestServer(`
services:
  web: {}
ingest:
  tokens: ["${TOKEN}"]
  rate_limit: { requests: 1, per: 1s }
`);
    cleanup.push(() => limited.close());
    const errors: Error[] = [];
    const c = createShipshape({ url: limited.url, token: TOKEN, service: 'web', flushIntervalMs: 50, maxBackoffMs: 50, onError: (e) => errors.push(e) });
    cleanup.push(() => c.close());
    c.track('first');
    expect(await c.flush()).toBe(true);
    c.track('second');
    expect(await c.flush()).toBe(false);
    expect(errors[0]?.message).toMatch(/^shipshape ingest answered 429: ingest quota of 1 requests per 1s exceeded/);
    // the timer (every 50ms) waits for Retry-After (1s) instead of hammering
    await expect.poll(() => c.stats().sent, { timeout: 5000, interval: 25 }).toBe(2);
    expect(c.stats()).toMatchObject({ sent: 2, dropped: 0 });
    expect(errors).toHaveLength(1);
    const q = limited.use(telemetryModule).query;
    expect((await q.eventRate('second', 300_000, 'web')).samples).toBe(1);
  });
});

/** A Shipshape on a given port (the helper picks port 0; this writes the port into the config). */
async function startTestServerOn(port: number): Promise<TestServer> {
  const { startShipshape } = await import('../../src/app.js');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pino } = await import('pino');
  const { ADMIN } = await import('../helpers/server.js');
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-sdk-late-'));
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(configPath, `services:\n  web: {}\ningest:\n  tokens: ["${TOKEN}"]\n`);
  const running = await startShipshape({ configPath, dataDir: join(dir, 'data'), port, logger: pino({ level: 'silent' }), adminToken: ADMIN });
  return Object.assign(running, {
    dir,
    configPath,
    monitor: running.use(checks).monitor,
    api: (path: string) => fetch(`${running.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }),
    async close() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
