/**
 * Scheduled audits while `shipshape up` runs: for each service whose `database.audit` has a
 * `schedule`, run `db audit` with the service's settings (schemas, roles, suppressions) at each cron
 * time (read in `backups.timezone`), and write `db.audit_completed` with the counts and what changed
 * since the previous scheduled run: `new` findings (by rule and object) and `resolved` ones. When a
 * new finding is at the service's `fail_on` level or worse, `db.audit_regressed` follows; a run that
 * could not audit writes `db.audit_failed`.
 *
 * Like the backup scheduler (schedule.ts) it is driven by its clock: `tick()` runs what is due at
 * `now()`, `nextDue()` says when the next run is, and the module arms one timer for both
 * (src/db/index.ts). The findings of the last run are kept in `<data dir>/db-audit/<service>.json`,
 * so new and resolved survive a restart; a run missed while Shipshape was down is taken once at the
 * next start. Runs of one service never overlap.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Config } from '../core/config/load.js';
import type { NewEvent } from '../core/events.js';
import { writePrivateFile } from '../core/files.js';
import { AUDIT_LEVELS, type AuditLevel, type AuditReport } from './api-types.js';
import { auditSummary } from './audit-report.js';
import { auditSettingsOf, type DbRaw } from './config.js';
import { earliestDue, nextAfter, SCHEDULE_ACTOR } from './schedule.js';
import { maskUrl, scrubFor } from './target.js';

/** A finding as the schedule compares runs: by rule and object. */
export interface FindingRef {
  rule: string;
  level: AuditLevel;
  object: string;
}

export interface AuditRunOutcome {
  service: string;
  /** when the run started (the scheduler's clock) */
  at: string;
  ok: boolean;
  error?: string;
  /** `audit of web: 1 error, 2 warnings, 0 notes (1 suppressed)` */
  summary?: string;
  counts?: Record<AuditLevel, number>;
  suppressed?: number;
  /** findings that were not there in the previous scheduled run (all of them in the first) */
  new?: FindingRef[];
  /** findings of the previous scheduled run that are gone */
  resolved?: FindingRef[];
  /** the new findings at the service's fail_on level or worse (db.audit_regressed) */
  regressed?: FindingRef[];
}

/** What the scheduler keeps per service between runs. */
interface AuditState {
  /** since when this service's audit has been scheduled */
  since?: string;
  /** the latest run */
  last?: { at: string; ok: boolean; error?: string };
  /** the findings of the latest run that succeeded: what the next run is compared with */
  findings?: FindingRef[];
}

interface Job {
  service: string;
  expr: string;
  timezone: string;
  cron: Cron;
  next: number | null;
}

export interface AuditSchedulerDeps {
  config: () => Config<DbRaw>;
  now: () => number;
  /** Shipshape's data directory: the last run's findings are kept under it */
  dataDir: string;
  /** the service's audit with its settings and suppressions applied (DbDomain.audit) */
  audit: (service: string) => Promise<AuditReport>;
  events?: { append(e: NewEvent): Promise<unknown> };
  logger?: Logger;
}

/** How many findings an event lists in `new`, `resolved` and `findings` (the totals are there too). */
const LISTED = 100;

const keyOf = (f: { rule: string; object: string }) => `${f.rule}\u0000${f.object}`;

export class AuditScheduler {
  private jobs = new Map<string, Job>();
  private readonly running = new Map<string, Promise<AuditRunOutcome>>();
  private stopped = false;

  constructor(private readonly deps: AuditSchedulerDeps) {}

  private stateFile(service: string): string {
    return join(resolve(this.deps.dataDir), 'db-audit', `${service.replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`);
  }

  private readState(service: string): AuditState {
    try {
      return JSON.parse(readFileSync(this.stateFile(service), 'utf8')) as AuditState;
    } catch {
      return {};
    }
  }

  private writeState(service: string, change: Partial<AuditState>): void {
    try {
      const file = this.stateFile(service);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writePrivateFile(file, `${JSON.stringify({ ...this.readState(service), ...change }, null, 2)}\n`);
    } catch (e) {
      this.deps.logger?.error({ err: e, service }, 'cannot record the scheduled audit');
    }
  }

  /** (Re)read the schedules from the config in force: at start and on every reload. A job whose expression and zone did not change keeps its next time. */
  sync(): void {
    const cfg = this.deps.config();
    const now = this.deps.now();
    const next = new Map<string, Job>();
    for (const [service, svc] of Object.entries(cfg.raw.services)) {
      const expr = svc.database?.audit?.schedule;
      if (!svc.database || !expr) continue;
      const timezone = svc.database.backups.timezone;
      const old = this.jobs.get(service);
      if (old && old.expr === expr && old.timezone === timezone) {
        next.set(service, old);
        continue;
      }
      let state = this.readState(service);
      if (!state.since) {
        this.writeState(service, { since: new Date(now).toISOString() });
        state = { ...state, since: new Date(now).toISOString() };
      }
      const cron = new Cron(expr, { paused: true, mode: '5-part', timezone });
      // the first time after the last run (before any, after the schedule began): in the past when a run was missed while Shipshape was down
      const stamp = (t: string | undefined) => (t !== undefined && !Number.isNaN(Date.parse(t)) ? Date.parse(t) : undefined);
      next.set(service, { service, expr, timezone, cron, next: nextAfter(cron, stamp(state.last?.at) ?? stamp(state.since) ?? now) });
    }
    this.jobs = next;
  }

  /** The scheduled audits and their next times. */
  list(): { service: string; schedule: string; timezone: string; next: string | null }[] {
    return [...this.jobs.values()].map((j) => ({ service: j.service, schedule: j.expr, timezone: j.timezone, next: j.next === null ? null : new Date(j.next).toISOString() }));
  }

  /** Epoch ms of the next audit due, or null when none is scheduled. */
  nextDue(): number | null {
    return earliestDue(this.jobs.values());
  }

  /** Run every audit due at `now()` (once, however many times were missed) and wait for them; a service whose previous audit still runs is skipped. */
  async tick(): Promise<AuditRunOutcome[]> {
    if (this.stopped) return [];
    const now = this.deps.now();
    const runs: Promise<AuditRunOutcome>[] = [];
    for (const j of this.jobs.values()) {
      if (j.next === null || j.next > now) continue;
      j.next = nextAfter(j.cron, now);
      if (this.running.has(j.service)) continue;
      const run = this.run(j.service).finally(() => this.running.delete(j.service));
      this.running.set(j.service, run);
      runs.push(run);
    }
    return Promise.all(runs);
  }

  /** No new runs; wait for those in flight (each query has a 60 s statement timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running.values()].map((p) => p.catch(() => undefined)));
  }

  private async emit(service: string, url: string, type: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.events?.append({ type, actor: SCHEDULE_ACTOR, subject: `service:${service}`, data: { service, ...(url ? { database: maskUrl(url) } : {}), scheduled: true, ...data } }).catch((e: unknown) => this.deps.logger?.error({ err: e, service, type }, 'cannot record the scheduled audit on the event log'));
  }

  private async run(service: string): Promise<AuditRunOutcome> {
    const at = new Date(this.deps.now()).toISOString();
    const d = this.deps.config().raw.services[service]?.database;
    const url = d?.url ?? '';
    const failOn = d ? auditSettingsOf(d).fail_on : 'warn';
    const before = this.readState(service);
    let report: AuditReport;
    try {
      if (!d) throw new Error(`service "${service}" has no database: section any more`);
      report = await this.deps.audit(service);
    } catch (e) {
      const error = scrubFor(url)((e as Error).message ?? String(e));
      this.writeState(service, { last: { at, ok: false, error } });
      await this.emit(service, url, 'db.audit_failed', { summary: `scheduled audit of ${service} failed: ${error.slice(0, 300)}`, error });
      this.deps.logger?.warn({ service, error }, 'scheduled audit failed');
      return { service, at, ok: false, error };
    }
    const now: FindingRef[] = report.findings.map((f) => ({ rule: f.rule, level: f.level, object: f.object }));
    const had = new Set((before.findings ?? []).map(keyOf));
    const has = new Set(now.map(keyOf));
    const added = now.filter((f) => !had.has(keyOf(f)));
    const resolved = (before.findings ?? []).filter((f) => !has.has(keyOf(f)));
    const min = AUDIT_LEVELS.indexOf(failOn);
    const regressed = added.filter((f) => AUDIT_LEVELS.indexOf(f.level) >= min);
    const summary = auditSummary(report, service);
    const suppressed = report.suppressed?.length ?? 0;
    this.writeState(service, { last: { at, ok: true }, findings: now });
    await this.emit(service, url, 'db.audit_completed', {
      summary,
      counts: report.counts,
      suppressed,
      unused_suppressions: (report.unused_suppressions ?? []).map(({ rule, object, source }) => ({ rule, ...(object !== undefined ? { object } : {}), ...(source ? { source } : {}) })),
      new: added.slice(0, LISTED),
      resolved: resolved.slice(0, LISTED),
      new_total: added.length,
      resolved_total: resolved.length,
      ...(before.findings === undefined ? { first_run: true } : {}),
      fail_on: failOn,
    });
    if (regressed.length > 0) {
      const shown = regressed.slice(0, 3).map((f) => `${f.rule} ${f.object}`).join(', ');
      await this.emit(service, url, 'db.audit_regressed', {
        summary: `audit of ${service}: ${regressed.length} new finding${regressed.length === 1 ? '' : 's'} at ${failOn} or worse: ${shown}${regressed.length > 3 ? `, and ${regressed.length - 3} more` : ''}`,
        fail_on: failOn,
        findings: regressed.slice(0, LISTED),
        total: regressed.length,
      });
    }
    return { service, at, ok: true, summary, counts: report.counts, suppressed, new: added, resolved, regressed };
  }
}
