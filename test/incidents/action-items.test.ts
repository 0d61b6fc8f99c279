/** Post-mortem action items past their due date: an event once per item, counts on the incident, and a cross-incident list. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import { incidents, type ActionItemStatus, type Incident } from '../../src/incidents/index.js';
import { ADMIN, startTestServerOn, type TestServer } from '../helpers/server.js';

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve('bin/shipshape.js'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

// the timer is slow on purpose: the test runs the checks itself (tick), so it can count events
const CONFIG = `
incidents:
  check_every: 1h
  business_hours: { time_zone: Pacific/Auckland }
services:
  web: {}
`;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`overdue action items (${backend})`, () => {
    let s: TestServer;
    const tick = () => s.use(incidents).tick();
    const day = (d: number) => DateTime.now().setZone('Pacific/Auckland').plus({ days: d }).toISODate()!;
    const overdueEvents = async (id: number) =>
      ((await (await s.api(`/api/v1/events?type=incident.action_item_overdue&subject=incident:${id}&limit=100`)).json()) as { items: EventRecord[] }).items;
    const put = (id: number, body: unknown) => s.api(`/api/v1/incidents/${id}/postmortem`, { method: 'PUT', body: JSON.stringify(body) });

    beforeAll(async () => {
      s = await startTestServerOn(backend, CONFIG, 'shipshape_incidents');
    });
    afterAll(async () => {
      await s?.close();
    });

    it('announces an item past its due day once, counts it on the incident and lists it (API and CLI); done or not yet due items stay quiet', { timeout: 90_000 }, async () => {
      const inc = (await (await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: 'Checkout down', severity: 'P1', services: ['web'] }) })).json()) as Incident;
      const r = await put(inc.id, {
        action_items: [
          { title: 'Add a payment-provider timeout', owner: 'ada', due: day(-1) },
          { title: 'Alert on checkout error rate', owner: 'bob', due: day(0) }, // due today (Auckland): not yet overdue
          { title: 'Write the runbook', owner: 'ada', due: day(-3), done: true },
          { title: 'Load test', owner: 'cy', due: day(7) },
          { title: 'Review retries' },
        ],
      });
      expect(r.status).toBe(200);
      expect((await r.json()) as Incident).toMatchObject({ action_items_open: 4, action_items_overdue: 1 });

      expect(await tick()).toBeGreaterThanOrEqual(1);
      await tick();
      const events = await overdueEvents(inc.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        actor: 'schedule',
        subject: `incident:${inc.id}`,
        data: { id: inc.id, ref: `INC-${inc.id}`, item: { index: 1, title: 'Add a payment-provider timeout', owner: 'ada', due: day(-1) } },
      });
      // overdue since the start of the day after the due date, in the business-hours zone
      const since = DateTime.fromISO(day(0), { zone: 'Pacific/Auckland' }).toUTC().toISO();
      expect(Date.parse((events[0]!.data as { overdue_since: string }).overdue_since)).toBe(Date.parse(since!));

      const got = (await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident;
      expect(got).toMatchObject({ action_items_open: 4, action_items_overdue: 1 });
      const listed = (await (await s.api('/api/v1/incidents/action-items?overdue=true')).json()) as { items: ActionItemStatus[]; overdue: number };
      expect(listed.overdue).toBe(1);
      expect(listed.items).toEqual([
        expect.objectContaining({ incident: inc.id, ref: `INC-${inc.id}`, incident_title: 'Checkout down', index: 1, title: 'Add a payment-provider timeout', owner: 'ada', overdue: true, done: false }),
      ]);
      const open = (await (await s.api('/api/v1/incidents/action-items?open=true')).json()) as { items: ActionItemStatus[] };
      expect(open.items.map((a) => a.title)).toEqual(['Add a payment-provider timeout', 'Alert on checkout error rate', 'Load test', 'Review retries']);
      const ada = (await (await s.api('/api/v1/incidents/action-items?owner=ada')).json()) as { items: ActionItemStatus[] };
      expect(ada.items.map((a) => [a.title, a.done])).toEqual([
        ['Write the runbook', true],
        ['Add a payment-provider timeout', false],
      ]);
      expect((await s.api('/api/v1/incidents/action-items?overdue=yes')).status).toBe(400);
      expect((await s.api('/api/v1/incidents/action-items', { token: null })).status).toBe(401);

      if (backend === 'sqlite') {
        const env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
        const text = await cli(['incident', 'action-items', '--overdue'], env);
        expect(text.stderr).toBe('');
        expect(text.status).toBe(0);
        expect(text.stdout).toBe(`INC-${inc.id}  ${day(-1)}  OVERDUE  Add a payment-provider timeout (ada)\n1 overdue\n`);
        const j = await cli(['incident', 'action-items', '--owner', 'bob', '--json'], env);
        expect((JSON.parse(j.stdout) as ActionItemStatus[]).map((a) => a.title)).toEqual(['Alert on checkout error rate']);
      }

      // ticking it done clears the count; editing other fields does not announce it again
      await put(inc.id, { action_items: [{ title: 'Add a payment-provider timeout', owner: 'ada', due: day(-1), done: true }, { title: 'Load test', owner: 'cy', due: day(7) }] });
      expect((await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident).toMatchObject({ action_items_open: 1, action_items_overdue: 0 });
      await put(inc.id, { action_items: [{ title: 'Add a payment-provider timeout', owner: 'ada', due: day(-1) }] }); // re-opened: same item, same due date
      await tick();
      expect(await overdueEvents(inc.id)).toHaveLength(1);
      // a new due date that passes is a new deadline missed
      await put(inc.id, { action_items: [{ title: 'Add a payment-provider timeout', owner: 'ada', due: day(-2) }] });
      await tick();
      expect(await overdueEvents(inc.id)).toHaveLength(2);
    });
  });
}
