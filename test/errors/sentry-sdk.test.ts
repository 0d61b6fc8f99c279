/**
 * The official @sentry/node SDK, unchanged, pointed at Shipshape with a DSN
 * `http://<ingest token>@127.0.0.1:<port>/1`: errors become issues of the service that claims
 * project 1, grouped by code path, resolved through the API and regressed by a newer release.
 */
import * as Sentry from '@sentry/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, Page } from '../../src/core/api-types.js';
import type { IssueDetail, IssueSummary } from '../../src/errors/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INGEST = 'sentry_ingest_0123456789abcdef';

// two code paths of an app
function chargeCard(order: number): never {
  throw new TypeError(`card declined for order ${order}`);
}
function loadProfile(user: string): never {
  throw new RangeError(`profile ${user} not found`);
}
function checkout(order: number): void {
  chargeCard(order);
}
function capture(fn: () => void, client?: Sentry.NodeClient): void {
  try {
    fn();
  } catch (e) {
    if (client) {
      const scope = new Sentry.Scope();
      scope.setClient(client);
      scope.captureException(e);
    } else Sentry.captureException(e);
  }
}

describe('errors from the real @sentry/node SDK', () => {
  let s: TestServer;
  let dsn: string;
  let writer: string;

  beforeAll(async () => {
    s = await startTestServer(`ingest:
  tokens: ["${INGEST}"]
services:
  web:
    sentry: { project: 1 }
  api: {}
`);
    dsn = `http://${INGEST}@127.0.0.1:${new URL(s.url).port}/1`;
    Sentry.init({ dsn, release: '1.0.0', environment: 'staging', defaultIntegrations: false, skipOpenTelemetrySetup: true });
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'alice', scopes: ['write'] }) });
    expect(res.status).toBe(201);
    writer = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await Sentry.close(2000);
    await s.close();
  });

  const issues = async (query = '') => {
    const res = await s.api(`/api/v1/issues${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Page<IssueSummary>;
  };

  it('groups captured exceptions into issues by code path, with counts, release and stack traces', async () => {
    for (const order of [1001, 1002]) capture(() => checkout(order)); // the same path twice, different values
    Sentry.setTag('region', 'eu');
    Sentry.setUser({ id: 'u-7', email: 'ada@example.com' });
    Sentry.addBreadcrumb({ category: 'http', message: 'GET /api/profile' });
    capture(() => loadProfile('ada'));
    expect(await Sentry.flush(5000)).toBe(true);

    const page = await issues('?service=web');
    expect(page.items).toHaveLength(2);
    // newest last_seen first
    const [profile, card] = page.items as [IssueSummary, IssueSummary];
    expect(profile).toMatchObject({ service: 'web', project: 1, title: 'RangeError: profile ada not found', type: 'RangeError', count: 1, status: 'unresolved', last_release: '1.0.0', level: 'error' });
    expect(card).toMatchObject({ service: 'web', title: expect.stringMatching(/^TypeError: card declined for order 100[12]$/), count: 2, status: 'unresolved', first_release: '1.0.0', grouping: 'exception' });
    expect(card.culprit).toMatch(/chargeCard/);
    expect(Date.parse(card.last_seen)).toBeGreaterThanOrEqual(Date.parse(card.first_seen));
    expect((await issues('?service=api')).items).toEqual([]);

    const detail = (await (await s.api(`/api/v1/issues/${profile.id}`)).json()) as IssueDetail;
    const ev = detail.latest_event;
    expect(ev).toMatchObject({ release: '1.0.0', environment: 'staging', platform: 'node', tags: { region: 'eu' }, user: { id: 'u-7', email: 'ada@example.com' } });
    expect(ev?.id).toMatch(/^[0-9a-f]{32}$/);
    expect(ev?.breadcrumbs.map((b) => b.message)).toContain('GET /api/profile');
    const exc = ev?.exceptions.at(-1);
    expect(exc).toMatchObject({ type: 'RangeError', value: 'profile ada not found' });
    const top = exc?.frames.at(-1);
    expect(top).toMatchObject({ function: 'loadProfile', in_app: true });
    expect(top?.filename).toMatch(/sentry-sdk\.test\.ts$/);
    expect(top?.lineno).toEqual(expect.any(Number));

    const events = (await (await s.api(`/api/v1/issues/${card.id}/events`)).json()) as Page<{ id: string; exceptions: { value: string }[] }>;
    expect(events.items.map((e) => e.exceptions.at(-1)?.value).sort()).toEqual(['card declined for order 1001', 'card declined for order 1002']);

    const created = (await (await s.api('/api/v1/events?type=issue.created')).json()) as Page<EventRecord>;
    expect(created.items).toHaveLength(2);
    expect(created.items.every((e) => e.actor === 'ingest')).toBe(true);
    expect(created.items.map((e) => e.subject).sort()).toEqual([`issue:${card.id}`, `issue:${profile.id}`].sort());
  });

  it('a resolved issue stays resolved for stragglers on the same release and regresses in a newer one', async () => {
    const card = (await issues('?service=web')).items.find((i) => i.type === 'TypeError') as IssueSummary;
    const res = await s.api(`/api/v1/issues/${card.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'resolved' }), token: writer });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'resolved', resolved_in_release: '1.0.0' });
    expect((await issues('?status=unresolved')).items.map((i) => i.id)).not.toContain(card.id);

    // an old instance still on 1.0.0 sends it again: counted, still resolved
    capture(() => checkout(1003));
    expect(await Sentry.flush(5000)).toBe(true);
    let now = (await (await s.api(`/api/v1/issues/${card.id}`)).json()) as IssueDetail;
    expect(now).toMatchObject({ status: 'resolved', count: 3 });

    // the next deploy (1.0.1, its own client) still has the bug
    const client = new Sentry.NodeClient({ dsn, release: '1.0.1', environment: 'staging', integrations: [], transport: Sentry.makeNodeTransport, stackParser: Sentry.defaultStackParser });
    client.init();
    capture(() => checkout(1004), client);
    expect(await client.flush(5000)).toBe(true);
    await client.close();

    now = (await (await s.api(`/api/v1/issues/${card.id}`)).json()) as IssueDetail;
    expect(now).toMatchObject({ status: 'unresolved', count: 4, last_release: '1.0.1', first_release: '1.0.0' });
    expect(now.latest_event?.release).toBe('1.0.1');

    const log = (await (await s.api(`/api/v1/events?subject=issue:${card.id}`)).json()) as Page<EventRecord>;
    expect(log.items.map((e) => [e.type, e.actor])).toEqual([
      ['issue.regressed', 'ingest'],
      ['issue.resolved', 'token:alice'],
      ['issue.created', 'ingest'],
    ]);
    expect(log.items[0]?.data).toMatchObject({ release: '1.0.1', resolved_in_release: '1.0.0' });
  });

  it('ignored issues keep counting without coming back; a read token cannot change status', async () => {
    const profile = (await issues('?service=web')).items.find((i) => i.type === 'RangeError') as IssueSummary;
    const made = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'grafana', scopes: ['read'] }) });
    const reader = ((await made.json()) as { token: string }).token;
    expect((await s.api(`/api/v1/issues/${profile.id}`, { token: reader })).status).toBe(200);
    const denied = await s.api(`/api/v1/issues/${profile.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'ignored' }), token: reader });
    expect(denied.status).toBe(403);
    expect((await s.api(`/api/v1/issues/${profile.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'ignored' }), token: null })).status).toBe(401);
    const res = await s.api(`/api/v1/issues/${profile.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'ignored' }), token: writer });
    expect(res.status).toBe(200);
    capture(() => loadProfile('bob'));
    expect(await Sentry.flush(5000)).toBe(true);
    const now = (await (await s.api(`/api/v1/issues/${profile.id}`)).json()) as IssueDetail;
    expect(now).toMatchObject({ status: 'ignored', count: 2, title: 'RangeError: profile bob not found' });
    const bad = await s.api(`/api/v1/issues/${profile.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'fixed' }), token: writer });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/body\.status/);
  });
});
