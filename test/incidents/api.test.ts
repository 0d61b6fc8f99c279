import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, Problem } from '../../src/core/api-types.js';
import type { Incident, IncidentDetail, Timeline } from '../../src/incidents/index.js';
import { startTestServerOn, type TestServer } from '../helpers/server.js';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CONFIG = `
incidents:
  check_every: 100ms
  severities:
    - { name: SEV1, description: everything is down, ack: 1s, first_update: 1s, resolve: 1h }
    - { name: SEV2, ack: 1h, first_update: 1h }
    - { name: SEV3, ack: 4h }
    - { name: SEV4, ack: next_business_day }
services:
  web: {}
  api: {}
`;

for (const db of ['sqlite', 'postgres'] as const) {
  describe(`incidents API (${db})`, () => {
    let s: TestServer;
    const post = (path: string, body?: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body ?? {}) });
    const open = async (body: Record<string, unknown>): Promise<Incident> => {
      const r = await post('/api/v1/incidents', body);
      expect(r.status).toBe(201);
      return (await r.json()) as Incident;
    };
    const eventsOf = async (type: string): Promise<EventRecord[]> => ((await (await s.api(`/api/v1/events?type=${type}&limit=500`)).json()) as { items: EventRecord[] }).items;

    beforeAll(async () => {
      s = await startTestServerOn(db, CONFIG, 'shipshape_incidents');
    });
    afterAll(async () => {
      await s?.close();
    });

    it('walks the lifecycle: triggered → acknowledged → mitigated → resolved → closed, each an event naming its actor', async () => {
      const inc = await open({ title: 'Checkout fails', severity: 'SEV2', services: ['web'], message: 'Stripe errors since 14:02', roles: { commander: 'ada' } });
      expect(inc).toMatchObject({ ref: `INC-${inc.id}`, state: 'triggered', severity: 'SEV2', services: ['web'], roles: { commander: 'ada', communications: null, scribe: null }, source: 'manual' });
      expect(inc.targets.map((t) => t.target)).toEqual(['ack', 'first_update']);
      const ack = (await (await post(`/api/v1/incidents/${inc.id}/acknowledge`)).json()) as Incident;
      expect(ack).toMatchObject({ state: 'acknowledged', acknowledged_by: expect.stringMatching(/^token:/) });
      const upd = (await (await post(`/api/v1/incidents/${inc.id}/updates`, { status: 'monitoring', message: 'rolled back; watching' })).json()) as IncidentDetail;
      expect(upd).toMatchObject({ state: 'mitigated', status: 'monitoring' });
      expect(upd.updates.map((u) => [u.kind, u.status])).toEqual([
        ['note', null],
        ['update', 'monitoring'],
      ]);
      expect((await (await post(`/api/v1/incidents/${inc.id}/resolve`, { message: 'fixed' })).json()) as Incident).toMatchObject({ state: 'resolved', resolved_at: expect.any(String) });
      expect((await (await post(`/api/v1/incidents/INC-${inc.id}/close`)).json()) as Incident).toMatchObject({ state: 'closed' });
      const types = (await (await s.api(`/api/v1/events?subject=incident:${inc.id}&limit=100`)).json()) as { items: EventRecord[] };
      expect(types.items.map((e) => e.type).reverse()).toEqual(['incident.opened', 'incident.note', 'incident.acknowledged', 'incident.mitigated', 'incident.update', 'incident.resolved', 'incident.note', 'incident.closed']);
      expect(types.items.every((e) => e.actor.startsWith('token:'))).toBe(true);
    });

    it('refuses transitions the lifecycle does not allow with a 409 problem', async () => {
      const inc = await open({ title: 'Flaky', severity: 'SEV3' });
      await post(`/api/v1/incidents/${inc.id}/resolve`);
      const r = await post(`/api/v1/incidents/${inc.id}/acknowledge`);
      expect(r.status).toBe(409);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(((await r.json()) as Problem).detail).toMatch(new RegExp(`INC-${inc.id} is resolved: it can be acknowledged only when triggered`));
      expect((await post(`/api/v1/incidents/${inc.id}/updates`, { status: 'investigating', message: 'x' })).status).toBe(409);
      expect((await post(`/api/v1/incidents/${inc.id}/reopen`)).status).toBe(200);
      expect((await post(`/api/v1/incidents/${inc.id}/close`)).status).toBe(409); // only a resolved incident closes
      const declined = (await (await post(`/api/v1/incidents/${inc.id}/decline`, { message: 'false alarm' })).json()) as Incident;
      expect(declined.state).toBe('declined');
      expect((await post(`/api/v1/incidents/${inc.id}/reopen`)).status).toBe(409);
    });

    it('names the bad field in a 400 problem', async () => {
      const cases: [string, unknown, string][] = [
        ['/api/v1/incidents', { title: 'x', severity: 'P9' }, 'body.severity'],
        ['/api/v1/incidents', { title: '', severity: 'SEV1' }, 'body.title'],
        ['/api/v1/incidents', { title: 'x', severity: 'SEV1', services: ['web', 'nope'] }, 'body.services.1'],
        ['/api/v1/incidents', { title: 'x', severity: 'SEV1', colour: 'red' }, 'body'],
      ];
      for (const [path, body, field] of cases) {
        const r = await post(path, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        const p = (await r.json()) as Problem;
        expect(p.errors?.map((e) => e.path), JSON.stringify(body)).toContain(field);
      }
      const inc = await open({ title: 'x', severity: 'SEV3' });
      const bad = await post(`/api/v1/incidents/${inc.id}/updates`, { status: 'panicking', message: 'x' });
      expect(((await bad.json()) as Problem).errors?.[0]?.path).toBe('body.status');
      const badId = await s.api('/api/v1/incidents/abc');
      expect(badId.status).toBe(400);
      expect(((await badId.json()) as Problem).errors?.[0]?.path).toBe('params.id');
      expect((await s.api('/api/v1/incidents/999999')).status).toBe(404);
      const merge = await post(`/api/v1/incidents/${inc.id}/merge`, { into: inc.id });
      expect(merge.status).toBe(400);
      expect(((await merge.json()) as Problem).detail).toMatch(/body\.into/);
      const window = await s.api(`/api/v1/incidents/${inc.id}/changes?window=forever`);
      expect(((await window.json()) as Problem).errors?.[0]?.path).toBe('query.window');
      expect((await s.api('/api/v1/incidents', { token: null })).status).toBe(401);
    });

    it('takes P0..P3 as the first four levels of a renamed scheme', async () => {
      const inc = await open({ title: 'alias', severity: 'P1' });
      expect(inc.severity).toBe('SEV2');
      const levels = (await (await s.api('/api/v1/incidents/severities')).json()) as { items: { name: string; alias: string }[] };
      expect(levels.items.map((l) => `${l.alias}=${l.name}`)).toEqual(['P0=SEV1', 'P1=SEV2', 'P2=SEV3', 'P3=SEV4']);
    });

    it('merges a duplicate: its services and timeline join the other incident', async () => {
      const a = await open({ title: 'API 500s', severity: 'SEV2', services: ['api'] });
      const b = await open({ title: 'web slow', severity: 'SEV3', services: ['web'], message: 'seen by support' });
      const m = await post(`/api/v1/incidents/${b.id}/merge`, { into: a.id });
      expect(m.status).toBe(200);
      expect((await m.json()) as Incident).toMatchObject({ state: 'merged', merged_into: a.id });
      const target = (await (await s.api(`/api/v1/incidents/${a.id}`)).json()) as IncidentDetail;
      expect(target.services.sort()).toEqual(['api', 'web']);
      expect(target.merged).toEqual([b.id]);
      const tl = (await (await s.api(`/api/v1/incidents/${a.id}/timeline`)).json()) as Timeline;
      expect(tl.items.some((e) => e.type === 'incident.note' && e.subject === `incident:${b.id}`)).toBe(true);
      expect(tl.items.some((e) => e.type === 'incident.joined')).toBe(true);
      expect((await post(`/api/v1/incidents/${b.id}/acknowledge`)).status).toBe(409);
    });

    it('assigns roles and records the change on the timeline', async () => {
      const inc = await open({ title: 'roles', severity: 'SEV3' });
      const r = (await (await s.api(`/api/v1/incidents/${inc.id}/roles`, { method: 'PUT', body: JSON.stringify({ commander: 'ada', scribe: 'lin' }) })).json()) as Incident;
      expect(r.roles).toEqual({ commander: 'ada', communications: null, scribe: 'lin' });
      const ev = (await eventsOf('incident.roles_changed')).find((e) => e.subject === `incident:${inc.id}`);
      expect(ev?.data).toMatchObject({ changes: { commander: { from: null, to: 'ada' }, scribe: { from: null, to: 'lin' } } });
    });

    it('records a missed ack target once as incident.breached, and the first-update one', async () => {
      const inc = await open({ title: 'nobody answers', severity: 'SEV1', services: ['web'] });
      const breaches = await until('ack and first_update breached', async () => {
        const d = (await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident;
        return d.breaches.length >= 2 ? d : undefined;
      });
      expect(breaches.breaches.map((b) => b.target).sort()).toEqual(['ack', 'first_update']);
      expect(breaches.targets.find((t) => t.target === 'ack')).toMatchObject({ breached: true, met_at: null });
      // a few more ticks do not record it again
      await new Promise((r) => setTimeout(r, 400));
      const evs = (await eventsOf('incident.breached')).filter((e) => e.subject === `incident:${inc.id}`);
      expect(evs.map((e) => e.data.target).sort()).toEqual(['ack', 'first_update']);
      expect(evs[0]).toMatchObject({ actor: 'schedule', data: { overdue_ms: expect.any(Number), services: ['web'] } });
      // a timely ack does not breach
      const ok = await open({ title: 'answered', severity: 'SEV1' });
      await post(`/api/v1/incidents/${ok.id}/updates`, { status: 'investigating', message: 'on it' });
      await new Promise((r) => setTimeout(r, 1300));
      const d = (await (await s.api(`/api/v1/incidents/${ok.id}`)).json()) as Incident;
      expect(d.breaches).toEqual([]);
      expect(d.targets.filter((t) => t.target !== 'resolve').every((t) => t.met_at !== null && !t.breached)).toBe(true);
    });

    it('lists with filters and a cursor', async () => {
      const page1 = (await (await s.api('/api/v1/incidents?limit=2')).json()) as { items: Incident[]; next_cursor: string | null };
      expect(page1.items).toHaveLength(2);
      expect(page1.next_cursor).not.toBeNull();
      const page2 = (await (await s.api(`/api/v1/incidents?limit=2&cursor=${page1.next_cursor}`)).json()) as { items: Incident[] };
      expect(page2.items[0]!.id).toBeLessThan(page1.items[1]!.id);
      const open = (await (await s.api('/api/v1/incidents?open=true&limit=500')).json()) as { items: Incident[] };
      expect(open.items.every((i) => ['triggered', 'acknowledged', 'mitigated'].includes(i.state))).toBe(true);
      const web = (await (await s.api('/api/v1/incidents?service=web&limit=500')).json()) as { items: Incident[] };
      expect(web.items.length).toBeGreaterThan(0);
      expect(web.items.every((i) => i.services.includes('web'))).toBe(true);
    });
  });
}
