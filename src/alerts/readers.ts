/**
 * Where rules read services and checks from: the live Monitor (server) or the store's tables
 * (`shipshape alerts test`, next to a running server or after it stopped).
 */
import type { CheckSummary, ServiceSummary } from '../api/types.js';
import type { Monitor } from '../checks/monitor.js';
import type { Config } from '../config/load.js';
import type { Store } from '../store/db.js';
import { checkValueFrom, type CheckReader } from './evaluate.js';

/** The heartbeat token of a check named `service/name` or `name`, when the ref is not a token itself. */
function heartbeatByName(config: Config, ref: string): { token: string; service: string } | undefined {
  for (const def of config.checks.values()) {
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

export function heartbeatServiceOf(config: () => Config): (token: string) => string | undefined {
  return (token) => heartbeatByName(config(), token)?.service;
}

export function monitorChecks(monitor: Monitor, config: () => Config, now: () => number): CheckReader {
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
  };
}

/** A snapshot of the checks' last state as stored by a (running or stopped) server. */
export async function storedChecks(store: Store, config: Config, now: number): Promise<CheckReader> {
  const db = store.db;
  const services = new Map((await db.selectFrom('service_state').selectAll().execute()).map((r) => [r.service, { state: r.state, since: Number(r.since) }]));
  const rows = await db
    .selectFrom('checks')
    .innerJoin('check_state', 'check_state.check_id', 'checks.id')
    .select(['checks.key', 'check_state.state', 'check_state.since', 'check_state.last_at', 'check_state.last_ok', 'check_state.last_latency', 'check_state.last_message', 'check_state.last_conditions', 'check_state.last_values'])
    .execute();
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const pings = new Map((await db.selectFrom('heartbeats').selectAll().execute()).map((r) => [r.token, { last: r.last_ping === null ? undefined : Number(r.last_ping), since: Number(r.since) }]));
  const summaries = new Map<string, Pick<ServiceSummary, 'name' | 'checks'>>();
  for (const svc of config.services) {
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
      const svc = config.services.find((x) => x.name === service);
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
  };
}
