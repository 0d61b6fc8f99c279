/** The notify API on a real server: silences, the queue, why an alert is muted; the issue's config. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertInstance } from '../../src/alerts/types.js';
import { parseConfig } from '../../src/modules.js';
import { channelTargets } from '../../src/notify/dispatcher.js';
import { channelKind } from '../../src/notify/channels/index.js';
import { buildNotification } from '../../src/notify/dispatcher.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { alert, startReceiver, type Receiver } from './helpers.js';

async function until<T>(fn: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ISSUE_CONFIG = `
ingest:
  tokens: ["\${SHIPSHAPE_INGEST_TOKEN}"]
alerts:
  - name: high-error-rate
    when: error_rate(web) > 1% for 5m
    severity: P1
    summary: "{{ service }} error rate is {{ value }}"
  - name: backup-missing
    when: absent(heartbeat.nightly-backup) for 26h
    severity: P2
notify:
  channels:
    ops-webhook: { webhook: { url: "http://127.0.0.1:9099/hook" } }
    ops-email: { email: { to: [ops@example.com], smtp: "\${SMTP_URL}" } }
  routes:
    - match: { severity: [P0, P1] }
      channels: [ops-webhook, ops-email]
      group_wait: 30s
`;

describe('the issue’s notify config', () => {
  it('loads as written, with the defaults of Alertmanager', () => {
    const cfg = parseConfig(ISSUE_CONFIG, 'shipshape.yaml', { env: {} });
    const n = cfg.raw.notify;
    expect(n.routes[0]).toMatchObject({ match: { severity: ['P0', 'P1'] }, channels: ['ops-webhook', 'ops-email'], group_wait: 30_000 });
    expect(n.defaults).toEqual({ group_by: ['alertname', 'service'], group_wait: 30_000, group_interval: 300_000, repeat_interval: 14_400_000 });
    expect(channelTargets(n).get('ops-email')).toMatchObject({ kind: 'email', spec: { to: ['ops@example.com'], smtp: '' } });
  });

  it('an email channel without an SMTP server fails with a clear message', async () => {
    const cfg = parseConfig(ISSUE_CONFIG, 'shipshape.yaml', { env: {} });
    const ch = channelTargets(cfg.raw.notify).get('ops-email')!;
    const n = buildNotification('ops-email', 'k', {}, [alert('x')], '');
    await expect(channelKind('email').send(n, ch, new AbortController().signal)).rejects.toThrow(/no SMTP server is set/);
  });

  it('rejects a route to an unknown channel and a bad regex, naming where', () => {
    expect(() => parseConfig('notify:\n  channels:\n    a: { webhook: { url: "http://x/" } }\n  routes:\n    - channels: [b]\n', 'f.yaml', { env: {} })).toThrow(/f\.yaml:5:\d+: notify\.routes\[0\]\.channels\[0\]: unknown channel "b"; channels: a/);
    expect(() => parseConfig('notify:\n  channels:\n    a: { webhook: { url: "http://x/" } }\n  routes:\n    - channels: [a]\n      match_re: { service: "(" }\n', 'f.yaml', { env: {} })).toThrow(/notify\.routes\[0\]\.match_re\.service: invalid regular expression/);
  });
});

describe('notify API', () => {
  let rx: Receiver;
  let srv: TestServer;
  let readToken: string;
  const SECRET = 'T0KEN-in-url-abcdef0123456789';

  beforeAll(async () => {
    rx = await startReceiver();
    srv = await startTestServer(`
notify:
  defaults: { group_wait: 0s }
  channels:
    chat: { slack: { url: "${rx.url}/services/${SECRET}" } }
`);
    readToken = (await srv.tokens.create('viewer', ['read'], 'test')).token;
  });
  afterAll(async () => {
    await srv?.close();
    await rx?.close();
  });

  const fire = (a: AlertInstance) => srv.events.append({ type: 'alert.firing', actor: `rule:${a.labels.alertname}`, subject: `alert:${a.fingerprint}`, data: a as never });
  const fresh = (name: string, labels: Record<string, string> = {}) => alert(name, labels, { firedAt: new Date().toISOString(), activeAt: new Date().toISOString() });

  it('creates, lists and expires silences; the author is the token; every change is an event', async () => {
    const denied = await srv.api('/api/v1/silences', { method: 'POST', token: readToken, body: JSON.stringify({ matchers: ['alertname=x'], duration: '1h', comment: 'c' }) });
    expect(denied.status).toBe(403);

    const bad = await srv.api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['alertname~x'], duration: '1h', comment: 'c' }) });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/matchers: "alertname~x" is not a matcher/);

    const noEnd = await srv.api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['alertname=x'], comment: 'c' }) });
    expect(noEnd.status).toBe(400);

    const res = await srv.api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['alertname=quiet-please', { name: 'service', value: 'web|api', isRegex: true }], duration: '2h', comment: 'deploying the fix', createdBy: 'someone else' }) });
    expect(res.status).toBe(201);
    const s = (await res.json()) as { id: string; createdBy: string; status: { state: string }; endsAt: string; startsAt: string };
    expect(s.createdBy).toBe('admin (SHIPSHAPE_ADMIN_TOKEN)');
    expect(s.status.state).toBe('active');
    expect(Date.parse(s.endsAt) - Date.parse(s.startsAt)).toBe(2 * 3_600_000);

    const list = (await (await srv.api('/api/v1/silences?state=active', { token: readToken })).json()) as { items: { id: string }[] };
    expect(list.items.map((x) => x.id)).toContain(s.id);
    const later = await srv.api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['alertname=nightly'], startsAt: new Date(Date.now() + 3_600_000).toISOString(), endsAt: new Date(Date.now() + 7_200_000).toISOString(), comment: 'maintenance window' }) });
    expect(later.status).toBe(201);
    expect(((await later.json()) as { status: { state: string } }).status.state).toBe('pending');

    // silenced alerts are not sent, and the API says why
    await fire(fresh('quiet-please'));
    const loud = fresh('loud');
    await fire(loud);
    await rx.waitFor(1, 5000);
    const alerts = (await (await srv.api('/api/v1/notify/alerts', { token: readToken })).json()) as { items: { labels: Record<string, string>; silenced_by: string[]; inhibited_by: string[]; suppressed: boolean; channels: string[] }[] };
    const quiet = alerts.items.find((a) => a.labels.alertname === 'quiet-please')!;
    expect(quiet).toMatchObject({ silenced_by: [s.id], inhibited_by: [], suppressed: true });
    expect(alerts.items.find((a) => a.labels.alertname === 'loud')).toMatchObject({ silenced_by: [], suppressed: false, channels: ['chat'] });
    expect(rx.requests.map((r) => (r.json() as { text: string }).text).join('\n')).not.toContain('quiet-please');

    const del = await srv.api(`/api/v1/silences/${s.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(((await del.json()) as { status: { state: string } }).status.state).toBe('expired');
    expect((await srv.api('/api/v1/silences/00000000-0000-0000-0000-000000000000', { method: 'DELETE' })).status).toBe(404);

    const ev = (await (await srv.api('/api/v1/events?type=silence.expired')).json()) as { items: { actor: string; subject: string }[] };
    expect(ev.items[0]).toMatchObject({ actor: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', subject: `silence:${s.id}` });
    const cr = (await (await srv.api('/api/v1/events?type=silence.created')).json()) as { items: { data: { comment: string } }[] };
    expect(cr.items.map((e) => e.data.comment)).toEqual(['maintenance window', 'deploying the fix']);
  });

  it('shows inhibited alerts with what inhibits them', async () => {
    const p0 = fresh('site-down', { severity: 'P0', service: 'shop' });
    const p2 = fresh('slow-pages', { severity: 'P2', service: 'shop' });
    await fire(p0);
    await fire(p2);
    await rx.waitFor(1, 5000, (r) => r.body.includes('site-down'));
    type Items = { items: { fingerprint: string; inhibited_by: string[] }[] };
    const alerts = await until(async () => {
      const a = (await (await srv.api('/api/v1/notify/alerts', { token: readToken })).json()) as Items;
      return a.items.some((x) => x.fingerprint === p2.fingerprint) ? a : undefined;
    });
    expect(alerts.items.find((a) => a.fingerprint === p2.fingerprint)?.inhibited_by).toEqual([p0.fingerprint]);
    // once its group has been flushed (next flush a group_interval away), nothing was sent for it
    await until(async () => {
      const g = (await (await srv.api('/api/v1/notify/groups', { token: readToken })).json()) as { items: { labels: Record<string, string>; next_flush_at: string }[] };
      return g.items.some((x) => x.labels.alertname === 'slow-pages' && Date.parse(x.next_flush_at) > Date.now() + 60_000) || undefined;
    });
    expect(rx.requests.some((r) => r.body.includes('slow-pages'))).toBe(false);
  });

  it('lists the queue with status and channel filters, never showing a secret', async () => {
    type Body = { items: { channel: string; status: string; kind: string; title: string; attempts: number }[]; counts: Record<string, number> };
    const body = await until(async () => {
      const res = await srv.api('/api/v1/notifications?status=sent&channel=chat', { token: readToken });
      expect(res.status).toBe(200);
      const b = (await res.json()) as Body;
      return b.items.some((i) => i.title === '[FIRING:1] loud web') ? b : undefined;
    });
    expect(body.items.length).toBeGreaterThanOrEqual(1);
    expect(body.items[0]).toMatchObject({ channel: 'chat', kind: 'slack', status: 'sent', attempts: 1 });
    expect(body.items.map((i) => i.title)).toContain('[FIRING:1] loud web');
    expect(body.counts.sent).toBeGreaterThanOrEqual(1);
    const bad = await srv.api('/api/v1/notifications?status=lost', { token: readToken });
    expect(bad.status).toBe(400);
    const channels = await (await srv.api('/api/v1/notify/channels', { token: readToken })).text();
    expect(channels).toContain('"kind":"slack"');
    for (const path of ['/api/v1/notifications', '/api/v1/notify/channels', '/api/v1/notify/groups', '/api/v1/events?limit=500']) {
      expect(await (await srv.api(path)).text()).not.toContain(SECRET);
    }
  });

  it('sends a test message through a channel over the API (write scope), saying why it failed without the secret', async () => {
    expect((await srv.api('/api/v1/notify/channels/chat/test', { method: 'POST', token: readToken })).status).toBe(403);
    const before = rx.requests.length;
    const ok = await srv.api('/api/v1/notify/channels/chat/test', { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, channel: 'chat', kind: 'slack' });
    const sent = rx.requests.slice(before);
    expect(sent.map((r) => r.body).join('\n')).toMatch(/\[TEST\] Shipshape test message/);
    expect(sent[0]?.path).toBe(`/services/${SECRET}`);

    rx.behave = () => ({ status: 500, body: 'upstream broke' });
    try {
      const failed = await srv.api('/api/v1/notify/channels/chat/test', { method: 'POST' });
      expect(failed.status).toBe(502);
      const body = await failed.text();
      expect(JSON.parse(body)).toMatchObject({ ok: false, channel: 'chat', error: expect.stringMatching(/500/) });
      expect(body).not.toContain(SECRET);
    } finally {
      rx.behave = () => 'ok';
    }
    const unknown = await srv.api('/api/v1/notify/channels/nope/test', { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(/no channel "nope"; channels: chat/);
  });

  it('refuses oversized silence bodies with 413', async () => {
    const res = await srv.api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['a=b'], duration: '1h', comment: 'x'.repeat(100_000) }) });
    expect(res.status).toBe(413);
  });
});
