/**
 * The sample app (examples/app) end to end: a real Shipshape loaded from examples/app/shipshape.yaml,
 * the app instrumented with the real OpenTelemetry SDK (metrics + traces over OTLP/HTTP), the real
 * @sentry/node and the Shipshape SDK, the load loop with 20% injected 5xx — and then what a user
 * sees: the routes with their exact error counts, the Sentry issue, the business events, and the
 * error-rate alert delivered to the webhook receiver.
 */
import { telemetry as telemetryModule } from '../../src/telemetry/index.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../examples/app/app.js';
import { runLoad } from '../../examples/app/load.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startRecorder, type Recorder } from './recorder.js';

// a Sentry DSN key is letters, digits and "_" only: the ingest token doubles as one here
const TOKEN = 'example_app_ingest_token_42';
let srv: TestServer;
let app: App;
let hooks: Recorder;
let counts: Record<string, number>;

beforeAll(async () => {
  hooks = await startRecorder();
  process.env.SHIPSHAPE_INGEST_TOKEN = TOKEN;
  process.env.WEBHOOK_URL = `${hooks.url}/hook`;
  process.env.APP_URL = 'http://127.0.0.1:9'; // the health check is not what this test is about
  // the example config as shipped, evaluated faster so the test does not wait out `for 10s`
  const yaml = readFileSync('examples/app/shipshape.yaml', 'utf8').replace('evaluate_every: 5s', 'evaluate_every: 1s').replace('> 5% for 10s', '> 5%');
  expect(yaml).toContain('when: error_rate(web, 1m) > 5%\n');
  srv = await startTestServer(yaml);
  app = await startApp({ port: 0, shipshapeUrl: srv.url, token: TOKEN, failRate: 0.2, exportIntervalMs: 500 });
  counts = await runLoad({ url: app.url, rps: 400, requests: 200 });
  await app.flush();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await srv?.close();
  await hooks?.close();
});

const telemetry = () => srv.use(telemetryModule).query;

describe('examples/app against a real Shipshape', () => {
  it('the load loop got answers, about a fifth of them injected 500s', () => {
    expect(counts.error).toBeUndefined();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(200);
    expect(counts['500']).toBeGreaterThan(0);
    expect(counts['200']).toBeGreaterThan(0);
  });

  it('OpenTelemetry request metrics: every request counted once, every 500 an error', async () => {
    const q = telemetry();
    // request metrics come from OTLP only (spans are not counted twice when metrics arrive)
    await expect.poll(async () => (await q.errorRate('web', 300_000)).samples, { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(200);
    const rate = (await q.errorRate('web', 300_000));
    expect(rate.samples).toBe(200);
    expect(Math.round(rate.value! * 200)).toBe(counts['500']);

    const res = await srv.api('/api/v1/services/web/telemetry');
    const body = (await res.json()) as { routes: { route: string; requests: number }[] };
    const routes = Object.fromEntries(body.routes.map((r) => [r.route, r.requests]));
    expect(Object.keys(routes).sort()).toEqual(expect.arrayContaining(['/api/checkout', '/api/products', '/api/products/:id']));
    expect(Object.keys(routes).some((r) => /\d/.test(r))).toBe(false); // templates, never raw ids
    expect(Object.values(routes).reduce((a, b) => a + b, 0)).toBe(200);
  });

  it('@sentry/node: the injected failure is an issue of service web with release example-app@1.0.0', async () => {
    let items: { title: string; service: string | null; count: number; release?: string | null; last_release?: string | null }[] = [];
    const issues = async () => ((await (await srv.api('/api/v1/issues')).json()) as { items: typeof items }).items;
    await expect.poll(async () => (items = await issues()).length, { timeout: 5000, interval: 50 }).toBeGreaterThan(0);
    expect(items).toHaveLength(1); // one code path, one issue, whatever the route
    expect(items[0]!.title).toMatch(/^Error: injected failure on /);
    expect(items[0]!.service).toBe('web');
    expect(items[0]!.count).toBeGreaterThan(0);
    expect(JSON.stringify(items[0])).toContain('example-app@1.0.0');
  });

  it('Shipshape SDK track(): purchases and payment attempts as business events', async () => {
    const q = telemetry();
    // 201: purchase completed; 402: payment failed; a checkout hit by an injected 500 never reached payment
    expect((await q.eventRate('purchase_completed', 300_000, 'web')).samples).toBe(counts['201'] ?? 0);
    expect((await q.eventRate('payment_attempted', 300_000, 'web')).samples).toBe((counts['201'] ?? 0) + (counts['402'] ?? 0));
  });

  it('the high-error-rate rule fires and its notification reaches the webhook channel', async () => {
    const hit = await hooks.waitFor((rs) => rs.find((r) => r.url === '/hook' && r.text.includes('high-error-rate')), 20_000);
    const body = JSON.parse(hit.text) as { version: string; status: string; alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[] };
    expect(body.version).toBe('4');
    expect(body.status).toBe('firing');
    const alert = body.alerts.find((a) => a.labels.alertname === 'high-error-rate')!;
    expect(alert.labels).toMatchObject({ severity: 'P1', service: 'web' });
    expect(alert.annotations.summary).toMatch(/^web error rate is \d+(\.\d+)?% \(threshold 5%\)$/);
  });
});
