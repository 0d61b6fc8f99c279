import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipshape } from '../../src/app.js';
import { ADMIN } from '../helpers/server.js';
import type { AlertInstance, AlertRuleStatus } from '../../src/alerts/types.js';
import type { EventRecord } from '../../src/core/api-types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INGEST = 'ingest-token-for-e2e-0123';

describe('a rule fires from telemetry ingested through the SDK endpoint', () => {
  let s: TestServer;
  const ingest = async (ok: number, failed: number) => {
    const requests = [
      ...Array.from({ length: ok }, (_, i) => ({ route: '/api/items/:id', method: 'GET', status: 200, duration_ms: 20 + i })),
      ...Array.from({ length: failed }, () => ({ route: '/api/pay', method: 'POST', status: 500, duration_ms: 900 })),
    ];
    const r = await s.api('/api/v1/ingest', { method: 'POST', token: INGEST, body: JSON.stringify({ service: 'web', requests, vitals: [], events: [] }) });
    expect(r.status).toBeLessThan(300);
  };
  const rule = async (): Promise<AlertRuleStatus> => (((await (await s.api('/api/v1/alerts/rules')).json()) as { items: AlertRuleStatus[] }).items[0]) as AlertRuleStatus;
  const until = async (what: string, pred: (r: AlertRuleStatus) => boolean): Promise<AlertRuleStatus> => {
    const end = Date.now() + 10_000;
    for (;;) {
      const r = await rule();
      if (pred(r)) return r;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  beforeAll(async () => {
    s = await startTestServer(`
ingest:
  tokens: ["${INGEST}"]
alerting:
  evaluate_every: 100ms
services:
  web: {}
alerts:
  - name: high-error-rate
    when: error_rate(web) > 10%
    severity: P1
    summary: "{{ service }} error rate is {{ value }}"
`);
  });
  afterAll(async () => s?.close());

  it('waits for enough samples, fires with the value, and resolves when errors drop', async () => {
    await ingest(2, 1);
    const quiet = await until('3 samples seen', (r) => r.samples === 3);
    expect(quiet).toMatchObject({ state: 'inactive', conditionMet: false, reason: expect.stringMatching(/^min_samples: 3 < 20/) });

    await ingest(30, 7); // 8 of 40 failed: 20%
    const firing = await until('firing', (r) => r.state === 'firing');
    expect(firing.valueText).toBe('20%');
    const alerts = ((await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: AlertInstance[] }).items;
    expect(alerts[0]).toMatchObject({ labels: { alertname: 'high-error-rate', service: 'web', severity: 'P1' }, annotations: { summary: 'web error rate is 20%' } });

    await ingest(160, 0); // 8 of 200: 4%
    await until('resolved', (r) => r.state === 'inactive');
    const events = ((await (await s.api('/api/v1/events?limit=100')).json()) as { items: EventRecord[] }).items.filter((e) => e.type.startsWith('alert.')).reverse();
    expect(events.map((e) => e.type)).toEqual(['alert.firing', 'alert.resolved']);
    expect(events[1]?.data).toMatchObject({ valueText: '4%' });
  });
});

describe('a restart and a config reload', () => {
  it('keeps a firing alert firing across a restart without firing it again, and resolves it when its rule is removed', async () => {
    const yaml = (rules: string) => `alerting:\n  evaluate_every: 100ms\nservices:\n  web: {}\nalerts:\n${rules}`;
    const quiet = '  - name: no-traffic\n    when: request_rate(web) < 1\n    severity: P2\n';
    const first = await startTestServer(yaml(quiet));
    const dataDir = join(first.dir, 'data');
    const firingOf = async (api: (p: string) => Promise<Response>) => ((await (await api('/api/v1/alerts?state=firing')).json()) as { items: AlertInstance[] }).items;
    const waitFor = async <T>(fn: () => Promise<T | undefined>) => {
      for (let i = 0; i < 200; i++) {
        const v = await fn();
        if (v) return v;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('timed out');
    };
    const before = await waitFor(async () => (await firingOf(first.api))[0]);
    await first.stop();

    const second = await startShipshape({ configPath: first.configPath, dataDir, port: 0, logger: pino({ level: 'silent' }), adminToken: ADMIN, watchConfig: false });
    try {
      const api = (p: string) => fetch(`${second.url}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      // a few evaluation cycles after the restart (it must not fire again in any of them)
      const lastEvaluation = async () => ((await (await api('/api/v1/alerts/rules')).json()) as { items: AlertRuleStatus[] }).items[0]?.lastEvaluation ?? undefined;
      const evaluations = new Set([await waitFor(lastEvaluation)]);
      await expect.poll(async () => evaluations.add((await lastEvaluation()) as string).size, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(3);
      const after = await firingOf(api);
      expect(after).toHaveLength(1);
      expect(after[0]).toMatchObject({ id: before.id, fingerprint: before.fingerprint, firedAt: before.firedAt });
      const fired = ((await (await api('/api/v1/events?type=alert.firing')).json()) as { items: EventRecord[] }).items;
      expect(fired).toHaveLength(1);

      writeFileSync(first.configPath, 'alerting:\n  evaluate_every: 100ms\nservices:\n  web: {}\nalerts: []\n');
      expect(await second.reload()).toBe(true);
      expect(await firingOf(api)).toEqual([]);
      const resolved = ((await (await api('/api/v1/events?type=alert.resolved')).json()) as { items: EventRecord[] }).items;
      expect(resolved[0]).toMatchObject({ actor: 'rule:no-traffic', data: { annotations: { resolved_reason: 'the rule was removed from the config' } } });
    } finally {
      await second.stop();
      rmSync(first.dir, { recursive: true, force: true });
    }
  });
});
