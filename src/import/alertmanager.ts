/**
 * `shipshape import alertmanager <alertmanager.yml>`: receivers become notify channels (one per
 * config) and `notify.receivers`, the routing tree, inhibit rules and time intervals are copied as
 * they are, and `global:` settings fold into each channel. Secrets become `${NAME}` references.
 */
import { deepLiteral, Draft, literal, SAMPLE } from './draft.js';
import { isObject, setKeys, text, YamlSource, type Json } from './source.js';

/** Alertmanager's send_resolved defaults per integration (email and Slack: false; the rest: true). */
const RESOLVED_DEFAULT: Record<string, boolean> = { email: false, slack: false };

const ROUTE_KEYS = new Set(['receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'matchers', 'match', 'match_re', 'continue', 'mute_time_intervals', 'active_time_intervals', 'routes']);
const INHIBIT_KEYS = new Set(['source_matchers', 'target_matchers', 'source_match', 'source_match_re', 'target_match', 'target_match_re', 'equal']);

/** Integrations with no Shipshape channel. */
const NO_CHANNEL: Record<string, string> = {
  opsgenie_configs: 'Opsgenie',
  victorops_configs: 'VictorOps (Splunk On-Call)',
  pushover_configs: 'Pushover',
  wechat_configs: 'WeChat',
  sns_configs: 'Amazon SNS',
  webex_configs: 'Webex',
  jira_configs: 'Jira',
  rocketchat_configs: 'Rocket.Chat',
  mattermost_configs: 'Mattermost',
  incidentio_configs: 'incident.io',
};

const GLOBAL_FOLDED = new Set(['smtp_from', 'smtp_smarthost', 'smtp_auth_username', 'smtp_auth_password', 'smtp_require_tls', 'slack_api_url', 'pagerduty_url', 'telegram_api_url', 'telegram_bot_token']);

export function importAlertmanager(file: string, yamlText: string): Draft {
  const src: YamlSource = new YamlSource(file, yamlText);
  const d = new Draft();
  const root = src.data;
  if (!isObject(root)) src.fail([], 'expected an Alertmanager config (a mapping with route: and receivers:)');
  if (root.global !== undefined && root.global !== null && !isObject(root.global)) src.fail(['global'], 'expected a mapping');
  const global = (root.global ?? {}) as Json;
  if (!Array.isArray(root.receivers) || root.receivers.length === 0) src.fail(['receivers'], 'expected a list of receivers (is this an Alertmanager config?)');
  if (!isObject(root.route)) src.fail(['route'], 'expected the root route (a mapping with receiver:)');

  for (const k of setKeys(global)) {
    if (GLOBAL_FOLDED.has(k)) continue;
    const why: Record<string, string> = {
      resolve_timeout: 'alerts pushed to Shipshape without an end time resolve when the sender stops repeating them (see docs)',
      http_config: 'no global HTTP client settings (proxies and TLS for outbound calls are under egress:)',
      smtp_hello: 'the SMTP HELO name is not configurable',
    };
    d.report(`global.${k}`, `global.${k}`, why[k] ?? 'folds into no Shipshape channel');
  }
  for (const k of setKeys(root)) {
    if (['global', 'route', 'receivers', 'inhibit_rules', 'time_intervals', 'mute_time_intervals'].includes(k)) continue;
    const why: Record<string, string> = {
      templates: 'Go notification templates have no equivalent: each channel takes a Mustache template: { title, text }',
      tracing: 'Shipshape exports no traces of its own',
      event_recorder: 'no event recorder; notifications are in the event log and /api/v1/notifications',
    };
    d.report(`${k}:`, k, why[k] ?? 'not an Alertmanager setting Shipshape knows');
  }

  const names = new Set<string>();
  (root.receivers as unknown[]).forEach((r, i) => {
    if (!isObject(r)) src.fail(['receivers', i], 'expected a receiver (a mapping with name)');
    const name = text(r.name);
    if (!name) src.fail(['receivers', i, 'name'], 'a receiver needs a name');
    if (names.has(name)) src.fail(['receivers', i, 'name'], `receiver "${name}" is defined twice`);
    names.add(name);
    d.receivers.set(name, importReceiver(src, d, r, i, name, global));
  });

  d.route = copyRoute(src, d, root.route, ['route'], names);
  if (root.inhibit_rules !== undefined && root.inhibit_rules !== null) {
    if (!Array.isArray(root.inhibit_rules)) src.fail(['inhibit_rules'], 'expected a list of inhibit rules');
    d.inhibitRules = root.inhibit_rules.map((rule, i) => {
      if (!isObject(rule)) src.fail(['inhibit_rules', i], 'expected an inhibit rule (a mapping)');
      const out: Json = {};
      for (const [k, v] of Object.entries(rule)) {
        if (INHIBIT_KEYS.has(k)) out[k] = deepLiteral(v);
        else d.report(`inhibit_rules[${i}].${k}`, `inhibit_rules[${i}].${k}`, 'not an inhibit rule setting; left out');
      }
      return out;
    });
  }
  const intervals: unknown[] = [];
  for (const key of ['mute_time_intervals', 'time_intervals'] as const) {
    const list = root[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) src.fail([key], 'expected a list of named time intervals');
    list.forEach((t, i) => {
      if (!isObject(t) || !text(t.name)) src.fail([key, i], 'expected { name, time_intervals: [...] }');
      intervals.push(deepLiteral(t));
    });
  }
  if (intervals.length > 0) d.timeIntervals = intervals;
  return d;
}

/** The route tree as it is, keys checked, receivers known. */
function copyRoute(src: YamlSource, d: Draft, route: unknown, at: (string | number)[], receivers: Set<string>): Json {
  if (!isObject(route)) src.fail(at, 'expected a route (a mapping)');
  const where = at.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1);
  const out: Json = {};
  for (const [k, v] of Object.entries(route)) {
    if (!ROUTE_KEYS.has(k)) {
      d.report(`${where}.${k}`, `${where}.${k}`, k === 'labels' ? 'route labels (for templates) have no equivalent' : 'not a route setting; left out');
      continue;
    }
    if (k === 'routes') {
      if (v === null) continue;
      if (!Array.isArray(v)) src.fail([...at, 'routes'], 'expected a list of routes');
      out.routes = v.map((child, i) => copyRoute(src, d, child, [...at, 'routes', i], receivers));
      continue;
    }
    if (k === 'receiver') {
      const r = text(v);
      if (!r || !receivers.has(r)) src.fail([...at, 'receiver'], `unknown receiver "${r ?? ''}"; receivers: ${[...receivers].join(', ')}`);
    }
    out[k] = deepLiteral(v);
  }
  if (at.length === 1 && !out.receiver) src.fail(at, 'the root route needs a receiver');
  return out;
}

/** One receiver: a channel per config it has a Shipshape equivalent for. */
function importReceiver(src: YamlSource, d: Draft, r: Json, index: number, name: string, global: Json): string[] {
  const channels: string[] = [];
  const configKeys = Object.keys(r).filter((k) => k.endsWith('_configs'));
  const total = configKeys.reduce((n, k) => n + (Array.isArray(r[k]) ? (r[k] as unknown[]).length : 0), 0);
  for (const key of configKeys) {
    const list = r[key];
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) src.fail(['receivers', index, key], 'expected a list');
    list.forEach((cfg, j) => {
      const at = ['receivers', index, key, j];
      const where = `receivers[${index}].${key}[${j}]`;
      if (!isObject(cfg)) src.fail(at, 'expected a mapping');
      const label = `receiver "${name}": ${key}`;
      if (NO_CHANNEL[key]) {
        d.report(label, where, `no ${NO_CHANNEL[key]} channel; channels: slack, discord, teams, telegram, pagerduty, ntfy, email, webhook`);
        return;
      }
      const kind = KIND_OF[key];
      if (!kind) {
        d.report(label, where, 'unknown integration');
        return;
      }
      const channelName = d.channelName(total === 1 ? name : `${name}-${kind}`);
      const ctx: ConfigCtx = { src, d, cfg, at, where, label, global, channel: channelName };
      const spec = kind === 'email' ? email(ctx) : kind === 'slack' ? slack(ctx) : kind === 'pagerduty' ? pagerduty(ctx) : kind === 'webhook' ? webhook(ctx) : kind === 'discord' ? urlOnly(ctx, 'webhook_url', ['title', 'message', 'content', 'username', 'avatar_url']) : kind === 'teams' ? urlOnly(ctx, 'webhook_url', ['title', 'summary', 'text']) : telegram(ctx);
      if (!spec) return;
      for (const k of setKeys(cfg)) if (k.endsWith('_file')) d.report(`${label}.${k}`, `${where}.${k}`, 'secrets read from files are not supported: set the value with an environment variable in the output');
      if (cfg.http_config !== undefined && kind !== 'webhook') d.report(`${label}.http_config`, `${where}.http_config`, 'no per-channel HTTP client settings (outbound rules are under egress:)');
      const sendResolved = typeof cfg.send_resolved === 'boolean' ? cfg.send_resolved : (RESOLVED_DEFAULT[kind] ?? true);
      d.addChannel(channelName, { [kind]: spec, send_resolved: sendResolved });
      channels.push(channelName);
    });
  }
  for (const k of Object.keys(r)) if (k !== 'name' && !k.endsWith('_configs')) d.report(`receiver "${name}": ${k}`, `receivers[${index}].${k}`, 'not a receiver setting Shipshape knows');
  return channels;
}

const KIND_OF: Record<string, string> = { email_configs: 'email', slack_configs: 'slack', pagerduty_configs: 'pagerduty', webhook_configs: 'webhook', discord_configs: 'discord', msteams_configs: 'teams', msteamsv2_configs: 'teams', telegram_configs: 'telegram' };

interface ConfigCtx {
  src: YamlSource;
  d: Draft;
  cfg: Json;
  at: (string | number)[];
  where: string;
  label: string;
  global: Json;
  channel: string;
}

/** Keys that carry Go templates or display settings with no equivalent: reported when set. */
function templated(c: ConfigCtx, keys: string[]): void {
  for (const k of keys) {
    if (!setKeys(c.cfg).includes(k)) continue;
    const v = text(c.cfg[k]);
    const why = v !== undefined && /\{\{/.test(v) ? 'a Go template: write it as the channel\'s Mustache template: { title, text } instead' : 'no such setting on Shipshape channels (the channel sends the group\'s title, summary and alerts)';
    c.d.report(`${c.label}.${k}`, `${c.where}.${k}`, why);
  }
}

function urlOnly(c: ConfigCtx, key: string, display: string[]): Json | undefined {
  const url = text(c.cfg[key]);
  if (!url) {
    if (!text(c.cfg[`${key}_file`])) c.src.fail([...c.at, key], 'is required');
    c.d.report(c.label, c.where, `${key}_file: the URL is read from a file; set it in the output yourself`);
    return undefined;
  }
  templated(c, display);
  return { url: c.d.secret(`${c.channel}_url`, url, SAMPLE.url) };
}

function slack(c: ConfigCtx): Json | undefined {
  const url = text(c.cfg.api_url) ?? text(c.global.slack_api_url);
  if (!url) {
    if (text(c.cfg.app_token) || text(c.cfg.app_token_file)) c.d.report(c.label, c.where, 'Slack app tokens (chat.postMessage) are not supported: use an incoming webhook URL');
    else c.d.report(c.label, c.where, 'no api_url here or in global.slack_api_url (a URL from a file is not supported): set the webhook URL in the output yourself');
    return undefined;
  }
  templated(c, ['channel', 'username', 'color', 'title', 'title_link', 'pretext', 'text', 'message_text', 'fields', 'footer', 'fallback', 'callback_id', 'icon_emoji', 'icon_url', 'image_url', 'thumb_url', 'mrkdwn_in', 'actions', 'update_message', 'app_url']);
  return { url: c.d.secret(`${c.channel}_url`, url, SAMPLE.url) };
}

function pagerduty(c: ConfigCtx): Json | undefined {
  const routing = text(c.cfg.routing_key);
  const service = text(c.cfg.service_key);
  const key = routing ?? service;
  if (!key) {
    c.d.report(c.label, c.where, 'no routing_key (a key from a file is not supported): set it in the output yourself');
    return undefined;
  }
  if (!routing) c.d.report(`${c.label}.service_key`, `${c.where}.service_key`, 'an Events API v1 service key: Shipshape sends Events API v2, so the channel needs a v2 integration (routing) key; the value was kept as routing_key');
  const spec: Json = { routing_key: c.d.secret(`${c.channel}_routing_key`, key, SAMPLE.token) };
  const url = text(c.cfg.url) ?? text(c.global.pagerduty_url);
  if (url && !/events\.pagerduty\.com\/v2\/enqueue\/?$/.test(url)) spec.url = literal(url);
  templated(c, ['client', 'client_url', 'description', 'details', 'images', 'links', 'source', 'severity', 'class', 'component', 'group']);
  return spec;
}

function webhook(c: ConfigCtx): Json | undefined {
  const url = text(c.cfg.url);
  if (!url) {
    c.d.report(c.label, c.where, 'url_file: the URL is read from a file; set it in the output yourself');
    return undefined;
  }
  const spec: Json = { url: c.d.secret(`${c.channel}_url`, url, SAMPLE.url) };
  const max = c.cfg.max_alerts;
  if (typeof max === 'number' && max > 0) spec.max_alerts = max;
  const http = isObject(c.cfg.http_config) ? c.cfg.http_config : {};
  const headers: Record<string, string> = {};
  const auth = isObject(http.authorization) ? http.authorization : undefined;
  const basic = isObject(http.basic_auth) ? http.basic_auth : undefined;
  if (auth && text(auth.credentials)) headers.Authorization = `${literal(text(auth.type) ?? 'Bearer')} ${c.d.secret(`${c.channel}_credentials`, text(auth.credentials) as string, SAMPLE.token)}`;
  else if (text(http.bearer_token)) headers.Authorization = `Bearer ${c.d.secret(`${c.channel}_bearer_token`, text(http.bearer_token) as string, SAMPLE.token)}`;
  else if (basic && text(basic.username)) {
    const pair = Buffer.from(`${text(basic.username)}:${text(basic.password) ?? ''}`).toString('base64');
    headers.Authorization = `Basic ${c.d.secret(`${c.channel}_basic_auth`, pair, SAMPLE.token)}`;
  }
  if (Object.keys(headers).length > 0) spec.headers = headers;
  for (const k of setKeys(http)) {
    if (k === 'authorization' && auth && text(auth.credentials)) continue;
    if (k === 'bearer_token' || (k === 'basic_auth' && basic && text(basic.username))) continue;
    c.d.report(`${c.label}.http_config.${k}`, `${c.where}.http_config.${k}`, 'no per-channel HTTP client settings (outbound rules are under egress:)');
  }
  templated(c, ['timeout', 'payload']);
  return spec;
}

function telegram(c: ConfigCtx): Json | undefined {
  const token = text(c.cfg.bot_token) ?? text(c.global.telegram_bot_token);
  const chat = c.cfg.chat_id;
  if (!token || (typeof chat !== 'number' && typeof chat !== 'string')) {
    c.d.report(c.label, c.where, 'needs bot_token and chat_id (values from files are not supported): set them in the output yourself');
    return undefined;
  }
  const spec: Json = { bot_token: c.d.secret(`${c.channel}_bot_token`, token, SAMPLE.token), chat_id: chat };
  const api = text(c.cfg.api_url) ?? text(c.global.telegram_api_url);
  if (api && !/^https:\/\/api\.telegram\.org\/?$/.test(api)) spec.api_url = literal(api);
  templated(c, ['message', 'parse_mode', 'message_thread_id', 'disable_notifications']);
  return spec;
}

function email(c: ConfigCtx): Json | undefined {
  const toText = text(c.cfg.to);
  if (!toText) c.src.fail([...c.at, 'to'], 'an email config needs to:');
  if (/\{\{/.test(toText)) {
    c.d.report(`${c.label}.to`, `${c.where}.to`, 'a templated recipient has no equivalent: set the addresses in the output yourself');
    return undefined;
  }
  const to = toText
    .split(',')
    .map((s) => s.trim().replace(/^.*<([^>]+)>$/, '$1'))
    .filter(Boolean);
  const smarthost = text(c.cfg.smarthost) ?? text(c.global.smtp_smarthost);
  if (!smarthost) {
    c.d.report(c.label, c.where, 'no smarthost here or in global.smtp_smarthost: set smtp: in the output yourself');
    return undefined;
  }
  const from = text(c.cfg.from) ?? text(c.global.smtp_from);
  const user = text(c.cfg.auth_username) ?? text(c.global.smtp_auth_username);
  const password = text(c.cfg.auth_password) ?? text(c.global.smtp_auth_password);
  const port = /:(\d+)$/.exec(smarthost)?.[1];
  const scheme = port === '465' ? 'smtps' : 'smtp';
  const smtp = user && password ? c.d.secret(`${c.channel}_smtp_url`, `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${smarthost}`, SAMPLE.smtp) : literal(`${scheme}://${user ? `${encodeURIComponent(user)}@` : ''}${smarthost}`);
  if (user && !password && !text(c.cfg.auth_password_file) && !text(c.global.smtp_auth_password_file)) c.d.report(`${c.label}.auth_username`, `${c.where}.auth_username`, 'a username without a password: imported without authentication');
  for (const k of ['auth_secret', 'auth_identity']) if (text(c.cfg[k]) || text(c.global[`smtp_${k}`])) c.d.report(`${c.label}.${k}`, `${c.where}.${k}`, 'only PLAIN/LOGIN authentication with a username and password is supported');
  const requireTls = typeof c.cfg.require_tls === 'boolean' ? c.cfg.require_tls : c.global.smtp_require_tls;
  if (requireTls === false) c.d.report(`${c.label}.require_tls: false`, `${c.where}.require_tls`, 'Shipshape uses STARTTLS when the server offers it');
  templated(c, ['hello', 'headers', 'html', 'text', 'tls_config', 'force_implicit_tls', 'threading']);
  const spec: Json = { to, smtp };
  if (from) spec.from = literal(from);
  return spec;
}
