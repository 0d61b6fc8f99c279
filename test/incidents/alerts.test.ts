import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident, Timeline } from '../../src/incidents/index.js';
import { startTarget, type Target } from '../helpers/target.js';
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

describe('alert rules open incidents', () => {
  let s: TestServer;
  let t: Target;
  const incidents = async (q = ''): Promise<Incident[]> => ((await (await s.api(`/api/v1/incidents?limit=500${q}`)).json()) as { items: Incident[] }).items;
  const firingNow = async () => ((await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: { labels: Record<string, string> }[] }).items.some((a) => a.labels.alertname === 'web-down');
  const firings = async () => ((await (await s.api('/api/v1/events?type=alert.firing&limit=500')).json()) as { items: { actor: string }[] }).items.filter((e) => e.actor === 'rule:web-down').length;

  beforeAll(async () => {
    t = await startTarget();
    s = await startTestServer(`
alerting:
  evaluate_every: 100ms
defaults:
  allow_fast_checks: true
incidents:
  reopen_within: 1h
services:
  web:
    checks:
      - name: home
        http: { url: "${t.url}/", every: 250ms, timeout: 240ms }
        down_after: 1
  api: {}
alerts:
  - name: web-down
    when: down(web)
    severity: P1
    summary: "{{ service }} is down"
    incident: { severity: P1 }
  - name: web-down-quiet
    when: down(web)
    severity: P3
`);
  });
  afterAll(async () => {
    await s?.close();
    await t?.close();
  });

  it('opens one incident for a firing rule, and a flapping alert joins it instead of opening more', async () => {
    // something else happens to web before the incident: it shows in "what changed before"
    await s.events.append({ type: 'deploy.finished', actor: 'token:ci', subject: 'service:web', data: { service: 'web', version: 'v42' } });
    await s.events.append({ type: 'deploy.finished', actor: 'token:ci', subject: 'service:api', data: { service: 'api', version: 'v7' } });
    await until('web up', async () => (await (await s.api('/api/v1/services')).json() as { items: { name: string; state: string }[] }).items.find((x) => x.name === 'web' && x.state === 'up'));
    for (let i = 0; i < 3; i++) {
      const before = await firings();
      t.set({ status: 500 });
      // (on a loaded machine a timed-out check may have fired it a moment before `before` was read)
      await until(`firing #${i + 1}`, async () => (await firings()) > before || (await firingNow()));
      t.set({ status: 200 });
      await until(`resolved #${i + 1}`, async () => !(await firingNow()));
    }
    const list = (await incidents()).filter((i) => i.source === 'alert');
    expect(list).toHaveLength(1);
    const inc = list[0]!;
    expect(inc).toMatchObject({ title: 'web is down', severity: 'P1', services: ['web'], state: 'triggered', opened_by: 'rule:web-down' });
    // every firing joined it (3, or more when a loaded machine made a check time out once more)
    const fired = await firings();
    expect(fired).toBeGreaterThanOrEqual(3);
    expect(inc.alerts).toEqual([expect.objectContaining({ alertname: 'web-down', firings: fired })]);

    const tl = (await (await s.api(`/api/v1/incidents/${inc.id}/timeline`)).json()) as Timeline;
    const types = tl.items.map((e) => e.type);
    expect(types).toContain('incident.opened');
    expect(types.filter((x) => x === 'incident.alert_joined')).toHaveLength(fired - 1);
    expect(tl.items.filter((e) => e.type === 'alert.firing' && e.actor === 'rule:web-down')).toHaveLength(fired);
    expect(tl.items.filter((e) => e.type === 'alert.resolved' && e.actor === 'rule:web-down').length).toBeGreaterThanOrEqual(2);
    // the other rule on the same service is context too, and the check and service state changes
    expect(tl.items.some((e) => e.type === 'alert.firing' && e.actor === 'rule:web-down-quiet')).toBe(true);
    expect(tl.items.some((e) => e.type === 'check.state' && e.data.to === 'down' && e.data.service === 'web')).toBe(true);
    expect(tl.items.some((e) => e.type === 'service.state' && e.data.to === 'down')).toBe(true);
    expect(tl.items.map((e) => e.id)).toEqual([...tl.items.map((e) => e.id)].sort((a, b) => a - b));

    const changes = (await (await s.api(`/api/v1/incidents/${inc.id}/changes?window=1h`)).json()) as Timeline;
    expect(changes.items.some((e) => e.type === 'deploy.finished' && e.data.version === 'v42')).toBe(true);
    expect(changes.items.some((e) => e.data.version === 'v7')).toBe(false); // api is not affected
    expect(changes.items.every((e) => !e.type.startsWith('incident.'))).toBe(true);
  });

  it('re-opens its resolved incident when the alert fires again within reopen_within', async () => {
    const inc = (await incidents()).find((i) => i.source === 'alert')!;
    expect((await s.api(`/api/v1/incidents/${inc.id}/resolve`, { method: 'POST', body: '{}' })).status).toBe(200);
    const before = await firings();
    t.set({ status: 500 });
    await until('firing again', async () => (await firings()) > before || (await firingNow()));
    const again = await until('re-opened', async () => {
      const i = (await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident;
      return i.state === 'triggered' ? i : undefined;
    });
    expect(again.reopened).toBe(1);
    expect((await incidents()).filter((i) => i.source === 'alert')).toHaveLength(1);
    t.set({ status: 200 });
  });

  it('rejects an alert rule naming an unknown incident severity, with the file position', async () => {
    const { parseConfig } = await import('../../src/modules.js');
    expect(() => parseConfig('services:\n  web: {}\nalerts:\n  - name: x\n    when: down(web)\n    incident: { severity: SEV9 }\n', 'x.yaml')).toThrow(/x\.yaml:6:.*alerts\[0\]\.incident\.severity.*unknown incident severity "SEV9"; levels: P0, P1, P2, P3/s);
    expect(() => parseConfig('services:\n  web: {}\nincidents:\n  scheme: SEV1-SEV4\nalerts:\n  - name: x\n    when: down(web)\n    incident: { severity: SEV2 }\n', 'x.yaml')).not.toThrow();
  });
});
