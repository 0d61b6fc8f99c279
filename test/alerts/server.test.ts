import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertInstance, AlertRuleStatus } from '../../src/alerts/types.js';
import type { EventRecord } from '../../src/core/api-types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INGEST = 'ingest-secret-token-abc';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alerts on a real server', () => {
  let s: TestServer;
  const push = (path: string, body: unknown, token: string | null = INGEST) => s.api(path, { method: 'POST', body: JSON.stringify(body), token });
  const alerts = async (query = ''): Promise<AlertInstance[]> => ((await (await s.api(`/api/v1/alerts${query}`)).json()) as { items: AlertInstance[] }).items;
  const eventsOf = async (type: string): Promise<EventRecord[]> => ((await (await s.api(`/api/v1/events?type=${type}&limit=500`)).json()) as { items: EventRecord[] }).items;
  const rules = async (): Promise<Record<string, AlertRuleStatus>> => Object.fromEntries(((await (await s.api('/api/v1/alerts/rules')).json()) as { items: AlertRuleStatus[] }).items.map((r) => [r.name, r]));

  beforeAll(async () => {
    const port = await closedPort();
    s = await startTestServer(`
ingest:
  tokens: ["${INGEST}"]
alerting:
  evaluate_every: 100ms
services:
  web:
    checks:
      - name: port
        tcp: { host: 127.0.0.1, port: ${port}, every: 200ms, timeout: 150ms }
        down_after: 1
  jobs:
    checks:
      - heartbeat: { token: nightly, period: 1h }
alerts:
  - name: web-down
    when: down(web)
    severity: P0
    summary: "{{ service }} is down"
  - name: backup-missing
    when: absent(heartbeat.nightly) for 1500ms
    severity: P2
    summary: "no backup for {{ value }}"
`);
  });
  afterAll(async () => s?.close());

  it('fires a rule from a real check going down, with labels, template and an event', async () => {
    const a = await until('web-down firing', async () => (await alerts('?state=firing')).find((x) => x.labels.alertname === 'web-down'));
    expect(a).toMatchObject({ source: 'rule:web-down', labels: { severity: 'P0', service: 'web' }, annotations: { summary: 'web is down' } });
    const ev = (await eventsOf('alert.firing')).find((e) => e.actor === 'rule:web-down');
    expect(ev?.data).toMatchObject({ fingerprint: a.fingerprint, state: 'firing' });
    expect((await rules())['web-down']).toMatchObject({ state: 'firing', conditionMet: true, lastEvaluation: expect.any(String) });
  });

  it('fires when a heartbeat stays silent and resolves when it pings', async () => {
    const a = await until('backup-missing firing', async () => (await alerts('?state=firing')).find((x) => x.labels.alertname === 'backup-missing'));
    expect(a.labels.service).toBe('jobs');
    expect(a.annotations.summary).toMatch(/^no backup for none for \d/);
    expect((await s.api(`/api/v1/heartbeat/nightly/${s.monitor.heartbeats.secretOf('nightly')}`, { method: 'POST', token: null })).status).toBe(200);
    await until('backup-missing resolved', async () => (await alerts('?state=resolved')).find((x) => x.labels.alertname === 'backup-missing'));
    expect((await rules())['backup-missing']?.state).toBe('inactive');
  });

  it('takes Prometheus pushes, deduplicated by fingerprint, and maps severities', async () => {
    const endsAt = new Date(Date.now() + 60_000).toISOString();
    const body = [
      { labels: { alertname: 'HighLoad', instance: 'db1', severity: 'critical' }, annotations: { summary: 'load is high' }, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt, generatorURL: 'http://prom/graph' },
      { labels: { alertname: 'DiskFull', instance: 'db1', severity: 'warning' }, annotations: {}, endsAt },
    ];
    expect((await push('/api/v2/alerts', body)).status).toBe(200);
    expect((await push('/api/v2/alerts', body)).status).toBe(200); // Prometheus re-sends firing alerts
    const firing = (await alerts('?state=firing&source=prometheus')).sort((x, y) => x.labels.alertname!.localeCompare(y.labels.alertname!));
    expect(firing).toHaveLength(2);
    expect(firing[0]).toMatchObject({ labels: { alertname: 'DiskFull', severity: 'warning', shipshape_severity: 'P3' }, endsAt });
    expect(firing[1]).toMatchObject({ labels: { alertname: 'HighLoad', severity: 'critical', shipshape_severity: 'P1' }, annotations: { summary: 'load is high' }, generatorUrl: 'http://prom/graph' });
    const fired = (await eventsOf('alert.firing')).filter((e) => e.actor === 'prometheus');
    expect(fired).toHaveLength(2);
  });

  it('resolves a pushed alert at endsAt unless it is re-sent', async () => {
    const soon = () => new Date(Date.now() + 600).toISOString();
    const a = { labels: { alertname: 'Expiring', job: 'x' }, endsAt: soon() };
    const b = { labels: { alertname: 'Renewed', job: 'x' }, endsAt: soon() };
    await push('/api/v2/alerts', [a, b]);
    // part of the scenario: Renewed is re-sent midway through its 600ms life, as Prometheus would
    await new Promise((r) => setTimeout(r, 300));
    await push('/api/v2/alerts', [{ ...b, endsAt: new Date(Date.now() + 60_000).toISOString() }]);
    const resolved = await until('Expiring resolved', async () => (await alerts('?state=resolved&source=prometheus')).find((x) => x.labels.alertname === 'Expiring'));
    expect(resolved.resolvedAt).toBe(a.endsAt);
    expect((await alerts('?state=firing&source=prometheus')).some((x) => x.labels.alertname === 'Renewed')).toBe(true);
    const ev = (await eventsOf('alert.resolved')).find((e) => (e.data as { labels: Record<string, string> }).labels.alertname === 'Expiring');
    expect(ev?.actor).toBe('prometheus');
  });

  it('takes the Alertmanager / Grafana webhook: firing, then resolved', async () => {
    const alert = { status: 'firing', labels: { alertname: 'GrafanaCPU', grafana_folder: 'infra', severity: 'P2' }, annotations: { description: 'cpu 95%' }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint: 'abc' };
    const payload = (status: string, a: object) => ({ version: '4', status, receiver: 'shipshape', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://grafana', alerts: [a] });
    expect((await push('/api/v1/alerts/webhook', payload('firing', alert))).status).toBe(200);
    const firing = (await alerts('?state=firing&source=alertmanager'))[0];
    expect(firing).toMatchObject({ labels: { alertname: 'GrafanaCPU', severity: 'P2' }, annotations: { description: 'cpu 95%' }, endsAt: null });
    const endsAt = new Date().toISOString();
    await push('/api/v1/alerts/webhook', payload('resolved', { ...alert, status: 'resolved', endsAt }));
    const resolved = (await alerts('?state=resolved&source=alertmanager'))[0];
    expect(resolved).toMatchObject({ fingerprint: firing?.fingerprint, resolvedAt: endsAt });
    const bad = await push('/api/v1/alerts/webhook', { version: '3', alerts: [] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/body\.version: expected version "4"/);
  });

  it('speaks PagerDuty Events v2: trigger, acknowledge, resolve by dedup_key', async () => {
    const trigger = { routing_key: INGEST, event_action: 'trigger', dedup_key: 'pay-1', payload: { summary: 'Stripe webhooks failing', severity: 'critical', source: 'stripe', component: 'payments', custom_details: { failures: 12 } } };
    const r = await push('/v2/enqueue', trigger, null);
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'pay-1' });
    await push('/v2/enqueue', trigger, null); // re-trigger: same alert
    const firing = (await alerts('?state=firing&source=pagerduty')).filter((x) => x.labels.dedup_key === 'pay-1');
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({ labels: { severity: 'critical', shipshape_severity: 'P1', source: 'stripe', component: 'payments' }, annotations: { summary: 'Stripe webhooks failing', details: '{"failures":12}' } });
    expect((await push('/v2/enqueue', { routing_key: INGEST, event_action: 'acknowledge', dedup_key: 'pay-1' }, null)).status).toBe(202);
    expect((await eventsOf('alert.acknowledged')).length).toBe(1);
    expect((await push('/v2/enqueue', { routing_key: INGEST, event_action: 'resolve', dedup_key: 'pay-1' }, null)).status).toBe(202);
    expect((await alerts('?state=resolved&source=pagerduty')).map((x) => x.labels.dedup_key)).toEqual(['pay-1']);
    // without a dedup_key PagerDuty makes one up and returns it
    const auto = (await (await push('/v2/enqueue', { ...trigger, dedup_key: undefined }, null)).json()) as { dedup_key: string };
    expect(auto.dedup_key).toMatch(/^[0-9a-f]{32}$/);

    const wrongKey = await push('/v2/enqueue', { ...trigger, routing_key: 'nope' }, null);
    expect(wrongKey.status).toBe(401);
    const noPayload = await push('/v2/enqueue', { routing_key: INGEST, event_action: 'trigger' }, null);
    expect(noPayload.status).toBe(400);
    expect(((await noPayload.json()) as { detail: string }).detail).toMatch(/body\.payload: a trigger event needs a payload/);
  });

  it('refuses pushes without a valid ingest token and bad bodies with the reason', async () => {
    const body = [{ labels: { alertname: 'X' } }];
    expect((await push('/api/v2/alerts', body, null)).status).toBe(401);
    expect((await push('/api/v2/alerts', body, 'wrong-token')).status).toBe(401);
    const bad = await push('/api/v2/alerts', [{ labels: { '1bad': 'x' } }]);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/body\.0\.labels\.1bad/);
    const badTime = await push('/api/v2/alerts', [{ labels: { alertname: 'X' }, endsAt: 'tomorrow' }]);
    expect(((await badTime.json()) as { detail: string }).detail).toMatch(/body\.0\.endsAt: expected an RFC 3339 time/);
    const big = await push('/api/v2/alerts', [{ labels: { alertname: 'X' }, annotations: { a: 'x'.repeat(2_000_000) } }]);
    expect(big.status).toBe(413);
  });

  it('lists alerts with state filters and cursor pagination (read scope)', async () => {
    expect((await s.api('/api/v1/alerts', { token: null })).status).toBe(401);
    const all: AlertInstance[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await s.api(`/api/v1/alerts?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: AlertInstance[]; next_cursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      all.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    const ids = all.map((a) => a.id as number);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(all.length).toBeGreaterThanOrEqual(8);
    expect((await s.api('/api/v1/alerts?state=burning')).status).toBe(400);
  });
});
