import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { AlertEngine, type InboundAlert } from '../../src/alerts/engine.js';
import { alertRuleSchema, type AlertRuleConfig } from '../../src/alerts/config.js';
import type { CheckReader } from '../../src/alerts/evaluate.js';
import type { AlertInstance } from '../../src/alerts/types.js';
import { fingerprint } from '../../src/alerts/fingerprint.js';
import { EventLog } from '../../src/core/events.js';
import type { RootStore as Store } from '../../src/modules.js';
import type { Stat, TelemetryQuery } from '../../src/telemetry/types.js';
import { storeTargets } from '../helpers/stores.js';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const S = 1000;
const M = 60_000;

/** A TelemetryQuery whose answers the test sets. */
class FakeTelemetry implements TelemetryQuery {
  errors: Stat = { value: null, samples: 0 };
  requests: Stat = { value: null, samples: 0 };
  p95: Stat = { value: null, samples: 0 };
  events = new Map<string, Stat>();
  seen = new Map<string, number>();
  calls: { fn: string; args: unknown[] }[] = [];
  requestRate = (...args: unknown[]) => (this.calls.push({ fn: 'requestRate', args }), this.requests);
  errorRate = (...args: unknown[]) => (this.calls.push({ fn: 'errorRate', args }), this.errors);
  latency = (...args: unknown[]) => (this.calls.push({ fn: 'latency', args }), this.p95);
  vital = () => ({ value: null, samples: 0 });
  eventRate = (name: string) => this.events.get(name) ?? { value: null, samples: 0 };
  metric = () => ({ value: null, samples: 0 });
  lastSeen = (service: string) => this.seen.get(service);
}

class FakeChecks implements CheckReader {
  services = new Map<string, { state: string; since: number }>();
  values = new Map<string, number>();
  pings = new Map<string, { lastPing: number | undefined; since: number }>();
  serviceState = (s: string) => this.services.get(s);
  checkState = () => undefined;
  checkValue = (service: string, _check: string | undefined, path: string[]) => {
    const v = this.values.get(`${service}.${path.join('.')}`);
    return v === undefined ? { error: `no value ${path.join('.')}` } : { value: v, at: T0, check: `${service}/x` };
  };
  heartbeat = (token: string) => this.pings.get(token);
  heartbeatService = () => undefined;
}

const rule = (r: Record<string, unknown>): AlertRuleConfig => alertRuleSchema.parse(r);

for (const target of storeTargets) {
  describe(`alert rules on ${target.name}`, () => {
    let loc: Awaited<ReturnType<typeof target.make>>;
    let store: Store;
    let events: EventLog;
    let now: number;
    let telemetry: FakeTelemetry;
    let checks: FakeChecks;
    let engine: AlertEngine;
    const make = () => new AlertEngine({ store, events, telemetry, checks, now: () => now });
    const alertEvents = async () => (await events.list({ limit: 500 })).filter((e) => e.type.startsWith('alert.')).reverse();

    beforeAll(async () => {
      loc = await target.make();
    });
    afterAll(async () => loc.cleanup());
    beforeEach(async () => {
      store = await loc.open();
      await store.db.deleteFrom('alerts').execute();
      await store.db.deleteFrom('events').execute();
      now = T0;
      events = new EventLog(store, () => now);
      telemetry = new FakeTelemetry();
      checks = new FakeChecks();
      engine = make();
      await engine.load();
    });
    afterEach(async () => {
      await engine.idle();
      await store.close();
    });

    it('a pushed alert stored by a release before 0.6 (severity rewritten, the sender\'s as source_severity) is listed as now at load, and its resolve finds it', async () => {
      const sent = { alertname: 'DiskFull', severity: 'critical', instance: 'db1', team: '' };
      const [a] = await engine.receive([{ labels: sent, annotations: {}, endsAt: null }], 'alertmanager');
      // what 0.5 stored: severity rewritten, the sender's kept aside, empty values listed;
      // the fingerprint of the labels as sent (Alertmanager's), which is also today's
      expect(a!.fingerprint).toBe(fingerprint({ alertname: 'DiskFull', severity: 'critical', instance: 'db1' }));
      await store.db.updateTable('alerts').set({ labels: JSON.stringify({ alertname: 'DiskFull', severity: 'P1', source_severity: 'critical', instance: 'db1', team: '' }) }).execute();
      // and one pushed without an alertname, which 0.5 listed as "unnamed"
      const noName = { job: 'node', severity: 'warning' };
      await store.db.insertInto('alerts').values({ fingerprint: fingerprint(noName), source: 'prometheus', rule: null, state: 'firing', labels: JSON.stringify({ job: 'node', alertname: 'unnamed', severity: 'P3', source_severity: 'warning' }), annotations: '{}', value: null, value_text: '', threshold: null, threshold_text: null, samples: null, expression: null, active_at: now, fired_at: now, resolved_at: null, ends_at: null, cleared_at: null, generator_url: null, updated_at: now }).execute();
      await engine.idle();
      engine = make();
      await engine.load();
      expect(engine.active().map((x) => [x.fingerprint, x.labels])).toEqual([
        [a!.fingerprint, { alertname: 'DiskFull', severity: 'critical', instance: 'db1', shipshape_severity: 'P1' }],
        [fingerprint(noName), { job: 'node', severity: 'warning', shipshape_severity: 'P3' }],
      ]);
      await engine.receive([{ labels: sent, annotations: {}, endsAt: null, resolved: true }, { labels: noName, annotations: {}, endsAt: null, resolved: true }], 'alertmanager');
      expect(engine.active()).toEqual([]);
      const rows = await store.db.selectFrom('alerts').select(['state', 'fingerprint', 'labels']).orderBy('id').execute();
      expect(rows.map((r) => [r.state, r.fingerprint, JSON.parse(r.labels)])).toEqual([
        ['resolved', a!.fingerprint, { alertname: 'DiskFull', severity: 'critical', instance: 'db1', shipshape_severity: 'P1' }],
        ['resolved', fingerprint(noName), { job: 'node', severity: 'warning', shipshape_severity: 'P3' }],
      ]);
    });

    it('a push is one transaction: when a write in it fails nothing of it is stored or told, and the same push later fires once', async () => {
      // a real failure from the database itself, on the second alert's event
      if (store.dialect === 'sqlite') await sql`CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.subject = 'alert:Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`.execute(store.db);
      else {
        await sql`CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.subject = 'alert:Boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`.execute(store.db);
        await sql`CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION boom()`.execute(store.db);
      }
      const told: string[] = [];
      const off = events.onEvent((e) => told.push(`${e.type} ${e.subject}`));
      const push: InboundAlert[] = [
        { labels: { alertname: 'DiskFull', instance: 'db1' }, annotations: {}, endsAt: null },
        { labels: { alertname: 'Boom' }, annotations: {}, endsAt: null },
      ];
      try {
        await expect(engine.receive(push, 'prometheus')).rejects.toThrow(/boom/);
        expect(engine.active()).toEqual([]);
        expect(await store.db.selectFrom('alerts').select('id').execute()).toEqual([]);
        expect(await alertEvents()).toEqual([]);
        expect(told).toEqual([]);
      } finally {
        await sql`DROP TRIGGER boom${sql.raw(store.dialect === 'sqlite' ? '' : ' ON events')}`.execute(store.db);
      }
      await engine.receive(push, 'prometheus');
      expect(engine.active().map((a) => a.labels.alertname).sort()).toEqual(['Boom', 'DiskFull']);
      expect(told).toEqual(['alert.firing alert:DiskFull', 'alert.firing alert:Boom']);
      off();
    });

    it('goes pending, fires after `for`, and resolves, with an event for each and the values that caused it', async () => {
      await engine.setRules([rule({ name: 'high-error-rate', when: 'error_rate(web) > 1% for 5m', severity: 'P1', labels: { team: 'web' }, summary: '{{ service }} error rate is {{ value }} (over {{ threshold }}, team {{ labels.team }})' })]);
      telemetry.errors = { value: 0.032, samples: 500 };
      await engine.evaluate();
      expect(engine.rulesStatus()[0]).toMatchObject({ state: 'pending', valueText: '3.2%', conditionMet: true });
      now += 4 * M;
      await engine.evaluate();
      expect(engine.active()[0]?.state).toBe('pending');
      now += M;
      await engine.evaluate();
      const firing = engine.active()[0] as AlertInstance;
      expect(firing).toMatchObject({
        state: 'firing',
        source: 'rule:high-error-rate',
        labels: { alertname: 'high-error-rate', severity: 'P1', service: 'web', team: 'web' },
        annotations: { summary: 'web error rate is 3.2% (over 1%, team web)' },
        value: 0.032,
        valueText: '3.2%',
        activeAt: new Date(T0).toISOString(),
        firedAt: new Date(T0 + 5 * M).toISOString(),
      });
      telemetry.errors = { value: 0.002, samples: 800 };
      now += 10 * S;
      await engine.evaluate();
      expect(engine.active()).toEqual([]);
      const evs = await alertEvents();
      expect(evs.map((e) => e.type)).toEqual(['alert.pending', 'alert.firing', 'alert.resolved']);
      expect(evs.every((e) => e.actor === 'rule:high-error-rate')).toBe(true);
      expect(evs[1]?.data).toMatchObject({ state: 'firing', valueText: '3.2%', thresholdText: '1%', samples: 500, fingerprint: firing.fingerprint });
      expect(evs[2]?.data).toMatchObject({ state: 'resolved', valueText: '0.2%', resolvedAt: new Date(T0 + 5 * M + 10 * S).toISOString(), firedAt: firing.firedAt });
      // the telemetry was asked for the rule's service over the default 5m window
      expect(telemetry.calls.find((c) => c.fn === 'errorRate')?.args).toEqual(['web', 5 * M, undefined]);
      const list = await engine.list({ limit: 10 });
      expect(list.items.map((i) => i.state)).toEqual(['resolved']);
    });

    it('does not page on one error from a quiet service (min_samples)', async () => {
      await engine.setRules([rule({ name: 'errors', when: 'error_rate(web) > 1%' }), rule({ name: 'errors-strict', when: 'error_rate(web) > 1%', min_samples: 2 })]);
      telemetry.errors = { value: 1 / 3, samples: 3 };
      await engine.evaluate();
      const st = engine.rulesStatus();
      expect(st[0]).toMatchObject({ name: 'errors', state: 'inactive', conditionMet: false, reason: expect.stringMatching(/^min_samples: 3 < 20/) });
      expect(st[1]).toMatchObject({ name: 'errors-strict', state: 'firing' });
      telemetry.errors = { value: 0.05, samples: 20 };
      await engine.evaluate();
      expect(engine.active().map((a) => a.labels.alertname).sort()).toEqual(['errors', 'errors-strict']);
    });

    it('keeps firing for keep_firing_for after the condition clears, and stays if it comes back', async () => {
      await engine.setRules([rule({ name: 'slow', when: 'p95(web.latency) > 1000ms', keep_firing_for: '2m' })]);
      telemetry.p95 = { value: 1500, samples: 100 };
      await engine.evaluate();
      expect(engine.active()[0]).toMatchObject({ state: 'firing', valueText: '1.5s' });
      telemetry.p95 = { value: 400, samples: 100 };
      now += M;
      await engine.evaluate();
      expect(engine.active()[0]?.state).toBe('firing');
      telemetry.p95 = { value: 1200, samples: 100 }; // flaps back: the clock restarts
      now += 30 * S;
      await engine.evaluate();
      telemetry.p95 = { value: 300, samples: 100 };
      now += 30 * S;
      await engine.evaluate();
      now += 110 * S;
      await engine.evaluate();
      expect(engine.active()[0]?.state).toBe('firing');
      now += 10 * S;
      await engine.evaluate();
      expect(engine.active()).toEqual([]);
      expect((await alertEvents()).map((e) => e.type)).toEqual(['alert.firing', 'alert.resolved']);
    });

    it('cancels a pending alert whose condition clears before `for`', async () => {
      await engine.setRules([rule({ name: 'errors', when: 'error_rate(web) > 1% for 5m' })]);
      telemetry.errors = { value: 0.5, samples: 100 };
      await engine.evaluate();
      telemetry.errors = { value: 0, samples: 100 };
      now += M;
      await engine.evaluate();
      expect(engine.active()).toEqual([]);
      const evs = await alertEvents();
      expect(evs.map((e) => e.type)).toEqual(['alert.pending', 'alert.cancelled']);
      expect(evs[1]?.data).toMatchObject({ firedAt: null, state: 'resolved' });
    });

    it('evaluates checks, service states, heartbeats, ratios and silence', async () => {
      await engine.setRules([
        rule({ name: 'db-connections', when: 'check(db).connections_used > 80%', severity: 'P2' }),
        rule({ name: 'web-down', when: 'down(web) for 1m', severity: 'P0' }),
        rule({ name: 'backup-missing', when: 'absent(heartbeat.nightly-backup) for 26h' }),
        rule({ name: 'payments', when: 'rate(events.payment_failed) / rate(events.payment_attempted) > 5%' }),
        rule({ name: 'silent', when: 'absent(web) for 10m' }),
        rule({ name: 'traffic', when: 'request_rate(web) < 1' }),
      ]);
      checks.values.set('db.connections_used', 0.85);
      checks.services.set('web', { state: 'down', since: T0 - 30 * S });
      checks.pings.set('nightly-backup', { lastPing: T0 - 27 * 3_600_000, since: T0 - 100 * 3_600_000 });
      telemetry.events.set('payment_failed', { value: 0.5, samples: 30 });
      telemetry.events.set('payment_attempted', { value: 5, samples: 300 });
      telemetry.seen.set('web', T0 - 11 * M);
      await engine.evaluate();
      const byName = Object.fromEntries(engine.rulesStatus().map((s) => [s.name, s]));
      expect(byName['db-connections']).toMatchObject({ state: 'firing', valueText: '85%', thresholdText: '80%' });
      expect(byName['web-down']).toMatchObject({ state: 'pending', labels: { service: 'web', severity: 'P0' } });
      expect(byName['backup-missing']).toMatchObject({ state: 'firing', reason: expect.stringMatching(/heartbeat nightly-backup: last 1d3h ago/) });
      expect(byName.payments).toMatchObject({ state: 'firing', valueText: '10%' });
      expect(byName.silent).toMatchObject({ state: 'firing' });
      expect(byName.traffic).toMatchObject({ state: 'firing', valueText: '0/s' });
      now += M;
      checks.pings.set('nightly-backup', { lastPing: now - M, since: T0 - 100 * 3_600_000 });
      await engine.evaluate();
      const after = Object.fromEntries(engine.rulesStatus().map((s) => [s.name, s]));
      expect(after['web-down']?.state).toBe('firing');
      expect(after['backup-missing']?.state).toBe('inactive');
    });

    it('keeps firing alerts across a restart without firing them again, and resolves alerts of removed rules', async () => {
      const rules = [rule({ name: 'errors', when: 'error_rate(web) > 1%' }), rule({ name: 'slow', when: 'p95(web) > 1s for 10m' })];
      await engine.setRules(rules);
      telemetry.errors = { value: 0.2, samples: 100 };
      telemetry.p95 = { value: 5000, samples: 100 };
      await engine.evaluate();
      now += 5 * M;
      await engine.evaluate();
      await engine.idle();
      await store.close();

      // restart: a new store connection and a new engine over the same data
      store = await loc.open();
      events = new EventLog(store, () => now);
      engine = make();
      await engine.load();
      await engine.setRules(rules);
      now += 5 * M;
      await engine.evaluate();
      expect(engine.active().map((a) => [a.labels.alertname, a.state]).sort()).toEqual([
        ['errors', 'firing'],
        ['slow', 'firing'],
      ]);
      // the pending time before the restart counted: slow fired at 10m, not 10m after the restart
      expect(engine.active().find((a) => a.labels.alertname === 'slow')?.firedAt).toBe(new Date(T0 + 10 * M).toISOString());
      const types = (await alertEvents()).map((e) => `${e.type} ${(e.data as { labels: { alertname: string } }).labels.alertname}`);
      expect(types).toEqual(['alert.firing errors', 'alert.pending slow', 'alert.firing slow']);

      await engine.setRules([rules[0] as AlertRuleConfig]);
      expect(engine.active().map((a) => a.labels.alertname)).toEqual(['errors']);
      const last = (await alertEvents()).at(-1);
      expect(last).toMatchObject({ type: 'alert.resolved', actor: 'rule:slow', data: { annotations: { resolved_reason: 'the rule was removed from the config' } } });
    });
  });
}
