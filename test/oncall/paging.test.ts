import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events.js';
import type { AnyModule } from '../../src/core/module.js';
import { createIncidents, incidents, type IncidentsDomain } from '../../src/incidents/index.js';
import { parseConfig, type RootStore } from '../../src/modules.js';
import { createNotify, notify, type NotifyDomain } from '../../src/notify/index.js';
import { createOncall, type OncallDomain } from '../../src/oncall/index.js';
import { moduleContext } from '../helpers/module-context.js';
import { storeTargets } from '../helpers/stores.js';
import { SMTPServer } from 'smtp-server';
import { mailHeader } from '../notify/helpers.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const yaml = (port: number) => `
notify:
  channels:
    mail: { email: { to: [ops@example.com], from: "Shipshape <pager@example.com>", smtp: "smtp://127.0.0.1:${port}" } }
people:
  alice: { name: Alice, email: alice@example.com }
  lead: { name: Lea, email: lead@example.com }
oncall:
  email_channel: mail
  link_ttl: 1h
  check_every: 1h
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice] }]
  escalation:
    default:
      steps:
        - { after: 0m, notify: [schedule:primary] }
        - { after: 10m, notify: [person:lead] }
      repeat: 1
      repeat_after: 1h
`;

for (const target of storeTargets) {
  describe(`paging by email, restarts and expiry (${target.name})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
      cleanups.length = 0;
    });

    it('a page sent while the SMTP server is down is queued, retried and delivered after it returns; a restart resumes the escalation; an expired link is refused', async () => {
      const loc = await target.make();
      const store: RootStore = await loc.open();
      cleanups.push(loc.cleanup, () => store.close());
      const port = await freePort();
      const clock = { t: Date.parse('2026-03-29T10:00:00Z') };
      const events = new EventLog(store, () => clock.t);
      const config = parseConfig(yaml(port), 'test.yaml', { env: {} });
      const made = new Map<AnyModule, unknown>();
      const ctx = () => moduleContext({ store, events, config: () => config, now: () => clock.t, use: (<A>(m: AnyModule) => made.get(m) as A) as never });
      const inc = createIncidents(ctx()) as IncidentsDomain;
      const nfy = createNotify(ctx(), { tickMs: 0, random: () => 0.5 }) as NotifyDomain;
      made.set(incidents, inc);
      made.set(notify, nfy);
      await inc.start!();
      await nfy.start!();
      let oc: OncallDomain = createOncall(ctx());
      await oc.start!();
      cleanups.push(async () => {
        await oc.stop!();
        await nfy.stop!();
        await inc.stop!();
      });

      const opened = await inc.service.open({ title: 'Checkout fails', severity: 'P1' }, 'token:ci');
      await oc.settled();
      await nfy.queue.idle();
      const [row] = await nfy.queue.list({ limit: 10 });
      expect(row).toMatchObject({ channel: 'mail', status: 'pending', attempts: 1, last_error: expect.stringMatching(/ECONNREFUSED|connect/) });

      // the SMTP server comes back; the retry (10s backoff) delivers the page to alice's own address
      // a real SMTP server (smtp-server, like test/notify's startSmtp) on the configured port
      const mails: { to: string[]; raw: string }[] = [];
      const back = new SMTPServer({
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
      await new Promise<void>((r) => back.listen(port, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => back.close(() => r())));
      clock.t += 15_000;
      await nfy.tick();
      await nfy.queue.idle();
      expect(mails).toHaveLength(1);
      expect(mails[0]!.to).toEqual(['alice@example.com']);
      expect(mailHeader(mails[0]!.raw, 'subject')).toContain(`${opened.ref} Checkout fails (P1) — Alice, you are paged (schedule:primary, step 1)`);
      expect(mails[0]!.raw).toContain('Acknowledge:');
      expect((await nfy.queue.list({ limit: 10 }))[0]).toMatchObject({ status: 'sent', attempts: 2 });

      // restart on-call: the stored escalation resumes, step 2 is due 10 minutes after opening
      await oc.stop!();
      oc = createOncall(ctx());
      await oc.start!();
      expect((await oc.service.escalations(opened.id))[0]).toMatchObject({ state: 'active', next_step: 2, next_at: new Date(Date.parse('2026-03-29T10:10:00Z')).toISOString() });
      clock.t = Date.parse('2026-03-29T10:10:00Z');
      expect(await oc.tick()).toBe(1);
      await nfy.queue.idle();
      expect(mails.map((m) => m.to[0])).toEqual(['alice@example.com', 'lead@example.com']);

      // the links expire after link_ttl: refused (410), nothing changes
      const payloads = await store.db.selectFrom('notify_queue').select('payload').orderBy('id').execute();
      const ackUrl = (JSON.parse(payloads[0]!.payload as string) as { alerts: { annotations: { ack_url: string } }[] }).alerts[0]!.annotations.ack_url;
      const token = ackUrl.slice(ackUrl.lastIndexOf('/') + 1);
      clock.t = Date.parse('2026-03-29T11:00:00Z') + 1;
      await expect(oc.service.useLink(token)).rejects.toMatchObject({ status: 410 });
      expect((await inc.service.get(opened.id)).state).toBe('triggered');
      // the lead's link (sent at 10:10) is still good
      const leadUrl = (JSON.parse(payloads[1]!.payload as string) as { alerts: { annotations: { ack_url: string } }[] }).alerts[0]!.annotations.ack_url;
      await expect(oc.service.useLink(leadUrl.slice(leadUrl.lastIndexOf('/') + 1))).resolves.toMatchObject({ state: 'acknowledged', acknowledged_by: 'person:lead' });
      await oc.settled();
      expect((await oc.service.escalations(opened.id))[0]).toMatchObject({ state: 'stopped', stop_reason: 'acknowledged by person:lead' });
    });
  });
}
