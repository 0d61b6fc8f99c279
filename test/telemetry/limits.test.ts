/**
 * Issue 7, item 4: one tenant cannot starve the others. Series are limited per service (and per
 * token), the offending service's excess is folded into its own `(other)` series, and a
 * browser-facing token is restricted to its services and to browser kinds of data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { perServiceLimit } from '../../src/telemetry/config.js';
import { telemetry as telemetryModule, type TelemetryDomain } from '../../src/telemetry/index.js';
import { OTHER, Rollup } from '../../src/telemetry/rollup.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'limits-server-token';
const BROWSER = 'limits-browser-token';
const CAPPED = 'limits-capped-token';

let srv: TestServer;
let tel: TelemetryDomain;

beforeAll(async () => {
  srv = await startTestServer(
    [
      'services:',
      '  shop: {}',
      '  web: {}',
      'ingest:',
      '  tokens:',
      `    - "${TOKEN}"`,
      `    - { token: "${BROWSER}", services: [web], kinds: [vitals, events] }`,
      `    - { token: "${CAPPED}", max_series: 30 }`,
      '  max_series: 300',
      '  max_series_per_service: 40',
      '',
    ].join('\n'),
  );
  tel = srv.use(telemetryModule);
});
afterAll(async () => {
  await srv?.close();
});

const send = (token: string, body: unknown, path = '/api/v1/ingest') =>
  fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

describe('series limits per service and per token', () => {
  it('the rollup: a flooding service is capped at its own budget, below the global one', () => {
    const now = Date.now();
    const rollup = new Rollup({ maxSeries: () => 100, maxSeriesPerService: () => 20, collect: false });
    for (let i = 0; i < 500; i++) expect(rollup.request('a', `/junk/${i}`, 5, false, now, 1, now)).toBe(true);
    expect(rollup.match('requests', 'a', undefined).length).toBe(21);
    expect(rollup.find('requests', 'a', OTHER, '')).toBeDefined();
    expect(rollup.request('b', '/ok', 5, false, now, 1, now)).toBe(true);
    expect(rollup.find('requests', 'b', '/ok', '')).toBeDefined();
    expect(rollup.find('requests', 'b', OTHER, '')).toBeUndefined();
  });

  it('defaults max_series_per_service to max_series / 5', () => {
    const cfg = parseConfig('services: {}\ningest:\n  max_series: 10000\n', 'shipshape.yaml').raw as unknown as { ingest: Parameters<typeof perServiceLimit>[0] };
    expect(perServiceLimit(cfg.ingest)).toBe(2000);
  });

  it('a service flooding junk routes folds only its own excess; another service still gets new series', async () => {
    // service "junk" sends 2,000 distinct routes (more than max_series) with the shared token
    for (let b = 0; b < 2; b++) {
      const requests = Array.from({ length: 1000 }, (_, i) => ({ route: `/junk/${b * 1000 + i}`, status: 200, duration_ms: 5 }));
      const res = await send(TOKEN, { service: 'junk', requests });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: 1000, dropped: 0 });
    }
    // the flood is folded into junk's (other), within junk's own budget
    expect((await tel.query.requestRate('junk', 300_000)).samples).toBe(2000);
    expect((await tel.query.requestRate('junk', 300_000, '(other)')).samples).toBe(2000 - 40);
    expect(tel.seriesCount()).toBeLessThanOrEqual(41);
    // the next legitimate series of another service is its own series, not folded or dropped
    const res = await send(TOKEN, { service: 'shop', requests: [{ route: '/checkout', status: 200, duration_ms: 20 }] });
    expect(await res.json()).toEqual({ accepted: 1, dropped: 0 });
    expect((await tel.query.requestRate('shop', 300_000, '/checkout')).samples).toBe(1);
    expect((await tel.query.requestRate('shop', 300_000, '(other)')).samples).toBe(0);
  });

  it('a token with max_series cannot take more series than that across services', async () => {
    for (let s = 0; s < 10; s++) {
      const requests = Array.from({ length: 10 }, (_, i) => ({ route: `/r${i}`, status: 200, duration_ms: 5 }));
      const res = await send(CAPPED, { service: `capped-${s}`, requests });
      expect(res.status).toBe(202);
    }
    let own = 0;
    for (let s = 0; s < 10; s++) for (let i = 0; i < 10; i++) if ((await tel.query.requestRate(`capped-${s}`, 300_000, `/r${i}`)).samples > 0) own++;
    expect(own).toBe(30);
    // everything was taken (the excess folded per service)
    let total = 0;
    for (let s = 0; s < 10; s++) total += (await tel.query.requestRate(`capped-${s}`, 300_000)).samples;
    expect(total).toBe(100);
    // the unrestricted token still creates series
    const res = await send(TOKEN, { service: 'shop', requests: [{ route: '/after-capped', status: 200, duration_ms: 20 }] });
    expect(await res.json()).toEqual({ accepted: 1, dropped: 0 });
    expect((await tel.query.requestRate('shop', 300_000, '/after-capped')).samples).toBe(1);
  });

  it('a browser token is limited to its services and to browser kinds', async () => {
    const ok = await send(BROWSER, { service: 'web', vitals: [{ page: '/', name: 'LCP', value: 900 }], events: [{ name: 'signup' }] });
    expect(ok.status).toBe(202);
    expect((await tel.query.vital('web', 'LCP', 0.75, 300_000)).samples).toBe(1);

    const otherService = await send(BROWSER, { service: 'shop', vitals: [{ page: '/', name: 'LCP', value: 900 }] });
    expect(otherService.status).toBe(403);
    expect(((await otherService.json()) as { detail: string }).detail).toMatch(/service "shop"/);

    const requests = await send(BROWSER, { service: 'web', requests: [{ route: '/x', status: 200, duration_ms: 1 }] });
    expect(requests.status).toBe(403);
    expect(((await requests.json()) as { detail: string }).detail).toMatch(/requests/);
    expect((await tel.query.requestRate('web', 300_000)).samples).toBe(0);

    const otlp = await send(BROWSER, { resourceMetrics: [] }, '/v1/metrics');
    expect(otlp.status).toBe(403);
    // the server token is unrestricted
    const server = await send(TOKEN, { resourceMetrics: [] }, '/v1/metrics');
    expect(server.status).toBe(200);
  });
});
