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
      create policy own on profiles using (true);
      create table posts (id bigint primary key, author bigint references profiles (id));
      alter table posts enable row level security;
      create policy own on posts using (true);
      create index on posts (author);
      create function touch() returns trigger language plpgsql set search_path = '' as $$ begin return new; end $$;
    `);
    const r = await run();
    expect(rules(r)).toEqual([]);
    expect(r.checked).toMatchObject({ tables: 2, functions: 0, server_version: expect.stringMatching(/^\d+/) });
    expect(r.checked.indexes).toBeGreaterThanOrEqual(3);
    expect(auditFails(r, 'info')).toBe(false);
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
      'warn no_primary_key public.audit_log',
      'warn rls_enabled_no_policy public.audit_log',
      'info unindexed_foreign_key public.comments',
    ]);
    const by = (rule: string) => r.findings.find((f) => f.rule === rule);
    expect(by('rls_disabled')?.remediation).toBe('alter table public.comments enable row level security; then add policies');
    expect(by('duplicate_index')?.message).toBe('public.comments has identical indexes: comments_body, comments_body_again (each write updates all of them)');
    expect(by('unindexed_foreign_key')?.remediation).toBe('create index concurrently on public.comments (post)');
    expect(r.findings.find((f) => f.object.startsWith('public."Grant Admin"'))?.remediation).toBe(`alter function public."Grant Admin"(uid bigint) set search_path = ''  (and schema-qualify what it uses)`);
    // a table outside the exposed schemas does not need RLS
    expect(r.findings.some((f) => f.object === 'private.notes')).toBe(false);
    expect(r.counts).toEqual({ error: 2, warn: 4, info: 1 });
    expect(auditFails(r, 'error')).toBe(true);
    expect(auditFails(r, 'warn')).toBe(true);
    // other schemas can be declared exposed
    expect(rules(await run({ exposedSchemas: ['public', 'private'] }))).toContain('error rls_disabled private.notes');
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
    expect(text.stdout).toMatch(/: 2 errors, 4 warnings, 1 notes$/m);
    expect(text.stdout + text.stderr).not.toContain('hunter2');
    const j = await cli(['--url', url.toString(), '--json', '--fail-on', 'info']);
    expect(j.status).toBe(1);
    const r = JSON.parse(j.stdout) as AuditReport & { database: string };
    expect(r.database).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/shipshape_audit_/);
    expect(r.counts).toEqual({ error: 2, warn: 4, info: 1 });
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
