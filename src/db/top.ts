/**
 * `shipshape db top`, `db cancel`, `db terminate` (docs/db.md): what a database is busy with, in
 * the spirit of pghero and pg_activity — the slowest statements from pg_stat_statements (or what to
 * do when it is missing), the queries running now, connections by state and application as a share
 * of max_connections, the cache hit ratio, the biggest tables and indexes, and how long ago each of
 * those tables was vacuumed and analyzed. Read-only, apart from cancelling or terminating backends.
 *
 * The catalog queries for connections, running queries and slow statements live here and `db audit`
 * (audit.ts) uses them too.
 */
import type pg from 'pg';
import { ServiceError } from '../core/errors.js';
import type { EventSink } from './service.js';
import { databaseLabel, maskUrl, withClient } from './target.js';
import type { ConnectionUsage, RunningQuery, SlowStatement, StatementsReport, TopReport } from './api-types.js';

export type { ConnectionUsage, ConnectionsReport, IndexStat, RunningQuery, SlowStatement, StatementsReport, TableStat, TopReport } from './api-types.js';

const q = async <R extends pg.QueryResultRow>(c: pg.Client, sql: string, params: unknown[] = []) => (await c.query<R>(sql, params)).rows;
const num = (v: unknown): number => Number(v ?? 0);
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

// ---- shared with db audit ------------------------------------------------------------------------

/** Client connections on the server against max_connections. */
export async function connectionUsage(c: pg.Client): Promise<ConnectionUsage> {
  const r = (await q<{ used: number; max: number; reserved: number }>(
    c,
    `select (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as used,
            current_setting('max_connections')::int as max,
            current_setting('superuser_reserved_connections')::int as reserved`,
  ))[0];
  return { used: num(r?.used), max: num(r?.max), reserved: num(r?.reserved) };
}

export interface RunningQueryOptions {
  /** only queries running (or sessions in their state) at least this long */
  minMs?: number;
  /** only `active` backends (default: every state but idle) */
  activeOnly?: boolean;
  /** only backends connected to the database the client is connected to */
  currentDatabase?: boolean;
  /** one backend only */
  pid?: number;
  /** include idle backends (with `pid`) */
  includeIdle?: boolean;
  limit?: number;
  /** truncate query texts to this many characters (200) */
  chars?: number;
}

/** Client backends other than this session, longest first. */
export async function runningQueries(c: pg.Client, o: RunningQueryOptions = {}): Promise<RunningQuery[]> {
  const where = [`backend_type = 'client backend'`, 'pid <> pg_backend_pid()'];
  const params: unknown[] = [o.chars ?? 200];
  const p = (v: unknown) => `$${params.push(v)}`;
  if (o.activeOnly) where.push(`state = 'active'`);
  else if (!o.includeIdle) where.push(`coalesce(state, '') <> 'idle'`);
  if (o.currentDatabase) where.push('datname = current_database()');
  if (o.pid !== undefined) where.push(`pid = ${p(o.pid)}`);
  if (o.minMs !== undefined) where.push(`now() - (case when state = 'active' then query_start else state_change end) >= make_interval(secs => ${p(o.minMs)}::float / 1000)`);
  const rows = await q<{ pid: number; user: string | null; application: string | null; database: string | null; client: string | null; state: string | null; wait: string | null; ms: string | null; xact_ms: string | null; query: string | null; query_start: Date | null; backend_start: Date | null }>(
    c,
    `select pid, usename as user, application_name as application, datname as database, host(client_addr) as client, state,
            case when wait_event is null then null else wait_event_type || ':' || wait_event end as wait,
            (extract(epoch from now() - (case when state = 'active' then query_start else state_change end)) * 1000)::bigint as ms,
            (extract(epoch from now() - xact_start) * 1000)::bigint as xact_ms,
            left(query, $1) as query, query_start, backend_start
       from pg_stat_activity
      where ${where.join(' and ')}
      order by ms desc nulls last, pid
      ${o.limit !== undefined ? `limit ${p(o.limit)}` : ''}`,
    params,
  );
  return rows.map((r) => ({
    pid: r.pid,
    user: r.user,
    application: r.application ?? '',
    database: r.database,
    client: r.client,
    state: r.state ?? 'unknown',
    wait: r.wait,
    duration_ms: num(r.ms),
    xact_ms: r.xact_ms === null ? null : num(r.xact_ms),
    query: oneLine(r.query ?? ''),
    query_start: r.query_start ? r.query_start.toISOString() : null,
    backend_start: r.backend_start ? r.backend_start.toISOString() : null,
  }));
}

const INSTALL = 'CREATE EXTENSION pg_stat_statements;';
const PRELOAD = "shared_preload_libraries = 'pg_stat_statements' in postgresql.conf and a restart of PostgreSQL";

/** The slowest statements by total or mean time, or a note saying why pg_stat_statements cannot be read and how to fix it. */
export async function slowStatements(c: pg.Client, o: { limit?: number; order?: 'total' | 'mean'; chars?: number } = {}): Promise<StatementsReport> {
  const order = o.order ?? 'total';
  const base = { available: false, order, statements: [] as SlowStatement[] };
  const ext = (await q<{ schema: string | null; available: boolean; version: number }>(
    c,
    `select (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
            exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available,
            current_setting('server_version_num')::int as version`,
  ))[0];
  if (!ext?.schema) {
    return {
      ...base,
      note: ext?.available
        ? `pg_stat_statements is not installed in this database: run ${INSTALL} It also needs ${PRELOAD} (Supabase and Neon preload it already)`
        : `the pg_stat_statements extension is not available on this server: install PostgreSQL's contrib modules (Debian: postgresql-contrib), then it needs ${PRELOAD}, then run ${INSTALL}`,
    };
  }
  const v13 = num(ext.version) >= 130000;
  const total = v13 ? 'total_exec_time' : 'total_time';
  const mean = v13 ? 'mean_exec_time' : 'mean_time';
  const rel = `"${ext.schema.replace(/"/g, '""')}".pg_stat_statements`;
  try {
    const rows = await q<{ query: string | null; calls: string; total_ms: number; mean_ms: number; rows: string; percent: number | null }>(
      c,
      `select left(query, $1) as query, calls::bigint as calls, ${total} as total_ms, ${mean} as mean_ms, rows::bigint as rows,
              100 * ${total} / nullif(sum(${total}) over (), 0) as percent
         from ${rel}
        where dbid = (select oid from pg_database where datname = current_database())
        order by ${order === 'mean' ? mean : total} desc limit $2`,
      [o.chars ?? 200, o.limit ?? 10],
    );
    const statements = rows.map((r) => ({ query: oneLine(r.query ?? ''), calls: num(r.calls), total_ms: num(r.total_ms), mean_ms: num(r.mean_ms), rows: num(r.rows), percent: num(r.percent) }));
    const hidden = statements.some((s) => s.query === '<insufficient privilege>');
    return { available: true, order, statements, ...(hidden ? { note: 'some query texts are hidden: reading other roles\' statements needs the pg_read_all_stats role (grant pg_read_all_stats to <user>)' } : {}) };
  } catch (e) {
    const msg = (e as Error).message;
    if (/shared_preload_libraries/i.test(msg)) return { ...base, note: `pg_stat_statements is installed but not loaded: it needs ${PRELOAD}` };
    return { ...base, note: `cannot read pg_stat_statements: ${msg}` };
  }
}

// ---- db top ---------------------------------------------------------------------------------------

export interface TopOptions {
  /** rows per list (10) */
  limit?: number;
  /** statements by total time or mean time (total) */
  order?: 'total' | 'mean';
  /** running queries shown from this age on (0: all non-idle) */
  minQueryMs?: number;
}

const SYSTEM = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`;

/** The report of a connected client (the caller connects and sets a statement timeout). */
export async function topOf(c: pg.Client, url: string, o: TopOptions = {}): Promise<TopReport> {
  const limit = o.limit ?? 10;
  const head = (await q<{ version: string; at: Date }>(c, `select current_setting('server_version') as version, now() as at`))[0];
  const usage = await connectionUsage(c);
  const byState = await q<{ state: string; count: number }>(
    c,
    `select coalesce(state, 'unknown') as state, count(*)::int as count from pg_stat_activity where backend_type = 'client backend' group by 1 order by 2 desc, 1`,
  );
  const byApp = await q<{ application: string; count: number }>(
    c,
    `select application_name as application, count(*)::int as count from pg_stat_activity where backend_type = 'client backend' group by 1 order by 2 desc, 1`,
  );
  const cache = (await q<{ db: number | null; tables: number | null; indexes: number | null }>(
    c,
    `select (select blks_hit::float8 / nullif(blks_hit + blks_read, 0) from pg_stat_database where datname = current_database()) as db,
            (select sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) from pg_statio_user_tables) as tables,
            (select sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0) from pg_statio_user_indexes) as indexes`,
  ))[0];
  const tables = await q<{ schema: string; name: string; total: string; heap: string; idx: string; rows: string | null; dead: string | null; vac: Date | null; ana: Date | null; vac_s: number | null; ana_s: number | null; xid_age: number }>(
    c,
    `select n.nspname as schema, cl.relname as name, pg_total_relation_size(cl.oid) as total, pg_relation_size(cl.oid) as heap, pg_indexes_size(cl.oid) as idx,
            s.n_live_tup as rows, s.n_dead_tup as dead,
            greatest(s.last_vacuum, s.last_autovacuum) as vac, greatest(s.last_analyze, s.last_autoanalyze) as ana,
            extract(epoch from now() - greatest(s.last_vacuum, s.last_autovacuum))::float8 as vac_s,
            extract(epoch from now() - greatest(s.last_analyze, s.last_autoanalyze))::float8 as ana_s,
            age(cl.relfrozenxid)::int as xid_age
       from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
       left join pg_stat_all_tables s on s.relid = cl.oid
      where cl.relkind in ('r', 'm', 'p') and ${SYSTEM}
      order by pg_total_relation_size(cl.oid) desc, 1, 2 limit $1`,
    [limit],
  );
  const indexes = await q<{ schema: string; table: string; name: string; bytes: string; scans: string | null }>(
    c,
    `select n.nspname as schema, t.relname as table, ic.relname as name, pg_relation_size(ic.oid) as bytes, s.idx_scan as scans
       from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace
       left join pg_stat_all_indexes s on s.indexrelid = i.indexrelid
      where ${SYSTEM}
      order by pg_relation_size(ic.oid) desc, 1, 3 limit $1`,
    [limit],
  );
  const running = await runningQueries(c, { limit, chars: 300, ...(o.minQueryMs ? { minMs: o.minQueryMs } : {}) });
  const statements = await slowStatements(c, { limit, order: o.order ?? 'total', chars: 300 });
  const ratio = (v: number | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return {
    database: maskUrl(url),
    server_version: head?.version ?? '',
    at: (head?.at ?? new Date()).toISOString(),
    statements,
    running,
    connections: { ...usage, percent: usage.max > 0 ? Math.round((usage.used / usage.max) * 1000) / 10 : 0, by_state: byState, by_application: byApp },
    cache: { hit_ratio: ratio(cache?.db), table_hit_ratio: ratio(cache?.tables), index_hit_ratio: ratio(cache?.indexes) },
    tables: tables.map((t) => ({
      schema: t.schema,
      name: t.name,
      total_bytes: num(t.total),
      table_bytes: num(t.heap),
      index_bytes: num(t.idx),
      rows: num(t.rows),
      dead_rows: num(t.dead),
      last_vacuum: t.vac ? t.vac.toISOString() : null,
      last_analyze: t.ana ? t.ana.toISOString() : null,
      vacuum_age_s: t.vac_s === null ? null : Math.round(num(t.vac_s)),
      analyze_age_s: t.ana_s === null ? null : Math.round(num(t.ana_s)),
      xid_age: num(t.xid_age),
    })),
    indexes: indexes.map((i) => ({ schema: i.schema, table: i.table, name: i.name, bytes: num(i.bytes), scans: num(i.scans) })),
  };
}

/** Connect to `url` (a direct URL, not a transaction pooler), read the report, disconnect. */
export function dbTop(url: string, o: TopOptions = {}): Promise<TopReport> {
  return withClient(url, 'shipshape db top', '30s', (c) => topOf(c, url, o));
}

// ---- db cancel / db terminate ---------------------------------------------------------------------

export type StopMode = 'cancel' | 'terminate';
/** one backend, or every active query of the URL's database running at least `olderThanMs` */
export type StopSelector = { pid: number } | { olderThanMs: number };

export interface StopOutcome extends RunningQuery {
  /** the signal was sent (pg_cancel_backend / pg_terminate_backend returned true) */
  signalled: boolean;
  /** the query (cancel) or the backend (terminate) was gone within 2 s of the signal */
  stopped: boolean;
  /** why it was not signalled */
  error?: string;
}

/**
 * What a cancel or terminate would act on. A pid that is not a client backend of the server is
 * `not_found`; cancelling a backend that runs no query is `invalid` (there is nothing to cancel:
 * terminate closes the session). `--older-than` takes active queries of the URL's database only,
 * never this session and never idle ones.
 */
export async function findStopTargets(c: pg.Client, mode: StopMode, sel: StopSelector): Promise<RunningQuery[]> {
  if ('pid' in sel) {
    const [r] = await runningQueries(c, { pid: sel.pid, includeIdle: true, chars: 300 });
    if (!r) {
      const own = (await q<{ pid: number }>(c, 'select pg_backend_pid() as pid'))[0]?.pid;
      throw new ServiceError('not_found', own === sel.pid ? `pid ${sel.pid} is this command's own session` : `no client backend with pid ${sel.pid} on the server (it may have ended already; shipshape db top lists the running ones)`);
    }
    // state is unknown (null) for another role's session without pg_read_all_stats: let the server decide
    if (mode === 'cancel' && r.state !== 'active' && r.state !== 'unknown') throw new ServiceError('invalid', `pid ${sel.pid} is ${r.state}, running no query: there is nothing to cancel (shipshape db terminate ${sel.pid} closes the session)`);
    return [r];
  }
  return runningQueries(c, { activeOnly: true, currentDatabase: true, minMs: sel.olderThanMs, chars: 300 });
}

export interface StopOptions {
  url: string;
  actor: string;
  service?: string;
  events?: EventSink;
}

/**
 * Cancel or terminate each target, provided it is still the same query (cancel: same pid and
 * query start) or the same session (terminate: same pid and backend start), so a confirmation
 * that took a while never hits the next query. Each signal sent is a `db.query_cancelled` /
 * `db.query_terminated` event.
 */
export async function stopQueries(c: pg.Client, mode: StopMode, targets: RunningQuery[], o: StopOptions): Promise<StopOutcome[]> {
  const fn = mode === 'cancel' ? 'pg_cancel_backend' : 'pg_terminate_backend';
  const outcomes: StopOutcome[] = [];
  for (const t of targets) {
    const at = mode === 'cancel' ? t.query_start : t.backend_start;
    // the same query or session: timestamps as JS reads them have millisecond precision, the
    // server's microseconds; another role's session shows none (then the pid is all there is)
    const same = at === null ? '$2::text is null' : `abs(extract(epoch from ${mode === 'cancel' ? 'query_start' : 'backend_start'} - $2::timestamptz)) < 0.001${mode === 'cancel' ? ` and state = 'active'` : ''}`;
    let signalled = false;
    let error: string | undefined;
    try {
      const r = await q<{ ok: boolean }>(c, `select ${fn}(pid) as ok from pg_stat_activity where pid = $1 and ${same}`, [t.pid, at]);
      if (r.length === 0) error = mode === 'cancel' ? 'its query ended before it could be cancelled' : 'the session ended before it could be terminated';
      else if (!r[0]?.ok) error = `${fn} returned false`;
      else signalled = true;
    } catch (e) {
      error = (e as Error).message;
    }
    let stopped = !signalled && error !== undefined && /ended before/.test(error);
    if (signalled) {
      for (let i = 0; i < 20 && !stopped; i++) {
        const still = await q<{ n: number }>(c, `select count(*)::int as n from pg_stat_activity where pid = $1 and ${same}`, [t.pid, at]);
        stopped = (still[0]?.n ?? 0) === 0;
        if (!stopped) await new Promise((done) => setTimeout(done, 100));
      }
      await o.events
        ?.append({
          type: mode === 'cancel' ? 'db.query_cancelled' : 'db.query_terminated',
          actor: o.actor,
          subject: o.service ? `service:${o.service}` : `database:${databaseLabel(o.url)}`,
          data: { ...(o.service ? { service: o.service } : {}), database: maskUrl(o.url), pid: t.pid, user: t.user, application: t.application, database_name: t.database, state: t.state, duration_ms: t.duration_ms, query: t.query, stopped },
        })
        .catch(() => undefined);
    }
    outcomes.push({ ...t, signalled, stopped, ...(error ? { error } : {}) });
  }
  return outcomes;
}
