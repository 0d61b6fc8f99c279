/**
 * Pushed alerts' times are RFC 3339, strictly (issue 7): no "1", "May 1" or 5-digit years; an
 * endsAt far in the future is capped so the alert still resolves on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENDS_AFTER } from '../../src/alerts/inbound.js';
import type { AlertInstance } from '../../src/alerts/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INGEST = 'ingest-secret-times-abc';

describe('RFC 3339 times on pushed alerts', () => {
  let s: TestServer;
  const push = (path: string, body: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body), token: INGEST });
  beforeAll(async () => {
    s = await startTestServer(`ingest:
  tokens: ["${INGEST}"]
services:
  web:
    checks:
      - heartbeat: { token: nightly, period: 24h }
`);
  });
  afterAll(async () => {
    await s.close();
  });

  it('refuses times that are not RFC 3339', async () => {
    for (const t of ['1', 'May 1', '2024-05-01', '2024-05-01 12:00', '+010000-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-05-01T24:00:00Z', '2024-05-01T12:00:00', '2024-05-01T12:00:00+2:00', 'Wed, 01 May 2024 12:00:00 GMT']) {
      const res = await push('/api/v2/alerts', [{ labels: { alertname: 'Bad' }, startsAt: t }]);
      expect(res.status, t).toBe(400);
      expect(((await res.json()) as { detail: string }).detail, t).toMatch(/RFC 3339/);
      const am = await push('/api/v1/alerts/webhook', { version: '4', status: 'firing', alerts: [{ labels: { alertname: 'Bad' }, endsAt: t }] });
      expect(am.status, t).toBe(400);
    }
  });

  it('takes RFC 3339 times with fractions and offsets, as Prometheus and Alertmanager send them', async () => {
    const start = Date.now() - 60_000;
    const startsAt = new Date(start + 2 * 3600_000).toISOString().replace('Z', '123456+02:00');
    const res = await push('/api/v2/alerts', [{ labels: { alertname: 'Good', job: 'fractions' }, startsAt, endsAt: new Date(Date.now() + 60_000).toISOString().replace('Z', 'z').replace('T', 't') }, { labels: { alertname: 'Zero' }, startsAt: '0001-01-01T00:00:00Z', endsAt: '' }]);
    expect(res.status).toBe(200);
    const items = ((await (await s.api('/api/v1/alerts')).json()) as { items: AlertInstance[] }).items;
    const good = items.find((a) => a.labels.job === 'fractions');
    expect(good).toBeDefined();
    expect(Math.abs(Date.parse(good!.activeAt) - start)).toBeLessThan(1000);
  });

  it('caps an endsAt far in the future (year 9999) so the alert still resolves by itself', async () => {
    const before = Date.now();
    const res = await push('/api/v2/alerts', [{ labels: { alertname: 'Forever', job: 'cap' }, endsAt: '9999-12-31T23:59:59.999Z' }]);
    expect(res.status).toBe(200);
    const items = ((await (await s.api('/api/v1/alerts')).json()) as { items: AlertInstance[] }).items;
    const a = items.find((x) => x.labels.job === 'cap');
    expect(a?.endsAt).toBeTruthy();
    expect(Date.parse(a!.endsAt!)).toBeLessThanOrEqual(Date.now() + MAX_ENDS_AFTER);
    expect(Date.parse(a!.endsAt!)).toBeGreaterThanOrEqual(before + MAX_ENDS_AFTER - 1000);
  });
});
