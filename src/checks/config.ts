/**
 * The checks module's part of shipshape.yaml: `defaults:`, `history:` and `checks:` in every
 * service, and the compiled check definitions the monitor runs.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { name, NAME_RE } from '../core/config/schema.js';
import { templateError } from '../core/config/template.js';
import type { Config } from '../core/config/load.js';
import type { CoreConfig } from '../core/config/schema.js';
import type { ConfigFinding } from '../core/module.js';
import { formatDuration } from '../core/config/units.js';
import { duration } from '../core/config/zod-units.js';
import { compileCondition, ConditionSyntaxError, type CompiledCondition } from './conditions.js';
import { kindByName, kinds } from './kinds/index.js';

/** Fields every kind block accepts next to its own. */
const common = {
  every: duration().optional().meta({ description: 'interval between runs (default: defaults.every, 30s)' }),
  timeout: duration().optional().meta({ description: 'per-run timeout (default: defaults.timeout, 10s)' }),
};

const kindShape: Record<string, z.ZodType> = {};
for (const kind of kinds) {
  const spec = kind.spec as unknown as z.ZodObject;
  kindShape[kind.name] = spec.extend(common).strict().optional().meta({ description: `a ${kind.name} check` });
}

export const KIND_NAMES = kinds.map((k) => k.name);

const checkSchema = z
  .object({
    name: name('check').optional().meta({ description: 'unique within the service; defaults to the kind (tcp, tcp-2…)' }),
    conditions: z
      .array(z.string())
      .default([])
      .meta({ description: 'e.g. "status == 200", "latency < 500ms", \'body.status == "healthy"\', "cert.days > 14"' }),
    down_after: z.number().int().min(1).max(100).optional().meta({ description: 'consecutive failures before the check is down (default 2)' }),
    up_after: z.number().int().min(1).max(100).optional().meta({ description: 'consecutive successes before it is up again (default 1)' }),
    ...kindShape,
  })
  .strict()
  .superRefine((check, ctx) => {
    const present = KIND_NAMES.filter((k) => (check as Record<string, unknown>)[k] !== undefined);
    if (present.length === 0) {
      ctx.addIssue({ code: 'custom', message: `a check needs exactly one kind: ${KIND_NAMES.join(', ')}` });
    } else if (present.length > 1) {
      ctx.addIssue({ code: 'custom', message: `a check has exactly one kind, found ${present.join(' and ')}`, path: [present[1] as string] });
    }
    check.conditions.forEach((text, i) => {
      try {
        compileCondition(text);
      } catch (e) {
        if (e instanceof ConditionSyntaxError) {
          ctx.addIssue({ code: 'custom', message: `column ${e.column}: ${e.message}`, path: ['conditions', i] });
        } else throw e;
      }
    });
  });

/** What a check pasted from a Gatus `endpoints:` list keeps of Gatus' own keys. */
export interface GatusMeta {
  /** `enabled: false`: the check is not run */
  enabled: boolean;
  /** Gatus' `name` as written (the check name is it, or a slug of it) */
  name: string;
  group?: string;
  /** Shipshape conditions that stand for what Gatus checks without a condition (a tls:// certificate is verified) */
  implied: string[];
  /** the enabled `alerts:` entries */
  alerts: { type: string; index: number; sendOnResolved: boolean; description?: string; failureThreshold: number; successThreshold: number }[];
}

export type RawCheck = z.output<typeof checkSchema> & { gatus?: GatusMeta };

// ---------------------------------------------------------------------------------------------
// Gatus `endpoints:` entries, accepted as checks

const gatusAlertSchema = z
  .object({
    type: z.string().min(1).meta({ description: 'the alerting provider (slack, discord, pagerduty…): the derived alert rule is labelled channel=<type>' }),
    enabled: z.boolean().default(true),
    'failure-threshold': z.number().int().default(3).meta({ description: 'failures in a row before the alert (Gatus default 3): the check\'s down_after' }),
    'success-threshold': z.number().int().default(2).meta({ description: 'successes in a row before it resolves (Gatus default 2): the check\'s up_after' }),
    'send-on-resolved': z.boolean().default(false),
    description: z.string().max(1000).optional().meta({ description: 'the summary of the derived alert rule' }),
    'minimum-reminder-interval': duration().optional().meta({ description: 'accepted; Shipshape repeats notifications by its notify routes' }),
  })
  .strict();

const gatusEndpointSchema = z
  .object({
    enabled: z.boolean().default(true).meta({ description: 'false: the check is not run' }),
    name: z.string().min(1).max(200).meta({ description: 'the check name (a name that is not letters, digits, "_", "-", "." becomes a slug: "My API" → my-api)' }),
    group: z.string().optional().meta({ description: 'informative; the service groups its checks' }),
    url: z.string().min(1).meta({ description: 'http(s)://…, tcp://host:port, tls://host:port, or the DNS server with dns:' }),
    method: z.string().min(1).default('GET'),
    body: z.string().optional(),
    graphql: z.boolean().default(false).meta({ description: 'send the body as {"query": body}' }),
    headers: z.record(z.string(), z.string()).optional(),
    interval: duration().default(60_000).meta({ description: 'between runs (Gatus default 60s)' }),
    conditions: z.array(z.string()).default([]).meta({ description: 'Gatus conditions, judged as Gatus judges them: "[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 500"' }),
    client: z
      .object({
        insecure: z.boolean().default(false),
        'ignore-redirect': z.boolean().default(false),
        timeout: duration().optional().meta({ description: 'default 10s' }),
      })
      .strict()
      .optional(),
    dns: z.object({ 'query-type': z.string().min(1), 'query-name': z.string().min(1) }).strict().optional(),
    ui: z
      .object({
        'hide-conditions': z.boolean().optional(),
        'hide-hostname': z.boolean().optional(),
        'hide-url': z.boolean().optional(),
        'hide-port': z.boolean().optional(),
        'hide-errors': z.boolean().optional(),
        'dont-resolve-failed-conditions': z.boolean().optional(),
        'resolve-successful-conditions': z.boolean().optional(),
        badge: z.unknown().optional(),
      })
      .strict()
      .optional()
      .meta({ description: 'accepted and ignored' }),
    'extra-labels': z.record(z.string(), z.string()).optional().meta({ description: 'accepted and ignored' }),
    alerts: z.array(gatusAlertSchema).default([]),
    'rdap-url': z.string().optional().meta({ description: 'Shipshape: the RDAP service for [DOMAIN_EXPIRATION] (default https://rdap.org)' }),
  })
  .strict();

type GatusEndpoint = z.output<typeof gatusEndpointSchema>;

const UNSUPPORTED_SCHEMES: Record<string, string> = {
  'icmp:': 'icmp:// (ping) endpoints are not supported: use a tcp:// endpoint on a port the host serves',
  'ssh:': 'ssh:// endpoints are not supported: use tcp://host:22, or a command check',
  'ws:': 'ws:// (WebSocket) endpoints are not supported: use an http check of the same host',
  'wss:': 'wss:// (WebSocket) endpoints are not supported: use an http check of the same host',
  'udp:': 'udp:// endpoints are not supported',
  'sctp:': 'sctp:// endpoints are not supported',
  'grpc:': 'grpc:// endpoints are not supported: use an http check of the service\'s health endpoint',
  'grpcs:': 'grpcs:// endpoints are not supported: use an http check of the service\'s health endpoint',
  'starttls:': 'starttls:// endpoints are not supported (the tls kind speaks TLS from the first byte): use tls://host:port for a port that does',
};

const DNS_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV'];

/** A check name from Gatus' free-form endpoint name. */
export function gatusCheckName(text: string): string {
  if (NAME_RE.test(text)) return text;
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 63);
}

function hostAndPort(url: URL): { host: string; port?: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), ...(url.port ? { port: Number(url.port) } : {}) };
}

type Issue = { message: string; path: (string | number)[] };

/** A Gatus endpoint as a Shipshape check (kind block, conditions, thresholds), or what is wrong with it. */
function fromGatus(e: GatusEndpoint): { check: RawCheck } | { issues: Issue[] } {
  const issues: Issue[] = [];
  const checkName = gatusCheckName(e.name);
  if (checkName === '') issues.push({ path: ['name'], message: `"${e.name}" gives no usable check name: use letters or digits` });
  if (e.conditions.length === 0) issues.push({ path: ['conditions'], message: 'a Gatus endpoint needs at least one condition (Gatus refuses an endpoint without one), e.g. "[STATUS] == 200"' });
  e.conditions.forEach((text, i) => {
    try {
      compileCondition(text, { gatus: true });
    } catch (err) {
      if (err instanceof ConditionSyntaxError) issues.push({ path: ['conditions', i], message: `column ${err.column}: ${err.message}` });
      else throw err;
    }
  });
  const readsDomain = e.conditions.some((c) => /\[DOMAIN_EXPIRATION\]/i.test(c));
  if (readsDomain && e.interval < 300_000) issues.push({ path: ['interval'], message: 'an endpoint whose conditions read [DOMAIN_EXPIRATION] runs at most every 5m (as in Gatus): set interval: 5m or more' });
  e.alerts.forEach((a, i) => {
    const err = a.description === undefined ? undefined : templateError(a.description);
    if (err) issues.push({ path: ['alerts', i, 'description'], message: `invalid template: ${err}` });
  });
  const client = e.client ?? { insecure: false, 'ignore-redirect': false };
  const common = { every: e.interval, ...(client.timeout !== undefined ? { timeout: Math.min(client.timeout, e.interval) } : {}) };
  let kind: string;
  let block: Record<string, unknown>;
  /** where each key of the kind block comes from in the Gatus entry */
  let from: Record<string, (string | number)[]>;
  const implied: string[] = [];
  if (e.dns) {
    kind = 'dns';
    const type = e.dns['query-type'].toUpperCase();
    if (!DNS_TYPES.includes(type)) issues.push({ path: ['dns', 'query-type'], message: `query type "${e.dns['query-type']}" is not supported: use one of ${DNS_TYPES.join(', ')}` });
    block = { name: e.dns['query-name'].replace(/\.$/, ''), type, server: e.url.replace(/^dns:\/\//i, ''), ...common };
    from = { name: ['dns', 'query-name'], type: ['dns', 'query-type'], server: ['url'], every: ['interval'], timeout: ['client', 'timeout'] };
    if (e.body !== undefined) issues.push({ path: ['body'], message: 'a DNS endpoint sends no body' });
  } else {
    const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(e.url)?.[1]?.toLowerCase();
    let url: URL | undefined;
    try {
      url = new URL(e.url);
    } catch {
      url = undefined;
    }
    if (scheme === 'http:' || scheme === 'https:') {
      kind = 'http';
      const body = e.body === undefined ? undefined : e.body.replace(/\[ENDPOINT_NAME\]/g, e.name).replace(/\[ENDPOINT_GROUP\]/g, e.group ?? '').replace(/\[ENDPOINT_URL\]/g, e.url);
      block = {
        url: e.url,
        method: e.method.toUpperCase(),
        ...(e.headers ? { headers: e.headers } : {}),
        ...(body !== undefined ? { body: e.graphql ? { query: body } : body } : {}),
        follow_redirects: !client['ignore-redirect'],
        insecure: client.insecure,
        ...(e['rdap-url'] ? { rdap_url: e['rdap-url'] } : {}),
        ...common,
      };
      from = { url: ['url'], method: ['method'], headers: ['headers'], body: ['body'], follow_redirects: ['client', 'ignore-redirect'], insecure: ['client', 'insecure'], rdap_url: ['rdap-url'], every: ['interval'], timeout: ['client', 'timeout'] };
    } else if ((scheme === 'tcp:' || scheme === 'tls:') && url) {
      kind = scheme === 'tcp:' ? 'tcp' : 'tls';
      const hp = hostAndPort(url);
      if (hp.port === undefined) issues.push({ path: ['url'], message: `expected ${scheme}//host:port (the port is missing)` });
      if (e.body !== undefined) issues.push({ path: ['body'], message: `sending a body over ${scheme}// is not supported` });
      block = { host: hp.host, port: hp.port ?? 443, ...common };
      if (kind === 'tls' && !client.insecure) implied.push('cert.authorized == true', 'hostname_match == true');
      if (kind === 'tls') block.allow_self_signed = client.insecure;
      from = { host: ['url'], port: ['url'], every: ['interval'], timeout: ['client', 'timeout'], allow_self_signed: ['client', 'insecure'] };
    } else {
      const why = scheme ? UNSUPPORTED_SCHEMES[scheme] : undefined;
      issues.push({ path: ['url'], message: why ?? `"${e.url}" is not a URL Shipshape can check (Gatus: unknown endpoint type): use http(s)://, tcp://host:port, tls://host:port, or a dns: block with the DNS server as url` });
      return { issues };
    }
  }
  const kindDef = kindByName(kind);
  if (!kindDef) return { issues: [...issues, { path: ['url'], message: `the ${kind} check kind is not available` }] };
  // every/timeout are already in milliseconds: the kind's own keys are checked here
  const { every: _every, timeout: _timeout, ...own } = block;
  void _every;
  void _timeout;
  const parsed = (kindDef.spec as unknown as z.ZodObject).strict().safeParse(own);
  if (!parsed.success) {
    for (const i of parsed.error.issues) issues.push({ path: [...(from[String(i.path[0])] ?? ['url']), ...i.path.slice(1).map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message });
  }
  if (issues.length > 0 || !parsed.success) return { issues };
  const enabledAlerts = e.alerts.map((a, index) => ({ a, index })).filter(({ a }) => a.enabled);
  const first = enabledAlerts[0]?.a;
  const clamp = (n: number, dflt: number) => Math.min(100, n <= 0 ? dflt : n);
  const check = {
    name: checkName,
    conditions: e.conditions,
    ...(first ? { down_after: clamp(first['failure-threshold'], 3), up_after: clamp(first['success-threshold'], 2) } : {}),
    [kind]: { ...parsed.data, ...common },
    gatus: {
      enabled: e.enabled,
      implied,
      name: e.name,
      ...(e.group !== undefined ? { group: e.group } : {}),
      alerts: enabledAlerts.map(({ a, index }) => ({
        type: a.type,
        index,
        sendOnResolved: a['send-on-resolved'],
        failureThreshold: a['failure-threshold'],
        successThreshold: a['success-threshold'],
        ...(a.description !== undefined ? { description: a.description } : {}),
      })),
    },
  } as unknown as RawCheck;
  return { check };
}

/** A Gatus endpoint has a top-level `url` (a Shipshape check keeps its URL inside its kind block). */
const isGatusEntry = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && 'url' in v;

const jsonSchemaOptions = { io: 'input', unrepresentable: 'any' } as const;
const withoutDialect = (json: Record<string, unknown>): Record<string, unknown> => {
  const { $schema: _drop, ...rest } = json;
  void _drop;
  return rest;
};

/** One entry of `checks:`: a Shipshape check, or a Gatus `endpoints:` entry pasted as it is. */
const checkEntrySchema = z
  .unknown()
  .transform((value, ctx): RawCheck => {
    if (!isGatusEntry(value)) {
      const r = checkSchema.safeParse(value);
      if (r.success) return r.data;
      for (const issue of r.error.issues) ctx.addIssue(issue as never);
      return z.NEVER;
    }
    const r = gatusEndpointSchema.safeParse(value);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue(issue as never);
      return z.NEVER;
    }
    const out = fromGatus(r.data);
    if ('issues' in out) {
      for (const i of out.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
      return z.NEVER;
    }
    return out.check;
  })
  .meta({
    description: 'a check (name, conditions, down_after, up_after and one kind), or a Gatus endpoints: entry (name, url, conditions, interval, client, dns, alerts…)',
    anyOf: [withoutDialect(z.toJSONSchema(checkSchema, jsonSchemaOptions) as Record<string, unknown>), withoutDialect(z.toJSONSchema(gatusEndpointSchema, jsonSchemaOptions) as Record<string, unknown>)],
  });

/** The alert rules a Gatus endpoint's `alerts:` stand for: `down(<service>/<check>)`, labelled channel=<type>. */
export interface DerivedAlertRule {
  name: string;
  when: string;
  severity: 'P2';
  labels: Record<string, string>;
  summary?: string;
  keep_firing_for: number;
  /** where it comes from: services.<s>.checks[<i>].alerts[<j>] */
  path: (string | number)[];
}

/** The alert rules derived from Gatus endpoints' `alerts:` (enabled endpoints and alerts only). */
export function gatusAlertRules(raw: { services: Record<string, { checks?: RawCheck[] }> }): DerivedAlertRule[] {
  const out: DerivedAlertRule[] = [];
  const used = new Set<string>();
  for (const [serviceName, svc] of Object.entries(raw.services ?? {})) {
    const checks = svc.checks ?? [];
    const names = checkNames({ checks });
    checks.forEach((c, i) => {
      if (!c.gatus?.enabled) return;
      for (const a of c.gatus.alerts) {
        const base = `${serviceName}-${names[i]}-${a.type}`.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60);
        let ruleName = base;
        for (let n = 2; used.has(ruleName); n++) ruleName = `${base}-${n}`;
        used.add(ruleName);
        out.push({
          name: ruleName,
          when: `down(${serviceName}/${names[i]})`,
          severity: 'P2',
          labels: { channel: a.type, send_on_resolved: String(a.sendOnResolved) },
          ...(a.description ? { summary: a.description } : {}),
          keep_firing_for: 0,
          path: ['services', serviceName, 'checks', i, 'alerts', a.index],
        });
      }
    });
  }
  return out;
}

const defaultsSchema = z
  .object({
    every: duration().default(30_000),
    timeout: duration().default(10_000),
    down_after: z.number().int().min(1).max(100).default(2),
    up_after: z.number().int().min(1).max(100).default(1),
    concurrency: z.number().int().min(1).max(10_000).default(200).meta({ description: 'checks running at once at most' }),
    allow_fast_checks: z
      .boolean()
      .default(false)
      .meta({ description: 'true: checks may run more often than once a second without a warning (never more often than every 100ms)' }),
  })
  .strict()
  .default({ every: 30_000, timeout: 10_000, down_after: 2, up_after: 1, concurrency: 200, allow_fast_checks: false });

/** No check runs more often than this, flag or not: `every: 0s` or `1ms` would make a check loop. */
export const MIN_EVERY = 100;
/** Below this a check warns unless `defaults.allow_fast_checks: true`. */
export const FAST_EVERY = 1000;

const historySchema = z
  .object({
    failures_per_check: z.number().int().min(1).max(10_000).default(100).meta({ description: 'failed results kept with details, per check' }),
    minute: duration().default(48 * 3_600_000).meta({ description: 'keep per-minute aggregates this long (48h)' }),
    hour: duration().default(90 * 86_400_000).meta({ description: 'keep per-hour aggregates this long (90d)' }),
    day: duration().default(400 * 86_400_000).meta({ description: 'keep per-day aggregates this long (400d)' }),
  })
  .strict()
  .default({ failures_per_check: 100, minute: 48 * 3_600_000, hour: 90 * 86_400_000, day: 400 * 86_400_000 });

export const checksConfig = {
  sections: { defaults: defaultsSchema, history: historySchema },
  service: { checks: z.array(checkEntrySchema).default([]) },
};

/** The part of the config the checks module reads. */
export type ChecksRaw = CoreConfig & {
  defaults: z.output<typeof defaultsSchema>;
  history: z.output<typeof historySchema>;
  services: Record<string, { description?: string; checks: RawCheck[] }>;
};

export interface CheckDef {
  /** `service/name` */
  id: string;
  service: string;
  name: string;
  kind: string;
  /** the kind's block with every/timeout resolved (ms) */
  spec: Record<string, unknown> & { every: number; timeout: number };
  every: number;
  timeout: number;
  /** user conditions first, then those implied by the spec */
  conditions: CompiledCondition[];
  downAfter: number;
  upAfter: number;
  target: string;
  /** the first path segment of every value the conditions read (`body`, `status`, `cert`…) */
  uses: ReadonlySet<string>;
  /** the config file it comes from (absolute) */
  configFile: string;
}

export interface ServiceDef {
  name: string;
  description?: string;
  checks: CheckDef[];
}

export interface CheckDefs {
  services: ServiceDef[];
  checks: Map<string, CheckDef>;
}

/** Unnamed checks are named after their kind (tcp, tcp-2…); a name may be used once per service. */
function checkNames(svc: { checks: RawCheck[] }): string[] {
  const used = new Map<string, number>();
  return svc.checks.map((c) => {
    if (c.name) return c.name;
    const kindName = KIND_NAMES.find((k) => (c as Record<string, unknown>)[k] !== undefined) as string;
    const n = (used.get(kindName) ?? 0) + 1;
    used.set(kindName, n);
    return n === 1 ? kindName : `${kindName}-${n}`;
  });
}

/** The interval floor and timeout < interval, for `defaults` and for every check block. */
function validateTiming(raw: ChecksRaw, findings: ConfigFinding[]): void {
  const fast = raw.defaults.allow_fast_checks;
  const ms = (n: number) => formatDuration(n);
  const every = (value: number, path: (string | number)[]) => {
    if (value < MIN_EVERY) findings.push({ path, message: `must be at least ${ms(MIN_EVERY)} (got ${ms(value)}): a shorter interval makes the check run in a loop` });
    else if (value < FAST_EVERY && !fast) findings.push({ path, warning: true, message: `runs more often than once a second (${ms(value)}); set defaults.allow_fast_checks: true if that is intended` });
  };
  const timeout = (value: number, path: (string | number)[]) => {
    if (value <= 0) findings.push({ path, message: 'must be longer than 0s' });
  };
  every(raw.defaults.every, ['defaults', 'every']);
  timeout(raw.defaults.timeout, ['defaults', 'timeout']);
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    svc.checks.forEach((c, i) => {
      const kindName = KIND_NAMES.find((k) => (c as Record<string, unknown>)[k] !== undefined);
      if (!kindName) return;
      const block = (c as Record<string, unknown>)[kindName] as { every?: number; timeout?: number };
      const at = ['services', serviceName, 'checks', i, kindName];
      // a Gatus endpoint says interval and client.timeout
      const everyPath = c.gatus ? ['services', serviceName, 'checks', i, 'interval'] : [...at, 'every'];
      const timeoutPath = c.gatus ? ['services', serviceName, 'checks', i, 'client', 'timeout'] : [...at, 'timeout'];
      if (block.every !== undefined) every(block.every, everyPath);
      if (block.timeout !== undefined) {
        timeout(block.timeout, timeoutPath);
        const interval = block.every ?? kindByName(kindName)?.defaultEvery ?? raw.defaults.every;
        if (block.timeout > interval) findings.push({ path: timeoutPath, message: `${ms(block.timeout)} is longer than the interval (every ${ms(interval)}): make the timeout at most the interval` });
      }
    });
  }
}

export function validateChecks(raw: ChecksRaw): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  validateTiming(raw, findings);
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    const seen = new Set<string>();
    checkNames(svc).forEach((n, i) => {
      if (seen.has(n)) findings.push({ path: ['services', serviceName, 'checks', i, svc.checks[i]?.name ? 'name' : KIND_NAMES.find((k) => (svc.checks[i] as Record<string, unknown>)[k] !== undefined) ?? 'name'], message: `duplicate check name "${n}" in this service` });
      seen.add(n);
    });
  }
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    svc.checks.forEach((c, i) => {
      // one check goes down after one number of failures: the first enabled alert's
      const [first, ...others] = c.gatus?.alerts ?? [];
      const other = others.find((a) => first && (a.failureThreshold !== first.failureThreshold || a.successThreshold !== first.successThreshold));
      if (first && other) {
        findings.push({
          path: ['services', serviceName, 'checks', i, 'alerts', other.index],
          warning: true,
          message: `its thresholds differ from the first alert's (${first.type}): the check goes down after ${first.failureThreshold} failures and up after ${first.successThreshold} successes for every alert`,
        });
      }
    });
  }
  // a derived rule must not take the name of a rule of alerts:
  const own = new Set(((raw as { alerts?: { name?: unknown }[] }).alerts ?? []).map((a) => a.name));
  for (const r of gatusAlertRules(raw)) {
    if (own.has(r.name)) findings.push({ path: [...r.path, 'type'], message: `this alert becomes the alert rule "${r.name}", which alerts: already defines; rename one of them` });
  }
  return findings;
}

const compiled = new WeakMap<object, CheckDefs>();

/** The check definitions of a validated config (computed once per config). */
export function checkDefs(config: Config<ChecksRaw>): CheckDefs {
  const known = compiled.get(config.raw);
  if (known) return known;
  const raw = config.raw;
  const services: ServiceDef[] = [];
  const checks = new Map<string, CheckDef>();
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    const defs: CheckDef[] = [];
    const names = checkNames(svc);
    svc.checks.forEach((c, i) => {
      const rec = c as Record<string, unknown>;
      if (c.gatus && !c.gatus.enabled) return;
      const kindName = KIND_NAMES.find((k) => rec[k] !== undefined) as string;
      const kind = kindByName(kindName);
      if (!kind) return;
      const block = rec[kindName] as Record<string, unknown>;
      const checkName = names[i] as string;
      const id = `${serviceName}/${checkName}`;
      const every = (block.every as number | undefined) ?? kind.defaultEvery ?? raw.defaults.every;
      const timeout = Math.min((block.timeout as number | undefined) ?? raw.defaults.timeout, every);
      const spec = { ...block, every, timeout };
      // a Gatus endpoint judges its own conditions only (as in Gatus), Gatus' way
      const implied = c.gatus ? c.gatus.implied : kind.impliedConditions(spec as never, c.conditions);
      const conditions = [...c.conditions.map((t) => compileCondition(t, { gatus: c.gatus !== undefined })), ...implied.map((t) => compileCondition(t))];
      const def: CheckDef = {
        id,
        service: serviceName,
        name: checkName,
        kind: kindName,
        spec,
        every,
        timeout,
        conditions,
        uses: new Set(conditions.flatMap((cond) => cond.roots)),
        configFile: resolve(config.file),
        downAfter: c.down_after ?? raw.defaults.down_after,
        upAfter: c.up_after ?? raw.defaults.up_after,
        target: kind.describe(spec as never),
      };
      defs.push(def);
      checks.set(id, def);
    });
    services.push({ name: serviceName, description: svc.description, checks: defs });
  }
  const out = { services, checks };
  compiled.set(config.raw, out);
  return out;
}

/** What an unknown key inside a check may have been meant as. */
export function unknownKeyHint(path: readonly PropertyKey[]): string | undefined {
  if (path.length >= 3 && path[0] === 'services' && path[2] === 'checks' && path.length === 4) {
    return `a check has name, conditions, down_after, up_after and one kind (${KIND_NAMES.join(', ')}); a Gatus endpoint has name, url, conditions, interval, method, body, headers, client, dns, alerts, enabled, group, ui`;
  }
  return undefined;
}
