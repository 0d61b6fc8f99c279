/** `overdue_action_items()` in alert rules: overdue post-mortem action items fire an alert (all incidents, or a service's), on the server and in `shipshape alerts test`. */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts } from '../../src/alerts/index.js';
import { testAlertRules } from '../../src/alerts/cli.js';
import type { Incident } from '../../src/incidents/index.js';
import { cliContext } from '../../src/modules.js';
import { join } from 'node:path';
import { startTestServerOn, type TestServer } from '../helpers/server.js';

const CONFIG = `
incidents:
  business_hours: { time_zone: Europe/Berlin }
services:
  web: {}
  api: {}
alerts:
  - name: action-items-overdue
    when: overdue_action_items() > 0
    severity: P3
  - name: api-action-items-overdue
    when: overdue_action_items(api) > 0
    severity: P3
  - name: many-overdue
    when: overdue_action_items() >= 3
`;

interface AlertRow {
  labels: Record<string, string>;
  state: string;
  annotations: Record<string, string>;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`overdue_action_items() alert rules (${backend})`, () => {
    let s: TestServer;
    const day = (d: number) => DateTime.now().setZone('Europe/Berlin').plus({ days: d }).toISODate()!;
    const evaluate = () => s.use(alerts).evaluate();
    const firing = async () => {
      const body = (await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: AlertRow[] };
      return body.items.map((a) => a.labels.alertname).sort();
    };

    beforeAll(async () => {
      s = await startTestServerOn(backend, CONFIG, 'shipshape_items_alert');
    });
    afterAll(async () => {
      await s?.close();
    });

    it('fires while an item is past its due day, per service when the rule names one, and resolves when it is done', { timeout: 60_000 }, async () => {
      await evaluate();
      expect(await firing()).toEqual([]);
      const open = async (services: string[]) => (await (await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: `Outage of ${services.join(', ')}`, severity: 'P2', services }) })).json()) as Incident;
      const put = (id: number, items: unknown[]) => s.api(`/api/v1/incidents/${id}/postmortem`, { method: 'PUT', body: JSON.stringify({ action_items: items }) });

      const web = await open(['web']);
      // due today or later, or done: nothing is overdue yet
      expect((await put(web.id, [{ title: 'Add a timeout', due: day(0) }, { title: 'Runbook', due: day(-5), done: true }])).status).toBe(200);
      await evaluate();
      expect(await firing()).toEqual([]);

      // yesterday's item is overdue: the rule over every incident fires, the api one does not
      await put(web.id, [{ title: 'Add a timeout', due: day(-1), owner: 'ada' }, { title: 'Runbook', due: day(-5), done: true }]);
      await evaluate();
      expect(await firing()).toEqual(['action-items-overdue']);
      const items = (await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: (AlertRow & { value?: number; valueText?: string })[] };
      expect(JSON.stringify(items.items[0])).toContain('overdue_action_items() = 1');

      // an api incident's overdue items fire the api rule too; three in all fire the third rule
      const api = await open(['api', 'web']);
      await put(api.id, [{ title: 'Retry budget', due: day(-2) }, { title: 'Index on orders', due: day(-3) }]);
      await evaluate();
      expect(await firing()).toEqual(['action-items-overdue', 'api-action-items-overdue', 'many-overdue']);

      // done: each resolves
      await put(api.id, [{ title: 'Retry budget', due: day(-2), done: true }, { title: 'Index on orders', due: day(-3), done: true }]);
      await evaluate();
      expect(await firing()).toEqual(['action-items-overdue']);
      await put(web.id, [{ title: 'Add a timeout', due: day(-1), owner: 'ada', done: true }]);
      await evaluate();
      expect(await firing()).toEqual([]);

      if (backend === 'sqlite') {
        // `shipshape alerts test` reads the same figure from the stored post-mortems
        await put(web.id, [{ title: 'Add a timeout', due: day(-1), owner: 'ada' }]);
        await s.stop();
        const { rows } = await testAlertRules(cliContext, { config: s.configPath, dataDir: join(s.dir, 'data') });
        const by = Object.fromEntries(rows.map((r) => [r.rule, r]));
        expect(by['action-items-overdue']).toMatchObject({ wouldFire: true, value: 1, reason: 'overdue_action_items() = 1 > 0' });
        expect(by['api-action-items-overdue']).toMatchObject({ wouldFire: false, value: 0 });
      }
    });
  });
}
