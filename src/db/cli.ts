/**
 * `shipshape db new | migrate | rollback | status | verify | baseline | repair | hash` and
 * `db backup | backups | verify-backup | restore | prune`, `db audit` and `db top | cancel | terminate`
 * (docs/db.md).
 *
 * These work against the target database directly (no running Shipshape server is needed): the
 * target is `--url`, else the `database:` of the service named with `--service` (from the config
 * file), else DATABASE_URL; the migrations are in `--dir` (default: the service's
 * `database.migrations`, else migrations/). State changes are recorded as `db.*` events in the local
 * Shipshape store when there is one (SHIPSHAPE_DATABASE_URL, or a store in --data-dir); otherwise
 * the command says they were not recorded.
 *
 * Exit codes: 0 ok; `db status` 1 when migrations are pending, 2 on drift (or a shipshape.sum
 * that does not match), 3 when it could not tell; `db verify` 1 when it found a problem, 3 when it
 * could not tell; `db cancel | terminate` 1 when the pid is not a client backend (or, for cancel,
 * runs no query), when a signal failed or the confirmation was declined, 0 when `--older-than`
 * matched nothing; other commands 1 on failure, 2 on bad input.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { CliError, defaultConfig, defaultDataDir, env, fail, green, json, out, red, yellow } from '../core/cli.js';
import { ConfigError } from '../core/config/load.js';
import { formatDuration, formatSize, parseDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import type { EventLog } from '../core/events.js';
import type { CliContext } from '../core/module.js';
import type { Store } from '../core/store/db.js';
import { auditFails, auditOptionsOf, AUDIT_LEVELS, dbAudit, type AuditLevel } from './audit.js';
import { applySuppressions, auditToSarif, configSuppressions, loadSuppressions, suppressionLabel } from './audit-report.js';
import { Backups, backupBefore, backupKey, readScheduleState, scheduleStateDir, type BackupInfo, type PruneResult } from './backup.js';
import { auditSettingsOf, backupsDirOf, migrationsDirOf, s3SettingsOf, type DbRaw } from './config.js';
import type { S3Settings } from './s3.js';
import { nextFile, readMigrationDir, SUM_FILE, writeSum } from './files.js';
import { MigrationFailed, Migrations, type MigrateProgress, type MigrationTarget, type RunResult } from './service.js';
import { summary } from './sql.js';
import { maskUrl, withClient } from './target.js';
import { dbTop, findStopTargets, stopQueries, type RunningQuery, type StopMode, type TopReport } from './top.js';
import { TABLE_RE } from './tracking.js';

interface TargetOpts {
  backups?: string;
  url?: string;
  service?: string;
  config: string;
  dir?: string;
  table?: string;
  dataDir: string;
  json?: boolean;
}

/** What `db audit --format` prints. */
const AUDIT_FORMATS = ['text', 'json', 'sarif'] as const;

function whoami(): string {
  let name = 'cli';
  try {
    name = userInfo().username || 'cli';
  } catch {
    // no passwd entry (a container): keep "cli"
  }
  return `user:${name}@${hostname()}`;
}

/** --url, else the service's database:, else DATABASE_URL; --dir, else the service's, else migrations/. */
function targetOf(o: TargetOpts, ctx: CliContext, needUrl: boolean): MigrationTarget & { url: string; backupsDir: string; backupBefore: boolean; encrypt: boolean; lockTimeoutMs?: number; s3: (location: string) => S3Settings } {
  if (o.table !== undefined && !TABLE_RE.test(o.table)) throw new CliError(`--table: expected schema.table in lower-case letters, digits and _, e.g. shipshape.schema_migrations, got "${o.table}"`, 2);
  let url = o.url;
  let dir = o.dir;
  let table = o.table;
  let backupsDir = o.backups;
  let backupBeforeCfg = false;
  let lockTimeoutMs: number | undefined;
  let encrypt = false;
  let s3: (location: string) => S3Settings = () => ({});
  if (o.service) {
    const cfg = ctx.loadConfig<DbRaw>(o.config);
    s3 = s3SettingsOf(() => cfg);
    const svc = cfg.raw.services[o.service];
    if (!svc) throw new CliError(`no service "${o.service}" in ${o.config} (services: ${Object.keys(cfg.raw.services).join(', ') || 'none'})`, 2);
    if (!svc.database) throw new CliError(`service "${o.service}" in ${o.config} has no database: section (add database: { url: "\${DATABASE_URL}", migrations: migrations/ })`, 2);
    if (url === undefined) {
      if (!svc.database.url) throw new CliError(`services.${o.service}.database.url is empty in ${o.config} (is the variable it names set?)`, 2);
      url = svc.database.url;
    }
    dir ??= migrationsDirOf(cfg.file, svc.database);
    table ??= svc.database.table;
    backupsDir ??= backupsDirOf(cfg.file, svc.database);
    backupBeforeCfg = svc.database.backup_before;
    lockTimeoutMs = svc.database.lock_timeout;
    encrypt = svc.database.backups.encrypt;
  }
  url ??= env.DATABASE_URL;
  if (needUrl && !url) throw new CliError('no database: pass --url, set DATABASE_URL, or name a service with a database: section with --service', 2);
  return { url: url ?? '', dir: dir ?? 'migrations', ...(table ? { table } : {}), ...(o.service ? { service: o.service } : {}), backupsDir: backupsDir ?? join(o.dataDir, 'backups'), backupBefore: backupBeforeCfg, encrypt, ...(lockTimeoutMs !== undefined ? { lockTimeoutMs } : {}), s3 };
}

function withTarget(c: Command, read: boolean): Command {
  c.option('--url <url>', 'the target database (default: the --service\'s database.url, else env DATABASE_URL)')
    .option('--service <name>', 'a service with a database: section in the config file')
    .option('-c, --config <file>', 'config file, for --service', defaultConfig())
    .option('--dir <dir>', 'the migrations directory (default: the service\'s database.migrations, else migrations/)')
    .option('--table <schema.table>', 'the tracking table (default shipshape.schema_migrations)')
    .option('--backups <dir>', 'where backups are kept: a directory or s3://bucket/prefix (default: the service\'s database.backups.dir, else <data dir>/backups)');
  c.option('--data-dir <dir>', `Shipshape's data directory: its store records ${read ? 'nothing for read commands' : 'the events'} (SHIPSHAPE_DATABASE_URL wins), and backups default to <data dir>/backups`, defaultDataDir());
  return c.option('--json', 'print the result as JSON');
}

/** The local store's event log when there is a store; otherwise undefined and a note on stderr. */
async function openEvents(ctx: CliContext, dataDir: string): Promise<{ events?: EventLog; close: () => Promise<void> }> {
  const databaseUrl = env.SHIPSHAPE_DATABASE_URL;
  if (!databaseUrl && !existsSync(join(dataDir, 'shipshape.db'))) {
    process.stderr.write(`note: no Shipshape store in ${dataDir} (and no SHIPSHAPE_DATABASE_URL): this run is not recorded on the event log\n`);
    return { close: async () => undefined };
  }
  let store: Store | undefined;
  try {
    store = await ctx.openStore({ dataDir, ...(databaseUrl ? { databaseUrl } : {}), migrate: false });
    return { events: ctx.eventLog(store), close: () => (store as Store).close() };
  } catch (e) {
    process.stderr.write(`note: cannot open the Shipshape store (${(e as Error).message}): this run is not recorded on the event log\n`);
    return { close: async () => undefined };
  }
}

/** SHIPSHAPE_BACKUP_KEY, required. */
function requireKey(): Buffer {
  const key = backupKey();
  if (!key) throw new CliError('encrypting a backup needs SHIPSHAPE_BACKUP_KEY: 32 bytes as 64 hex characters or base64 (make one with `openssl rand -base64 32` and keep it apart from the backups)', 2);
  return key;
}

function waitOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDuration(text);
  if (ms === undefined) throw new CliError(`--wait: expected a duration like 30s or 5m, got "${text}"`, 2);
  return ms;
}

function intOf(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,18}$/.test(text)) throw new CliError(`${flag}: expected a migration version (a whole number like 12 or 20240131120000), got "${text}"`, 2);
  return Number(text);
}

function printer(): (p: MigrateProgress) => void {
  return (p) => {
    if (p.type === 'migration') {
      const what = `${p.statements} statement${p.statements === 1 ? '' : 's'}${p.outside ? `, ${p.outside} outside a transaction` : ''}`;
      out(`${yellow('▸')} ${p.direction === 'down' ? 'rolling back ' : ''}${p.filename} (${what})${p.resume_from ? `: resuming at statement ${p.resume_from + 1}` : ''}`);
    } else if (p.type === 'outside') out(`  ↳ statement ${p.index + 1} outside a transaction (${p.reason}): ${p.statement}`);
    else out(`${green('✓')} ${p.direction === 'down' ? 'rolled back ' : ''}${p.filename} (${formatDuration(p.duration_ms)})`);
  };
}

function printPlan(r: RunResult, verb: string): void {
  if (r.plan.length === 0) {
    out(`nothing to ${verb}: ${r.database} is up to date`);
    return;
  }
  out(`dry run on ${r.database}: nothing is changed`);
  for (const p of r.plan) {
    out(`would ${p.direction === 'up' ? 'apply' : 'roll back'} ${p.filename}${p.resume_from ? ` from statement ${p.resume_from + 1}` : ''}${p.out_of_order ? ' (out of order)' : ''}: ${p.statements.length} statement${p.statements.length === 1 ? '' : 's'}`);
    for (const s of p.statements) out(`  ${String(s.index + 1).padStart(3)}  line ${String(s.line).padEnd(4)} ${s.outside ? yellow(`[outside a transaction: ${s.outside}] `) : ''}${summary(s.sql, 100)}`);
  }
}

/** A service error or a failed migration as a CLI error with the right exit code. */
function cliErrorOf(e: unknown, readExit?: number): unknown {
  if (e instanceof MigrationFailed) return new CliError(e.message, readExit ?? 1);
  if (e instanceof ServiceError) return new CliError(e.message, readExit ?? (e.kind === 'invalid' || e.kind === 'not_found' ? 2 : 1));
  if (readExit !== undefined && e instanceof CliError) return new CliError(e.message, readExit);
  return e;
}

export function registerDbCommands(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('operations on a service\'s own PostgreSQL: migrations (status, migrate, rollback, …)');
  const svc = new Migrations({ version: process.env.npm_package_version ?? 'cli' });

  /** Run a write command with the event log open (when there is a store). */
  const withEvents = async <T>(dataDir: string, fn: (m: Migrations, events?: EventLog) => Promise<T>): Promise<T> => {
    const ev = await openEvents(ctx, dataDir);
    try {
      return await fn(ev.events ? new Migrations({ events: ev.events, version: process.env.npm_package_version ?? 'cli' }) : svc, ev.events);
    } finally {
      await ev.close().catch(() => undefined);
    }
  };

  db.command('new')
    .description('make the next migration file (numbered like the directory, or timestamped) with up and down sections, and update shipshape.sum')
    .argument('<name>', 'what it does, e.g. add_billing_and_orgs')
    .option('--dir <dir>', 'the migrations directory', 'migrations')
    .option('--timestamp', 'name it with a UTC timestamp (20240131120000_…) instead of the next number')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ shipshape db new add_billing_and_orgs      # migrations/014_add_billing_and_orgs.sql')
    .action((name: string, o: { dir: string; timestamp?: boolean; json?: boolean }) => {
      try {
        if (!existsSync(o.dir)) mkdirSync(o.dir, { recursive: true });
        const d = readMigrationDir(o.dir);
        if (d.sum.state === 'mismatch') throw new CliError(`${join(o.dir, SUM_FILE)} does not match the directory: review the changes and run \`shipshape db hash\` first`);
        const next = nextFile(d, name, new Date(), o.timestamp ? 'timestamp' : undefined);
        const path = join(o.dir, next.filename);
        writeFileSync(path, `-- migrate:up\n\n\n-- migrate:down\n\n`, { flag: 'wx' });
        writeSum(o.dir);
        if (o.json) json({ path, version: next.version, filename: next.filename });
        else out(`created ${path}\n(write the SQL, then \`shipshape db hash --dir ${o.dir}\` so ${SUM_FILE} matches it)`);
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  db.command('hash')
    .description(`write ${SUM_FILE}: the chained hash of the migrations directory (commit it; two branches adding the same number then conflict)`)
    .option('--dir <dir>', 'the migrations directory', 'migrations')
    .action((o: { dir: string }) => {
      try {
        const text = writeSum(o.dir);
        out(`wrote ${join(o.dir, SUM_FILE)} (${text.split('\n').length - 2} files)`);
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('migrate').description('apply pending migrations in order, each in its own transaction (statements that cannot run in one run outside it, resumably)'), false)
    .option('--to <version>', 'stop after this version')
    .option('--dry-run', 'print what would run and change nothing')
    .option('--out-of-order', 'also apply pending files older than an applied one (a gap filled later)')
    .option('--wait <duration>', 'wait this long for another migrator to finish instead of refusing (e.g. 5m)')
    .option('--lock-timeout <duration>', 'fail a statement (and roll its migration back) when it waits longer than this for a table lock, e.g. 5s, instead of queueing the app behind it')
    .option('--backup-before', 'take a backup and verify it in a scratch database before applying anything (the service\'s database.backup_before does the same)')
    .addHelpText('after', '\nExamples:\n  $ DATABASE_URL=postgres://… shipshape db migrate\n  $ shipshape db migrate --service web --dry-run\n  $ shipshape db migrate --to 12')
    .action(async (o: TargetOpts & { to?: string; dryRun?: boolean; outOfOrder?: boolean; wait?: string; backupBefore?: boolean; lockTimeout?: string }) => {
      try {
        const t = targetOf(o, ctx, true);
        const to = intOf('--to', o.to);
        const waitMs = waitOf(o.wait);
        const lockTimeoutMs = o.lockTimeout === undefined ? t.lockTimeoutMs : parseDuration(o.lockTimeout);
        if (o.lockTimeout !== undefined && lockTimeoutMs === undefined) throw new CliError(`--lock-timeout: expected a duration like 5s, got "${o.lockTimeout}"`, 2);
        const run = async (m: Migrations, events?: EventLog) => {
          const bk = new Backups({ s3: t.s3, ...(events ? { events } : {}) });
          try {
            return await migrateWith(m, bk);
          } finally {
            await bk.close();
          }
        };
        const migrateWith = (m: Migrations, bk: Backups) =>
          m.migrate(t, {
            ...(o.backupBefore || t.backupBefore
              ? { beforeApply: backupBefore(bk, { url: t.url, dest: t.backupsDir, actor: whoami(), ...(t.service ? { service: t.service } : {}), ...(t.encrypt ? { key: requireKey() } : {}), onStep: (msg) => (o.json ? undefined : out(`${yellow('▸')} ${msg}`)) }) }
              : {}),
            actor: whoami(),
            ...(to !== undefined ? { to } : {}),
            dryRun: Boolean(o.dryRun),
            outOfOrder: Boolean(o.outOfOrder),
            waitMs,
            ...(lockTimeoutMs !== undefined ? { lockTimeoutMs } : {}),
            ...(o.json ? {} : { onProgress: printer() }),
            onWait: (holder) => process.stderr.write(`waiting for the migration lock: ${holder} holds it\n`),
            ...(o.json ? {} : { onNote: (n: string) => process.stderr.write(`note: ${n}\n`) }),
          });
        const r = o.dryRun ? await run(svc) : await withEvents(o.dataDir, run);
        if (o.json) {
          json(r);
          return;
        }
        if (r.dry_run) printPlan(r, 'migrate');
        else if (r.done.length === 0) out(`nothing to migrate: ${r.database} is up to date`);
        else out(green(`applied ${r.done.length} migration${r.done.length === 1 ? '' : 's'} to ${r.database}`));
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('rollback').description('undo the last applied migration(s) with their -- migrate:down sections'), false)
    .option('--steps <n>', 'how many migrations to undo, newest first', '1')
    .option('--dry-run', 'print what would run and change nothing')
    .option('--wait <duration>', 'wait this long for another migrator to finish instead of refusing')
    .action(async (o: TargetOpts & { steps: string; dryRun?: boolean; wait?: string }) => {
      try {
        const t = targetOf(o, ctx, true);
        if (!/^[1-9]\d{0,5}$/.test(o.steps)) throw new CliError(`--steps: expected a whole number of at least 1, got "${o.steps}"`, 2);
        const waitMs = waitOf(o.wait);
        const run = (m: Migrations) => m.rollback(t, { actor: whoami(), steps: Number(o.steps), dryRun: Boolean(o.dryRun), waitMs, ...(o.json ? {} : { onProgress: printer() }) });
        const r = o.dryRun ? await run(svc) : await withEvents(o.dataDir, run);
        if (o.json) json(r);
        else if (r.dry_run) printPlan(r, 'roll back');
        else out(green(`rolled back ${r.done.length} migration${r.done.length === 1 ? '' : 's'} on ${r.database}`));
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('status').description('applied and pending migrations, drift, gaps; exits 1 when some are pending, 2 on drift'), true)
    .action(async (o: TargetOpts) => {
      try {
        const t = targetOf(o, ctx, true);
        const st = await svc.status(t);
        const code = st.drift.length || st.sum === 'mismatch' ? 2 : st.pending.length ? 1 : 0;
        if (o.json) json(st);
        else {
          out(`${st.database} (${st.table}), migrations in ${relative(process.cwd(), resolve(st.dir)) || '.'}`);
          const table = new Table({ head: ['version', 'file', 'state', 'applied', 'by', 'took'], style: { head: [], border: [] } });
          const rows: { v: number; cells: string[] }[] = [];
          for (const a of st.applied) rows.push({ v: a.version, cells: [a.label, a.filename, a.state === 'baseline' ? 'baseline' : green('applied'), a.applied_at.replace('T', ' ').slice(0, 19), a.applied_by, a.state === 'baseline' ? '–' : formatDuration(a.duration_ms)] });
          for (const p of st.pending) {
            const state = p.partial ? red(`partial ${p.partial.statements_applied}/${p.partial.statements_total}`) : p.out_of_order ? yellow('pending (out of order)') : yellow('pending');
            rows.push({ v: p.version, cells: [p.label, p.filename, state, '–', '–', '–'] });
          }
          for (const r of rows.sort((a, b) => a.v - b.v)) table.push(r.cells);
          if (rows.length) out(table.toString());
          else out('no migrations in the directory and none applied');
          for (const g of st.gaps) out(yellow(`gap: ${g} is missing`));
          for (const p of st.pending) if (p.partial?.error) out(red(`${p.filename} stopped at: ${summary(p.partial.failing_statement ?? '')}\n  ${p.partial.error}`));
          for (const d of st.drift) out(red(`drift: ${d.detail}`));
          if (st.sum === 'mismatch') out(red(`drift: ${SUM_FILE} does not match the directory (${st.sum_differences.join(', ')})`));
          if (st.sum === 'missing') out(`no ${SUM_FILE} in the directory (\`shipshape db hash\` makes one)`);
          for (const i of st.ignored) out(yellow(`ignored: ${i} (no version number)`));
          out(code === 2 ? red('drift: the database or the directory changed under the migrations') : code === 1 ? yellow(`${st.pending.length} pending`) : green('up to date'));
        }
        process.exitCode = code;
      } catch (e) {
        fail(cliErrorOf(e, 3));
      }
    });

  withTarget(db.command('verify').description('check every file parses, shipshape.sum matches, and (with a database) nothing drifted; exits 1 on a problem'), true)
    .action(async (o: TargetOpts) => {
      try {
        const t = targetOf(o, ctx, false);
        const r = await svc.verify({ dir: t.dir, ...(t.url ? { url: t.url } : {}), ...(t.table ? { table: t.table } : {}) });
        if (o.json) json(r);
        else {
          for (const p of r.problems) out(`${p.kind === 'ignored' ? yellow('warning') : red('problem')}: ${p.message}`);
          out(r.ok ? green(`ok: ${r.files} migration files${r.database ? `, ${r.database} agrees with them` : ''}`) : red(`${r.problems.filter((p) => p.kind !== 'ignored').length} problem(s)`));
        }
        process.exitCode = r.ok ? 0 : 1;
      } catch (e) {
        fail(cliErrorOf(e, 3));
      }
    });

  withTarget(db.command('baseline').description('record migrations as applied without running them, for a database that already has their schema'), false)
    .option('--version <version>', 'up to this version (default: every file in the directory)')
    .action(async (o: TargetOpts & { version?: string }) => {
      try {
        const t = targetOf(o, ctx, true);
        const version = intOf('--version', o.version);
        const r = await withEvents(o.dataDir, (m) => m.baseline(t, { actor: whoami(), ...(version !== undefined ? { version } : {}) }));
        if (o.json) json(r);
        else out(green(`baselined ${r.baselined.length} migration${r.baselined.length === 1 ? '' : 's'} on ${r.database} (up to ${r.baselined[r.baselined.length - 1]?.filename})`));
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('repair').description('make the tracking table agree with the directory, on the record: accept edited files, forget rows of deleted files and partial runs'), false)
    .requiredOption('--reason <text>', 'why (recorded on the event log with every change)')
    .option('--applied <version...>', 'record these migrations as applied without running them (you finished a partial run by hand)')
    .option('--dry-run', 'print what would change and change nothing')
    .action(async (o: TargetOpts & { reason: string; applied?: string[]; dryRun?: boolean }) => {
      try {
        const t = targetOf(o, ctx, true);
        const markApplied = (o.applied ?? []).map((v) => intOf('--applied', v) as number);
        const run = (m: Migrations) => m.repair(t, { actor: whoami(), reason: o.reason, markApplied, dryRun: Boolean(o.dryRun) });
        const r = o.dryRun ? await run(svc) : await withEvents(o.dataDir, run);
        if (o.json) json(r);
        else if (r.changes.length === 0) out(`nothing to repair: the tracking table on ${r.database} agrees with the directory`);
        else {
          for (const c of r.changes) out(`${r.dry_run ? 'would: ' : ''}${c.change}`);
          out(r.dry_run ? 'dry run: nothing changed' : green(`repaired ${r.changes.length} row${r.changes.length === 1 ? '' : 's'} on ${r.database}`));
        }
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  /** Backups recording on the local store's event log; its S3 clients are closed after `fn` */
  const withBackups = async <T>(dataDir: string, s3: (location: string) => S3Settings, fn: (b: Backups) => Promise<T>): Promise<T> => {
    const ev = await openEvents(ctx, dataDir);
    const bk = new Backups({ s3, ...(ev.events ? { events: ev.events } : {}) });
    try {
      return await fn(bk);
    } finally {
      await bk.close();
      await ev.close().catch(() => undefined);
    }
  };
  /** Backups for reading (nothing recorded) */
  const readBackups = async <T>(s3: (location: string) => S3Settings, fn: (b: Backups) => Promise<T>): Promise<T> => {
    const bk = new Backups({ s3 });
    try {
      return await fn(bk);
    } finally {
      await bk.close();
    }
  };
  const size = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`);
  const verifiedText = (b: BackupInfo) => (b.verified ? (b.verified.ok ? green(`verified ${b.verified.at.replace('T', ' ').slice(0, 16)}`) : red('verify FAILED')) : yellow('unverified'));

  withTarget(db.command('backup').description('dump the database with pg_dump (custom format) into a new backup directory with a SHA-256 manifest; prints its id and path'), false)
    .option('--to <dir>', 'where to put the backup: a directory or s3://bucket/prefix (default: --backups)')
    .option('--encrypt', 'encrypt the dump with AES-256-GCM as it is written, with the key in SHIPSHAPE_BACKUP_KEY (the service\'s database.backups.encrypt does the same)')
    .option('-j, --jobs <n>', 'dump in directory format with this many workers (pg_dump -Fd -j; for large databases)', '1')
    .addHelpText('after', '\nExamples:\n  $ shipshape db backup --service web\n  $ DATABASE_URL=postgres://… shipshape db backup --to /var/backups/web\n  $ AWS_ENDPOINT_URL_S3=https://… shipshape db backup --service web --to s3://backups/web\n\nS3-compatible storage takes its credentials from the environment (AWS_ACCESS_KEY_ID and\nAWS_SECRET_ACCESS_KEY, or AWS_PROFILE), its endpoint from AWS_ENDPOINT_URL_S3 or the service\'s\ndatabase.backups.s3.endpoint; the dump is staged in TMPDIR and uploaded in parts.')
    .action(async (o: TargetOpts & { to?: string; jobs: string; encrypt?: boolean }) => {
      try {
        const t = targetOf(o, ctx, true);
        if (!/^[1-9]\d?$/.test(o.jobs) || Number(o.jobs) > 64) throw new CliError(`--jobs: expected a whole number from 1 to 64, got "${o.jobs}"`, 2);
        const encryptKey = o.encrypt || t.encrypt ? requireKey() : undefined;
        const b = await withBackups(o.dataDir, t.s3, (bk) => bk.backup({ url: t.url, dest: o.to ?? t.backupsDir, actor: whoami(), jobs: Number(o.jobs), ...(t.service ? { service: t.service } : {}), ...(encryptKey ? { encryptKey } : {}) }));
        if (o.json) json(b);
        else out(`${b.id} ${b.path}\n${green(`backed up ${b.database}: ${size(b.size)}, ${b.tables.length} tables, in ${formatDuration(b.duration_ms)}`)}`);
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('backups').description('list the backups in a directory, newest first, with their verified state (with --service: that service\'s only, and its schedule\'s last runs)'), true)
    .option('--limit <n>', 'show the newest N (0: all; default 50, or all with --json)')
    .action(async (o: TargetOpts & { limit?: string }) => {
      try {
        if (o.limit !== undefined && !/^\d{1,9}$/.test(o.limit)) throw new CliError(`--limit: expected a whole number (0 for all), got "${o.limit}"`, 2);
        const t = targetOf(o, ctx, false);
        const all = await readBackups(t.s3, (bk) => bk.list(t.backupsDir, t.service ? { service: t.service } : {}));
        const limit = o.limit !== undefined ? Number(o.limit) : o.json ? 0 : 50;
        const list = limit > 0 ? all.slice(0, limit) : all;
        if (o.json) {
          json(list);
          return;
        }
        if (all.length === 0) {
          out(`no backups${t.service ? ` of ${t.service}` : ''} in ${t.backupsDir} (shipshape db backup)`);
        } else {
          const table = new Table({ head: ['id', 'taken', 'size', 'tables', 'state', 'path'], style: { head: [], border: [] } });
          for (const b of list) table.push([b.id, b.created_at.replace('T', ' ').slice(0, 19), size(b.size), String(b.tables.length), verifiedText(b), b.path]);
          out(table.toString());
          const verified = all.filter((b) => b.verified?.ok).length;
          const failed = all.filter((b) => b.verified && !b.verified.ok).length;
          out(`${all.length} backup${all.length === 1 ? '' : 's'}: ${verified} verified, ${all.length - verified - failed} unverified${failed ? `, ${red(`${failed} failed verification`)}` : ''}${list.length < all.length ? ` (showing the newest ${list.length}; --limit 0 shows all)` : ''}`);
        }
        if (t.service) {
          const st = readScheduleState(scheduleStateDir(t.backupsDir, o.dataDir), t.service);
          for (const kind of ['backup', 'verify'] as const) {
            const r = st[kind];
            if (r) out(`last scheduled ${kind}: ${r.at.replace('T', ' ').slice(0, 19)} ${r.ok ? green('ok') : red(`FAILED: ${r.error ?? ''}`)}${r.id ? ` (${r.id})` : ''}`);
          }
        }
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  db.command('prune')
    .description('apply each service\'s backups.keep (grandfather-father-son): delete the backups no rule keeps, never the newest verified one; shows what is kept and why')
    .option('--service <name>', 'only this service (default: every service with a backups.keep policy)')
    .option('-c, --config <file>', 'config file', defaultConfig())
    .option('--dry-run', 'show what would be kept and deleted, delete nothing')
    .option('--data-dir <dir>', 'Shipshape\'s data directory: its store records a db.backup_pruned event per deleted backup (SHIPSHAPE_DATABASE_URL wins)', defaultDataDir())
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  $ shipshape db prune --dry-run\n  $ shipshape db prune --service web --json')
    .action(async (o: { service?: string; config: string; dryRun?: boolean; dataDir: string; json?: boolean }) => {
      try {
        const cfg = ctx.loadConfig<DbRaw>(o.config);
        const services = Object.entries(cfg.raw.services).filter(([name, s]) => (o.service === undefined || name === o.service) && s.database);
        if (o.service !== undefined) {
          const svc = cfg.raw.services[o.service];
          if (!svc) throw new CliError(`no service "${o.service}" in ${o.config} (services: ${Object.keys(cfg.raw.services).join(', ') || 'none'})`, 2);
          if (!svc.database) throw new CliError(`service "${o.service}" in ${o.config} has no database: section`, 2);
          if (!svc.database.backups.keep) throw new CliError(`services.${o.service}.database.backups has no keep: policy in ${o.config}, so nothing is pruned (add keep: { daily: 7, weekly: 4, monthly: 12 })`, 2);
        }
        const targets = services.filter(([, s]) => s.database?.backups.keep);
        if (targets.length === 0) throw new CliError(`no service in ${o.config} has a database.backups.keep policy: nothing to prune`, 2);
        const run = async (bk: Backups) => {
          const results: PruneResult[] = [];
          for (const [name, s] of targets) {
            const d = s.database as NonNullable<typeof s.database>;
            results.push(await bk.prune({ dir: backupsDirOf(cfg.file, d), service: name, policy: d.backups.keep as NonNullable<typeof d.backups.keep>, timezone: d.backups.timezone, actor: whoami(), dryRun: Boolean(o.dryRun) }));
          }
          return results;
        };
        const s3 = s3SettingsOf(() => cfg);
        const results = o.dryRun ? await readBackups(s3, run) : await withBackups(o.dataDir, s3, run);
        if (o.json) {
          json(o.service !== undefined ? results[0] : results);
          return;
        }
        for (const r of results) {
          const p = r.policy;
          const rules = (['last', 'daily', 'weekly', 'monthly', 'yearly'] as const).filter((k) => p[k] > 0).map((k) => `${k} ${p[k]}`).join(', ');
          out(`${r.service}: ${r.dir} (keep ${rules}; periods in ${r.timezone})`);
          const rows = [...r.kept, ...r.pruned].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
          if (rows.length === 0) {
            out('  no backups');
            continue;
          }
          const table = new Table({ head: ['', 'id', 'taken', 'state', 'why'], style: { head: [], border: [] } });
          for (const b of rows) table.push([b.keep ? green('keep') : red(r.dry_run ? 'would prune' : 'pruned'), b.id, b.created_at.replace('T', ' ').slice(0, 19), b.state, b.keep ? b.reasons.join(', ') : 'no rule keeps it']);
          out(table.toString());
          out(`${r.service}: ${r.kept.length} kept, ${r.pruned.length} ${r.dry_run ? 'would be pruned (dry run: nothing deleted)' : 'pruned'}`);
        }
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('verify-backup').description('restore a backup into a scratch database on the --url server, compare row counts and sampled rows with its manifest, drop it; exits 1 on any mismatch'), false)
    .argument('<backup>', 'a backup id (in --backups), a path, or s3://bucket/prefix/<id>')
    .action(async (ref: string, o: TargetOpts) => {
      try {
        const t = targetOf(o, ctx, true);
        const key = backupKey();
        const { backup, v } = await withBackups(o.dataDir, t.s3, async (bk) => {
          const backup = await bk.open(ref, t.backupsDir);
          return { backup, v: await bk.verify({ backup, url: t.url, actor: whoami(), ...(t.service ? { service: t.service } : {}), ...(key ? { key } : {}) }) };
        }).catch((e: unknown) => {
          if (e instanceof ServiceError && /corrupted or was tampered|encryption key|is encrypted|cannot decrypt/.test(e.message)) throw new CliError(e.message, 1);
          throw e;
        });
        if (o.json) json({ id: backup.id, path: backup.path, ...v });
        else if (v.ok) out(green(`${backup.id}: verified (${backup.tables.length} tables restored and matching the manifest, ${formatDuration(v.duration_ms)})`));
        else out(red(`${backup.id}: verification FAILED\n${v.mismatches.map((m) => `  ${m}`).join('\n')}`));
        process.exitCode = v.ok ? 0 : 1;
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('restore').description('restore a backup into --target (checks its SHA-256 first; refuses a non-empty target without --force)'), false)
    .argument('<backup>', 'a backup id (in --backups), a path, or s3://bucket/prefix/<id>')
    .requiredOption('--target <url>', 'the database to restore into (make a fresh one with createdb)')
    .option('--force', 'restore into a database that already has tables: objects in the backup are dropped and made again')
    .action(async (ref: string, o: TargetOpts & { target: string; force?: boolean }) => {
      try {
        const t = targetOf(o, ctx, false);
        const key = backupKey();
        const tty = process.stdout.isTTY;
        let last = -1;
        let backup: BackupInfo | undefined;
        const r = await withBackups(o.dataDir, t.s3, async (bk) =>
          bk.restore({
            backup: (backup = await bk.open(ref, t.backupsDir)),
            target: o.target,
            force: Boolean(o.force),
            actor: whoami(),
            ...(key ? { key } : {}),
            ...(t.service ? { service: t.service } : {}),
            onProgress: (done, total) => {
              if (!tty || o.json) return;
              const pct = total ? Math.floor((done / total) * 100) : 100;
              if (pct === last) return;
              last = pct;
              const w = 30;
              const fill = Math.round((pct / 100) * w);
              process.stdout.write(`\r[${'#'.repeat(fill)}${' '.repeat(w - fill)}] ${String(pct).padStart(3)}% ${done}/${total}`);
            },
          }),
        );
        if (tty && !o.json) process.stdout.write('\n');
        if (o.json) json(r);
        else out(green(`restored ${backup?.id ?? ref} into ${r.target} (${r.items} items, ${formatDuration(r.duration_ms)})`));
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  withTarget(db.command('audit').description('the security and health checklist on the catalog (RLS, search_path, keys, indexes, connections, long queries, slow statements); exits 1 at --fail-on or worse, suppressed findings aside'), true)
    .option('--fail-on <level>', 'exit 1 when a finding that is not suppressed is at this level or worse: info, warn, error (default: the --service\'s audit.fail_on, else warn)')
    .option('--schemas <list>', 'schemas an API exposes, where RLS is required (comma-separated; default: the --service\'s audit.schemas, else public)')
    .option('--roles <list>', 'the roles API clients act as, whose privileges are checked (comma-separated; default: the --service\'s audit.roles, else anon,authenticated)')
    .option('--long-query <duration>', 'report queries running longer than this', '5m')
    .option('--format <format>', `output: ${AUDIT_FORMATS.join(', ')} (--json is --format json)`, 'text')
    .option('--suppress <file>', 'a YAML or JSON list of suppressions ({ rule, object, reason }), added to the --service\'s audit.suppress; may be given more than once', (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText('after', '\nExamples:\n  $ shipshape db audit --service web\n  $ shipshape db audit --url postgres://… --schemas public,api --roles anon,authenticated --fail-on error\n  $ shipshape db audit --service web --suppress audit-accepted.yaml --format sarif > audit.sarif')
    .action(async (o: TargetOpts & { failOn?: string; schemas?: string; roles?: string; longQuery: string; format: string; suppress?: string[] }) => {
      try {
        if (!(AUDIT_FORMATS as readonly string[]).includes(o.format)) throw new CliError(`--format: expected one of ${AUDIT_FORMATS.join(', ')}, got "${o.format}"`, 2);
        if (o.json && o.format === 'sarif') throw new CliError('--json is --format json: give one of them', 2);
        const format = o.json ? 'json' : o.format;
        if (o.failOn !== undefined && !(AUDIT_LEVELS as readonly string[]).includes(o.failOn)) throw new CliError(`--fail-on: expected info, warn or error, got "${o.failOn}"`, 2);
        const t = targetOf(o, ctx, true);
        const svcDb = o.service ? ctx.loadConfig<DbRaw>(o.config).raw.services[o.service]?.database : undefined;
        const settings = svcDb ? auditSettingsOf(svcDb) : undefined;
        const failOn = (o.failOn ?? settings?.fail_on ?? 'warn') as AuditLevel;
        const opts = auditOptionsOf(
          { schemas: o.schemas ?? settings?.schemas.join(',') ?? 'public', longQuery: o.longQuery, roles: o.roles ?? settings?.roles.join(',') ?? 'anon,authenticated' },
          { schemas: '--schemas', longQuery: '--long-query', roles: '--roles' },
        );
        const suppressions = [...(o.service && settings ? configSuppressions(o.service, settings.suppress) : []), ...(o.suppress ?? []).flatMap((f) => loadSuppressions(f))];
        const r = applySuppressions(await dbAudit(t.url, opts), suppressions);
        const database = maskUrl(t.url);
        if (format === 'json') json({ database, ...r });
        else if (format === 'sarif') process.stdout.write(auditToSarif(r, { database }));
        else {
          const paint = (l: string) => (l === 'error' ? red(l) : l === 'warn' ? yellow(l) : l);
          for (const f of r.findings) out(`${paint(f.level).padEnd(5)}  ${f.rule}  ${f.object}\n       ${f.message}\n       fix: ${f.remediation}`);
          for (const f of r.suppressed ?? []) out(`suppressed: ${f.rule} ${f.object} — ${f.reason}`);
          const sup = r.suppressed?.length ? `, ${r.suppressed.length} suppressed` : '';
          out(`${database}: ${r.checked.tables} tables, ${r.checked.functions} functions without a fixed search_path, ${r.checked.indexes} indexes checked (PostgreSQL ${r.checked.server_version}${r.checked.pg_stat_statements ? ', pg_stat_statements read' : ''}): ${r.counts.error} errors, ${r.counts.warn} warnings, ${r.counts.info} notes${sup}`);
        }
        for (const u of r.unused_suppressions ?? []) process.stderr.write(`warning: the suppression of ${suppressionLabel(u)} matched no finding: remove it if what it accepted is gone\n`);
        if (auditFails(r, failOn)) process.exitCode = 1;
      } catch (e) {
        // a bad config or suppressions file is bad input (exit 2), like a bad option
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\n`);
          process.exit(2);
        }
        fail(cliErrorOf(e, 2));
      }
    });

  withTarget(db.command('top').description('what the database is busy with: slowest statements (pg_stat_statements), running queries, connections by state and application, cache hit ratio, biggest tables and indexes with their vacuum and analyze age'), true)
    .option('--limit <n>', 'rows per list', '10')
    .option('--sort <by>', 'slowest statements by total or mean time', 'total')
    .option('--long-query <duration>', 'list running queries from this age on, e.g. 5s (default: every session that is not idle)')
    .addHelpText('after', '\nExamples:\n  $ shipshape db top --service web\n  $ shipshape db top --url postgres://… --sort mean --long-query 5s --json')
    .action(async (o: TargetOpts & { limit: string; sort: string; longQuery?: string }) => {
      try {
        if (!/^\d{1,4}$/.test(o.limit) || Number(o.limit) < 1) throw new CliError(`--limit: expected a whole number from 1 to 9999, got "${o.limit}"`, 2);
        if (o.sort !== 'total' && o.sort !== 'mean') throw new CliError(`--sort: expected total or mean, got "${o.sort}"`, 2);
        const minQueryMs = o.longQuery === undefined ? undefined : parseDuration(o.longQuery);
        if (o.longQuery !== undefined && minQueryMs === undefined) throw new CliError(`--long-query: expected a duration like 5s or 5m, got "${o.longQuery}"`, 2);
        const t = targetOf(o, ctx, true);
        const r = await dbTop(t.url, { limit: Number(o.limit), order: o.sort, ...(minQueryMs !== undefined ? { minQueryMs } : {}) });
        if (o.json) json(r);
        else printTop(r);
      } catch (e) {
        fail(cliErrorOf(e));
      }
    });

  for (const mode of ['cancel', 'terminate'] as const) {
    const verb = mode === 'cancel' ? 'cancel the query of' : 'terminate (disconnect)';
    withTarget(
      db
        .command(mode)
        .description(
          mode === 'cancel'
            ? 'cancel a running query (pg_cancel_backend) by pid, or every active query of the database older than --older-than; asks first (--yes on a script); writes db.query_cancelled'
            : 'close a backend\'s session (pg_terminate_backend) by pid, or of every active query of the database older than --older-than; asks first (--yes on a script); writes db.query_terminated',
        ),
      false,
    )
      .argument('[pid]', 'the backend\'s pid (shipshape db top lists them)')
      .option('--older-than <duration>', 'instead of a pid: every active query of the --url database running at least this long, e.g. 5m (never idle sessions, never this command\'s own)')
      .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
      .addHelpText('after', `\nExamples:\n  $ shipshape db ${mode} 4242 --service web\n  $ shipshape db ${mode} --older-than 5m --yes --url postgres://…`)
      .action(async (pidText: string | undefined, o: TargetOpts & { olderThan?: string; yes?: boolean }) => {
        try {
          if ((pidText === undefined) === (o.olderThan === undefined)) throw new CliError(`give either a pid or --older-than <duration>${pidText !== undefined ? ', not both' : ''} (e.g. shipshape db ${mode} 4242, or shipshape db ${mode} --older-than 5m)`, 2);
          let sel: { pid: number } | { olderThanMs: number };
          if (pidText !== undefined) {
            if (!/^\d{1,10}$/.test(pidText) || Number(pidText) < 1 || Number(pidText) > 2 ** 31 - 1) throw new CliError(`pid: expected a backend's process id (a whole number, as db top lists it), got "${pidText}"`, 2);
            sel = { pid: Number(pidText) };
          } else {
            const ms = parseDuration(o.olderThan ?? '');
            if (ms === undefined || ms <= 0) throw new CliError(`--older-than: expected a duration above zero like 30s or 5m, got "${o.olderThan}"`, 2);
            sel = { olderThanMs: ms };
          }
          const t = targetOf(o, ctx, true);
          await withClient(t.url, `shipshape db ${mode}`, '30s', async (c) => {
            const targets = await findStopTargets(c, mode, sel).catch((e: unknown) => {
              throw e instanceof ServiceError ? new CliError(e.message, 1) : e;
            });
            if (targets.length === 0) {
              if (o.json) json({ database: maskUrl(t.url), mode, outcomes: [] });
              else out(`no active query older than ${o.olderThan ?? ''} in ${maskUrl(t.url)}: nothing to ${mode}`);
              return;
            }
            if (!o.yes) await confirm(mode, verb, targets);
            const ev = await openEvents(ctx, o.dataDir);
            let outcomes;
            try {
              outcomes = await stopQueries(c, mode, targets, { url: t.url, actor: whoami(), ...(t.service ? { service: t.service } : {}), ...(ev.events ? { events: ev.events } : {}) });
            } finally {
              await ev.close().catch(() => undefined);
            }
            if (o.json) json({ database: maskUrl(t.url), mode, outcomes });
            else {
              const table = new Table({ head: ['pid', 'user', 'application', 'ran', 'result', 'query'], style: { head: [], border: [] } });
              for (const x of outcomes) {
                const result = x.signalled ? (x.stopped ? green(mode === 'cancel' ? 'cancelled' : 'terminated') : yellow(`signalled, still ${mode === 'cancel' ? 'running' : 'connected'} after 2s`)) : x.stopped ? yellow('ended by itself') : red(`failed: ${x.error ?? ''}`);
                table.push([String(x.pid), x.user ?? '?', x.application, formatDuration(x.duration_ms), result, clip(x.query, 60)]);
              }
              out(table.toString());
            }
            if (outcomes.some((x) => !x.signalled && !x.stopped)) process.exitCode = 1;
          });
        } catch (e) {
          fail(cliErrorOf(e));
        }
      });
  }
}

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);
const ago = (s: number | null) => (s === null ? yellow('never') : `${formatDuration(s * 1000)} ago`);

/** Ask on a terminal; refuse (exit 2) when stdin is not one. */
async function confirm(mode: StopMode, verb: string, targets: RunningQuery[]): Promise<void> {
  const lines = targets.map((x) => `  pid ${x.pid}  ${x.user ?? '?'}  ${x.application || '-'}  ${x.state} ${formatDuration(x.duration_ms)}  ${clip(x.query, 80)}`).join('\n');
  if (!process.stdin.isTTY) {
    process.stderr.write(`would ${verb}:\n${lines}\n`);
    throw new CliError(`refusing to ${mode} without confirmation: stdin is not a terminal (pass --yes to ${mode} ${targets.length === 1 ? 'it' : `these ${targets.length}`})`, 2);
  }
  process.stderr.write(`about to ${verb}:\n${lines}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${mode === 'cancel' ? 'Cancel' : 'Terminate'} ${targets.length === 1 ? 'it' : `these ${targets.length}`}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(`nothing was ${mode === 'cancel' ? 'cancelled' : 'terminated'}`, 1);
  } finally {
    rl.close();
  }
}

function printTop(r: TopReport): void {
  const k = r.connections;
  out(`${r.database} · PostgreSQL ${r.server_version} · ${r.at.replace('T', ' ').slice(0, 19)} UTC`);
  out(`connections: ${k.used} of ${k.max} max_connections (${k.percent} %; ${k.reserved} reserved for superusers)`);
  out(`  by state: ${k.by_state.map((x) => `${x.state} ${x.count}`).join(', ') || 'none'}`);
  out(`  by application: ${k.by_application.map((x) => `${x.application || '(none)'} ${x.count}`).join(', ') || 'none'}`);
  out(`cache hit ratio: ${pct(r.cache.hit_ratio)} (tables ${pct(r.cache.table_hit_ratio)}, indexes ${pct(r.cache.index_hit_ratio)})`);

  out('\nrunning queries, longest first');
  if (r.running.length === 0) out('  none');
  else {
    const t = new Table({ head: ['pid', 'database', 'user', 'application', 'state', 'for', 'waiting on', 'query'], style: { head: [], border: [] } });
    for (const x of r.running) t.push([String(x.pid), x.database ?? '', x.user ?? '?', clip(x.application, 24), x.state === 'active' ? x.state : yellow(x.state), formatDuration(x.duration_ms), x.wait ?? '', clip(x.query, 60)]);
    out(t.toString());
  }

  out(`\nslowest statements by ${r.statements.order} time (pg_stat_statements)`);
  if (r.statements.statements.length) {
    const t = new Table({ head: ['total', 'mean', 'calls', 'rows', '% of time', 'query'], style: { head: [], border: [] } });
    for (const x of r.statements.statements) t.push([formatDuration(x.total_ms), `${x.mean_ms.toFixed(1)}ms`, String(x.calls), String(x.rows), `${x.percent.toFixed(1)} %`, clip(x.query, 60)]);
    out(t.toString());
  } else if (r.statements.available) out('  none recorded yet');
  if (r.statements.note) out(yellow(`  note: ${r.statements.note}`));

  out('\nbiggest tables');
  if (r.tables.length === 0) out('  none');
  else {
    const t = new Table({ head: ['table', 'total', 'data', 'indexes', 'rows', 'dead rows', 'vacuumed', 'analyzed'], style: { head: [], border: [] } });
    for (const x of r.tables) t.push([`${x.schema}.${x.name}`, formatSize(x.total_bytes), formatSize(x.table_bytes), formatSize(x.index_bytes), String(x.rows), String(x.dead_rows), ago(x.vacuum_age_s), ago(x.analyze_age_s)]);
    out(t.toString());
  }
  out('\nbiggest indexes');
  if (r.indexes.length === 0) out('  none');
  else {
    const t = new Table({ head: ['index', 'table', 'size', 'scans'], style: { head: [], border: [] } });
    for (const x of r.indexes) t.push([`${x.schema}.${x.name}`, x.table, formatSize(x.bytes), String(x.scans)]);
    out(t.toString());
  }
}
