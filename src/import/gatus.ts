/**
 * `shipshape import gatus <config.yaml>`: Gatus endpoints become checks (a group is a service),
 * `alerting:` providers become notify channels, and each endpoint alert becomes an alert rule
 * labelled with its channel, routed to it. Gatus' `$VAR` / `${VAR}` references stay references.
 */
import { Draft, duration, goDuration, literal, SAMPLE, slug } from './draft.js';
import { isObject, keyPath, setKeys, text, YamlSource, type Json } from './source.js';

export interface GatusOptions {
  /** the service of endpoints without a group (default "default") */
  service?: string;
}

/** Gatus' own defaults (README "Alerting"): an alert fires after 3 failures and resolves after 2 successes. */
const DEFAULT_FAILURE_THRESHOLD = 3;
const DEFAULT_SUCCESS_THRESHOLD = 2;
const DEFAULT_INTERVAL_MS = 60_000;

/** Top-level keys that are Gatus' own server settings: nothing to import. */
const SERVER_KEYS: Record<string, string> = {
  storage: 'Shipshape keeps results in its own store (SQLite or SHIPSHAPE_DATABASE_URL)',
  web: 'the listen address is server.host / server.port (or SHIPSHAPE_HOST / SHIPSHAPE_PORT)',
  ui: 'the dashboard and status pages are configured under status_pages:',
  security: 'Shipshape uses API tokens (shipshape token create) and dashboard sign-in',
  metrics: 'Shipshape always serves /metrics',
  concurrency: 'checks run concurrently up to defaults.concurrency',
  'disable-monitoring-lock': 'checks run concurrently up to defaults.concurrency',
  'skip-invalid-config-update': 'an invalid config is never applied on reload',
  connectivity: 'no connectivity checker; a failing check is reported as it is',
  remote: 'no remote instances',
  announcements: 'announcements are incidents or maintenance windows in Shipshape (shipshape incident / maintenance:)',
  maintenance: 'add a maintenance window under maintenance: (its schedule format differs)',
  suites: 'suites (ordered endpoint runs sharing a context) have no equivalent',
};

const KNOWN_TOP = new Set(['endpoints', 'external-endpoints', 'alerting', ...Object.keys(SERVER_KEYS)]);

export function importGatus(file: string, yamlText: string, opts: GatusOptions = {}): Draft {
  const src: YamlSource = new YamlSource(file, yamlText);
  const d = new Draft();
  const root = src.data ?? {};
  if (!isObject(root)) src.fail([], 'expected a Gatus config (a mapping with endpoints:)');
  const defaultService = slug(opts.service ?? 'default', 'default');

  for (const k of setKeys(root)) {
    if (KNOWN_TOP.has(k)) {
      const why = SERVER_KEYS[k];
      if (why) d.report(`${k}:`, k, why);
    } else d.report(`${k}:`, k, 'not a Gatus setting Shipshape knows');
  }
  if (root.endpoints !== undefined && !Array.isArray(root.endpoints)) src.fail(['endpoints'], 'expected a list of endpoints');
  if (root['external-endpoints'] !== undefined && !Array.isArray(root['external-endpoints'])) src.fail(['external-endpoints'], 'expected a list of external endpoints');
  if (root.alerting !== undefined && root.alerting !== null && !isObject(root.alerting)) src.fail(['alerting'], 'expected a mapping of alerting providers');
  const endpoints = (root.endpoints ?? []) as unknown[];
  const external = (root['external-endpoints'] ?? []) as unknown[];
  if (endpoints.length === 0 && external.length === 0) src.fail(['endpoints'], 'no endpoints: is this a Gatus config?');

  const providers = importProviders(src, d, (root.alerting ?? {}) as Json);

  endpoints.forEach((ep, i) => importEndpoint(src, d, ep, ['endpoints', i], defaultService, providers));
  external.forEach((ep, i) => importExternal(src, d, ep, ['external-endpoints', i], defaultService, providers));
  return d;
}

/** A Gatus string: `$VAR` and `${VAR}` stay environment references, other `$` are literal. */
function gatusValue(d: Draft, s: string, sample: string): string {
  const whole = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.test(s.trim());
  return s.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$/g, (m, a: string | undefined, b: string | undefined) => {
    if (m === '$$') return '$$';
    const name = a ?? b;
    if (!name) return '$$';
    d.passthrough(name, whole ? sample : 'example.invalid');
    return `\${${name}}`;
  });
}

/** A secret from the Gatus config: a reference stays one; a literal goes to the env file. */
function gatusSecret(d: Draft, base: string, s: string, sample: string): string {
  return /\$\{?[A-Za-z_]/.test(s) ? gatusValue(d, s, sample) : d.secret(base, s, sample);
}

interface Provider {
  type: string;
  /** the channel, when the provider has a Shipshape equivalent */
  channel?: string;
  /** the channel of each group with an override (`alerting.<type>.overrides[]`) */
  overrides: Map<string, string>;
  why?: string;
  defaultAlert: Json;
}

const CHANNEL_OF: Record<string, string> = { slack: 'slack', discord: 'discord', teams: 'teams', 'teams-workflows': 'teams', telegram: 'telegram', pagerduty: 'pagerduty', ntfy: 'ntfy', email: 'email', custom: 'webhook' };

function importProviders(src: YamlSource, d: Draft, alerting: Json): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [type, raw] of Object.entries(alerting)) {
    const at = ['alerting', type];
    if (raw === null || raw === undefined) continue;
    if (!isObject(raw)) src.fail(at, 'expected a mapping of provider settings');
    const cfg = raw;
    const defaultAlert = isObject(cfg['default-alert']) ? cfg['default-alert'] : {};
    const p: Provider = { type, defaultAlert, overrides: new Map() };
    out.set(type, p);
    const kind = CHANNEL_OF[type];
    if (!kind) {
      p.why = `no ${type} channel; channels: slack, discord, teams, telegram, pagerduty, ntfy, email, webhook`;
      d.report(`alerting provider ${type}`, `alerting.${type}`, p.why);
      continue;
    }
    p.channel = d.channelName(type);
    d.addChannel(p.channel, { [kind]: providerSpec(src, d, type, cfg, cfg, at, p.channel) });
    // an override replaces some settings for the endpoints of one group: a channel of its own
    const overrides = cfg.overrides;
    if (overrides === undefined || overrides === null) continue;
    if (!Array.isArray(overrides)) src.fail([...at, 'overrides'], 'expected a list of overrides');
    overrides.forEach((o, i) => {
      const oat = [...at, 'overrides', i];
      if (!isObject(o)) src.fail(oat, 'expected an override (a mapping with group)');
      const group = text(o.group);
      if (!group) src.fail([...oat, 'group'], 'an override needs a group');
      const merged: Json = { ...cfg, ...o };
      const name = d.channelName(`${type}-${group}`);
      d.addChannel(name, { [kind]: providerSpec(src, d, type, merged, o, oat, name) });
      p.overrides.set(group, name);
    });
  }
  return out;
}

/**
 * The channel block of one provider: `cfg` holds the settings in force (an override merged over
 * the provider), `own` the keys written at `at` (reported when they have no equivalent).
 */
function providerSpec(src: YamlSource, d: Draft, type: string, cfg: Json, own: Json, at: (string | number)[], name: string): Json {
  const where = keyPath(at);
  const need = (key: string): string => {
    const v = text(cfg[key]);
    if (v === undefined || v === '') src.fail([...at, key], `is required for the ${type} provider`);
    return v;
  };
  const skip = (keys: string[], why: string) => {
    for (const k of keys) if (setKeys(own).includes(k)) d.report(`${where}.${k}`, `${where}.${k}`, why);
  };
  let spec: Json;
  switch (type) {
    case 'slack':
    case 'discord':
    case 'teams':
    case 'teams-workflows':
      spec = { url: gatusSecret(d, `${name}_webhook_url`, need('webhook-url'), SAMPLE.url) };
      skip(['title', 'message-content'], 'the message text is set per channel with template: (Mustache) in Shipshape');
      skip(['client'], 'no per-channel HTTP client settings');
      break;
    case 'telegram': {
      spec = { bot_token: gatusSecret(d, `${name}_bot_token`, need('token'), SAMPLE.token), chat_id: gatusValue(d, need('id'), '1') };
      const api = text(cfg['api-url']);
      if (api) spec.api_url = gatusValue(d, api, SAMPLE.url);
      skip(['topic-id'], 'no message thread (topic) setting on telegram channels');
      skip(['client'], 'no per-channel HTTP client settings');
      break;
    }
    case 'pagerduty':
      spec = { routing_key: gatusSecret(d, `${name}_integration_key`, need('integration-key'), SAMPLE.token) };
      break;
    case 'ntfy': {
      spec = { topic: gatusValue(d, need('topic'), 'alerts') };
      const url = text(cfg.url);
      if (url) spec.url = gatusValue(d, url, SAMPLE.url);
      const token = text(cfg.token);
      if (token) spec.token = gatusSecret(d, `${name}_token`, token, SAMPLE.token);
      skip(['email', 'click', 'priority', 'disable-firebase', 'disable-cache', 'username', 'password'], 'no such ntfy setting in Shipshape (it sends the title, text and a priority by severity)');
      break;
    }
    case 'email': {
      const to = need('to')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const from = need('from');
      const host = need('host');
      const port = Number(need('port'));
      if (!Number.isInteger(port) || port < 1 || port > 65535) src.fail([...at, 'port'], `expected a port number, got "${text(cfg.port)}"`);
      const password = text(cfg.password);
      const username = text(cfg.username) || from;
      const scheme = port === 465 ? 'smtps' : 'smtp';
      const smtp = password
        ? gatusSecret(d, `${name}_smtp_url`, /\$/.test(password + username + host) ? `${scheme}://${username}:${password}@${host}:${port}` : `${scheme}://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${port}`, SAMPLE.smtp)
        : gatusValue(d, `${scheme}://${host}:${port}`, SAMPLE.smtp);
      spec = { to: to.map((t) => gatusValue(d, t, 'ops@example.invalid')), from: gatusValue(d, from, 'ops@example.invalid'), smtp };
      skip(['client'], 'no per-channel SMTP client settings (smtps:// on port 465, STARTTLS otherwise)');
      break;
    }
    default: {
      // custom
      spec = { url: gatusSecret(d, `${name}_url`, need('url'), SAMPLE.url) };
      if (isObject(cfg.headers)) {
        const headers: Record<string, string> = {};
        for (const [h, v] of Object.entries(cfg.headers)) headers[h] = gatusSecret(d, `${name}_header_${h}`, text(v) ?? '', SAMPLE.token);
        spec.headers = headers;
      }
      const method = (text(cfg.method) ?? 'GET').toUpperCase();
      if (own === cfg || own.body !== undefined || own.method !== undefined) {
        d.report(
          `${where} (${method}${cfg.body ? ' with a body template' : ''})`,
          where,
          'imported as a webhook channel: Shipshape POSTs an Alertmanager-style JSON body; Gatus placeholders ([ENDPOINT_NAME], [ALERT_DESCRIPTION]…) in the url or body have no equivalent',
        );
      }
      skip(['placeholders'], 'no custom placeholders');
      skip(['client'], 'no per-channel HTTP client settings');
    }
  }
  return spec;
}

interface Kind {
  kind: string;
  spec: Json;
}

/** The check kind of a Gatus endpoint, from its url scheme and dns block. */
function endpointKind(src: YamlSource, d: Draft, ep: Json, at: (string | number)[], label: string): Kind | undefined {
  const url = text(ep.url) ?? '';
  if (isObject(ep.dns)) {
    const name = text(ep.dns['query-name']);
    if (!name) src.fail([...at, 'dns', 'query-name'], 'is required for a DNS endpoint');
    const type = (text(ep.dns['query-type']) ?? 'A').toUpperCase();
    if (!['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV'].includes(type)) {
      d.report(`${label}: DNS query type ${type}`, `${keyPath(at)}.dns.query-type`, 'dns checks ask for A, AAAA, CNAME, MX, TXT, NS or SRV');
      return undefined;
    }
    const server = url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    return { kind: 'dns', spec: { name: gatusValue(d, name, 'example.com'), type, ...(server ? { server: gatusValue(d, server, '127.0.0.1') } : {}) } };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    const spec: Json = { url: gatusValue(d, url, SAMPLE.url) };
    const method = (text(ep.method) ?? 'GET').toUpperCase();
    if (!['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].includes(method)) {
      d.report(`${label}: method ${method}`, `${keyPath(at)}.method`, 'http checks send GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS');
      return undefined;
    }
    if (method !== 'GET') spec.method = method;
    const headers: Record<string, string> = {};
    if (isObject(ep.headers)) for (const [h, v] of Object.entries(ep.headers)) headers[h] = /authorization|token|key|secret|cookie/i.test(h) ? gatusSecret(d, `${label}_${h}`, text(v) ?? '', SAMPLE.token) : gatusValue(d, text(v) ?? '', 'x');
    const body = text(ep.body);
    if (body) {
      if (ep.graphql === true) {
        spec.body = { query: gatusValue(d, body, 'x') };
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
      } else spec.body = gatusValue(d, body, 'x');
      if (/\[(ENDPOINT_NAME|ENDPOINT_GROUP|ENDPOINT_URL|LOCAL_ADDRESS|RANDOM_STRING_\d+)\]/.test(body)) d.report(`${label}: body placeholders`, `${keyPath(at)}.body`, 'placeholders in the request body are sent as written');
    }
    if (Object.keys(headers).length > 0) spec.headers = headers;
    const client = isObject(ep.client) ? ep.client : {};
    if (client.insecure === true) spec.insecure = true;
    if (client['ignore-redirect'] === true) spec.follow_redirects = false;
    return { kind: 'http', spec };
  }
  const hostPort = /^[a-z]+:\/\/(\[[^\]]+\]|[^:/]+):(\d+)/i.exec(url);
  if ((scheme === 'tcp' || scheme === 'tls') && hostPort) {
    return { kind: scheme, spec: { host: gatusValue(d, (hostPort[1] as string).replace(/^\[|\]$/g, ''), 'example.invalid'), port: Number(hostPort[2]) } };
  }
  const what: Record<string, string> = {
    icmp: 'no ping (ICMP) check kind; a tcp check on a port the host serves is the nearest',
    udp: 'no UDP check kind',
    sctp: 'no SCTP check kind',
    ssh: 'no SSH check kind; a tcp check on port 22 tests that it accepts connections',
    starttls: 'no STARTTLS check kind; a tls check needs a port that speaks TLS from the start',
    ws: 'no WebSocket check kind',
    wss: 'no WebSocket check kind',
    grpc: 'no gRPC check kind',
    grpcs: 'no gRPC check kind',
  };
  d.report(`${label}: ${scheme ? `${scheme}://` : `url "${url}"`}`, `${keyPath(at)}.url`, (scheme && what[scheme]) ?? 'the url scheme has no check kind (http, https, tcp://host:port, tls://host:port or a dns: block)');
  return undefined;
}

function importEndpoint(src: YamlSource, d: Draft, raw: unknown, at: (string | number)[], defaultService: string, providers: Map<string, Provider>): void {
  if (!isObject(raw)) src.fail(at, 'expected an endpoint (a mapping with name and url)');
  const ep = raw;
  const name = text(ep.name);
  if (!name) src.fail([...at, 'name'], 'an endpoint needs a name');
  if (text(ep.url) === undefined) src.fail([...at, 'url'], 'an endpoint needs a url');
  if (ep.conditions !== undefined && ep.conditions !== null && !Array.isArray(ep.conditions)) src.fail([...at, 'conditions'], 'expected a list of conditions');
  const label = `endpoint "${name}"`;
  const where = (k?: string) => `${at[0]}[${at[1]}]${k ? `.${k}` : ''}`;
  if (ep.enabled === false) {
    d.report(label, where('enabled'), 'disabled in Gatus: not imported');
    return;
  }
  const kind = endpointKind(src, d, ep, at, label);
  if (!kind) return;
  const group = text(ep.group);
  const service = d.service(group ? slug(group, defaultService) : defaultService);

  const intervalText = text(ep.interval);
  let every = DEFAULT_INTERVAL_MS;
  if (intervalText !== undefined) {
    const ms = goDuration(intervalText);
    if (ms === undefined || ms <= 0) src.fail([...at, 'interval'], `expected a duration like 30s or 5m, got "${intervalText}"`);
    every = ms;
  }
  kind.spec.every = duration(every);
  const client = isObject(ep.client) ? ep.client : {};
  const timeoutText = text(client.timeout);
  if (timeoutText !== undefined) {
    const ms = goDuration(timeoutText);
    if (ms === undefined || ms <= 0) src.fail([...at, 'client', 'timeout'], `expected a duration like 10s, got "${timeoutText}"`);
    if (ms > every) d.report(`${label}: client.timeout ${timeoutText}`, where('client.timeout'), `longer than the interval; the check times out after ${duration(every)}`);
    kind.spec.timeout = duration(Math.min(ms, every));
  }
  for (const k of setKeys(client)) {
    if (['timeout', 'insecure', 'ignore-redirect'].includes(k)) continue;
    d.report(`${label}: client.${k}`, where(`client.${k}`), 'no per-check client setting of that kind (outbound rules are under egress:)');
  }
  for (const [k, why] of [
    ['maintenance-windows', 'add a maintenance window under maintenance: for the service'],
    ['ui', 'no per-check display settings'],
    ['extra-labels', 'checks carry no extra metric labels'],
    ['ssh', 'no SSH check kind'],
  ] as const) {
    if (setKeys(ep).includes(k)) d.report(`${label}: ${k}`, where(k), why);
  }

  const conditions = ((ep.conditions ?? []) as unknown[]).map((c) => gatusValue(d, text(c) ?? '', 'x'));
  const check: Json = { [kind.kind]: kind.spec, ...(conditions.length > 0 ? { conditions } : {}) };
  const alerts = importAlerts(src, d, ep, at, providers);
  if (alerts.length > 0) {
    check.down_after = Math.min(100, Math.max(1, Math.min(...alerts.map((a) => a.failures))));
    check.up_after = Math.min(100, Math.max(1, Math.min(...alerts.map((a) => a.successes))));
  }
  const checkName = d.addCheck(service, name, check);
  addAlertRules(d, service, checkName, name, alerts, check.down_after as number | undefined, every);
}

interface AlertDef {
  channel?: string;
  type: string;
  failures: number;
  successes: number;
  description?: string;
  where: string;
}

function importAlerts(src: YamlSource, d: Draft, ep: Json, at: (string | number)[], providers: Map<string, Provider>): AlertDef[] {
  if (ep.alerts === undefined || ep.alerts === null) return [];
  if (!Array.isArray(ep.alerts)) src.fail([...at, 'alerts'], 'expected a list of alerts');
  const out: AlertDef[] = [];
  ep.alerts.forEach((raw, j) => {
    const where = `${at[0]}[${at[1]}].alerts[${j}]`;
    if (!isObject(raw)) src.fail([...at, 'alerts', j], 'expected an alert (a mapping with type)');
    const type = text(raw.type);
    if (!type) src.fail([...at, 'alerts', j, 'type'], 'an alert needs a type');
    const p = providers.get(type);
    const a = { ...(p?.defaultAlert ?? {}), ...raw };
    if (a.enabled === false) {
      d.report(`${type} alert of endpoint "${text(ep.name)}"`, where, 'disabled in Gatus: not imported');
      return;
    }
    const num = (k: string, dflt: number): number => {
      const v = a[k];
      if (v === undefined || v === null) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) src.fail([...at, 'alerts', j, k], `expected a whole number of 1 or more, got ${JSON.stringify(v)}`);
      return v;
    };
    const group = text(ep.group);
    const channel = p?.channel ? ((group !== undefined ? p.overrides.get(group) : undefined) ?? p.channel) : undefined;
    if (!p) d.report(`${type} alert of endpoint "${text(ep.name)}"`, `${where}.type`, `alerting.${type} is not configured, so Gatus ignores this alert too`);
    else if (!channel) d.report(`${type} alert of endpoint "${text(ep.name)}"`, `${where}.type`, p.why ?? 'no such channel');
    else {
      // send_resolved is per channel in Shipshape: on when any alert sent to it asks for it
      const ch = d.channels.get(channel);
      if (ch) ch.send_resolved = ch.send_resolved === true || a['send-on-resolved'] === true;
    }
    if (a['provider-override'] !== undefined) d.report(`${type} alert of endpoint "${text(ep.name)}": provider-override`, `${where}.provider-override`, 'add a channel with those settings and a route for it; this alert goes to the shared channel');
    if (a['minimum-reminder-interval'] !== undefined) d.report(`${type} alert of endpoint "${text(ep.name)}": minimum-reminder-interval`, `${where}.minimum-reminder-interval`, 'reminders follow the route\'s repeat_interval (default 4h)');
    out.push({ channel, type, failures: num('failure-threshold', DEFAULT_FAILURE_THRESHOLD), successes: num('success-threshold', DEFAULT_SUCCESS_THRESHOLD), description: text(a.description), where });
  });
  return out;
}

function addAlertRules(d: Draft, service: string, check: string, endpointName: string, alerts: AlertDef[], downAfter: number | undefined, every: number): void {
  for (const a of alerts) {
    if (!a.channel) continue;
    const extra = downAfter === undefined ? 0 : a.failures - downAfter;
    const when = `down(${service}/${check})${extra > 0 ? ` for ${duration(extra * every)}` : ''}`;
    d.addAlert(`${service}-${check}-${a.channel}`, {
      when,
      severity: 'P2',
      labels: { channel: a.channel },
      summary: literal(a.description ? `${endpointName}: ${a.description}` : `${endpointName} is down`).replace(/\{\{/g, '{ {'),
    });
    d.routeByChannelLabel(a.channel);
  }
}

function importExternal(src: YamlSource, d: Draft, raw: unknown, at: (string | number)[], defaultService: string, providers: Map<string, Provider>): void {
  if (!isObject(raw)) src.fail(at, 'expected an external endpoint (a mapping with name and token)');
  const name = text(raw.name);
  if (!name) src.fail([...at, 'name'], 'an external endpoint needs a name');
  const label = `external endpoint "${name}"`;
  const where = `external-endpoints[${at[1]}]`;
  if (raw.enabled === false) {
    d.report(label, `${where}.enabled`, 'disabled in Gatus: not imported');
    return;
  }
  const hb = isObject(raw.heartbeat) ? raw.heartbeat : {};
  const periodText = text(hb.interval);
  const period = periodText === undefined ? undefined : goDuration(periodText);
  if (!period) {
    d.report(label, where, 'pushed results without a heartbeat interval have no equivalent; a heartbeat check needs the period the job pings within');
    return;
  }
  const group = text(raw.group);
  const service = d.service(group ? slug(group, defaultService) : defaultService);
  // Gatus' key (config/key/key.go): <group>_<name>, lower-case, with separators replaced by "-"
  const part = (t: string) => t.trim().toLowerCase().replace(/[ /_,.#+&]/g, '-').replace(/[^a-z0-9-]/g, '-');
  const key = `${part(group ?? '')}_${part(name)}`.slice(0, 128);
  const alerts = importAlerts(src, d, raw, at, providers);
  const check: Json = { heartbeat: { token: key, period: duration(period) } };
  const checkName = d.addCheck(service, name, check);
  d.report(label, `${where}.token`, `imported as a heartbeat check: the job now pings /ping/${key} instead of pushing to Gatus' external endpoint API (the bearer token is not used)`);
  addAlertRules(d, service, checkName, name, alerts, undefined, period);
}
