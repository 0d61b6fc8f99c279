/**
 * Subscriptions assembled from the real modules (checks, notify, incidents, statuspage) on a fake
 * clock, with a real SMTP server on loopback that is down and comes back, a real webhook receiver,
 * and both stores: nothing is lost across an SMTP outage or a restart, nothing is sent twice, a
 * subscriber to one component hears nothing about another, links are checked.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { checks } from '../../src/checks/index.js';
import { EventLog } from '../../src/core/events.js';
import type { AnyModule, ModuleInstance } from '../../src/core/module.js';
import { incidents, type IncidentsDomain } from '../../src/incidents/index.js';
import { createMaintenance, maintenance } from '../../src/maintenance/index.js';
import { parseConfig, type RootStore } from '../../src/modules.js';
import { createNotify, notify, type NotifyDomain } from '../../src/notify/index.js';
import { statuspage } from '../../src/statuspage/index.js';
import { createSubscriptions } from '../../src/subscriptions/index.js';
import { moduleContext } from '../helpers/module-context.js';
import { storeTargets } from '../helpers/stores.js';
import { mailHeader } from '../notify/helpers.js';
import { decodeMail, freePort, linkIn } from './helpers.js';

const yaml = (smtpPort: number) => `
services:
  web: { description: The shop }
  db: {}
notify:
  external_url: https://status.example.com
  channels:
    mail: { email: { to: [ops@example.com], from: "Status <status@example.com>", smtp: "smtp://127.0.0.1:${smtpPort}" } }
status_pages:
  public:
    title: "Acme <b>Status</b>"
    components:
      - { service: web, name: Shop }
      - { service: db, name: Database }
subscriptions:
  email_channel: mail
  notify_on_open: false
`;

interface Mail {
  to: string[];
  raw: string;
}

/** A real SMTP server on a fixed loopback port (so it can be "down", then come back on the same port). */
async function smtpOn(port: number): Promise<{ mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((t) => t.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const tokenOf = (link: string) => link.slice(link.lastIndexOf('/') + 1);

for (const target of storeTargets) {
  describe(`subscription deliveries (${target.name})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      cleanups.length = 0;
    });

    async function setup() {
      const loc = await target.make();
      const store: RootStore = await loc.open();
      cleanups.push(loc.cleanup, () => store.close());
      const port = await freePort();
      const clock = { t: Date.parse('2026-05-04T10:00:00Z') };
      const events = new EventLog(store, () => clock.t);
      const config = parseConfig(yaml(port), 'test.yaml', { env: {} });
      const made = new Map<AnyModule, unknown>();
      const ctx = () => moduleContext({ store, events, config: () => config, now: () => clock.t, use: (<A>(m: AnyModule) => made.get(m) as A) as never });
      const chk = (await checks.create(ctx())) as ModuleInstance;
      made.set(checks, chk);
      const nfy = createNotify(ctx(), { tickMs: 0, random: () => 0.5 }) as NotifyDomain;
      made.set(notify, nfy);
      const inc = (await incidents.create(ctx())) as IncidentsDomain;
      made.set(incidents, inc);
      // the maintenance module's windows are read by the status page (its timer is not started: events are written by hand here)
      made.set(maintenance, createMaintenance(ctx()));
      const sp = (await statuspage.create(ctx())) as ModuleInstance;
      made.set(statuspage, sp);
      // the checks monitor is not started (no probes here): components show as operational
      for (const m of [nfy, inc, sp]) await m.start?.();
      const subs = { current: createSubscriptions(ctx(), { tickMs: 0, random: () => 0.5 }) };
      await subs.current.start!();
      cleanups.push(async () => {
        await subs.current.stop!();
        for (const m of [sp, inc, nfy]) await m.stop?.();
      });
      const restart = async () => {
        await subs.current.stop!();
        subs.current = createSubscriptions(ctx(), { tickMs: 0, random: () => 0.5 });
        await subs.current.start!();
      };
      return { store, clock, port, inc, subs, restart, events };
    }

    /** subscribe and confirm an address (SMTP must be up) */
    async function confirmed(env: Awaited<ReturnType<typeof setup>>, mails: Mail[], address: string, components: string[] = []): Promise<{ unsubscribe: string }> {
      const before = mails.length;
      await env.subs.current.service.subscribe('public', address, components);
      await env.subs.current.settled();
      expect(mails.length).toBe(before + 1);
      const mail = mails[mails.length - 1]!;
      expect(mail.to).toEqual([address]);
      const r = await env.subs.current.service.confirm('public', tokenOf(linkIn(mail.raw, '/subscriptions/confirm/')));
      expect(r.result).toBe('confirmed');
      return { unsubscribe: linkIn(mail.raw, '/subscriptions/unsubscribe/') };
    }

    it('an SMTP server that is down delays mail, never loses it: the confirmation and an incident update arrive once, across a restart between the event and the delivery', async () => {
      const env = await setup();
      const svc = () => env.subs.current.service;

      // the SMTP server is down: the confirmation mail waits
      await svc().subscribe('public', 'ann@example.com', []);
      await env.subs.current.settled();
      let [d] = (await svc().deliveries({ limit: 10 })).items;
      expect(d).toMatchObject({ kind: 'confirm', status: 'pending', attempts: 1, last_error: expect.stringMatching(/ECONNREFUSED|connect/) });

      // it comes back; the retry (after the 10 s backoff) delivers the confirmation once, from the
      // timer's round (which asks the store only once a delivery may be due)
      const smtp = await smtpOn(env.port);
      cleanups.push(() => smtp.close());
      env.clock.t += 5_000;
      await env.subs.current.periodic();
      expect(smtp.mails).toHaveLength(0); // not due yet
      env.clock.t += 10_000;
      await env.subs.current.periodic();
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(1);
      expect(mailHeader(smtp.mails[0]!.raw, 'subject')).toBe('Confirm your subscription to Acme <b>Status</b>');
      const confirm = linkIn(smtp.mails[0]!.raw, '/subscriptions/confirm/');
      expect(confirm.startsWith('https://status.example.com/status/subscriptions/confirm/')).toBe(true);
      await expect(svc().confirm('public', tokenOf(confirm))).resolves.toMatchObject({ result: 'confirmed' });

      // the SMTP server goes down again; Shipshape (this module) is stopped when the update is posted
      await smtp.close();
      await env.subs.current.stop!();
      const opened = await env.inc.service.open({ title: 'Checkout <script>alert(1)</script> fails', severity: 'P1', services: ['web'] }, 'token:ci');
      await env.inc.service.postUpdate(opened.id, { status: 'identified', message: 'A bad deploy & a <i>cache</i>; rolling back.' }, 'token:ci');
      await env.inc.settled();
      // it starts again: the events after its cursor are fanned out; the send fails (SMTP down) and is kept
      await env.restart();
      await env.subs.current.settled();
      const pending = (await svc().deliveries({ limit: 10 })).items.filter((x) => x.kind === 'notice');
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatchObject({ event_type: 'incident.update', status: 'pending', attempts: 1 });

      // a restart while the delivery waits keeps it; the SMTP server returns; it arrives once
      await env.restart();
      const back = await smtpOn(env.port);
      cleanups.push(() => back.close());
      env.clock.t += 60_000;
      await env.subs.current.tick();
      await env.subs.current.settled();
      env.clock.t += 3_600_000;
      await env.subs.current.tick();
      await env.subs.current.settled();
      expect(back.mails).toHaveLength(1);
      const mail = back.mails[0]!;
      expect(mail.to).toEqual(['ann@example.com']);
      expect(mailHeader(mail.raw, 'subject')).toBe('[Acme <b>Status</b>] Checkout <script>alert(1)</script> fails — Identified');
      // RFC 8058 one-click unsubscribe
      expect(mailHeader(mail.raw, 'list-unsubscribe')).toMatch(/^<https:\/\/status\.example\.com\/status\/subscriptions\/unsubscribe\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>$/);
      expect(mailHeader(mail.raw, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
      // HTML in the incident title, the update and the page title is escaped in the HTML part
      // (the plain-text part carries the text as written: it is not markup)
      const body = decodeMail(mail.raw).split('Content-Type: text/html')[1] ?? '';
      expect(body).toContain('Checkout &lt;script&gt;alert(1)&lt;/script&gt; fails');
      expect(body).toContain('A bad deploy &amp; a &lt;i&gt;cache&lt;/i&gt;; rolling back.');
      expect(body).toContain('Acme &lt;b&gt;Status&lt;/b&gt;');
      expect(body).not.toMatch(/<script>|<i>cache/);
      expect(body).toContain('https://status.example.com/status/incidents/');
      d = (await svc().deliveries({ limit: 10 })).items.find((x) => x.kind === 'notice');
      expect(d).toMatchObject({ status: 'sent', attempts: 2 });
    });

    it('a subscriber to one component is not mailed about an incident on another; a resolution is told once; maintenance reaches the services it touches', async () => {
      const env = await setup();
      const smtp = await smtpOn(env.port);
      cleanups.push(() => smtp.close());
      await confirmed(env, smtp.mails, 'shop@example.com', ['shop']);
      await confirmed(env, smtp.mails, 'all@example.com');
      smtp.mails.length = 0;

      const dbInc = await env.inc.service.open({ title: 'Database slow', severity: 'P2', services: ['db'] }, 'token:ci');
      await env.inc.service.postUpdate(dbInc.id, { status: 'investigating', message: 'Queries are slow.' }, 'token:ci');
      await env.inc.settled();
      await env.subs.current.settled();
      expect(smtp.mails.map((m) => m.to[0])).toEqual(['all@example.com']);

      // resolving by posting a "resolved" update: one mail (with its text), not two
      await env.inc.service.postUpdate(dbInc.id, { status: 'resolved', message: 'Fixed the index.' }, 'token:ci');
      await env.inc.settled();
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(2);
      expect(mailHeader(smtp.mails[1]!.raw, 'subject')).toBe('[Acme <b>Status</b>] Database slow — Resolved');
      expect(decodeMail(smtp.mails[1]!.raw)).toContain('Fixed the index.');

      // an incident on the shop reaches both; resolving it without an update still tells them
      const webInc = await env.inc.service.open({ title: 'Shop down', severity: 'P1', services: ['web'] }, 'token:ci');
      await env.inc.service.resolve(webInc.id, 'token:ci', 'internal note: not for subscribers');
      await env.inc.settled();
      await env.subs.current.settled();
      const resolved = smtp.mails.slice(2);
      expect(resolved.map((m) => m.to[0]).sort()).toEqual(['all@example.com', 'shop@example.com']);
      for (const m of resolved) {
        expect(mailHeader(m.raw, 'subject')).toBe('[Acme <b>Status</b>] Shop down — Resolved');
        expect(decodeMail(m.raw)).not.toContain('internal note');
      }

      // it comes back: those told it was resolved hear it was re-opened (not the internal note)
      smtp.mails.length = 0;
      await env.inc.service.reopen(webInc.id, 'token:ci', 'internal: the cache again');
      await env.inc.settled();
      await env.subs.current.settled();
      expect(smtp.mails.map((m) => m.to[0]).sort()).toEqual(['all@example.com', 'shop@example.com']);
      for (const m of smtp.mails) {
        expect(mailHeader(m.raw, 'subject')).toBe('[Acme <b>Status</b>] Shop down — Investigating');
        expect(decodeMail(m.raw)).toContain('This incident was re-opened');
        expect(decodeMail(m.raw)).not.toContain('the cache again');
      }

      // maintenance of the database (the maintenance module's event): only the all-components subscriber
      smtp.mails.length = 0;
      await env.events.append({ type: 'maintenance.started', actor: 'schedule', subject: 'maintenance:7', data: { id: 7, title: 'Database upgrade', message: 'Postgres 17.', services: ['db'], starts_at: '2026-05-04T10:00:00.000Z', ends_at: '2026-05-04T12:00:00.000Z', status: 'in_progress' } });
      await env.subs.current.settled();
      expect(smtp.mails.map((m) => m.to[0])).toEqual(['all@example.com']);
      expect(mailHeader(smtp.mails[0]!.raw, 'subject')).toBe('[Acme <b>Status</b>] Maintenance: Database upgrade — Maintenance in progress');
      expect(decodeMail(smtp.mails[0]!.raw)).toContain('Postgres 17.');
      await env.events.append({ type: 'maintenance.ended', actor: 'schedule', subject: 'maintenance:8', data: { id: 8, title: 'Shop deploy', services: ['web'], starts_at: '2026-05-04T10:00:00.000Z', ends_at: '2026-05-04T10:30:00.000Z', status: 'completed' } });
      await env.subs.current.settled();
      expect(smtp.mails.slice(1).map((m) => m.to[0]).sort()).toEqual(['all@example.com', 'shop@example.com']);

      // a component changing status is for webhooks (component_update), not mail
      const mailed = smtp.mails.length;
      await env.events.append({ type: 'service.state', actor: 'schedule', subject: 'service:db', data: { service: 'db', check: null, from: 'up', to: 'down', reason: 'gone', at: '2026-05-04T10:01:00.000Z' } });
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(mailed);

      // nothing is sent twice, however often it ticks or restarts
      const count = smtp.mails.length;
      await env.restart();
      env.clock.t += 3_600_000;
      await env.subs.current.tick();
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(count);
    });

    it('links: a replayed confirm link changes nothing, a confirm link after unsubscribing does not re-subscribe, tampered and expired links are refused; the form cannot flood an address', async () => {
      const env = await setup();
      const smtp = await smtpOn(env.port);
      cleanups.push(() => smtp.close());
      const svc = () => env.subs.current.service;
      await svc().subscribe('public', 'bob@example.com', []);
      await env.subs.current.settled();
      const confirm = tokenOf(linkIn(smtp.mails[0]!.raw, '/subscriptions/confirm/'));
      const unsubscribe = tokenOf(linkIn(smtp.mails[0]!.raw, '/subscriptions/unsubscribe/'));

      // the form sent again and again within the hour: no second mail
      for (let i = 0; i < 5; i++) await svc().subscribe('public', 'bob@example.com', []);
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(1);

      await expect(svc().confirm('public', confirm)).resolves.toMatchObject({ result: 'confirmed' });
      await expect(svc().confirm('public', confirm)).resolves.toMatchObject({ result: 'already' });
      expect((await env.events.list({ limit: 50, type: 'subscription.confirmed' })).length).toBe(1);

      // tampered: one character of the signature or of the claims changed
      const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
      await expect(svc().unsubscribe('public', flip(unsubscribe, unsubscribe.length - 3))).rejects.toMatchObject({ status: 400 });
      await expect(svc().unsubscribe('public', flip(unsubscribe, 2))).rejects.toMatchObject({ status: 400 });
      // a confirm link is not an unsubscribe link
      await expect(svc().unsubscribe('public', confirm)).rejects.toMatchObject({ status: 400 });
      expect((await svc().list({ limit: 10 }, true)).items).toMatchObject([{ address: 'bob@example.com', state: 'confirmed' }]);

      await expect(svc().unsubscribe('public', unsubscribe)).resolves.toBe('unsubscribed');
      await expect(svc().unsubscribe('public', unsubscribe)).resolves.toBe('gone');
      // the old confirm link cannot bring the subscription back
      await expect(svc().confirm('public', confirm)).rejects.toMatchObject({ status: 410 });
      expect((await svc().list({ limit: 10 }, true)).items).toEqual([]);

      // subscribe again after the hour; the new confirm link expires after confirm_ttl (48h)
      env.clock.t += 3_600_000;
      await svc().subscribe('public', 'bob@example.com', []);
      await env.subs.current.settled();
      expect(smtp.mails).toHaveLength(2);
      const again = tokenOf(linkIn(smtp.mails[1]!.raw, '/subscriptions/confirm/'));
      env.clock.t += 48 * 3_600_000 + 1;
      await expect(svc().confirm('public', again)).rejects.toMatchObject({ status: 410, heading: 'This link has expired' });
    });

    it('webhook subscribers get the Statuspage shape, signed with their own secret (HMAC-SHA256 of the body)', async () => {
      const env = await setup();
      const got: { headers: IncomingMessage['headers']; body: string }[] = [];
      const server: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
          res.writeHead(got.length === 1 ? 503 : 204).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/statuspage`;
      const hook = await env.subs.current.service.createWebhook({ page: 'public', url, components: ['Database'] }, 'token:ci');
      expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);
      const listed = await env.subs.current.service.list({ limit: 10 }, false);
      expect(JSON.stringify(listed)).not.toContain(hook.secret);
      expect(listed.items[0]).toMatchObject({ kind: 'webhook', address: `http://127.0.0.1:${(server.address() as { port: number }).port}/…`, services: ['db'] });

      const web = await env.inc.service.open({ title: 'Shop down', severity: 'P1', services: ['web'] }, 'token:ci');
      await env.inc.service.postUpdate(web.id, { status: 'investigating', message: 'Looking.' }, 'token:ci');
      const db = await env.inc.service.open({ title: 'DB failover', severity: 'P0', services: ['db'] }, 'token:ci');
      await env.inc.service.postUpdate(db.id, { status: 'monitoring', message: 'Failed over to the replica.' }, 'token:ci');
      await env.inc.settled();
      await env.subs.current.settled();
      // the receiver answered 503 once: retried after the backoff, then delivered
      expect(got).toHaveLength(1);
      env.clock.t += 15_000;
      await env.subs.current.tick();
      await env.subs.current.settled();
      expect(got).toHaveLength(2);
      const last = got[1]!;
      const withoutTime = (b: string) => b.replace(/"generated_at":"[^"]+"/, '')
      expect(withoutTime(last.body)).toBe(withoutTime(got[0]!.body)); // the same notice, sent again
      const sig = createHmac('sha256', hook.secret).update(last.body).digest('hex');
      expect(last.headers['x-shipshape-signature']).toBe(`sha256=${sig}`);
      expect(createHmac('sha256', 'another secret').update(last.body).digest('hex')).not.toBe(sig);
      expect(last.headers['x-shipshape-event']).toBe('incident.update');
      const payload = JSON.parse(last.body) as { meta: { unsubscribe: string }; page: { id: string; status_indicator: string; status_description: string }; incident: { id: string; name: string; status: string; impact: string; shortlink: string; incident_updates: { status: string; body: string }[]; components: { id: string; name: string }[] } };
      expect(payload.page).toMatchObject({ id: 'public', status_indicator: 'critical' });
      expect(payload.incident).toMatchObject({ id: String(db.id), name: 'DB failover', status: 'monitoring', impact: 'critical', shortlink: `https://status.example.com/status/incidents/${db.id}` });
      expect(payload.incident.incident_updates[0]).toMatchObject({ status: 'monitoring', body: 'Failed over to the replica.' });
      expect(payload.incident.components.map((c) => c.name)).toEqual(['Database']);
      expect(payload.meta.unsubscribe).toMatch(/^https:\/\/status\.example\.com\/status\/subscriptions\/unsubscribe\//);

      // a component's status changes: a Statuspage component_update for the components it follows only
      await env.events.append({ type: 'service.state', actor: 'schedule', subject: 'service:web', data: { service: 'web', check: null, from: 'up', to: 'down', reason: 'shop is down', at: '2026-05-04T10:00:20.000Z' } });
      await env.events.append({ type: 'service.state', actor: 'schedule', subject: 'service:db', data: { service: 'db', check: null, from: 'up', to: 'degraded', reason: 'slow', at: '2026-05-04T10:00:21.000Z' } });
      await env.subs.current.settled();
      expect(got).toHaveLength(3);
      const cu = JSON.parse(got[2]!.body) as { component_update: { component_id: string; old_status: string; new_status: string; created_at: string }; component: { name: string; status: string }; page: { id: string } };
      expect(got[2]!.headers['x-shipshape-event']).toBe('service.state');
      expect(cu.component_update).toMatchObject({ old_status: 'operational', new_status: 'degraded_performance', component_id: payload.incident.components[0]!.id });
      expect(cu.component).toMatchObject({ name: 'Database', status: 'degraded_performance' });
      expect(createHmac('sha256', hook.secret).update(got[2]!.body).digest('hex')).toBe(String(got[2]!.headers['x-shipshape-signature']).slice(7));
    });
  });
}
