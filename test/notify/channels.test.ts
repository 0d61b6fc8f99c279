/** Every channel kind against a real local receiver: the payload shapes the real services require. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootStore as Store } from '../../src/modules.js';
import { openStore } from '../../src/modules.js';
import { alert, harness, mailHeader, startReceiver, startSmtp, type Harness, type Receiver, type SmtpReceiver } from './helpers.js';

let rx: Receiver;
let smtp: SmtpReceiver;
let dir: string;
let store: Store;
let h: Harness;
const BOT = '123456:ABC-secret-bot-token';
const PD_KEY = 'R0UT1NGKEYsecret0123456789abcdef';
const NTFY_TOKEN = 'tk_ntfysecrettoken123';

beforeAll(async () => {
  rx = await startReceiver();
  smtp = await startSmtp({ user: 'ops', pass: 's3cret-pass' });
  dir = mkdtempSync(join(tmpdir(), 'shipshape-notify-'));
  store = await openStore({ dataDir: dir });
  h = await harness(
    store,
    `
notify:
  defaults: { group_wait: 10s, group_interval: 1m }
  external_url: http://shipshape.example.com
  channels:
    slack: { slack: { url: "${rx.url}/slack/T000/B000/XXXXsecretXXXX" } }
    discord: { discord: { url: "${rx.url}/discord/api/webhooks/1/secret-discord-token" } }
    teams: { teams: { url: "${rx.url}/teams/webhookb2/secret-teams-id" } }
    telegram: { telegram: { bot_token: "${BOT}", chat_id: -100123, api_url: "${rx.url}/telegram" } }
    hook: { webhook: { url: "${rx.url}/hook", headers: { X-Token: "hdr-secret-value" }, max_alerts: 2 } }
    mail: { email: { to: [ops@example.com, oncall@example.com], from: "Shipshape <alerts@example.com>", smtp: "smtp://ops:s3cret-pass@127.0.0.1:${smtp.port}" } }
    pd: { pagerduty: { routing_key: "${PD_KEY}", url: "${rx.url}/pd/v2/enqueue" } }
    ntfy: { ntfy: { url: "${rx.url}/ntfy", topic: "ops-alerts", token: "${NTFY_TOKEN}" } }
  routes:
    - channels: [slack, discord, teams, telegram, hook, mail, pd, ntfy]
`,
  );
});
afterAll(async () => {
  await h.stop();
  await store.close();
  await rx.close();
  await smtp.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (prefix: string) => rx.requests.filter((r) => r.path.startsWith(prefix));
const now = () => new Date(h.clock.t).toISOString();

describe('channels', () => {
  const alerts = [
    alert('high-error-rate', { instance: 'a', severity: 'P1' }, { annotations: { summary: 'web error rate is 3.2% <&>', description: 'check the last deploy' } }),
    alert('high-error-rate', { instance: 'b', severity: 'P1' }, { annotations: { summary: 'web error rate is 3.2% <&>' } }),
    alert('high-error-rate', { instance: 'c', severity: 'P1' }, { annotations: { summary: 'web error rate is 3.2% <&>' } }),
  ];

  beforeAll(async () => {
    for (const a of alerts) a.firedAt = a.activeAt = now();
    await h.notify.settled();
    // three alerts of one group within group_wait: one notification carries all three
    for (const a of alerts) await h.fire(a);
    await h.advance(10_000);
    await smtp.waitFor(1);
  });

  it('Slack gets text and Block Kit blocks, escaped', () => {
    const [r] = at('/slack');
    expect(r!.path).toBe('/slack/T000/B000/XXXXsecretXXXX');
    expect(r!.headers['content-type']).toBe('application/json');
    const b = r!.json() as { text: string; blocks: { type: string; text?: { type: string; text: string } }[] };
    expect(b.text).toBe('[FIRING:3] high-error-rate web — web error rate is 3.2% &lt;&amp;&gt;');
    expect(b.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '[FIRING:3] high-error-rate web', emoji: true } });
    expect(b.blocks[1]!.text!.type).toBe('mrkdwn');
    expect(b.blocks[1]!.text!.text).toContain('[P1] web error rate is 3.2% &lt;&amp;&gt;');
    expect(b.blocks[1]!.text!.text).toContain('check the last deploy');
  });

  it('Discord gets content and an embed, with mentions off', () => {
    const b = at('/discord')[0]!.json() as { content: string; embeds: { title: string; description: string; color: number; url: string }[]; allowed_mentions: unknown };
    expect(b.content).toMatch(/^\[FIRING:3\] high-error-rate web — /);
    expect(b.embeds).toHaveLength(1);
    expect(b.embeds[0]!.title).toBe('[FIRING:3] high-error-rate web');
    expect(b.embeds[0]!.description).toContain('web error rate is 3.2% <&>');
    expect(typeof b.embeds[0]!.color).toBe('number');
    expect(b.embeds[0]!.url).toBe('http://shipshape.example.com');
    expect(b.allowed_mentions).toEqual({ parse: [] });
  });

  it('Teams gets an Adaptive Card in a message', () => {
    const b = at('/teams')[0]!.json() as { type: string; attachments: { contentType: string; content: { type: string; version: string; body: { type: string; text: string }[] } }[] };
    expect(b.type).toBe('message');
    expect(b.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(b.attachments[0]!.content.type).toBe('AdaptiveCard');
    expect(b.attachments[0]!.content.body[0]!.text).toMatch(/^\[FIRING:3\] high-error-rate web/);
  });

  it('Telegram gets sendMessage at api_url/bot<token>, HTML-escaped', () => {
    const r = at('/telegram')[0]!;
    expect(r.path).toBe(`/telegram/bot${BOT}/sendMessage`);
    const b = r.json() as { chat_id: number; text: string; parse_mode: string };
    expect(b.chat_id).toBe(-100123);
    expect(b.parse_mode).toBe('HTML');
    expect(b.text).toMatch(/^<b>\[FIRING:3\] high-error-rate web — web error rate is 3.2% &lt;&amp;&gt;<\/b>\n/);
    expect(b.text).not.toContain('<&>');
  });

  it('the webhook gets the Alertmanager v4 payload, truncated to max_alerts, with its headers', () => {
    const r = at('/hook')[0]!;
    expect(r.headers['x-token']).toBe('hdr-secret-value');
    const b = r.json();
    expect(b).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'hook',
      groupLabels: { alertname: 'high-error-rate', service: 'web' },
      commonLabels: { alertname: 'high-error-rate', service: 'web', severity: 'P1' },
      commonAnnotations: { summary: 'web error rate is 3.2% <&>' },
      externalURL: 'http://shipshape.example.com',
      truncatedAlerts: 1,
    });
    expect(typeof b.groupKey).toBe('string');
    const list = b.alerts as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    expect(Object.keys(list[0]!).sort()).toEqual(['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
    expect(list[0]).toMatchObject({ status: 'firing', endsAt: '0001-01-01T00:00:00Z', startsAt: alerts[0]!.firedAt });
  });

  it('email arrives over SMTP (with auth) with a subject, text and HTML', async () => {
    const [m] = smtp.mails;
    expect(m!.user).toBe('ops');
    expect(m!.to.sort()).toEqual(['ops@example.com', 'oncall@example.com'].sort());
    expect(m!.from).toBe('alerts@example.com');
    expect(mailHeader(m!.raw, 'subject')).toBe('[FIRING:3] high-error-rate web — web error rate is 3.2% <&>');
    expect(m!.raw).toContain('Content-Type: text/plain');
    expect(m!.raw).toContain('Content-Type: text/html');
  });

  it('PagerDuty gets an Events v2 trigger deduplicated by the group', () => {
    const b = at('/pd')[0]!.json() as { routing_key: string; event_action: string; dedup_key: string; payload: Record<string, unknown> };
    expect(b.routing_key).toBe(PD_KEY);
    expect(b.event_action).toBe('trigger');
    expect(b.dedup_key).toMatch(/^[0-9a-f]{64}$/);
    expect(b.payload).toMatchObject({ severity: 'critical', source: 'web', summary: expect.stringMatching(/^\[FIRING:3\]/) });
    expect(Date.parse(b.payload.timestamp as string)).toBeGreaterThan(0);
  });

  it('ntfy gets the text at url/topic with Title, Priority, Tags and the token', () => {
    const r = at('/ntfy')[0]!;
    expect(r.path).toBe('/ntfy/ops-alerts');
    expect(r.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
    expect(r.headers.priority).toBe('4');
    expect(r.headers.tags).toBe('rotating_light,P1');
    const title = r.headers.title as string;
    // non-ASCII ("—") goes RFC 2047-encoded, as ntfy accepts
    expect(title).toMatch(/^=\?UTF-8\?B\?/);
    expect(Buffer.from(title.slice(10, -2), 'base64').toString('utf8')).toMatch(/^\[FIRING:3\] high-error-rate web — /);
    expect(r.body).toContain('web error rate is 3.2% <&>');
  });

  it('a resolve goes to PagerDuty as resolve with the same dedup_key, and to Slack as RESOLVED', async () => {
    const triggerKey = (at('/pd')[0]!.json() as { dedup_key: string }).dedup_key;
    for (const a of alerts) await h.resolve(a);
    await h.advance(60_000);
    await smtp.waitFor(2);
    const pd = at('/pd')[1]!.json();
    expect(pd).toEqual({ routing_key: PD_KEY, event_action: 'resolve', dedup_key: triggerKey });
    expect((at('/slack')[1]!.json() as { text: string }).text).toMatch(/^\[RESOLVED:3\] high-error-rate web/);
    expect(at('/ntfy')[1]!.headers.tags).toBe('white_check_mark');
    const sent = await h.events.list({ limit: 100, type: 'notification.sent' });
    expect(sent.length).toBe(16);
    // secrets never reach the event log
    const log = JSON.stringify(sent);
    for (const s of [BOT, PD_KEY, NTFY_TOKEN, 'XXXXsecretXXXX', 'secret-discord-token', 'hdr-secret-value', 's3cret-pass']) expect(log).not.toContain(s);
  });
});

describe('templates', () => {
  it('render title and text per channel for chat channels', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'shipshape-notify-'));
    const store2 = await openStore({ dataDir: dir2 });
    const h2 = await harness(
      store2,
      `
notify:
  defaults: { group_wait: 0s }
  channels:
    chat:
      slack: { url: "${rx.url}/tpl" }
      template:
        title: "{{status}}: {{groupLabels.alertname}} ({{alerts.length}})"
        text: "{{#alerts}}{{labels.service}} is at {{valueText}}; {{/alerts}}"
`,
    );
    try {
      await h2.fire(alert('high-error-rate', {}, { firedAt: new Date(h2.clock.t).toISOString() }));
      const b = at('/tpl')[0]!.json() as { text: string; blocks: { text: { text: string } }[] };
      expect(b.text).toBe('firing: high-error-rate (1)');
      expect(b.blocks[1]!.text.text).toBe('web is at 3.2%; ');
    } finally {
      await h2.stop();
      await store2.close();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
