/**
 * `GET /api/v1/status-pages`: the dashboard's list of configured status pages, with each page's
 * components (status, checks' state, pins) and the open incidents it shows publicly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusPageOverview } from '../../src/statuspage/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTarget, type Target } from '../helpers/target.js';

describe('GET /api/v1/status-pages', () => {
  let s: TestServer;
  let target: Target;

  beforeAll(async () => {
    target = await startTarget();
    s = await startTestServer(`
services:
  web:
    checks:
      - http: { url: "${target.url}/", timeout: 1s, every: 1h }
  db: {}
  billing: {}
status_pages:
  public:
    title: Acme status
    components:
      - { service: web, name: Shop, group: Front }
      - { service: db, name: Database, pin: under_maintenance }
  internal:
    path: /internal-status
    private: true
    components:
      - { service: billing }
`);
    await s.monitor.runNow();
  });
  afterAll(async () => {
    await s?.close();
    await target?.close().catch(() => undefined);
  });

  const pages = async () => {
    const r = await s.api('/api/v1/status-pages');
    expect(r.status).toBe(200);
    return ((await r.json()) as { items: StatusPageOverview[] }).items;
  };

  it('needs a token (read scope)', async () => {
    expect((await s.api('/api/v1/status-pages', { token: null })).status).toBe(401);
  });

  it('lists every configured page with its path, privacy, components, pins and the checks’ state', async () => {
    const list = await pages();
    expect(list.map((p) => [p.key, p.title, p.path, p.private])).toEqual([
      ['public', 'Acme status', '/status', false],
      ['internal', 'internal status', '/internal-status', true],
    ]);
    const pub = list[0]!;
    expect(pub.indicator_text).toBe('Service Under Maintenance');
    expect(pub.components.map((c) => [c.name, c.service, c.group ?? null, c.status, c.pinned, c.pin])).toEqual([
      ['Shop', 'web', 'Front', 'operational', false, null],
      ['Database', 'db', null, 'under_maintenance', true, 'under_maintenance'],
    ]);
    expect(pub.components[0]!.state).toBe('up');
    expect(pub.components[0]).not.toHaveProperty('days');
    expect(pub.active).toEqual([]);
  });

  it('shows the open incidents each page shows publicly, with the responders’ updates', async () => {
    const r = await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: 'Checkout fails', severity: 'P1', services: ['web'] }) });
    const inc = (await r.json()) as { id: number };
    await s.api(`/api/v1/incidents/${inc.id}/updates`, { method: 'POST', body: JSON.stringify({ status: 'identified', message: 'A bad deploy; rolling back' }) });
    const [pub, internal] = await pages();
    expect(pub!.active.map((i) => [i.ref, i.name, i.status, i.impact])).toEqual([[`INC-${inc.id}`, 'Checkout fails', 'identified', 'major']]);
    expect(pub!.active[0]!.updates.map((u) => [u.status, u.body])).toEqual([['identified', 'A bad deploy; rolling back']]);
    expect(pub!.components[0]!.status).toBe('partial_outage');
    // the internal page lists billing only: the incident about web is not on it
    expect(internal!.active).toEqual([]);
  });
});
