/**
 * Alertmanager's doc/examples/simple.yml: its route and inhibit_rules sections, as written, under
 * `notify:`, with its receivers mapped to channels; alerts go where Alertmanager would send them.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { inhibitRulesOf, resolveRoutes, routesFor } from '../../src/notify/dispatcher.js';
import { inhibitedBy } from './helpers.js';

// the route and inhibit_rules sections of simple.yml, unchanged (comments shortened)
const AM_SECTIONS = `
# The root route on which each incoming alert enters.
route:
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  receiver: team-X-mails
  routes:
    - matchers:
        - service=~"foo1|foo2|baz"
      receiver: team-X-mails
      routes:
        - matchers:
            - severity="critical"
          receiver: team-X-pager
    - matchers:
        - service="files"
      receiver: team-Y-mails

      routes:
        - matchers:
            - severity="critical"
          receiver: team-Y-pager

    # This route handles all alerts coming from a database service.
    - matchers:
        - service="database"
      receiver: team-DB-pager
      # Also group alerts by affected database.
      group_by: [alertname, cluster, database]
      routes:
        - matchers:
            - owner="team-X"
          receiver: team-X-pager
          continue: true
        - matchers:
            - owner="team-Y"
          receiver: team-Y-pager

inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    # CAUTION: if all label names listed in equal are missing from both alerts, the rule applies!
    equal: [alertname, cluster, service]
`;

// its receivers: one channel per email_configs / pagerduty_configs entry
const SHIPSHAPE = `
notify:
  channels:
    team-x-mail: { email: { to: [team-X+alerts@example.org], smtp: "smtp://localhost:25" } }
    team-x-mail-critical: { email: { to: [team-X+alerts-critical@example.org], smtp: "smtp://localhost:25" } }
    team-x-pagerduty: { pagerduty: { routing_key: team-X-key } }
    team-y-mail: { email: { to: [team-Y+alerts@example.org], smtp: "smtp://localhost:25" } }
    team-y-pagerduty: { pagerduty: { routing_key: team-Y-key } }
    team-db-pagerduty: { pagerduty: { routing_key: team-DB-key } }
  receivers:
    team-X-mails: [team-x-mail]
    team-X-pager: [team-x-mail-critical, team-x-pagerduty]
    team-Y-mails: [team-y-mail]
    team-Y-pager: [team-y-pagerduty]
    team-DB-pager: [team-db-pagerduty]
${AM_SECTIONS.split('\n')
  .map((l) => (l ? `  ${l}` : l))
  .join('\n')}
`;

describe('Alertmanager’s simple.yml under notify:', () => {
  const cfg = parseConfig(SHIPSHAPE, 'shipshape.yaml', { env: {} }).raw.notify;
  const tree = resolveRoutes(cfg);

  const cases: [Record<string, string>, string[]][] = [
    [{ alertname: 'Latency', service: 'foo1' }, ['team-X-mails']],
    [{ alertname: 'Latency', service: 'foo2', severity: 'critical' }, ['team-X-pager']],
    [{ alertname: 'Latency', service: 'baz', severity: 'warning' }, ['team-X-mails']],
    [{ alertname: 'Latency', service: 'foo10' }, ['team-X-mails']], // =~ is anchored: the root takes it
    [{ alertname: 'Full', service: 'files' }, ['team-Y-mails']],
    [{ alertname: 'Full', service: 'files', severity: 'critical' }, ['team-Y-pager']],
    [{ alertname: 'Slow', service: 'database' }, ['team-DB-pager']],
    // team-X's child says continue, nothing after it matches: the parent is still not a match
    [{ alertname: 'Slow', service: 'database', owner: 'team-X' }, ['team-X-pager']],
    [{ alertname: 'Slow', service: 'database', owner: 'team-Y' }, ['team-Y-pager']],
    [{ alertname: 'Other', service: 'frontend' }, ['team-X-mails']],
    [{ alertname: 'NoService' }, ['team-X-mails']],
  ];
  for (const [labels, want] of cases)
    it(`${JSON.stringify(labels)} → ${want.join(', ')}`, () => {
      expect(routesFor(tree, labels).map((r) => r.receiver)).toEqual(want);
    });

  it('receivers resolve to their channels; grouping and timings are inherited', () => {
    const [pager] = routesFor(tree, { service: 'database', owner: 'team-X' });
    expect(pager).toMatchObject({ channels: ['team-x-mail-critical', 'team-x-pagerduty'], groupBy: ['alertname', 'cluster', 'database'], groupWait: 30_000, groupInterval: 300_000, repeatInterval: 3 * 3_600_000 });
    const [root] = routesFor(tree, { service: 'frontend' });
    expect(root).toMatchObject({ channels: ['team-x-mail'], groupBy: ['alertname', 'cluster', 'service'], key: '{}' });
  });

  it('its inhibition rule mutes a warning while the same alert is critical (equal labels missing on both count)', () => {
    const rules = inhibitRulesOf(cfg);
    const crit = { fingerprint: 'c', labels: { alertname: 'Latency', service: 'foo1', severity: 'critical' } };
    expect(inhibitedBy({ fingerprint: 'w', labels: { alertname: 'Latency', service: 'foo1', severity: 'warning' } }, [crit], rules)).toEqual(['c']);
    expect(inhibitedBy({ fingerprint: 'w', labels: { alertname: 'Latency', service: 'foo2', severity: 'warning' } }, [crit], rules)).toEqual([]);
  });
});
