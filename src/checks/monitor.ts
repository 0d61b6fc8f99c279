/**
 * The checks domain's service API: runs the configured checks on schedule, turns results into
 * check states (down only after N consecutive failures, up after M successes), rolls checks up
 * into service states, records state changes and history, and answers questions about them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { CheckSummary, DayBar, HealthReport, ServiceState, ServiceSummary, SparkPoint, StateChange, UptimeWindows } from './api-types.js';
import type { Config } from '../core/config/load.js';
import { checkDefs, type CheckDef, type CheckDefs, type ChecksRaw, type ServiceDef } from './config.js';
import type { ChecksTables } from './tables.js';
import type { EventLog } from '../core/events.js';
import type { Metrics } from '../core/metrics.js';
import type { Store } from '../core/store/db.js';
import { History } from './history.js';
import { runCheck } from './runner.js';
import { Scheduler } from './scheduler.js';
import type { CheckResult, CheckState, HeartbeatSource } from './types.js';

const DAY = 86_400_000;
/** how long a service's uptime windows and day bars are reused */
const UPTIME_CACHE_MS = 10_000;

interface Runtime {
  def: CheckDef;
  dbId: number;
  state: CheckState;
  since: number;
  okStreak: number;
  failStreak: number;
  last: CheckResult | null;
  dirty: boolean;
}

interface ServiceRuntime {
  state: ServiceState;
  since: number;
  /** service-level state changes, oldest first (kept for uptime math: 400 days) */
  changes: { at: number; to: ServiceState }[];
  cache?: { at: number; uptime: UptimeWindows; days: DayBar[] };
}

export interface MonitorOptions {
  store: Store<ChecksTables>;
  events: EventLog;
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** a write to the store failed; true when handled (a full disk is reported, not logged each time) */
  onStoreError?: (err: unknown) => boolean;
  /** false: run checks only when asked (runNow), e.g. to drive them step by step */
  schedule?: boolean;
}

/** Heartbeat pings received over HTTP, so cron jobs and backups can report in. */
export class Heartbeats implements HeartbeatSource {
  private readonly pings = new Map<string, { last: number | undefined; since: number; secret: string }>();
  constructor(
    private readonly store: Store<ChecksTables>,
    private readonly now: () => number,
  ) {}
  async load(tokens: string[]): Promise<void> {
    const rows = tokens.length ? await this.store.db.selectFrom('heartbeats').selectAll().where('token', 'in', tokens).execute() : [];
    const known = new Map(rows.map((r) => [r.token, r]));
    for (const t of tokens) {
      const r = known.get(t);
      if (r) {
        let secret = r.secret;
        if (!secret) {
          secret = newHeartbeatSecret();
          await this.store.db.updateTable('heartbeats').set({ secret }).where('token', '=', t).where('secret', 'is', null).execute();
          secret = (await this.store.db.selectFrom('heartbeats').select('secret').where('token', '=', t).executeTakeFirst())?.secret ?? secret;
        }
        const prev = this.pings.get(t);
        this.pings.set(t, { last: prev?.last ?? (r.last_ping === null ? undefined : Number(r.last_ping)), since: Number(r.since), secret });
      } else {
        const since = this.now();
        const secret = newHeartbeatSecret();
        await this.store.db.insertInto('heartbeats').values({ token: t, last_ping: null, since, secret }).onConflict((oc) => oc.column('token').doNothing()).execute();
        const stored = (await this.store.db.selectFrom('heartbeats').select('secret').where('token', '=', t).executeTakeFirst())?.secret;
        this.pings.set(t, { last: undefined, since, secret: stored ?? secret });
      }
    }
  }
  knows(token: string): boolean {
    return this.pings.has(token);
  }
  /** The secret of a heartbeat's ping URL (for admins), or undefined for an unknown name. */
  secretOf(token: string): string | undefined {
    return this.pings.get(token)?.secret;
  }
  /** Record a ping when `secret` is the heartbeat's; false (and nothing recorded) otherwise, in the same time either way. */
  async ping(token: string, secret: string): Promise<boolean> {
    const p = this.pings.get(token);
    const expected = createHash('sha256').update(p?.secret ?? 'no such heartbeat').digest();
    const given = createHash('sha256').update(secret).digest();
    if (!timingSafeEqual(expected, given) || !p) return false;
    p.last = this.now();
    await this.store.db.updateTable('heartbeats').set({ last_ping: p.last }).where('token', '=', token).execute();
    return true;
  }
  lastPing(token: string): number | undefined {
    return this.pings.get(token)?.last;
  }
  watchingSince(token: string): number {
    return this.pings.get(token)?.since ?? this.now();
  }
}

/** 24 random bytes, URL-safe: the credential in a heartbeat URL. */
export function newHeartbeatSecret(): string {
  return randomBytes(24).toString('base64url');
}

function rollup(states: CheckState[]): ServiceState {
  if (states.length === 0) return 'unknown';
  const known = states.filter((s) => s !== 'pending');
  if (known.length === 0) return 'unknown';
  const down = known.filter((s) => s === 'down').length;
  if (down === 0) return 'up';
  if (down === states.length) return 'down';
  return 'degraded';
}

function stateRow(rt: Runtime) {
  const l = rt.last;
  return {
    check_id: rt.dbId,
    state: rt.state,
    since: rt.since,
    consecutive_ok: rt.okStreak,
    consecutive_fail: rt.failStreak,
    last_at: l?.at ?? null,
    last_ok: l ? (l.ok ? 1 : 0) : null,
    last_latency: l?.latencyMs ?? null,
    last_message: l?.message.slice(0, 2000) ?? null,
    last_conditions: l ? JSON.stringify(l.conditions).slice(0, 8000) : null,
    last_values: l?.values ? JSON.stringify(l.values) : null,
  };
}

const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t).toISOString());

export class Monitor {
  config!: Config<ChecksRaw>;
  private defs: CheckDefs = { services: [], checks: new Map() };
  private serviceDefs = new Map<string, ServiceDef>();
  readonly history: History;
  readonly heartbeats: Heartbeats;
  private readonly scheduler: Scheduler;
  private readonly checks = new Map<string, Runtime>();
  private readonly services = new Map<string, ServiceRuntime>();
  private readonly stopCtl = new AbortController();
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private lastStateFlush = 0;

  constructor(private readonly opts: MonitorOptions) {
    this.now = opts.now ?? Date.now;
    // every running check listens for the stop (up to `concurrency` at once): not a leak
    setMaxListeners(0, this.stopCtl.signal);
    this.history = new History(opts.store, { minute: 48 * 3600_000, hour: 90 * DAY, day: 400 * DAY, failuresPerCheck: 100 }, this.now);
    this.heartbeats = new Heartbeats(opts.store, this.now);
    this.scheduler = new Scheduler({
      concurrency: 200,
      run: (id) => this.runScheduled(id),
      onLag: (ms) => opts.metrics?.schedulerLag.observe(ms / 1000),
      now: this.now,
    });
  }

  get store(): Store<ChecksTables> {
    return this.opts.store;
  }

  /** Load state from the store and start running checks. */
  async start(config: Config<ChecksRaw>): Promise<void> {
    await this.history.load();
    const svcRows = await this.opts.store.db.selectFrom('service_state').selectAll().execute();
    const since = this.now() - 400 * DAY;
    const changes = await this.opts.store.db
      .selectFrom('state_changes')
      .select(['service', 'at', 'to_state'])
      .where('check_key', 'is', null)
      .where('at', '>=', since)
      .orderBy('at')
      .orderBy('id')
      .execute();
    for (const r of svcRows) this.services.set(r.service, { state: r.state as ServiceState, since: Number(r.since), changes: [] });
    for (const c of changes) this.services.get(c.service)?.changes.push({ at: Number(c.at), to: c.to_state as ServiceState });
    await this.apply(config);
    this.flushTimer = setInterval(() => void this.flush().catch((e) => this.opts.onStoreError?.(e) || this.opts.logger?.error({ err: e }, 'writing check history failed; will retry')), 5000);
    this.flushTimer.unref();
    const prune = () => void this.history.prune().catch((e) => this.opts.logger?.error({ err: e }, 'pruning history failed'));
    this.pruneTimer = setInterval(prune, 3600_000);
    this.pruneTimer.unref();
    prune();
  }

  /** Apply a (new) config: add, update and remove checks without restarting the others. */
  async apply(config: Config<ChecksRaw>): Promise<void> {
    this.config = config;
    const defs = checkDefs(config);
    this.defs = defs;
    this.serviceDefs = new Map(defs.services.map((s) => [s.name, s]));
    const r = config.raw;
    this.history.retention = { minute: r.history.minute, hour: r.history.hour, day: r.history.day, failuresPerCheck: r.history.failures_per_check };
    (this.scheduler as unknown as { opts: { concurrency: number } }).opts.concurrency = r.defaults.concurrency;
    await this.heartbeats.load([...defs.checks.values()].filter((c) => c.kind === 'heartbeat').map((c) => String(c.spec.token)));
    const ids = await this.ensureCheckIds([...defs.checks.values()]);
    const stateRows = ids.size
      ? await this.opts.store.db.selectFrom('check_state').selectAll().where('check_id', 'in', [...ids.values()]).execute()
      : [];
    const saved = new Map(stateRows.map((s) => [Number(s.check_id), s]));
    for (const [key, rt] of this.checks) {
      if (!defs.checks.has(key)) {
        this.scheduler.remove(key);
        this.history.forget(rt.dbId);
        this.checks.delete(key);
        this.opts.metrics?.checkUp.remove({ service: rt.def.service, check: rt.def.name });
      }
    }
    for (const def of defs.checks.values()) {
      const existing = this.checks.get(def.id);
      if (existing) {
        const changed = JSON.stringify(existing.def.spec) !== JSON.stringify(def.spec) || existing.def.every !== def.every;
        existing.def = def;
        if (changed && this.opts.schedule !== false) this.scheduler.upsert({ id: def.id, every: def.every }, 0);
        continue;
      }
      const dbId = ids.get(def.id) as number;
      const s = saved.get(dbId);
      const rt: Runtime = {
        def,
        dbId,
        state: (s?.state as CheckState) ?? 'pending',
        since: s ? Number(s.since) : this.now(),
        okStreak: s?.consecutive_ok ?? 0,
        failStreak: s?.consecutive_fail ?? 0,
        last:
          s && s.last_at !== null
            ? { checkId: def.id, at: Number(s.last_at), ok: s.last_ok === 1, latencyMs: s.last_latency ?? 0, message: s.last_message ?? '', conditions: s.last_conditions ? JSON.parse(s.last_conditions) : [], values: s.last_values ? JSON.parse(s.last_values) : {} }
            : null,
        dirty: !s,
      };
      this.checks.set(def.id, rt);
      if (this.opts.schedule !== false) this.scheduler.upsert({ id: def.id, every: def.every });
    }
    for (const svc of defs.services) {
      if (!this.services.has(svc.name)) this.services.set(svc.name, { state: 'unknown', since: this.now(), changes: [] });
    }
    for (const name of [...this.services.keys()]) {
      if (!defs.services.some((s) => s.name === name)) this.services.delete(name);
    }
    for (const svc of defs.services) await this.updateService(svc.name, 'config changed');
  }

  private async ensureCheckIds(defs: CheckDef[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (defs.length === 0) return out;
    const db = this.opts.store.db;
    const keys = defs.map((d) => d.id);
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await db.selectFrom('checks').select(['id', 'key']).where('key', 'in', keys.slice(i, i + 500)).execute();
      for (const r of rows) out.set(r.key, Number(r.id));
    }
    const missing = defs.filter((d) => !out.has(d.id));
    for (let i = 0; i < missing.length; i += 500) {
      const rows = await db
        .insertInto('checks')
        .values(missing.slice(i, i + 500).map((d) => ({ key: d.id, service: d.service, created_at: this.now() })))
        .returning(['id', 'key'])
        .execute();
      for (const r of rows) out.set(r.key, Number(r.id));
    }
    return out;
  }

  private async runScheduled(id: string): Promise<void> {
    const rt = this.checks.get(id);
    if (!rt) return;
    await this.runOne(rt);
  }

  private async runOne(rt: Runtime): Promise<CheckResult> {
    const m = this.opts.metrics;
    m?.checksInFlight.inc();
    const result = await runCheck(rt.def, { heartbeats: this.heartbeats, stop: this.stopCtl.signal, now: this.now });
    m?.checksInFlight.dec();
    if (this.stopCtl.signal.aborted) return result; // a run cut short by shutdown is not a result
    m?.checkDuration.observe({ kind: rt.def.kind }, result.latencyMs / 1000);
    m?.checkResults.inc({ kind: rt.def.kind, result: result.ok ? 'success' : 'failure' });
    if (this.checks.get(rt.def.id) !== rt) return result; // removed by a reload meanwhile
    await this.onResult(rt, result);
    return result;
  }

  private async onResult(rt: Runtime, r: CheckResult): Promise<void> {
    rt.last = r;
    rt.dirty = true;
    if (r.ok) {
      rt.okStreak++;
      rt.failStreak = 0;
    } else {
      rt.failStreak++;
      rt.okStreak = 0;
    }
    this.history.record(rt.dbId, r.at, r.ok, r.latencyMs, r.ok ? undefined : { message: r.message, conditions: r.conditions });
    if (this.opts.events.hasListeners()) this.opts.events.notify({ type: 'check.result', data: { check: rt.def.id, service: rt.def.service, ok: r.ok, latency_ms: r.latencyMs, at: iso(r.at) } });
    let next: CheckState | null = null;
    if (r.ok && rt.state !== 'up' && rt.okStreak >= rt.def.upAfter) next = 'up';
    if (!r.ok && rt.state !== 'down' && rt.failStreak >= rt.def.downAfter) next = 'down';
    if (next) {
      const from = rt.state;
      rt.state = next;
      rt.since = r.at;
      this.opts.metrics?.checkUp.set({ service: rt.def.service, check: rt.def.name }, next === 'up' ? 1 : 0);
      const reason = next === 'down' ? `${rt.failStreak} consecutive failure${rt.failStreak > 1 ? 's' : ''}: ${r.message}` : `${rt.okStreak} consecutive success${rt.okStreak > 1 ? 'es' : ''}`;
      await this.recordChange(r.at, rt.def.service, rt.def.id, from, next, reason);
      await this.saveCheckState(rt);
      await this.updateService(rt.def.service, `${rt.def.name} is ${next}`);
    }
  }

  private async recordChange(at: number, service: string, check: string | null, from: string, to: string, reason: string): Promise<void> {
    await this.opts.store.db.insertInto('state_changes').values({ at, service, check_key: check, from_state: from, to_state: to, reason: reason.slice(0, 1000) }).execute();
    await this.opts.events.append({
      type: check ? 'check.state' : 'service.state',
      actor: 'schedule',
      subject: check ? `check:${check}` : `service:${service}`,
      data: { service, check, from, to, reason, at: iso(at) },
    });
  }

  private async updateService(name: string, reason: string): Promise<void> {
    const svc = this.serviceDefs.get(name);
    const rt = this.services.get(name);
    if (!svc || !rt) return;
    const next = rollup(svc.checks.map((c) => this.checks.get(c.id)?.state ?? 'pending'));
    this.opts.metrics?.serviceUp.set({ service: name }, next === 'up' ? 1 : next === 'degraded' ? 0.5 : 0);
    if (next === rt.state) return;
    const from = rt.state;
    const at = this.now();
    rt.state = next;
    rt.since = at;
    rt.changes.push({ at, to: next });
    rt.cache = undefined;
    await this.opts.store.db
      .insertInto('service_state')
      .values({ service: name, state: next, since: at })
      .onConflict((oc) => oc.column('service').doUpdateSet({ state: next, since: at }))
      .execute();
    await this.recordChange(at, name, null, from, next, reason);
  }

  private async saveCheckState(rt: Runtime): Promise<void> {
    rt.dirty = false;
    const row = stateRow(rt);
    await this.opts.store.db
      .insertInto('check_state')
      .values(row)
      .onConflict((oc) => oc.column('check_id').doUpdateSet(row))
      .execute();
  }

  /**
   * Write batched history, and the latest result of each check at most once a minute (state
   * changes are written at once; the latest result only matters across restarts).
   */
  async flush(force = false): Promise<void> {
    await this.history.flush();
    const now = this.now();
    // uptime and day bars are cached for 10 s (dashboards poll); a stale cache is never read again
    // and holds ~9 KB a service (90 day bars): 1,000 services kept ~9 MB after one dashboard visit
    for (const rt of this.services.values()) if (rt.cache && now - rt.cache.at >= UPTIME_CACHE_MS) rt.cache = undefined;
    if (!force && now - this.lastStateFlush < 60_000) return;
    this.lastStateFlush = now;
    const dirty = [...this.checks.values()].filter((r) => r.dirty);
    if (dirty.length === 0) return;
    for (const rt of dirty) rt.dirty = false;
    const rows = dirty.map(stateRow);
    try {
      await this.opts.store.db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += 200) {
          await trx
            .insertInto('check_state')
            .values(rows.slice(i, i + 200))
            .onConflict((oc) =>
              oc.column('check_id').doUpdateSet((eb) => ({
                state: eb.ref('excluded.state'),
                since: eb.ref('excluded.since'),
                consecutive_ok: eb.ref('excluded.consecutive_ok'),
                consecutive_fail: eb.ref('excluded.consecutive_fail'),
                last_at: eb.ref('excluded.last_at'),
                last_ok: eb.ref('excluded.last_ok'),
                last_latency: eb.ref('excluded.last_latency'),
                last_message: eb.ref('excluded.last_message'),
                last_conditions: eb.ref('excluded.last_conditions'),
                last_values: eb.ref('excluded.last_values'),
              })),
            )
            .execute();
        }
      });
    } catch (e) {
      for (const rt of dirty) rt.dirty = true;
      throw e;
    }
  }

  /** Graceful stop: no new runs, running ones are cut off, nothing half-written. */
  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    this.stopCtl.abort();
    await this.scheduler.stop(5000);
    await this.flush(true);
    await this.history.persistOpen();
  }

  /** Run checks now (all, or those of the named services) and return their results. */
  async runNow(services?: string[]): Promise<CheckResult[]> {
    const targets = [...this.checks.values()].filter((rt) => !services || services.includes(rt.def.service));
    return Promise.all(targets.map((rt) => this.runOne(rt)));
  }

  /** Run the checks with these ids (`service/name`) now; unknown ids are left out of the answer. */
  async runChecks(ids: string[]): Promise<CheckResult[]> {
    const want = new Set(ids);
    return Promise.all([...this.checks.values()].filter((rt) => want.has(rt.def.id)).map((rt) => this.runOne(rt)));
  }

  /** A heartbeat ping: true when the name belongs to a heartbeat check and the secret is its own. */
  async ping(token: string, secret: string): Promise<boolean> {
    if (!(await this.heartbeats.ping(token, secret))) return false;
    const due = [...this.checks.values()].filter((rt) => rt.def.kind === 'heartbeat' && rt.def.spec.token === token);
    await Promise.all(due.map((rt) => this.runOne(rt)));
    return true;
  }

  /** The heartbeat checks with their ping URLs (for admins: the secret is the credential). */
  heartbeatList(): { service: string; check: string; name: string; secret: string; path: string; last_ping_at: string | null }[] {
    const out = [];
    for (const def of this.defs.checks.values()) {
      if (def.kind !== 'heartbeat') continue;
      const name = String(def.spec.token);
      const secret = this.heartbeats.secretOf(name);
      if (!secret) continue;
      out.push({ service: def.service, check: def.name, name, secret, path: `/api/v1/heartbeat/${name}/${secret}`, last_ping_at: iso(this.heartbeats.lastPing(name)) });
    }
    return out;
  }

  serviceNames(): string[] {
    return this.defs.services.map((s) => s.name);
  }

  hasService(name: string): boolean {
    return this.services.has(name);
  }

  checkSummary(rt: Runtime): CheckSummary {
    const l = rt.last;
    return {
      id: rt.def.id,
      service: rt.def.service,
      name: rt.def.name,
      kind: rt.def.kind,
      target: rt.def.target,
      state: rt.state,
      since: iso(rt.since),
      every_ms: rt.def.every,
      last: l ? { at: iso(l.at) as string, ok: l.ok, latency_ms: l.latencyMs, message: l.message, conditions: l.conditions } : null,
      uptime_24h: this.history.uptime24h(rt.dbId),
    };
  }

  check(service: string, name: string): { summary: CheckSummary; dbId: number } | undefined {
    const rt = this.checks.get(`${service}/${name}`);
    return rt ? { summary: this.checkSummary(rt), dbId: rt.dbId } : undefined;
  }

  /** The values the last run of a check observed (the first check of the service that ran, without a name). */
  lastValues(service: string, check?: string): { check: string; at: number; values: Record<string, unknown> } | undefined {
    const svc = this.serviceDefs.get(service);
    if (!svc) return undefined;
    for (const def of svc.checks) {
      if (check && def.name !== check) continue;
      const last = this.checks.get(def.id)?.last;
      if (last?.values) return { check: def.id, at: last.at, values: last.values };
    }
    return undefined;
  }

  /** Check summaries in config order; `offset`/`limit` page them without summarising the rest. */
  allChecks(offset = 0, limit = Infinity): CheckSummary[] {
    const out: CheckSummary[] = [];
    let i = 0;
    for (const def of this.defs.checks.values()) {
      if (out.length >= limit) break;
      const rt = this.checks.get(def.id);
      if (!rt) continue;
      if (i++ < offset) continue;
      out.push(this.checkSummary(rt));
    }
    return out;
  }

  service(name: string, include: { days?: boolean; sparkline?: boolean } = {}): ServiceSummary | undefined {
    const svc = this.serviceDefs.get(name);
    const rt = this.services.get(name);
    if (!svc || !rt) return undefined;
    const runtimes = svc.checks.map((c) => this.checks.get(c.id)).filter((x): x is Runtime => x !== undefined);
    const stats = this.uptimeStats(rt);
    const out: ServiceSummary = {
      name,
      state: rt.state,
      since: iso(rt.since),
      checks: runtimes.map((x) => this.checkSummary(x)),
      uptime: stats.uptime,
    };
    if (include.days) out.days = stats.days;
    if (include.sparkline) out.sparkline = this.sparkline(runtimes);
    return out;
  }

  private sparkline(runtimes: Runtime[]): SparkPoint[] {
    const series = runtimes.map((r) => this.history.recent(r.dbId, 60));
    const first = series[0];
    if (!first) return [];
    return first.map((p, i) => {
      let p95: number | null = null;
      let failures = 0;
      for (const s of series) {
        const x = s[i] as SparkPoint;
        if (x.p95 !== null) p95 = Math.max(p95 ?? 0, x.p95);
        failures += x.failures;
      }
      return { t: p.t, p95, failures };
    });
  }

  /** Uptime from service state intervals: the share of known time (unknown excluded) it was not down. */
  private uptimeStats(rt: ServiceRuntime): { uptime: UptimeWindows; days: DayBar[] } {
    const now = this.now();
    if (rt.cache && now - rt.cache.at < UPTIME_CACHE_MS) return rt.cache;
    const segments: { from: number; to: number; state: ServiceState }[] = [];
    const ch = rt.changes;
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i] as { at: number; to: ServiceState };
      const end = i + 1 < ch.length ? (ch[i + 1] as { at: number }).at : now;
      if (end > c.at) segments.push({ from: c.at, to: end, state: c.to });
    }
    const measure = (from: number, to: number) => {
      let up = 0;
      let known = 0;
      let worst: ServiceState | null = null;
      const rank: Record<ServiceState, number> = { unknown: 0, up: 1, degraded: 2, down: 3 };
      for (const s of segments) {
        if (s.to <= from || s.from >= to) continue;
        const len = Math.min(s.to, to) - Math.max(s.from, from);
        if (s.state === 'unknown') continue;
        known += len;
        if (s.state !== 'down') up += len;
        if (!worst || rank[s.state] > rank[worst]) worst = s.state;
      }
      return { ratio: known > 0 ? up / known : null, worst };
    };
    const uptime: UptimeWindows = {
      '24h': measure(now - DAY, now).ratio,
      '7d': measure(now - 7 * DAY, now).ratio,
      '30d': measure(now - 30 * DAY, now).ratio,
      '90d': measure(now - 90 * DAY, now).ratio,
    };
    const days: DayBar[] = [];
    const today = Math.floor(now / DAY) * DAY;
    for (let d = today - 89 * DAY; d <= today; d += DAY) {
      const m = measure(d, Math.min(d + DAY, now));
      days.push({ day: new Date(d).toISOString().slice(0, 10), uptime: m.ratio, worst: m.worst });
    }
    rt.cache = { at: now, uptime, days };
    return rt.cache;
  }

  listServices(include: { days?: boolean; sparkline?: boolean } = {}): ServiceSummary[] {
    return this.defs.services.map((s) => this.service(s.name, include) as ServiceSummary);
  }

  async stateChanges(opts: { service?: string; limit: number; before?: number }): Promise<StateChange[]> {
    let q = this.opts.store.db.selectFrom('state_changes').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.service) q = q.where('service', '=', opts.service);
    if (opts.before !== undefined) q = q.where('id', '<', opts.before);
    const rows = await q.execute();
    return rows.map((r) => ({ id: Number(r.id), at: iso(Number(r.at)) as string, service: r.service, check: r.check_key, from: r.from_state, to: r.to_state, reason: r.reason }));
  }

  /** What a check's state rests on, in words: "1 failure, down after 2: connection refused". */
  private checkMessage(x: Runtime, pub = false): string {
    const l = x.last;
    if (!l) return 'not checked yet';
    const message = pub ? this.publicMessage(x) : l.message;
    if (x.state === 'pending') {
      if (!l.ok) return `${x.failStreak} failure${x.failStreak === 1 ? '' : 's'}, down after ${x.def.downAfter}: ${message}`;
      return `${x.okStreak} success${x.okStreak === 1 ? '' : 'es'}, up after ${x.def.upAfter}`;
    }
    return message;
  }

  /**
   * The last result's message as the public /api/health shows it: a command's output (what the
   * failing conditions saw) only when the check sets `public_output: true`.
   */
  private publicMessage(x: Runtime): string {
    const l = x.last as CheckResult;
    if (x.def.kind !== 'command' || x.def.spec.public_output === true || l.ok) return l.message;
    const failing = l.conditions.filter((c) => !c.ok);
    if (failing.length) return failing.map((c) => c.condition).join('; ');
    // the command did not finish (timed out, not found): the message holds no output
    return /^(timed out|cancelled|command not found|permission denied|working directory not found|could not)/.test(l.message) ? l.message : 'the command failed';
  }

  /**
   * The runbook health report: healthy (200) only when every service that has checks is up;
   * pending (503) while none is failing but some has no concluded check yet.
   */
  health(version: string, details: boolean, service?: string): HealthReport | undefined {
    const map = { up: 'healthy', degraded: 'degraded', down: 'down', unknown: 'pending', pending: 'pending' } as const;
    const checks: HealthReport['checks'] = {};
    let states: ServiceState[];
    if (service) {
      const svc = this.serviceDefs.get(service);
      const rt = this.services.get(service);
      if (!svc || !rt) return undefined;
      for (const c of svc.checks) {
        const x = this.checks.get(c.id);
        if (!x) continue;
        checks[c.name] = { status: map[x.state], latencyMs: x.last?.latencyMs ?? null, message: details ? this.checkMessage(x, true) : x.state };
      }
      states = svc.checks.length ? [rt.state] : [];
    } else {
      states = [];
      for (const svc of this.defs.services) {
        const rt = this.services.get(svc.name);
        if (!rt) continue;
        // a service without checks (telemetry only) says nothing about health
        if (svc.checks.length === 0) continue;
        states.push(rt.state);
        const runtimes = svc.checks.map((c) => this.checks.get(c.id)).filter((x): x is Runtime => !!x);
        const failing = runtimes.filter((x) => x.state === 'down');
        const waiting = runtimes.filter((x) => x.state === 'pending');
        const lat = runtimes.map((x) => x.last?.latencyMs).filter((x): x is number => x !== undefined);
        let message: string = rt.state;
        if (details) {
          const parts = [...failing, ...waiting].map((x) => `${x.def.name}: ${this.checkMessage(x, true)}`);
          message = parts.length ? parts.join('; ') : 'ok';
        }
        checks[svc.name] = { status: map[rt.state], latencyMs: lat.length ? Math.max(...lat) : null, message };
      }
    }
    const known = states.filter((s) => s !== 'unknown');
    let status: HealthReport['status'] = 'healthy';
    if (known.some((s) => s !== 'up')) status = known.length > 0 && known.every((s) => s === 'down') ? 'down' : 'degraded';
    else if (known.length < states.length) status = 'pending';
    return { status, checks, timestamp: new Date(this.now()).toISOString(), version };
  }
}
