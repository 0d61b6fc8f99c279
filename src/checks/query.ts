/**
 * What other modules (alert rules) may ask the checks module: service and check states, the last
 * observed values of checks, heartbeat pings. Answered by the live monitor (server) or from the
 * store's tables (`shipshape alerts test`, next to a running server or after it stopped).
 */
import type { CheckSummary, ServiceSummary } from './api-types.js';
import type { Config } from '../core/config/load.js';
import { parseDuration, parsePercent, parseSize } from '../core/config/units.js';
import type { Store } from '../core/store/db.js';
import { compileCondition } from './conditions.js';
import { checkDefs, type ChecksRaw } from './config.js';
import type { Monitor } from './monitor.js';
import type { ChecksTables } from './tables.js';

export interface ChecksQuery {
  /** `up | degraded | down | unknown` and since when (epoch ms); undefined for an unknown service */
  serviceState(service: string): { state: string; since: number } | undefined;
  /** a check's state (`up | down | pending`); undefined for an unknown check */
  checkState(service: string, check: string): { state: string; since: number } | undefined;
  /** the last observed value at `path` of the service's checks (the named one, else the first that has it) */
  checkValue(service: string, check: string | undefined, path: string[]): { value: number | null; at: number | null; check: string } | { error: string };
  /** a heartbeat by token: last ping and since when it is watched (epoch ms); undefined when no check has that token */
  heartbeat(token: string): { lastPing: number | undefined; since: number } | undefined;
  /** the service of a heartbeat check named by token, `service/name` or `name` */
  heartbeatService(ref: string): string | undefined;
}

type CheckReader = ChecksQuery;

/** Read a number back from a condition outcome's `actual` (`connections_used = 85%`). */
function parseActual(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const v = text.includes(' = ') ? text.slice(text.lastIndexOf(' = ') + 3).trim() : text.trim();
  if (v === 'missing') return undefined;
  if (v === 'true') return 1;
  if (v === 'false') return 0;
  if (v === 'null') return null;
  if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) return Number(v);
  const pct = parsePercent(v);
  if (pct !== undefined) return pct;
  const ms = parseDuration(v);
  if (ms !== undefined) return ms;
  const size = parseSize(v);
  if (size !== undefined) return size;
  return undefined;
}

const subjects = new Map<string, string | null>();

/** The value a condition reads (`body.status`, also from `[BODY].status`), by the condition parser itself; null for len()/has(). */
function subjectOf(condition: string): string | null {
  let v = subjects.get(condition);
  if (v === undefined) {
    try {
      const c = compileCondition(condition);
      v = c.subject.fn ? null : c.subject.path.join('.');
    } catch {
      v = null;
    }
    if (subjects.size > 10_000) subjects.clear();
    subjects.set(condition, v);
  }
  return v;
}

/** The value at `path` among a check's last result (latency directly; other values from its conditions). */
function valueFromSummary(c: CheckSummary, path: string[]): { value: number | null; at: number | null } | undefined {
  if (!c.last) return undefined;
  const at = Date.parse(c.last.at);
  const name = path.join('.');
  if (name === 'latency' || name === 'latency_ms') return { value: c.last.latency_ms, at };
  if (name === 'ok') return { value: c.last.ok ? 1 : 0, at };
  for (const o of c.last.conditions) {
    if (subjectOf(o.condition) !== name) continue;
    const v = parseActual(o.actual);
    if (v !== undefined) return { value: v, at };
  }
  return undefined;
}

/** checkValue over service summaries (the live Monitor's or ones rebuilt from the store). */
export function checkValueFrom(svc: Pick<ServiceSummary, 'name' | 'checks'> | undefined, service: string, check: string | undefined, path: string[]): { value: number | null; at: number | null; check: string } | { error: string } {
  if (!svc) return { error: `no service "${service}" in the config` };
  const candidates = check ? svc.checks.filter((c) => c.name === check) : svc.checks;
  if (check && candidates.length === 0) return { error: `no check "${service}/${check}" in the config` };
  for (const c of candidates) {
    const v = valueFromSummary(c, path);
    if (v) return { ...v, check: c.id };
  }
  const ran = candidates.some((c) => c.last);
  if (!ran) return { value: null, at: null, check: candidates[0]?.id ?? service };
  return {
    error: `no value "${path.join('.')}" in the last result of ${check ? `${service}/${check}` : `the checks of ${service}`} (a value is readable when a condition of the check names it, e.g. "${path.join('.')} < 80%")`,
  };
}

/** The heartbeat token of a check named `service/name` or `name`, when the ref is not a token itself. */
function heartbeatByName(config: Config<ChecksRaw>, ref: string): { token: string; service: string } | undefined {
  for (const def of checkDefs(config).checks.values()) {
    if (def.kind !== 'heartbeat') continue;
    const token = String(def.spec.token);
    if (token === ref || def.id === ref || def.name === ref) return { token, service: def.service };
  }
  return undefined;
}

/** A number at `path` among a check's observed values (booleans count as 1/0). */
function observed(values: Record<string, unknown>, path: string[]): number | null | undefined {
  let cur: unknown = values;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (typeof cur === 'number') return cur;
  if (typeof cur === 'boolean') return cur ? 1 : 0;
  if (cur === null) return null;
  return undefined;
}

type Observed = { check: string; at: number; values: Record<string, unknown> } | undefined;

/** Prefer the observed values of the last run; fall back to what its conditions recorded. */
function valueOf(last: Observed, path: string[], fallback: () => ReturnType<CheckReader['checkValue']>): ReturnType<CheckReader['checkValue']> {
  if (last) {
    const v = observed(last.values, path);
    if (v !== undefined) return { value: v, at: last.at, check: last.check };
  }
  return fallback();
}


export function liveChecksQuery(monitor: Monitor, config: () => Config<ChecksRaw>, now: () => number): ChecksQuery {
  return {
    serviceState(service) {
      const s = monitor.service(service);
      return s ? { state: s.state, since: s.since ? Date.parse(s.since) : now() } : undefined;
    },
    checkState(service, check) {
      const c = monitor.check(service, check)?.summary;
      return c ? { state: c.state, since: c.since ? Date.parse(c.since) : now() } : undefined;
    },
    checkValue(service, check, path) {
      return valueOf(monitor.lastValues(service, check), path, () => checkValueFrom(monitor.service(service), service, check, path));
    },
    heartbeat(ref) {
      const token = monitor.heartbeats.knows(ref) ? ref : heartbeatByName(config(), ref)?.token;
      if (!token || !monitor.heartbeats.knows(token)) return undefined;
      return { lastPing: monitor.heartbeats.lastPing(token), since: monitor.heartbeats.watchingSince(token) };
    },
    heartbeatService: (ref) => heartbeatByName(config(), ref)?.service,
  };
}

/** A snapshot of the checks' last state as stored by a (running or stopped) server. */
export async function storedChecksQuery(store: Store<ChecksTables>, config: Config<ChecksRaw>, now: number): Promise<ChecksQuery> {
  const db = store.db;
  const defs = checkDefs(config);
  const services = new Map((await db.selectFrom('service_state').selectAll().execute()).map((r) => [r.service, { state: r.state, since: Number(r.since) }]));
  const rows = await db
    .selectFrom('checks')
    .innerJoin('check_state', 'check_state.check_id', 'checks.id')
    .select(['checks.key', 'check_state.state', 'check_state.since', 'check_state.last_at', 'check_state.last_ok', 'check_state.last_latency', 'check_state.last_message', 'check_state.last_conditions', 'check_state.last_values'])
    .execute();
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const pings = new Map((await db.selectFrom('heartbeats').selectAll().execute()).map((r) => [r.token, { last: r.last_ping === null ? undefined : Number(r.last_ping), since: Number(r.since) }]));
  const summaries = new Map<string, Pick<ServiceSummary, 'name' | 'checks'>>();
  for (const svc of defs.services) {
    const checks: CheckSummary[] = svc.checks.map((def) => {
      const r = byKey.get(def.id);
      return {
        id: def.id,
        service: def.service,
        name: def.name,
        kind: def.kind,
        target: def.target,
        state: (r?.state ?? 'pending') as CheckSummary['state'],
        since: r ? new Date(Number(r.since)).toISOString() : null,
        every_ms: def.every,
        last:
          r && r.last_at !== null
            ? { at: new Date(Number(r.last_at)).toISOString(), ok: r.last_ok === 1, latency_ms: Number(r.last_latency ?? 0), message: r.last_message ?? '', conditions: r.last_conditions ? JSON.parse(r.last_conditions) : [] }
            : null,
        uptime_24h: null,
      };
    });
    summaries.set(svc.name, { name: svc.name, checks });
  }
  return {
    serviceState(service) {
      if (!summaries.has(service)) return undefined;
      return services.get(service) ?? { state: 'unknown', since: now };
    },
    checkState(service, check) {
      const c = summaries.get(service)?.checks.find((x) => x.name === check);
      return c ? { state: c.state, since: c.since ? Date.parse(c.since) : now } : undefined;
    },
    checkValue(service, check, path) {
      const svc = defs.services.find((x) => x.name === service);
      let last: Observed;
      for (const def of svc?.checks ?? []) {
        if (check && def.name !== check) continue;
        const r = byKey.get(def.id);
        if (r?.last_values && r.last_at !== null) {
          last = { check: def.id, at: Number(r.last_at), values: JSON.parse(r.last_values) as Record<string, unknown> };
          break;
        }
      }
      return valueOf(last, path, () => checkValueFrom(summaries.get(service), service, check, path));
    },
    heartbeat(ref) {
      const hb = heartbeatByName(config, ref);
      if (!hb) return undefined;
      const p = pings.get(hb.token);
      return { lastPing: p?.last, since: p?.since ?? now };
    },
    heartbeatService: (ref) => heartbeatByName(config, ref)?.service,
  };
}
