/**
 * Restricted ingest tokens (`ingest.tokens: [{ token, services, kinds, max_series }]`) are checked
 * by the core's IngestGuard on every ingest path, not only telemetry's: a browser token (public in
 * a page's SDK / Sentry DSN) may send errors only for its own service's Sentry project and may not
 * push alerts. Plain-string tokens keep working everywhere. (test/telemetry/limits.test.ts covers
 * the telemetry side.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { parseConfig } from '../../src/modules.js';
import { envelope, messageEvent } from '../errors/envelopes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SERVER = 'server_ingest_token_7f3a9c';
const BROWSER = 'browser_ingest_token_4e81d2';

let s: TestServer;
let port: string;

beforeAll(async () => {
  s = await startTestServer(
    [
      'ingest:',
      '  tokens:',
      `    - "${SERVER}"`,
      `    - { token: "${BROWSER}", services: [web], kinds: [vitals, events, errors] }`,
      'services:',
      '  web:',
      '    sentry: { project: 1 }',
      '  api:',
      '    sentry: { project: 2 }',
      '',
    ].join('\n'),
  );
  port = new URL(s.url).port;
});
afterAll(async () => {
  await s?.close();
});

const sentry = (project: number, key: string, how: 'query' | 'dsn' | 'store' = 'query') => {
  const ev = messageEvent(`restricted ${how} ${project} ${key.slice(0, 6)}`);
  if (how === 'store') return fetch(`${s.url}/api/${project}/store/?sentry_key=${key}&sentry_version=7`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ev) });
  const head = how === 'dsn' ? { dsn: `http://${key}@127.0.0.1:${port}/${project}` } : {};
  const path = how === 'query' ? `/api/${project}/envelope/?sentry_key=${key}&sentry_version=7` : `/api/${project}/envelope/`;
  return fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-sentry-envelope' }, body: envelope(head, [[{ type: 'event' }, JSON.stringify(ev)]]) as unknown as RequestInit['body'] });
};
const push = (path: string, body: unknown, token: string | null) => s.api(path, { method: 'POST', body: JSON.stringify(body), token });
const detail = async (r: Response) => ((await r.json()) as { detail: string }).detail;
const firing = async () => ((await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: { labels: Record<string, string> }[] }).items;

describe('a browser token restricted to services [web], kinds [vitals, events, errors]', () => {
  it('sends Sentry errors for web\'s project, and gets 403 for another service\'s project', async () => {
    for (const how of ['query', 'dsn', 'store'] as const) {
      expect((await sentry(1, BROWSER, how)).status, how).toBe(200);
      const other = await sentry(2, BROWSER, how);
      expect(other.status, how).toBe(403);
      expect(await detail(other)).toMatch(/service "api".*web/);
    }
  });

  it('gets 403 for a Sentry project no service claims', async () => {
    const r = await sentry(9, BROWSER);
    expect(r.status).toBe(403);
    expect(await detail(r)).toMatch(/web/);
  });

  it('cannot push alerts: Prometheus, Alertmanager webhook and PagerDuty get 403', async () => {
    const prom = await push('/api/v2/alerts', [{ labels: { alertname: 'Fake', service: 'web' } }], BROWSER);
    expect(prom.status).toBe(403);
    expect(await detail(prom)).toMatch(/alerts/);
    const am = await push('/api/v1/alerts/webhook', { version: '4', status: 'firing', alerts: [{ labels: { alertname: 'Fake2', service: 'web' } }] }, BROWSER);
    expect(am.status).toBe(403);
    const pd = await push('/v2/enqueue', { routing_key: BROWSER, event_action: 'trigger', payload: { summary: 'Fake page', severity: 'critical', source: 'web' } }, null);
    expect(pd.status).toBe(403);
    expect(await detail(pd)).toMatch(/vitals, events, errors/);
    const names = (await firing()).map((a) => a.labels.alertname);
    expect(names).not.toContain('Fake');
    expect(names).not.toContain('Fake2');
    expect(names).not.toContain('Fake page');
  });

  it('still sends browser telemetry for web, and not for api', async () => {
    const ok = await push('/api/v1/ingest', { service: 'web', vitals: [{ page: '/', name: 'LCP', value: 900 }] }, BROWSER);
    expect(ok.status).toBe(202);
    const other = await push('/api/v1/ingest', { service: 'api', events: [{ name: 'x' }] }, BROWSER);
    expect(other.status).toBe(403);
  });
});

describe('an unrestricted (plain string) token', () => {
  it('works on every ingest path', async () => {
    expect((await sentry(2, SERVER)).status).toBe(200);
    expect((await sentry(9, SERVER)).status).toBe(200);
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'Real' } }], SERVER)).status).toBe(200);
    expect((await push('/api/v1/alerts/webhook', { version: '4', status: 'firing', alerts: [{ labels: { alertname: 'Real2' } }] }, SERVER)).status).toBe(200);
    expect((await push('/v2/enqueue', { routing_key: SERVER, event_action: 'trigger', dedup_key: 'real-3', payload: { summary: 'Real3', severity: 'info', source: 'x' } }, null)).status).toBe(202);
    expect((await push('/api/v1/ingest', { service: 'api', requests: [{ route: '/', status: 200, duration_ms: 3 }] }, SERVER)).status).toBe(202);
    expect((await push('/v1/metrics', { resourceMetrics: [] }, SERVER)).status).toBe(200);
    expect((await firing()).map((a) => a.labels.alertname)).toEqual(expect.arrayContaining(['Real', 'Real2', 'Real3']));
  });

  it('an unknown token is still 401', async () => {
    expect((await sentry(1, 'unknown_token_0123456789')).status).toBe(401);
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'X' } }], 'unknown_token_0123456789')).status).toBe(401);
  });
});

describe('ingest.tokens in the config', () => {
  const load = (tokens: string) => parseConfig(`services: {}\ningest:\n  tokens: ${tokens}\n`, 'shipshape.yaml', { env: {} }).raw.ingest.tokens;

  it('reads plain strings and entries as normalized entries, dropping empty ones', () => {
    expect(load(`["${SERVER}", "", { token: "${BROWSER}", services: [web], kinds: [errors], max_series: 50 }]`)).toEqual([
      { token: SERVER },
      { token: BROWSER, services: ['web'], kinds: ['errors'], max_series: 50 },
    ]);
  });

  it('accepts the alerts kind, and refuses weak or conflicting tokens', () => {
    expect(load(`[{ token: "${SERVER}", kinds: [alerts] }]`)).toEqual([{ token: SERVER, kinds: ['alerts'] }]);
    expect(() => load('[{ token: "short", kinds: [errors] }]')).toThrow(ConfigError);
    expect(() => load(`["${SERVER}", { token: "${SERVER}", services: [web] }]`)).toThrow(/listed more than once/);
    expect(load(`["${SERVER}", "${SERVER}"]`)).toEqual([{ token: SERVER }]);
  });
});

describe('a token restricted to kinds [alerts]', () => {
  let a: TestServer;
  const ALERTS = 'alerts_only_token_5b20ee';
  beforeAll(async () => {
    a = await startTestServer(`ingest:\n  tokens:\n    - { token: "${ALERTS}", kinds: [alerts] }\nservices:\n  web:\n    sentry: { project: 1 }\n`);
  });
  afterAll(async () => {
    await a?.close();
  });

  it('pushes alerts but sends no errors or telemetry', async () => {
    const prom = await a.api('/api/v2/alerts', { method: 'POST', body: JSON.stringify([{ labels: { alertname: 'Ok' } }]), token: ALERTS });
    expect(prom.status).toBe(200);
    const ev = messageEvent('not allowed');
    const err = await fetch(`${a.url}/api/1/envelope/?sentry_key=${ALERTS}`, { method: 'POST', body: envelope({}, [[{ type: 'event' }, JSON.stringify(ev)]]) as unknown as RequestInit['body'] });
    expect(err.status).toBe(403);
    expect(await detail(err)).toMatch(/errors.*alerts/);
    const tel = await a.api('/api/v1/ingest', { method: 'POST', body: JSON.stringify({ service: 'web', events: [{ name: 'x' }] }), token: ALERTS });
    expect(tel.status).toBe(403);
  });
});
