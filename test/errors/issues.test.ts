/**
 * How events group into issues and how issues live (counts, regressions, kept events, paging,
 * counts for alert rules), on both stores, across a restart.
 */
import { errors as errorsModule } from '../../src/errors/index.js';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipshape, type Running } from '../../src/app.js';
import type { EventRecord, Page } from '../../src/core/api-types.js';
import type { IssueDetail, IssueSummary } from '../../src/errors/types.js';
import { createTestDatabase } from '../helpers/pg.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';
import { envelope, exceptionEvent, messageEvent, type FrameSpec } from './envelopes.js';

const KEY = 'issueskey_0123456789';
const yaml = `ingest:
  tokens: ["${KEY}"]
services:
  web:
    sentry: { project: 1 }
  worker:
    sentry: { project: 2 }
`;

const targets = [
  { name: 'sqlite', db: async () => ({ url: undefined as string | undefined, drop: async () => undefined }) },
  { name: 'postgres', db: async () => createTestDatabase() },
];

describe.each(targets)('issues on $name', (target) => {
  let s: TestServer;
  let dbUrl: string | undefined;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await target.db();
    dbUrl = db.url;
    drop = db.drop;
    s = await startTestServer(yaml, { databaseUrl: dbUrl });
  });
  afterAll(async () => {
    await s.stop(); // the restarted server, when the restart test ran
    await s.close();
    await drop();
  });

  const send = async (project: number, ...events: Record<string, unknown>[]) => {
    const res = await fetch(`${s.url}/api/${project}/envelope/?sentry_key=${KEY}`, { method: 'POST', body: envelope({}, events.map((e) => [{ type: 'event' }, JSON.stringify(e)])) });
    expect(res.status).toBe(200);
  };
  const all = async (query = '') => ((await (await s.api(`/api/v1/issues?limit=200${query}`)).json()) as Page<IssueSummary>).items;
  const byTitle = async (title: string) => (await all()).filter((i) => i.title === title);

  it('groups by exception type and in-app frames, ignoring line numbers, values and library frames', async () => {
    const lib: FrameSpec = { fn: 'Layer.handle', module: 'express.lib.router:layer', file: '/app/node_modules/express/lib/router/layer.js', inApp: false };
    await send(
      1,
      exceptionEvent('TypeError', 'x is undefined (order 1)', [lib, { fn: 'checkout', line: 10 }, { fn: 'chargeCard', line: 42 }]),
      exceptionEvent('TypeError', 'x is undefined (order 2)', [{ ...lib, fn: 'next' }, { fn: 'checkout', line: 11 }, { fn: 'chargeCard', line: 45 }]),
      // the same function, reached from another caller: another code path
      exceptionEvent('TypeError', 'x is undefined (order 3)', [{ fn: 'refund', line: 10 }, { fn: 'chargeCard', line: 42 }]),
      // same frames, another type
      exceptionEvent('RangeError', 'x is undefined (order 4)', [{ fn: 'checkout', line: 10 }, { fn: 'chargeCard', line: 42 }]),
    );
    const issues = (await all('&service=web')).filter((i) => /x is undefined/.test(i.title));
    expect(issues.map((i) => i.count).sort()).toEqual([1, 1, 2]);
    const main = issues.find((i) => i.count === 2) as IssueSummary;
    expect(main).toMatchObject({ type: 'TypeError', culprit: '/app/src/app.js in chargeCard', grouping: 'exception' });
    const detail = (await (await s.api(`/api/v1/issues/${main.id}`)).json()) as IssueDetail;
    expect(detail.grouping_components).toEqual(['type:TypeError', 'frame:/app/src/app.js checkout', 'frame:/app/src/app.js chargeCard']);
  });

  it('groups browser errors across deploys whose bundles have new content hashes and origins', async () => {
    const frames = (hash: string, origin: string): FrameSpec[] => [{ fn: 'renderCart', file: `${origin}/assets/index-${hash}.js?v=1`, line: Math.floor(Math.random() * 1000) }];
    await send(1, exceptionEvent('TypeError', 'price of undefined', frames('Bx3f9aQ1', 'https://shop.example.com'), { platform: 'javascript' }));
    await send(1, exceptionEvent('TypeError', 'price of undefined', frames('C9kd8Lm2', 'https://staging.shop.example.com'), { platform: 'javascript' }));
    expect((await byTitle('TypeError: price of undefined')).map((i) => i.count)).toEqual([2]);
  });

  it('groups messages with their numbers, ids and addresses normalised', async () => {
    await send(
      2,
      messageEvent('Job 1234 for user 7f1c2a9e-0b1d-4c38-9a51-2b3c4d5e6f70 failed after 3 tries'),
      messageEvent('Job 98 for user 0a1b2c3d-0b1d-4c38-9a51-2b3c4d5e6f70 failed after 5 tries'),
      messageEvent('Job 7 could not reach 10.0.0.12:5432'),
      messageEvent('Job 8 could not reach 10.0.0.13:5432'),
    );
    const worker = await all('&service=worker');
    expect(worker.map((i) => [i.count, i.grouping, i.level]).sort()).toEqual([
      [2, 'message', 'warning'],
      [2, 'message', 'warning'],
    ]);
  });

  it('groups by the client fingerprint, with {{ default }} expanding to the default grouping', async () => {
    const frames: FrameSpec[] = [{ fn: 'query' }];
    await send(
      1,
      // one issue for every database timeout, whatever the code path
      exceptionEvent('TimeoutError', 'db timeout A', [{ fn: 'a' }], { fingerprint: ['database-timeout'] }),
      exceptionEvent('QueryTimeout', 'db timeout B', [{ fn: 'b' }], { fingerprint: ['database-timeout'] }),
      // the default grouping, split by tenant
      exceptionEvent('Error', 'tenant failure', frames, { fingerprint: ['{{ default }}', 'tenant-a'] }),
      exceptionEvent('Error', 'tenant failure', frames, { fingerprint: ['{{default}}', 'tenant-a'] }),
      exceptionEvent('Error', 'tenant failure', frames, { fingerprint: ['{{ default }}', 'tenant-b'] }),
      // {{ default }} alone is the default grouping
      exceptionEvent('Error', 'tenant failure', frames),
      exceptionEvent('Error', 'tenant failure', frames, { fingerprint: ['{{ default }}'] }),
    );
    const timeouts = (await all()).filter((i) => /db timeout/.test(i.title));
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toMatchObject({ count: 2, grouping: 'fingerprint', title: 'QueryTimeout: db timeout B' });
    const tenant = await byTitle('Error: tenant failure');
    expect(tenant.map((i) => [i.grouping, i.count]).sort()).toEqual([
      ['exception', 2],
      ['fingerprint', 1],
      ['fingerprint', 2],
    ]);
  });

  it('regresses a resolved issue on a different non-semver release, not on the one it was resolved in', async () => {
    const ev = (release: string) => exceptionEvent('Error', 'sha releases', [{ fn: 'sha' }], { release });
    await send(1, ev('3f2a9c1'));
    const [issue] = await byTitle('Error: sha releases');
    const patch = await s.api(`/api/v1/issues/${issue?.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'resolved' }) });
    expect(await patch.json()).toMatchObject({ status: 'resolved', resolved_in_release: '3f2a9c1' });
    await send(1, ev('3f2a9c1'));
    expect((await byTitle('Error: sha releases'))[0]).toMatchObject({ status: 'resolved', count: 2 });
    await send(1, ev('8b7d6e5'));
    expect((await byTitle('Error: sha releases'))[0]).toMatchObject({ status: 'unresolved', count: 3, last_release: '8b7d6e5' });

    // semver: an older release does not reopen it
    const sv = (release: string) => exceptionEvent('Error', 'semver releases', [{ fn: 'semver' }], { release });
    await send(1, sv('shop@2.0.0'));
    const [sem] = await byTitle('Error: semver releases');
    await s.api(`/api/v1/issues/${sem?.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'resolved' }) });
    await send(1, sv('shop@1.9.9'), sv('shop@2.0.0-rc.1'));
    expect((await byTitle('Error: semver releases'))[0]).toMatchObject({ status: 'resolved', count: 3 });
    await send(1, sv('shop@2.0.1'));
    expect((await byTitle('Error: semver releases'))[0]).toMatchObject({ status: 'unresolved', count: 4 });
    const log = (await (await s.api(`/api/v1/events?subject=issue:${sem?.id}`)).json()) as Page<EventRecord>;
    expect(log.items.map((e) => e.type)).toEqual(['issue.regressed', 'issue.resolved', 'issue.created']);
    expect(log.items[1]?.actor).toBe(`token:admin (SHIPSHAPE_ADMIN_TOKEN)`);
  });

  it('keeps the latest 50 events of an issue, newest first and paged, while counting all', async () => {
    const events = Array.from({ length: 53 }, (_, i) => exceptionEvent('Error', 'many events', [{ fn: 'many' }], { extra: { n: i } }));
    await send(1, ...events.slice(0, 30));
    await send(1, ...events.slice(30));
    const [issue] = await byTitle('Error: many events');
    expect(issue?.count).toBe(53);
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = (await (await s.api(`/api/v1/issues/${issue?.id}/events?limit=20${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Page<{ extra: { n: number } }>;
      seen.push(...page.items.map((e) => e.extra.n));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => 52 - i));
    const detail = (await (await s.api(`/api/v1/issues/${issue?.id}`)).json()) as IssueDetail;
    expect(detail.latest_event?.extra).toEqual({ n: 52 });
  });

  it('lists issues newest first, filtered by status and service, in pages', async () => {
    const everything = await all();
    const toResolve = everything.find((i) => i.title === 'QueryTimeout: db timeout B') as IssueSummary;
    expect((await s.api(`/api/v1/issues/${toResolve.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'resolved' }) })).status).toBe(200);
    const paged: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = (await (await s.api(`/api/v1/issues?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Page<IssueSummary>;
      paged.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
    }
    expect(paged).toEqual(everything.map((i) => i.id));
    const lastSeen = everything.map((i) => Date.parse(i.last_seen));
    expect([...lastSeen].sort((a, b) => b - a)).toEqual(lastSeen);
    expect((await all('&status=resolved')).map((i) => i.id)).toEqual([toResolve.id]);
    expect((await all('&status=unresolved')).map((i) => i.id)).toEqual(everything.filter((i) => i.id !== toResolve.id).map((i) => i.id));
    expect((await all('&service=worker')).every((i) => i.service === 'worker' && i.project === 2)).toBe(true);
    expect((await s.api('/api/v1/issues?status=open')).status).toBe(400);
    expect((await s.api('/api/v1/issues?cursor=garbage')).status).toBe(400);
    expect((await s.api('/api/v1/issues/999999')).status).toBe(404);
    expect((await s.api('/api/v1/issues/999999/events')).status).toBe(404);
    expect((await s.api('/api/v1/issues', { token: null })).status).toBe(401);
  });

  it('answers error counts for alert rules, also after a restart', async () => {
    const errors = () => s.use(errorsModule);
    const before = { rate: errors().query.errorEventRate('worker', 3_600_000), issues: errors().query.issueCount('worker', 3_600_000), fresh: errors().query.newIssueCount('worker', 3_600_000) };
    expect(before.rate.samples).toBe(4);
    expect(before.issues).toEqual({ value: 2, samples: 4 });
    expect(before.fresh).toEqual({ value: 2, samples: 4 });
    expect(errors().query.issueCount('nope', 60_000)).toEqual({ value: 0, samples: 0 });

    // restart on the same store
    await s.stop();
    const restarted: Running = await startShipshape({
      configPath: s.configPath,
      dataDir: join(s.dir, 'data'),
      databaseUrl: dbUrl,
      port: 0,
      logger: pino({ level: 'silent' }),
      adminToken: ADMIN,
    });
    s = Object.assign(s, restarted, { api: (path: string, init: RequestInit = {}) => fetch(`${restarted.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}` } }) });
    const after = errors().query;
    expect(after.errorEventRate('worker', 3_600_000)).toEqual(before.rate);
    expect(after.issueCount('worker', 3_600_000)).toEqual(before.issues);
    expect(after.newIssueCount('worker', 3_600_000)).toEqual(before.fresh);
    expect((await all('&service=worker')).map((i) => i.count).sort()).toEqual([2, 2]);
  });
});

describe('issue.event live notices', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(yaml);
  });
  afterAll(async () => {
    await s.close();
  });

  it('tells live views about every event as it arrives', async () => {
    const notices: Record<string, unknown>[] = [];
    const off = s.events.onNotice((n) => n.type === 'issue.event' && notices.push(n.data));
    const ev = exceptionEvent('Error', 'live', [{ fn: 'live' }], { release: '2.0.0' });
    const res = await fetch(`${s.url}/api/1/envelope/?sentry_key=${KEY}`, { method: 'POST', body: envelope({}, [[{ type: 'event' }, JSON.stringify(ev)]]) });
    expect(res.status).toBe(200);
    off();
    expect(notices).toEqual([expect.objectContaining({ event_id: ev.event_id, service: 'web', project: 1, title: 'Error: live', release: '2.0.0', created: true, count: 1 })]);
  });
});
