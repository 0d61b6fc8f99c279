/**
 * The shipshape.yaml an importer builds up: services and their checks, notify channels, receivers
 * and the routing tree, alert rules and status pages, plus the report of what had no equivalent
 * and the environment variables that hold the secrets taken out of the config.
 */
import { parseDuration } from '../core/config/units.js';

/** Something in the source that was not imported, or not exactly. */
export interface Unsupported {
  /** what it is: `endpoint "nas": icmp://`, `receiver "ops": opsgenie_configs`… */
  what: string;
  /** where in the source: a key path (`endpoints[3].url`) or a table row (`monitor #4`) */
  where: string;
  /** why it had no equivalent, and what to do instead when there is something */
  why: string;
}

/** A variable the output refers to as `${NAME}`. */
export interface EnvVar {
  name: string;
  /** the secret taken from the source (undefined for a variable the source already referred to) */
  value?: string;
  /** a harmless value of the same shape, used only to validate the output */
  sample: string;
}

/** Bad input: the file cannot be read or is not the format it should be. Exit code 2. */
export class ImportInputError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly line?: number,
    readonly key?: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${detail}`);
    this.name = 'ImportInputError';
  }
}

export const SAMPLE = {
  url: 'https://example.invalid/imported',
  token: 'imported-secret-value',
  smtp: 'smtp://example.invalid:25',
  postgres: 'postgres://user:pass@example.invalid:5432/db',
  redis: 'redis://example.invalid:6379',
} as const;

/** A Shipshape name (service, check, channel): letters, digits, "_", "-", "." up to 63, from any text. */
export function slug(text: string, fallback = 'imported'): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[-.]+$/, '')
    .slice(0, 63)
    .replace(/[-.]+$/, '');
  return s || fallback;
}

/** `name`, or `name-2`, `name-3`… whichever is not taken yet (kept within 63 characters). */
export function unique(base: string, taken: (n: string) => boolean): string {
  if (!taken(base)) return base;
  for (let i = 2; ; i++) {
    const suffix = `-${i}`;
    const n = `${base.slice(0, 63 - suffix.length).replace(/[-.]+$/, '')}${suffix}`;
    if (!taken(n)) return n;
  }
}

/** A literal string from the source: `$` is doubled so the config loader does not read it as a variable. */
export function literal(s: string): string {
  return s.replace(/\$/g, '$$$$');
}

/** `literal` over every string in a value (route trees, inhibit rules). */
export function deepLiteral<T>(v: T): T {
  if (typeof v === 'string') return literal(v) as T;
  if (Array.isArray(v)) return v.map(deepLiteral) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepLiteral(x)])) as T;
  return v;
}

/** Milliseconds as a Shipshape duration with no loss: 90000 -> "1m30s", 1500 -> "1500ms". */
export function duration(ms: number): string {
  if (ms % 1000 !== 0) return `${Math.round(ms)}ms`;
  let s = ms / 1000;
  if (s === 0) return '0s';
  let out = '';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      out += `${Math.floor(s / size)}${unit}`;
      s %= size;
    }
  }
  return out;
}

/** A Go duration (`5m`, `1h45m30s`, `300ms`, `1.5h`) in milliseconds, or undefined. */
export function goDuration(text: string): number | undefined {
  const t = text.trim().replace(/\u00b5s|us/g, 'US').replace(/ns/g, 'NS');
  if (/US|NS/.test(t)) return undefined;
  return parseDuration(t);
}

type Json = Record<string, unknown>;

interface ServiceDraft {
  description?: string;
  checks: Json[];
}

export class Draft {
  readonly services = new Map<string, ServiceDraft>();
  readonly channels = new Map<string, Json>();
  readonly receivers = new Map<string, string[]>();
  route?: Json;
  inhibitRules?: unknown[];
  timeIntervals?: unknown[];
  readonly alerts: Json[] = [];
  readonly statusPages = new Map<string, Json>();
  readonly unsupported: Unsupported[] = [];
  readonly env = new Map<string, EnvVar>();
  /** routes to one receiver per channel, by alert label `channel` (Gatus and Uptime Kuma) */
  private readonly channelRoutes: string[] = [];

  report(what: string, where: string, why: string): void {
    this.unsupported.push({ what, where, why });
  }

  /**
   * Take a secret out of the config: it becomes `${NAME}` and its value goes to the env file. The
   * same value under the same base name is one variable.
   */
  secret(base: string, value: string, sample: string): string {
    const stem = envName(base);
    for (const v of this.env.values()) if (v.value === value && (v.name === stem || v.name.startsWith(`${stem}_`))) return `\${${v.name}}`;
    let name = stem;
    for (let i = 2; this.env.has(name); i++) name = `${stem}_${i}`;
    this.env.set(name, { name, value, sample });
    return `\${${name}}`;
  }

  /** A variable the source itself refers to; it is listed, its value is not known. */
  passthrough(name: string, sample: string): void {
    if (!this.env.has(name)) this.env.set(name, { name, sample });
  }

  service(name: string, description?: string): string {
    const existing = this.services.get(name);
    if (!existing) this.services.set(name, { description, checks: [] });
    else if (description && !existing.description) existing.description = description;
    return name;
  }

  /** Add a check to a service under a name unique in it; returns the name used. */
  addCheck(service: string, name: string, check: Json): string {
    const svc = this.services.get(service) ?? (this.services.set(service, { checks: [] }).get(service) as ServiceDraft);
    const used = new Set(svc.checks.map((c) => c.name as string));
    const n = unique(slug(name, 'check'), (x) => used.has(x));
    svc.checks.push({ name: n, ...check });
    return n;
  }

  channelName(base: string): string {
    return unique(slug(base, 'channel'), (n) => this.channels.has(n));
  }

  addChannel(name: string, channel: Json): void {
    this.channels.set(name, channel);
  }

  /** An alert rule named uniquely (alert names are letters, digits, "_", "-", "."). */
  addAlert(base: string, rule: Json): string {
    const used = new Set(this.alerts.map((a) => a.name as string));
    const name = unique(slug(base, 'alert'), (n) => used.has(n));
    this.alerts.push({ name, ...rule });
    return name;
  }

  /**
   * Alerts labelled `channel: <name>` go to that channel: one route per channel (a route's receiver
   * may name a channel); the root route's receiver `none` sends nothing.
   */
  routeByChannelLabel(channel: string): void {
    if (!this.channelRoutes.includes(channel)) this.channelRoutes.push(channel);
  }

  /** The shipshape.yaml document (plain data, in the order a reader expects). */
  document(): Json {
    const doc: Json = {};
    if (this.services.size > 0) {
      const services: Json = {};
      for (const [name, s] of this.services) services[name] = { ...(s.description ? { description: s.description } : {}), checks: s.checks };
      doc.services = services;
    }
    if (this.alerts.length > 0) doc.alerts = this.alerts;
    const notify: Json = {};
    if (this.channels.size > 0) notify.channels = Object.fromEntries(this.channels);
    if (this.channelRoutes.length > 0 && !this.route) {
      const none = unique('none', (n) => this.receivers.has(n) || this.channels.has(n));
      this.receivers.set(none, []);
      this.route = { receiver: none, routes: this.channelRoutes.map((c) => ({ matchers: [`channel="${c}"`], receiver: c })) };
    }
    if (this.receivers.size > 0) notify.receivers = Object.fromEntries(this.receivers);
    if (this.route) notify.route = this.route;
    if (this.inhibitRules?.length) notify.inhibit_rules = this.inhibitRules;
    if (this.timeIntervals?.length) notify.time_intervals = this.timeIntervals;
    if (Object.keys(notify).length > 0) doc.notify = notify;
    if (this.statusPages.size > 0) doc.status_pages = Object.fromEntries(this.statusPages);
    return doc;
  }
}

/** An environment variable name from any text: `team-X pager` -> `TEAM_X_PAGER`. */
export function envName(text: string): string {
  const n = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return /^[A-Z]/.test(n) ? n : `IMPORTED_${n}`;
}
