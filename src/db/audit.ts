/**
 * `shipshape db audit`: the operations guides' database checklist as catalog queries, matching
 * Supabase's splinter lints in meaning and level (docs/db.md maps each rule to its lint) and pghero —
 * RLS on every exposed table, policies that apply and are not always true, views and SECURITY
 * DEFINER functions that bypass RLS for the API roles, sensitive columns and auth.users exposed,
 * extensions in public, functions with a fixed search_path, primary keys, indexes on foreign keys,
 * duplicate and unused indexes, dead-row bloat, connection usage, long-running queries, and the
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
import { ROLE_NAME_RE, SCHEMA_NAME_RE } from './config.js';
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

/**
 * Column names that hold credentials, identity documents, payment, health or device data (the
 * categories of splinter's sensitive_columns_exposed), compared after lower-casing and `-` → `_`.
 */
const SENSITIVE_COLUMNS = [
  'password', 'passwd', 'pwd', 'password_hash', 'passphrase', 'secret', 'secret_key', 'client_secret', 'private_key', 'api_key', 'apikey', 'auth_key', 'token', 'jwt',
  'access_token', 'refresh_token', 'id_token', 'oauth_token', 'session_token', 'bearer_token', 'auth_code', 'session_id', 'session_key', 'session_secret',
  'recovery_code', 'recovery_codes', 'backup_code', 'backup_codes', 'verification_code', 'otp', 'otp_secret', 'totp_secret', 'two_factor', 'two_factor_secret', 'mfa_secret',
  'ssn', 'social_security', 'social_security_number', 'driver_license', 'drivers_license', 'license_number', 'passport', 'passport_number', 'national_id', 'tax_id',
  'credit_card', 'card_number', 'cc_number', 'cvv', 'cvc', 'bank_account', 'account_number', 'routing_number', 'iban', 'swift_code', 'bic',
  'medical_record', 'health_record', 'diagnosis', 'patient_id', 'insurance_number', 'health_insurance',
  'mac_address', 'imei', 'device_uuid', 'ssh_key', 'pgp_key', 'gpg_key', 'license_key', 'activation_key',
];

/** Schemas of PostgreSQL itself and of common extensions' internals: never audited. */
const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

const q = async <R extends pg.QueryResultRow>(c: pg.Client, sql: string, params: unknown[] = []) => (await c.query<R>(sql, params)).rows;

/** Run every rule against a connected client (the caller connects, with a statement timeout). */
export async function audit(c: pg.Client, opts: AuditOptions = {}): Promise<AuditReport> {
  const exposed = opts.exposedSchemas ?? ['public'];
  const findings: AuditFinding[] = [];
  const add = (f: AuditFinding) => findings.push(f);
  const version = (await q<{ v: string }>(c, "select current_setting('server_version') as v"))[0]?.v ?? '';
  const versionNum = Number((await q<{ v: string }>(c, "select current_setting('server_version_num') as v"))[0]?.v ?? 0);
  // the API roles that exist here; on a server without them (plain PostgreSQL), PUBLIC stands for the API's callers
  const wanted = opts.roles ?? ['anon', 'authenticated'];
  const roles = (await q<{ r: string }>(c, 'select rolname as r from pg_roles where rolname = any($1) order by 1', [wanted])).map((x) => x.r);
  const who = roles.length ? roles : ['public'];
  const whoText = roles.length ? roles.join(', ') : 'PUBLIC';

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
    if (!t.rls && t.policies > 0) {
      add({ rule: 'policy_exists_rls_disabled', level: 'error', object: name, message: `${name} has ${t.policies} ${t.policies === 1 ? 'policy' : 'policies'} but row level security is off, so ${t.policies === 1 ? 'it is' : 'they are'} not applied: every role with table privileges sees every row`, remediation: `alter table ${quoteIdent(t.schema)}.${quoteIdent(t.name)} enable row level security` });
    }
    if (t.rls && t.policies === 0) {
      add({ rule: 'rls_enabled_no_policy', level: 'info', object: name, message: `row level security is on for ${name} but it has no policy: every row is hidden from every role but the owner`, remediation: `create policy … on ${quoteIdent(t.schema)}.${quoteIdent(t.name)} (or disable RLS if the table is not exposed)` });
    }
    if (!t.has_pk) {
      add({ rule: 'no_primary_key', level: 'info', object: name, message: `${name} has no primary key: rows cannot be addressed one by one, and logical replication cannot update or delete them`, remediation: `alter table ${quoteIdent(t.schema)}.${quoteIdent(t.name)} add primary key (…)` });
    }
  }

  // ---- sensitive columns in exposed tables without RLS -----------------------------------------
  const sensitive = await q<{ schema: string; name: string; columns: string[] }>(
    c,
    `select n.nspname as schema, c.relname as name, array_agg(a.attname::text order by a.attnum) as columns
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.relkind in ('r', 'p') and not c.relrowsecurity and n.nspname = any($1)
        and replace(lower(a.attname), '-', '_') = any($2)
        and ($3::text[] is null or exists (select 1 from unnest($3::text[]) r where has_table_privilege(r, c.oid, 'SELECT')))
      group by 1, 2 order by 1, 2`,
    [exposed, SENSITIVE_COLUMNS, roles.length ? roles : null],
  );
  for (const t of sensitive) {
    const name = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    add({ rule: 'sensitive_columns_exposed', level: 'error', object: name, message: `${name} is exposed without row level security and holds sensitive-looking columns: ${t.columns.join(', ')}`, remediation: `alter table ${name} enable row level security; add policies, or move ${t.columns.join(', ')} to a table outside the exposed schemas` });
  }

  // ---- policies --------------------------------------------------------------------------------
  const policies = await q<{ schema: string; table: string; policy: string; cmd: string; permissive: boolean; roles: string[]; qual: string | null; with_check: string | null; rls: boolean }>(
    c,
    `select p.schemaname as schema, p.tablename as table, p.policyname as policy, p.cmd, p.permissive = 'PERMISSIVE' as permissive,
            p.roles::text[] as roles, p.qual, p.with_check, c.relrowsecurity as rls
       from pg_policies p join pg_namespace n on n.nspname = p.schemaname join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
      where p.schemaname <> all($1)
      order by 1, 2, 3`,
    [SYSTEM_SCHEMAS],
  );
  const always = (e: string | null) => e !== null && ['true', '(true)', '1=1', '(1=1)'].includes(e.toLowerCase().replace(/\s+/g, ''));
  for (const p of policies) {
    if (!p.rls || !p.permissive || !p.roles.some((r) => r === 'public' || wanted.includes(r))) continue;
    // SELECT … USING (true) is the usual way to publish a table: only writes are flagged
    const openUsing = ['UPDATE', 'DELETE', 'ALL'].includes(p.cmd) && (p.qual === null || always(p.qual));
    const openCheck = always(p.with_check) || (p.with_check === null && (p.cmd === 'INSERT' || (['UPDATE', 'ALL'].includes(p.cmd) && always(p.qual))));
    if (!openUsing && !openCheck) continue;
    const table = `${quoteIdent(p.schema)}.${quoteIdent(p.table)}`;
    const which = openUsing && openCheck ? 'USING and WITH CHECK are' : openUsing ? 'USING is' : 'WITH CHECK is';
    add({ rule: 'rls_policy_always_true', level: 'warn', object: `${table} policy ${quoteIdent(p.policy)}`, message: `policy ${p.policy} on ${table} lets ${p.roles.join(', ')} ${p.cmd === 'ALL' ? 'write' : p.cmd.toLowerCase()} any row: its ${which} always true, so row level security does nothing for it`, remediation: `alter policy ${quoteIdent(p.policy)} on ${table} using (…) with check (…)  (e.g. (select auth.uid()) = user_id)` });
  }
  // more than one permissive policy for the same role and command: each is evaluated for every row
  const overlap = new Map<string, Map<string, string[]>>();
  for (const p of policies) {
    if (!p.permissive) continue;
    const table = `${quoteIdent(p.schema)}.${quoteIdent(p.table)}`;
    for (const role of p.roles) {
      for (const cmd of p.cmd === 'ALL' ? ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] : [p.cmd]) {
        const byKey = overlap.get(table) ?? new Map<string, string[]>();
        const key = `${role} ${cmd}`;
        byKey.set(key, [...(byKey.get(key) ?? []), p.policy]);
        overlap.set(table, byKey);
      }
    }
  }
  for (const [table, byKey] of overlap) {
    const multi = [...byKey].filter(([, names]) => names.length > 1);
    if (!multi.length) continue;
    add({ rule: 'multiple_permissive_policies', level: 'warn', object: table, message: `${table} has several permissive policies for the same role and command, each evaluated for every row: ${multi.map(([k, names]) => `${k} (${names.join(', ')})`).join('; ')}`, remediation: `merge them into one policy per role and command (their conditions joined with or), or make the extra ones restrictive` });
  }

  // ---- views and the auth schema -----------------------------------------------------------------
  const views = await q<{ schema: string; name: string; kind: string; options: string[] | null; readable: boolean; auth_users: boolean }>(
    c,
    `select n.nspname as schema, c.relname as name, c.relkind as kind, c.reloptions as options,
            ($2::text[] is null or exists (select 1 from unnest($2::text[]) r where has_table_privilege(r, c.oid, 'SELECT'))) as readable,
            (to_regclass('auth.users') is not null and exists (
               select 1 from pg_rewrite w join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid
                where w.ev_class = c.oid and d.refobjid = to_regclass('auth.users'))) as auth_users
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('v', 'm') and n.nspname = any($1)
        and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      order by 1, 2`,
    [exposed, roles.length ? roles : null],
  );
  for (const v of views.filter((x) => x.readable)) {
    const name = `${quoteIdent(v.schema)}.${quoteIdent(v.name)}`;
    if (v.auth_users) {
      add({ rule: 'auth_users_exposed', level: 'error', object: name, message: `${name} reads auth.users and ${whoText} can select from it: user emails and metadata are exposed through the API`, remediation: `revoke select on ${name} from ${roles.length ? roles.join(', ') : 'public'};  or move it out of the exposed schemas` });
    }
    if (v.kind === 'm') {
      add({ rule: 'materialized_view_in_api', level: 'warn', object: name, message: `materialized view ${name} is selectable by ${whoText} in an exposed schema; row level security cannot apply to it`, remediation: `revoke select on ${name} from ${roles.length ? roles.join(', ') : 'public'};  or move it out of the exposed schemas` });
      continue;
    }
    const invoker = (v.options ?? []).some((o) => /^security_invoker=(true|on|yes|1)$/i.test(o));
    if (!invoker) {
      add({
        rule: 'security_definer_view',
        level: 'error',
        object: name,
        message: `view ${name} runs with its owner's rights (not security_invoker), so it bypasses the row level security of the tables it reads for ${whoText}`,
        remediation: versionNum >= 150000 ? `alter view ${name} set (security_invoker = on)` : `revoke select on ${name} from ${roles.length ? roles.join(', ') : 'public'}, or move it out of the exposed schemas (security_invoker needs PostgreSQL 15)`,
      });
    }
  }
  const authSchema = exposed.includes('auth') && (await q<{ n: number }>(c, "select count(*)::int as n from pg_namespace where nspname = 'auth'"))[0]?.n;
  if (authSchema) {
    add({ rule: 'auth_schema_exposed', level: 'error', object: 'auth', message: 'the auth schema is one of the exposed schemas: its tables (users, sessions, identities) are reachable through the API', remediation: 'remove auth from the API\'s exposed schemas (PostgREST db-schemas); expose what the app needs through a view with security_invoker in an exposed schema' });
  }

  // ---- extensions in public --------------------------------------------------------------------
  const extensions = await q<{ name: string }>(c, "select e.extname as name from pg_extension e join pg_namespace n on n.oid = e.extnamespace where n.nspname = 'public' order by 1");
  for (const e of extensions) {
    add({ rule: 'extension_in_public', level: 'warn', object: `extension ${e.name}`, message: `extension ${e.name} is installed in the public schema: its functions and types are exposed with your API and can shadow or be shadowed by your own objects`, remediation: `create schema if not exists extensions; alter extension ${quoteIdent(e.name)} set schema extensions;  (an extension that cannot be relocated: drop and create it with schema extensions)` });
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

  // ---- SECURITY DEFINER functions the API's roles can call --------------------------------------
  const definers = await q<{ schema: string; name: string; args: string; by: string[] }>(
    c,
    `select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args,
            array(select r from unnest($2::text[]) r where has_function_privilege(r, p.oid, 'EXECUTE')) as by
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef and n.nspname <> all($1)
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      order by 1, 2`,
    [SYSTEM_SCHEMAS, who],
  );
  for (const f of definers.filter((x) => x.by.length)) {
    const name = `${quoteIdent(f.schema)}.${quoteIdent(f.name)}(${f.args})`;
    const by = f.by.map((r) => (r === 'public' ? 'PUBLIC' : r)).join(', ');
    add({ rule: 'security_definer_function_executable', level: 'warn', object: name, message: `SECURITY DEFINER function ${name} can be called by ${by}: it runs with its owner's rights and bypasses row level security${exposed.includes(f.schema) ? `, and the API serves it (/rpc/${f.name})` : ''}`, remediation: `revoke execute on function ${name} from ${[...new Set(['public', ...f.by])].join(', ')};  (or make it security invoker)` });
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
  const unused = await q<{ schema: string; table: string; index: string; bytes: string; since: string | null }>(
    c,
    `select s.schemaname as schema, s.relname as table, s.indexrelname as index, pg_relation_size(s.indexrelid)::text as bytes,
            (select stats_reset::text from pg_stat_database where datname = current_database()) as since
       from pg_stat_user_indexes s join pg_index i on i.indexrelid = s.indexrelid
      where s.idx_scan = 0 and not i.indisunique and not i.indisprimary and s.schemaname <> all($1)
        and not exists (select 1 from pg_depend d where d.objid = s.relid and d.deptype = 'e')
      order by 1, 2, 3`,
    [SYSTEM_SCHEMAS],
  );
  for (const u of unused) {
    add({ rule: 'unused_index', level: 'info', object: `${quoteIdent(u.schema)}.${quoteIdent(u.index)}`, message: `index ${u.index} on ${u.schema}.${u.table} (${formatBytes(Number(u.bytes))}) has not been used by a query ${u.since ? `since the statistics were reset (${u.since.slice(0, 16)})` : 'since the statistics began'}: every write still updates it`, remediation: `drop index concurrently ${quoteIdent(u.schema)}.${quoteIdent(u.index)};  (check a replica and a full business cycle first)` });
  }
  // dead rows vacuum has not reclaimed yet, from the statistics (splinter estimates from page counts instead)
  const bloated = await q<{ schema: string; table: string; live: string; dead: string; bytes: string }>(
    c,
    `select schemaname as schema, relname as table, n_live_tup::text as live, n_dead_tup::text as dead, pg_table_size(relid)::text as bytes
       from pg_stat_user_tables
      where n_dead_tup >= 10000 and n_dead_tup > 0.2 * (n_live_tup + n_dead_tup) and schemaname <> all($1)
      order by n_dead_tup desc limit 50`,
    [SYSTEM_SCHEMAS],
  );
  for (const b of bloated) {
    const dead = Number(b.dead);
    const share = dead / Math.max(1, Number(b.live) + dead);
    add({ rule: 'table_bloat', level: 'info', object: `${quoteIdent(b.schema)}.${quoteIdent(b.table)}`, message: `${b.schema}.${b.table} holds ${dead} dead rows (${Math.round(share * 100)} % of its rows, about ${formatBytes(Number(b.bytes) * share)} of ${formatBytes(Number(b.bytes))}): vacuum has not caught up`, remediation: `vacuum (analyze) ${quoteIdent(b.schema)}.${quoteIdent(b.table)};  and lower its autovacuum_vacuum_scale_factor if it keeps coming back` });
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
  return { findings, checked: { tables: tables.length, functions: fns.length, indexes: indexCount, pg_stat_statements: statements, server_version: version, roles: roles.length ? roles : ['PUBLIC'], views: views.length, policies: policies.length }, counts };
}

/** True when a finding at or above `failOn` is in the report (the exit code of `db audit`). */
export function auditFails(r: AuditReport, failOn: AuditLevel): boolean {
  const min = AUDIT_LEVELS.indexOf(failOn);
  return r.findings.some((f) => AUDIT_LEVELS.indexOf(f.level) >= min);
}

const formatBytes = (n: number) => (n >= 1024 * 1024 * 1024 ? `${(n / 1024 ** 3).toFixed(1)} GB` : n >= 1024 * 1024 ? `${(n / 1024 ** 2).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${Math.round(n)} B`);

/** An identifier as SQL writes it (quoted when it has to be). */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `db audit` against a URL: connect (60 s statement timeout), run every rule, close. */
export function dbAudit(url: string, opts: AuditOptions = {}): Promise<AuditReport> {
  return withClient(url, 'shipshape db audit', '60s', (c) => audit(c, opts));
}

/**
 * The audit's options as the CLI and the API take them, as text: a comma-separated schema list,
 * a duration and (when given) a comma-separated role list. Bad input is `invalid`, naming the
 * option as the caller calls it.
 */
export function auditOptionsOf(text: { schemas: string; longQuery: string; roles?: string }, names: { schemas: string; longQuery: string; roles?: string }): AuditOptions {
  const exposedSchemas = text.schemas.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = exposedSchemas.find((x) => !SCHEMA_NAME_RE.test(x));
  if (exposedSchemas.length === 0 || bad !== undefined) throw new ServiceError('invalid', `${names.schemas}: expected schema names separated by commas, like public,api${bad !== undefined ? `; "${bad.slice(0, 80)}" is not one` : ''}`);
  const longQueryMs = parseDuration(text.longQuery);
  if (longQueryMs === undefined || longQueryMs <= 0) throw new ServiceError('invalid', `${names.longQuery}: expected a duration like 5m, got "${text.longQuery.slice(0, 40)}"`);
  if (text.roles === undefined) return { exposedSchemas, longQueryMs };
  const roles = text.roles.split(',').map((x) => x.trim()).filter(Boolean);
  const badRole = roles.find((x) => !ROLE_NAME_RE.test(x));
  if (roles.length === 0 || badRole !== undefined) throw new ServiceError('invalid', `${names.roles ?? 'roles'}: expected role names separated by commas, like anon,authenticated${badRole !== undefined ? `; "${badRole.slice(0, 80)}" is not one` : ''}`);
  return { exposedSchemas, longQueryMs, roles };
}
