/**
 * Scheduled backups while `shipshape up` runs: for each service whose `database.backups` has a
 * `schedule`, take a backup at each cron time (read in `backups.timezone`), verify it when
 * `verify: true`, then prune by `keep`; with `verify: <cron>`, verify the newest unverified
 * backup on that schedule instead.
 *
 * The scheduler is driven by its clock: `tick()` runs whatever is due at `now()`, `nextDue()` says
 * when the next run is due, and the module arms one timer at that instant (src/db/index.ts), so tests
 * move a fake clock and call `tick()` rather than wait. Each run is recorded in
 * `<backups dir>/.schedule-<service>.json` (what an `absent(backup.<service>)` alert reads). A run
 * missed while Shipshape was down is taken once at the next start (the next cron time after the
 * last recorded run has passed). Runs of one service never overlap; services run side by side.
 * `stop()` aborts a pg_dump or pg_restore in flight (its partial backup is removed and the run
 * recorded as failed) and waits for it.
 */
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Config } from '../core/config/load.js';
import { backupKey, readScheduleState, scheduleStateDir, writeScheduleState, type Backups, type PruneResult, type ScheduledRun } from './backup.js';
import { backupsDirOf, type DbRaw } from './config.js';
import { maskUrl } from './target.js';

export const SCHEDULE_ACTOR = 'schedule';

export interface ScheduledOutcome {
  service: string;
  kind: 'backup' | 'verify';
  /** when the run started (the scheduler's clock) */
  at: string;
  ok: boolean;
  /** the backup taken or verified */
  id?: string;
  error?: string;
  /** verified by a restore in this run */
  verified?: boolean;
  /** ids deleted by the retention policy after the run */
  pruned?: string[];
  /** nothing to do (a verify schedule with every backup already verified) */
  skipped?: string;
}

interface Job {
  service: string;
  kind: 'backup' | 'verify';
  expr: string;
  timezone: string;
  cron: Cron;
  /** epoch ms of the next run; null when the expression has no future time */
  next: number | null;
}

export interface SchedulerDeps {
  backups: Backups;
  config: () => Config<DbRaw>;
  now: () => number;
  /** Shipshape's data directory: the scheduler's record for backups in S3 lives under it */
  dataDir: string;
  logger?: Logger;
}

/** The first time `cron` fires after `t` (epoch ms), or null when it never does again. */
export const nextAfter = (cron: Cron, t: number): number | null => cron.nextRun(new Date(t))?.getTime() ?? null;

/** The earliest `next` of a scheduler's jobs, or null when none is due ever: the one timer the db module arms. */
export function earliestDue(jobs: Iterable<{ next: number | null }>): number | null {
  let min: number | null = null;
  for (const j of jobs) if (j.next !== null && (min === null || j.next < min)) min = j.next;
  return min;
}

export class BackupScheduler {
  private jobs = new Map<string, Job>();
  /** the run chain of each service (runs of one service never overlap) */
  private readonly chains = new Map<string, Promise<unknown>>();
  /** backups this process is verifying: prune leaves them alone */
  private readonly busy = new Set<string>();
  private abort = new AbortController();
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** (Re)read the schedules from the config in force: at start and on every reload. A job whose expression did not change keeps its next time. */
  sync(): void {
    const cfg = this.deps.config();
    const now = this.deps.now();
    const next = new Map<string, Job>();
    for (const [service, svc] of Object.entries(cfg.raw.services)) {
      const b = svc.database?.backups;
      if (!svc.database || !b) continue;
      const wanted: { kind: 'backup' | 'verify'; expr: string }[] = [];
      if (b.schedule) wanted.push({ kind: 'backup', expr: b.schedule });
      if (typeof b.verify === 'string') wanted.push({ kind: 'verify', expr: b.verify });
      if (!wanted.length) continue;
      const dir = backupsDirOf(cfg.file, svc.database);
      const stateDir = scheduleStateDir(dir, this.deps.dataDir);
      let state = readScheduleState(stateDir, service);
      if (!state.since) {
        try {
          state = writeScheduleState(stateDir, service, { since: new Date(now).toISOString() });
        } catch (e) {
          this.deps.logger?.error({ err: e, service }, 'cannot write the backup schedule state');
        }
      }
      for (const w of wanted) {
        const key = `${service}:${w.kind}`;
        const old = this.jobs.get(key);
        if (old && old.expr === w.expr && old.timezone === b.timezone) {
          next.set(key, old);
          continue;
        }
        const cron = new Cron(w.expr, { paused: true, mode: '5-part', timezone: b.timezone });
        // the first time after the last recorded run (or, before any, after the scheduler began to
        // watch): in the past when a run was missed while Shipshape was down, so it runs at once
        const stamp = (t: string | undefined) => (t !== undefined && !Number.isNaN(Date.parse(t)) ? Date.parse(t) : undefined);
        const from = stamp(state[w.kind]?.at) ?? stamp(state.since) ?? now;
        next.set(key, { service, kind: w.kind, expr: w.expr, timezone: b.timezone, cron, next: nextAfter(cron, from) });
      }
    }
    this.jobs = next;
  }

  /** The scheduled runs, for `db schedule`-like views and tests. */
  list(): { service: string; kind: 'backup' | 'verify'; schedule: string; timezone: string; next: string | null }[] {
    return [...this.jobs.values()].map((j) => ({ service: j.service, kind: j.kind, schedule: j.expr, timezone: j.timezone, next: j.next === null ? null : new Date(j.next).toISOString() }));
  }

  /** Epoch ms of the next run due, or null when nothing is scheduled. */
  nextDue(): number | null {
    return earliestDue(this.jobs.values());
  }

  /** Run every job due at `now()` (each once, however many times were missed) and wait for them. */
  async tick(): Promise<ScheduledOutcome[]> {
    if (this.stopped) return [];
    const now = this.deps.now();
    const runs: Promise<ScheduledOutcome>[] = [];
    for (const j of this.jobs.values()) {
      if (j.next === null || j.next > now) continue;
      j.next = nextAfter(j.cron, now);
      runs.push(this.enqueue(j.service, () => (j.kind === 'backup' ? this.runBackup(j.service) : this.runVerify(j.service))));
    }
    return Promise.all(runs);
  }

  /** Stop: no new runs; a dump or restore in flight is aborted, and waited for. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort('stopped: Shipshape is shutting down');
    await Promise.all([...this.chains.values()].map((p) => p.catch(() => undefined)));
  }

  /** Wait for the runs in flight (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()].map((p) => p.catch(() => undefined)));
  }

  private enqueue<T>(service: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(service) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(service, tail);
    void tail.then(() => {
      if (this.chains.get(service) === tail) this.chains.delete(service);
    });
    return run;
  }

  /** The service's database config now (it may have changed since the job was armed), or a reason it has none. */
  private target(service: string): { url: string; dir: string; d: NonNullable<DbRaw['services'][string]['database']> } | string {
    const cfg = this.deps.config();
    const d = cfg.raw.services[service]?.database;
    if (!d) return `service "${service}" has no database: section any more`;
    return { url: d.url, dir: backupsDirOf(cfg.file, d), d };
  }

  private record(dir: string, service: string, kind: 'backup' | 'verify', run: ScheduledRun): void {
    try {
      writeScheduleState(scheduleStateDir(dir, this.deps.dataDir), service, { [kind]: run });
    } catch (e) {
      this.deps.logger?.error({ err: e, service }, 'cannot record the scheduled backup run');
    }
  }

  private async pruneAfter(service: string, dir: string, d: NonNullable<DbRaw['services'][string]['database']>): Promise<PruneResult | undefined> {
    if (!d.backups.keep || this.stopped) return undefined;
    try {
      return await this.deps.backups.prune({ dir, service, policy: d.backups.keep, timezone: d.backups.timezone, actor: SCHEDULE_ACTOR, busy: this.busy });
    } catch (e) {
      this.deps.logger?.error({ err: e, service }, 'pruning backups failed');
      return undefined;
    }
  }

  private async runBackup(service: string): Promise<ScheduledOutcome> {
    const at = new Date(this.deps.now()).toISOString();
    const t = this.target(service);
    if (typeof t === 'string') return { service, kind: 'backup', at, ok: false, error: t };
    const { url, dir, d } = t;
    const signal = this.abort.signal;
    let id: string | undefined;
    /** pg_dump was started: from there on, Backups records failures on the log itself */
    let dumped = false;
    try {
      if (!url) throw new Error(`services.${service}.database.url is empty (is the variable it names set?)`);
      let key: Buffer | undefined;
      if (d.backups.encrypt) {
        key = backupKey();
        if (!key) throw new Error(`services.${service}.database.backups.encrypt is on but SHIPSHAPE_BACKUP_KEY is not set`);
      }
      dumped = true;
      const b = await this.deps.backups.backup({ url, dest: dir, service, actor: SCHEDULE_ACTOR, signal, ...(key ? { encryptKey: key } : {}) });
      id = b.id;
      let verified: boolean | undefined;
      if (d.backups.verify === true) {
        this.busy.add(b.path);
        try {
          const v = await this.deps.backups.verify({ backup: b, url, actor: SCHEDULE_ACTOR, service, signal, ...(key ? { key } : {}) });
          if (!v.ok) throw new Error(`backup ${b.id} did not verify: ${v.mismatches.slice(0, 3).join('; ')}`);
          verified = true;
        } finally {
          this.busy.delete(b.path);
        }
      }
      this.record(dir, service, 'backup', { at, ok: true, id: b.id });
      const pruned = await this.pruneAfter(service, dir, d);
      return { service, kind: 'backup', at, ok: true, id: b.id, ...(verified ? { verified } : {}), ...(pruned ? { pruned: pruned.pruned.map((p) => p.id) } : {}) };
    } catch (e) {
      const error = (e as Error).message;
      // a run cut short by a shutdown is not recorded: the next start takes it again (a missed run)
      if (signal.aborted) return { service, kind: 'backup', at, ok: false, ...(id ? { id } : {}), error };
      this.record(dir, service, 'backup', { at, ok: false, ...(id ? { id } : {}), error });
      // failures before pg_dump ran (no URL, no key) are not on the log yet
      if (!dumped) await this.deps.backups.emit(service, url, SCHEDULE_ACTOR, 'db.backup_failed', { summary: `scheduled backup failed: ${error}`, error, scheduled: true });
      this.deps.logger?.warn({ service, database: url ? maskUrl(url) : undefined, error }, 'scheduled backup failed');
      return { service, kind: 'backup', at, ok: false, ...(id ? { id } : {}), error };
    }
  }

  private async runVerify(service: string): Promise<ScheduledOutcome> {
    const at = new Date(this.deps.now()).toISOString();
    const t = this.target(service);
    if (typeof t === 'string') return { service, kind: 'verify', at, ok: false, error: t };
    const { url, dir, d } = t;
    let list;
    try {
      list = await this.deps.backups.list(dir, { service });
    } catch (e) {
      // storage that cannot be listed (an S3 bucket out of reach) is a failed run, like any other
      const error = (e as Error).message;
      this.record(dir, service, 'verify', { at, ok: false, error });
      this.deps.logger?.warn({ service, error }, 'scheduled verification failed');
      return { service, kind: 'verify', at, ok: false, error };
    }
    const b = list.find((x) => x.verified === null);
    if (!b) return { service, kind: 'verify', at, ok: true, skipped: 'every backup is already verified (or there is none)' };
    this.busy.add(b.path);
    try {
      if (!url) throw new Error(`services.${service}.database.url is empty (is the variable it names set?): it names the server to restore into`);
      const key = backupKey();
      const v = await this.deps.backups.verify({ backup: b, url, actor: SCHEDULE_ACTOR, service, signal: this.abort.signal, ...(key ? { key } : {}) });
      this.record(dir, service, 'verify', { at, ok: v.ok, id: b.id, ...(v.ok ? {} : { error: v.mismatches.slice(0, 3).join('; ') }) });
      this.busy.delete(b.path);
      const pruned = await this.pruneAfter(service, dir, d);
      return { service, kind: 'verify', at, ok: v.ok, id: b.id, verified: v.ok, ...(v.ok ? {} : { error: v.mismatches.slice(0, 3).join('; ') }), ...(pruned ? { pruned: pruned.pruned.map((p) => p.id) } : {}) };
    } catch (e) {
      const error = (e as Error).message;
      if (this.abort.signal.aborted) return { service, kind: 'verify', at, ok: false, id: b.id, error };
      this.record(dir, service, 'verify', { at, ok: false, id: b.id, error });
      this.deps.logger?.warn({ service, error }, 'scheduled verification failed');
      return { service, kind: 'verify', at, ok: false, id: b.id, error };
    } finally {
      this.busy.delete(b.path);
    }
  }
}

/** What an `absent(backup.<service>)` alert rule reads. */
export interface BackupSignal {
  /** epoch ms the newest backup that did not fail verification was taken; undefined when there is none */
  lastOk?: number;
  lastOkId?: string;
  /** since when the scheduler has watched this service (an alert counts the silence from here until the first backup) */
  since?: number;
  /** the latest scheduled run (a backup, or a scheduled verification) failed after the newest good backup */
  failed?: { kind: 'backup' | 'verify'; at: number; error: string };
}

/** The backup signal of one service's backups in `dir`: manifests (never dumps) and the scheduler's record. */
export async function readBackupSignal(backups: Backups, dir: string, service: string, dataDir: string): Promise<BackupSignal> {
  const good = (await backups.list(dir, { service })).find((b) => b.verified?.ok !== false && !Number.isNaN(Date.parse(b.created_at)));
  const state = readScheduleState(scheduleStateDir(dir, dataDir), service);
  const out: BackupSignal = {};
  if (good) {
    out.lastOk = Date.parse(good.created_at);
    out.lastOkId = good.id;
  }
  const since = state.since ? Date.parse(state.since) : Number.NaN;
  if (!Number.isNaN(since)) out.since = since;
  for (const kind of ['backup', 'verify'] as const) {
    const r = state[kind];
    const at = r ? Date.parse(r.at) : Number.NaN;
    // a failure counts until a good backup taken after it (a run whose dump succeeded but whose verification could not run names that backup)
    if (!r || r.ok || Number.isNaN(at) || (out.lastOk !== undefined && at < out.lastOk && r.id !== out.lastOkId)) continue;
    if (!out.failed || at > out.failed.at) out.failed = { kind, at, error: r.error ?? 'failed' };
  }
  return out;
}
