/**
 * The database audit against the real PostgreSQL: a schema with the guides' checklist problems
 * (a table without RLS, RLS without a policy, a SECURITY DEFINER function with a mutable
 * search_path, a foreign key without an index, duplicate indexes, a table without a primary key,
 * a long-running query) is found, each with its fix; a clean schema passes.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, auditFails, auditOptionsOf, type AuditReport } from '../../src/db/audit.js';
import { createTestDatabase } from '../helpers/pg.js';

describe('db audit', () => {
  let db: { url: string; drop: () => Promise<void> };
  let c: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('shipshape_audit');
    c = new pg.Client({ connectionString: db.url });
    await c.connect();
  });

  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  const run = async (opts = {}): Promise<AuditReport> => audit(c, opts);
  const rules = (r: AuditReport) => r.findings.map((f) => `${f.level} ${f.rule} ${f.object}`);

  it('passes a schema that follows the checklist', async () => {
    await c.query(`
      create table profiles (id bigint primary key, name text);
      alter table profiles enable row level security;
      create policy readable on profiles for select using (true);
      create table posts (id bigint primary key, author bigint references profiles (id));
      alter table posts enable row level security;
      create policy readable on posts for select using (true);
      create index on posts (author);
      create function touch() returns trigger language plpgsql set search_path = '' as $$ begin return new; end $$;
    `);
    const r = await run();
    // an index made a moment ago has served no query yet: a note, nothing to fix
    expect(rules(r)).toEqual(['info unused_index public.posts_author_idx']);
    expect(r.checked).toMatchObject({ tables: 2, functions: 0, server_version: expect.stringMatching(/^\d+/), roles: ['PUBLIC'], policies: 2 });
    expect(r.checked.indexes).toBeGreaterThanOrEqual(3);
    expect(auditFails(r, 'warn')).toBe(false);
  });

  it('finds what the guides check, with the fix for each, worst first', async () => {
    await c.query(`
      create table comments (id bigint primary key, post bigint references posts (id), body text);
      create table audit_log (at timestamptz, what text);
      alter table audit_log enable row level security;
      create index comments_body on comments (body);
      create index comments_body_again on comments (body);
      create function "Grant Admin"(uid bigint) returns void language sql security definer as $$ select 1 $$;
      create function add_one(i int) returns int language sql as $$ select i + 1 $$;
      create schema private;
      create table private.notes (id bigint primary key);
    `);
    const r = await run();
    expect(rules(r)).toEqual([
      'error function_search_path_mutable public."Grant Admin"(uid bigint)',
      'error rls_disabled public.comments',
      'warn duplicate_index public.comments',
      'warn function_search_path_mutable public.add_one(i integer)',
      // no API roles on this server: PUBLIC stands for them, and it may execute functions by default
      'warn security_definer_function_executable public."Grant Admin"(uid bigint)',
      'info no_primary_key public.audit_log',
      'info rls_enabled_no_policy public.audit_log',
      'info unindexed_foreign_key public.comments',
      'info unused_index public.comments_body',
      'info unused_index public.comments_body_again',
      'info unused_index public.posts_author_idx',
    ]);
    const by = (rule: string) => r.findings.find((f) => f.rule === rule);
    expect(by('rls_disabled')?.remediation).toBe('alter table public.comments enable row level security; then add policies');
    expect(by('duplicate_index')?.message).toBe('public.comments has identical indexes: comments_body, comments_body_again (each write updates all of them)');
    expect(by('unindexed_foreign_key')?.remediation).toBe('create index concurrently on public.comments (post)');
    expect(r.findings.find((f) => f.object.startsWith('public."Grant Admin"'))?.remediation).toBe(`alter function public."Grant Admin"(uid bigint) set search_path = ''  (and schema-qualify what it uses)`);
    // a table outside the exposed schemas does not need RLS
    expect(r.findings.some((f) => f.object === 'private.notes')).toBe(false);
    expect(r.counts).toEqual({ error: 2, warn: 3, info: 6 });
    expect(auditFails(r, 'error')).toBe(true);
    expect(auditFails(r, 'warn')).toBe(true);
    // other schemas can be declared exposed
    expect(rules(await run({ exposedSchemas: ['public', 'private'] }))).toContain('error rls_disabled private.notes');
  });

  it('finds what splinter finds for the API roles: exposed secrets, policies that do nothing, views and functions that bypass RLS, extensions in public, the auth schema', async () => {
    // roles of this test's own (roles are the server's, shared with every other test)
    const anon = `shipshape_anon_${process.pid}`;
    const authed = `shipshape_authed_${process.pid}`;
    await c.query(`create role ${anon} nologin; create role ${authed} nologin`);
    try {
      await c.query(`
        create table accounts (id bigint primary key, email text, password_hash text, "API-Key" text);
        grant select on accounts to ${anon};
        create table drafts (id bigint primary key, body text);
        create policy readable on drafts for select using (true);
        create table ledger (id bigint primary key, owner bigint, note text);
        alter table ledger enable row level security;
        create policy fix_anything on ledger for update to ${authed} using (true);
        create policy mine on ledger for select to ${authed} using (owner = 1);
        create policy team on ledger for select to ${authed} using (owner = 2);
        create policy log_in on ledger for insert to ${anon} with check (true);
        create view account_emails as select id, email from accounts;
        grant select on account_emails to ${anon};
        create view own_emails with (security_invoker = on) as select id, email from accounts;
        grant select on own_emails to ${anon};
        create view hidden_emails as select id, email from accounts;
        create materialized view account_count as select count(*) as n from accounts;
        grant select on account_count to ${authed};
        create function promote(uid bigint) returns void language sql security definer set search_path = '' as $$ select 1 $$;
        revoke execute on function promote(bigint) from public;
        grant execute on function promote(bigint) to ${authed};
        create function lock_down(uid bigint) returns void language sql security definer set search_path = '' as $$ select 1 $$;
        revoke execute on function lock_down(bigint) from public;
        create extension if not exists citext schema public;
        create schema auth;
        create table auth.users (id bigint primary key, email text);
        create view user_emails with (security_invoker = on) as select email from auth.users;
        grant select on user_emails to ${anon};
      `);
      const r = await run({ roles: [anon, authed, 'no_such_role'] });
      const mine = (x: AuditReport) => rules(x).filter((f) => /accounts|drafts|ledger|emails|account_count|promote|lock_down|citext|\bauth\b/.test(f));
      // in the report's order: errors, warnings, notes; by rule, then object
      expect(mine(r)).toEqual([
        'error auth_users_exposed public.user_emails',
        'error policy_exists_rls_disabled public.drafts',
        'error rls_disabled public.accounts',
        'error rls_disabled public.drafts',
        'error security_definer_view public.account_emails',
        'error sensitive_columns_exposed public.accounts',
        'warn extension_in_public extension citext',
        'warn materialized_view_in_api public.account_count',
        'warn multiple_permissive_policies public.ledger',
        'warn rls_policy_always_true public.ledger policy fix_anything',
        'warn rls_policy_always_true public.ledger policy log_in',
        'warn security_definer_function_executable public.promote(uid bigint)',
      ]);
      expect(r.checked.roles).toEqual([anon, authed]);
      const by = (rule: string) => r.findings.find((f) => f.rule === rule);
      expect(by('sensitive_columns_exposed')?.message).toMatch(/password_hash, API-Key$/);
      expect(by('policy_exists_rls_disabled')?.remediation).toBe('alter table public.drafts enable row level security');
      expect(by('security_definer_view')?.remediation).toBe('alter view public.account_emails set (security_invoker = on)');
      expect(by('multiple_permissive_policies')?.message).toContain(`${authed} SELECT (mine, team)`);
      const promote = r.findings.find((f) => f.object === 'public.promote(uid bigint)');
      expect(promote?.message).toContain(`can be called by ${authed}:`);
      expect(promote?.remediation).toBe(`revoke execute on function public.promote(uid bigint) from public, ${authed};  (or make it security invoker)`);
      expect(by('auth_users_exposed')?.message).toContain(`${anon}, ${authed} can select from it`);
      // the auth schema itself among the exposed ones
      expect(rules(await run({ roles: [anon, authed], exposedSchemas: ['public', 'auth'] }))).toContain('error auth_schema_exposed auth');
    } finally {
      await c.query(`drop schema auth cascade; drop view account_emails, own_emails, hidden_emails; drop materialized view account_count; drop table accounts, drafts, ledger; drop function promote(bigint), lock_down(bigint); drop extension citext`);
      await c.query(`drop owned by ${anon}, ${authed}; drop role ${anon}; drop role ${authed}`);
    }
  });

  it('notes a table whose dead rows vacuum has not reclaimed', async () => {
    await c.query(`create table churn (id int primary key, v text) with (autovacuum_enabled = off);
      insert into churn select g, repeat('x', 50) from generate_series(1, 30000) g;
      delete from churn where id <= 20000`);
    let f: AuditReport['findings'][number] | undefined;
    // the statistics reach pg_stat_user_tables a moment after the transaction (flushed at most once a second)
    for (let i = 0; i < 50 && !f; i++) {
      f = (await run()).findings.find((x) => x.rule === 'table_bloat' && x.object === 'public.churn');
      if (!f) await new Promise((done) => setTimeout(done, 200));
    }
    expect(f).toMatchObject({ level: 'info', remediation: expect.stringMatching(/^vacuum \(analyze\) public\.churn;/) });
    expect(f?.message).toMatch(/^public\.churn holds 20000 dead rows \(67 % of its rows, about [\d.]+ [KM]B of [\d.]+ [KM]B\): vacuum has not caught up$/);
    await c.query('vacuum churn');
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      gone = !(await run()).findings.some((x) => x.rule === 'table_bloat' && x.object === 'public.churn');
      if (!gone) await new Promise((done) => setTimeout(done, 200));
    }
    expect(gone).toBe(true);
    await c.query('drop table churn');
  });

  it('reports queries running longer than the limit, with how to stop them', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    const sleeping = other.query('select pg_sleep(5)').catch(() => undefined);
    try {
      let r: AuditReport | undefined;
      for (let i = 0; i < 40; i++) {
        r = await run({ longQueryMs: 300 });
        if (r.findings.some((f) => f.rule === 'long_running_query')) break;
        await new Promise((done) => setTimeout(done, 100));
      }
      const f = r?.findings.find((x) => x.rule === 'long_running_query');
      expect(f?.message).toMatch(/^a query of postgres has been active for \d+ s: select pg_sleep\(5\)$/);
      expect(f?.remediation).toMatch(/^select pg_cancel_backend\(\d+\);/);
      // and a connection usage limit below what is in use is reported
      const crowded = await run({ connectionsWarn: 0 });
      expect(crowded.findings.find((x) => x.rule === 'connections_high')?.message).toMatch(/^\d+ of \d+ usable connections in use \(\d+ %\)$/);
      await c.query(`select pg_cancel_backend(pid) from pg_stat_activity where query = 'select pg_sleep(5)'`);
    } finally {
      await sleeping;
      await other.end();
    }
  });

  it('runs as `shipshape db audit`: findings and their fixes, exit 1 at --fail-on, JSON without the password', async () => {
    const cli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(process.execPath, [resolve('bin/shipshape.js'), 'db', 'audit', ...args], { env: { ...process.env, DATABASE_URL: '' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status) => done({ status, stdout, stderr }));
      });
    const url = new URL(db.url);
    url.password = 'hunter2-not-needed';
    const text = await cli(['--url', url.toString()]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('rls_disabled  public.comments');
    expect(text.stdout).toContain('fix: alter table public.comments enable row level security; then add policies');
    expect(text.stdout).toMatch(/: 2 errors, 3 warnings, 6 notes$/m);
    expect(text.stdout + text.stderr).not.toContain('hunter2');
    const j = await cli(['--url', url.toString(), '--json', '--fail-on', 'info']);
    expect(j.status).toBe(1);
    const r = JSON.parse(j.stdout) as AuditReport & { database: string };
    expect(r.database).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/shipshape_audit_/);
    expect(r.counts).toEqual({ error: 2, warn: 3, info: 6 });
    const bad = await cli(['--url', url.toString(), '--fail-on', 'fatal']);
    expect(bad).toMatchObject({ status: 2, stderr: expect.stringContaining('--fail-on: expected info, warn or error, got "fatal"') });
  });
});

describe('the audit options the CLI and the API take as text', () => {
  const cli = { schemas: '--schemas', longQuery: '--long-query' };
  it('reads a schema list and a duration, and names the option as the caller calls it when either is wrong', () => {
    expect(auditOptionsOf({ schemas: 'public, api', longQuery: '90s' }, cli)).toEqual({ exposedSchemas: ['public', 'api'], longQueryMs: 90_000 });
    expect(() => auditOptionsOf({ schemas: 'public;drop', longQuery: '5m' }, cli)).toThrow('--schemas: expected schema names separated by commas, like public,api; "public;drop" is not one');
    expect(() => auditOptionsOf({ schemas: ' , ', longQuery: '5m' }, cli)).toThrow(/^--schemas: expected schema names/);
    expect(() => auditOptionsOf({ schemas: 'public', longQuery: 'soon' }, { schemas: 'query.schemas', longQuery: 'query.long_query' })).toThrow('query.long_query: expected a duration like 5m, got "soon"');
  });
});
