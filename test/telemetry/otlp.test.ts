/** OTLP/HTTP ingest with the real OpenTelemetry JS exporters (JSON and protobuf, gzip) against a real server. */
import { telemetry as telemetryModule } from '../../src/telemetry/index.js';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TelemetryDomain } from '../../src/telemetry/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'ingest-secret-token';
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

let srv: TestServer;
let tel: TelemetryDomain;

beforeAll(async () => {
  srv = await startTestServer(`services: {}\ningest:\n  tokens: ["${TOKEN}"]\n  max_body: 64KB\n`);
  tel = srv.use(telemetryModule);
});
afterAll(async () => {
  await srv?.close();
});

function meter(exporter: PushMetricExporter, service: string) {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service }), readers: [reader] });
  const histogram = provider.getMeter('http-instrumentation').createHistogram('http.server.request.duration', { unit: 's', advice: { explicitBucketBoundaries: BOUNDS } });
  return { reader, provider, histogram };
}

/** 100 requests: 80 fast 200s (40ms), 20 slow 500s (300ms) on two routes. */
function record(h: ReturnType<typeof meter>['histogram'], n = 100) {
  for (let i = 0; i < n; i++) {
    const fail = i % 5 === 0;
    h.record(fail ? 0.3 : 0.04, { 'http.route': i % 2 ? '/api/items/:id' : '/', 'http.request.method': 'GET', 'http.response.status_code': fail ? 500 : 200 });
  }
}

describe('OTLP metrics from the official exporters', () => {
  it('JSON exporter, cumulative: error rate, p95, and a second export does not double count', async () => {
    const m = meter(new JsonMetricExporter({ url: `${srv.url}/v1/metrics`, headers: { Authorization: `Bearer ${TOKEN}` } }), 'web-json');
    record(m.histogram);
    await m.reader.forceFlush();
    const err = (await tel.query.errorRate('web-json', 300_000));
    expect(err.samples).toBe(100);
    expect(err.value).toBeCloseTo(0.2, 5);
    const p95 = (await tel.query.latency('web-json', 0.95, 300_000)).value as number;
    // 20% of requests took 300ms (bucket 250-500ms, midpoint 375ms)
    expect(p95).toBeGreaterThan(250);
    expect(p95).toBeLessThan(500);
    const p50 = (await tel.query.latency('web-json', 0.5, 300_000)).value as number;
    expect(p50).toBeGreaterThan(25);
    expect(p50).toBeLessThan(50);
    expect((await tel.query.errorRate('web-json', 300_000, '/')).samples).toBe(50);

    // the same cumulative counts again: nothing new
    await m.reader.forceFlush();
    expect((await tel.query.errorRate('web-json', 300_000)).samples).toBe(100);
    // 50 more healthy requests: only those are added
    for (let i = 0; i < 50; i++) m.histogram.record(0.02, { 'http.route': '/', 'http.request.method': 'GET', 'http.response.status_code': 200 });
    await m.reader.forceFlush();
    const after = (await tel.query.errorRate('web-json', 300_000));
    expect(after.samples).toBe(150);
    expect(after.value).toBeCloseTo(20 / 150, 5);
    expect((await tel.query.requestRate('web-json', 300_000)).value).toBeGreaterThan(0);
    expect(tel.query.lastSeen('web-json')).toBeGreaterThan(Date.now() - 60_000);
    await m.provider.shutdown();
  });

  it('protobuf exporter with gzip, cumulative and delta', async () => {
    for (const [service, temporality] of [
      ['web-proto', AggregationTemporality.CUMULATIVE],
      ['web-delta', AggregationTemporality.DELTA],
    ] as const) {
      const m = meter(new ProtoMetricExporter({ url: `${srv.url}/v1/metrics`, headers: { Authorization: `Bearer ${TOKEN}` }, compression: 'gzip' as never, temporalityPreference: temporality }), service);
      record(m.histogram);
      await m.reader.forceFlush();
      await m.reader.forceFlush();
      record(m.histogram, 50);
      await m.reader.forceFlush();
      const err = (await tel.query.errorRate(service, 300_000));
      expect(err.samples, service).toBe(150);
      expect(err.value, service).toBeCloseTo(30 / 150, 5);
      const p95 = (await tel.query.latency(service, 0.95, 300_000)).value as number;
      expect(p95).toBeGreaterThan(250);
      expect(p95).toBeLessThan(500);
      await m.provider.shutdown();
    }
  });

  it('gauges and counters become metrics rules can read', async () => {
    const reader = new PeriodicExportingMetricReader({ exporter: new JsonMetricExporter({ url: `${srv.url}/v1/metrics`, headers: { Authorization: `Bearer ${TOKEN}` } }), exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'payments' }), readers: [reader] });
    const meterX = provider.getMeter('app');
    const attempts = meterX.createCounter('payments.attempted');
    let pool = 7;
    meterX.createObservableGauge('db.pool.used').addCallback((r) => r.observe(pool, { pool: 'main' }));
    attempts.add(10);
    await reader.forceFlush();
    attempts.add(30);
    pool = 9;
    await reader.forceFlush();
    expect((await tel.query.metric('db.pool.used', { pool: 'main' }, 300_000, 'payments')).value).toBe(9);
    const rate = (await tel.query.metric('payments.attempted', {}, 300_000, 'payments'));
    // the first cumulative value is counted (the app started after Shipshape), then the increase
    expect(rate.value).toBeGreaterThan(0);
    expect(rate.samples).toBe(2);
    await provider.shutdown();
  });

  it('accepts the older http.server.duration (ms) in OTLP/JSON as the Collector sends it', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'legacy' } }] },
          scopeMetrics: [
            {
              scope: { name: 'x' },
              metrics: [
                {
                  name: 'http.server.duration',
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      { attributes: [{ key: 'http.route', value: { stringValue: '/a' } }, { key: 'http.status_code', value: { intValue: '200' } }], startTimeUnixNano: String(now - 10_000_000_000n), timeUnixNano: String(now), count: '10', bucketCounts: ['0', '10', '0'], explicitBounds: [100, 200] },
                      { attributes: [{ key: 'http.route', value: { stringValue: '/a' } }, { key: 'http.status_code', value: { intValue: '200' } }, { key: 'error.type', value: { stringValue: 'timeout' } }], startTimeUnixNano: String(now - 10_000_000_000n), timeUnixNano: String(now), count: '2', bucketCounts: ['0', '0', '2'], explicitBounds: [100, 200] },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${srv.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${TOKEN}` }, body: gzipSync(JSON.stringify(body)) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const err = (await tel.query.errorRate('legacy', 60_000));
    expect(err.samples).toBe(12);
    expect(err.value).toBeCloseTo(2 / 12, 5);
    expect((await tel.query.latency('legacy', 0.5, 60_000)).value).toBeCloseTo(150, -1);
  });

  it('answers partialSuccess for points it could not use', async () => {
    const body = { resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bad' } }] }, scopeMetrics: [{ metrics: [{ name: 'http.server.request.duration', histogram: { aggregationTemporality: 1, dataPoints: [{ count: '3', bucketCounts: ['1', '2'], explicitBounds: [0.1, 0.2, 0.3] }] } }] }] }] };
    const res = await fetch(`${srv.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { partialSuccess: { rejectedDataPoints: number; errorMessage: string } };
    expect(json.partialSuccess.rejectedDataPoints).toBe(1);
    expect(json.partialSuccess.errorMessage).toMatch(/bucketCounts/);
  });
});

describe('OTLP traces from the official exporters', () => {
  async function sendSpans(exporter: SpanExporter, service: string, n: number) {
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('http');
    const start = Date.now() - 1000;
    for (let i = 0; i < n; i++) {
      const fail = i % 4 === 0;
      const span = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, startTime: start, attributes: { 'http.route': '/orders/:id', 'http.response.status_code': fail ? 503 : 200 } });
      if (fail) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(start + 120);
      // a client span is not a request of this service
      tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: start }).end(start + 5);
    }
    await provider.forceFlush();
    await provider.shutdown();
  }

  it('SERVER spans become requests (JSON and protobuf)', async () => {
    await sendSpans(new JsonTraceExporter({ url: `${srv.url}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN}` } }), 'traced-json', 8);
    await sendSpans(new ProtoTraceExporter({ url: `${srv.url}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN}` }, compression: 'gzip' as never }), 'traced-proto', 8);
    for (const service of ['traced-json', 'traced-proto']) {
      const err = (await tel.query.errorRate(service, 300_000, '/orders/:id'));
      expect(err.samples, service).toBe(8);
      expect(err.value, service).toBeCloseTo(0.25, 5);
      const p50 = (await tel.query.latency(service, 0.5, 300_000)).value as number;
      expect(p50).toBeGreaterThan(115);
      expect(p50).toBeLessThan(125);
    }
  });

  it('does not count spans of a service that sends request metrics', async () => {
    const m = meter(new JsonMetricExporter({ url: `${srv.url}/v1/metrics`, headers: { Authorization: `Bearer ${TOKEN}` } }), 'both');
    record(m.histogram, 10);
    await m.reader.forceFlush();
    await m.provider.shutdown();
    await sendSpans(new JsonTraceExporter({ url: `${srv.url}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN}` } }), 'both', 8);
    expect((await tel.query.errorRate('both', 300_000)).samples).toBe(10);
  });
});

describe('OTLP faults and bad input', () => {
  const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) => fetch(`${srv.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body });

  it('401 without a valid token', async () => {
    const res = await fetch(`${srv.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('400 with the reason for malformed protobuf and JSON, and the server keeps working', async () => {
    const bad = await post('/v1/metrics', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), { 'content-type': 'application/x-protobuf' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/not a valid OTLP protobuf/);
    const badJson = await post('/v1/traces', '{"resourceSpans": [', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { detail: string }).detail).toMatch(/not a valid OTLP JSON/);
    const wrongShape = await post('/v1/metrics', '{"resourceMetrics": 5}', { 'content-type': 'application/json' });
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { detail: string }).detail).toMatch(/resourceMetrics must be an array/);
    const badGzip = await post('/v1/metrics', 'not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(badGzip.status).toBe(400);
    const ok = await post('/v1/metrics', '{}', { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
  });

  it('415 for other media types', async () => {
    const res = await post('/v1/metrics', 'x', { 'content-type': 'text/html' });
    expect(res.status).toBe(415);
  });

  it('413 for bodies over ingest.max_body, before and after decompression', async () => {
    const big = '{"resourceMetrics":[],"pad":"' + 'a'.repeat(100 * 1024) + '"}';
    const plain = await post('/v1/metrics', big, { 'content-type': 'application/json' });
    expect(plain.status).toBe(413);
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(64 * 1024);
    const bomb = await post('/v1/metrics', zipped, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
    expect(((await bomb.json()) as { detail: string }).detail).toMatch(/decompressed/);
  });
});
