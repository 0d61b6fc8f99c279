/** `shipshape db …` from the built CLI against the real PostgreSQL: output, exit codes, events in the local store. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events.js';
import { openStore } from '../../src/modules.js';
import { guideFiles, MigrationsDir, tablesOf, testDatabase } from './helpers.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'db', ...args], { env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '', ...env }, ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

let db: Awaited<ReturnType<typeof testDatabase>>;
let dir: MigrationsDir;
let work: string;

beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.reset();
  work = mkdtempSync(join(tmpdir(), 'shipshape-dbcli-'));
});
afterEach(() => {
  dir?.remove();
  rmSync(work, { recursive: true, force: true });
});

// each test runs the CLI several times; a busy machine makes each start slow
describe('shipshape db', { timeout: 240_000 }, () => {
  it('status exits 1 while pending, migrate applies the guides\' list, status exits 0, then 2 on drift', async () => {
    dir = new MigrationsDir(guideFiles());
    const a = ['--url', db.url, '--dir', dir.dir, '--data-dir', join(work, 'none')];
    const s1 = await cli(['status', ...a]);
    expect(s1.status).toBe(1);
    expect(s1.stdout).toMatch(/001 +│ 001_create_user_profiles\.sql +│ pending/);
    expect(s1.stdout).toContain('gap: 009 is missing');
    expect(s1.stdout).toContain('12 pending');

    const dry = await cli(['migrate', '--dry-run', ...a]);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('dry run on postgres://postgres@127.0.0.1:5432/');
    expect(dry.stdout).toContain("would apply 013_add_billing_and_orgs.sql: 1 statement\n    1  line 3    CREATE TABLE t_billing_and_orgs (id bigint PRIMARY KEY, note text DEFAULT 'a;b')");
    expect(await tablesOf(db.query as never)).toEqual([]);

    const m = await cli(['migrate', ...a]);
    expect(m.stderr).toContain('note: gap in the numbering: 009 missing');
    expect(m.stderr).toContain('this run is not recorded on the event log');
    expect(m.status).toBe(0);
    expect(m.stdout).toMatch(/^▸ 001_create_user_profiles\.sql \(1 statement\)\n✓ 001_create_user_profiles\.sql \(\d+ms\)\n/);
    expect(m.stdout).toContain('applied 12 migrations to postgres://postgres@127.0.0.1:5432/');
    expect(await tablesOf(db.query as never)).toHaveLength(12);

    const s2 = await cli(['status', '--json', ...a]);
    expect(s2.status).toBe(0);
    const st = JSON.parse(s2.stdout) as { applied: unknown[]; pending: unknown[]; gaps: string[] };
    expect(st.applied).toHaveLength(12);
    expect(st.pending).toEqual([]);
    expect(st.gaps).toEqual(['009']);

    dir.write({ '005_add_rls_policies.sql': 'CREATE TABLE t_rls_policies (id int);\n' });
    const s3 = await cli(['status', ...a]);
    expect(s3.status).toBe(2);
    expect(s3.stdout).toContain('drift: 005_add_rls_policies.sql changed since it was applied');
    const v = await cli(['verify', ...a]);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain('problem: 005_add_rls_policies.sql changed since it was applied');
    const mig = await cli(['migrate', ...a]);
    expect(mig.status).toBe(1);
    expect(mig.stderr).toMatch(/\nshipshape: drift on postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+: 005_add_rls_policies\.sql changed/);

    const rb = await cli(['rollback', '--steps', '2', ...a]);
    expect(rb.status).toBe(0);
    expect(rb.stdout).toContain('▸ rolling back 013_add_billing_and_orgs.sql (1 statement)');
    expect(rb.stdout).toContain('rolled back 2 migrations on');
    expect(await tablesOf(db.query as never)).toHaveLength(10);
  });

  it('a failing migration exits 1 naming the file, the statement, the position and the error; nothing of it stays', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\n', '002_b.sql': 'CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nINSERT INTO b VALUES (1, 2);\n' });
    const r = await cli(['migrate', '--url', db.url, '--dir', dir.dir, '--data-dir', join(work, 'none')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('✓ 001_a.sql');
    expect(r.stderr).toContain('shipshape: 002_b.sql: statement 3 (line 3) failed: INSERT INTO b VALUES (1, 2)');
    expect(r.stderr).toContain('ERROR 42601: INSERT has more expressions than target columns (at line 3, column 26)');
    expect(r.stderr).toContain("the migration's transaction was rolled back: the database is as it was before 002_b.sql");
    expect(await tablesOf(db.query as never)).toEqual(['a']);
    const s = await cli(['status', '--url', db.url, '--dir', dir.dir]);
    expect(s.status).toBe(1);
  });

  it('takes the database of a --service from shipshape.yaml and records events in the local store', async () => {
    mkdirSync(join(work, 'db', 'migrations'), { recursive: true });
    for (const [n, t] of Object.entries(guideFiles()).slice(0, 3)) writeFileSync(join(work, 'db', 'migrations', n), t);
    writeFileSync(join(work, 'shipshape.yaml'), 'services:\n  web:\n    database:\n      url: ${DATABASE_URL}\n      migrations: db/migrations\n');
    const dataDir = join(work, 'data');
    const store = await openStore({ dataDir });
    await store.close();
    const env = { DATABASE_URL: db.url };
    const r = await cli(['migrate', '--service', 'web', '--data-dir', dataDir], env, work);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('applied 3 migrations');
    const bad = await cli(['repair', '--service', 'web', '--data-dir', dataDir], env, work);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("required option '--reason <text>' not specified");

    const s2 = await openStore({ dataDir });
    try {
      const events = await new EventLog(s2).list({ limit: 10, type: 'db.*' });
      expect(events.map((e) => e.type)).toEqual(['db.migrated', 'db.migrated', 'db.migrated']);
      expect(events[2]).toMatchObject({ subject: 'service:web', actor: expect.stringMatching(/^user:/), data: { service: 'web', filename: '001_create_user_profiles.sql', database: expect.stringMatching(/^postgres:\/\/postgres@127\.0\.0\.1:5432\//) } });
    } finally {
      await s2.close();
    }
    const st = await cli(['status', '--service', 'web'], env, work);
    expect(st.status).toBe(0);
    const none = await cli(['status', '--service', 'api'], env, work);
    expect(none.status).toBe(3);
    expect(none.stderr).toContain('no service "api" in shipshape.yaml (services: web)');
  });

  it('refuses a transaction pooler (exit 2) and a missing URL, masks passwords, and exits 3 when status cannot tell', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'SELECT 1;\n' });
    const p = await cli(['migrate', '--url', 'postgresql://postgres.abcdefghijkl:topsecret@aws-0-us-east-1.pooler.supabase.com:6543/postgres', '--dir', dir.dir]);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain('Use the direct URL instead: postgresql://postgres:***@db.abcdefghijkl.supabase.co:5432/postgres');
    expect(p.stderr + p.stdout).not.toContain('topsecret');
    const n = await cli(['migrate', '--dir', dir.dir]);
    expect(n.status).toBe(2);
    expect(n.stderr).toContain('no database: pass --url, set DATABASE_URL');
    const u = new URL(db.url);
    u.password = 'topsecret';
    u.port = '1';
    const down = await cli(['status', '--url', u.toString(), '--dir', dir.dir]);
    expect(down.status).toBe(3);
    expect(down.stderr).toContain('cannot connect to postgres://postgres:***@127.0.0.1:1/');
    expect(down.stderr).not.toContain('topsecret');
  });

  it('new makes the next numbered file and shipshape.sum; hash rewrites it; verify checks the directory without a database', async () => {
    dir = new MigrationsDir(guideFiles());
    const n = await cli(['new', 'Add invoices', '--dir', dir.dir]);
    expect(n.status).toBe(0);
    const file = join(dir.dir, '014_add_invoices.sql');
    expect(readFileSync(file, 'utf8')).toBe('-- migrate:up\n\n\n-- migrate:down\n\n');
    expect(existsSync(join(dir.dir, 'shipshape.sum'))).toBe(true);
    expect((await cli(['verify', '--dir', dir.dir])).status).toBe(0);
    writeFileSync(file, '-- migrate:up\nCREATE TABLE invoices (id int;\n-- migrate:down\nDROP TABLE invoices;\n');
    const v = await cli(['verify', '--dir', dir.dir, '--json']);
    expect(v.status).toBe(1);
    const r = JSON.parse(v.stdout) as { problems: { kind: string; message: string }[] };
    expect(r.problems.map((x) => x.kind).sort()).toEqual(['sum', 'syntax']);
    expect(r.problems.find((x) => x.kind === 'syntax')?.message).toContain('014_add_invoices.sql:2:30: syntax error: syntax error at or near ";"');
    writeFileSync(file, '-- migrate:up\nCREATE TABLE invoices (id int);\n-- migrate:down\nDROP TABLE invoices;\n');
    expect((await cli(['hash', '--dir', dir.dir])).status).toBe(0);
    expect((await cli(['verify', '--dir', dir.dir])).status).toBe(0);
    const m = await cli(['migrate', '--url', db.url, '--dir', dir.dir]);
    expect(m.status).toBe(0);
    expect(await tablesOf(db.query as never)).toContain('invoices');
  });

  it('backup prints the id and path; backups lists it unverified, then verified; a tampered dump fails verify-backup and restore', async () => {
    await db.query(`CREATE TABLE kept (id int PRIMARY KEY, v text); INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 200) g;`);
    const backups = join(work, 'backups');
    const a = ['--url', db.url, '--backups', backups, '--data-dir', join(work, 'none')];
    const b = await cli(['backup', ...a]);
    expect(b.status).toBe(0);
    const [id, path] = (b.stdout.split('\n')[0] ?? '').split(' ');
    expect(id).toMatch(/^shipshape_db_\w+-\d{8}T\d{6}Z$/);
    expect(path).toBe(join(backups, id ?? ''));
    expect(b.stdout).toMatch(/backed up postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+: [\d.]+ KB, 1 tables/);
    const l1 = await cli(['backups', ...a]);
    expect(l1.stdout).toMatch(new RegExp(`${id} .*unverified`));
    const v = await cli(['verify-backup', id ?? '', ...a]);
    expect(v.stdout).toContain(`${id}: verified (1 tables restored and matching the manifest`);
    expect(v.status).toBe(0);
    const l2 = JSON.parse((await cli(['backups', '--json', ...a])).stdout) as { id: string; verified: { ok: boolean } }[];
    expect(l2).toEqual([expect.objectContaining({ id, verified: expect.objectContaining({ ok: true }) })]);

    const r = await cli(['restore', id ?? '', '--target', db.url, ...a]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not empty \(1 tables or views\)/);

    const noKey = await cli(['backup', '--encrypt', ...a], { SHIPSHAPE_BACKUP_KEY: '' });
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toContain('encrypting a backup needs SHIPSHAPE_BACKUP_KEY');
    const enc = await cli(['backup', '--encrypt', '--json', ...a], { SHIPSHAPE_BACKUP_KEY: 'b'.repeat(64) });
    expect(enc.status).toBe(0);
    const encrypted = JSON.parse(enc.stdout) as { id: string; file: string };
    expect(encrypted.file).toBe('dump.pgdump.enc');
    const wrong = await cli(['verify-backup', encrypted.id, ...a], { SHIPSHAPE_BACKUP_KEY: 'c'.repeat(64) });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/wrong encryption key for backup/);

    writeFileSync(join(path ?? '', 'dump.pgdump'), 'not a dump');
    const bad = await cli(['verify-backup', path ?? '', ...a]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('is corrupted or was tampered with');
  });
});
