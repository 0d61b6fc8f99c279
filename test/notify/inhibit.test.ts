/**
 * Inhibition as Alertmanager's inhibit/inhibit.go does it: `inhibit_rules:` (or `inhibit:`) with
 * source_matchers / target_matchers / equal next to the older source_match forms.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { inhibitRulesOf } from '../../src/notify/dispatcher.js';

import { alert, harness, inhibitedBy, useNotifyFixture } from './helpers.js';

const rulesOf = (yaml: string) => inhibitRulesOf(parseConfig(`notify:\n${yaml}`, 'f.yaml', { env: {} }).raw.notify);
const a = (fingerprint: string, labels: Record<string, string>, state = 'firing') => ({ fingerprint, labels, state });

describe('inhibition rules (inhibit.go semantics)', () => {
  const rules = rulesOf(`  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [alertname, cluster]
`);

  it('a firing source inhibits a target equal on the equal labels', () => {
    const src = a('s', { alertname: 'Load', cluster: 'eu', severity: 'critical' });
    expect(inhibitedBy(a('t', { alertname: 'Load', cluster: 'eu', severity: 'warning' }), [src], rules)).toEqual(['s']);
    expect(inhibitedBy(a('t', { alertname: 'Load', cluster: 'us', severity: 'warning' }), [src], rules)).toEqual([]);
    expect(inhibitedBy(a('t', { alertname: 'Load', cluster: 'eu', severity: 'info' }), [src], rules)).toEqual([]);
  });

  it('a resolved source inhibits nothing', () => {
    const src = a('s', { alertname: 'Load', severity: 'critical' }, 'resolved');
    expect(inhibitedBy(a('t', { alertname: 'Load', severity: 'warning' }), [src], rules)).toEqual([]);
  });

  it('labels of equal missing on both count as equal; missing on one side does not', () => {
    const src = a('s', { alertname: 'Load', severity: 'critical' });
    expect(inhibitedBy(a('t', { alertname: 'Load', severity: 'warning' }), [src], rules)).toEqual(['s']);
    expect(inhibitedBy(a('t', { alertname: 'Load', cluster: 'eu', severity: 'warning' }), [src], rules)).toEqual([]);
  });

  it('an alert matching both sides does not inhibit itself, nor another that matches both sides', () => {
    const both = rulesOf(`  inhibit_rules:
    - source_matchers: ['severity=~"critical|warning"']
      target_matchers: ['severity=~"warning|info"']
      equal: [alertname]
`);
    const w1 = a('w1', { alertname: 'Disk', severity: 'warning', instance: '1' });
    const w2 = a('w2', { alertname: 'Disk', severity: 'warning', instance: '2' });
    const info = a('i', { alertname: 'Disk', severity: 'info' });
    const crit = a('c', { alertname: 'Disk', severity: 'critical' });
    expect(inhibitedBy(w1, [w1, w2], both)).toEqual([]);
    expect(inhibitedBy(info, [w1], both)).toEqual(['w1']);
    // a source matching only the source side still inhibits a two-sided target
    expect(inhibitedBy(w1, [w1, w2, crit], both)).toEqual(['c']);
  });

  it('the older source_match / target_match_re forms still work, mixed with matchers', () => {
    const mixed = rulesOf(`  inhibit:
    - source_match: { alertname: db-down }
      target_match_re: { alertname: "high-.*" }
      target_matchers: ['env!="dev"']
      equal: [env]
`);
    const src = a('s', { alertname: 'db-down', env: 'prod' });
    expect(inhibitedBy(a('t', { alertname: 'high-latency', env: 'prod' }), [src], mixed)).toEqual(['s']);
    expect(inhibitedBy(a('t', { alertname: 'high-latency', env: 'dev' }), [a('s2', { alertname: 'db-down', env: 'dev' })], mixed)).toEqual([]);
  });

  it('inhibit: and inhibit_rules: are one thing: both at once is an error; [] turns the default off', () => {
    expect(() => rulesOf('  inhibit: []\n  inhibit_rules: []\n')).toThrow(/f\.yaml:3:\d+: notify\.inhibit_rules: give either inhibit: or inhibit_rules: \(the same thing\), not both/);
    expect(rulesOf('  inhibit_rules: []\n')).toEqual([]);
    expect(rulesOf('  channels: {}\n')[0]).toMatchObject({ source_match: { severity: 'P0' } });
    expect(() => rulesOf("  inhibit_rules:\n    - source_matchers: ['a=b,']\n      target_matchers: ['x=~\"(\"']\n")).toThrow(/notify\.inhibit_rules\[0\]\.target_matchers\[0\]: invalid matcher/);
  });
});

describe('inhibition while dispatching', () => {
  const f = useNotifyFixture('shipshape-inhibit-');

  it('inhibit_rules with source_matchers mute the target until the source resolves', async () => {
    f.h = await harness(
      f.store,
      `
notify:
  channels:
    hook: { webhook: { url: "${f.rx.url}/hook" } }
  route:
    receiver: hook
    group_wait: 0s
    group_interval: 1m
    group_by: [alertname, cluster]
  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [cluster]
`,
    );
    const src = alert('NodeDown', { severity: 'critical', cluster: 'eu' });
    await f.h.fire(src);
    await f.h.fire(alert('HighLoad', { severity: 'warning', cluster: 'eu' }));
    await f.h.fire(alert('HighLoad', { severity: 'warning', cluster: 'us' }));
    const firing = () => f.rx.requests.flatMap((r) => (r.json().alerts as { status: string; labels: Record<string, string> }[]).filter((x) => x.status === 'firing').map((x) => `${x.labels.alertname}/${x.labels.cluster}`));
    expect(firing().sort()).toEqual(['HighLoad/us', 'NodeDown/eu']);
    await f.h.resolve(src);
    await f.h.advance(60_000);
    expect(firing()).toContain('HighLoad/eu');
  });
});
