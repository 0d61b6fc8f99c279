import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import type { Incident } from '../../src/incidents/index.js';
import type { Escalation, OnCallNow } from '../../src/oncall/index.js';
import { startReceiver, type Receiver } from '../notify/helpers.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const BIN = resolve('bin/shipshape.js');
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

interface Page {
  alerts: { labels: Record<string, string>; annotations: Record<string, string> }[];
}

describe('on-call against a running server', () => {
  let s: TestServer;
  let recv: Receiver;
  const post = (path: string, body?: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body ?? {}) });
  const open = async (title: string): Promise<Incident> => {
    const r = await post('/api/v1/incidents', { title, severity: 'P1' });
    expect(r.status).toBe(201);
    return (await r.json()) as Incident;
  };
  const pagesFor = (who: string, ref: string) => recv.requests.filter((q) => q.path === `/${who}` && (q.json() as unknown as Page).alerts[0]!.labels.incident === ref);
  const escalation = async (id: number) => ((await (await s.api(`/api/v1/oncall/escalations/${id}`)).json()) as { items: Escalation[] }).items[0]!;
  const eventsOf = async (id: number): Promise<EventRecord[]> => ((await (await s.api(`/api/v1/events?subject=incident:${id}&limit=500`)).json()) as { items: EventRecord[] }).items.reverse();

  beforeAll(async () => {
    recv = await startReceiver();
    s = await startTestServer(`
notify:
  channels:
    alice-chat: { webhook: { url: "${recv.url}/alice" } }
    lead-chat: { webhook: { url: "${recv.url}/lead" } }
people:
  alice: { name: Alice, channels: [alice-chat] }
  bob: { name: Bob, channels: [alice-chat] }
  lead: { name: Lea, channels: [lead-chat] }
oncall:
  check_every: 100ms
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2020-01-06, people: [alice] }]
    rota:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2026-03-23, people: [alice, bob] }]
  escalation:
    default:
      steps:
        - { after: 0s, notify: [schedule:primary] }
        - { after: 1s, notify: [person:lead] }
      repeat: 1
      repeat_after: 1h
`);
  });
  afterAll(async () => {
    await s?.close();
    await recv?.close();
  });

  it('pages the on-call through a webhook channel, escalates when nobody acks, and an ack link stops it and acknowledges as person:alice', async () => {
    const inc = await open('Checkout fails');
    const [first] = await until('the page to alice', async () => pagesFor('alice', inc.ref).length > 0 && pagesFor('alice', inc.ref));
    const page = first!.json() as unknown as Page;
    expect(page.alerts[0]!.annotations.summary).toMatch(new RegExp(`${inc.ref} Checkout fails \\(P1\\) — Alice, you are paged \\(schedule:primary, step 1\\)`));
    // links start with notify.external_url (else the configured server address; this server listens on a random port)
    expect(page.alerts[0]!.annotations.ack_url).toMatch(/^http:\/\/127\.0\.0\.1:4600\/api\/v1\/oncall\/ack\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const here = (u: string) => u.replace('http://127.0.0.1:4600', s.url);
    const ackUrl = here(page.alerts[0]!.annotations.ack_url!);

    // nobody acknowledges: step 2 pages the lead
    await until('the page to the lead', async () => pagesFor('lead', inc.ref).length > 0);
    const leadPage = pagesFor('lead', inc.ref)[0]!.json() as unknown as Page;

    // GET shows a confirm page and changes nothing
    const confirm = await fetch(ackUrl);
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('content-type')).toMatch(/text\/html/);
    expect(await confirm.text()).toContain(`Acknowledge ${inc.ref}?`);
    expect(((await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident).state).toBe('triggered');

    const acked = await fetch(ackUrl, { method: 'POST' });
    expect(acked.status).toBe(200);
    expect((await acked.json()) as Incident).toMatchObject({ state: 'acknowledged', acknowledged_by: 'person:alice' });
    const esc = await until('the escalation to stop', async () => {
      const e = await escalation(inc.id);
      return e.state === 'stopped' && e;
    });
    expect(esc).toMatchObject({ policy: 'default', state: 'stopped', stop_reason: 'acknowledged by person:alice', next_at: null });
    expect(esc.pages.map((p) => [p.person, p.via, p.step])).toEqual([
      ['alice', 'schedule:primary', 1],
      ['lead', 'person:lead', 2],
    ]);
    const types = (await eventsOf(inc.id)).map((e) => `${e.type} ${e.actor}`);
    expect(types).toEqual(
      expect.arrayContaining(['oncall.step system', 'oncall.paged system', 'incident.acknowledged person:alice', 'oncall.link_used person:alice', 'oncall.escalation_stopped person:alice']),
    );
    // no event or log line carries a link
    expect(JSON.stringify(await eventsOf(inc.id))).not.toContain('/api/v1/oncall/ack/');

    // replayed: refused, nothing changes
    const replay = await fetch(ackUrl, { method: 'POST' });
    expect(replay.status).toBe(409);
    expect(replay.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await replay.json()).toMatchObject({ detail: expect.stringMatching(/already used/) });

    // tampered: a changed signature, or a payload naming another incident, is refused
    const resolveUrl = here(leadPage.alerts[0]!.annotations.resolve_url!);
    const [base, sig] = [resolveUrl.slice(0, resolveUrl.lastIndexOf('.')), resolveUrl.slice(resolveUrl.lastIndexOf('.') + 1)];
    const flipped = `${base}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect((await fetch(flipped, { method: 'POST' })).status).toBe(403);
    const token = resolveUrl.slice(resolveUrl.lastIndexOf('/') + 1);
    const otherNonce = `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`;
    expect((await fetch(`${s.url}/api/v1/oncall/ack/${otherNonce}`, { method: 'POST' })).status).toBe(403);
    // alice's spent ack link's nonce with the lead's signature
    const aliceNonce = ackUrl.slice(ackUrl.lastIndexOf('/') + 1).split('.')[0]!;
    expect((await fetch(`${s.url}/api/v1/oncall/ack/${aliceNonce}.${token.split('.')[1]}`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${s.url}/api/v1/oncall/ack/garbage`)).status).toBe(403);
    expect(((await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident).state).toBe('acknowledged');

    // the lead's own resolve link still works (once)
    const res = await fetch(resolveUrl, { method: 'POST' });
    expect((await res.json()) as Incident).toMatchObject({ state: 'resolved' });
    expect((await fetch(resolveUrl, { method: 'POST' })).status).toBe(409);

    // the post-mortem's timeline tells the paging story in sentences, not event names
    const pm = await (await s.api(`/api/v1/incidents/${inc.id}/postmortem`)).text();
    expect(pm).not.toMatch(/oncall\.[a-z_]+/);
    expect(pm).toContain('escalation started: policy default, 2 steps, repeated 1 time');
    expect(pm).toContain('escalation step 1: paging alice');
    expect(pm).toContain('paged alice (on call in primary) by alice-chat');
    expect(pm).toContain('paged lead (named in the policy) by lead-chat');
    expect(pm).toContain('escalation stopped: acknowledged by person:alice');
    expect(pm).toContain(`alice acknowledged ${inc.ref} from the link in the page`);
    expect(pm).toContain(`lead resolved ${inc.ref} from the link in the page`);
  });

  it('an ack before the next step stops the escalation: the lead is never paged', async () => {
    // alice acks by API as soon as her page arrives
    const inc = await open('Search slow');
    await until('the page to alice', async () => pagesFor('alice', inc.ref).length > 0);
    await post(`/api/v1/incidents/${inc.id}/acknowledge`);
    const esc = await until('the escalation to stop', async () => {
      const e = await escalation(inc.id);
      return e.state !== 'active' && e;
    });
    expect(esc.pages.map((p) => p.person)).toEqual(['alice']);
    expect(esc.stop_reason).toMatch(/^acknowledged by token:admin/);
  });

  it('answers who is on call now / at T, across the spring change', async () => {
    const at = (t: string) => s.api(`/api/v1/oncall/now?schedule=rota&at=${encodeURIComponent(t)}`).then(async (r) => ((await r.json()) as { items: OnCallNow[] }).items[0]!);
    expect(await at('2026-03-30T08:59:00+02:00')).toMatchObject({ schedule: 'rota', person: 'alice', name: 'Alice', since: '2026-03-23T08:00:00.000Z', until: '2026-03-30T07:00:00.000Z', time_zone: 'Europe/Berlin' });
    expect(await at('2026-03-30T09:00:00+02:00')).toMatchObject({ person: 'bob', since: '2026-03-30T07:00:00.000Z', until: '2026-04-06T07:00:00.000Z' });
    const all = ((await (await s.api('/api/v1/oncall/now')).json()) as { items: OnCallNow[] }).items;
    expect(all.map((i) => i.schedule)).toEqual(['primary', 'rota']);
    expect(all[0]).toMatchObject({ person: 'alice' });
    expect((await s.api('/api/v1/oncall/now?schedule=nope')).status).toBe(404);
    expect((await s.api('/api/v1/oncall/now', { token: null })).status).toBe(401);
  });

  it('serves iCal per schedule and per person that ical.js reads, every hand-off at 09:00 Berlin time across DST', async () => {
    const r = await s.api('/api/v1/oncall/schedules/rota/calendar.ics?days=400');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/calendar/);
    const cal = new ICAL.Component(ICAL.parse(await r.text()) as unknown[]);
    const events = cal.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(events.length).toBeGreaterThan(50);
    const local = (d: Date) => DateTime.fromJSDate(d, { zone: 'Europe/Berlin' });
    // inner events (not cut by the window) start and end on Monday 09:00 local, summer and winter alike
    const inner = events.slice(1, -1);
    const offsets = new Set<number>();
    for (const e of inner) {
      for (const d of [e.startDate.toJSDate(), e.endDate.toJSDate()]) {
        expect(local(d).toFormat('ccc HH:mm')).toBe('Mon 09:00');
        offsets.add(local(d).offset);
      }
      expect(e.summary).toMatch(/^On call: (Alice|Bob) \(rota\)$/);
    }
    expect([...offsets].sort((a, b) => a - b)).toEqual([60, 120]); // both sides of a change are in the feed
    const lengths = new Set(inner.map((e) => (e.endDate.toJSDate().getTime() - e.startDate.toJSDate().getTime()) / 3_600_000));
    expect([...lengths].sort((a, b) => a - b)).toEqual([167, 168, 169]);

    const p = await s.api('/api/v1/oncall/people/bob/calendar.ics');
    const bob = new ICAL.Component(ICAL.parse(await p.text()) as unknown[]).getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(bob.length).toBeGreaterThan(5);
    expect(bob.every((e) => e.summary === 'On call: Bob (rota)')).toBe(true);
    expect((await s.api('/api/v1/oncall/people/nobody/calendar.ics')).status).toBe(404);
    expect((await s.api('/api/v1/oncall/schedules/rota/calendar.ics', { token: null })).status).toBe(401);
  });

  it('`shipshape oncall now [schedule]` asks the running server (--url/--token, --json, --at)', async () => {
    const env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
    const j = await cli(['oncall', 'now', 'rota', '--at', '2026-03-30T09:00:00+02:00', '--json'], env);
    expect(j.stderr).toBe('');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout) as OnCallNow).toMatchObject({ schedule: 'rota', person: 'bob', until: '2026-04-06T07:00:00.000Z' });
    const text = await cli(['oncall', 'now', '--url', s.url, '--token', ADMIN], {});
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^primary: Alice \(alice\)/m);
    expect(text.stdout).toMatch(/^rota: (Alice|Bob)/m);
    const missing = await cli(['oncall', 'now', 'nope'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/404 Not Found: no schedule "nope"/);
    const noToken = await cli(['oncall', 'now', '--url', s.url], { SHIPSHAPE_TOKEN: '' });
    expect(noToken.status).toBe(2);
  });
});
