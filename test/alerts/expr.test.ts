import { describe, expect, it } from 'vitest';
import { formatValue, parseRule, RuleSyntaxError } from '../../src/alerts/expr.js';
import { ConfigError } from '../../src/core/config/load.js';
import { parseConfig } from '../../src/modules.js';

function syntaxError(text: string): { column: number; message: string } {
  try {
    parseRule(text);
  } catch (e) {
    if (e instanceof RuleSyntaxError) return { column: e.column, message: e.message };
    throw e;
  }
  throw new Error(`"${text}" parsed`);
}

describe('the rule language', () => {
  it('reads every rule the runbooks write', () => {
    const er = parseRule('error_rate(web) > 1% for 5m');
    expect(er).toMatchObject({ forMs: 300_000, services: ['web'], unit: 'percent', guarded: true });
    // as in Prometheus, for 0s means no wait; a zero window still makes no sense
    expect(parseRule('error_rate(web) > 5% for 0s')).toMatchObject({ forMs: 0 });
    expect(() => parseRule('error_rate(web, 0s) > 5%')).toThrow(/a window must be longer than 0/);
    expect(er.condition).toMatchObject({ k: 'compare', op: '>', threshold: { value: 0.01, unit: 'percent' }, expr: { k: 'error_rate', service: 'web', window: 300_000 } });

    expect(parseRule('p95(web.latency) > 1000ms for 5m').condition).toMatchObject({ expr: { k: 'latency', service: 'web', q: 0.95 }, threshold: { value: 1000, unit: 'duration' } });
    expect(parseRule('p99(api) >= 2s').condition).toMatchObject({ op: '>=', expr: { k: 'latency', service: 'api', q: 0.99 }, threshold: { value: 2000 } });
    expect(parseRule('request_rate(web) < 1 for 10m')).toMatchObject({ forMs: 600_000, guarded: false, condition: { op: '<', expr: { k: 'request_rate' } } });
    expect(parseRule('check(db).connections_used > 80%').condition).toMatchObject({ expr: { k: 'check', service: 'db', path: ['connections_used'] }, threshold: { value: 0.8 } });
    expect(parseRule('check(db/postgres).connections_used > 80%').condition).toMatchObject({ expr: { k: 'check', service: 'db', check: 'postgres' } });
    expect(parseRule('vitals(web).lcp.p75 > 2.5s').condition).toMatchObject({ expr: { k: 'vital', service: 'web', name: 'LCP', q: 0.75 }, threshold: { value: 2500 } });
    expect(parseRule('vitals(web{page="/checkout"}, 1h).cls > 0.1').condition).toMatchObject({ expr: { k: 'vital', name: 'CLS', page: '/checkout', window: 3_600_000 } });
    const ratio = parseRule('rate(events.payment_failed) / rate(events.payment_attempted) > 5%');
    expect(ratio).toMatchObject({ guarded: true, unit: 'percent' });
    expect(ratio.condition).toMatchObject({ expr: { k: 'bin', op: '/', l: { k: 'event_rate', name: 'payment_failed' }, r: { k: 'event_rate', name: 'payment_attempted' } }, threshold: { value: 0.05 } });
    expect(parseRule('down(web) for 1m')).toMatchObject({ forMs: 60_000, services: ['web'], condition: { k: 'down', service: 'web' } });
    expect(parseRule('absent(heartbeat.nightly-backup) for 26h')).toMatchObject({ forMs: 26 * 3_600_000, condition: { k: 'absent', target: { kind: 'heartbeat', token: 'nightly-backup' } } });
    expect(parseRule('absent(web)').condition).toMatchObject({ k: 'absent', target: { kind: 'service', service: 'web' } });
    expect(parseRule('metric(pg_stat_activity_count{state="active"}) > 50').condition).toMatchObject({ expr: { k: 'metric', name: 'pg_stat_activity_count', labels: { state: 'active' } }, threshold: { value: 50 } });
    // post-mortem action items past their due date: all of them, or a service's
    expect(parseRule('overdue_action_items() > 0')).toMatchObject({ services: [], unit: 'plain', guarded: false, condition: { expr: { k: 'overdue_action_items', text: 'overdue_action_items()' } } });
    expect(parseRule('overdue_action_items( web ) >= 3 for 1d')).toMatchObject({ services: ['web'], forMs: 86_400_000, condition: { op: '>=', expr: { k: 'overdue_action_items', service: 'web' } } });
  });

  it('takes windows, routes, arithmetic and every comparison', () => {
    expect(parseRule('error_rate(web, 10m) > 1%').condition).toMatchObject({ expr: { window: 600_000 } });
    expect(parseRule('error_rate(web{route="/api/pay"}, 1h30m) > 1%').condition).toMatchObject({ expr: { route: '/api/pay', window: 5_400_000 } });
    expect(parseRule('(rate(events.a) + rate(events.b)) * 2 - 1 >= 3').condition).toMatchObject({ expr: { k: 'bin', op: '-', l: { k: 'bin', op: '*' } } });
    expect(parseRule('rate(shop.events.purchase_completed, 1h) < 0.01').condition).toMatchObject({ expr: { k: 'event_rate', service: 'shop', name: 'purchase_completed', window: 3_600_000 } });
    for (const op of ['>', '>=', '<', '<=', '==', '!=']) expect(parseRule(`metric(up) ${op} 1`).condition).toMatchObject({ op });
  });

  it('points at the column and says what was expected', () => {
    expect(syntaxError('eror_rate(web) > 1%')).toMatchObject({ column: 1, message: expect.stringMatching(/unknown function "eror_rate" \(did you mean error_rate\?\)/) });
    expect(syntaxError('error_rate(web > 1%')).toMatchObject({ column: 16, message: expect.stringMatching(/expected "\)" to close error_rate\(/) });
    expect(syntaxError('error_rate(web) > 500ms')).toMatchObject({ column: 19, message: expect.stringMatching(/expected a percentage like 1%/) });
    expect(syntaxError('error_rate(web) 1%')).toMatchObject({ column: 17, message: expect.stringMatching(/expected an operator .* or a comparison/) });
    expect(syntaxError('error_rate(web) > 1% for')).toMatchObject({ column: 25, message: expect.stringMatching(/expected a duration after "for"/) });
    expect(syntaxError('error_rate(web) > 1% fo 5m')).toMatchObject({ column: 22, message: expect.stringMatching(/expected "for <duration>"/) });
    expect(syntaxError('p95(web) > 5x')).toMatchObject({ column: 12, message: expect.stringMatching(/"5x" is not a number/) });
    expect(syntaxError('vitals(web).lxp > 1s')).toMatchObject({ column: 13, message: expect.stringMatching(/expected a web vital \(lcp, inp, cls, fcp, ttfb\)/) });
    expect(syntaxError('down(web) > 1')).toMatchObject({ column: 11, message: expect.stringMatching(/true or false on its own/) });
    expect(syntaxError('error_rate(web, 10) > 1%')).toMatchObject({ column: 17, message: expect.stringMatching(/expected a window like 30s/) });
    expect(syntaxError('error_rate(web)')).toMatchObject({ column: 16, message: expect.stringMatching(/expected a comparison/) });
    expect(syntaxError('rate(payment_failed) > 1')).toMatchObject({ column: 6, message: expect.stringMatching(/expected events\.<name>/) });
    expect(syntaxError('error_rate(web{page="/"}) > 1%')).toMatchObject({ column: 16, message: expect.stringMatching(/unknown selector "page"/) });
    expect(syntaxError('')).toMatchObject({ column: 1, message: expect.stringMatching(/the rule is empty/) });
    expect(syntaxError('overdue_action_item() > 0')).toMatchObject({ column: 1, message: expect.stringMatching(/did you mean overdue_action_items\?/) });
    expect(syntaxError('overdue_action_items(web, api) > 0')).toMatchObject({ column: 25, message: expect.stringMatching(/expected "\)" to close overdue_action_items\(/) });
    expect(syntaxError('overdue_action_items() > 2h')).toMatchObject({ column: 26, message: expect.stringMatching(/does not fit overdue_action_items\(\): expected a plain number/) });
  });

  it('formats values in the rule unit', () => {
    expect(formatValue(0.032, 'percent')).toBe('3.2%');
    expect(formatValue(0.01, 'percent')).toBe('1%');
    expect(formatValue(1200, 'duration')).toBe('1.2s');
    expect(formatValue(850, 'duration')).toBe('850ms');
    expect(formatValue(2.5, 'rate')).toBe('2.5/s');
    expect(formatValue(null, 'plain')).toBe('no data');
  });
});

describe('alerts in shipshape.yaml', () => {
  const yaml = (when: string) => `alerts:\n  - name: high-error-rate\n    when: ${when}\n    severity: P1\n    summary: "{{ service }} error rate is {{ value }}"\n  - name: backup-missing\n    when: absent(heartbeat.nightly-backup) for 26h\n    severity: P2\n`;

  it('loads the issue example as written', () => {
    const cfg = parseConfig(yaml('error_rate(web) > 1% for 5m'), 'shipshape.yaml');
    expect(cfg.raw.alerts).toMatchObject([
      { name: 'high-error-rate', severity: 'P1', keep_firing_for: 0 },
      { name: 'backup-missing', severity: 'P2' },
    ]);
    expect(cfg.raw.alerting.evaluate_every).toBe(10_000);
  });

  it('reports a bad rule at its line with the column inside when', () => {
    let err: ConfigError | undefined;
    try {
      parseConfig(yaml('error_rate(web) > 1% fro 5m'), 'shipshape.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.issues[0]).toMatchObject({ line: 3, path: 'alerts[0].when', message: expect.stringMatching(/^column 22: expected "for <duration>"/) });
    expect(err?.message).toContain('shipshape.yaml:3:');
  });

  it('rejects duplicate names and broken templates', () => {
    expect(() => parseConfig('alerts:\n  - { name: a, when: down(web) }\n  - { name: a, when: down(db) }\n', 'x.yaml')).toThrow(/alerts\[1\]\.name: duplicate alert name "a"/);
    expect(() => parseConfig('alerts:\n  - { name: a, when: down(web), summary: "{{ service" }\n', 'x.yaml')).toThrow(/alerts\[0\]\.summary: invalid template/);
  });
});
