/** The SDK batch endpoint, Prometheus scraping and the chart route, against a real server. */
import { telemetry as telemetryModule } from '../../src/telemetry/index.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TelemetryDomain } from '../../src/telemetry/index.js';
import { parsePrometheusText } from '../../src/telemetry/prometheus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'sdk-ingest-token';

let srv: TestServer;
let tel: TelemetryDomain;
let app: Server;
let appUp = true;
/** scrapes answered 503 while the app was down */
let failedScrapes = 0;
const registry = new Registry();
const orders = new Counter({ name: 'orders_total', help: 'orders', labelNames: ['status'], registers: [registry] });
const conns = new Gauge({ name: 'db_connections_used_ratio', help: 'pool use', registers: [registry] });
const lat = new Histogram({ name: 'job_seconds', help: 'jobs', buckets: [0.1, 1], registers: [registry] });
const sum = new Summary({ name: 'rpc_seconds', help: 'rpc', percentiles: [0.5, 0.9], registers: [registry] });

beforeAll(async () => {
  app = createServer((req, res) => {
    if (!appUp) {
      failedScrapes++;
      res.writeHead(503).end('down');
      return;
    }
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const port = (app.address() as AddressInfo).port;
  conns.set(0.42);
  orders.inc({ status: 'paid' }, 5);
  lat.observe(0.5);
  sum.observe(0.2);
  srv = await startTestServer(`services:\n  shop:\n    checks: []\ningest:\n  tokens: ["${TOKEN}"]\n  max_body: 256KB\n  prometheus:\n    - { service: shop-db, url: "http://127.0.0.1:${port}/metrics", every: 200ms, timeout: 1s }\n`);
  tel = srv.use(telemetryModule);
});
afterAll(async () => {
  await srv?.close();
  await new Promise((r) => app.close(r));
});

const send = (body: unknown, init: { headers?: Record<string, string>; query?: string; raw?: string | Uint8Array } = {}) =>
  fetch(`${srv.url}/api/v1/ingest${init.query ?? ''}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...init.headers }, body: init.raw ?? JSON.stringify(body) });

describe('SDK batch ingest', () => {
  it('takes requests, vitals and events and answers 202', async () => {
    const now = Date.now();
    const requests = Array.from({ length: 500 }, (_, i) => ({ route: i % 2 ? '/checkout' : '/', method: 'GET', status: i % 10 === 0 ? 502 : 200, duration_ms: i % 10 === 0 ? 1200 : 80, at: now }));
    const res = await send({ service: 'shop', requests, vitals: [{ page: '/', name: 'LCP', value: 1800 }, { page: '/', name: 'CLS', value: 0.05 }], events: [{ name: 'purchase_completed', value: 42 }, { name: 'purchase_completed', count: 2 }] });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 504, dropped: 0 });
    expect((await tel.query.errorRate('shop', 300_000))).toEqual({ value: 0.1, samples: 500 });
    expect((await tel.query.latency('shop', 0.95, 300_000)).value).toBeCloseTo(1200, -2);
    expect((await tel.query.vital('shop', 'LCP', 0.75, 300_000)).value).toBeCloseTo(1800, -2);
    expect((await tel.query.eventRate('purchase_completed', 300_000, 'shop')).samples).toBe(3);
  });

  it('accepts gzip, sendBeacon text/plain bodies and ?token=', async () => {
    const body = JSON.stringify({ service: 'beacon', vitals: [{ page: '/p', name: 'INP', value: 120 }] });
    const res = await fetch(`${srv.url}/api/v1/ingest?token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const zipped = await send(undefined, { raw: gzipSync(JSON.stringify({ service: 'beacon', events: [{ name: 'signup' }] })), headers: { 'content-encoding': 'gzip' } });
    expect(zipped.status).toBe(202);
    expect((await tel.query.vital('beacon', 'INP', 0.75, 300_000, '/p')).samples).toBe(1);
    expect((await tel.query.eventRate('signup', 300_000)).samples).toBe(1);
    const pre = await fetch(`${srv.url}/api/v1/ingest`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
  });

  it('refuses bad batches whole, naming the bad items', async () => {
    const res = await send({ service: 'shop2', requests: [{ route: '/', status: 200, duration_ms: 5 }, { route: '/', status: 'ok', duration_ms: 5 }], vitals: [{ page: '/', name: 'FID', value: 1 }] });
    expect(res.status).toBe(400);
    const p = (await res.json()) as { detail: string; errors: { path: string }[] };
    expect(p.errors.map((e) => e.path)).toEqual(['body.requests[1].status', 'body.vitals[0].name']);
    expect((await tel.query.errorRate('shop2', 300_000)).samples).toBe(0);
    expect((await send({ requests: [] })).status).toBe(400);
    expect((await send(undefined, { raw: '{not json' })).status).toBe(400);
    const tooMany = await send({ service: 'x', requests: Array.from({ length: 10_001 }, () => ({ route: '', status: 200, duration_ms: 1 })) });
    expect([400, 413]).toContain(tooMany.status);
  });

  it('takes batches larger than the server-wide 64KB body limit, up to ingest.max_body', async () => {
    const requests = Array.from({ length: 2500 }, () => ({ route: '/big', method: 'POST', status: 201, duration_ms: 12.5 }));
    const body = JSON.stringify({ service: 'bulk', requests });
    expect(body.length).toBeGreaterThan(128 * 1024);
    const res = await send(undefined, { raw: body });
    expect(res.status).toBe(202);
    expect((await tel.query.requestRate('bulk', 60_000, '/big')).samples).toBe(2500);
  });

  it('401 without a token, 413 over max_body', async () => {
    const res = await fetch(`${srv.url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"service":"x"}' });
    expect(res.status).toBe(401);
    const big = await send({ service: 'x', events: [{ name: 'a'.repeat(10) }], pad: 'x'.repeat(300 * 1024) });
    expect(big.status).toBe(413);
  });
});

describe('Prometheus scraping', () => {
  it('scrapes prom-client output into metrics rules can read', async () => {
    const poll = { timeout: 5000, interval: 50 };
    await expect.poll(async () => (await tel.query.metric('db_connections_used_ratio', {}, 60_000, 'shop-db')).value, poll).toBe(0.42);
    orders.inc({ status: 'paid' }, 100);
    await expect.poll(async () => (await tel.query.metric('orders_total', { status: 'paid' }, 60_000, 'shop-db')).value ?? 0, poll).toBeGreaterThan(0);
    expect((await tel.query.metric('job_seconds_count', {}, 60_000, 'shop-db')).samples).toBeGreaterThan(0);
    expect((await tel.query.metric('rpc_seconds', { quantile: '0.5' }, 60_000, 'shop-db')).value).toBeCloseTo(0.2, 5);
    // a failing target is survived; scraping resumes when it is back
    appUp = false;
    const failedBefore = failedScrapes;
    await expect.poll(() => failedScrapes - failedBefore, poll).toBeGreaterThanOrEqual(2);
    appUp = true;
    conns.set(0.9);
    await expect.poll(async () => (await tel.query.metric('db_connections_used_ratio', {}, 60_000, 'shop-db')).value, poll).toBe(0.9);
  });

  it('parses the text format: labels with escapes, timestamps, special values', () => {
    const text = ['# TYPE a counter', 'a_total{path="/x\\"y",code="200"} 3 1700000000000', '# TYPE b gauge', 'b NaN', 'b{x="1"} +Inf', 'c 7', '# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_sum 2', 'h_count 1', 'garbage line {'].join('\n');
    const out = parsePrometheusText(text, 's', 5);
    expect(out).toEqual([
      { service: 's', name: 'a_total', labels: { path: '/x"y', code: '200' }, type: 'counter', value: 3, at: 1700000000000 },
      { service: 's', name: 'c', labels: {}, type: 'gauge', value: 7, at: 5 },
      { service: 's', name: 'h_sum', labels: {}, type: 'counter', value: 2, at: 5 },
      { service: 's', name: 'h_count', labels: {}, type: 'counter', value: 1, at: 5 },
    ]);
  });
});

describe('chart route', () => {
  it('returns request rate, error rate, quantiles, vitals and routes for a range', async () => {
    const to = new Date(Date.now() + 10_000).toISOString();
    const from = new Date(Date.now() - 15 * 60_000).toISOString();
    const res = await srv.api(`/api/v1/services/shop/telemetry?from=${from}&to=${to}`);
    expect(res.status).toBe(200);
    const c = (await res.json()) as { step_ms: number; series: Record<string, (number | null)[]>; vitals: Record<string, { p75: (number | null)[] }>; routes: { route: string; requests: number; error_rate: number; p95: number }[] };
    expect(c.step_ms).toBe(10_000);
    expect(c.series.t!.length).toBe(c.series.p95!.length);
    const total = c.series.request_rate!.reduce<number>((a, v) => a + (v ?? 0) * 10, 0);
    expect(total).toBe(500);
    expect(c.series.error_rate!.find((v) => v !== null)).toBeCloseTo(0.1, 5);
    expect(c.vitals.LCP!.p75.find((v) => v !== null)).toBeCloseTo(1800, -2);
    expect(c.routes.map((r) => r.route).sort()).toEqual(['/', '/checkout']);
    expect(c.routes.find((r) => r.route === '/')!.error_rate).toBeCloseTo(0.2, 5);
    // a day's range: minute steps
    const day = await srv.api(`/api/v1/services/shop/telemetry?from=${new Date(Date.now() - 86_400_000).toISOString()}`);
    expect(((await day.json()) as { step_ms: number }).step_ms).toBe(60_000);
  });

  it('needs a read token, validates the range, 404 for unknown services', async () => {
    expect((await srv.api('/api/v1/services/shop/telemetry', { token: null })).status).toBe(401);
    expect((await srv.api('/api/v1/services/shop/telemetry?from=yesterday')).status).toBe(400);
    expect((await srv.api('/api/v1/services/nope/telemetry')).status).toBe(404);
  });
});
