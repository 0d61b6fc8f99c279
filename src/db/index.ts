/**
 * The database domain: operations on each service's own PostgreSQL (not Shipshape's store).
 * Migrations first: `shipshape db new | migrate | rollback | status | verify | baseline | repair |
 * hash`, run against the target directly, with a tracking table there, an advisory lock, and an
 * event on Shipshape's log for every change (`db.*`, with `data.service`, so migrations appear on
 * incident timelines); then backups with pg_dump, verified by restoring them (`db backup | backups |
 * verify-backup | restore | prune`). While the server runs, backups are taken, verified and pruned
 * (grandfather-father-son) on each service's `database.backups.schedule` (schedule.ts), and an
 * `absent(backup.<service>)` alert rule reads `backupSignalReader(…)`. The deploy pipeline asks
 * `use(db).pending(…)` for its pending-migrations gate and `use(db).latestBackup(…)` for its
 * fresh-backup gate. `db top | cancel | terminate` (top.ts) show and stop what the database is busy
 * with. `db audit` (audit.ts) runs the catalog checklist, with each service's `database.audit`
 * settings and suppressions (audit-report.ts), and on its `audit.schedule` (audit-schedule.ts).
 * See docs/db.md.
 */
import type { Config } from '../core/config/load.js';
import { ServiceError } from '../core/errors.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { registerDbCommands } from './cli.js';
import type { AuditReport, BackupListItem, BackupsReport } from './api-types.js';
import { dbAudit, type AuditOptions } from './audit.js';
import { applySuppressions, configSuppressions } from './audit-report.js';
import { AuditScheduler, type AuditRunOutcome } from './audit-schedule.js';
import { Backups, backupBefore, backupKey, type BackupInfo, type PruneResult } from './backup.js';
import { auditSettingsOf, backupsDirOf, dbConfig, migrationsDirOf, s3SettingsOf, type DbRaw } from './config.js';
import { BackupScheduler, readBackupSignal, type BackupSignal, type ScheduledOutcome } from './schedule.js';
import { dbRoutes } from './routes.js';
import { Migrations, type MigrationTarget, type PendingReport, type RunResult } from './service.js';

export type { DatabaseConfig, DbRaw } from './config.js';
export { maskUrl, poolerProblem } from './target.js';
export { DEFAULT_TABLE, MigrationFailed, Migrations } from './service.js';
export { Backups } from './backup.js';
export type { BackupInfo, BackupManifest, PruneItem, PruneResult, ScheduledRun, ScheduleState, TableFigure, Verification } from './backup.js';
export { planRetention, type RetentionDecision, type RetentionItem, type RetentionPolicy } from './retention.js';
export { BackupScheduler, type BackupSignal, type ScheduledOutcome } from './schedule.js';
export { AuditScheduler, type AuditRunOutcome, type FindingRef } from './audit-schedule.js';
export { applySuppressions, auditSummary, auditToSarif } from './audit-report.js';
export type { AuditFinding, AuditLevel, AuditReport, AuditSuppressedFinding, AuditSuppression } from './api-types.js';
export { dbTop, type ConnectionsReport, type IndexStat, type RunningQuery, type SlowStatement, type StatementsReport, type StopOutcome, type TableStat, type TopReport } from './top.js';
export type { AppliedInfo, DriftInfo, EventSink, MigrateProgress, MigrationTarget, PendingInfo, PendingReport, PlanItem, RunResult, StatusReport } from './service.js';

export const DB_EVENTS = [
  'db.migrated',
  'db.migration_failed',
  'db.rolled_back',
  'db.rollback_failed',
  'db.baselined',
  'db.repaired',
  'db.backup_completed',
  'db.backup_failed',
  'db.backup_verified',
  'db.backup_verify_failed',
  'db.restored',
  'db.restore_failed',
  'db.backup_pruned',
  'db.query_cancelled',
  'db.query_terminated',
  'db.audit_completed',
  'db.audit_regressed',
  'db.audit_failed',
] as const;

/** What an alert rule reads for `absent(backup.<service>)`: the service's backup signal, or why there is none. */
export type BackupSignalReader = (service: string) => Promise<BackupSignal | { error: string }>;

/**
 * Read services' backup signals from the config in force and the backups on disk (manifests and
 * the scheduler's record, never a dump): what the alerts engine and `shipshape alerts test` use.
 * Pure apart from the reads, so it works without this module running.
 */
export function backupSignalReader(config: () => Config<DbRaw>, dataDir: string): BackupSignalReader {
  const backups = new Backups({ s3: s3SettingsOf(config) });
  return async (service) => {
    const cfg = config();
    const svc = cfg.raw.services[service];
    if (!svc) return { error: `no service "${service}" in the config` };
    if (!svc.database) return { error: `service "${service}" has no database: section, so it has no backups` };
    try {
      return await readBackupSignal(backups, backupsDirOf(cfg.file, svc.database), service, dataDir);
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
}

export interface DbDomain extends ModuleLifecycle<DbRaw> {
  /** migrations against any target (url + dir) */
  service: Migrations;
  /** the target of a service with a `database:` section (its URL, its migrations directory, resolved) */
  targetOf(service: string): MigrationTarget;
  /**
   * What `migrate` would apply and whether applied files changed (drift): the deploy gate's
   * question. Give a service with a `database:` section, or a URL and a directory.
   */
  pending(opts: { service: string } | { url: string; dir: string; table?: string; service?: string }): Promise<PendingReport>;
  /** backups against any URL and directory */
  backups: Backups;
  /** the newest backup of a service's database (verified ones only with `verified`; taken for that service: its manifest names it), or null: the deploy's "fresh backup" gate */
  latestBackup(service: string, opts?: { verified?: boolean }): Promise<BackupInfo | null>;
  /** apply a service's pending migrations, with a verified backup first when its database says backup_before */
  migrate(service: string, opts: { actor: string; to?: number; outOfOrder?: boolean }): Promise<RunResult>;
  /** the backup schedules in force */
  scheduler: BackupScheduler;
  /** run the scheduled backups and verifications due now (a timer armed at the next due time does it; tests move the clock and call this) */
  tick(): Promise<ScheduledOutcome[]>;
  /** apply a service's `backups.keep` now (what `shipshape db prune` does) */
  prune(service: string, opts: { actor: string; dryRun?: boolean }): Promise<PruneResult>;
  /** a service's backups, newest first, as the API lists them (no server paths) */
  listBackups(service: string, opts?: { limit?: number }): Promise<BackupsReport>;
  /** audit a service's database with its `database.audit` settings (schemas and roles unless given) and its suppressions applied */
  audit(service: string, opts?: Pick<AuditOptions, 'exposedSchemas' | 'roles' | 'longQueryMs'>): Promise<AuditReport>;
  /** the audit schedules in force */
  audits: AuditScheduler;
  /** run the scheduled audits due now (the module's timer does it with the backups; tests move the clock and call this) */
  auditTick(): Promise<AuditRunOutcome[]>;
}

/** A backup as the API lists it: the manifest without its per-table figures and server path. */
const listItem = (b: BackupInfo): BackupListItem => ({ id: b.id, created_at: b.created_at, format: b.format, size: b.size, duration_ms: b.duration_ms, tables: b.tables.length, encrypted: b.encryption !== undefined, sha256: b.sha256, verified: b.verified });

export function createDb(ctx: ModuleContext<unknown, DbRaw>): DbDomain {
  const service = new Migrations({ events: ctx.events, version: ctx.version });
  const backups = new Backups({ events: ctx.events, now: ctx.now, s3: s3SettingsOf(ctx.config) });
  const log = ctx.logger.child({ component: 'db' });
  const scheduler = new BackupScheduler({ backups, config: ctx.config, now: ctx.now, dataDir: ctx.dataDir, logger: log });
  // the domain (below) runs each audit with the service's settings and suppressions
  const audits = new AuditScheduler({ config: ctx.config, now: ctx.now, dataDir: ctx.dataDir, audit: (name) => domain.audit(name), events: ctx.events, logger: log });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** one timer at the next due run (backups and audits); setTimeout's range is ~24.8 days, so wake at least hourly and look again */
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const dues = [scheduler.nextDue(), audits.nextDue()].filter((t): t is number => t !== null);
    if (dues.length === 0 || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void Promise.all([
        scheduler.tick().catch((e: unknown) => log.error({ err: e }, 'scheduled backups failed')),
        audits.tick().catch((e: unknown) => log.error({ err: e }, 'scheduled audits failed')),
      ]).finally(arm);
    }, Math.min(Math.max(0, Math.min(...dues) - ctx.now()), 3_600_000));
    timer.unref();
  };
  /** a service's `database:` section and its backups directory (not_found without one) */
  const databaseOf = (name: string) => {
    const cfg = ctx.config();
    const svc = cfg.raw.services[name];
    if (!svc) throw new ServiceError('not_found', `no service "${name}" in ${cfg.file}`);
    if (!svc.database) throw new ServiceError('not_found', `service "${name}" has no database: section in ${cfg.file}`);
    return { database: svc.database, backupsDir: backupsDirOf(cfg.file, svc.database) };
  };
  const targetOf = (name: string): MigrationTarget => {
    const cfg = ctx.config();
    const { database: d } = databaseOf(name);
    if (!d.url) throw new ServiceError('invalid', `services.${name}.database.url is empty in ${cfg.file} (is the variable it names set?)`);
    return { url: d.url, dir: migrationsDirOf(cfg.file, d), table: d.table, service: name };
  };
  const domain: DbDomain = {
    service,
    targetOf,
    pending: (o) => service.pending('url' in o ? o : targetOf(o.service)),
    backups,
    latestBackup(name, o = {}) {
      // services may share a directory: only this service's backups count
      return backups.latest(databaseOf(name).backupsDir, { ...o, service: name });
    },
    async listBackups(name, o = {}) {
      const dir = databaseOf(name).backupsDir;
      const items = await backups.list(dir, { service: name });
      return { dir, total: items.length, items: items.slice(0, o.limit ?? 50).map(listItem) };
    },
    async migrate(name, o) {
      const t = targetOf(name);
      const cfg = ctx.config();
      const d = cfg.raw.services[name]?.database;
      const key = d?.backups.encrypt ? backupKey() : undefined;
      if (d?.backup_before && d.backups.encrypt && !key) throw new ServiceError('invalid', `services.${name}.database.backups.encrypt is on but SHIPSHAPE_BACKUP_KEY is not set`);
      const hook = d?.backup_before ? backupBefore(backups, { url: t.url, dest: backupsDirOf(cfg.file, d), service: name, actor: o.actor, ...(key ? { key } : {}) }) : undefined;
      return service.migrate(t, { ...o, ...(hook ? { beforeApply: hook } : {}), ...(d?.lock_timeout !== undefined ? { lockTimeoutMs: d.lock_timeout } : {}) });
    },
    async audit(name, o = {}) {
      const { database: d } = databaseOf(name);
      const a = auditSettingsOf(d);
      const report = await dbAudit(targetOf(name).url, { exposedSchemas: o.exposedSchemas ?? a.schemas, roles: o.roles ?? a.roles, ...(o.longQueryMs !== undefined ? { longQueryMs: o.longQueryMs } : {}) });
      return applySuppressions(report, configSuppressions(name, a.suppress));
    },
    audits,
    auditTick: () => audits.tick(),
    scheduler,
    tick: () => scheduler.tick(),
    async prune(name, o) {
      const cfg = ctx.config();
      const { database: d, backupsDir } = databaseOf(name);
      if (!d.backups.keep) throw new ServiceError('invalid', `services.${name}.database.backups has no keep: policy in ${cfg.file}, so nothing is pruned (add keep: { daily: 7, weekly: 4, monthly: 12 })`);
      return backups.prune({ dir: backupsDir, service: name, policy: d.backups.keep, timezone: d.backups.timezone, actor: o.actor, dryRun: Boolean(o.dryRun) });
    },
    async start() {
      scheduler.sync();
      audits.sync();
      arm();
    },
    async apply() {
      scheduler.sync();
      audits.sync();
      arm();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await audits.stop();
      await scheduler.stop();
      await backups.close();
    },
    routes(app) {
      dbRoutes(app, domain);
    },
  };
  return domain;
}

export const db = defineModule<DbDomain, unknown, DbRaw>({
  name: 'db',
  description: 'database operations on each service\'s own PostgreSQL: SQL migrations with a tracking table, advisory lock, drift and gap checks; verified backups on a schedule with grandfather-father-son retention',
  config: dbConfig,
  events: DB_EVENTS,
  create: (ctx) => createDb(ctx),
  cli: registerDbCommands,
});
