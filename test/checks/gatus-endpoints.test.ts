/**
 * Gatus `endpoints:` entries pasted into a service's `checks:` (entries copied from Gatus' README
 * and .examples/*), loaded with the real loader and run against real loopback servers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertRuleSchema, configuredRules } from '../../src/alerts/config.js';
import { parseRule } from '../../src/alerts/expr.js';
import { checkDefs } from '../../src/checks/config.js';
import { domainExpiry } from '../../src/checks/kinds/http.js';
import { Monitor } from '../../src/checks/monitor.js';
import { EventLog } from '../../src/core/events.js';
import { ConfigError } from '../../src/core/config/load.js';
import { openStore, parseConfig, type RootStore } from '../../src/modules.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { startTarget, type Target } from '../helpers/target.js';

const load = (yaml: string) => parseConfig(yaml, 'shipshape.yaml');

function configError(yaml: string): ConfigError {
  try {
    load(yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('the config loaded');
}

/** A loopback RDAP service: `GET /domain/<name>` answers the registration of the names it knows. */
async function startRdap(registrations: Record<string, string>): Promise<{ url: string; asked: string[]; close(): Promise<void> }> {
  const asked: string[] = [];
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/domain\//, ''));
    asked.push(name);
    const expires = registrations[name];
    if (!expires) {
      res.writeHead(404, { 'content-type': 'application/rdap+json' }).end('{"errorCode":404}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/rdap+json' });
    res.end(JSON.stringify({ objectClassName: 'domain', ldhName: name, events: [{ eventAction: 'registration', eventDate: '2001-01-01T00:00:00Z' }, { eventAction: 'expiration', eventDate: expires }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Gatus endpoints as checks: the config', () => {
  it("accepts the endpoints of Gatus' examples as they are", () => {
    // from .examples/docker-compose/config/config.yaml, docker-compose-postgres-storage,
    // docker-compose-grafana-prometheus and docker-compose-mattermost
    const cfg = load(`services:
  site:
    checks:
      - name: example
        url: https://example.org
        interval: 30s
        conditions:
          - "[STATUS] == 200"
      - name: back-end
        group: core
        url: "https://example.org/"
        interval: 5m
        conditions:
          - "[STATUS] == 200"
          - "[CERTIFICATE_EXPIRATION] > 48h"
      - name: example-dns-query
        url: "8.8.8.8" # Address of the DNS server to use
        interval: 5m
        dns:
          query-name: "example.com"
          query-type: "A"
        conditions:
          - "[BODY] == 93.184.215.14"
          - "[DNS_RCODE] == NOERROR"
      - name: check-domain-expiration
        url: "https://example.org/"
        interval: 1h
        conditions:
          - "[DOMAIN_EXPIRATION] > 720h"
      - name: mattermost-example
        url: https://example.org
        interval: 1m
        conditions:
          - "[STATUS] == 200"
        alerts:
          - type: mattermost
            description: "health check failed 3 times in a row"
            send-on-resolved: true
      - name: website
        url: "https://twin.sh/health"
        client:
          timeout: 5s
          insecure: true
          ignore-redirect: true
        conditions:
          - "[STATUS] == 200"
      - name: ssh-port
        url: "tcp://example.org:22"
        conditions:
          - "[CONNECTED] == true"
      - name: "My TLS Endpoint"
        url: "tls://example.org:443"
        conditions:
          - "[CONNECTED] == true"
          - "[CERTIFICATE_EXPIRATION] > 48h"
`);
    const defs = checkDefs(cfg);
    const byName = Object.fromEntries([...defs.checks.values()].map((d) => [d.name, d]));
    expect(Object.keys(byName)).toEqual(['example', 'back-end', 'example-dns-query', 'check-domain-expiration', 'mattermost-example', 'website', 'ssh-port', 'my-tls-endpoint']);
    expect(byName.example).toMatchObject({ kind: 'http', every: 30_000, target: 'GET https://example.org/', conditions: [{ text: '[STATUS] == 200', gatus: true }] });
    // Gatus implies nothing: only its own conditions are judged
    expect(byName['back-end']?.conditions.map((c) => c.text)).toEqual(['[STATUS] == 200', '[CERTIFICATE_EXPIRATION] > 48h']);
    expect(byName['example-dns-query']).toMatchObject({ kind: 'dns', every: 300_000, spec: { name: 'example.com', type: 'A', server: '8.8.8.8' } });
    expect(byName['example-dns-query']?.uses.has('rcode')).toBe(true);
    expect(byName['check-domain-expiration']?.uses.has('domain')).toBe(true);
    expect(byName['check-domain-expiration']?.spec.rdap_url).toBe('https://rdap.org');
    // Gatus' defaults: 60s between runs; alert thresholds 3 and 2 become down_after and up_after
    expect(byName['mattermost-example']).toMatchObject({ every: 60_000, downAfter: 3, upAfter: 2 });
    expect(byName.website).toMatchObject({ every: 60_000, timeout: 5000, spec: { insecure: true, follow_redirects: false } });
    expect(byName['ssh-port']).toMatchObject({ kind: 'tcp', spec: { host: 'example.org', port: 22 } });
    // Gatus verifies the certificate of a tls:// endpoint: so does the check
    expect(byName['my-tls-endpoint']).toMatchObject({ kind: 'tls', spec: { host: 'example.org', port: 443 } });
    expect(byName['my-tls-endpoint']?.conditions.map((c) => c.text)).toEqual(['[CONNECTED] == true', '[CERTIFICATE_EXPIRATION] > 48h', 'cert.authorized == true', 'hostname_match == true']);
  });

  it('enabled: false is not run; a Gatus entry and a Shipshape check live side by side', () => {
    const defs = checkDefs(
      load(`services:
  web:
    checks:
      - name: off
        enabled: false
        url: https://example.org
        conditions: ["[STATUS] == 200"]
      - name: home
        http: { url: "https://example.org" }
`),
    );
    expect([...defs.checks.keys()]).toEqual(['web/home']);
  });

  it('says what is not supported, at the line of the key', () => {
    const icmp = configError(`services:
  web:
    checks:
      - name: icmp-ping
        url: "icmp://example.org"
        interval: 1m
        conditions:
          - "[CONNECTED] == true"
`);
    expect(icmp.issues).toEqual([expect.objectContaining({ line: 5, path: 'services.web.checks[0].url', message: expect.stringMatching(/icmp:\/\/ \(ping\) endpoints are not supported/) })]);
    const starttls = configError(`services:\n  web:\n    checks:\n      - name: mail\n        url: "starttls://smtp.example.com:587"\n        conditions: ["[CONNECTED] == true"]\n`);
    expect(starttls.issues[0]?.message).toMatch(/starttls:\/\/ endpoints are not supported/);
    const ssh = configError(`services:\n  web:\n    checks:\n      - name: ssh\n        url: "ssh://example.com:22"\n        conditions: ["[CONNECTED] == true"]\n`);
    expect(ssh.issues[0]?.message).toMatch(/ssh:\/\/ endpoints are not supported/);
  });

  it('an endpoint without conditions is an error, as in Gatus; so is a bad condition, at its line', () => {
    const none = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n        conditions: []\n`);
    expect(none.issues[0]).toMatchObject({ line: 6, path: 'services.web.checks[0].conditions', message: expect.stringMatching(/at least one condition/) });
    const missing = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n`);
    expect(missing.issues[0]).toMatchObject({ path: 'services.web.checks[0].conditions', message: expect.stringMatching(/at least one condition/) });
    const bad = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n        conditions:\n          - "[STATUS] == 200"\n          - "[STAUTS] == 200"\n`);
    expect(bad.issues[0]).toMatchObject({ line: 8, path: 'services.web.checks[0].conditions[1]', message: expect.stringMatching(/unknown placeholder \[STAUTS\]/) });
  });

  it('unknown keys, bad methods and DNS types are named at their keys', () => {
    const key = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n        conditons: ["[STATUS] == 200"]\n`);
    expect(key.issues.map((i) => i.message).join('\n')).toMatch(/unknown key "conditons"/);
    const method = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n        method: FETCH\n        conditions: ["[STATUS] == 200"]\n`);
    expect(method.issues[0]).toMatchObject({ line: 6, path: 'services.web.checks[0].method' });
    const dns = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: 8.8.8.8\n        dns: { query-type: PTR, query-name: example.com }\n        conditions: ["[DNS_RCODE] == NOERROR"]\n`);
    expect(dns.issues[0]).toMatchObject({ path: 'services.web.checks[0].dns.query-type', message: expect.stringMatching(/PTR.*not supported/) });
  });

  it('[DOMAIN_EXPIRATION] needs an interval of at least 5m, as in Gatus', () => {
    const e = configError(`services:\n  web:\n    checks:\n      - name: x\n        url: https://example.org\n        interval: 1m\n        conditions: ["[DOMAIN_EXPIRATION] > 720h"]\n`);
    expect(e.issues[0]).toMatchObject({ line: 6, path: 'services.web.checks[0].interval', message: expect.stringMatching(/5m/) });
  });

  it("each enabled alert becomes an alert rule: down(<service>/<check>), labelled with the alert's type", () => {
    const cfg = load(`services:
  shop:
    checks:
      - name: checkout
        url: https://example.org/checkout
        conditions: ["[STATUS] == 200"]
        alerts:
          - type: slack
            failure-threshold: 5
            success-threshold: 3
            description: "checkout is failing"
          - type: pagerduty
            send-on-resolved: true
          - type: discord
            enabled: false
      - name: disabled
        enabled: false
        url: https://example.org/x
        conditions: ["[STATUS] == 200"]
        alerts: [{ type: slack }]
`);
    expect(checkDefs(cfg).checks.get('shop/checkout')).toMatchObject({ downAfter: 5, upAfter: 3 });
    const rules = configuredRules(cfg.raw);
    expect(rules).toEqual([
      { name: 'shop-checkout-slack', when: 'down(shop/checkout)', severity: 'P2', labels: { channel: 'slack', send_on_resolved: 'false' }, summary: 'checkout is failing', keep_firing_for: 0 },
      { name: 'shop-checkout-pagerduty', when: 'down(shop/checkout)', severity: 'P2', labels: { channel: 'pagerduty', send_on_resolved: 'true' }, keep_firing_for: 0 },
    ]);
    for (const r of rules) {
      expect(() => parseRule(r.when)).not.toThrow();
      // a rule as alerts: would have it
      expect(alertRuleSchema.parse({ name: r.name, when: r.when, labels: r.labels, summary: r.summary })).toMatchObject({ name: r.name, severity: 'P2' });
    }
  });

  it('alerts with different thresholds: the first one decides, and a warning says so', () => {
    const cfg = load(`services:
  shop:
    checks:
      - name: checkout
        url: https://example.org/checkout
        conditions: ["[STATUS] == 200"]
        alerts:
          - type: slack
          - type: pagerduty
            failure-threshold: 10
`);
    expect(checkDefs(cfg).checks.get('shop/checkout')).toMatchObject({ downAfter: 3, upAfter: 2 });
    expect(cfg.warnings).toEqual([expect.stringMatching(/services\.shop\.checks\[0\]\.alerts\[1\]: its thresholds differ from the first alert's \(slack\): the check goes down after 3 failures/)]);
  });

  it('a derived rule may not take the name of a rule of alerts:', () => {
    const e = configError(`services:
  shop:
    checks:
      - name: checkout
        url: https://example.org/checkout
        conditions: ["[STATUS] == 200"]
        alerts: [{ type: slack }]
alerts:
  - name: shop-checkout-slack
    when: down(shop)
`);
    expect(e.issues[0]).toMatchObject({ path: 'services.shop.checks[0].alerts[0].type', message: expect.stringMatching(/shop-checkout-slack/) });
  });
});

describe('Gatus endpoints as checks: run against real servers', () => {
  let target: Target;
  let store: RootStore;
  let dir: string;
  beforeEach(async () => {
    target = await startTarget();
    dir = mkdtempSync(join(tmpdir(), 'shipshape-gatus-'));
    store = await openStore({ dataDir: dir });
  });
  afterEach(async () => {
    await target.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the Gatus conditions pass and fail as Gatus judges them', async () => {
    target.set({ status: 200, body: { status: 'UP', user: { firstName: 'john', lastName: 'doe' }, errors: [] } });
    const cfg = load(`services:
  api:
    checks:
      - name: health
        url: "${target.url}/health"
        interval: 30s
        conditions:
          - "[STATUS] == 200"
          - "[BODY].status == UP"
          - "[BODY].user.firstName != [BODY].user.lastName"
          - "[STATUS] == any(200, 429)"
          - "[BODY].user.firstName == pat(jo*)"
          - "has([BODY].missing) == false"
          - "len([BODY].errors) == 0"
          - "len([BODY]) > 10"
          - "[RESPONSE_TIME] < 5000"
          - "[IP] == 127.0.0.1"
          - "[CONNECTED] == true"
          - "[CERTIFICATE_EXPIRATION] == 0"
        alerts:
          - type: slack
            failure-threshold: 2
`);
    const m = new Monitor({ store, events: new EventLog(store), schedule: false });
    await m.start(cfg);
    const [up] = await m.runNow();
    expect(up).toMatchObject({ ok: true, message: 'ok' });
    expect(up?.conditions.every((c) => c.ok)).toBe(true);

    target.set({ status: 429, body: { status: 'DOWN', user: { firstName: 'doe', lastName: 'doe' }, errors: ['db'] } });
    const [down] = await m.runNow();
    expect(down?.ok).toBe(false);
    const failing = Object.fromEntries((down?.conditions ?? []).filter((c) => !c.ok).map((c) => [c.condition, c.actual]));
    expect(failing).toEqual({
      '[STATUS] == 200': '[STATUS] = 429',
      '[BODY].status == UP': '[BODY].status = "DOWN"',
      '[BODY].user.firstName != [BODY].user.lastName': '[BODY].user.firstName = "doe", [BODY].user.lastName = "doe"',
      '[BODY].user.firstName == pat(jo*)': '[BODY].user.firstName = "doe"',
      'len([BODY].errors) == 0': 'len([BODY].errors) = 1',
    });
    expect(down?.message).toContain('[BODY].status == UP ([BODY].status = "DOWN")');
    // failure-threshold 2: down on the second failure in a row
    expect(m.check('api', 'health')?.summary.state).toBe('pending');
    await m.runNow();
    expect(m.check('api', 'health')?.summary.state).toBe('down');
    await m.stop();
  });

  it('a tcp endpoint that cannot connect is judged by [CONNECTED], as in Gatus: == false passes, == true fails with the reason', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now
    const cfg = load(`services:
  db:
    checks:
      - name: port-closed
        url: "tcp://127.0.0.1:${port}"
        interval: 30s
        conditions: ["[CONNECTED] == false"]
      - name: port-open
        url: "tcp://127.0.0.1:${port}"
        interval: 30s
        conditions: ["[CONNECTED] == true"]
`);
    const m = new Monitor({ store, events: new EventLog(store), schedule: false });
    await m.start(cfg);
    const results = Object.fromEntries((await m.runNow()).map((r) => [r.checkId, r]));
    expect(results['db/port-closed']).toMatchObject({ ok: true, message: 'ok' });
    expect(results['db/port-open']).toMatchObject({ ok: false, message: expect.stringMatching(/refused/i) });
    expect(results['db/port-open']?.conditions).toEqual([{ condition: '[CONNECTED] == true', ok: false, actual: '[CONNECTED] = false' }]);
    await m.stop();
  });

  it('a DNS endpoint asks its server and judges [BODY] and [DNS_RCODE] as Gatus does', async () => {
    const dnsServer = await startDnsServer({ 'app.test': { A: ['10.0.0.7'], MX: [{ preference: 10, exchange: 'mx1.app.test' }] } });
    try {
      const cfg = load(`services:
  dns:
    checks:
      - name: a-record
        url: "${dnsServer.address}"
        interval: 5m
        dns:
          query-name: "app.test."
          query-type: "A"
        conditions:
          - "[BODY] == 10.0.0.7"
          - "[DNS_RCODE] == NOERROR"
      - name: mx-record
        url: "${dnsServer.address}"
        dns: { query-name: app.test, query-type: MX }
        conditions:
          - "[BODY] == mx1.app.test."
      - name: missing
        url: "${dnsServer.address}"
        dns: { query-name: nope.app.test, query-type: A }
        conditions:
          - "[DNS_RCODE] == NOERROR"
`);
      const m = new Monitor({ store, events: new EventLog(store), schedule: false });
      await m.start(cfg);
      const byId = Object.fromEntries((await m.runNow()).map((r) => [r.checkId, r]));
      expect(byId['dns/a-record']).toMatchObject({ ok: true });
      expect(byId['dns/mx-record']).toMatchObject({ ok: true });
      expect(byId['dns/missing']).toMatchObject({ ok: false, message: '[DNS_RCODE] == NOERROR ([DNS_RCODE] = "NXDOMAIN")' });
      await m.stop();
    } finally {
      await dnsServer.close();
    }
  });

  it('[DOMAIN_EXPIRATION] asks RDAP for the domain once and compares the time left', async () => {
    const inYears = new Date(Date.now() + 400 * 86_400_000).toISOString();
    const rdap = await startRdap({ localhost: inYears });
    try {
      const cfg = load(`services:
  api:
    checks:
      - name: domain
        url: "http://localhost:${target.port}/"
        interval: 5m
        rdap-url: "${rdap.url}"
        conditions:
          - "[STATUS] == 200"
          - "[DOMAIN_EXPIRATION] > 720h"
      - name: domain-soon
        url: "http://localhost:${target.port}/"
        interval: 5m
        rdap-url: "${rdap.url}"
        conditions:
          - "[DOMAIN_EXPIRATION] > 17520h"
`);
      const m = new Monitor({ store, events: new EventLog(store), schedule: false });
      await m.start(cfg);
      const results = await m.runNow();
      const byId = Object.fromEntries(results.map((r) => [r.checkId, r]));
      expect(byId['api/domain']).toMatchObject({ ok: true });
      expect(byId['api/domain-soon']).toMatchObject({ ok: false, message: expect.stringMatching(/^\[DOMAIN_EXPIRATION\] > 17520h \(\[DOMAIN_EXPIRATION\] = 399d23h|^\[DOMAIN_EXPIRATION\] > 17520h \(\[DOMAIN_EXPIRATION\] = 400d/) });
      await m.runNow();
      // cached: one question for both checks and both runs
      expect(rdap.asked).toEqual(['localhost']);
      await m.stop();
    } finally {
      await rdap.close();
    }
  });

  it('an RDAP service that does not know the domain fails the check with the reason (as a failed whois does in Gatus)', async () => {
    const rdap = await startRdap({});
    try {
      const cfg = load(`services:\n  api:\n    checks:\n      - name: domain\n        url: "http://localhost:${target.port}/"\n        interval: 5m\n        rdap-url: "${rdap.url}"\n        conditions: ["[DOMAIN_EXPIRATION] > 720h"]\n`);
      const m = new Monitor({ store, events: new EventLog(store), schedule: false });
      await m.start(cfg);
      const [r] = await m.runNow();
      expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/domain expiration lookup for localhost failed: no RDAP record/) });
      await m.stop();
    } finally {
      await rdap.close();
    }
  });

  it('follows the redirect of a bootstrap service (rdap.org) to the registry', async () => {
    const registry = await startRdap({ 'example.org': '2030-01-01T00:00:00Z' });
    const bootstrap = createServer((req, res) => res.writeHead(302, { location: `${registry.url}${req.url ?? ''}` }).end());
    await new Promise<void>((resolve) => bootstrap.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(bootstrap.address() as AddressInfo).port}`;
      const out = await domainExpiry(base, 'www.example.org', new AbortController().signal, Date.parse('2029-12-31T00:00:00Z'));
      expect(out).toEqual({ expires_in: 86_400_000, expires_at: '2030-01-01T00:00:00.000Z', name: 'example.org' });
      expect(registry.asked).toEqual(['www.example.org', 'example.org']);
    } finally {
      await new Promise<void>((resolve) => bootstrap.close(() => resolve()));
      await registry.close();
    }
  });

  it('a host that is not itself registered is looked up by its parent domain', async () => {
    const rdap = await startRdap({ 'example.co.uk': '2030-01-01T00:00:00Z' });
    try {
      const now = Date.parse('2029-12-01T00:00:00Z');
      const out = await domainExpiry(rdap.url, 'api.eu.example.co.uk', new AbortController().signal, now);
      expect(out).toEqual({ expires_in: 31 * 86_400_000, expires_at: '2030-01-01T00:00:00.000Z', name: 'example.co.uk' });
      expect(rdap.asked).toEqual(['api.eu.example.co.uk', 'eu.example.co.uk', 'example.co.uk']);
      expect(await domainExpiry(rdap.url, '127.0.0.1', new AbortController().signal, now)).toEqual({ error: expect.stringMatching(/not an IP address/) });
    } finally {
      await rdap.close();
    }
  });
});
