/**
 * `shipshape import gatus`: Gatus' own example configs (fixtures/README.md) become shipshape.yaml
 * sections that load with the real config loader, with checks, channels, routes and alert rules a
 * user would expect, and a report of what had no equivalent.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ImportInputError, importGatus, shipshapeCondition } from '../../src/import/index.js';
import { parseConfig } from '../../src/modules.js';
import { channelsFor, fixture, load, reported, run } from './helpers.js';

const gatus = (name: string, opts: { service?: string } = {}) => run('gatus', fixture('gatus', name), opts);

function inline(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-gatus-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('import gatus: every example config loads', () => {
  for (const name of readdirSync(fixture('gatus'))) {
    it(`${name} → a config the loader accepts`, () => {
      const r = gatus(name);
      expect(r.invalid).toEqual([]);
      expect(() => load(r)).not.toThrow();
    });
  }
});

describe('import gatus: config.yaml (the repository example)', () => {
  const r = gatus('config.yaml');
  const { defs } = load(r);

  it('groups become services, endpoints without a group go to the default service', () => {
    expect(defs.services.map((s) => s.name).sort()).toEqual(['core', 'default', 'internal']);
    expect([...defs.checks.keys()].sort()).toEqual(['core/back-end', 'core/front-end', 'default/check-domain-expiration', 'default/example-dns-query', 'internal/monitoring', 'internal/nas']);
  });

  it('keeps each endpoint\'s kind, target and interval', () => {
    const front = defs.checks.get('core/front-end');
    expect(front?.kind).toBe('http');
    expect(front?.spec.url).toBe('https://twin.sh/health');
    expect(front?.every).toBe(5 * 60_000);
    const dns = defs.checks.get('default/example-dns-query');
    expect(dns?.kind).toBe('dns');
    expect(dns?.spec).toMatchObject({ name: 'example.com', type: 'A', server: '8.8.8.8' });
  });

  it('every Gatus condition is on its check (as written, or rewritten) or reported', () => {
    const source = parse(readFileSync(fixture('gatus', 'config.yaml'), 'utf8')) as { endpoints: { name: string; conditions: string[] }[] };
    const out = parse(r.yaml) as { services: Record<string, { checks: { name: string; conditions?: string[] }[] }> };
    const kept = new Map(Object.values(out.services).flatMap((s) => s.checks.map((c) => [c.name, c.conditions ?? []] as const)));
    for (const ep of source.endpoints) {
      const onCheck = kept.get(ep.name);
      if (!onCheck) continue; // the endpoint itself was reported (icmp)
      for (const c of ep.conditions) {
        const ok = onCheck.includes(c) || onCheck.includes(shipshapeCondition(c) ?? '') || r.unsupported.some((u) => u.what.startsWith(`condition "${c}"`));
        expect(ok, `${ep.name}: ${c}`).toBe(true);
      }
    }
    expect(kept.get('front-end')).toContain('[STATUS] == 200');
  });

  it('the ICMP endpoint has no equivalent and is reported with where and why', () => {
    expect(r.unsupported).toContainEqual({ what: 'endpoint "icmp-ping": icmp://', where: 'endpoints[5].url', why: expect.stringContaining('no ping (ICMP) check kind') });
    expect(defs.checks.has('default/icmp-ping')).toBe(false);
  });
});

describe('import gatus: alerting', () => {
  it('slack: the channel, two rules (5 failures = 3 + 2 intervals) and a route to the channel', () => {
    const r = gatus('slack.yaml');
    const { config, defs } = load(r);
    const check = defs.checks.get('default/website');
    expect(check?.downAfter).toBe(3);
    expect(check?.upAfter).toBe(2);
    expect(config.raw.alerts.map((a) => a.when)).toEqual(['down(default/website)', 'down(default/website) for 1m']);
    expect(config.raw.alerts.map((a) => a.labels)).toEqual([{ channel: 'slack' }, { channel: 'slack' }]);
    expect(config.raw.alerts[1]?.summary).toBe('website: healthcheck failed 5 times in a row');
    expect(config.raw.notify.channels.slack).toMatchObject({ slack: { url: 'https://hooks.slack.com/services/**********/**********/**********' }, send_resolved: true });
    expect(channelsFor(config, { alertname: 'default-website-slack', channel: 'slack' })).toEqual(['slack']);
    expect(channelsFor(config, { alertname: 'other' })).toEqual([]);
    // the webhook URL is a secret: a reference in the YAML, its value only in env
    expect(r.yaml).toContain('url: ${SLACK_WEBHOOK_URL}');
    expect(r.yaml).not.toContain('hooks.slack.com');
    expect(r.env).toEqual([{ name: 'SLACK_WEBHOOK_URL', value: 'https://hooks.slack.com/services/**********/**********/**********', sample: expect.any(String) }]);
  });

  it('default-alert thresholds per provider; send-on-resolved defaults to false as in Gatus', () => {
    const r = gatus('default-alert.yaml');
    const { config, defs } = load(r);
    expect(defs.checks.get('default/endpoint-1')?.downAfter).toBe(3);
    const rules = Object.fromEntries(config.raw.alerts.map((a) => [a.name, a.when]));
    expect(rules).toEqual({
      'default-endpoint-1-slack': 'down(default/endpoint-1)',
      'default-endpoint-1-pagerduty': 'down(default/endpoint-1) for 2m',
      'default-endpoint-2-slack': 'down(default/endpoint-2)',
      'default-endpoint-2-pagerduty': 'down(default/endpoint-2) for 2m',
    });
    expect(config.raw.notify.channels.pagerduty).toMatchObject({ pagerduty: { routing_key: '********************************' }, send_resolved: false });
    expect(channelsFor(config, { channel: 'pagerduty' })).toEqual(['pagerduty']);
    expect(channelsFor(config, { channel: 'slack' })).toEqual(['slack']);
  });

  it('email: recipients split, the SMTP credentials in one secret URL; a group override is a channel of its own', () => {
    const r = gatus('email.yaml');
    const { config } = load(r);
    expect(config.raw.notify.channels.email).toMatchObject({ email: { to: ['recipient1@example.com', 'recipient2@example.com'], from: 'from@example.com', smtp: 'smtp://from%40example.com:hunter2@mail.example.com:587' } });
    expect(config.raw.notify.channels['email-core']).toMatchObject({ email: { to: ['recipient3@example.com', 'recipient4@example.com'], from: 'from@example.com' } });
    expect(r.yaml).not.toContain('hunter2');
    expect(config.raw.alerts.map((a) => [a.when, a.labels.channel])).toEqual([
      ['down(default/website)', 'email'],
      ['down(core/back-end)', 'email-core'],
    ]);
    expect(channelsFor(config, { channel: 'email-core' })).toEqual(['email-core']);
  });

  it('custom becomes a webhook channel, its body template reported', () => {
    const r = gatus('custom.yaml');
    const { config, defs } = load(r);
    expect(Object.keys(config.raw.notify.channels.custom ?? {})).toContain('webhook');
    expect(defs.checks.get('default/website')).toMatchObject({ downAfter: 10, upAfter: 3 });
    expect(r.unsupported.find((u) => u.where === 'alerting.custom')?.why).toMatch(/placeholders/);
  });

  it('a provider without a channel kind (mattermost): the provider and its alerts are reported, no rule is made', () => {
    const r = gatus('mattermost.yaml');
    const { config, defs } = load(r);
    expect(defs.checks.has('default/example')).toBe(true);
    expect(config.raw.alerts).toEqual([]);
    expect(r.unsupported.map((u) => u.where)).toEqual(['alerting.mattermost', 'endpoints[0].alerts[0].type']);
  });

  it('telegram, discord, teams, ntfy and pagerduty map to their channels', () => {
    const channels = Object.fromEntries(
      ['telegram.yaml', 'discord.yaml', 'teams.yaml', 'ntfy.yaml', 'pagerduty.yaml'].map((f) => {
        const { config } = load(gatus(f));
        return [f, config.raw.notify.channels];
      }),
    );
    expect(channels['telegram.yaml']?.telegram).toMatchObject({ telegram: { bot_token: '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11', chat_id: '0123456789' } });
    expect(Object.keys(channels['discord.yaml']?.discord ?? {})).toContain('discord');
    expect(Object.keys(channels['teams.yaml']?.teams ?? {})).toContain('teams');
    expect(channels['ntfy.yaml']?.ntfy).toMatchObject({ ntfy: { topic: 'gatus-test-topic', token: 'faketoken' }, send_resolved: true });
    expect(Object.keys(channels['pagerduty.yaml']?.pagerduty ?? {})).toContain('pagerduty');
  });

  it('ntfy: the group override is its own channel; priority and click are reported', () => {
    const r = gatus('ntfy.yaml');
    const { config } = load(r);
    expect(config.raw.notify.channels['ntfy-other']).toMatchObject({ ntfy: { topic: 'gatus-other-test-topic', token: 'faketoken' }, send_resolved: true });
    expect(config.raw.alerts.map((a) => a.labels.channel)).toEqual(['ntfy', 'ntfy-other']);
    expect(reported(r)).toEqual(['alerting.ntfy.priority', 'alerting.ntfy.overrides[0].click', 'alerting.ntfy.overrides[0].priority']);
  });
});

describe('import gatus: other endpoint kinds', () => {
  it('tcp://host:port → tcp, tls://host:port → tls with the client timeout', () => {
    expect(load(gatus('tcp.yaml')).defs.checks.get('default/redis')).toMatchObject({ kind: 'tcp', spec: { host: '127.0.0.1', port: 6379 } });
    expect(load(gatus('tls.yaml')).defs.checks.get('default/tls-ldaps-example')).toMatchObject({ kind: 'tls', timeout: 5000, every: 30 * 60_000, spec: { host: 'ldap.example.com', port: 636 } });
  });

  it('a WebSocket endpoint is reported and nothing else is made', () => {
    const r = gatus('websocket.yaml');
    expect(r.config).toEqual({});
    expect(r.unsupported).toEqual([{ what: 'endpoint "example": wss://', where: 'endpoints[0].url', why: 'no WebSocket check kind' }]);
  });

  it('an external endpoint with a heartbeat interval becomes a heartbeat check on Gatus\' key', () => {
    const r = gatus('external-endpoints.yaml');
    expect(load(r).defs.checks.get('core/ext-ep-test')).toMatchObject({ kind: 'heartbeat', spec: { token: 'core_ext-ep-test', period: 30 * 60_000 } });
    expect(r.unsupported.map((u) => u.where)).toContain('external-endpoints[0].token');
  });

  it('Gatus server settings (storage) are reported, and variables only they use are not listed', () => {
    const r = gatus('postgres-storage.yaml');
    expect(reported(r)).toContain('storage:');
    expect(r.env).toEqual([]);
  });

  it('--service names the service of endpoints without a group', () => {
    const { defs } = load(gatus('config.yaml', { service: 'edge' }));
    expect(defs.services.map((s) => s.name).sort()).toEqual(['core', 'edge', 'internal']);
  });
});

describe('import gatus: variables, literals and bad input', () => {
  it('$VAR and ${VAR} stay references (listed, no value); $$ stays a literal $', () => {
    const r = run(
      'gatus',
      inline(`alerting:
  slack:
    webhook-url: "\${SLACK_URL}"
endpoints:
  - name: api
    url: "https://$DOMAIN/health"
    headers:
      Authorization: "Bearer \${API_TOKEN}"
      X-Price: "$$5"
    conditions:
      - "[STATUS] == 200"
    alerts:
      - type: slack
`),
    );
    expect(r.env.map((v) => [v.name, v.value])).toEqual([
      ['SLACK_URL', undefined],
      ['DOMAIN', undefined],
      ['API_TOKEN', undefined],
    ]);
    const { config, defs } = load(r);
    expect(r.yaml).toContain('https://${DOMAIN}/health');
    expect(defs.checks.get('default/api')?.spec.headers).toEqual({ Authorization: `Bearer ${r.env[2]?.sample}`, 'X-Price': '$5' });
    expect(config.raw.notify.channels.slack).toBeDefined();
  });

  it('a condition the loader refuses is left out and reported; the rest of the check stays', () => {
    const r = run('gatus', inline('endpoints:\n  - name: api\n    url: https://api.example.com\n    conditions:\n      - "[STATUS] == 200"\n      - "[CONTEXT].user_id == 1"\n'));
    expect(load(r).defs.checks.get('default/api')?.conditions.map((c) => c.text)).toEqual(['[STATUS] == 200']);
    expect(r.unsupported).toEqual([{ what: 'condition "[CONTEXT].user_id == 1" of check default/api', where: 'services.default.checks[0].conditions', why: expect.stringMatching(/suites.*left out$/) }]);
  });

  it('the textual rewrites of Gatus conditions are conditions the loader accepts', () => {
    const cases: Record<string, string> = {
      '[BODY].status == UP': 'body.status == "UP"',
      '[STATUS] == any(200, 429)': 'status in [200, 429]',
      '[BODY].name == pat(john*)': 'body.name matches /^john.*$/',
      '[RESPONSE_TIME] < 300': 'latency < 300ms',
      'len([BODY].data) < 5': 'len(body.data) < 5',
    };
    for (const [gatusForm, own] of Object.entries(cases)) expect(shipshapeCondition(gatusForm)).toBe(own);
    expect(shipshapeCondition('[DOMAIN_EXPIRATION] > 720h')).toBeUndefined();
    expect(shipshapeCondition('[STATUS] != any(200, 429)')).toBeUndefined();
    const yaml = `services:\n  web:\n    checks:\n      - http: { url: "https://example.com" }\n        conditions:\n${Object.values(cases)
      .map((c) => `          - ${JSON.stringify(c)}`)
      .join('\n')}\n`;
    expect(() => parseConfig(yaml, 'rewritten.yaml', { env: {} })).not.toThrow();
  });

  it('a missing url is an error naming the file, line and key', () => {
    const file = inline('endpoints:\n  - name: api\n    interval: 30s\n');
    let err: unknown;
    try {
      importGatus(file, readFileSync(file, 'utf8'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImportInputError);
    expect((err as Error).message).toBe(`${file}:2: endpoints[0].url: an endpoint needs a url`);
  });

  it('invalid YAML names the line', () => {
    const file = inline('endpoints:\n  - name: api\n    url: [oops\n');
    expect(() => importGatus(file, readFileSync(file, 'utf8'))).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: invalid YAML`));
  });

  it('a file that is not a Gatus config', () => {
    const file = inline('route:\n  receiver: x\n');
    expect(() => importGatus(file, readFileSync(file, 'utf8'))).toThrow('endpoints: no endpoints: is this a Gatus config?');
  });
});
