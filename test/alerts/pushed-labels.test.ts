/**
 * Pushed alerts through the real HTTP API: empty label values are dropped (as Alertmanager does),
 * and the labels an alert is listed with are the ones its fingerprint is computed from, also when
 * Shipshape rewrote `severity` (the sender's value kept as the added label `source_severity`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertInstance } from '../../src/alerts/types.js';
import { fingerprint } from '../../src/alerts/fingerprint.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INGEST = 'ingest-secret-token-pushed';

describe('labels of pushed alerts', () => {
  let s: TestServer;
  const push = (path: string, body: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body), token: INGEST });
  const firing = async (): Promise<AlertInstance[]> => ((await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: AlertInstance[] }).items;
  const endsAt = () => new Date(Date.now() + 600_000).toISOString();

  beforeAll(async () => {
    s = await startTestServer(`
ingest:
  tokens: ["${INGEST}"]
`);
  });
  afterAll(async () => s?.close());

  it('drops labels with empty values before fingerprinting: with or without them it is one alert', async () => {
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'QueueDeep', queue: 'mail', team: '', severity: 'P2' }, endsAt: endsAt() }])).status).toBe(200);
    expect((await push('/api/v2/alerts', [{ labels: { alertname: 'QueueDeep', queue: 'mail', severity: 'P2' }, endsAt: endsAt() }])).status).toBe(200);
    const list = (await firing()).filter((a) => a.labels.alertname === 'QueueDeep');
    expect(list).toHaveLength(1);
    expect(list[0]!.labels).toEqual({ alertname: 'QueueDeep', queue: 'mail', severity: 'P2' });
    expect(list[0]!.fingerprint).toBe(fingerprint(list[0]!.labels));
  });

  it('a rewritten severity: the listed labels (with source_severity added) are what the fingerprint is computed from', async () => {
    await push('/api/v2/alerts', [{ labels: { alertname: 'HighLoad', instance: 'db1', severity: 'critical' }, endsAt: endsAt() }]);
    const a = (await firing()).find((x) => x.labels.alertname === 'HighLoad')!;
    expect(a.labels).toEqual({ alertname: 'HighLoad', instance: 'db1', severity: 'P1', source_severity: 'critical' });
    expect(a.fingerprint).toBe(fingerprint(a.labels));
    // the listed labels pushed back are the same alert, not a second one
    await push('/api/v2/alerts', [{ labels: a.labels, endsAt: endsAt() }]);
    expect((await firing()).filter((x) => x.labels.alertname === 'HighLoad')).toHaveLength(1);
  });

  it('the same through the Alertmanager webhook; all-empty labels are refused', async () => {
    const payload = { version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', severity: 'warning', mountpoint: '' }, annotations: {} }] };
    expect((await push('/api/v1/alerts/webhook', payload)).status).toBe(200);
    const a = (await firing()).find((x) => x.labels.alertname === 'DiskFull')!;
    expect(a.labels).toEqual({ alertname: 'DiskFull', severity: 'P3', source_severity: 'warning' });
    expect(a.fingerprint).toBe(fingerprint(a.labels));
    const bad = await push('/api/v2/alerts', [{ labels: { alertname: '' } }]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/an alert needs at least one label with a value/);
  });
});
