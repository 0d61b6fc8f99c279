/**
 * The on-call routes the dashboard reads besides `now` and `shifts`: a schedule as configured
 * (layers, overrides as instants), the escalation policies, and the escalations still running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Escalation, PolicyOut, ScheduleDetail } from '../../src/oncall/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('on-call routes for the dashboard', () => {
  let s: TestServer;
  const get = async <T>(path: string): Promise<T> => {
    const r = await s.api(path);
    expect(r.status, path).toBe(200);
    return (await r.json()) as T;
  };

  beforeAll(async () => {
    s = await startTestServer(`
people:
  alice: { name: Alice }
  bob: { name: Bob }
  lead: { name: Lea }
oncall:
  check_every: 100ms
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers:
        - { name: Weekdays, rotation: weekly, handoff: "Mon 09:00", start: 2026-03-23, people: [alice, bob] }
      overrides:
        - { person: lead, from: "2026-03-28 09:00", to: "2026-03-29 09:00", reason: Alice at a wedding }
  escalation:
    p0-p1:
      severities: [P0, P1]
      steps:
        - { after: 0s, notify: [schedule:primary] }
        - { after: 1h, notify: [person:lead] }
      repeat: 2
      repeat_after: 30m
`);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('describes a schedule: layers with people in order, overrides as instants in the schedule’s zone', async () => {
    const d = await get<ScheduleDetail>('/api/v1/oncall/schedules/primary');
    expect(d).toEqual({
      schedule: 'primary',
      time_zone: 'Europe/Berlin',
      layers: [{ name: 'Weekdays', rotation: 'weekly', handoff: 'Mon 09:00', start: '2026-03-23', people: [{ key: 'alice', name: 'Alice' }, { key: 'bob', name: 'Bob' }] }],
      // Berlin is UTC+1 on the 28th and UTC+2 from the 29th (the spring change is in between)
      overrides: [{ index: 1, person: 'lead', name: 'Lea', from: '2026-03-28T08:00:00.000Z', to: '2026-03-29T07:00:00.000Z', reason: 'Alice at a wedding' }],
    });
    const missing = await s.api('/api/v1/oncall/schedules/nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { detail: string }).detail).toMatch(/no schedule "nope"; schedules: primary/);
    expect((await s.api('/api/v1/oncall/schedules/primary', { token: null })).status).toBe(401);
  });

  it('lists the escalation policies with their steps', async () => {
    const { items } = await get<{ items: PolicyOut[] }>('/api/v1/oncall/policies');
    expect(items).toEqual([
      { name: 'p0-p1', severities: ['P0', 'P1'], steps: [{ after_ms: 0, notify: ['schedule:primary'] }, { after_ms: 3_600_000, notify: ['person:lead'] }], repeat: 2, repeat_after_ms: 1_800_000 },
    ]);
    expect((await s.api('/api/v1/oncall/policies', { token: null })).status).toBe(401);
  });

  it('lists the escalations still running; an ack takes one off the list', async () => {
    const open = async (title: string, severity: string) => ((await (await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title, severity }) })).json()) as { id: number }).id;
    const a = await open('Checkout down', 'P1');
    const b = await open('Search slow', 'P1');
    const low = await open('Typo on the about page', 'P3');
    const active = await until('both escalations', async () => {
      const { items } = await get<{ items: Escalation[] }>('/api/v1/oncall/escalations');
      return items.length === 2 && items;
    });
    expect(active.map((e) => [e.incident_id, e.policy, e.state, e.next_step])).toEqual([
      [b, 'p0-p1', 'active', 2],
      [a, 'p0-p1', 'active', 2],
    ]);
    // step 1 ran at once: the schedule's on-call was paged
    const onCall = ((await get<{ items: { person: string }[] }>('/api/v1/oncall/now?schedule=primary')).items[0]!).person;
    expect(active[0]!.pages.map((p) => [p.person, p.via, p.step])).toEqual([[onCall, 'schedule:primary', 1]]);
    expect(active.some((e) => e.incident_id === low)).toBe(false);

    expect((await s.api(`/api/v1/incidents/${a}/acknowledge`, { method: 'POST' })).status).toBe(200);
    const after = await until('the acked one to leave the list', async () => {
      const { items } = await get<{ items: Escalation[] }>('/api/v1/oncall/escalations');
      return items.length === 1 && items;
    });
    expect(after.map((e) => e.incident_id)).toEqual([b]);
    expect((await s.api('/api/v1/oncall/escalations?state=stopped')).status).toBe(400);
    expect((await s.api('/api/v1/oncall/escalations', { token: null })).status).toBe(401);
  });
});
