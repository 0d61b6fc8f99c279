/**
 * `shipshape import uptime-kuma <backup.json | kuma.db>`: monitors become checks (a group monitor
 * is a service), notifications become channels, each monitor–notification link an alert rule
 * routed to its channel, and (from kuma.db) status pages become status_pages. kuma.db is opened
 * read-only; a backup is the JSON Uptime Kuma 1.x exported ({ version, notificationList, monitorList }).
 */
import Database from 'better-sqlite3';
import { Draft, duration, ImportInputError, literal, SAMPLE, slug } from './draft.js';
import { isObject, readSource, setKeys, type Json } from './source.js';

export interface KumaOptions {
  /** the service of monitors outside a group monitor (default "default") */
  service?: string;
}

/** One monitor, whichever source it came from (backup JSON is camelCase, kuma.db snake_case). */
interface Monitor {
  id: number;
  name: string;
  type: string;
  active: boolean;
  parent?: number;
  description?: string;
  url?: string;
  method?: string;
  headers?: string;
  body?: string;
  bodyEncoding?: string;
  hostname?: string;
  port?: number;
  interval: number;
  timeout?: number;
  retryInterval?: number;
  resendInterval?: number;
  maxretries: number;
  keyword?: string;
  invertKeyword: boolean;
  ignoreTls: boolean;
  upsideDown: boolean;
  maxredirects?: number;
  acceptedStatuscodes: string[];
  dnsResolveType?: string;
  dnsResolveServer?: string;
  pushToken?: string;
  connectionString?: string;
  query?: string;
  jsonPath?: string;
  jsonPathOperator?: string;
  expectedValue?: string;
  authMethod?: string;
  basicAuthUser?: string;
  basicAuthPass?: string;
  proxyId?: number;
  expiryNotification: boolean;
  notificationIds: number[];
  tags: string[];
}

interface Notification {
  id: number;
  name: string;
  active: boolean;
  config: Json;
}

interface StatusPage {
  slug: string;
  title?: string;
  description?: string;
  icon?: string;
  published: boolean;
  domains: string[];
  extras: string[];
  groups: { name: string; monitorIds: number[] }[];
}

interface KumaData {
  source: 'backup' | 'database';
  monitors: Monitor[];
  notifications: Notification[];
  statusPages: StatusPage[];
  maintenances: number;
}

export function importUptimeKuma(file: string, opts: KumaOptions = {}): Draft {
  const bytes = readSource(file);
  const data = bytes.subarray(0, 16).toString('latin1') === 'SQLite format 3\0' ? readDatabase(file) : readBackup(file, bytes.toString('utf8'));
  return convert(data, opts);
}

// ---------------------------------------------------------------------------------------------
// reading

const bool = (v: unknown, dflt = false): boolean => (v === undefined || v === null ? dflt : v === true || v === 1 || v === '1' || v === 'true');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** The first of several names a field goes by (camelCase in backups, snake_case in the database). */
function pick(row: Json, ...names: string[]): unknown {
  for (const n of names) if (row[n] !== undefined && row[n] !== null) return row[n];
  return undefined;
}

function statusCodes(v: unknown): string[] {
  let list = v;
  if (typeof v === 'string') {
    try {
      list = JSON.parse(v);
    } catch {
      list = [v];
    }
  }
  return Array.isArray(list) ? list.map((x) => String(x)) : ['200-299'];
}

function monitorOf(row: Json, notificationIds: number[], tags: string[]): Monitor {
  return {
    id: num(row.id) ?? 0,
    name: str(row.name) ?? `monitor ${String(row.id)}`,
    type: str(row.type) ?? 'http',
    active: bool(row.active, true),
    parent: num(row.parent),
    description: str(row.description),
    url: str(row.url),
    method: str(row.method),
    headers: str(row.headers),
    body: str(row.body),
    bodyEncoding: str(pick(row, 'httpBodyEncoding', 'http_body_encoding')),
    hostname: str(row.hostname),
    port: num(row.port),
    interval: num(row.interval) ?? 60,
    timeout: num(row.timeout),
    retryInterval: num(pick(row, 'retryInterval', 'retry_interval')),
    resendInterval: num(pick(row, 'resendInterval', 'resend_interval')),
    maxretries: num(row.maxretries) ?? 0,
    keyword: str(row.keyword),
    invertKeyword: bool(pick(row, 'invertKeyword', 'invert_keyword')),
    ignoreTls: bool(pick(row, 'ignoreTls', 'ignore_tls')),
    upsideDown: bool(pick(row, 'upsideDown', 'upside_down')),
    maxredirects: num(row.maxredirects),
    acceptedStatuscodes: statusCodes(pick(row, 'accepted_statuscodes', 'accepted_statuscodes_json')),
    dnsResolveType: str(row.dns_resolve_type),
    dnsResolveServer: str(row.dns_resolve_server),
    pushToken: str(pick(row, 'pushToken', 'push_token')),
    connectionString: str(pick(row, 'databaseConnectionString', 'database_connection_string')),
    query: str(pick(row, 'databaseQuery', 'database_query')),
    jsonPath: str(pick(row, 'jsonPath', 'json_path')),
    jsonPathOperator: str(pick(row, 'jsonPathOperator', 'json_path_operator')),
    expectedValue: str(pick(row, 'expectedValue', 'expected_value')),
    authMethod: str(pick(row, 'authMethod', 'auth_method')),
    basicAuthUser: str(row.basic_auth_user),
    basicAuthPass: str(row.basic_auth_pass),
    proxyId: num(pick(row, 'proxyId', 'proxy_id')),
    expiryNotification: bool(pick(row, 'expiryNotification', 'expiry_notification')),
    notificationIds,
    tags,
  };
}

function notificationOf(row: Json, file: string, where: string): Notification {
  let config: Json = {};
  const raw = row.config;
  if (typeof raw === 'string' && raw !== '') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) config = parsed;
    } catch {
      throw new ImportInputError(file, 'config is not valid JSON', undefined, where);
    }
  } else if (isObject(raw)) config = raw;
  return { id: num(row.id) ?? 0, name: str(row.name) ?? str(config.name) ?? `notification ${String(row.id)}`, active: bool(row.active, true), config };
}

function readBackup(file: string, json: string): KumaData {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? json.slice(0, Number(m[1])).split('\n').length : undefined;
    throw new ImportInputError(file, `neither an Uptime Kuma database nor valid JSON (${(e as Error).message})`, line);
  }
  if (!isObject(data) || data.monitorList === undefined) throw new ImportInputError(file, 'not an Uptime Kuma backup: expected { version, notificationList, monitorList }', undefined, 'monitorList');
  const list = Array.isArray(data.monitorList) ? data.monitorList : isObject(data.monitorList) ? Object.values(data.monitorList) : undefined;
  if (!list) throw new ImportInputError(file, 'expected a list of monitors', undefined, 'monitorList');
  const notifications = data.notificationList ?? [];
  if (!Array.isArray(notifications)) throw new ImportInputError(file, 'expected a list of notifications', undefined, 'notificationList');
  return {
    source: 'backup',
    monitors: list.map((m, i) => {
      if (!isObject(m)) throw new ImportInputError(file, 'expected a monitor (an object)', undefined, `monitorList[${i}]`);
      const ids = isObject(m.notificationIDList) ? Object.entries(m.notificationIDList).filter(([, on]) => bool(on)).map(([id]) => Number(id)) : [];
      const tags = Array.isArray(m.tags) ? m.tags.map((t) => (isObject(t) ? `${String(t.name)}${t.value ? `:${String(t.value)}` : ''}` : String(t))) : [];
      return monitorOf(m, ids, tags);
    }),
    notifications: notifications.map((n, i) => {
      if (!isObject(n)) throw new ImportInputError(file, 'expected a notification (an object)', undefined, `notificationList[${i}]`);
      return notificationOf(n, file, `notificationList[${i}].config`);
    }),
    statusPages: [],
    maintenances: 0,
  };
}

function readDatabase(file: string): KumaData {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new ImportInputError(file, `cannot open the SQLite database: ${(e as Error).message}`);
  }
  try {
    const tables = new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((r) => r.name));
    if (!tables.has('monitor')) throw new ImportInputError(file, 'not an Uptime Kuma database: it has no monitor table');
    const all = (table: string, sql?: string): Json[] => (tables.has(table) ? (db.prepare(sql ?? `select * from "${table}"`).all() as Json[]) : []);
    const links = all('monitor_notification');
    const tagNames = new Map(all('tag').map((t) => [num(t.id), str(t.name) ?? '']));
    const tags = all('monitor_tag');
    const monitors = all('monitor', 'select * from monitor order by id').map((row) => {
      const id = num(row.id);
      return monitorOf(
        row,
        links.filter((l) => num(l.monitor_id) === id).map((l) => num(l.notification_id) ?? 0),
        tags.filter((t) => num(t.monitor_id) === id).map((t) => `${tagNames.get(num(t.tag_id)) ?? ''}${t.value ? `:${String(t.value)}` : ''}`),
      );
    });
    const notifications = all('notification', 'select * from notification order by id').map((n) => notificationOf(n, file, `notification #${String(n.id)}.config`));
    const groups = all('group', 'select * from "group" order by weight, id');
    const members = all('monitor_group', 'select * from monitor_group order by weight, id');
    const cnames = all('status_page_cname');
    const statusPages: StatusPage[] = all('status_page', 'select * from status_page order by id').map((p) => {
      const extras: string[] = [];
      if (str(p.footer_text)) extras.push('footer_text');
      if (str(p.custom_css)) extras.push('custom_css');
      if (str(p.google_analytics_tag_id)) extras.push('google_analytics_tag_id');
      if (str(p.analytics_id)) extras.push('analytics');
      if (bool(p.show_tags)) extras.push('show_tags');
      if (bool(p.show_certificate_expiry)) extras.push('show_certificate_expiry');
      if (str(p.password)) extras.push('password');
      if (p.show_powered_by !== undefined && !bool(p.show_powered_by, true)) extras.push('show_powered_by');
      if (str(p.theme) && p.theme !== 'auto' && p.theme !== 'light') extras.push(`theme ${String(p.theme)}`);
      return {
        slug: str(p.slug) ?? `page-${String(p.id)}`,
        title: str(p.title),
        description: str(p.description),
        icon: str(p.icon),
        published: bool(p.published, true),
        domains: cnames.filter((c) => num(c.status_page_id) === num(p.id)).map((c) => str(c.domain) ?? '').filter(Boolean),
        extras,
        groups: groups
          .filter((g) => num(g.status_page_id) === num(p.id))
          .map((g) => ({ name: str(g.name) ?? 'Services', monitorIds: members.filter((m) => num(m.group_id) === num(g.id)).map((m) => num(m.monitor_id) ?? 0) })),
      };
    });
    return { source: 'database', monitors, notifications, statusPages, maintenances: all('maintenance').length };
  } catch (e) {
    if (e instanceof ImportInputError) throw e;
    throw new ImportInputError(file, `cannot read the Uptime Kuma database: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// converting

const NO_KIND: Record<string, string> = {
  ping: 'no ping (ICMP) check kind; a tcp check on a port the host serves is the nearest',
  docker: 'no Docker container check kind; a command check running `docker inspect` is the nearest',
  'real-browser': 'no browser check kind',
  'grpc-keyword': 'no gRPC check kind',
  mqtt: 'no MQTT check kind',
  'kafka-producer': 'no Kafka check kind',
  mysql: 'no MySQL/MariaDB check kind',
  mongodb: 'no MongoDB check kind',
  sqlserver: 'no SQL Server check kind',
  radius: 'no RADIUS check kind',
  steam: 'no game server check kind',
  gamedig: 'no game server check kind',
  'tailscale-ping': 'no Tailscale check kind',
  snmp: 'no SNMP check kind',
  rabbitmq: 'no RabbitMQ check kind',
  smtp: 'no SMTP check kind; a tcp check on port 25/587 tests that it accepts connections',
  'websocket-upgrade': 'no WebSocket check kind',
  ntp: 'no NTP check kind',
};

function convert(data: KumaData, opts: KumaOptions): Draft {
  const d = new Draft();
  const defaultService = slug(opts.service ?? 'default', 'default');
  const byId = new Map(data.monitors.map((m) => [m.id, m]));
  const serviceOf = (m: Monitor): string => {
    if (m.type === 'group') return slug(m.name, defaultService);
    const parent = m.parent === undefined ? undefined : byId.get(m.parent);
    return parent && parent.type === 'group' ? slug(parent.name, defaultService) : defaultService;
  };

  const channels = new Map<number, string>();
  for (const n of data.notifications) {
    const ch = importNotification(d, n);
    if (ch) channels.set(n.id, ch);
  }

  /** monitor id -> the check it became */
  const checks = new Map<number, { service: string; check: string }>();
  let expiry = false;
  for (const m of data.monitors) {
    const label = `monitor "${m.name}" (${m.type})`;
    const where = data.source === 'backup' ? `monitorList[id=${m.id}]` : `monitor #${m.id}`;
    if (m.type === 'group') {
      // a group monitor is down when a child is: the service is down
      const service = d.service(serviceOf(m), m.description ? literal(m.description.slice(0, 500)) : undefined);
      for (const nid of m.notificationIds) {
        const channel = channels.get(nid);
        if (!channel) continue;
        d.addAlert(`${service}-down-${channel}`, { when: `down(${service})`, severity: 'P2', labels: { channel }, summary: `${literal(m.name).replace(/\{\{/g, '{ {')} is down` });
        d.routeByChannelLabel(channel);
      }
      continue;
    }
    if (m.upsideDown) {
      d.report(label, `${where}.upside_down`, 'upside-down mode (up when the check fails) has no equivalent: not imported');
      continue;
    }
    const kind = checkKind(d, m, label, where);
    if (!kind) continue;
    if (!m.active) d.report(label, `${where}.active`, 'paused in Uptime Kuma: imported, and it runs in Shipshape');
    const every = Math.max(1, m.interval) * 1000;
    // a heartbeat check looks at the last ping every 30s; its period is the monitor's interval
    if (kind.name !== 'heartbeat') kind.spec.every = duration(every);
    if (m.timeout !== undefined && m.timeout > 0 && kind.name !== 'heartbeat') kind.spec.timeout = duration(Math.min(Math.round(m.timeout * 1000), every));
    const check: Json = { [kind.name]: kind.spec };
    if (kind.conditions.length > 0) check.conditions = kind.conditions;
    if (m.maxretries > 0) check.down_after = Math.min(100, m.maxretries + 1);
    if (m.maxretries > 0 && m.retryInterval && m.retryInterval !== m.interval) d.report(`${label}: retry interval ${m.retryInterval}s`, `${where}.retry_interval`, `retries run at the check's interval (${m.interval}s)`);
    if (m.resendInterval && m.resendInterval > 0) d.report(`${label}: resend interval`, `${where}.resend_interval`, 'reminders follow the route\'s repeat_interval (default 4h)');
    if (m.proxyId) d.report(`${label}: proxy`, `${where}.proxy_id`, 'checks connect directly (outbound rules are under egress:)');
    if (m.tags.length > 0) d.report(`${label}: tags ${m.tags.join(', ')}`, `${where}.tags`, 'checks have no tags; a tag that names a team is a service in Shipshape');
    if (kind.name === 'http' && m.expiryNotification && /^https:/i.test(m.url ?? '')) expiry = true;
    const service = d.service(serviceOf(m));
    const name = d.addCheck(service, m.name, check);
    checks.set(m.id, { service, check: name });
    for (const nid of m.notificationIds) {
      const channel = channels.get(nid);
      if (!channel) continue;
      d.addAlert(`${service}-${name}-${channel}`, { when: `down(${service}/${name})`, severity: 'P2', labels: { channel }, summary: `${literal(m.name).replace(/\{\{/g, '{ {')} is down` });
      d.routeByChannelLabel(channel);
    }
  }
  if (expiry) d.report('certificate expiry notifications', 'monitor.expiry_notification', 'Uptime Kuma notifies before a certificate expires; in Shipshape set cert_min_days on the http check (it then fails) or add a tls check');
  if (data.maintenances > 0) d.report(`${data.maintenances} maintenance window(s)`, 'maintenance', 'not imported: add them under maintenance: (their schedule format differs)');
  if (data.source === 'backup') d.report('status pages', 'backup', 'a backup has no status pages: import kuma.db to get them');

  for (const p of data.statusPages) importStatusPage(d, p, byId, checks, serviceOf);
  // a backup names most monitor fields in camelCase (server/model/monitor.js toJSON)
  if (data.source === 'backup') for (const u of d.unsupported) u.where = u.where.replace(/^(monitorList\[id=\d+\]\.)([a-z_]+)$/, (_m, head: string, field: string) => head + (BACKUP_FIELD[field] ?? field));
  return d;
}

const BACKUP_FIELD: Record<string, string> = {
  retry_interval: 'retryInterval',
  resend_interval: 'resendInterval',
  proxy_id: 'proxyId',
  upside_down: 'upsideDown',
  push_token: 'pushToken',
  database_connection_string: 'databaseConnectionString',
  json_path: 'jsonPath',
  auth_method: 'authMethod',
};

interface KindOut {
  name: string;
  spec: Json;
  conditions: string[];
}

function checkKind(d: Draft, m: Monitor, label: string, where: string): KindOut | undefined {
  const conditions: string[] = [];
  switch (m.type) {
    case 'http':
    case 'keyword':
    case 'json-query': {
      if (!m.url || !/^https?:\/\//i.test(m.url)) {
        d.report(label, `${where}.url`, `expected an http(s) URL, got "${m.url ?? ''}"`);
        return undefined;
      }
      const spec: Json = { url: httpUrl(d, m) };
      const method = (m.method ?? 'GET').toUpperCase();
      if (!['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].includes(method)) {
        d.report(label, `${where}.method`, `method ${method}: http checks send GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS`);
        return undefined;
      }
      if (method !== 'GET') spec.method = method;
      if (m.headers) {
        let headers: unknown;
        try {
          headers = JSON.parse(m.headers);
        } catch {
          d.report(`${label}: headers`, `${where}.headers`, 'not valid JSON (Uptime Kuma would refuse it too): left out');
        }
        if (isObject(headers) && Object.keys(headers).length > 0) {
          spec.headers = Object.fromEntries(Object.entries(headers).map(([h, v]) => [h, /authorization|token|key|secret|cookie/i.test(h) ? d.secret(`${m.name}_${h}`, String(v), SAMPLE.token) : literal(String(v))]));
        }
      }
      if (m.body) {
        let body: unknown = m.body;
        if ((m.bodyEncoding ?? 'json') === 'json') {
          try {
            const parsed: unknown = JSON.parse(m.body);
            if (isObject(parsed)) body = parsed;
          } catch {
            // sent as written
          }
        }
        spec.body = typeof body === 'string' ? literal(body) : deepLiteralBody(body);
      }
      const expect = expectStatus(m.acceptedStatuscodes);
      if (expect === undefined) d.report(`${label}: accepted status codes ${m.acceptedStatuscodes.join(', ')}`, `${where}.accepted_statuscodes`, 'not expressible as status codes and classes: the check expects 2xx');
      else if (!(expect.length === 1 && expect[0] === '2xx')) spec.expect_status = expect.length === 1 ? expect[0] : expect;
      if (m.ignoreTls) spec.insecure = true;
      if (m.maxredirects === 0) spec.follow_redirects = false;
      if (m.authMethod && m.authMethod !== 'basic' && m.authMethod !== 'null') d.report(`${label}: ${m.authMethod} authentication`, `${where}.auth_method`, 'only Basic authentication (user:password@ in the url) and headers are supported');
      if (m.type === 'keyword') {
        if (!m.keyword) d.report(`${label}: empty keyword`, `${where}.keyword`, 'imported as a plain http check');
        else if (m.invertKeyword) conditions.push(`body not contains ${JSON.stringify(m.keyword)}`);
        else spec.keyword = literal(m.keyword);
      }
      if (m.type === 'json-query') {
        const c = jsonCondition(m);
        if (c) conditions.push(c);
        else d.report(`${label}: JSON query ${m.jsonPath ?? ''} ${m.jsonPathOperator ?? '=='} ${m.expectedValue ?? ''}`, `${where}.json_path`, 'only a plain field path (a.b[0].c) compared with ==, !=, <, <=, >, >= or contains has an equivalent condition; the check tests the status only');
      }
      return { name: 'http', spec, conditions };
    }
    case 'port': {
      if (!m.hostname || !m.port) {
        d.report(label, where, 'a port monitor needs a hostname and a port');
        return undefined;
      }
      return { name: 'tcp', spec: { host: literal(m.hostname), port: m.port }, conditions };
    }
    case 'dns': {
      if (!m.hostname) {
        d.report(label, `${where}.hostname`, 'a DNS monitor needs a hostname');
        return undefined;
      }
      const type = (m.dnsResolveType ?? 'A').toUpperCase();
      if (!['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV'].includes(type)) {
        d.report(`${label}: record type ${type}`, `${where}.dns_resolve_type`, 'dns checks ask for A, AAAA, CNAME, MX, TXT, NS or SRV');
        return undefined;
      }
      const spec: Json = { name: literal(m.hostname), type };
      const server = m.dnsResolveServer?.split(',')[0]?.trim();
      if (server) spec.server = literal(m.port && m.port !== 53 ? `${server.includes(':') ? `[${server}]` : server}:${m.port}` : server);
      return { name: 'dns', spec, conditions };
    }
    case 'push': {
      if (!m.pushToken || !/^[A-Za-z0-9._-]{1,128}$/.test(m.pushToken)) {
        d.report(label, `${where}.push_token`, 'no usable push token');
        return undefined;
      }
      d.report(label, `${where}.push_token`, `imported as a heartbeat check: the job now pings /ping/${m.pushToken} on Shipshape instead of /api/push/${m.pushToken}`);
      return { name: 'heartbeat', spec: { token: m.pushToken, period: duration(Math.max(1, m.interval) * 1000) }, conditions };
    }
    case 'postgres':
    case 'redis': {
      if (!m.connectionString) {
        d.report(label, `${where}.database_connection_string`, 'no connection string');
        return undefined;
      }
      const spec: Json = { url: d.secret(`${m.name}_${m.type}_url`, m.connectionString, m.type === 'postgres' ? SAMPLE.postgres : SAMPLE.redis) };
      if (m.type === 'postgres' && m.query) spec.query = literal(m.query);
      return { name: m.type, spec, conditions };
    }
    default:
      d.report(label, `${where}.type`, NO_KIND[m.type] ?? `no ${m.type} check kind`);
      return undefined;
  }
}

function deepLiteralBody(v: unknown): unknown {
  if (typeof v === 'string') return literal(v);
  if (Array.isArray(v)) return v.map(deepLiteralBody);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepLiteralBody(x)]));
  return v;
}

/** The url, with Basic auth as user:${PASSWORD}@ (the password goes to the env file, URL-encoded). */
function httpUrl(d: Draft, m: Monitor): string {
  const url = m.url as string;
  if (m.authMethod !== 'basic' || !m.basicAuthUser) return literal(url);
  const at = /^(https?:\/\/)(?:[^@/]*@)?(.*)$/i.exec(url) as RegExpExecArray;
  const password = m.basicAuthPass ? `:${d.secret(`${m.name}_basic_auth_password`, encodeURIComponent(m.basicAuthPass), 'password')}` : '';
  return `${at[1]}${literal(encodeURIComponent(m.basicAuthUser))}${password}@${literal(at[2] as string)}`;
}

/** ["200-299"] -> ["2xx"], ["200", "404"] -> [200, 404]; undefined when a range is not classes or short. */
function expectStatus(codes: string[]): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  for (const c of codes) {
    const range = /^(\d{3})-(\d{3})$/.exec(c.trim());
    const single = /^(\d{3})$/.exec(c.trim());
    if (single) out.push(Number(single[1]));
    else if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (a % 100 === 0 && b % 100 === 99 && a >= 100 && b <= 599) for (let k = a / 100; k <= Math.floor(b / 100); k++) out.push(`${k}xx`);
      else if (b >= a && b - a < 20 && a >= 100 && b <= 599) for (let k = a; k <= b; k++) out.push(k);
      else return undefined;
    } else return undefined;
  }
  return out.length > 0 ? out : undefined;
}

/** A JSON query as a condition on the body, when the query is a plain path. */
function jsonCondition(m: Monitor): string | undefined {
  const path = (m.jsonPath ?? '').trim().replace(/^\$\.?/, '');
  if (!/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*$/.test(path)) return undefined;
  const op = (m.jsonPathOperator ?? '==').trim();
  if (!['==', '!=', '<', '<=', '>', '>=', 'contains'].includes(op)) return undefined;
  const expected = m.expectedValue ?? '';
  const value = /^-?\d+(\.\d+)?$/.test(expected) || /^(true|false|null)$/.test(expected) ? expected : JSON.stringify(expected);
  if (['<', '<=', '>', '>='].includes(op) && !/^-?\d+(\.\d+)?$/.test(expected)) return undefined;
  return `body.${path} ${op} ${value}`;
}

/** Kuma notification types with a Shipshape channel, and how their fields map. */
function importNotification(d: Draft, n: Notification): string | undefined {
  const c = n.config;
  const type = str(c.type) ?? 'unknown';
  const label = `notification "${n.name}" (${type})`;
  const where = `notification #${n.id}`;
  if (!n.active) {
    d.report(label, `${where}.active`, 'disabled in Uptime Kuma: not imported');
    return undefined;
  }
  const name = d.channelName(n.name);
  const need = (key: string): string | undefined => {
    const v = str(c[key]);
    if (!v) d.report(label, `${where}.config.${key}`, `${key} is empty: not imported`);
    return v;
  };
  const extra = (keys: string[], why: string) => {
    for (const k of keys) if (setKeys(c).includes(k) && c[k] !== false) d.report(`${label}: ${k}`, `${where}.config.${k}`, why);
  };
  const templates = 'the message text is set per channel with template: (Mustache) in Shipshape';
  let channel: Json | undefined;
  switch (type) {
    case 'slack': {
      const url = need('slackwebhookURL');
      if (url) channel = { slack: { url: d.secret(`${name}_webhook_url`, url, SAMPLE.url) } };
      extra(['slackchannel', 'slackusername', 'slackiconemo', 'slackbutton', 'slackTemplate', 'slackUseTemplate'], templates);
      break;
    }
    case 'discord': {
      const url = need('discordWebhookUrl');
      if (url) channel = { discord: { url: d.secret(`${name}_webhook_url`, url, SAMPLE.url) } };
      extra(['discordUsername', 'discordPrefixMessage', 'discordMessageTemplate', 'discordUseMessageTemplate', 'threadId', 'postName'], templates);
      break;
    }
    case 'teams': {
      const url = need('webhookUrl');
      if (url) channel = { teams: { url: d.secret(`${name}_webhook_url`, url, SAMPLE.url) } };
      break;
    }
    case 'telegram': {
      const token = need('telegramBotToken');
      const chat = need('telegramChatID');
      if (token && chat) {
        const spec: Json = { bot_token: d.secret(`${name}_bot_token`, token, SAMPLE.token), chat_id: literal(chat) };
        const server = str(c.telegramServerUrl);
        if (server && !/^https:\/\/api\.telegram\.org\/?$/.test(server)) spec.api_url = literal(server);
        channel = { telegram: spec };
      }
      extra(['telegramMessageThreadID', 'telegramSendSilently', 'telegramProtectContent', 'telegramTemplate', 'telegramUseTemplate'], 'no such telegram setting in Shipshape');
      break;
    }
    case 'PagerDuty': {
      const key = need('pagerdutyIntegrationKey');
      if (key) {
        const spec: Json = { routing_key: d.secret(`${name}_integration_key`, key, SAMPLE.token) };
        const url = str(c.pagerdutyIntegrationUrl);
        if (url && !/events\.pagerduty\.com\/v2\/enqueue\/?$/.test(url)) spec.url = literal(url);
        channel = { pagerduty: spec };
      }
      extra(['pagerdutyPriority', 'pagerdutyAutoResolve'], 'severity comes from the alert rule; resolving follows send_resolved');
      break;
    }
    case 'ntfy': {
      const topic = need('ntfytopic');
      if (topic) {
        const spec: Json = { topic: literal(topic) };
        const url = str(c.ntfyserverurl);
        if (url) spec.url = literal(url);
        const token = str(c.ntfyaccesstoken);
        if (token && (c.ntfyAuthenticationMethod ?? 'accessToken') === 'accessToken') spec.token = d.secret(`${name}_token`, token, SAMPLE.token);
        if (str(c.ntfyusername)) d.report(`${label}: username and password`, `${where}.config.ntfyusername`, 'ntfy channels authenticate with an access token only');
        channel = { ntfy: spec };
      }
      extra(['ntfyPriority', 'ntfyIcon', 'ntfyCustomTitle', 'ntfyCustomMessage'], 'the priority comes from the alert severity; no icon or custom text');
      break;
    }
    case 'smtp': {
      const host = need('smtpHost');
      const to = [str(c.smtpTo), str(c.smtpCC), str(c.smtpBCC)]
        .filter((s): s is string => !!s)
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean);
      if (str(c.smtpCC) || str(c.smtpBCC)) d.report(`${label}: CC / BCC`, `${where}.config.smtpCC`, 'CC and BCC recipients were added to to:');
      if (host && to.length > 0) {
        const port = num(c.smtpPort) ?? 25;
        const scheme = bool(c.smtpSecure) ? 'smtps' : 'smtp';
        const user = str(c.smtpUsername);
        const pass = str(c.smtpPassword);
        const smtp = user && pass ? d.secret(`${name}_smtp_url`, `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${host}:${port}`, SAMPLE.smtp) : literal(`${scheme}://${host}:${port}`);
        const spec: Json = { to, smtp };
        if (str(c.smtpFrom)) spec.from = literal(str(c.smtpFrom) as string);
        channel = { email: spec };
      } else if (host) d.report(label, `${where}.config.smtpTo`, 'no recipients: not imported');
      extra(['customSubject', 'customBody', 'htmlBody', 'smtpDkimDomain', 'smtpIgnoreTLSError', 'smtpAdditionalHeaders'], 'no such email setting in Shipshape (subject and body come from the channel template)');
      break;
    }
    case 'webhook': {
      const url = need('webhookURL');
      if (url) {
        const spec: Json = { url: d.secret(`${name}_url`, url, SAMPLE.url) };
        const headersText = str(c.webhookAdditionalHeaders);
        if (headersText) {
          try {
            const h: unknown = JSON.parse(headersText);
            if (isObject(h)) spec.headers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, d.secret(`${name}_header_${k}`, String(v), SAMPLE.token)]));
          } catch {
            d.report(`${label}: additional headers`, `${where}.config.webhookAdditionalHeaders`, 'not valid JSON: left out');
          }
        }
        channel = { webhook: spec };
        d.report(label, where, `imported as a webhook channel: Shipshape POSTs an Alertmanager-style JSON body, not Uptime Kuma's { heartbeat, monitor, msg }${str(c.webhookCustomBody) ? ' (the custom body template has no equivalent)' : ''}`);
      }
      break;
    }
    default:
      d.report(label, `${where}.config.type`, `no ${type} channel; channels: slack, discord, teams, telegram, pagerduty, ntfy, email, webhook`);
  }
  if (!channel) return undefined;
  d.addChannel(name, channel);
  return name;
}

function importStatusPage(d: Draft, p: StatusPage, byId: Map<number, Monitor>, checks: Map<number, { service: string; check: string }>, serviceOf: (m: Monitor) => string): void {
  const key = unique40(p.slug.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, ''), (k) => d.statusPages.has(k));
  const where = `status_page "${p.slug}"`;
  const page: Json = { path: `/status/${key}` };
  if (p.title) page.title = literal(p.title.slice(0, 200));
  if (p.description) page.description = literal(p.description.slice(0, 1000));
  if (p.icon && /^https?:\/\/[^\s"'<>]+$/.test(p.icon)) page.logo = literal(p.icon);
  else if (p.icon && p.icon !== '/icon.svg') d.report(`${where}: logo ${p.icon}`, `${where}.icon`, 'a file served by Uptime Kuma: host it and set logo: to its URL');
  const domains = p.domains.map((x) => x.toLowerCase());
  if (domains[0]) page.host = domains[0];
  if (domains.length > 1) d.report(`${where}: domains ${domains.slice(1).join(', ')}`, `${where}.domain`, 'a status page has one host name; the first was kept');
  if (!p.published) {
    page.private = true;
    d.report(where, `${where}.published`, 'not published in Uptime Kuma: imported as a private page (needs a token or a dashboard login)');
  }
  for (const x of p.extras) d.report(`${where}: ${x}`, `${where}.${x.split(' ')[0]}`, 'no such status page setting in Shipshape');
  const components: Json[] = [];
  const seen = new Set<string>();
  for (const g of p.groups) {
    for (const id of g.monitorIds) {
      const m = byId.get(id);
      if (!m) continue;
      const service = m.type === 'group' ? serviceOf(m) : checks.get(id)?.service;
      if (!service || !d.services.has(service)) {
        d.report(`${where}: monitor "${m.name}"`, `${where}.group "${g.name}"`, 'its monitor was not imported, so it has no component');
        continue;
      }
      if (seen.has(service)) {
        d.report(`${where}: monitor "${m.name}"`, `${where}.group "${g.name}"`, `a component shows a whole service: "${m.name}" is part of service ${service}, already on the page`);
        continue;
      }
      seen.add(service);
      components.push({ name: literal(m.name.slice(0, 100)), service, group: literal(g.name.slice(0, 100)) });
    }
  }
  page.components = components;
  d.statusPages.set(key, page);
}

function unique40(base: string, taken: (k: string) => boolean): string {
  const b = (base || 'page').slice(0, 40).replace(/-+$/, '') || 'page';
  if (!taken(b)) return b;
  for (let i = 2; ; i++) {
    const k = `${b.slice(0, 40 - String(i).length - 1)}-${i}`;
    if (!taken(k)) return k;
  }
}
