/**
 * Migrations of a service's own PostgreSQL: status (pending, drift, gaps), migrate, rollback,
 * baseline, repair and verify, against the target database directly.
 *
 * One session does everything: it takes a session-level advisory lock (a second migrator is
 * refused, or waits with `wait`), then runs each migration in its own transaction, with the
 * tracking row written in that same transaction. Statements that cannot run in a transaction
 * (CREATE INDEX CONCURRENTLY, VACUUM, …) run outside it, one at a time, with the progress recorded
 * after each, so a run that stops there resumes at the failing statement next time (after checking
 * that the statements already applied did not change).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ServiceError } from '../core/errors.js';
import type { NewEvent } from '../core/events.js';
import { readMigrationDir, sumDifferences, type MigrationDir, type MigrationFile } from './files.js';
import { loadParser, parseMigration, SqlSyntaxError, summary, type Section, type Statement } from './sql.js';
import { assertDirect, connect, databaseLabel, maskUrl, scrubFor } from './target.js';
import { deleteRow, ensureTracking, qualified, readRows, trackingExists, upsertRow, type TrackedRow } from './tracking.js';
import type { AppliedInfo, DriftInfo, PendingInfo, StatusReport } from './api-types.js';

export const DEFAULT_TABLE = 'shipshape.schema_migrations';

/** Where migrations come from and go to. */
export interface MigrationTarget {
  /** the target database (the direct URL, not a transaction pooler) */
  url: string;
  /** the migrations directory */
  dir: string;
  /** the tracking table, schema.table (default shipshape.schema_migrations) */
  table?: string;
  /** the service this database belongs to, when known (events carry it as data.service) */
  service?: string;
}

/** Where state changes are recorded: the event log (EventLog fits), or nothing. */
export interface EventSink {
  append(e: NewEvent): Promise<unknown>;
}

export type { AppliedInfo, DriftInfo, PendingInfo, StatusReport } from './api-types.js';

/** What the deploy pipeline's "pending migrations" gate reads. */
export interface PendingReport {
  pending: { version: number; name: string; filename: string; out_of_order: boolean; partial: boolean }[];
  drift: DriftInfo[];
  gaps: string[];
}

export type MigrateProgress =
  | { type: 'migration'; filename: string; statements: number; outside: number; resume_from?: number; direction: 'up' | 'down' }
  | { type: 'outside'; filename: string; index: number; statement: string; reason: string }
  | { type: 'done'; filename: string; duration_ms: number; direction: 'up' | 'down' };

export interface PlanItem {
  version: number;
  label: string;
  filename: string;
  direction: 'up' | 'down';
  /** statements still to run (a resumed migration starts at resume_from) */
  statements: { index: number; line: number; sql: string; outside?: string }[];
  resume_from?: number;
  out_of_order: boolean;
  own_transaction: boolean;
}

export interface RunResult {
  database: string;
  dry_run: boolean;
  plan: PlanItem[];
  /** what ran (empty for a dry run) */
  done: { version: number; filename: string; duration_ms: number; statements: number }[];
  notes: string[];
}

/** A migration that failed: where, what the server said, and what state the database is in. */
export class MigrationFailed extends Error {
  constructor(
    message: string,
    readonly detail: {
      version: number;
      filename: string;
      direction: 'up' | 'down';
      statement_index: number;
      statement: string;
      statement_line: number;
      line?: number;
      column?: number;
      error: string;
      code?: string;
      hint?: string;
      server_detail?: string;
      where?: string;
      /** true: the migration's transaction rolled back, the database is as before it */
      rolled_back: boolean;
      statements_applied: number;
      done_before: number;
    },
  ) {
    super(message);
    this.name = 'MigrationFailed';
  }
}

const LOCK_CLASS = 0x53485053; // "SHPS"

/** One line for timelines: which file, which statement, the server's error, and whether it rolled back. */
function failSummary(e: MigrationFailed): string {
  const d = e.detail;
  return `${d.filename}${d.direction === 'down' ? ' (down)' : ''} failed at statement ${d.statement_index + 1} (line ${d.line ?? d.statement_line}): ${d.code ? `${d.code} ` : ''}${d.error}${d.rolled_back ? ' (rolled back)' : ` (${d.statements_applied} statements applied; resumable)`}`;
}

function lockKey(table: string): number {
  return createHash('sha256').update(table).digest().readInt32BE(0);
}

function progressChecksum(statements: readonly Statement[], upTo: number): string {
  const h = createHash('sha256');
  for (const s of statements.slice(0, upTo)) h.update(`${s.sql}\n;\n`);
  return h.digest('hex');
}

function placeOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

type PgError = Error & { code?: string; position?: string; hint?: string; detail?: string; where?: string; internalPosition?: string; internalQuery?: string };

function parsed(f: MigrationFile, serverVersion: number): ReturnType<typeof parseMigration> {
  try {
    return parseMigration(f.text, serverVersion);
  } catch (e) {
    if (e instanceof SqlSyntaxError) {
      const caret = `${' '.repeat(Math.max(0, e.at.column - 1))}^`;
      throw new ServiceError('invalid', `${f.filename}:${e.at.line}:${e.at.column}: syntax error: ${e.reason}\n  ${e.lineText}\n  ${caret}`);
    }
    throw e;
  }
}

interface Session {
  client: pg.Client;
  serverVersion: number;
  scrub: (t: string) => string;
  table: string;
  database: string;
}

/** The migrations service: one instance serves every target (it keeps no connection open). */
export class Migrations {
  constructor(
    private readonly opts: {
      /** records db.* events (the event log); without one, nothing is recorded */
      events?: EventSink;
      version: string;
    },
  ) {}

  private tableOf(t: MigrationTarget): string {
    return t.table ?? DEFAULT_TABLE;
  }

  private async session<T>(t: MigrationTarget, what: string, fn: (s: Session) => Promise<T>): Promise<T> {
    if (!t.url) throw new ServiceError('invalid', 'no database URL: pass --url, set DATABASE_URL, or give the service a database.url');
    assertDirect(t.url);
    const table = this.tableOf(t);
    qualified(table);
    await loadParser();
    const client = await connect(t.url, `shipshape db ${what}`);
    try {
      const v = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
      const serverVersion = Number(v.rows[0]?.v ?? 0);
      return await fn({ client, serverVersion, scrub: scrubFor(t.url), table, database: maskUrl(t.url) });
    } catch (e) {
      if (e instanceof ServiceError || e instanceof MigrationFailed) throw e;
      const err = e as PgError;
      throw new ServiceError('invalid', `${maskUrl(t.url)}: ${scrubFor(t.url)(err.message ?? String(e))}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Take the session-level advisory lock, waiting up to `waitMs`; refuse naming who holds it. */
  private async lock(s: Session, waitMs: number, onWait?: (holder: string) => void): Promise<void> {
    const key = lockKey(s.table);
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
      const r = await s.client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [LOCK_CLASS, key]);
      if (r.rows[0]?.ok) return;
      const holder = await this.lockHolder(s, key);
      if (Date.now() >= deadline) {
        throw new ServiceError('busy', `another migrator is running on ${s.database}: ${holder} holds the migration lock. Wait for it to finish${waitMs > 0 ? ' (waited ' + Math.round(waitMs / 1000) + 's)' : ', or pass --wait 5m to wait for it'}`, 30);
      }
      if (!told) onWait?.(holder);
      told = true;
      await new Promise((r2) => setTimeout(r2, Math.min(500, Math.max(10, deadline - Date.now()))));
    }
  }

  private async lockHolder(s: Session, key: number): Promise<string> {
    const r = await s.client.query<{ pid: number; usename: string | null; application_name: string | null; client_addr: string | null; backend_start: Date | null }>(
      `select a.pid, a.usename, a.application_name, host(a.client_addr) as client_addr, a.backend_start
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted and l.classid = $1::bigint::oid and l.objid = ($2::bigint & 4294967295)::oid and l.objsubid = 2`,
      [LOCK_CLASS, key],
    );
    const h = r.rows[0];
    if (!h) return 'a session that just finished';
    const since = h.backend_start ? ` since ${new Date(h.backend_start).toISOString()}` : '';
    return `pid ${h.pid} ("${h.application_name || 'unnamed'}", user ${h.usename ?? '?'}${h.client_addr ? ` from ${h.client_addr}` : ''}${since})`;
  }

  private async unlock(s: Session): Promise<void> {
    await s.client.query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, lockKey(s.table)]).catch(() => undefined);
  }

  private compare(dir: MigrationDir, rows: TrackedRow[]): Omit<StatusReport, 'database' | 'table' | 'dir'> {
    const byVersion = new Map(dir.files.map((f) => [f.version, f]));
    const applied: AppliedInfo[] = [];
    const drift: DriftInfo[] = [];
    const partial = new Map<number, TrackedRow>();
    for (const r of rows) {
      const f = byVersion.get(r.version);
      const label = f?.label ?? String(r.version);
      if (r.state === 'partial') partial.set(r.version, r);
      else
        applied.push({
          version: r.version,
          label,
          name: r.name,
          filename: r.filename,
          state: r.state,
          applied_by: r.applied_by,
          applied_at: r.applied_at,
          duration_ms: r.duration_ms,
          statements_applied: r.statements_applied,
          statements_total: r.statements_total,
          failing_statement: r.failing_statement,
          error: r.error,
        });
      if (!f) drift.push({ version: r.version, label, filename: r.filename, kind: 'missing_file', detail: `${r.filename} was applied (${r.state}) but is not in the directory any more` });
      // a partial run's file may be fixed before it resumes: its applied statements are checked by progress_checksum instead
      else if (r.state !== 'partial' && f.checksum !== r.checksum) drift.push({ version: r.version, label, filename: f.filename, kind: 'checksum', detail: `${f.filename} changed since it was applied (checksum ${r.checksum.slice(0, 12)}… then, ${f.checksum.slice(0, 12)}… now)` });
    }
    const maxApplied = Math.max(0, ...rows.filter((r) => r.state !== 'partial').map((r) => r.version));
    const pending: PendingInfo[] = [];
    for (const f of dir.files) {
      const r = rows.find((x) => x.version === f.version);
      if (r && r.state !== 'partial') continue;
      const p = partial.get(f.version);
      pending.push({
        version: f.version,
        label: f.label,
        name: f.name,
        filename: f.filename,
        out_of_order: !p && f.version < maxApplied,
        ...(p ? { partial: { statements_applied: p.statements_applied, statements_total: p.statements_total, failing_statement: p.failing_statement, error: p.error } } : {}),
      });
    }
    return { applied, pending, drift, gaps: dir.gaps, ignored: dir.ignored, sum: dir.sum.state, sum_differences: sumDifferences(dir) };
  }

  /** Applied, pending (with out-of-order ones marked), drift, gaps and the state of shipshape.sum. Reads only. */
  async status(t: MigrationTarget): Promise<StatusReport> {
    const dir = readMigrationDir(t.dir);
    return this.session(t, 'status', async (s) => {
      const rows = await readRows(s.client, s.table);
      return { database: s.database, table: s.table, dir: t.dir, ...this.compare(dir, rows) };
    });
  }

  /** For the deploy gate: what would `migrate` apply, and is there drift? Reads only. */
  async pending(t: MigrationTarget): Promise<PendingReport> {
    const st = await this.status(t);
    return {
      pending: st.pending.map((p) => ({ version: p.version, name: p.name, filename: p.filename, out_of_order: p.out_of_order, partial: Boolean(p.partial) })),
      drift: st.drift,
      gaps: st.gaps,
    };
  }

  private subject(t: MigrationTarget): string {
    return t.service ? `service:${t.service}` : `database:${databaseLabel(t.url)}`;
  }

  private async emit(t: MigrationTarget, actor: string, type: string, data: Record<string, unknown>): Promise<void> {
    if (!this.opts.events) return;
    await this.opts.events.append({ type, actor, subject: this.subject(t), data: { ...(t.service ? { service: t.service } : {}), database: maskUrl(t.url), ...data } });
  }

  /**
   * Apply pending migrations in version order (up to `to`), resuming a partial one first. Refuses
   * drift (a changed or vanished applied file), a shipshape.sum that does not match, and pending
   * files below the highest applied version unless `outOfOrder`. `dryRun` prints the plan and
   * changes nothing (no tracking table, no lock).
   */
  async migrate(
    t: MigrationTarget,
    o: {
      actor: string;
      to?: number;
      dryRun?: boolean;
      outOfOrder?: boolean;
      waitMs?: number;
      onProgress?: (p: MigrateProgress) => void;
      onWait?: (holder: string) => void;
      /** give up a statement that waits longer than this for a table lock (SET lock_timeout), so a migration never queues the app's traffic behind it for long */
      lockTimeoutMs?: number;
      /** told each note (a gap in the numbering…) as soon as it is known; they are in the result too */
      onNote?: (note: string) => void;
      /** runs under the lock once there is something to apply, before the first migration (backup_before); throwing stops the run */
      beforeApply?: (plan: PlanItem[]) => Promise<void>;
    },
  ): Promise<RunResult> {
    const dir = readMigrationDir(t.dir);
    return this.session(t, o.dryRun ? 'migrate --dry-run' : 'migrate', async (s) => {
      if (!o.dryRun) await this.lock(s, o.waitMs ?? 0, o.onWait);
      try {
        const rows = await readRows(s.client, s.table);
        const cmp = this.compare(dir, rows);
        const notes: string[] = [];
        if (cmp.drift.length) {
          throw new ServiceError('conflict', `drift on ${s.database}: ${cmp.drift.map((d) => d.detail).join('; ')}. Restore the files, or accept them with \`shipshape db repair --reason "…"\``);
        }
        if (dir.sum.state === 'mismatch') {
          throw new ServiceError('conflict', `${t.dir}/shipshape.sum does not match the directory (${cmp.sum_differences.join(', ')}): a migration was added, changed or renumbered without \`shipshape db new\`, or two branches each added one. Review, then run \`shipshape db hash\``);
        }
        if (dir.gaps.length) notes.push(`gap in the numbering: ${dir.gaps.join(', ')} missing (a file with that number added later runs only with --out-of-order)`);
        if (dir.ignored.length) notes.push(`ignored (no version number): ${dir.ignored.join(', ')}`);
        for (const n of notes) o.onNote?.(n);
        const byVersion = new Map(dir.files.map((f) => [f.version, f]));
        let todo = cmp.pending.filter((p) => o.to === undefined || p.version <= o.to);
        const late = todo.filter((p) => p.out_of_order);
        if (late.length && !o.outOfOrder) {
          const maxApplied = Math.max(...cmp.applied.map((a) => a.version));
          throw new ServiceError(
            'conflict',
            `${late.map((p) => p.filename).join(', ')} ${late.length === 1 ? 'is' : 'are'} older than ${cmp.applied.find((a) => a.version === maxApplied)?.filename ?? maxApplied}, which is applied already (out of order, e.g. a gap filled later or a branch merged late). Apply with --out-of-order once you have checked it does not depend on later migrations`,
          );
        }
        // the partial one first
        todo = [...todo.filter((p) => p.partial), ...todo.filter((p) => !p.partial)];
        const plan: PlanItem[] = [];
        const work: { file: MigrationFile; section: Section; resumeFrom: number; pending: PendingInfo; row?: TrackedRow }[] = [];
        for (const p of todo) {
          const file = byVersion.get(p.version);
          if (!file) continue;
          const m = parsed(file, s.serverVersion);
          const row = rows.find((r) => r.version === p.version);
          let resumeFrom = 0;
          if (row && row.state === 'partial') {
            resumeFrom = row.statements_applied;
            if (resumeFrom > m.up.statements.length || progressChecksum(m.up.statements, resumeFrom) !== row.progress_checksum) {
              throw new ServiceError(
                'conflict',
                `${file.filename} stopped part-way (${row.statements_applied} of ${row.statements_total} statements applied), and the statements that already ran have changed since: finish or undo it by hand, then \`shipshape db repair --reason "…"\``,
              );
            }
          }
          work.push({ file, section: m.up, resumeFrom, pending: p, ...(row ? { row } : {}) });
          plan.push({
            version: file.version,
            label: file.label,
            filename: file.filename,
            direction: 'up',
            statements: m.up.statements.slice(resumeFrom).map((st) => ({ index: st.index, line: st.at.line, sql: st.sql, ...(st.outside ? { outside: st.outside } : {}) })),
            ...(resumeFrom ? { resume_from: resumeFrom } : {}),
            out_of_order: p.out_of_order,
            own_transaction: m.up.ownTransaction,
          });
        }
        const result: RunResult = { database: s.database, dry_run: Boolean(o.dryRun), plan, done: [], notes };
        if (o.dryRun || work.length === 0) return result;
        await o.beforeApply?.(plan);
        await ensureTracking(s.client, s.table);
        if (o.lockTimeoutMs !== undefined) await s.client.query(`set lock_timeout = ${Math.max(0, Math.round(o.lockTimeoutMs))}`);
        for (const w of work) {
          const started = Date.now();
          o.onProgress?.({ type: 'migration', filename: w.file.filename, statements: w.section.statements.length, outside: w.section.statements.filter((x) => x.outside).length, direction: 'up', ...(w.resumeFrom ? { resume_from: w.resumeFrom } : {}) });
          try {
            await this.run(s, w.file, w.section, w.resumeFrom, 'up', o.actor, started, w.pending.out_of_order, o.onProgress);
          } catch (e) {
            if (e instanceof MigrationFailed) {
              e.detail.done_before = result.done.length;
              await this.emit(t, o.actor, 'db.migration_failed', { ...e.detail, report: e.message, summary: failSummary(e) }).catch(() => undefined);
              if (result.done.length) e.message += `\n  ${result.done.length} migration${result.done.length === 1 ? '' : 's'} before it ${result.done.length === 1 ? 'was' : 'were'} applied (${result.done.map((d) => d.filename).join(', ')})`;
            }
            throw e;
          }
          // each migration starts from a clean session: a SET search_path or SET ROLE in one does not leak into the next
          await s.client.query('reset all; reset role');
          if (o.lockTimeoutMs !== undefined) await s.client.query(`set lock_timeout = ${Math.max(0, Math.round(o.lockTimeoutMs))}`);
          const duration = Date.now() - started;
          result.done.push({ version: w.file.version, filename: w.file.filename, duration_ms: duration, statements: w.section.statements.length });
          o.onProgress?.({ type: 'done', filename: w.file.filename, duration_ms: duration, direction: 'up' });
          await this.emit(t, o.actor, 'db.migrated', {
            summary: `applied ${w.file.filename} (${w.section.statements.length} statement${w.section.statements.length === 1 ? '' : 's'}${w.resumeFrom ? `, resumed at ${w.resumeFrom + 1}` : ''})`,
            version: w.file.version,
            name: w.file.name,
            filename: w.file.filename,
            duration_ms: duration,
            statements: w.section.statements.length,
            ...(w.resumeFrom ? { resumed_from: w.resumeFrom } : {}),
            ...(w.pending.out_of_order ? { out_of_order: true } : {}),
          });
        }
        return result;
      } finally {
        if (!o.dryRun) await this.unlock(s);
      }
    });
  }

  /**
   * Run a section's statements from `from`: consecutive transactional statements in one
   * transaction (with the tracking row), each statement that cannot run in one on its own, the
   * progress recorded after each. `up` records the row; `down` deletes it at the end.
   */
  private async run(s: Session, file: MigrationFile, section: Section, from: number, direction: 'up' | 'down', actor: string, started: number, outOfOrder: boolean, onProgress?: (p: MigrateProgress) => void): Promise<void> {
    const sts = section.statements;
    const total = sts.length;
    let committed = from;
    let rowExists = from > 0;
    const record = async (applied: number, failure?: { statement: string; error: string }) => {
      if (direction === 'down') {
        if (applied === total) await deleteRow(s.client, s.table, file.version);
        return;
      }
      await upsertRow(s.client, s.table, {
        version: file.version,
        name: file.name,
        filename: file.filename,
        checksum: file.checksum,
        state: applied === total ? 'applied' : 'partial',
        applied_by: actor,
        duration_ms: Date.now() - started,
        statements_applied: applied,
        statements_total: total,
        progress_checksum: progressChecksum(sts, applied),
        failing_statement: failure?.statement ?? null,
        error: failure?.error ?? null,
        out_of_order: outOfOrder,
        tool_version: this.opts.version,
      });
      rowExists = true;
    };
    if (total === 0 || from >= total) {
      await s.client.query('begin');
      await record(total);
      await s.client.query('commit');
      return;
    }
    let i = from;
    while (i < total) {
      const first = sts[i] as Statement;
      if (first.outside) {
        onProgress?.({ type: 'outside', filename: file.filename, index: i, statement: summary(first.sql), reason: first.outside });
        try {
          await s.client.query(first.sql);
        } catch (e) {
          const failure = await this.failure(s, file, first, e as PgError, direction, false, committed);
          // something of this migration is committed already (or the statement itself left traces): keep the place to resume
          if (direction === 'up' && (rowExists || committed > 0)) await record(committed, { statement: first.sql, error: failure.detail.error }).catch(() => undefined);
          throw failure;
        }
        committed = i + 1;
        await record(committed);
        i++;
        continue;
      }
      let j = i;
      while (j < total && !(sts[j] as Statement).outside) j++;
      await s.client.query('begin');
      let k = i;
      try {
        for (; k < j; k++) await s.client.query((sts[k] as Statement).sql);
        await record(j);
        await s.client.query('commit');
      } catch (e) {
        await s.client.query('rollback').catch(() => undefined);
        const st = sts[Math.min(k, j - 1)] as Statement;
        const failure = await this.failure(s, file, st, e as PgError, direction, true, committed);
        if (direction === 'up' && rowExists) await record(committed, { statement: st.sql, error: failure.detail.error }).catch(() => undefined);
        throw failure;
      }
      committed = j;
      i = j;
    }
  }

  private async failure(s: Session, file: MigrationFile, st: Statement, err: PgError, direction: 'up' | 'down', inTransaction: boolean, committed: number): Promise<MigrationFailed> {
    const msg = s.scrub(err.message ?? String(err));
    const pos = err.position ? Number(err.position) : undefined;
    const at = pos ? placeOf(file.text, st.offset + pos - 1) : undefined;
    const rolledBack = inTransaction && committed === 0;
    const lines = [`${file.filename}${direction === 'down' ? ' (down)' : ''}: statement ${st.index + 1} (line ${st.at.line}) failed: ${summary(st.sql, 120)}`];
    lines.push(`  ERROR${err.code ? ` ${err.code}` : ''}: ${msg}${at ? ` (at line ${at.line}, column ${at.column})` : ''}`);
    if (err.detail) lines.push(`  DETAIL: ${s.scrub(err.detail)}`);
    if (err.hint) lines.push(`  HINT: ${s.scrub(err.hint)}`);
    if (err.where) lines.push(`  CONTEXT: ${s.scrub(err.where)}`);
    let leftover = '';
    if (!inTransaction && st.index_name) {
      // a failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind
      const r = await s.client
        .query<{ name: string }>(`select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid where not i.indisvalid and c.relname = $1`, [st.index_name])
        .catch(() => ({ rows: [] as { name: string }[] }));
      if (r.rows[0]) leftover = ` It left the INVALID index ${r.rows[0].name} behind: drop it (DROP INDEX CONCURRENTLY ${r.rows[0].name}) before running again.`;
    }
    if (rolledBack) lines.push(`  the migration's transaction was rolled back: the database is as it was before ${file.filename}`);
    else if (inTransaction) lines.push(`  this part's transaction was rolled back; ${committed} of ${file.filename}'s ${direction === 'up' ? '' : 'down '}statements before it are applied (some ran outside a transaction): fix the statement and run again to resume at it`);
    else lines.push(`  it ran outside a transaction; ${committed} statement${committed === 1 ? '' : 's'} before it ${committed === 1 ? 'is' : 'are'} applied: fix it and run again to resume at it.${leftover}`);
    return new MigrationFailed(lines.join('\n'), {
      version: file.version,
      filename: file.filename,
      direction,
      statement_index: st.index,
      statement: st.sql,
      statement_line: st.at.line,
      ...(at ? { line: at.line, column: at.column } : {}),
      error: msg,
      ...(err.code ? { code: err.code } : {}),
      ...(err.hint ? { hint: s.scrub(err.hint) } : {}),
      ...(err.detail ? { server_detail: s.scrub(err.detail) } : {}),
      ...(err.where ? { where: s.scrub(err.where) } : {}),
      rolled_back: rolledBack,
      statements_applied: committed,
      done_before: 0,
    });
  }

  /** Undo the last `steps` applied migrations with their `-- migrate:down` sections, newest first. */
  async rollback(t: MigrationTarget, o: { actor: string; steps?: number; dryRun?: boolean; waitMs?: number; onProgress?: (p: MigrateProgress) => void; onWait?: (holder: string) => void }): Promise<RunResult> {
    const steps = o.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new ServiceError('invalid', `--steps must be a whole number of at least 1, got ${steps}`);
    const dir = readMigrationDir(t.dir);
    return this.session(t, 'rollback', async (s) => {
      if (!o.dryRun) await this.lock(s, o.waitMs ?? 0, o.onWait);
      try {
        const rows = await readRows(s.client, s.table);
        const partial = rows.find((r) => r.state === 'partial');
        if (partial) throw new ServiceError('conflict', `${partial.filename} stopped part-way (${partial.statements_applied} of ${partial.statements_total} statements): finish it with \`shipshape db migrate\` or undo it by hand and \`shipshape db repair\` before rolling back`);
        const last = rows.filter((r) => r.state !== 'partial').sort((a, b) => b.version - a.version).slice(0, steps);
        if (last.length === 0) throw new ServiceError('conflict', `nothing to roll back: no migration is applied on ${s.database}`);
        const byVersion = new Map(dir.files.map((f) => [f.version, f]));
        const work: { file: MigrationFile; section: Section }[] = [];
        for (const r of last) {
          const file = byVersion.get(r.version);
          if (!file) throw new ServiceError('conflict', `cannot roll back ${r.filename}: the file is not in ${t.dir} any more`);
          if (file.checksum !== r.checksum) throw new ServiceError('conflict', `cannot roll back ${file.filename}: it changed since it was applied (drift); restore it, or accept it with \`shipshape db repair\` first`);
          const m = parsed(file, s.serverVersion);
          if (!m.down) throw new ServiceError('conflict', `cannot roll back ${file.filename}: it has no \`-- migrate:down\` section (nothing was changed)`);
          work.push({ file, section: m.down });
        }
        const plan: PlanItem[] = work.map((w) => ({
          version: w.file.version,
          label: w.file.label,
          filename: w.file.filename,
          direction: 'down',
          statements: w.section.statements.map((st) => ({ index: st.index, line: st.at.line, sql: st.sql, ...(st.outside ? { outside: st.outside } : {}) })),
          out_of_order: false,
          own_transaction: w.section.ownTransaction,
        }));
        const result: RunResult = { database: s.database, dry_run: Boolean(o.dryRun), plan, done: [], notes: [] };
        if (o.dryRun) return result;
        for (const w of work) {
          const started = Date.now();
          o.onProgress?.({ type: 'migration', filename: w.file.filename, statements: w.section.statements.length, outside: w.section.statements.filter((x) => x.outside).length, direction: 'down' });
          try {
            await this.run(s, w.file, w.section, 0, 'down', o.actor, started, false, o.onProgress);
          } catch (e) {
            if (e instanceof MigrationFailed) await this.emit(t, o.actor, 'db.rollback_failed', { ...e.detail, report: e.message, summary: failSummary(e) }).catch(() => undefined);
            throw e;
          }
          await s.client.query('reset all; reset role');
          const duration = Date.now() - started;
          result.done.push({ version: w.file.version, filename: w.file.filename, duration_ms: duration, statements: w.section.statements.length });
          o.onProgress?.({ type: 'done', filename: w.file.filename, duration_ms: duration, direction: 'down' });
          await this.emit(t, o.actor, 'db.rolled_back', { summary: `rolled back ${w.file.filename}`, version: w.file.version, name: w.file.name, filename: w.file.filename, duration_ms: duration, statements: w.section.statements.length });
        }
        return result;
      } finally {
        if (!o.dryRun) await this.unlock(s);
      }
    });
  }

  /**
   * Mark the migrations up to `version` (default: all in the directory) as applied without running
   * them: for a database that existed before Shipshape tracked it. Refused once anything is tracked.
   */
  async baseline(t: MigrationTarget, o: { actor: string; version?: number; waitMs?: number }): Promise<{ database: string; baselined: { version: number; filename: string }[] }> {
    const dir = readMigrationDir(t.dir);
    return this.session(t, 'baseline', async (s) => {
      await this.lock(s, o.waitMs ?? 0);
      try {
        const rows = await readRows(s.client, s.table);
        if (rows.length) throw new ServiceError('conflict', `${s.database} already tracks ${rows.length} migration${rows.length === 1 ? '' : 's'} (the last ${rows[rows.length - 1]?.filename}): a baseline is for a database nothing was tracked on`);
        const files = dir.files.filter((f) => o.version === undefined || f.version <= o.version);
        if (o.version !== undefined && !dir.files.some((f) => f.version === o.version)) throw new ServiceError('invalid', `no migration with version ${o.version} in ${t.dir}`);
        if (files.length === 0) throw new ServiceError('invalid', `no migrations in ${t.dir} to baseline`);
        await ensureTracking(s.client, s.table);
        await s.client.query('begin');
        try {
          for (const f of files) {
            const m = parsed(f, s.serverVersion);
            await upsertRow(s.client, s.table, {
              version: f.version,
              name: f.name,
              filename: f.filename,
              checksum: f.checksum,
              state: 'baseline',
              applied_by: o.actor,
              duration_ms: 0,
              statements_applied: 0,
              statements_total: m.up.statements.length,
              progress_checksum: null,
              failing_statement: null,
              error: null,
              out_of_order: false,
              tool_version: this.opts.version,
            });
          }
          await s.client.query('commit');
        } catch (e) {
          await s.client.query('rollback').catch(() => undefined);
          throw e;
        }
        const baselined = files.map((f) => ({ version: f.version, filename: f.filename }));
        await this.emit(t, o.actor, 'db.baselined', { summary: `baselined ${baselined.length} migrations up to ${files[files.length - 1]?.filename}`, up_to: files[files.length - 1]?.filename, migrations: baselined.length });
        return { database: s.database, baselined };
      } finally {
        await this.unlock(s);
      }
    });
  }

  /**
   * Make the tracking table agree with the directory, on purpose and on the record (a
   * `db.repaired` event with the reason and every change): checksums of edited files realigned,
   * rows of files that are gone removed, a partial run forgotten (it runs again from the start) or,
   * with `markApplied`, recorded as applied (you finished it by hand).
   */
  async repair(
    t: MigrationTarget,
    o: { actor: string; reason: string; markApplied?: number[]; dryRun?: boolean; waitMs?: number },
  ): Promise<{ database: string; dry_run: boolean; changes: { version: number; filename: string; change: string }[] }> {
    const reason = o.reason.trim();
    if (!reason) throw new ServiceError('invalid', 'a repair needs a reason (--reason "…"): it is recorded on the event log');
    const dir = readMigrationDir(t.dir);
    return this.session(t, 'repair', async (s) => {
      if (!o.dryRun) await this.lock(s, o.waitMs ?? 0);
      try {
        const rows = await readRows(s.client, s.table);
        const byVersion = new Map(dir.files.map((f) => [f.version, f]));
        const mark = new Set(o.markApplied ?? []);
        const changes: { version: number; filename: string; change: string; apply: () => Promise<void> }[] = [];
        for (const v of mark) {
          const f = byVersion.get(v);
          if (!f) throw new ServiceError('invalid', `--applied ${v}: no migration with that version in ${t.dir}`);
          const r = rows.find((x) => x.version === v);
          if (r && r.state !== 'partial') throw new ServiceError('conflict', `--applied ${v}: ${f.filename} is recorded as ${r.state} already`);
        }
        for (const r of rows) {
          const f = byVersion.get(r.version);
          if (mark.has(r.version)) continue;
          if (!f) changes.push({ version: r.version, filename: r.filename, change: `removed the row of ${r.filename} (the file is gone)`, apply: () => deleteRow(s.client, s.table, r.version) });
          else if (r.state === 'partial') changes.push({ version: r.version, filename: f.filename, change: `forgot the partial run of ${f.filename} (${r.statements_applied} of ${r.statements_total} statements); it runs again from the start`, apply: () => deleteRow(s.client, s.table, r.version) });
          else if (f.checksum !== r.checksum)
            changes.push({
              version: r.version,
              filename: f.filename,
              change: `accepted the edited ${f.filename} (checksum ${r.checksum.slice(0, 12)}… → ${f.checksum.slice(0, 12)}…)`,
              apply: async () => {
                await s.client.query(`update ${qualified(s.table).sql} set checksum = $2, filename = $3, name = $4 where version = $1`, [r.version, f.checksum, f.filename, f.name]);
              },
            });
        }
        for (const v of mark) {
          const f = byVersion.get(v) as MigrationFile;
          const m = parsed(f, s.serverVersion);
          changes.push({
            version: v,
            filename: f.filename,
            change: `recorded ${f.filename} as applied without running it`,
            apply: () =>
              upsertRow(s.client, s.table, {
                version: f.version,
                name: f.name,
                filename: f.filename,
                checksum: f.checksum,
                state: 'applied',
                applied_by: o.actor,
                duration_ms: 0,
                statements_applied: m.up.statements.length,
                statements_total: m.up.statements.length,
                progress_checksum: progressChecksum(m.up.statements, m.up.statements.length),
                failing_statement: null,
                error: null,
                out_of_order: false,
                tool_version: this.opts.version,
              }),
          });
        }
        const out = { database: s.database, dry_run: Boolean(o.dryRun), changes: changes.map(({ version, filename, change }) => ({ version, filename, change })) };
        if (o.dryRun || changes.length === 0) return out;
        await ensureTracking(s.client, s.table);
        await s.client.query('begin');
        try {
          for (const c of changes) await c.apply();
          await s.client.query('commit');
        } catch (e) {
          await s.client.query('rollback').catch(() => undefined);
          throw e;
        }
        await this.emit(t, o.actor, 'db.repaired', { summary: `tracking table repaired (${out.changes.length} change${out.changes.length === 1 ? '' : 's'}): ${reason.slice(0, 200)}`, reason: reason.slice(0, 1000), changes: out.changes });
        return out;
      } finally {
        if (!o.dryRun) await this.unlock(s);
      }
    });
  }

  /**
   * Check the directory (every file parses, up and down; shipshape.sum matches; no version twice)
   * and, with a URL, the database against it (no drift, no partial run). Reads only.
   */
  async verify(t: { url?: string; dir: string; table?: string; service?: string }): Promise<{ ok: boolean; files: number; database?: string; problems: { filename?: string; kind: string; message: string }[] }> {
    await loadParser();
    const problems: { filename?: string; kind: string; message: string }[] = [];
    let dir: MigrationDir;
    try {
      dir = readMigrationDir(t.dir);
    } catch (e) {
      if (e instanceof ServiceError && e.kind === 'conflict') return { ok: false, files: 0, problems: [{ kind: 'duplicate_version', message: e.message }] };
      throw e;
    }
    for (const f of dir.files) {
      try {
        parsed(f, 999999);
      } catch (e) {
        problems.push({ filename: f.filename, kind: 'syntax', message: (e as Error).message });
      }
    }
    if (dir.sum.state === 'mismatch') problems.push({ kind: 'sum', message: `shipshape.sum does not match the directory (${sumDifferences(dir).join(', ')}); review the change, then \`shipshape db hash\`` });
    for (const name of dir.ignored) problems.push({ filename: name, kind: 'ignored', message: `${name} does not start with a version number (NNN_name.sql) and is ignored` });
    let database: string | undefined;
    if (t.url) {
      const st = await this.session({ url: t.url, dir: t.dir, ...(t.table ? { table: t.table } : {}) }, 'verify', async (s) => {
        const exists = await trackingExists(s.client, s.table);
        return { database: s.database, ...this.compare(dir, exists ? await readRows(s.client, s.table) : []) };
      });
      database = st.database;
      for (const d of st.drift) problems.push({ filename: d.filename, kind: `drift_${d.kind}`, message: d.detail });
      for (const p of st.pending) if (p.partial) problems.push({ filename: p.filename, kind: 'partial', message: `${p.filename} stopped part-way (${p.partial.statements_applied} of ${p.partial.statements_total} statements): ${p.partial.error ?? ''}` });
    }
    return { ok: problems.filter((p) => p.kind !== 'ignored').length === 0, files: dir.files.length, ...(database ? { database } : {}), problems };
  }
}
