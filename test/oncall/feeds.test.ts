/**
 * Calendar subscription URLs: a calendar app subscribes to a schedule's or a person's shifts by
 * URL, with no login (the signed, revocable token in the URL is the credential).
 */
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import type { CalendarFeed, CalendarSubscription } from '../../src/oncall/index.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const yaml = `
notify:
  external_url: https://ops.example.com/
people:
  alice: { name: Alice }
  bob: { name: Bob }
oncall:
  schedules:
    rota:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2026-03-23, people: [alice, bob] }]
`;

describe.each(['sqlite', 'postgres'] as const)('calendar subscription feeds (%s)', (backend) => {
  let s: TestServer;
  let readToken: string;
  let drop: (() => Promise<void>) | undefined;
  /** fetch a feed URL against the test server, with no authorization header and no cookie */
  const anon = (url: string) => fetch(`${s.url}${new URL(url).pathname}`);
  const vevents = async (r: Response) => new ICAL.Component(ICAL.parse(await r.text()) as unknown[]).getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      databaseUrl = db.url;
      drop = db.drop;
    }
    s = await startTestServer(yaml, { databaseUrl });
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'viewer', scopes: ['read'] }) });
    expect(res.status).toBe(201);
    readToken = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await s?.close();
    await drop?.();
  });

  it('gives a read token the subscription URL of a schedule; the feed works without any auth and ical.js reads it', async () => {
    const r = await s.api('/api/v1/oncall/schedules/rota/subscription', { token: readToken });
    expect(r.status).toBe(200);
    const sub = (await r.json()) as CalendarSubscription;
    expect(sub).toMatchObject({ kind: 'schedule', target: 'rota', created_by: 'token:viewer', revoked_at: null });
    expect(sub.url).toMatch(/^https:\/\/ops\.example\.com\/api\/v1\/oncall\/calendar\/[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}\.ics$/);
    expect(sub.webcal_url).toBe(sub.url.replace('https://', 'webcal://'));
    // asked again: the same feed, not a new one each time
    expect(((await (await s.api('/api/v1/oncall/schedules/rota/subscription')).json()) as CalendarSubscription).url).toBe(sub.url);

    const feed = await anon(sub.url);
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toMatch(/^text\/calendar/);
    const events = await vevents(feed);
    expect(events.length).toBeGreaterThan(5);
    expect(new Set(events.map((e) => e.summary))).toEqual(new Set(['On call: Alice (rota)', 'On call: Bob (rota)']));
    // the token-protected calendar still refuses anonymous callers
    expect((await fetch(`${s.url}/api/v1/oncall/schedules/rota/calendar.ics`)).status).toBe(401);
  });

  it("gives a person's subscription URL, with only that person's shifts", async () => {
    const sub = (await (await s.api('/api/v1/oncall/people/bob/subscription', { token: readToken })).json()) as CalendarSubscription;
    expect(sub).toMatchObject({ kind: 'person', target: 'bob' });
    const events = await vevents(await anon(sub.url));
    expect(events.length).toBeGreaterThan(2);
    expect(events.every((e) => e.summary === 'On call: Bob (rota)')).toBe(true);
    expect((await s.api('/api/v1/oncall/people/nobody/subscription')).status).toBe(404);
    expect((await s.api('/api/v1/oncall/schedules/nope/subscription')).status).toBe(404);
    expect((await fetch(`${s.url}/api/v1/oncall/people/bob/subscription`)).status).toBe(401);
  });

  it('answers 404 alike to tampered, foreign and malformed tokens, saying nothing about which part was wrong', async () => {
    const sub = (await (await s.api('/api/v1/oncall/schedules/rota/subscription')).json()) as CalendarSubscription;
    const path = new URL(sub.url).pathname;
    const token = path.slice(path.lastIndexOf('/') + 1, -'.ics'.length);
    const [nonce, sig] = token.split('.') as [string, string];
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    const bad = [
      `${flip(nonce, 3)}.${sig}`, // unknown nonce
      `${nonce}.${flip(sig, 5)}`, // signature changed
      `${nonce}.${sig}x`, // malformed
      `${nonce}`, // no signature
      'x'.repeat(24) + '.' + 'y'.repeat(43),
    ];
    const bodies = new Set<string>();
    for (const t of bad) {
      const r = await fetch(`${s.url}/api/v1/oncall/calendar/${t}.ics`);
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
      const b = (await r.json()) as { detail: string };
      bodies.add(b.detail);
    }
    // without the .ics suffix, too
    expect((await fetch(`${s.url}/api/v1/oncall/calendar/${token}`)).status).toBe(404);
    expect([...bodies]).toEqual(['no such calendar feed (the URL is wrong or was revoked)']);
    // the person feed's signature does not open the schedule feed's nonce
    const bob = (await (await s.api('/api/v1/oncall/people/bob/subscription')).json()) as CalendarSubscription;
    const bobSig = new URL(bob.url).pathname.split('.').at(-2)!;
    expect((await fetch(`${s.url}/api/v1/oncall/calendar/${nonce}.${bobSig}.ics`)).status).toBe(404);
  });

  it('revokes a feed (write scope): its URL answers 404, the next subscription is a new URL; events name the actor, never the token', async () => {
    const sub = (await (await s.api('/api/v1/oncall/schedules/rota/subscription')).json()) as CalendarSubscription;
    expect((await anon(sub.url)).status).toBe(200);
    // a read token may not revoke
    expect((await s.api(`/api/v1/oncall/feeds/${sub.id}`, { method: 'DELETE', token: readToken })).status).toBe(403);
    const del = await s.api(`/api/v1/oncall/feeds/${sub.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await del.json()) as CalendarFeed).toMatchObject({ id: sub.id, revoked_by: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)' });
    const gone = await anon(sub.url);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { detail: string }).detail).toBe('no such calendar feed (the URL is wrong or was revoked)');
    expect((await s.api(`/api/v1/oncall/feeds/${sub.id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await s.api('/api/v1/oncall/feeds/feed_AAAAAAAAAAAA', { method: 'DELETE' })).status).toBe(404);
    expect((await s.api('/api/v1/oncall/feeds/../tokens', { method: 'DELETE' })).status).toBe(404);

    const again = (await (await s.api('/api/v1/oncall/schedules/rota/subscription')).json()) as CalendarSubscription;
    expect(again.url).not.toBe(sub.url);
    expect((await anon(again.url)).status).toBe(200);

    const list = (await (await s.api('/api/v1/oncall/feeds', { token: readToken })).json()) as { items: CalendarFeed[] };
    expect(list.items.find((f) => f.id === sub.id)).toMatchObject({ revoked_by: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)' });
    expect(list.items.find((f) => f.id === again.id)).toMatchObject({ revoked_at: null });
    expect(JSON.stringify(list)).not.toContain(new URL(again.url).pathname.split('/').at(-1)!.split('.')[0]!);

    const events = ((await (await s.api('/api/v1/events?limit=500')).json()) as { items: EventRecord[] }).items;
    const revoked = events.find((e) => e.type === 'oncall.feed_revoked' && (e.data as { feed?: string }).feed === sub.id);
    expect(revoked).toMatchObject({ actor: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', subject: 'oncall:schedule:rota' });
    expect(events.some((e) => e.type === 'oncall.feed_created' && (e.data as { feed?: string }).feed === again.id)).toBe(true);
    const nonceOf = (u: string) => new URL(u).pathname.split('/').at(-1)!.split('.')[0]!;
    expect(JSON.stringify(events)).not.toContain(nonceOf(sub.url));
    expect(JSON.stringify(events)).not.toContain(nonceOf(again.url));
  });
});
