/** Migrations against the real PostgreSQL on 127.0.0.1:5432: one database for this file, emptied between tests. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/core/errors.js';
import { MigrationFailed, Migrations, type MigrateProgress } from '../../src/db/index.js';
import { writeSum } from '../../src/db/files.js';
import { guideFiles, MigrationsDir, sink, tablesOf, testDatabase } from './helpers.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let dir: MigrationsDir;

beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.reset();
});
afterEach(() => dir?.remove());

const tables = () => tablesOf(db.query as never);
const rows = () => db.query<{ version: string; filename: string; state: string; checksum: string; statements_applied: number; statements_total: number; failing_statement: string | null; error: string | null; applied_by: string; duration_ms: number }>('select * from shipshape.schema_migrations order by version');
const actor = 'user:test';

describe('the guides\' numbered list with a gap', () => {
  it('applies 001 … 013 with 009 missing, records each, and reports the gap; a 009 added later needs --out-of-order', async () => {
    dir = new MigrationsDir(guideFiles());
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const t = { url: db.url, dir: dir.dir, service: 'web' };

    const before = await m.status(t);
    expect(before.pending.map((p) => p.label)).toEqual(['001', '002', '003', '004', '005', '006', '007', '008', '010', '011', '012', '013']);
    expect(before.gaps).toEqual(['009']);
    expect(before.applied).toEqual([]);

    const r = await m.migrate(t, { actor });
    expect(r.done.map((d) => d.filename)).toEqual(before.pending.map((p) => p.filename));
    expect(r.notes.join()).toMatch(/009 missing/);
    expect(await tables()).toHaveLength(12);
    const recorded = await rows();
    expect(recorded.map((x) => x.version)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '10', '11', '12', '13']);
    expect(recorded[0]).toMatchObject({ filename: '001_create_user_profiles.sql', state: 'applied', applied_by: actor, statements_applied: 1, statements_total: 1, failing_statement: null });
    expect(recorded[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(ev.events.map((e) => e.type)).toEqual(Array(12).fill('db.migrated'));
    expect(ev.events[0]).toMatchObject({ actor, subject: 'service:web', data: { service: 'web', version: 1, filename: '001_create_user_profiles.sql', statements: 1 } });
    expect(JSON.stringify(ev.events)).not.toContain('password');

    const after = await m.status(t);
    expect(after.pending).toEqual([]);
    expect(after.drift).toEqual([]);
    expect(after.gaps).toEqual(['009']);

    // someone fills the gap later: reported, and applied only on request
    dir.write({ '009_backfill_profiles.sql': 'CREATE TABLE t_backfill (id int);\n' });
    const late = await m.status(t);
    expect(late.pending).toEqual([expect.objectContaining({ filename: '009_backfill_profiles.sql', out_of_order: true })]);
    await expect(m.migrate(t, { actor })).rejects.toThrow(/009_backfill_profiles\.sql is older than 013_add_billing_and_orgs\.sql, which is applied already .*--out-of-order/);
    expect(await tables()).not.toContain('t_backfill');
    const r2 = await m.migrate(t, { actor, outOfOrder: true });
    expect(r2.done.map((d) => d.filename)).toEqual(['009_backfill_profiles.sql']);
    expect(await tables()).toContain('t_backfill');
  });

  it('stops at --to', async () => {
    dir = new MigrationsDir(guideFiles());
    const m = new Migrations({ version: 'test' });
    const r = await m.migrate({ url: db.url, dir: dir.dir }, { actor, to: 5 });
    expect(r.done.map((d) => d.version)).toEqual([1, 2, 3, 4, 5]);
    expect((await m.pending({ url: db.url, dir: dir.dir })).pending.map((p) => p.version)).toEqual([6, 7, 8, 10, 11, 12, 13]);
  });
});

describe('timestamped files', () => {
  it('apply in time order with no gaps reported; a branch merged late is out of order', async () => {
    dir = new MigrationsDir({ '20260101090000_init.sql': 'CREATE TABLE a (id int);\n', '20260115120000_more.sql': 'CREATE TABLE b (id int);\n' });
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    const r = await m.migrate(t, { actor });
    expect(r.done.map((d) => d.version)).toEqual([20260101090000, 20260115120000]);
    expect(r.notes).toEqual([]);
    dir.write({ '20260110000000_from_a_branch.sql': 'CREATE TABLE c (id int);\n', 'README.sql': '-- not a migration\n' });
    const st = await m.status(t);
    expect(st.gaps).toEqual([]);
    expect(st.ignored).toEqual(['README.sql']);
    expect(st.pending).toEqual([expect.objectContaining({ label: '20260110000000', out_of_order: true })]);
    await expect(m.migrate(t, { actor })).rejects.toThrow(/20260110000000_from_a_branch\.sql is older than 20260115120000_more\.sql/);
  });
});

function tenWithSeventh(seventh: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= 10; i++) {
    const n = String(i).padStart(3, '0');
    files[`${n}_step${i}.sql`] = i === 7 ? seventh : `CREATE TABLE step${i} (id int);\nINSERT INTO step${i} VALUES (${i});\n`;
  }
  return files;
}

describe('a failing migration', () => {
  it('a syntax error in migration 7 of 10 is found before anything runs, named by file, line and column', async () => {
    dir = new MigrationsDir(tenWithSeventh('CREATE TABLE step7 (id int);\nALTER TABLE step7 ADD COLUMN x int,, ADD COLUMN y int;\n'));
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const e = await m.migrate({ url: db.url, dir: dir.dir }, { actor }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as Error).message).toContain('007_step7.sql:2:36: syntax error: syntax error at or near ","');
    expect((e as Error).message).toContain('ALTER TABLE step7 ADD COLUMN x int,, ADD COLUMN y int;\n' + ' '.repeat(37) + '^');
    // the database is unchanged: not even the tracking table
    expect(await tables()).toEqual([]);
    expect(await db.query(`select 1 from pg_namespace where nspname = 'shipshape'`)).toEqual([]);
  });

  it('a server error in migration 7 of 10 rolls 007 back whole and names the statement, the position, the error and the hint', async () => {
    dir = new MigrationsDir(tenWithSeventh('CREATE TABLE step7 (id int);\nINSERT INTO step7 VALUES (7);\nSELECT no_such_function(1)\n  FROM step7;\nCREATE TABLE step7b (id int);\n'));
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const e = await m.migrate({ url: db.url, dir: dir.dir, service: 'web' }, { actor }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MigrationFailed);
    const f = e as MigrationFailed;
    expect(f.message).toContain('007_step7.sql: statement 3 (line 3) failed: SELECT no_such_function(1) FROM step7');
    expect(f.message).toContain('ERROR 42883: function no_such_function(integer) does not exist (at line 3, column 8)');
    expect(f.message).toMatch(/HINT: No function matches the given name and argument types/);
    expect(f.message).toContain("the migration's transaction was rolled back: the database is as it was before 007_step7.sql");
    expect(f.message).toContain('6 migrations before it were applied');
    expect(f.detail).toMatchObject({ version: 7, statement_index: 2, line: 3, column: 8, code: '42883', rolled_back: true, done_before: 6 });
    // 001 … 006 are in, 007 left nothing behind, 008 … 010 did not run
    expect(await tables()).toEqual(['step1', 'step2', 'step3', 'step4', 'step5', 'step6']);
    expect((await rows()).map((r) => r.version)).toEqual(['1', '2', '3', '4', '5', '6']);
    const failed = ev.events.find((x) => x.type === 'db.migration_failed');
    expect(failed).toMatchObject({ subject: 'service:web', data: { service: 'web', filename: '007_step7.sql', statement: 'SELECT no_such_function(1)\n  FROM step7', code: '42883', rolled_back: true } });
    // fixed, it goes on from 007
    dir.write({ '007_step7.sql': 'CREATE TABLE step7 (id int);\n' });
    const r = await m.migrate({ url: db.url, dir: dir.dir }, { actor });
    expect(r.done.map((d) => d.version)).toEqual([7, 8, 9, 10]);
  });

  it('a file with its own BEGIN … COMMIT runs in one transaction too', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'BEGIN;\nCREATE TABLE a (id int);\nCREATE TABLE a (id int);\nCOMMIT;\n' });
    const m = new Migrations({ version: 'test' });
    await expect(m.migrate({ url: db.url, dir: dir.dir }, { actor })).rejects.toThrow(/relation "a" already exists[\s\S]*rolled back/);
    expect(await tables()).toEqual([]);
  });

  it('never shows the password of the URL', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'SELECT 1;\n' });
    const m = new Migrations({ version: 'test' });
    const u = new URL(db.url);
    u.password = 's3cret-pass';
    u.port = '1';
    const e = await m.status({ url: u.toString(), dir: dir.dir }).catch((x: unknown) => x as Error);
    expect((e as Error).message).toMatch(/cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//);
    expect((e as Error).message).not.toContain('s3cret-pass');
  });
});

describe('statements that cannot run in a transaction', () => {
  it('run outside it one at a time, and a run that stops there resumes at the failing statement', async () => {
    const file = (col: string) => `CREATE TABLE items (a int, b int);
INSERT INTO items SELECT g, g FROM generate_series(1, 100) g;
CREATE INDEX CONCURRENTLY items_a ON items (a);
CREATE INDEX CONCURRENTLY items_b ON items (${col});
CREATE TABLE after_items (id int);
`;
    dir = new MigrationsDir({ '001_items.sql': file('nope') });
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    const progress: MigrateProgress[] = [];
    const e = (await m.migrate(t, { actor, onProgress: (p) => progress.push(p) }).catch((x: unknown) => x)) as MigrationFailed;
    expect(e).toBeInstanceOf(MigrationFailed);
    expect(e.message).toContain('001_items.sql: statement 4 (line 4) failed: CREATE INDEX CONCURRENTLY items_b ON items (nope)');
    expect(e.message).toContain('ERROR 42703: column "nope" does not exist');
    expect(e.message).toContain('it ran outside a transaction; 3 statements before it are applied');
    expect(progress.filter((p) => p.type === 'outside').map((p) => (p as { index: number }).index)).toEqual([2, 3]);
    // the first part is in and the place is kept
    expect(await tables()).toEqual(['items']);
    expect((await db.query<{ n: string }>('select count(*) as n from items'))[0]?.n).toBe('100');
    expect(await db.query(`select indexrelid::regclass::text as i, indisvalid as v from pg_index where indrelid = 'items'::regclass`)).toEqual([{ i: 'items_a', v: true }]);
    expect(await rows()).toEqual([expect.objectContaining({ state: 'partial', statements_applied: 3, statements_total: 5, failing_statement: 'CREATE INDEX CONCURRENTLY items_b ON items (nope)', error: 'column "nope" does not exist' })]);
    const st = await m.status(t);
    expect(st.pending).toEqual([expect.objectContaining({ filename: '001_items.sql', partial: expect.objectContaining({ statements_applied: 3 }) })]);

    // editing the statements that already ran is refused
    dir.write({ '001_items.sql': file('nope').replace('items_a', 'items_a2') });
    await expect(m.migrate(t, { actor })).rejects.toThrow(/stopped part-way \(3 of 5 statements applied\), and the statements that already ran have changed/);

    // fixed: resumes at statement 4, does not run 1 … 3 again
    dir.write({ '001_items.sql': file('b') });
    progress.length = 0;
    const r = await m.migrate(t, { actor, onProgress: (p) => progress.push(p) });
    expect(r.plan[0]?.resume_from).toBe(3);
    expect(progress[0]).toMatchObject({ type: 'migration', resume_from: 3 });
    expect((await db.query<{ n: string }>('select count(*) as n from items'))[0]?.n).toBe('100');
    expect(await tables()).toEqual(['after_items', 'items']);
    expect(await db.query(`select indexrelid::regclass::text as i, indisvalid as v from pg_index where indrelid = 'items'::regclass order by 1`)).toEqual([
      { i: 'items_a', v: true },
      { i: 'items_b', v: true },
    ]);
    expect(await rows()).toEqual([expect.objectContaining({ state: 'applied', statements_applied: 5, failing_statement: null, error: null })]);
    expect(ev.events.map((x) => x.type)).toEqual(['db.migration_failed', 'db.migrated']);
    expect(ev.events[1]?.data).toMatchObject({ resumed_from: 3 });
  });

  it('VACUUM between transactional statements: each part commits on its own', async () => {
    dir = new MigrationsDir({ '001_v.sql': 'CREATE TABLE v (id int);\nVACUUM ANALYZE v;\nCREATE TABLE w (id int);\n' });
    const m = new Migrations({ version: 'test' });
    const r = await m.migrate({ url: db.url, dir: dir.dir }, { actor });
    expect(r.plan[0]?.statements.map((s) => s.outside ?? null)).toEqual([null, 'VACUUM', null]);
    expect(await tables()).toEqual(['v', 'w']);
  });

  it('names an INVALID index a failed CREATE INDEX CONCURRENTLY left behind', async () => {
    dir = new MigrationsDir({ '001_u.sql': 'CREATE TABLE u (a int);\nINSERT INTO u VALUES (1), (1);\nCREATE UNIQUE INDEX CONCURRENTLY u_a ON u (a);\n' });
    const m = new Migrations({ version: 'test' });
    await expect(m.migrate({ url: db.url, dir: dir.dir }, { actor })).rejects.toThrow(/could not create unique index "u_a"[\s\S]*left the INVALID index u_a behind: drop it \(DROP INDEX CONCURRENTLY u_a\)/);
  });
});

describe('the advisory lock', () => {
  it('refuses a second migrator naming the one holding the lock, or waits for it with waitMs', async () => {
    dir = new MigrationsDir({ '001_gate.sql': 'SELECT count(*) FROM gate;\n', '002_b.sql': 'CREATE TABLE b (id int);\n' });
    await db.query('CREATE TABLE gate (id int)');
    // hold a lock the first migration waits on, so the first migrator is mid-run while the second starts
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE');
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    const first = m.migrate(t, { actor });
    // wait until the first migrator is blocked inside its migration
    for (let i = 0; i < 200; i++) {
      const w = await db.query(`select 1 from pg_stat_activity where application_name = 'shipshape db migrate' and wait_event_type = 'Lock'`);
      if (w.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = (await m.migrate(t, { actor }).catch((e: unknown) => e)) as ServiceError;
    expect(second).toBeInstanceOf(ServiceError);
    expect(second.kind).toBe('busy');
    expect(second.message).toMatch(/another migrator is running on postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+: pid \d+ \("shipshape db migrate", user postgres from 127\.0\.0\.1 since .+\) holds the migration lock\. Wait for it to finish, or pass --wait 5m/);

    let waited = '';
    const third = m.migrate(t, { actor, waitMs: 60_000, onWait: (h) => (waited = h) });
    for (let i = 0; i < 200 && !waited; i++) await new Promise((r) => setTimeout(r, 50));
    expect(waited).toMatch(/^pid \d+/);
    await blocker.query('COMMIT');
    await blocker.end();
    const r1 = await first;
    const r3 = await third;
    expect(r1.done.map((d) => d.filename)).toEqual(['001_gate.sql', '002_b.sql']);
    expect(r3.done).toEqual([]);
  });
});

describe('a lost connection', () => {
  it('mid-migration leaves the database as before that migration, and the next run applies it', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\n', '002_b.sql': 'CREATE TABLE b (id int);\nSELECT count(*) FROM gate;\nCREATE TABLE c (id int);\n' });
    await db.query('CREATE TABLE gate (id int)');
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE');
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    const run = m.migrate(t, { actor }).catch((e: unknown) => e);
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      const w = await db.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'shipshape db migrate' and wait_event_type = 'Lock'`);
      pid = w[0]?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(pid).toBeDefined();
    // the connection drops while 002 waits inside its transaction
    await db.query('select pg_terminate_backend($1)', [pid]);
    const e = (await run) as MigrationFailed;
    expect(e).toBeInstanceOf(MigrationFailed);
    expect(e.message).toContain('002_b.sql: statement 2 (line 2) failed: SELECT count(*) FROM gate');
    expect(e.message).toMatch(/ERROR 57P01: terminating connection due to administrator command/);
    expect(e.message).toContain("the migration's transaction was rolled back: the database is as it was before 002_b.sql");
    await blocker.query('COMMIT');
    await blocker.end();
    expect(await tables()).toEqual(['a', 'gate']);
    expect((await rows()).map((r) => r.filename)).toEqual(['001_a.sql']);
    // the lock went with the session: the next run is not refused
    const r = await m.migrate(t, { actor });
    expect(r.done.map((d) => d.filename)).toEqual(['002_b.sql']);
    expect(await tables()).toEqual(['a', 'b', 'c', 'gate']);
  });
});

describe('session state', () => {
  it('a SET in one migration does not leak into the next', async () => {
    dir = new MigrationsDir({
      '001_billing.sql': 'CREATE SCHEMA billing;\nSET search_path = billing;\nCREATE TABLE invoices (id int);\n',
      '002_users.sql': 'CREATE TABLE users (id int);\n',
    });
    const m = new Migrations({ version: 'test' });
    await m.migrate({ url: db.url, dir: dir.dir }, { actor });
    expect(await db.query(`select table_schema || '.' || table_name as t from information_schema.tables where table_name in ('invoices', 'users') order by 1`)).toEqual([{ t: 'billing.invoices' }, { t: 'public.users' }]);
    await db.query('drop schema billing cascade');
  });
});

describe('lock timeout', () => {
  it('a statement that waits too long for a table lock fails and rolls its migration back', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\nALTER TABLE busy ADD COLUMN x int;\n' });
    await db.query('CREATE TABLE busy (id int)');
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    await app.query('BEGIN; SELECT * FROM busy');
    try {
      const m = new Migrations({ version: 'test' });
      const e = (await m.migrate({ url: db.url, dir: dir.dir }, { actor, lockTimeoutMs: 200 }).catch((x: unknown) => x)) as MigrationFailed;
      expect(e).toBeInstanceOf(MigrationFailed);
      expect(e.message).toContain('001_a.sql: statement 2 (line 2) failed: ALTER TABLE busy ADD COLUMN x int');
      expect(e.message).toContain('ERROR 55P03: canceling statement due to lock timeout');
      expect(e.message).toContain("the migration's transaction was rolled back");
      expect(await tables()).toEqual(['busy']);
    } finally {
      await app.query('ROLLBACK');
      await app.end();
    }
  });
});

describe('drift', () => {
  it('a changed applied file is drift (status, migrate refuses); CRLF and a BOM are not', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n' });
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    await m.migrate(t, { actor });
    // an editor on Windows saves it with CRLF and a BOM: no drift
    writeFileSync(join(dir.dir, '001_a.sql'), '\uFEFFCREATE TABLE a (id int);\r\n-- migrate:down\r\nDROP TABLE a;\r\n');
    expect((await m.status(t)).drift).toEqual([]);
    // a real change is drift
    dir.write({ '001_a.sql': 'CREATE TABLE a (id int, x int);\n-- migrate:down\nDROP TABLE a;\n' });
    const st = await m.status(t);
    expect(st.drift).toEqual([expect.objectContaining({ filename: '001_a.sql', kind: 'checksum' })]);
    dir.write({ '002_b.sql': 'CREATE TABLE b (id int);\n' });
    await expect(m.migrate(t, { actor })).rejects.toThrow(/drift on .*001_a\.sql changed since it was applied/);
    expect(await tables()).toEqual(['a']);
    // a vanished applied file is drift too
    rmSync(join(dir.dir, '001_a.sql'));
    expect((await m.status(t)).drift).toEqual([expect.objectContaining({ kind: 'missing_file', filename: '001_a.sql' })]);
  });

  it('a file applied with CRLF and a BOM runs and matches its LF copy', async () => {
    dir = new MigrationsDir({ '001_a.sql': '\uFEFFCREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n' });
    const m = new Migrations({ version: 'test' });
    await m.migrate({ url: db.url, dir: dir.dir }, { actor });
    dir.write({ '001_a.sql': 'CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n' });
    expect((await m.status({ url: db.url, dir: dir.dir })).drift).toEqual([]);
  });

  it('a shipshape.sum that does not match the directory stops migrate', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\n' });
    writeSum(dir.dir);
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    expect((await m.status(t)).sum).toBe('ok');
    dir.write({ '002_b.sql': 'CREATE TABLE b (id int);\n' });
    const st = await m.status(t);
    expect(st.sum).toBe('mismatch');
    expect(st.sum_differences).toEqual(['002_b.sql']);
    await expect(m.migrate(t, { actor })).rejects.toThrow(/shipshape\.sum does not match the directory \(002_b\.sql\)/);
    writeSum(dir.dir);
    expect(readFileSync(join(dir.dir, 'shipshape.sum'), 'utf8')).toMatch(/^h1:\S+\n001_a\.sql h1:\S+\n002_b\.sql h1:\S+\n$/);
    expect((await m.migrate(t, { actor })).done).toHaveLength(2);
  });
});

describe('rollback, dry run, baseline, repair', () => {
  it('rolls back with the down sections, newest first; refuses a migration without one', async () => {
    dir = new MigrationsDir(guideFiles());
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const t = { url: db.url, dir: dir.dir, service: 'web' };
    await m.migrate(t, { actor });
    const r = await m.rollback(t, { actor, steps: 2 });
    expect(r.done.map((d) => d.filename)).toEqual(['013_add_billing_and_orgs.sql', '012_create_api_keys.sql']);
    expect(await tables()).not.toContain('t_billing_and_orgs');
    expect(await tables()).not.toContain('t_api_keys');
    expect(await tables()).toHaveLength(10);
    expect((await rows()).map((x) => x.version).at(-1)).toBe('11');
    expect(ev.events.filter((e) => e.type === 'db.rolled_back').map((e) => e.data?.filename)).toEqual(['013_add_billing_and_orgs.sql', '012_create_api_keys.sql']);
    // back up again
    expect((await m.migrate(t, { actor })).done.map((d) => d.version)).toEqual([12, 13]);

    dir.write({ '014_no_down.sql': 'CREATE TABLE nd (id int);\n' });
    writeSum(dir.dir);
    await m.migrate(t, { actor });
    await expect(m.rollback(t, { actor })).rejects.toThrow(/cannot roll back 014_no_down\.sql: it has no `-- migrate:down` section \(nothing was changed\)/);
    expect(await tables()).toContain('nd');
  });

  it('a dry run changes nothing: no tables, no tracking table, no lock', async () => {
    dir = new MigrationsDir({ ...guideFiles(), '014_idx.sql': 'CREATE INDEX CONCURRENTLY i ON t_user_profiles (id);\n' });
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    const r = await m.migrate(t, { actor, dryRun: true });
    expect(r.dry_run).toBe(true);
    expect(r.plan).toHaveLength(13);
    expect(r.plan.at(-1)?.statements).toEqual([{ index: 0, line: 1, sql: 'CREATE INDEX CONCURRENTLY i ON t_user_profiles (id)', outside: 'CREATE INDEX CONCURRENTLY' }]);
    expect(r.done).toEqual([]);
    expect(await tables()).toEqual([]);
    expect(await db.query(`select 1 from pg_namespace where nspname = 'shipshape'`)).toEqual([]);
    // and a dry rollback after a real migrate leaves everything in place
    await m.migrate(t, { actor });
    const rb = await m.rollback(t, { actor, steps: 3, dryRun: true }).catch((e: Error) => e);
    expect((rb as Error).message).toMatch(/014_idx\.sql: it has no `-- migrate:down` section/);
    dir.write({ '014_idx.sql': 'CREATE INDEX CONCURRENTLY i ON t_user_profiles (id);\n-- migrate:down\nDROP INDEX CONCURRENTLY i;\n' });
    await m.repair(t, { actor, reason: 'added the down section' });
    const rb2 = await m.rollback(t, { actor, steps: 3, dryRun: true });
    expect(rb2.plan.map((p) => p.filename)).toEqual(['014_idx.sql', '013_add_billing_and_orgs.sql', '012_create_api_keys.sql']);
    expect(await tables()).toHaveLength(12);
    expect((await rows()).map((x) => x.version).at(-1)).toBe('14');
  });

  it('baseline records existing migrations without running them; repair accepts edits on the record', async () => {
    dir = new MigrationsDir(guideFiles());
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    await db.query('CREATE TABLE t_user_profiles (id bigint PRIMARY KEY)');
    const b = await m.baseline(t, { actor, version: 8 });
    expect(b.baselined.map((x) => x.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await tables()).toEqual(['t_user_profiles']);
    expect((await m.status(t)).pending.map((p) => p.version)).toEqual([10, 11, 12, 13]);
    await expect(m.baseline(t, { actor })).rejects.toThrow(/already tracks 8 migrations/);

    dir.write({ '002_create_posts.sql': '-- edited after the fact\nCREATE TABLE t_posts (id bigint PRIMARY KEY);\n' });
    expect((await m.status(t)).drift).toHaveLength(1);
    await expect(m.repair(t, { actor, reason: ' ' })).rejects.toThrow(/a repair needs a reason/);
    const dry = await m.repair(t, { actor, reason: 'reviewed', dryRun: true });
    expect(dry.changes).toEqual([expect.objectContaining({ version: 2, change: expect.stringMatching(/^accepted the edited 002_create_posts\.sql/) })]);
    expect((await m.status(t)).drift).toHaveLength(1);
    const rep = await m.repair(t, { actor, reason: 'comment added in review' });
    expect(rep.changes).toHaveLength(1);
    expect((await m.status(t)).drift).toEqual([]);
    expect(ev.events.map((e) => e.type)).toEqual(['db.baselined', 'db.repaired']);
    expect(ev.events[1]?.data).toMatchObject({ reason: 'comment added in review', changes: [expect.objectContaining({ version: 2 })] });
  });

  it('repair --applied records a partial run finished by hand', async () => {
    dir = new MigrationsDir({ '001_p.sql': 'CREATE TABLE p (a int);\nCREATE INDEX CONCURRENTLY p_x ON p (x);\n' });
    const m = new Migrations({ version: 'test' });
    const t = { url: db.url, dir: dir.dir };
    await expect(m.migrate(t, { actor })).rejects.toThrow(/column "x" does not exist/);
    expect((await rows())[0]).toMatchObject({ state: 'partial', statements_applied: 1 });
    await db.query('CREATE INDEX p_x ON p (a)');
    await m.repair(t, { actor, reason: 'made the index by hand', markApplied: [1] });
    expect((await rows())[0]).toMatchObject({ state: 'applied', statements_applied: 2 });
    expect((await m.status(t)).pending).toEqual([]);
  });
});

describe('transaction poolers', () => {
  it('refuses a Supabase transaction-pooler URL before connecting, with the direct URL to use', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'SELECT 1;\n' });
    const m = new Migrations({ version: 'test' });
    const url = 'postgres://postgres.abcdefghijklmnop:hunter2-secret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres';
    const e = (await m.migrate({ url, dir: dir.dir }, { actor }).catch((x: unknown) => x)) as Error;
    expect(e.message).toContain("is Supabase's transaction pooler");
    expect(e.message).toContain('Use the direct URL instead: postgres://postgres:***@db.abcdefghijklmnop.supabase.co:5432/postgres');
    expect(e.message).not.toContain('hunter2');
    await expect(m.status({ url: 'postgres://u:p@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require', dir: dir.dir })).rejects.toThrow(
      /Neon's pooled connection[\s\S]*postgres:\/\/u:\*\*\*@ep-cool-darkness-123456\.us-east-2\.aws\.neon\.tech\/neondb/,
    );
  });
});
