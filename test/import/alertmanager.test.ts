/**
 * `shipshape import alertmanager`: Alertmanager's own example configs (fixtures/README.md) become a
 * notify: section that loads with the real config loader, routes alerts where Alertmanager would,
 * keeps secrets out of the YAML, and reports what had no equivalent.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dotenvText, importAlertmanager } from '../../src/import/index.js';
import { channelsFor, fixture, load, reported, run } from './helpers.js';

const am = (name: string) => run('alertmanager', fixture('alertmanager', name));

function inline(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-am-'));
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, text);
  return file;
}

describe('import alertmanager: every example config loads', () => {
  for (const name of readdirSync(fixture('alertmanager'))) {
    it(`${name} → a config the loader accepts`, () => {
      const r = am(name);
      expect(r.invalid).toEqual([]);
      expect(() => load(r)).not.toThrow();
    });
  }
});

describe('import alertmanager: doc/examples/simple.yml', () => {
  const r = am('simple.yml');
  const { config } = load(r);
  const source = parse(readFileSync(fixture('alertmanager', 'simple.yml'), 'utf8')) as Record<string, unknown>;

  it('the route tree and inhibit rules are copied as they are', () => {
    const out = parse(r.yaml) as { notify: Record<string, unknown> };
    expect(out.notify.route).toEqual(source.route);
    expect(out.notify.inhibit_rules).toEqual(source.inhibit_rules);
  });

  it('each receiver is its channels: one per config, global SMTP settings folded in', () => {
    expect(config.raw.notify.receivers).toEqual({
      'team-X-mails': ['team-x-mails'],
      'team-X-pager': ['team-x-pager-email', 'team-x-pager-pagerduty'],
      'team-Y-mails': ['team-y-mails'],
      'team-Y-pager': ['team-y-pager'],
      'team-DB-pager': ['team-db-pager'],
    });
    expect(config.raw.notify.channels['team-x-mails']).toMatchObject({
      email: { to: ['team-X+alerts@example.org'], from: 'alertmanager@example.org', smtp: 'smtp://alertmanager:password@localhost:25' },
      send_resolved: false,
    });
    expect(config.raw.notify.channels['team-db-pager']).toMatchObject({ pagerduty: { routing_key: '<team-DB-key>' }, send_resolved: true });
  });

  it('alerts reach the receivers Alertmanager would pick', () => {
    expect(channelsFor(config, { alertname: 'Latency', service: 'foo1' })).toEqual(['team-x-mails']);
    expect(channelsFor(config, { alertname: 'Latency', service: 'foo2', severity: 'critical' })).toEqual(['team-x-pager-email', 'team-x-pager-pagerduty']);
    expect(channelsFor(config, { alertname: 'Slow', service: 'database', owner: 'team-Y' })).toEqual(['team-y-pager']);
    expect(channelsFor(config, { alertname: 'Full', service: 'files' })).toEqual(['team-y-mails']);
  });

  it('secrets are references listed in env; their values are not in the YAML', () => {
    expect(r.env.map((v) => v.name)).toEqual(['TEAM_X_MAILS_SMTP_URL', 'TEAM_X_PAGER_EMAIL_SMTP_URL', 'TEAM_X_PAGER_PAGERDUTY_ROUTING_KEY', 'TEAM_Y_MAILS_SMTP_URL', 'TEAM_Y_PAGER_ROUTING_KEY', 'TEAM_DB_PAGER_ROUTING_KEY']);
    expect(r.yaml).not.toMatch(/password|<team-X-key>/);
  });

  it('templates, tracing and the v1 PagerDuty service keys are reported', () => {
    expect(reported(r)).toEqual(['templates:', 'tracing:', 'receiver "team-X-pager": pagerduty_configs.service_key', 'receiver "team-Y-pager": pagerduty_configs.service_key', 'receiver "team-DB-pager": pagerduty_configs.service_key']);
    expect(r.unsupported[0]?.why).toMatch(/Go notification templates/);
  });
});

describe('import alertmanager: config/testdata/conf.good.yml', () => {
  const r = am('conf.good.yml');
  const { config } = load(r);

  it('receivers with no equivalent integration stay, empty; what they had is reported', () => {
    expect(config.raw.notify.receivers).toMatchObject({ 'victorOps-receiver': [], 'opsGenie-receiver': [], 'pushover-receiver': [], 'slack-receiver': ['slack-receiver'] });
    expect(r.unsupported.filter((u) => u.why.startsWith('no ') && u.why.includes('channel;')).map((u) => u.where)).toEqual(['receivers[5].victorops_configs[0]', 'receivers[6].opsgenie_configs[0]', 'receivers[7].pushover_configs[0]']);
  });

  it('global.slack_api_url becomes the Slack channel\'s URL; its channel override is reported', () => {
    expect(config.raw.notify.channels['slack-receiver']).toMatchObject({ slack: { url: 'http://mysecret.example.com/' }, send_resolved: false });
    expect(reported(r)).toEqual(expect.arrayContaining(['receiver "slack-receiver": slack_configs.channel', 'global.http_config', 'global.smtp_hello']));
  });

  it('a regular expression ending in $ reaches the loader unchanged', () => {
    expect(config.raw.notify.route?.routes?.[0]?.match_re).toEqual({ service: '^(foo1|foo2|baz)$' });
    expect(channelsFor(config, { service: 'foo1' })).toEqual(['team-x-mails']);
  });

  it('a password with a newline survives the dotenv file', () => {
    const env = parseDotenv(dotenvText(r.env).text);
    expect(env.TEAM_X_MAILS_SMTP_URL).toBe('smtp://alertmanager:multiline%0Amysecret@localhost:25');
    for (const v of r.env) expect(env[v.name]).toBe(v.value);
  });
});

describe('import alertmanager: time intervals and route labels', () => {
  it('time_intervals and the older mute_time_intervals land in notify.time_intervals; routes refer to them', () => {
    const r = am('time-intervals.yml');
    const { config } = load(r);
    expect((config.raw.notify.time_intervals ?? []).map((t) => t.name).sort()).toEqual(['holidays', 'offhours']);
    expect(config.raw.notify.route?.routes?.[2]).toMatchObject({ receiver: 'dev-pager', mute_time_intervals: ['offhours', 'holidays'], continue: true });
    expect(config.raw.notify.receivers).toEqual({ 'default-receiver': [], 'database-pager': [], 'frontend-pager': [], 'dev-pager': [], 'on-call-pager': [] });
    expect(r.unsupported).toEqual([]);
  });

  it('route labels are reported per route', () => {
    expect(am('route_labels.yml').unsupported.map((u) => u.where)).toEqual(['templates', 'route.labels', 'route.routes[0].labels', 'route.routes[1].labels']);
  });

  it('a templated Slack text is reported as a Go template; a placeholder URL is reported', () => {
    const r = am('slack-notifications.yml');
    expect(r.unsupported.find((u) => u.where === 'receivers[0].slack_configs[0].text')?.why).toMatch(/Go template/);
    expect(r.unsupported).toContainEqual({ what: 'the value of SLACK_NOTIFICATIONS_URL', where: 'env', why: expect.stringContaining('not a URL in the source') });
  });
});

describe('import alertmanager: webhook auth and bad input', () => {
  it('webhook bearer credentials become a secret Authorization header', () => {
    const r = run(
      'alertmanager',
      inline(`route: { receiver: hook }
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:5001/alerts
        max_alerts: 10
        http_config:
          authorization: { credentials: t0ps3cret }
`),
    );
    const { config } = load(r);
    expect(config.raw.notify.channels.hook).toMatchObject({ webhook: { url: 'http://127.0.0.1:5001/alerts', max_alerts: 10, headers: { Authorization: 'Bearer t0ps3cret' } }, send_resolved: true });
    expect(r.yaml).not.toContain('t0ps3cret');
  });

  it('a route naming an unknown receiver is an error with its line and key', () => {
    const file = inline('route:\n  receiver: a\n  routes:\n    - receiver: b\nreceivers:\n  - name: a\n');
    expect(() => importAlertmanager(file, readFileSync(file, 'utf8'))).toThrow(`${file}:4: route.routes[0].receiver: unknown receiver "b"; receivers: a`);
  });

  it('a file without receivers is not an Alertmanager config', () => {
    const file = inline('endpoints: []\n');
    expect(() => importAlertmanager(file, readFileSync(file, 'utf8'))).toThrow('receivers: expected a list of receivers (is this an Alertmanager config?)');
  });
});
