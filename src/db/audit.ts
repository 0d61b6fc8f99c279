/**
 * `shipshape db audit`: the operations guides' database checklist as catalog queries, in the spirit
 * of Supabase's splinter lints and pghero — RLS enabled on every exposed table and each with a
 * policy, functions with a fixed search_path (SECURITY DEFINER ones above all), primary keys,
 * indexes on foreign keys, duplicate indexes, connection usage, long-running queries, and the
 * slowest statements when pg_stat_statements is there (those three queries are shared with `db top`,
 * top.ts). Read-only: it changes nothing.
 *
 * Each finding has a rule name, a level (error, warn, info), the object it is about, what is wrong
 * and what to do about it; `--fail-on` turns levels into an exit code for CI.
 */
import type pg from 'pg';
import { parseDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import { AUDIT_LEVELS, type AuditFinding, type AuditLevel, type AuditReport } from './api-types.js';
import { withClient } from './target.js';
import { connectionUsage, runningQueries, slowStatements } from './top.js';

export { AUDIT_LEVELS, type AuditFinding, type AuditLevel, type AuditReport };

export interface AuditOptions {
  /** schemas an API exposes (PostgREST / Supabase's `public`): RLS is required there */
  exposedSchemas?: string[];
  /** the roles API clients act as (Supabase's anon and authenticated); those that do not exist on the server are left out, and with none PUBLIC stands for them */
  roles?: string[];
  /** connection usage above this share of max_connections is a warning (0.8) */
  connectionsWarn?: number;
  /** queries running longer than this are reported (5 min) */
  longQueryMs?: number;
  /** how many of pg_stat_statements' slowest statements to list (5) */
  topStatements?: number;
}

/** Schemas of PostgreSQL itself and of common extensions' internals: never audited. */
const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

const q = async <R extends pg.QueryResultRow>(c: pg.Client, sql: string, params: unknown[] = []) => (await c.query<R>(sql, params)).rows;

/** Run every rule against a connected client (the caller connects, with a statement timeout). */
export async function audit(c: pg.Client, opts: AuditOptions = {}): Promise<AuditReport> {
  const exposed = opts.exposedSchemas ?? ['public'];
  const findings: AuditFinding[] = [];
  const add = (f: AuditFinding) => findings.push(f);
  const version = (await q<{ v: string }>(c, "select current_setting('server_version') as v"))[0]?.v ?? '';

  // ---- row level security ------------------------------------------------------------------
  const tables = await q<{ schema: string; name: string; rls: boolean; policies: number; has_pk: boolean }>(
    c,
    `select n.nspname as schema, c.relname as name, c.relrowsecurity as rls,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies,
            exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p') as has_pk
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition
        and n.nspname <> all($1) and n.nspname not like 'pg_temp%'
        and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      order by 1, 2`,
    [SYSTEM_SCHEMAS],
  );
  for (const t of tables) {
    const name = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    if (exposed.includes(t.schema) && !t.rls) {
      add({ rule: 'rls_disabled', level: 'error', object: name, message: `row level security is off on ${name}, in the exposed schema ${t.schema}: any API role can read and write every row`, remediation: `alter table ${quoteIdent(t.schema)}.${quoteIdent(t.name)} enable row level security; then add policies` });
    }
    if (t.rls && t.policies === 0) {
      add({ rule: 'rls_enabled_no_policy', level: 'warn', object: name, message: `row level security is on for ${name} but it has no policy: every row is hidden from every role but the owner`, remediation: `create policy … on ${quoteIdent(t.schema)}.${quoteIdent(t.name)} (or disable RLS if the table is not exposed)` });
    }
    if (!t.has_pk) {
      add({ rule: 'no_primary_key', level: 'warn', object: name, message: `${name} has no primary key: rows cannot be addressed one by one, and logical replication cannot update or delete them`, remediation: `alter table ${quoteIdent(t.schema)}.${quoteIdent(t.name)} add primary key (…)` });
    }
  }

  // ---- functions without a fixed search_path -------------------------------------------------
  const fns = await q<{ schema: string; name: string; args: string; definer: boolean }>(
    c,
    `select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args, p.prosecdef as definer
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname <> all($1) and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search_path=%')
      order by 1, 2`,
    [SYSTEM_SCHEMAS],
  );
  for (const f of fns) {
    const name = `${quoteIdent(f.schema)}.${quoteIdent(f.name)}(${f.args})`;
    add({
      rule: 'function_search_path_mutable',
      level: f.definer ? 'error' : 'warn',
      object: name,
      message: f.definer
        ? `${name} is SECURITY DEFINER with a search_path the caller controls: a caller can make it run their own objects with the owner's rights`
        : `${name} has no fixed search_path: what it calls depends on the caller's search_path`,
      remediation: `alter function ${quoteIdent(f.schema)}.${quoteIdent(f.name)}(${f.args}) set search_path = ''  (and schema-qualify what it uses)`,
    });
  }

  // ---- indexes -------------------------------------------------------------------------------
  const unindexed = await q<{ schema: string; table: string; fk: string; cols: string }>(
    c,
    `select n.nspname as schema, c.relname as table, k.conname as fk,
            (select string_agg(a.attname, ', ' order by x.ord) from unnest(k.conkey) with ordinality x(attnum, ord)
               join pg_attribute a on a.attrelid = k.conrelid and a.attnum = x.attnum) as cols
       from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where k.contype = 'f' and n.nspname <> all($1)
        and not exists (select 1 from pg_index i where i.indrelid = k.conrelid
                        and (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] @> k.conkey
                        and (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] <@ k.conkey)
      order by 1, 2, 3`,
    [SYSTEM_SCHEMAS],
  );
  for (const u of unindexed) {
    add({ rule: 'unindexed_foreign_key', level: 'info', object: `${u.schema}.${u.table}`, message: `foreign key ${u.fk} (${u.cols}) of ${u.schema}.${u.table} has no index starting with its columns: deletes in the referenced table and joins scan the whole table`, remediation: `create index concurrently on ${quoteIdent(u.schema)}.${quoteIdent(u.table)} (${u.cols})` });
  }
  const dupes = await q<{ schema: string; table: string; indexes: string[] }>(
    c,
    `select n.nspname as schema, t.relname as table, array_agg(ic.relname::text order by ic.relname) as indexes
       from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace
      where n.nspname <> all($1)
      group by n.nspname, t.relname, i.indkey::text, i.indclass::text, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
     having count(*) > 1
      order by 1, 2`,
    [SYSTEM_SCHEMAS],
  );
  for (const d of dupes) {
    add({ rule: 'duplicate_index', level: 'warn', object: `${d.schema}.${d.table}`, message: `${d.schema}.${d.table} has identical indexes: ${d.indexes.join(', ')} (each write updates all of them)`, remediation: `drop index concurrently ${d.indexes.slice(1).map((i) => `${quoteIdent(d.schema)}.${quoteIdent(i)}`).join(', ')}` });
  }
  const indexCount = (await q<{ n: number }>(c, `select count(*)::int as n from pg_index i join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace where n.nspname <> all($1)`, [SYSTEM_SCHEMAS]))[0]?.n ?? 0;

  // ---- connections and running queries -------------------------------------------------------
  const conn = await connectionUsage(c);
  const usable = Math.max(1, conn.max - conn.reserved);
  const share = conn.used / usable;
  if (share > (opts.connectionsWarn ?? 0.8)) {
    add({ rule: 'connections_high', level: share >= 0.95 ? 'error' : 'warn', object: 'server', message: `${conn.used} of ${usable} usable connections in use (${Math.round(share * 100)} %)`, remediation: 'put a pooler (PgBouncer, Supavisor) in front, lower pool sizes, or raise max_connections' });
  }
  const longMs = opts.longQueryMs ?? 5 * 60_000;
  const long = await runningQueries(c, { minMs: longMs, limit: 20, chars: 200 });
  for (const l of long) {
    add({ rule: 'long_running_query', level: 'warn', object: `pid ${l.pid}`, message: `a query of ${l.user ?? '?'} has been ${l.state} for ${Math.round(l.duration_ms / 1000)} s: ${l.query}`, remediation: `select pg_cancel_backend(${l.pid});  (pg_terminate_backend if it does not stop)` });
  }

  // ---- slowest statements --------------------------------------------------------------------
  const slow = await slowStatements(c, { limit: opts.topStatements ?? 5, order: 'total', chars: 200 });
  for (const t of slow.statements) {
    add({ rule: 'slow_statement', level: 'info', object: 'pg_stat_statements', message: `${Math.round(t.total_ms)} ms in all over ${t.calls} calls (mean ${t.mean_ms.toFixed(1)} ms): ${t.query}`, remediation: 'explain (analyze, buffers) it; an index or a rewrite usually helps the top few most' });
  }
  const statements = slow.available;

  const counts: Record<AuditLevel, number> = { info: 0, warn: 0, error: 0 };
  for (const f of findings) counts[f.level]++;
  const order: Record<AuditLevel, number> = { error: 0, warn: 1, info: 2 };
  findings.sort((a, b) => order[a.level] - order[b.level] || a.rule.localeCompare(b.rule) || a.object.localeCompare(b.object));
  return { findings, checked: { tables: tables.length, functions: fns.length, indexes: indexCount, pg_stat_statements: statements, server_version: version }, counts };
}

/** True when a finding at or above `failOn` is in the report (the exit code of `db audit`). */
export function auditFails(r: AuditReport, failOn: AuditLevel): boolean {
  const min = AUDIT_LEVELS.indexOf(failOn);
  return r.findings.some((f) => AUDIT_LEVELS.indexOf(f.level) >= min);
}

/** An identifier as SQL writes it (quoted when it has to be). */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `db audit` against a URL: connect (60 s statement timeout), run every rule, close. */
export function dbAudit(url: string, opts: AuditOptions = {}): Promise<AuditReport> {
  return withClient(url, 'shipshape db audit', '60s', (c) => audit(c, opts));
}

/**
 * The audit's options as the CLI and the API take them, as text: a comma-separated schema list
 * and a duration. Bad input is `invalid`, naming the option as the caller calls it.
 */
export function auditOptionsOf(text: { schemas: string; longQuery: string }, names: { schemas: string; longQuery: string }): AuditOptions {
  const exposedSchemas = text.schemas.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = exposedSchemas.find((x) => !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(x));
  if (exposedSchemas.length === 0 || bad !== undefined) throw new ServiceError('invalid', `${names.schemas}: expected schema names separated by commas, like public,api${bad !== undefined ? `; "${bad.slice(0, 80)}" is not one` : ''}`);
  const longQueryMs = parseDuration(text.longQuery);
  if (longQueryMs === undefined || longQueryMs <= 0) throw new ServiceError('invalid', `${names.longQuery}: expected a duration like 5m, got "${text.longQuery.slice(0, 40)}"`);
  return { exposedSchemas, longQueryMs };
}
