/**
 * `shipshape import uptime-kuma`: a backup in Uptime Kuma's export format and a kuma.db with Uptime
 * Kuma's own schema (fixtures/README.md) become checks, channels, alert rules and status pages that
 * load with the real config loader; what had no equivalent is reported.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ImportInputError, importUptimeKuma } from '../../src/import/index.js';
import { resolvePages } from '../../src/statuspage/config.js';
import { channelsFor, fixture, load, reported, run } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'shipshape-import-kuma-'));

describe('import uptime-kuma: a backup (backup.json)', () => {
  const r = run('uptime-kuma', fixture('uptime-kuma', 'backup.json'));
  const { config, defs } = load(r);

  it('loads, with a group monitor as a service and the rest in the default service', () => {
    expect(r.invalid).toEqual([]);
    expect(defs.services.map((s) => [s.name, s.description])).toEqual([
      ['production', 'The shop'],
      ['default', undefined],
    ]);
    expect([...defs.checks.keys()]).toEqual(['production/shop-homepage', 'production/shop-api-health', 'production/orders-database', 'default/ssh-bastion', 'default/mx-record', 'default/nightly-backup', 'default/old-staging']);
  });

  it('keyword → keyword, retries → down_after, interval and timeout kept', () => {
    expect(defs.checks.get('production/shop-homepage')).toMatchObject({ kind: 'http', every: 30_000, timeout: 24_000, downAfter: 3, spec: { url: 'https://shop.example.com/', keyword: 'Add to cart' } });
  });

  it('json-query → a body condition; accepted codes, ignoreTls, no redirects, headers, JSON body and Basic auth', () => {
    const api = defs.checks.get('production/shop-api-health');
    expect(api?.conditions.map((c) => c.text)).toContain('body.status.db == "up"');
    expect(api?.spec).toMatchObject({ method: 'POST', expect_status: ['2xx', 401], insecure: true, follow_redirects: false, body: { probe: true }, headers: { 'X-Api-Key': 'k-123456', Accept: 'application/json' } });
    expect(api?.spec.url).toBe('https://monitor:hunter2@api.shop.example.com/health');
    expect(r.yaml).toContain('url: https://monitor:${SHOP_API_HEALTH_BASIC_AUTH_PASSWORD}@api.shop.example.com/health');
  });

  it('an inverted keyword → "body not contains"; a paused monitor is imported and reported', () => {
    const staging = defs.checks.get('default/old-staging');
    expect(staging?.conditions.map((c) => c.text)).toContain('body not contains "Maintenance"');
    expect(staging?.spec.expect_status).toEqual(['2xx', '3xx']);
    expect(r.unsupported).toContainEqual({ what: 'monitor "Old staging" (keyword)', where: 'monitorList[id=9].active', why: expect.stringContaining('paused') });
  });

  it('port → tcp, dns → dns, push → heartbeat, postgres → postgres (its URL a secret)', () => {
    expect(defs.checks.get('default/ssh-bastion')).toMatchObject({ kind: 'tcp', every: 120_000, spec: { host: 'bastion.example.com', port: 22 } });
    expect(defs.checks.get('default/mx-record')).toMatchObject({ kind: 'dns', spec: { name: 'example.com', type: 'MX', server: '1.1.1.1' } });
    expect(defs.checks.get('default/nightly-backup')).toMatchObject({ kind: 'heartbeat', every: 30_000, spec: { token: 'kWfFZtsyQm7tVaXo5bLxbQY0ZKTzVk4d', period: 86_400_000 } });
    expect(defs.checks.get('production/orders-database')).toMatchObject({ kind: 'postgres', downAfter: 2, spec: { url: 'postgres://kuma:secretpw@db.internal:5432/orders', query: 'SELECT 1' } });
    expect(r.yaml).not.toMatch(/secretpw|hunter2|k-123456|XXXXXXXX|ABC-DEF1234|s3cr3t|p@ss/);
  });

  it('ping and upside-down monitors are reported, not imported', () => {
    expect(r.unsupported).toContainEqual({ what: 'monitor "Router" (ping)', where: 'monitorList[id=8].type', why: expect.stringContaining('no ping (ICMP) check kind') });
    expect(r.unsupported).toContainEqual({ what: 'monitor "Expect it down" (http)', where: 'monitorList[id=10].upsideDown', why: expect.stringContaining('upside-down') });
  });

  it('notifications → channels; each monitor link → an alert rule routed to its channel', () => {
    expect(Object.keys(config.raw.notify.channels)).toEqual(['ops-slack', 'on-call-telegram', 'mail-the-team', 'deploy-webhook']);
    expect(config.raw.notify.channels['mail-the-team']).toMatchObject({ email: { to: ['team@example.com', 'lead@example.com'], smtp: 'smtps://kuma%40example.com:p%40ss%3Aword%2F1@smtp.example.com:465' } });
    expect(config.raw.notify.channels['on-call-telegram']).toMatchObject({ telegram: { bot_token: '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11', chat_id: '-1001234567890' } });
    expect(config.raw.notify.channels['deploy-webhook']).toMatchObject({ webhook: { url: 'https://hooks.example.com/kuma?token=abc123', headers: { Authorization: 'Bearer s3cr3t' } } });
    const rules = config.raw.alerts.map((a) => [a.when, a.labels.channel]);
    expect(rules).toEqual([
      ['down(production/shop-homepage)', 'ops-slack'],
      ['down(production/shop-homepage)', 'on-call-telegram'],
      ['down(production/shop-api-health)', 'mail-the-team'],
      ['down(production/orders-database)', 'on-call-telegram'],
      ['down(default/ssh-bastion)', 'ops-slack'],
      ['down(default/old-staging)', 'deploy-webhook'],
    ]);
    expect(channelsFor(config, { alertname: 'production-shop-homepage-ops-slack', channel: 'ops-slack' })).toEqual(['ops-slack']);
    expect(channelsFor(config, { channel: 'on-call-telegram' })).toEqual(['on-call-telegram']);
  });

  it('a notification type with no channel, tags and the missing status pages are reported', () => {
    expect(reported(r)).toEqual(expect.arrayContaining(['notification "Pushover phone" (pushover)', 'monitor "Shop homepage" (keyword): tags region:eu', 'status pages']));
  });
});

/** A kuma.db with Uptime Kuma's schema (fixtures/uptime-kuma/kuma-schema.sql) and some rows. */
function makeKumaDb(): string {
  const file = join(tmp(), 'kuma.db');
  const db = new Database(file);
  db.exec(readFileSync(fixture('uptime-kuma', 'kuma-schema.sql'), 'utf8'));
  db.exec(`
    INSERT INTO user (id, username, password, active) VALUES (1, 'admin', 'x', 1);
    INSERT INTO docker_host (id, user_id, docker_daemon, docker_type, name) VALUES (1, 1, '/var/run/docker.sock', 'socket', 'local');
    INSERT INTO monitor (id, name, type, user_id, parent, description) VALUES (1, 'Payments', 'group', 1, NULL, 'Card payments');
    INSERT INTO monitor (id, name, type, user_id, parent, url, interval, maxretries, accepted_statuscodes_json, timeout) VALUES
      (2, 'Checkout API', 'http', 1, 1, 'https://pay.example.com/health', 60, 0, '["200-299","418"]', 30);
    INSERT INTO monitor (id, name, type, user_id, parent, url, interval, json_path, expected_value, json_path_operator) VALUES
      (3, 'Queue depth', 'json-query', 1, 1, 'https://pay.example.com/metrics.json', 60, '$.queue.depth', '100', '<');
    INSERT INTO monitor (id, name, type, user_id, hostname, port, interval) VALUES (4, 'Mail relay', 'port', 1, 'mail.example.com', 25, 60);
    INSERT INTO monitor (id, name, type, user_id, docker_container, docker_host, interval) VALUES (5, 'Worker container', 'docker', 1, 'worker', 1, 60);
    INSERT INTO monitor (id, name, type, user_id, hostname, dns_resolve_type, dns_resolve_server, port, interval) VALUES (6, 'Apex record', 'dns', 1, 'example.com', 'CAA', '9.9.9.9', 53, 300);
    INSERT INTO monitor (id, name, type, user_id, database_connection_string, interval) VALUES (7, 'Session cache', 'redis', 1, 'redis://:cachepw@cache.internal:6379', 60);
    INSERT INTO notification (id, name, active, user_id, is_default, config) VALUES
      (1, 'Payments PagerDuty', 1, 1, 0, '{"name":"Payments PagerDuty","type":"PagerDuty","pagerdutyIntegrationKey":"R0UT1NGK3Y","pagerdutyIntegrationUrl":"https://events.pagerduty.com/v2/enqueue","pagerdutyPriority":"critical"}'),
      (2, 'ntfy phone', 1, 1, 0, '{"name":"ntfy phone","type":"ntfy","ntfyserverurl":"https://ntfy.sh","ntfytopic":"kuma-alerts","ntfyPriority":5,"ntfyAuthenticationMethod":"accessToken","ntfyaccesstoken":"tk_abcdef"}'),
      (3, 'Old Discord', 0, 1, 0, '{"name":"Old Discord","type":"discord","discordWebhookUrl":"https://discord.com/api/webhooks/1/abc"}');
    INSERT INTO monitor_notification (monitor_id, notification_id) VALUES (1, 2), (2, 1), (3, 1), (3, 2), (4, 2), (4, 3);
    INSERT INTO tag (id, name, color) VALUES (1, 'team', '#2563eb');
    INSERT INTO monitor_tag (monitor_id, tag_id, value) VALUES (4, 1, 'infra');
    INSERT INTO status_page (id, slug, title, description, icon, theme, published, custom_css) VALUES
      (1, 'public', 'Example Status', 'How our services are doing', '/icon.svg', 'auto', 1, NULL),
      (2, 'internal-ops', 'Ops', NULL, 'https://cdn.example.com/logo.png', 'light', 0, 'body { color: red }');
    INSERT INTO status_page_cname (status_page_id, domain) VALUES (1, 'status.example.com');
    INSERT INTO "group" (id, name, public, active, weight, status_page_id) VALUES (1, 'Payments', 1, 1, 1, 1), (2, 'Infrastructure', 1, 1, 2, 1), (3, 'Everything', 1, 1, 1, 2);
    INSERT INTO monitor_group (monitor_id, group_id, weight) VALUES (2, 1, 1), (3, 1, 2), (4, 2, 1), (5, 2, 2), (1, 3, 1), (7, 3, 2);
    INSERT INTO maintenance (id, title, description, strategy, active) VALUES (1, 'DB upgrade', 'Postgres 16', 'single', 1);
  `);
  db.close();
  return file;
}

describe('import uptime-kuma: kuma.db', () => {
  const file = makeKumaDb();
  const before = createHash('sha256').update(readFileSync(file)).digest('hex');
  const r = run('uptime-kuma', file, { service: 'infra' });
  const { config, defs } = load(r);

  it('loads; monitors outside a group go to --service', () => {
    expect(r.invalid).toEqual([]);
    expect([...defs.checks.keys()]).toEqual(['payments/checkout-api', 'payments/queue-depth', 'infra/mail-relay', 'infra/session-cache']);
    expect(defs.checks.get('payments/checkout-api')?.spec.expect_status).toEqual(['2xx', 418]);
    expect(defs.checks.get('payments/checkout-api')?.timeout).toBe(30_000);
    expect(defs.checks.get('payments/queue-depth')?.conditions.map((c) => c.text)).toContain('body.queue.depth < 100');
    expect(defs.checks.get('infra/session-cache')).toMatchObject({ kind: 'redis', spec: { url: 'redis://:cachepw@cache.internal:6379' } });
  });

  it('reads the database without changing it', () => {
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(before);
  });

  it('docker, a CAA record, a disabled notification, tags and maintenance windows are reported', () => {
    expect(reported(r)).toEqual(
      expect.arrayContaining(['monitor "Worker container" (docker)', 'monitor "Apex record" (dns): record type CAA', 'notification "Old Discord" (discord)', 'monitor "Mail relay" (port): tags team:infra', '1 maintenance window(s)', 'notification "Payments PagerDuty" (PagerDuty): pagerdutyPriority']),
    );
  });

  it('PagerDuty and ntfy notifications → channels; links → rules and routes (a group monitor: its service down)', () => {
    expect(config.raw.notify.channels['payments-pagerduty']).toMatchObject({ pagerduty: { routing_key: 'R0UT1NGK3Y' } });
    expect(config.raw.notify.channels['ntfy-phone']).toMatchObject({ ntfy: { url: 'https://ntfy.sh', topic: 'kuma-alerts', token: 'tk_abcdef' } });
    expect(config.raw.alerts.map((a) => `${a.when} -> ${a.labels.channel}`)).toEqual([
      'down(payments) -> ntfy-phone',
      'down(payments/checkout-api) -> payments-pagerduty',
      'down(payments/queue-depth) -> payments-pagerduty',
      'down(payments/queue-depth) -> ntfy-phone',
      'down(infra/mail-relay) -> ntfy-phone',
    ]);
    expect(channelsFor(config, { channel: 'ntfy-phone' })).toEqual(['ntfy-phone']);
  });

  it('status pages: path, title, host, components per service under their group; unpublished → private', () => {
    const pages = resolvePages(config.raw);
    expect(pages.map((p) => [p.key, p.path, p.title, p.host, p.private])).toEqual([
      ['public', '/status/public', 'Example Status', 'status.example.com', false],
      ['internal-ops', '/status/internal-ops', 'Ops', undefined, true],
    ]);
    expect(pages[0]?.components.map((c) => [c.name, c.service, c.group])).toEqual([
      ['Checkout API', 'payments', 'Payments'],
      ['Mail relay', 'infra', 'Infrastructure'],
    ]);
    expect(pages[1]?.components.map((c) => [c.name, c.service])).toEqual([
      ['Payments', 'payments'],
      ['Session cache', 'infra'],
    ]);
    expect(pages[1]?.logo).toBe('https://cdn.example.com/logo.png');
    // the second monitor of a service on a page, and a monitor that was not imported
    expect(r.unsupported.filter((u) => u.what.startsWith('status_page')).map((u) => u.what)).toEqual([
      'status_page "public": monitor "Queue depth"',
      'status_page "public": monitor "Worker container"',
      'status_page "internal-ops"',
      'status_page "internal-ops": custom_css',
    ]);
  });
});

describe('import uptime-kuma: bad input', () => {
  it('a SQLite file that is not a kuma.db', () => {
    const file = join(tmp(), 'other.db');
    const db = new Database(file);
    db.exec('create table t (x)');
    db.close();
    expect(() => importUptimeKuma(file)).toThrow(new ImportInputError(file, 'not an Uptime Kuma database: it has no monitor table'));
  });

  it('JSON that is not a backup names the key', () => {
    const file = join(tmp(), 'backup.json');
    writeFileSync(file, '{"version": "1.23.0"}');
    expect(() => importUptimeKuma(file)).toThrow(`${file}: monitorList: not an Uptime Kuma backup: expected { version, notificationList, monitorList }`);
  });

  it('a file that is neither names the line', () => {
    const file = join(tmp(), 'backup.json');
    writeFileSync(file, '{\n  "monitorList": [\n    {,}\n  ]\n}\n');
    expect(() => importUptimeKuma(file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: neither an Uptime Kuma database nor valid JSON`));
  });
});
