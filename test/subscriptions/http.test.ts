/**
 * The subscription form, links and API through a real Shipshape server and a real SMTP server on
 * loopback: the form works without JavaScript, answers the same for known and unknown addresses,
 * cannot flood a mailbox; links show a page before acting, bad links get a clear HTML page; the
 * API declares its scopes and masks addresses below admin.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';
import { AtRest } from '../../src/core/at-rest.js';
import { startSmtp, type SmtpReceiver } from '../notify/helpers.js';
import { mailHeader } from '../notify/helpers.js';
import { linkIn } from './helpers.js';

const yaml = (smtpPort: number) => `
services:
  web: {}
  db: {}
notify:
  external_url: https://status.example.com
  channels:
    mail: { email: { to: [ops@example.com], from: "Status <status@example.com>", smtp: "smtp://127.0.0.1:${smtpPort}" } }
status_pages:
  public:
    title: Acme Status
    components:
      - { service: web, name: Shop }
      - { service: db, name: Database }
  internal:
    private: true
subscriptions:
  email_channel: mail
`;

const form = (s: TestServer, path: string, body: string) => s.api(path, { method: 'POST', token: null, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
const BIN = resolve('bin/shipshape.js');
/** the built CLI, as users run it */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SHIPSHAPE_URL: '', SHIPSHAPE_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** the page without the parts that change from one answer to the next */
const stable = (html: string) => html.replace(/<time[^>]*>[^<]*<\/time>/g, '');

describe('subscriptions over HTTP', () => {
  let smtp: SmtpReceiver;
  let s: TestServer;
  let readToken: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    s = await startTestServer(yaml(smtp.port));
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'viewer', scopes: ['read'] }) });
    readToken = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await s?.close();
    await smtp?.close();
  });

  it('the public page has a form that works without JavaScript; the internal page has none', async () => {
    const page = await (await s.api('/status', { token: null })).text();
    expect(page).toContain('<form method="post" action="/status/subscribe">');
    expect(page).toContain('<input type="email" name="email" required');
    expect(page).toContain('<input type="checkbox" name="component" value="shop"> Shop');
    const internal = await (await s.api('/status/internal')).text();
    expect(internal).not.toContain('/subscribe');
  });

  it('subscribing: the same answer for new, pending and subscribed addresses; one mail per address per hour; the link shows a page, the button confirms, a replay changes nothing', async () => {
    const first = await form(s, '/status/subscribe', 'email=carol%40example.com&component=shop');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const answer = await first.text();
    expect(answer).toContain('Check your inbox');
    const mails = await smtp.waitFor(1);
    expect(mails[0]!.to).toEqual(['carol@example.com']);
    expect(mailHeader(mails[0]!.raw, 'subject')).toBe('Confirm your subscription to Acme Status');

    // again (pending address): the same page, no second mail
    const again = await form(s, '/status/subscribe', 'email=carol%40example.com&component=shop');
    expect(stable(await again.text())).toBe(stable(answer));
    // an address never seen: the same page but for the address it repeats
    const other = await (await form(s, '/status/subscribe', 'email=dave%40example.com')).text();
    expect(stable(other).replace('dave@example.com', 'carol@example.com')).toBe(stable(answer));
    await smtp.waitFor(2);
    expect(smtp.mails.map((m) => m.to[0])).toEqual(['carol@example.com', 'dave@example.com']);

    // the link: GET shows a button and changes nothing (mail scanners open links)
    const confirm = new URL(linkIn(mails[0]!.raw, '/subscriptions/confirm/')).pathname;
    const shown = await s.api(confirm, { token: null });
    expect(shown.status).toBe(200);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    const shownHtml = await shown.text();
    expect(shownHtml).toContain(`<form method="post" action="${confirm}"><button type="submit">Confirm subscription</button></form>`);
    expect(shownHtml).toContain('c***@example.com');
    let list = (await (await s.api('/api/v1/subscriptions?kind=email')).json()) as { items: { address: string; state: string; services: string[] }[] };
    expect(list.items.find((x) => x.address === 'carol@example.com')).toMatchObject({ state: 'pending', services: ['web'] });

    const done = await s.api(confirm, { method: 'POST', token: null });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('You are subscribed');
    const replay = await s.api(confirm, { method: 'POST', token: null });
    expect(replay.status).toBe(200);
    expect(await replay.text()).toContain('Already confirmed');
    list = (await (await s.api('/api/v1/subscriptions?kind=email&state=confirmed')).json()) as typeof list;
    expect(list.items.map((x) => x.address)).toEqual(['carol@example.com']);

    // a subscribed address entered again: the same answer; it gets an "already subscribed" mail, not a confirmation
    const subscribed = await (await form(s, '/status/subscribe', 'email=carol%40example.com')).text();
    expect(stable(subscribed)).toBe(stable(answer));
    // (within the hour of the first mail: nothing is sent)
    expect(smtp.mails).toHaveLength(2);
  });

  it('bad input and bad links get a clear HTML page, never a stack trace; HTML in an address is not echoed', async () => {
    const bad = await form(s, '/status/subscribe', `email=${encodeURIComponent('<img src=x onerror=alert(1)>@example.com')}`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const badHtml = await bad.text();
    expect(badHtml).toContain('does not look like an email address');
    expect(badHtml).not.toContain('<img src=x');

    const unknownComponent = await form(s, '/status/subscribe', 'email=erin%40example.com&component=%3Cb%3Enope');
    expect(unknownComponent.status).toBe(400);
    const ucHtml = await unknownComponent.text();
    expect(ucHtml).toContain('no component &quot;&lt;b&gt;nope&quot;');
    expect(ucHtml).not.toContain('<b>nope');

    const mail = smtp.mails.find((m) => m.to[0] === 'carol@example.com')!;
    const unsubscribe = new URL(linkIn(mail.raw, '/subscriptions/unsubscribe/')).pathname;
    const tampered = unsubscribe.slice(0, -2) + (unsubscribe.endsWith('AA') ? 'BB' : 'AA');
    for (const method of ['GET', 'POST']) {
      const r = await s.api(tampered, { method, token: null });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await r.text();
      expect(html).toContain('This link is not valid');
      expect(html).not.toMatch(/Error|at .*\.ts:\d+/);
    }
    const garbage = await s.api('/status/subscriptions/confirm/not-a-token', { token: null });
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toContain('This link is not valid');
    // still subscribed
    const list = (await (await s.api('/api/v1/subscriptions?state=confirmed')).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(1);
  });

  it('RFC 8058 one-click unsubscribe: a POST of List-Unsubscribe=One-Click to the header link', async () => {
    const mail = smtp.mails.find((m) => m.to[0] === 'carol@example.com')!;
    const header = mailHeader(mail.raw, 'list-unsubscribe')!;
    const path = new URL(header.slice(1, -1)).pathname;
    const r = await form(s, path, 'List-Unsubscribe=One-Click');
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Unsubscribed');
    const list = (await (await s.api('/api/v1/subscriptions?state=confirmed')).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
    const again = await s.api(path, { token: null });
    expect(await again.text()).toContain('You are not subscribed');
  });

  it('the API: scopes declared, addresses masked below admin, webhook secrets shown once, bad input is problem+json', async () => {
    expect((await s.api('/api/v1/subscriptions', { token: null })).status).toBe(401);
    const masked = (await (await s.api('/api/v1/subscriptions', { token: readToken })).json()) as { items: { address: string }[] };
    expect(masked.items.map((x) => x.address)).toEqual(['d***@example.com']);
    const full = (await (await s.api('/api/v1/subscriptions', { token: ADMIN })).json()) as { items: { address: string }[] };
    expect(full.items.map((x) => x.address)).toEqual(['dave@example.com']);

    const body = JSON.stringify({ page: 'public', url: 'https://hooks.example.com/x/secret-path-token', components: ['shop'] });
    expect((await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', token: readToken, body })).status).toBe(403);
    const created = await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', body });
    expect(created.status).toBe(201);
    const hook = (await created.json()) as { id: number; secret: string; services: string[] };
    expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(hook.services).toEqual(['web']);
    const listed = await (await s.api('/api/v1/subscriptions?kind=webhook', { token: readToken })).text();
    expect(listed).not.toContain(hook.secret);
    expect(listed).not.toContain('secret-path-token');
    expect(listed).toContain('https://hooks.example.com/…');
    const events = await (await s.api('/api/v1/events?limit=50')).text();
    expect(events).not.toContain(hook.secret);
    expect(events).not.toContain('dave@example.com');
    // at rest: the secret and the link key are sealed with the data directory's key (0600, outside the store)
    const row = await s.store.db.selectFrom('subscribers').select('secret').where('id', '=', hook.id).executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^s1\./);
    expect(row.secret).not.toContain(hook.secret);
    const atRest = AtRest.forServer(join(s.dir, 'data'), {});
    expect(atRest.source).toBe(join(s.dir, 'data', 'secret.key'));
    expect(atRest.open(`the signing secret of webhook subscriber ${hook.id}`, row.secret as string).value).toBe(hook.secret);
    const linkKey = await s.store.db.selectFrom('subscription_meta').select('value').where('name', '=', 'link_key').executeTakeFirstOrThrow();
    expect(linkKey.value).toMatch(/^s1\./);

    const dup = await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', body });
    expect(dup.status).toBe(409);
    const ftp = await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', body: JSON.stringify({ page: 'public', url: 'ftp://x.example.com/' }) });
    expect(ftp.status).toBe(400);
    expect(ftp.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await ftp.json()) as { detail: string }).detail).toContain('body.url');
    const comp = await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', body: JSON.stringify({ page: 'public', url: 'https://y.example.com/', components: ['nope'] }) });
    expect(((await comp.json()) as { detail: string }).detail).toContain('body.components.0: no component "nope"');
    const internal = await s.api('/api/v1/subscriptions/webhooks', { method: 'POST', body: JSON.stringify({ page: 'internal', url: 'https://y.example.com/' }) });
    expect(internal.status).toBe(404);

    expect((await s.api(`/api/v1/subscriptions/${hook.id}`, { method: 'DELETE', token: readToken })).status).toBe(403);
    expect((await s.api(`/api/v1/subscriptions/${hook.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await s.api(`/api/v1/subscriptions/${hook.id}`, { method: 'DELETE' })).status).toBe(404);
    const deliveries = await s.api('/api/v1/subscriptions/deliveries?status=sent', { token: readToken });
    expect(deliveries.status).toBe(200);
    expect(((await deliveries.json()) as { items: { kind: string }[] }).items.map((d) => d.kind)).toEqual(['confirm', 'confirm']);
  });

  it('`shipshape subscriptions webhook|list|remove` talk to the running server', async () => {
    const made = await cli(['subscriptions', 'webhook', '--page', 'public', '--target', 'https://cli.example.com/hook', '--component', 'Database', '--url', s.url, '--token', ADMIN, '--json']);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const hook = JSON.parse(made.stdout) as { id: number; secret: string; services: string[] };
    expect(hook).toMatchObject({ services: ['db'], secret: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const list = await cli(['subscriptions', 'list', '--kind', 'webhook', '--url', s.url, '--token', readToken]);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(`${hook.id}  public  webhook  confirmed  https://cli.example.com/…  [db]`);
    const bad = await cli(['subscriptions', 'webhook', '--page', 'public', '--target', 'https://cli2.example.com/', '--component', 'nope', '--url', s.url, '--token', ADMIN]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('no component "nope"');
    const removed = await cli(['subscriptions', 'remove', String(hook.id), '--url', s.url, '--token', ADMIN]);
    expect(removed.status).toBe(0);
    expect(removed.stdout).toContain(`removed subscriber ${hook.id}`);
    expect((await cli(['subscriptions', 'list', '--url', s.url])).stderr).toContain('needs an API token');
  }, 120_000); // five CLI processes on a busy machine

  it('the form is rate-limited per client (an HTML page with Retry-After)', async () => {
    let r: Response | undefined;
    for (let i = 0; i < 12; i++) {
      r = await form(s, '/status/subscribe', `email=flood${i}%40example.com`);
      if (r.status === 429) break;
    }
    expect(r!.status).toBe(429);
    expect(r!.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await r!.text()).toContain('Too many requests');
  });
});
