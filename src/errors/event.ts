/**
 * A Sentry event as Shipshape keeps it: the fields a person reading a crash needs (exceptions with
 * their stack frames, message, tags, release, environment, user, request, breadcrumbs), bounded
 * in size, with secrets (auth headers, cookies, password/token fields) filtered out.
 * https://develop.sentry.dev/sdk/data-model/event-payloads/
 */
import { randomUUID } from 'node:crypto';

export type { Breadcrumb, ExceptionValue, Frame } from './types.js';
import type { Breadcrumb, ExceptionValue, Frame } from './types.js';

export interface StoredEvent {
  event_id: string;
  /** when the client says it happened (ISO) */
  timestamp: string;
  level: string;
  platform?: string;
  logger?: string;
  /** the formatted message */
  message?: string;
  /** the message template (`logentry.message` when params were sent), used for grouping */
  message_template?: string;
  /** chained exceptions, the outermost (the one captured) last */
  exceptions: ExceptionValue[];
  tags: Record<string, string>;
  release?: string;
  environment?: string;
  dist?: string;
  transaction?: string;
  server_name?: string;
  culprit?: string;
  user?: Record<string, unknown>;
  request?: Record<string, unknown>;
  contexts?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  breadcrumbs: Breadcrumb[];
  fingerprint?: string[];
  sdk?: { name?: string; version?: string };
}

const LIMITS = {
  message: 8192,
  value: 4096,
  short: 200,
  tag: 200,
  tags: 100,
  frames: 100,
  framesHead: 20,
  exceptions: 10,
  context: 5,
  contextLine: 500,
  breadcrumbs: 100,
  json: 16_384,
  depth: 6,
};

const str = (v: unknown, max: number): string | undefined => {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  if (s === undefined) return undefined;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Keys whose values are secrets wherever they appear (headers, cookies, form data, extra…). */
const SECRET_KEY = /pass(word|wd|phrase)?$|secret|token|api[-_]?key|^auth|authorization|credential|cookie|sess(ion)?[-_]?(id|key)?$|private[-_]?key|csrf|xsrf|jwt|signature|^dsn$/i;
export const FILTERED = '[Filtered]';

/** Copy a JSON value with secrets filtered, depth- and size-bounded. */
export function scrub(v: unknown, depth = 0): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return str(v, LIMITS.value);
  if (depth >= LIMITS.depth) return '[…]';
  if (Array.isArray(v)) return v.slice(0, 50).map((x) => scrub(x, depth + 1));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (++n > 100) break;
      out[k] = SECRET_KEY.test(k) && x !== null && x !== '' ? FILTERED : scrub(x, depth + 1);
    }
    return out;
  }
  return undefined;
}

function scrubQuery(q: string): string {
  try {
    const p = new URLSearchParams(q.startsWith('?') ? q.slice(1) : q);
    for (const k of [...p.keys()]) if (SECRET_KEY.test(k)) p.set(k, FILTERED);
    return p.toString();
  } catch {
    return FILTERED;
  }
}

function scrubUrl(u: string): string {
  const i = u.indexOf('?');
  let out = i === -1 ? u : `${u.slice(0, i)}?${scrubQuery(u.slice(i + 1))}`;
  out = out.replace(/\/\/[^/@\s]+@/, '//[Filtered]@'); // user:password@ in URLs
  return str(out, LIMITS.value) as string;
}

/** Bound a JSON value by its serialised size (drop it for a note when too big). */
function bounded(v: unknown, max = LIMITS.json): Record<string, unknown> | undefined {
  const o = obj(scrub(v));
  if (!o) return undefined;
  const text = JSON.stringify(o);
  return text.length > max ? { _truncated: `${text.length} bytes, more than the ${max} kept` } : o;
}

function frame(v: unknown): Frame | undefined {
  const f = obj(v);
  if (!f) return undefined;
  const lines = (x: unknown, fromEnd: boolean) => {
    if (!Array.isArray(x)) return undefined;
    const l = x.map((s) => str(s, LIMITS.contextLine) ?? '');
    return fromEnd ? l.slice(-LIMITS.context) : l.slice(0, LIMITS.context);
  };
  const out: Frame = {
    filename: str(f.filename, 1000),
    abs_path: str(f.abs_path, 1000),
    module: str(f.module, 500),
    function: str(f.function, 500),
    lineno: int(f.lineno),
    colno: int(f.colno),
    in_app: typeof f.in_app === 'boolean' ? f.in_app : undefined,
    context_line: str(f.context_line, LIMITS.contextLine),
    pre_context: lines(f.pre_context, true),
    post_context: lines(f.post_context, false),
  };
  if (out.abs_path) out.abs_path = scrubUrl(out.abs_path);
  if (out.filename) out.filename = scrubUrl(out.filename);
  for (const k of Object.keys(out) as (keyof Frame)[]) if (out[k] === undefined) delete out[k];
  return out;
}

function exceptionValue(v: unknown): ExceptionValue | undefined {
  const e = obj(v);
  if (!e) return undefined;
  const st = obj(e.stacktrace) ?? obj(e.raw_stacktrace);
  let frames = (Array.isArray(st?.frames) ? st.frames : []).map(frame).filter((f): f is Frame => !!f);
  let omitted: number | undefined;
  if (frames.length > LIMITS.frames) {
    // keep the outermost calls and the ones nearest the throw; drop the middle (deep recursion)
    omitted = frames.length - LIMITS.frames;
    frames = [...frames.slice(0, LIMITS.framesHead), ...frames.slice(frames.length - (LIMITS.frames - LIMITS.framesHead))];
  }
  const mech = obj(e.mechanism);
  const out: ExceptionValue = {
    type: str(e.type, LIMITS.short),
    value: str(e.value, LIMITS.value),
    module: str(e.module, LIMITS.short),
    mechanism: mech ? { type: str(mech.type, LIMITS.short), handled: typeof mech.handled === 'boolean' ? mech.handled : undefined } : undefined,
    frames,
  };
  if (omitted) out.frames_omitted = omitted;
  if (!out.type && !out.value && frames.length === 0) return undefined;
  for (const k of ['type', 'value', 'module', 'mechanism'] as const) if (out[k] === undefined) delete out[k];
  return out;
}

function timestampIso(v: unknown, fallback: number): string {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v > 1e11 ? v : v * 1000; // seconds (Sentry) or ms
  else if (typeof v === 'string') {
    const n = Number(v);
    ms = Number.isFinite(n) && v.trim() !== '' ? n * 1000 : Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > 8.64e15) ms = fallback;
  return new Date(ms).toISOString();
}

function tags(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: unknown, x: unknown) => {
    const key = str(k, LIMITS.short);
    const val = typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? str(x, LIMITS.tag) : undefined;
    if (key && val !== undefined && Object.keys(out).length < LIMITS.tags) out[key] = SECRET_KEY.test(key) ? FILTERED : val;
  };
  if (Array.isArray(v)) {
    for (const p of v) if (Array.isArray(p)) put(p[0], p[1]);
  }
  else if (obj(v)) for (const [k, x] of Object.entries(v as object)) put(k, x);
  return out;
}

function breadcrumbs(v: unknown): Breadcrumb[] {
  const list = Array.isArray(v) ? v : Array.isArray(obj(v)?.values) ? (obj(v)?.values as unknown[]) : [];
  return list.slice(-LIMITS.breadcrumbs).flatMap((b) => {
    const o = obj(b);
    if (!o) return [];
    const out: Breadcrumb = {
      timestamp: o.timestamp !== undefined ? timestampIso(o.timestamp, 0) : undefined,
      type: str(o.type, 50),
      category: str(o.category, LIMITS.short),
      level: str(o.level, 20),
      message: str(o.message, 1000),
      data: bounded(o.data, 2048),
    };
    for (const k of Object.keys(out) as (keyof Breadcrumb)[]) if (out[k] === undefined) delete out[k];
    return [out];
  });
}

function request(v: unknown): Record<string, unknown> | undefined {
  const r = obj(v);
  if (!r) return undefined;
  const out: Record<string, unknown> = {};
  if (typeof r.url === 'string') out.url = scrubUrl(r.url);
  if (typeof r.method === 'string') out.method = str(r.method, 20);
  if (typeof r.query_string === 'string') out.query_string = scrubQuery(r.query_string);
  else if (r.query_string !== undefined) out.query_string = scrub(r.query_string);
  if (r.headers !== undefined) out.headers = bounded(Array.isArray(r.headers) ? Object.fromEntries(r.headers.filter(Array.isArray)) : r.headers, 8192);
  if (r.cookies !== undefined) out.cookies = FILTERED;
  if (r.data !== undefined) out.data = typeof r.data === 'string' ? str(r.data, 2048) : bounded(r.data, 8192);
  if (r.env !== undefined) out.env = bounded(r.env, 2048);
  return Object.keys(out).length ? out : undefined;
}

const LEVELS = new Set(['fatal', 'error', 'warning', 'info', 'debug']);

/**
 * Normalise a Sentry event payload (already JSON-parsed). `receivedAt` fills a missing timestamp.
 */
export function normalizeEvent(raw: Record<string, unknown>, receivedAt: number): StoredEvent {
  const id = typeof raw.event_id === 'string' && /^[0-9a-f]{32}$/i.test(raw.event_id.replace(/-/g, '')) ? raw.event_id.replace(/-/g, '').toLowerCase() : randomUUID().replace(/-/g, '');
  const excRaw = obj(raw.exception)?.values ?? raw.exception;
  const exceptions = (Array.isArray(excRaw) ? excRaw : []).map(exceptionValue).filter((e): e is ExceptionValue => !!e).slice(-LIMITS.exceptions);
  // a top-level stacktrace (captureMessage with attachStacktrace) belongs to the message
  const topStack = obj(raw.stacktrace);
  if (exceptions.length === 0 && topStack) {
    const e = exceptionValue({ stacktrace: topStack });
    if (e) exceptions.push(e);
  }

  let message: string | undefined;
  let template: string | undefined;
  const logentry = obj(raw.logentry) ?? obj(raw.message);
  if (typeof raw.message === 'string') message = raw.message;
  if (logentry) {
    const m = typeof logentry.message === 'string' ? logentry.message : undefined;
    const formatted = typeof logentry.formatted === 'string' ? logentry.formatted : undefined;
    message = formatted ?? message ?? m;
    if (m && Array.isArray(logentry.params) && logentry.params.length > 0) template = m;
  }
  const level = typeof raw.level === 'string' && LEVELS.has(raw.level.toLowerCase()) ? raw.level.toLowerCase() : raw.level === 'warn' ? 'warning' : 'error';
  const sdk = obj(raw.sdk);
  const user = obj(raw.user);
  const ev: StoredEvent = {
    event_id: id,
    timestamp: timestampIso(raw.timestamp, receivedAt),
    level,
    platform: str(raw.platform, 50),
    logger: str(raw.logger, LIMITS.short),
    message: str(message, LIMITS.message),
    message_template: str(template, LIMITS.message),
    exceptions,
    tags: tags(raw.tags),
    release: str(raw.release, LIMITS.short),
    environment: str(raw.environment, LIMITS.short),
    dist: str(raw.dist, 64),
    transaction: str(raw.transaction, LIMITS.short),
    server_name: str(raw.server_name, LIMITS.short),
    culprit: str(raw.culprit, LIMITS.short),
    // the user is kept as sent (id, username, email, ip_address) and shown to API readers; never logged
    user: user ? bounded(user, 4096) : undefined,
    request: request(raw.request),
    contexts: bounded(raw.contexts),
    extra: bounded(raw.extra),
    breadcrumbs: breadcrumbs(raw.breadcrumbs),
    fingerprint: Array.isArray(raw.fingerprint) ? raw.fingerprint.slice(0, 20).map((x) => str(x, LIMITS.short) ?? String(x)) : undefined,
    sdk: sdk ? { name: str(sdk.name, 100), version: str(sdk.version, 50) } : undefined,
  };
  for (const k of Object.keys(ev) as (keyof StoredEvent)[]) if (ev[k] === undefined) delete ev[k];
  return ev;
}
