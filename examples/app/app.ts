/**
 * A tiny shop API instrumented the way teams already do it, all pointed at Shipshape:
 * - OpenTelemetry (the official SDK): the `http.server.request.duration` histogram per route
 *   (OTLP/HTTP to /v1/metrics) and a SERVER span per request (OTLP/HTTP to /v1/traces);
 * - Sentry (the official @sentry/node): exceptions to the DSN `http://<ingest token>@<shipshape>/1`;
 * - the Shipshape SDK: business events (`purchase_completed` with its amount, payments) and the
 *   browser beacon (web vitals) on the home page.
 *
 *   SHIPSHAPE_INGEST_TOKEN=dev_ingest_token npx tsx examples/app/app.ts
 *
 * Environment: PORT (3000), SHIPSHAPE_URL (http://127.0.0.1:4600), SHIPSHAPE_INGEST_TOKEN,
 * SERVICE (web), SENTRY_PROJECT (1), FAIL_RATE (0: share of requests answered with a 5xx; `FAIL=1`
 * means 0.2), SLOW_MS (0: extra latency per request), EXPORT_INTERVAL_MS (5000: OTLP metric
 * export period), REQUESTS_VIA (otel: request metrics from OpenTelemetry; `sdk`: from the
 * Shipshape SDK's middleware instead; not both, or every request would count twice).
 * `POST /admin/fail?rate=0.2` and `POST /admin/slow?ms=1500` change the fault injection live.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as Sentry from '@sentry/node';
import { build } from 'esbuild';
// in your app: import { createShipshape, setRoute } from 'shipshape/sdk/node';
import { createShipshape, setRoute } from '../../src/sdk/node/index.js';

export interface AppOptions {
  port?: number;
  shipshapeUrl: string;
  token: string;
  service?: string;
  sentryProject?: number;
  failRate?: number;
  slowMs?: number;
  exportIntervalMs?: number;
  requestsVia?: 'otel' | 'sdk';
  release?: string;
}

export interface App {
  url: string;
  setFailRate(rate: number): void;
  setSlowMs(ms: number): void;
  /** push everything recorded so far to Shipshape (metrics, spans, errors, events) */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The routes: a template and a handler each (a real app would use its framework's router). */
interface Route {
  method: string;
  template: string;
  match: RegExp;
  handle: (m: RegExpExecArray, ctx: Ctx) => Promise<Reply> | Reply;
}
const ROUTES: Route[] = [];
interface Ctx {
  track(name: string, opts?: { value?: number }): void;
}
interface Reply {
  status?: number;
  json?: unknown;
  html?: string;
  js?: string;
}
const route = (method: string, template: string, handle: Route['handle'], list: Route[] = ROUTES) =>
  list.push({ method, template, match: new RegExp(`^${template.replace(/:[a-z]+/g, '([^/]+)')}$`), handle });

const PRODUCTS = [
  { id: 1, name: 'Espresso machine', price: 249 },
  { id: 2, name: 'Grinder', price: 129 },
  { id: 3, name: 'Beans (1kg)', price: 24.5 },
];

route('GET', '/api/health', () => ({ json: { status: 'healthy' } }));
route('GET', '/api/products', () => ({ json: PRODUCTS }));
route('GET', '/api/products/:id', (m) => {
  const p = PRODUCTS.find((x) => String(x.id) === m[1]);
  return p ? { json: p } : { status: 404, json: { error: 'no such product' } };
});
route('POST', '/api/checkout', async (_m, ctx) => {
  const p = PRODUCTS[Math.floor(Math.random() * PRODUCTS.length)]!;
  ctx.track('payment_attempted');
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 20)); // the payment provider
  if (Math.random() < 0.02) {
    ctx.track('payment_failed');
    return { status: 402, json: { error: 'card declined' } };
  }
  ctx.track('purchase_completed', { value: p.price });
  return { status: 201, json: { ordered: p.id } };
});

export async function startApp(o: AppOptions): Promise<App> {
  const service = o.service ?? 'web';
  let failRate = o.failRate ?? 0;
  let slowMs = o.slowMs ?? 0;
  const base = o.shipshapeUrl.replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${o.token}` };
  const resource = resourceFromAttributes({ 'service.name': service, 'service.version': o.release ?? '1.0.0', 'deployment.environment.name': 'development' });

  // OpenTelemetry metrics: the semantic-convention HTTP server histogram, in seconds
  const metricReader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers: auth }),
    exportIntervalMillis: o.exportIntervalMs ?? 5_000,
    exportTimeoutMillis: Math.min(o.exportIntervalMs ?? 5_000, 5_000),
  });
  const meters = new MeterProvider({ resource, readers: [metricReader] });
  const duration = meters.getMeter('example-app').createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests.',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  });
  // OpenTelemetry traces: one SERVER span per request
  const tracers = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces`, headers: auth }), { scheduledDelayMillis: 1_000 })] });
  const tracer = tracers.getTracer('example-app');

  // Sentry: the DSN key is the ingest token, the project id maps to services.web.sentry.project.
  // Sentry's SDKs accept only letters, digits and "_" in a DSN key.
  if (!/^\w+$/.test(o.token)) console.warn('example app: the ingest token is not a valid Sentry DSN key (letters, digits, "_" only); errors will not be sent');
  const host = new URL(base);
  Sentry.init({
    dsn: `${host.protocol}//${o.token}@${host.host}/${o.sentryProject ?? 1}`,
    release: `example-app@${o.release ?? '1.0.0'}`,
    environment: 'development',
    // this app makes its own OpenTelemetry providers; Sentry is here for errors only
    skipOpenTelemetrySetup: true,
    tracesSampleRate: 0,
  });

  // the Shipshape SDK: business events (and, with REQUESTS_VIA=sdk, the request metrics)
  const shipshape = createShipshape({ url: base, token: o.token, service, flushIntervalMs: 2_000 });
  const via = o.requestsVia ?? 'otel';

  // the browser SDK, bundled for the home page (your bundler does this in a real app)
  const browserSdk = (await build({ entryPoints: [fileURLToPath(new URL('../../src/sdk/browser/index.ts', import.meta.url))], bundle: true, format: 'iife', globalName: 'Shipshape', write: false, minify: true, logLevel: 'silent' })).outputFiles[0]!.text;
  const routes = [...ROUTES];
  route('GET', '/shipshape.js', () => ({ js: browserSdk }), routes);
  route('GET', '/', () => ({
    html: `<!doctype html><html><head><meta charset="utf-8"><title>Example shop</title></head><body>
<h1>Example shop</h1><p>Products: ${PRODUCTS.map((p) => p.name).join(', ')}</p><button id="buy">Buy something</button>
<script src="/shipshape.js"></script>
<script>
  const shipshape = Shipshape.initShipshape({ url: ${JSON.stringify(base)}, token: ${JSON.stringify(o.token)}, service: ${JSON.stringify(service)} });
  document.getElementById('buy').onclick = async () => { const r = await fetch('/api/checkout', { method: 'POST' }); shipshape.track('buy_clicked'); document.body.append(' ' + r.status); };
</script></body></html>`,
  }), routes);

  const listener = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    let template = '';
    let status = 500;
    let errorType: string | undefined;
    const span = tracer.startSpan(`${method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path } });
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const r = routes.find((x) => x.method === method && x.match.test(path));
    template = r?.template ?? (method === 'POST' && (path === '/admin/fail' || path === '/admin/slow') ? path : '');
    // with REQUESTS_VIA=sdk the Shipshape middleware records the request under this template
    setRoute(req, template || 'unmatched');
    try {
      if (template === '/admin/fail') {
        failRate = Math.min(1, Math.max(0, Number(query.get('rate') ?? 0.2)));
        return send(res, (status = 200), { json: { failRate } });
      }
      if (template === '/admin/slow') {
        slowMs = Math.max(0, Number(query.get('ms') ?? 1500));
        return send(res, (status = 200), { json: { slowMs } });
      }
      if (!r) return send(res, (status = 404), { json: { error: 'not found' } });
      if (slowMs > 0 && r.template.startsWith('/api/')) await new Promise((x) => setTimeout(x, slowMs));
      if (failRate > 0 && r.template.startsWith('/api/') && r.template !== '/api/health' && Math.random() < failRate) throw new Error(`injected failure on ${method} ${r.template}`);
      const reply = await r.handle(r.match.exec(path)!, { track: (n, v) => shipshape.track(n, v) });
      status = reply.status ?? 200;
      send(res, status, reply);
    } catch (e) {
      status = 500;
      errorType = (e as Error).name || 'Error';
      Sentry.withScope((scope) => {
        scope.setTag('route', template);
        scope.setContext('request', { method, route: template });
        Sentry.captureException(e);
      });
      span.recordException(e as Error);
      send(res, status, { json: { error: 'internal error' } });
    } finally {
      if (status >= 500) errorType ??= String(status);
      const seconds = (performance.now() - started) / 1000;
      const attrs: Record<string, string | number> = { 'http.request.method': method, 'http.response.status_code': status };
      if (template) attrs['http.route'] = template;
      if (errorType) attrs['error.type'] = errorType;
      if (via === 'otel') duration.record(seconds, attrs);
      span.setAttributes(attrs);
      if (template) span.updateName(`${method} ${template}`);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };

  const server = createServer(via === 'sdk' ? shipshape.http((req, res) => void listener(req, res)) : (req, res) => void listener(req, res));
  await new Promise<void>((r) => server.listen(o.port ?? 3000, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const flush = async () => {
    await Promise.allSettled([metricReader.forceFlush(), tracers.forceFlush(), Sentry.flush(5_000), shipshape.flush()]);
  };
  return {
    url,
    setFailRate: (r) => (failRate = r),
    setSlowMs: (ms) => (slowMs = ms),
    flush,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await flush();
      await Promise.allSettled([meters.shutdown(), tracers.shutdown(), Sentry.close(2_000), shipshape.close()]);
    },
  };
}

function send(res: ServerResponse, status: number, reply: Reply): void {
  if (reply.html !== undefined) {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(reply.html);
  } else if (reply.js !== undefined) {
    res.writeHead(status, { 'content-type': 'text/javascript; charset=utf-8' });
    res.end(reply.js);
  } else {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.json ?? {}));
  }
}

// run directly: start with the environment's settings
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const env = process.env;
  const token = env.SHIPSHAPE_INGEST_TOKEN ?? 'dev_ingest_token';
  const app = await startApp({
    port: Number(env.PORT ?? 3000),
    shipshapeUrl: env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600',
    token,
    service: env.SERVICE ?? 'web',
    sentryProject: Number(env.SENTRY_PROJECT ?? 1),
    failRate: env.FAIL_RATE !== undefined ? Number(env.FAIL_RATE) : env.FAIL === '1' ? 0.2 : 0,
    slowMs: Number(env.SLOW_MS ?? 0),
    exportIntervalMs: Number(env.EXPORT_INTERVAL_MS ?? 5_000),
    requestsVia: env.REQUESTS_VIA === 'sdk' ? 'sdk' : 'otel',
    release: env.RELEASE ?? '1.0.0',
  });
  console.log(`example app on ${app.url} -> Shipshape at ${env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600'} (service ${env.SERVICE ?? 'web'})`);
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
