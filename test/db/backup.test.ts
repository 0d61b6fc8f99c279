/** Backups with the real pg_dump / pg_restore against the real PostgreSQL: take, verify, tamper, restore, backup_before. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Backups, Migrations } from '../../src/db/index.js';
import { backupBefore, backupKey, findTool } from '../../src/db/backup.js';
import { createTestDatabase } from '../helpers/pg.js';
import { FILL_SQL, MigrationsDir, sink, tablesOf, testDatabase } from './helpers.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let dest: string;
const actor = 'user:test';

const fill = () => db.query(FILL_SQL);

beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.reset();
  await db.query('drop schema if exists billing cascade');
  dest = mkdtempSync(join(tmpdir(), 'shipshape-backups-'));
});
afterEach(() => rmSync(dest, { recursive: true, force: true }));

describe('db backup and verify-backup', () => {
  it('dumps with pg_dump into a manifest-checked directory, verifies by restoring into a scratch database, and lists it as verified', async () => {
    await fill();
    const ev = sink();
    const bk = new Backups({ events: ev });
    const b = await bk.backup({ url: db.url, dest, service: 'web', actor });
    expect(b.id).toMatch(/^web-\d{8}T\d{6}Z$/);
    expect(readdirSync(dest)).toEqual([b.id]);
    expect(readdirSync(b.path).sort()).toEqual(['dump.pgdump', 'manifest.json']);
    expect(readFileSync(join(b.path, 'dump.pgdump')).subarray(0, 5).toString()).toBe('PGDMP');
    expect(b.tables.map((t) => `${t.schema}.${t.name}:${t.rows}`)).toEqual(['billing.invoices:50', 'public.events_nopk:300', 'public.users:2501']);
    expect(b.pg_dump_version).toMatch(/pg_dump \(PostgreSQL\) \d+/);
    expect(await bk.list(dest)).toEqual([expect.objectContaining({ id: b.id, verified: null })]);

    // the scratch databases seen while the verification runs (other test files verify on the same
    // server at the same time, so a count before and after would be theirs too)
    const scratch = async () => (await db.query<{ datname: string }>(`select datname from pg_database where datname like 'shipshape_verify_%'`)).map((r) => r.datname);
    const before = new Set(await scratch());
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const name of await scratch()) if (!before.has(name)) seen.add(name);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const v = await bk.verify({ backup: await bk.open(b.id, dest), url: db.url, actor });
    watching = false;
    await watch;
    expect(v).toMatchObject({ ok: true, mismatches: [] });
    // it restored into one, and every one that appeared meanwhile is dropped (ours at once, any other by its own verification)
    expect(seen.size).toBeGreaterThan(0);
    await expect.poll(async () => (await scratch()).filter((n) => seen.has(n)), { timeout: 30_000 }).toEqual([]);
    expect((await bk.latest(dest, { verified: true }))?.id).toBe(b.id);
    expect(ev.events.map((e) => e.type)).toEqual(['db.backup_completed', 'db.backup_verified']);
    expect(ev.events[0]).toMatchObject({ subject: 'service:web', data: { service: 'web', id: b.id, tables: 3 } });
  });

  it('catches a tampered dump before restoring, and a manifest that does not match what was restored', async () => {
    await fill();
    const ev = sink();
    const bk = new Backups({ events: ev });
    const b = await bk.backup({ url: db.url, dest, actor });
    const file = join(b.path, 'dump.pgdump');
    const bytes = readFileSync(file);
    const orig = Buffer.from(bytes);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    await expect(bk.verify({ backup: b, url: db.url, actor })).rejects.toThrow(/is corrupted or was tampered with: dump\.pgdump has SHA-256 [0-9a-f]{16}…, the manifest says/);
    await expect(bk.restore({ backup: b, target: db.url, actor, force: true })).rejects.toThrow(/corrupted or was tampered with/);
    expect((await bk.list(dest))[0]?.verified?.ok).toBe(false);

    // the dump is intact again, but the manifest claims other figures
    writeFileSync(file, orig);
    const m = JSON.parse(readFileSync(join(b.path, 'manifest.json'), 'utf8')) as { tables: { name: string; rows: number; sample: string }[] };
    const users = m.tables.find((t) => t.name === 'users');
    if (users) users.rows = 2502;
    const nopk = m.tables.find((t) => t.name === 'events_nopk');
    if (nopk) nopk.sample = '0'.repeat(32);
    writeFileSync(join(b.path, 'manifest.json'), JSON.stringify(m));
    const v = await bk.verify({ backup: await bk.open(b.path), url: db.url, actor });
    expect(v.ok).toBe(false);
    expect(v.mismatches).toEqual(['public.events_nopk: sampled rows differ from the manifest', 'public.users: 2501 rows after restore, 2502 in the manifest']);
    expect(ev.events.map((e) => e.type)).toEqual(['db.backup_completed', 'db.backup_verify_failed', 'db.backup_verify_failed']);
  });

  it('restores into a fresh database, refuses a non-empty one without --force, and replaces it with --force', async () => {
    await fill();
    const bk = new Backups({});
    const b = await bk.backup({ url: db.url, dest, actor });
    const target = await createTestDatabase('shipshape_restore');
    try {
      const progress: number[] = [];
      const r = await bk.restore({ backup: b, target: target.url, actor, onProgress: (d) => progress.push(d) });
      expect(r.items).toBeGreaterThan(5);
      expect(progress.length).toBeGreaterThan(0);
      expect(Math.max(...progress)).toBeLessThanOrEqual(r.items);
      const v = await bk.verify({ backup: b, url: target.url, actor });
      expect(v.ok).toBe(true);
      await expect(bk.restore({ backup: b, target: target.url, actor })).rejects.toThrow(/is not empty \(\d+ tables or views\): restore into a fresh database .* or pass --force/);
      await db.query(`UPDATE users SET email = 'changed' WHERE id = 1`);
      // --force: the target gets the backup's content back
      const c = await import('pg');
      const cl = new c.default.Client({ connectionString: target.url });
      await cl.connect();
      await cl.query(`UPDATE users SET email = 'changed-in-target' WHERE id = 1`);
      await bk.restore({ backup: b, target: target.url, actor, force: true });
      expect((await cl.query('select email from users where id = 1')).rows).toEqual([{ email: 'user1@example.com' }]);
      expect((await cl.query('select count(*)::int as n from billing.invoices')).rows).toEqual([{ n: 50 }]);
      await cl.end();
    } finally {
      await target.drop();
    }
  });

  it('dumps large databases in directory format with parallel workers, and verifies them by restoring with as many workers', async () => {
    await fill();
    const bk = new Backups({});
    const b = await bk.backup({ url: db.url, dest, actor, jobs: 2 });
    expect(b).toMatchObject({ format: 'directory', jobs: 2, file: 'dump' });
    expect(readdirSync(join(b.path, 'dump'))).toContain('toc.dat');
    expect((await bk.verify({ backup: b, url: db.url, actor })).ok).toBe(true);
    // a changed table file inside the directory is caught
    const data = readdirSync(join(b.path, 'dump')).find((f) => f.endsWith('.dat.gz') || (f.endsWith('.dat') && f !== 'toc.dat'));
    expect(data).toBeDefined();
    writeFileSync(join(b.path, 'dump', data ?? ''), 'tampered');
    await expect(bk.verify({ backup: b, url: db.url, actor })).rejects.toThrow(/corrupted or was tampered with/);
  });

  it('encrypts with AES-256-GCM as it dumps; verify and restore need the right key', async () => {
    await fill();
    const key = backupKey({ SHIPSHAPE_BACKUP_KEY: 'a'.repeat(64) }) as Buffer;
    const other = backupKey({ SHIPSHAPE_BACKUP_KEY: Buffer.alloc(32, 7).toString('base64') }) as Buffer;
    expect(() => backupKey({ SHIPSHAPE_BACKUP_KEY: 'short' })).toThrow(/must be 32 bytes/);
    const bk = new Backups({});
    const b = await bk.backup({ url: db.url, dest, actor, encryptKey: key });
    expect(b).toMatchObject({ file: 'dump.pgdump.enc', encryption: { algorithm: 'aes-256-gcm', key_id: expect.stringMatching(/^[0-9a-f]{16}$/) } });
    expect(readdirSync(b.path).sort()).toEqual(['dump.pgdump.enc', 'manifest.json']);
    const bytes = readFileSync(join(b.path, 'dump.pgdump.enc'));
    expect(bytes.subarray(0, 6).toString()).toBe('SSBK1\n');
    // no plain text of the data or the custom-format header inside
    expect(bytes.includes(Buffer.from('PGDMP'))).toBe(false);
    expect(bytes.includes(Buffer.from('user1@example.com'))).toBe(false);

    await expect(bk.verify({ backup: b, url: db.url, actor })).rejects.toThrow(/backup \S+ is encrypted: set SHIPSHAPE_BACKUP_KEY to the key it was made with \(key id [0-9a-f]{16}\)/);
    await expect(bk.verify({ backup: b, url: db.url, actor, key: other })).rejects.toThrow(/wrong encryption key for backup \S+: it was encrypted with key [0-9a-f]{16}, SHIPSHAPE_BACKUP_KEY is key [0-9a-f]{16}/);
    expect((await bk.verify({ backup: b, url: db.url, actor, key })).ok).toBe(true);

    // a byte changed by someone who also fixed the manifest's SHA-256: the GCM tag still catches it
    const enc = join(b.path, 'dump.pgdump.enc');
    const orig = readFileSync(enc);
    const bad = Buffer.from(orig);
    bad[100] = (bad[100] ?? 0) ^ 1;
    writeFileSync(enc, bad);
    const forged = { ...b, sha256: createHash('sha256').update(bad).digest('hex') };
    await expect(bk.verify({ backup: forged, url: db.url, actor, key })).rejects.toThrow(/cannot decrypt .*dump\.pgdump\.enc: the key does not match or the file was changed/);
    writeFileSync(enc, orig);

    const target = await createTestDatabase('shipshape_restore');
    try {
      await bk.restore({ backup: b, target: target.url, actor, key });
      const c = await import('pg');
      const cl = new c.default.Client({ connectionString: target.url });
      await cl.connect();
      expect((await cl.query('select count(*)::int as n from users')).rows).toEqual([{ n: 2501 }]);
      await cl.end();
    } finally {
      await target.drop();
    }
  });

  it('a full disk while dumping: the partial backup is removed, the backup is marked failed on the event log', async () => {
    await fill();
    await db.query(`CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 20000) g`);
    // a real full disk: a 64 KB tmpfs (the suite runs as root, as CI does)
    const small = join(dest, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    try {
      const ev = sink();
      const bk = new Backups({ events: ev });
      await expect(bk.backup({ url: db.url, dest: small, service: 'web', actor })).rejects.toThrow(/pg_dump failed \(exit 1\): .*No space left on device — the disk holding .* is full; the partial backup was removed/);
      expect(readdirSync(small)).toEqual([]);
      expect(await bk.list(small)).toEqual([]);
      expect(ev.events.map((e) => e.type)).toEqual(['db.backup_failed']);
      expect(ev.events[0]?.data).toMatchObject({ service: 'web', error: expect.stringContaining('No space left on device') });
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('names the client version needed when pg_dump is too old for the server', async () => {
    await expect(findTool('pg_dump', 99)).rejects.toThrow(/pg_dump 99 or newer is needed to dump a PostgreSQL 99 server; found only .*pg_dump \(PostgreSQL\) \d+.*Install postgresql-client-99/);
    await expect(findTool('pg_dump', 10)).resolves.toMatchObject({ version: expect.stringMatching(/^pg_dump \(PostgreSQL\)/) });
  });
});

describe('backup_before', () => {
  let dir: MigrationsDir;
  afterEach(() => dir?.remove());

  it('takes and verifies a backup before the first migration applies', async () => {
    await fill();
    dir = new MigrationsDir({ '001_a.sql': 'ALTER TABLE users ADD COLUMN plan text;\n', '002_b.sql': 'CREATE TABLE b (id int);\n' });
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    const bk = new Backups({ events: ev });
    const t = { url: db.url, dir: dir.dir, service: 'web' };
    const steps: string[] = [];
    await m.migrate(t, { actor, beforeApply: backupBefore(bk, { url: db.url, dest, service: 'web', actor, onStep: (s) => steps.push(s) }) });
    expect(ev.events.map((e) => e.type)).toEqual(['db.backup_completed', 'db.backup_verified', 'db.migrated', 'db.migrated']);
    const [b] = await bk.list(dest);
    expect(b?.verified?.ok).toBe(true);
    // the backup holds the database as it was before: users without the new column
    expect(b?.tables.map((x) => x.name)).not.toContain('b');
    expect(steps[steps.length - 1]).toMatch(/^backup web-\S+ verified$/);
    // nothing pending: no backup is taken
    await m.migrate(t, { actor, beforeApply: backupBefore(bk, { url: db.url, dest, service: 'web', actor }) });
    expect(await bk.list(dest)).toHaveLength(1);
  });

  it('applies nothing when the backup fails', async () => {
    dir = new MigrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);\n' });
    const notADir = join(dest, 'file');
    writeFileSync(notADir, 'x');
    const ev = sink();
    const m = new Migrations({ events: ev, version: 'test' });
    await expect(m.migrate({ url: db.url, dir: dir.dir }, { actor, beforeApply: backupBefore(new Backups({ events: ev }), { url: db.url, dest: notADir, actor }) })).rejects.toThrow(/backup of .* failed|EEXIST|ENOTDIR/);
    expect(await tablesOf(db.query as never)).toEqual([]);
    expect(ev.events.map((e) => e.type)).toEqual(['db.backup_failed']);
    expect(existsSync(join(dest, 'file'))).toBe(true);
  });
});
