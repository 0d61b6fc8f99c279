/**
 * Pushed alerts through the real HTTP API: empty label values are dropped (as Alertmanager does);
 * the sender's `severity` is kept as sent and Shipshape's P0–P3 level is the added label
 * `shipshape_severity`; the fingerprint is Alertmanager's, over the labels as sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertInstance } from '../../src/alerts/types.js';
import { fingerprint } from '../../src/alerts/fingerprint.js';
import { pushedFingerprint } from '../../src/alerts/levels.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver, type Recorded } from '../notify/helpers.js';

const INGEST = 'ingest-secret-token-pushed';

describe('labels of pushed alerts', () => {
  let s: TestServer;
  let rx: Receiver;
  const push = (path: string, body: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body), token: INGEST });
  const firing = async (): Promise<AlertInstance[]> => ((await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: AlertInstance[] }).items;
  const endsAt = () => new Date(Date.now() + 600_000).toISOString();

  beforeAll(async () => {
    rx = await startReceiver();
    s = await startTestServer(`
ingest:
  tokens: ["${INGEST}"]
notify:
  channels:
    words: { webhook: { url: "${rx.url}/words" } }
    levels: { webhook: { url: "${rx.url}/levels" } }
    rest: { webhook: { url: "${rx.url}/rest" } }
  route:
    receiver: rest
    group_by: [alertname]
    group_wait: 100ms
    routes:
      - matchers: [severity="critical"]
        receiver: words
      - matchers: ['shipshape_severity="P2"']
        receiver: levels
`);
  });
  afterAll(async () => {
    await s?.close();
    await rx?.close();
  });

  it('drops labels with empty values before fingerprinting: with or without them it is one alert', async () => {
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'QueueDeep', queue: 'mail', team: '', severity: 'P2' }, endsAt: endsAt() }])).status).toBe(200);
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'QueueDeep', queue: 'mail', severity: 'P2' }, endsAt: endsAt() }])).status).toBe(200);
    const list = (await firing()).filter((a) => a.labels.alertname === 'QueueDeep');
    expect(list).toHaveLength(1);
    expect(list[0]!.labels).toEqual({ alertname: 'QueueDeep', queue: 'mail', severity: 'P2' });
    expect(list[0]!.fingerprint).toBe(fingerprint(list[0]!.labels));
  });

  it('keeps the sender\'s severity and adds the level: the fingerprint is the one Alertmanager gives the labels as sent', async () => {
    await push('/api/v2/alerts', [{ labels: { alertname: 'HighLoad', instance: 'db1', severity: 'critical' }, endsAt: endsAt() }]);
    const a = (await firing()).find((x) => x.labels.alertname === 'HighLoad')!;
    expect(a.labels).toEqual({ alertname: 'HighLoad', instance: 'db1', severity: 'critical', shipshape_severity: 'P1' });
    // Alertmanager's fingerprint of {alertname="HighLoad", instance="db1", severity="critical"}
    expect(a.fingerprint).toBe('5812109616618044'); // read from a running prometheus-alertmanager 0.25
    expect(a.fingerprint).toBe(pushedFingerprint(a.labels));
    // the listed labels pushed back are the same alert, not a second one
    await push('/api/v2/alerts', [{ labels: a.labels, endsAt: endsAt() }]);
    expect((await firing()).filter((x) => x.labels.alertname === 'HighLoad')).toHaveLength(1);
  });

  it('routes match the sender\'s severity, as in Alertmanager, and the added level; the default inhibition reads the level', async () => {
    await push('/api/v2/alerts', [
      { labels: { alertname: 'DbDown', service: 'db', severity: 'critical' }, endsAt: endsAt() },
      { labels: { alertname: 'DbSlow', service: 'db', severity: 'high' }, endsAt: endsAt() },
      { labels: { alertname: 'WebSlow', service: 'web', severity: 'high' }, endsAt: endsAt() },
      { labels: { alertname: 'DbP0', service: 'db2', severity: 'P0' }, endsAt: endsAt() },
      { labels: { alertname: 'Db2Slow', service: 'db2', severity: 'warning' }, endsAt: endsAt() },
    ]);
    const ours = new Set(['DbDown', 'DbSlow', 'WebSlow', 'DbP0', 'Db2Slow']);
    const names = (r: Recorded) => (r.json().alerts as { labels: Record<string, string> }[]).map((x) => x.labels.alertname as string).filter((n) => ours.has(n));
    await rx.waitFor(4, 10_000, (r) => names(r).length > 0);
    await new Promise((r) => setTimeout(r, 500)); // nothing more arrives (Db2Slow stays muted)
    const byPath = (path: string) => rx.requests.filter((r) => r.path === path).flatMap(names).sort();
    expect(byPath('/words')).toEqual(['DbDown']);
    // `high` is level P2: the P2 route takes it; Db2Slow (P3) is muted by DbP0 of its service
    expect(byPath('/levels')).toEqual(['DbSlow', 'WebSlow']);
    expect(byPath('/rest')).toEqual(['DbP0']);
  });

  it('the same through the Alertmanager webhook; all-empty labels are refused', async () => {
    const payload = { version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', severity: 'warning', mountpoint: '' }, annotations: {} }] };
    expect((await push('/api/v1/alerts/webhook', payload)).status).toBe(200);
    const a = (await firing()).find((x) => x.labels.alertname === 'DiskFull')!;
    expect(a.labels).toEqual({ alertname: 'DiskFull', severity: 'warning', shipshape_severity: 'P3' });
    expect(a.fingerprint).toBe(fingerprint({ alertname: 'DiskFull', severity: 'warning' }));
    const bad = await push('/api/v2/alerts', [{ labels: { alertname: '' } }]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/an alert needs at least one label with a value/);
  });
});
