/**
 * Issue 8's "done when", end to end with the real things: a real HTTP app whose health check
 * fails, the alert rule that opens an incident, on-call pages by email through a real SMTP
 * server on loopback, an escalation when nobody acknowledges, the acknowledgement from the link
 * in the lead's email, a status update that shows on the public status page (Chromium with
 * JavaScript off and on) and reaches an email subscriber (double opt-in) and a webhook subscriber
 * (HMAC-signed), the resolution, and the post-mortem whose impact matches the stored check data.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipshape, type Running } from '../../src/app.js';
import { formatDuration } from '../../src/core/config/units.js';
import { mailHeader, startSmtp, type SmtpReceiver } from '../notify/helpers.js';
import { decodeMail, freePort, linkIn } from '../subscriptions/helpers.js';
import { launchChromium, teardown } from './harness.js';

const TOKEN = 'e2e-admin-token-0123456789abcdef';

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('an alert opens an incident, pages, escalates, is acknowledged from an email, updates the status page and its subscribers, resolves, and has a post-mortem', () => {
  let running: Running;
  let browser: Browser;
  let smtp: SmtpReceiver;
  let dir: string;
  let app: Server;
  let hooks: Server;
  let healthy = true;
  const received: { body: string; signature: string | undefined; event: string | undefined }[] = [];

  beforeAll(async () => {
    smtp = await startSmtp();
    app = createServer((req, res) => {
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: healthy ? 'ok' : 'down' }));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    hooks = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['x-shipshape-signature'] as string | undefined, event: req.headers['x-shipshape-event'] as string | undefined });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', () => r()));
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'shipshape-incident-flow-'));
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `ingest:
  tokens: ["e2e-ingest-token-0123456789"]
services:
  web:
    description: the shop
    checks:
      - name: health
        http: { url: "http://127.0.0.1:${(app.address() as { port: number }).port}/health", every: 1s, timeout: 500ms }
alerting:
  evaluate_every: 200ms
alerts:
  - name: web-down
    when: down(web)
    severity: P1
    summary: "{{ service }} is down"
    incident: { severity: P1 }
notify:
  external_url: http://127.0.0.1:${port}
  channels:
    mail: { email: { to: [ops@example.com], from: "Shop pager <pager@example.com>", smtp: "smtp://127.0.0.1:${smtp.port}" } }
people:
  alice: { name: Alice, email: alice@example.com }
  lead: { name: Lea, email: lead@example.com }
oncall:
  email_channel: mail
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice] }]
  escalation:
    default:
      steps:
        - { after: 0m, notify: [schedule:primary] }
        - { after: 4s, notify: [person:lead] }
status_pages:
  public:
    title: Shop status
    components:
      - { name: Web shop, service: web }
subscriptions:
  email_channel: mail
  notify_on_open: false
`,
    );
    running = await startShipshape({ configPath, dataDir: join(dir, 'data'), host: '127.0.0.1', port, logger: pino({ level: 'silent' }), adminToken: TOKEN, watchConfig: false, webRoot: join(dir, 'no-web') });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await teardown({ running, browser, servers: [app, hooks], dir });
    await smtp?.close();
  });

  const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${running.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const mailsTo = (addr: string) => smtp.mails.filter((m) => m.to.includes(addr));

  it('runs the whole incident story', async () => {
    // subscribers first: an email address (double opt-in through the page's form) and a webhook
    const form = await fetch(`${running.url}/status/subscribe`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=cust%40example.com' });
    expect(form.status).toBe(200);
    const confirmMail = await until('the confirmation mail', async () => mailsTo('cust@example.com')[0]);
    const confirm = await fetch(linkIn(confirmMail.raw, '/subscriptions/confirm/'), { method: 'POST' });
    expect(await confirm.text()).toContain('You are subscribed');
    const hook = await api<{ id: number; secret: string }>('POST', '/api/v1/subscriptions/webhooks', { page: 'public', url: `http://127.0.0.1:${(hooks.address() as { port: number }).port}/status-hook` });
    expect(hook.secret).toBeTruthy();

    // the app breaks: the check goes down, the alert fires and opens a P1 incident
    healthy = false;
    const brokeAt = Date.now();
    const inc = await until('the incident opened by the alert', async () => {
      const { items } = await api<{ items: { id: number; ref: string; severity: string; state: string; services: string[]; source: string }[] }>('GET', '/api/v1/incidents?open=true');
      return items[0];
    });
    expect(inc).toMatchObject({ severity: 'P1', state: 'triggered', services: ['web'] });

    // Alice (on call) is paged by email; nobody acknowledges, so Lea (the lead) is paged 4 s later
    const alicePage = await until('the page to alice', async () => mailsTo('alice@example.com')[0]);
    expect(mailHeader(alicePage.raw, 'subject')).toContain(inc.ref);
    const leaPage = await until('the escalation to lea', async () => mailsTo('lea@example.com')[0] ?? mailsTo('lead@example.com')[0], 20_000);
    const esc = await api<{ items: { started_at: string; pages: { person: string; step: number; sent_at: string }[] }[] }>('GET', `/api/v1/oncall/escalations/${inc.id}`);
    const pages = esc.items[0]!.pages;
    expect(pages.map((p) => [p.person, p.step])).toEqual([
      ['alice', 1],
      ['lead', 2],
    ]);
    expect(Date.parse(pages[1]!.sent_at) - Date.parse(esc.items[0]!.started_at)).toBeGreaterThanOrEqual(4000);

    // Lea acknowledges from the link in her email (the page asks first; the POST acknowledges)
    const ack = linkIn(leaPage.raw, '/api/v1/oncall/ack/');
    const ackPage = await browser.newPage();
    await ackPage.goto(ack);
    await ackPage.locator('button', { hasText: 'Acknowledge' }).click();
    await ackPage.waitForLoadState();
    expect(await ackPage.locator('h1').textContent()).toBe(`${inc.ref} is acknowledged`);
    await ackPage.close();
    expect((await api<{ state: string; acknowledged_by: string }>('GET', `/api/v1/incidents/${inc.id}`)).acknowledged_by).toContain('lead');
    // the link works once
    const replay = await fetch(ack, { method: 'POST' });
    expect(replay.status).toBeGreaterThanOrEqual(400);

    // meanwhile the shop's own SDK reports its requests: 10 of 40 failed
    const at = Date.now();
    const requests = Array.from({ length: 40 }, (_, i) => ({ route: '/checkout', method: 'POST', status: i % 4 === 0 ? 502 : 200, duration_ms: 120, at }));
    const ingest = await fetch(`${running.url}/api/v1/ingest`, { method: 'POST', headers: { authorization: 'Bearer e2e-ingest-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ service: 'web', requests }) });
    expect(ingest.status).toBe(202);

    // a public status update: on the status page, with and without JavaScript
    await api('POST', `/api/v1/incidents/${inc.id}/updates`, { status: 'identified', message: 'A bad cache node; we are replacing it.' });
    for (const javaScriptEnabled of [false, true]) {
      const ctx = await browser.newContext({ javaScriptEnabled });
      const page = await ctx.newPage();
      await page.goto(`${running.url}/status`);
      const article = page.locator(`#incident-${inc.id}`);
      expect(await article.textContent()).toContain('A bad cache node; we are replacing it.');
      expect(await page.locator('.comp', { hasText: 'Web shop' }).getAttribute('data-status')).not.toBe('operational');
      await ctx.close();
    }

    // …and to the subscribers: an email with an unsubscribe link, a signed webhook
    const update = await until('the subscriber email', async () => mailsTo('cust@example.com').find((m) => decodeMail(m.raw).includes('A bad cache node')));
    expect(mailHeader(update.raw, 'list-unsubscribe')).toContain('/subscriptions/unsubscribe/');
    const delivered = await until('the webhook delivery', async () => received.find((r) => r.body.includes('A bad cache node')));
    expect(delivered.signature).toBe(`sha256=${createHmac('sha256', hook.secret).update(delivered.body).digest('hex')}`);
    expect(JSON.parse(delivered.body).incident.status).toBe('identified');

    // the app recovers; the responder resolves
    healthy = true;
    await until('web to be up again', async () => {
      const s = await api<{ state: string }>('GET', '/api/v1/services/web');
      return s.state === 'up';
    });
    await api('POST', `/api/v1/incidents/${inc.id}/updates`, { status: 'resolved', message: 'The cache node was replaced; all is well.' });
    const resolved = await api<{ state: string; opened_at: string; resolved_at: string }>('GET', `/api/v1/incidents/${inc.id}`);
    expect(resolved.state).toBe('resolved');
    await until('the resolution email', async () => mailsTo('cust@example.com').find((m) => decodeMail(m.raw).includes('all is well')));

    // the post-mortem's impact figures are the stored data's: duration and downtime from the check states
    const pm = await fetch(`${running.url}/api/v1/incidents/${inc.id}/postmortem`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/markdown' } }).then((r) => r.text());
    expect(pm).toContain(`# Post-mortem: ${inc.ref}`);
    expect(pm).toContain(`- Duration: ${formatDuration(Date.parse(resolved.resolved_at) - Date.parse(resolved.opened_at))}`);
    const { items: changes } = await api<{ items: { type: string; at: string; data: { service?: string; from?: string; to?: string } }[] }>('GET', '/api/v1/events?type=service.state&limit=100');
    const web = changes.filter((e) => e.data.service === 'web').sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    const downAt = Date.parse(web.find((e) => e.data.to === 'down')!.at);
    const upAt = Date.parse(web.find((e) => e.data.from === 'down' && e.data.to === 'up')!.at);
    expect(downAt).toBeGreaterThanOrEqual(brokeAt);
    // the post-mortem counts the downtime from the timeline, which starts a while before the incident opened
    expect(pm).toContain(`- web: down ${formatDuration(upAt - downAt)} (from its check states); ${(((upAt - downAt) / (30 * 86_400_000)) * 100).toFixed(3)} % of 30 days' uptime`);
    expect(pm).toContain('- Alert web-down: fired 1 time');
    expect(pm).toContain('- web: 10 of 40 requests failed (25.0 % error rate, from its telemetry');
    expect(pm).toMatch(/Acknowledged \| .* by .*lead/);
  }, 180_000);
});
