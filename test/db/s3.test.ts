/**
 * Backups to S3-compatible storage, against a real S3 server on loopback (s3rver, in its own
 * process) and the real PostgreSQL, pg_dump and pg_restore: the CLI's backup / backups /
 * verify-backup / restore with s3:// locations, multipart uploads, listings past 1,000 keys,
 * retention, the config's backups.dir and backups.s3, the absent(backup.x) signal, and the faults
 * (wrong credentials, no bucket, unreachable storage, a tampered object).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/modules.js';
import { Backups, backupSignalReader, type BackupManifest } from '../../src/db/index.js';
import { startS3, type S3Server } from '../helpers/s3.js';
import { createTestDatabase } from '../helpers/pg.js';
import { sink, testDatabase } from './helpers.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const child = spawn(process.execPath, [BIN, 'db', ...args], { env: { ...clean, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '', ...env }, ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

let s3: S3Server;
let db: Awaited<ReturnType<typeof testDatabase>>;
let work: string;
const actor = 'user:test';

/** Run `fn` with these variables set in this process (the SDK reads credentials from it), then put back what was there. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function keys(bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

beforeAll(async () => {
  s3 = await startS3();
  await s3.bucket('backups');
  db = await testDatabase();
  work = mkdtempSync(join(tmpdir(), 'shipshape-s3-'));
  await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 3000) g;
CREATE TABLE blobs (id int PRIMARY KEY, body text);
-- about 40 MB of random hex (20 MB compressed): a dump larger than one 16 MB upload part
INSERT INTO blobs SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 300000) g;`);
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  await db?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('db backups in S3-compatible storage', () => {
  it('backs up to s3:// in parts, lists it, verifies it by a restore, and restores it into a fresh database', async () => {
    const dataDir = join(work, 'data');
    const r = await cli(['backup', '--url', db.url, '--to', 's3://backups/web', '--data-dir', dataDir], s3.env);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|Error:/);
    expect(r.status).toBe(0);
    const [line] = r.stdout.split('\n');
    const m = /^(\S+) (s3:\/\/backups\/web\/\S+)$/.exec(line ?? '');
    expect(m, r.stdout).not.toBeNull();
    const [, id, path] = m as unknown as [string, string, string];
    expect(path).toBe(`s3://backups/web/${id}`);
    // the objects: the dump and its manifest, nothing staged left on this machine
    expect(await keys('backups', 'web/')).toEqual([`web/${id}/dump.pgdump`, `web/${id}/manifest.json`]);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('shipshape-backup-'))).toEqual([]);
    // the dump went up in parts (the server logged the part uploads of its key)
    const parts = new Set([...s3.log().matchAll(new RegExp(`/web/${id}/dump\\.pgdump\\?partNumber=(\\d+)`, 'g'))].map((x) => x[1]));
    expect(parts.size).toBeGreaterThanOrEqual(2);
    const manifest = JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket: 'backups', Key: `web/${id}/manifest.json` }))).Body!.transformToString()) as BackupManifest;
    expect(manifest.size).toBeGreaterThan(16 * 1024 * 1024);
    expect(manifest.tables.map((t) => `${t.name}:${t.rows}`)).toEqual(['blobs:300000', 'users:3000']);

    const listed = await cli(['backups', '--backups', 's3://backups/web', '--json'], s3.env);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id, path, verified: null, sha256: manifest.sha256 })]);

    const v = await cli(['verify-backup', id, '--url', db.url, '--backups', 's3://backups/web', '--data-dir', dataDir], s3.env);
    expect(v.stdout + v.stderr).toMatch(new RegExp(`${id}: verified \\(2 tables`));
    expect(v.status).toBe(0);
    // the verification is kept beside the backup, so every reader of the bucket sees it
    expect(await keys('backups', `web/${id}/`)).toContain(`web/${id}/verification.json`);
    const table = await cli(['backups', '--backups', 's3://backups/web'], s3.env);
    expect(table.stdout).toMatch(new RegExp(`${id} .*verified .*s3://backups/web/${id}`));
    expect(table.stdout).toMatch(/1 backup: 1 verified, 0 unverified/);

    const fresh = await createTestDatabase('shipshape_s3_restore');
    try {
      const restored = await cli(['restore', path, '--target', fresh.url, '--data-dir', dataDir], s3.env);
      expect(restored.stderr).not.toMatch(/error|fail/i);
      expect(restored.stdout).toMatch(new RegExp(`restored ${id} into`));
      expect(restored.status).toBe(0);
      const pg = await import('pg');
      const c = new pg.default.Client({ connectionString: fresh.url });
      await c.connect();
      try {
        const n = await c.query<{ u: string; b: string }>('select (select count(*) from users) as u, (select count(*) from blobs) as b');
        expect(n.rows[0]).toEqual({ u: '3000', b: '300000' });
      } finally {
        await c.end();
      }
    } finally {
      await fresh.drop();
    }
  }, 180_000);

  it('catches a tampered object before restoring it, and records the failed verification in the bucket', async () => {
    await db.query('CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10)');
    const ev = sink();
    const bk = new Backups({ events: ev, s3: { endpoint: s3.endpoint } });
    try {
      await withEnv({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }, async () => {
      const b = await bk.backup({ url: db.url, dest: 's3://backups/tamper', service: 'web', actor });
      await s3.client.send(new PutObjectCommand({ Bucket: 'backups', Key: `tamper/${b.id}/dump.pgdump`, Body: Buffer.from('PGDMP not the dump') }));
      await expect(bk.verify({ backup: await bk.open(b.path), url: db.url, actor })).rejects.toThrow(/corrupted or was tampered with/);
      const [again] = await bk.list('s3://backups/tamper');
      expect(again).toMatchObject({ id: b.id, verified: { ok: false, mismatches: [expect.stringMatching(/tampered/)] } });
      const fresh = await createTestDatabase('shipshape_s3_tamper');
      try {
        await expect(bk.restore({ backup: await bk.open(b.id, 's3://backups/tamper'), target: fresh.url, actor })).rejects.toThrow(/tampered with.*it was not restored/);
      } finally {
        await fresh.drop();
      }
      expect(ev.events.map((e) => e.type)).toEqual(['db.backup_completed', 'db.backup_verify_failed']);
      });
    } finally {
      await bk.close();
      await db.query('DROP TABLE small');
    }
  }, 120_000);

  it('names what is wrong: refused credentials, a missing bucket, unreachable storage, a malformed location; nothing is left behind', async () => {
    const dataDir = join(work, 'faults');
    const base = ['backup', '--url', db.url, '--data-dir', dataDir];
    const denied = await cli([...base, '--to', 's3://backups/denied'], { ...s3.env, AWS_ACCESS_KEY_ID: 'AKIANOBODY', AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    expect(denied.status).toBeGreaterThan(0);
    expect(denied.stderr).toMatch(/s3:\/\/backups\/denied failed: the storage refused the credentials \(InvalidAccessKeyId\)/);
    expect(denied.stderr).not.toContain('not-the-secret');
    expect(await keys('backups', 'denied/')).toEqual([]);

    const nobucket = await cli([...base, '--to', 's3://no-such-bucket/x'], s3.env);
    expect(nobucket.status).toBeGreaterThan(0);
    expect(nobucket.stderr).toMatch(/the bucket no-such-bucket does not exist/);

    const down = await cli([...base, '--to', 's3://backups/x'], { ...s3.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
    expect(down.status).toBeGreaterThan(0);
    expect(down.stderr).toMatch(/cannot reach the storage .*ECONNREFUSED/);

    const bad = await cli([...base, '--to', 's3://Bad_Bucket/x'], s3.env);
    expect(bad.status).toBeGreaterThan(0);
    expect(bad.stderr).toMatch(/"Bad_Bucket" in s3:\/\/Bad_Bucket\/x is not a valid bucket name/);
    const creds = await cli([...base, '--to', 's3://AKIAXX:hunter2@backups/x'], s3.env);
    expect(creds.status).toBeGreaterThan(0);
    expect(creds.stderr).toMatch(/an s3:\/\/ location holds no credentials/);
    expect(creds.stderr).not.toContain('hunter2');
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('shipshape-backup-'))).toEqual([]);
  }, 120_000);

  it('lists past 1,000 objects and prunes by the retention policy, in the bucket', async () => {
    // backups' manifests as a year of several backups a day leaves: 1,050 under many/ (two listing
    // pages), and 40 with their dumps under few/ for the retention policy
    const put = async (prefix: string, i: number, dump: boolean) => {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 3_600_000);
      const id = `api-${at.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
      const m: Partial<BackupManifest> = { id, format: 'custom', file: 'dump.pgdump', created_at: at.toISOString(), duration_ms: 1, service: 'api', database: 'x', server_version: '15', pg_dump_version: '15', sha256: 'x', size: 1, tables: [] };
      await s3.client.send(new PutObjectCommand({ Bucket: 'backups', Key: `${prefix}/${id}/manifest.json`, Body: JSON.stringify(m) }));
      if (dump) await s3.client.send(new PutObjectCommand({ Bucket: 'backups', Key: `${prefix}/${id}/dump.pgdump`, Body: 'x' }));
    };
    for (let i = 0; i < 1050; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => put('many', i + k, false)));
    await Promise.all(Array.from({ length: 40 }, (_, k) => put('few', k, true)));
    const listed = await cli(['backups', '--backups', 's3://backups/many', '--json'], s3.env);
    expect(listed.status).toBe(0);
    const all = JSON.parse(listed.stdout) as { id: string }[];
    expect(all).toHaveLength(1050);
    expect(all[0]?.id).toBe('api-20260213T170000Z');
    expect(all.at(-1)?.id).toBe('api-20260101T000000Z');

    const ev = sink();
    const bk = new Backups({ events: ev });
    try {
      await withEnv(s3.env, async () => {
        // 40 hourly backups from 1 January 00:00 to 2 January 15:00: one kept for each of the 2 days
        const r = await bk.prune({ dir: 's3://backups/few', service: 'api', policy: { last: 0, daily: 2, weekly: 0, monthly: 0, yearly: 0 }, actor });
        expect(r.kept.map((k) => k.id)).toEqual(['api-20260102T150000Z', 'api-20260101T230000Z']);
        expect(r.pruned).toHaveLength(38);
        expect(await keys('backups', 'few/')).toEqual(['few/api-20260101T230000Z/dump.pgdump', 'few/api-20260101T230000Z/manifest.json', 'few/api-20260102T150000Z/dump.pgdump', 'few/api-20260102T150000Z/manifest.json']);
        expect(ev.events).toHaveLength(38);
        expect(ev.events[0]).toMatchObject({ type: 'db.backup_pruned', data: { path: expect.stringMatching(/^s3:\/\/backups\/few\/api-/) } });
        expect(await bk.list('s3://backups/few')).toHaveLength(2);
      });
    } finally {
      await bk.close();
    }
  }, 240_000);

  it('takes backups.dir and backups.s3 from shipshape.yaml, and the absent(backup.x) signal reads the bucket', async () => {
    const dir = join(work, 'cfg');
    const dataDir = join(dir, 'data');
    const file = join(dir, 'shipshape.yaml');
    rmSync(dir, { recursive: true, force: true });
    // credentials from the environment only; the endpoint from the config
    const yaml = `services:\n  web:\n    database:\n      url: ${db.url}\n      backups:\n        dir: s3://backups/from-config\n        s3: { endpoint: "${s3.endpoint}", region: us-east-1 }\n`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, yaml);
    const r = await cli(['backup', '--service', 'web', '-c', file, '--data-dir', dataDir], { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^web-\d{8}T\d{6}Z s3:\/\/backups\/from-config\/web-/);
    const id = r.stdout.split(' ')[0] as string;

    await withEnv({ AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }, async () => {
      const config = loadConfig(file) as never;
      const sig = await backupSignalReader(() => config, dataDir)('web');
      expect(sig).toMatchObject({ lastOkId: id });
      expect(existsSync(join(dir, 's3:'))).toBe(false);
    });

    // a bad location is a config error naming the file, line and key
    writeFileSync(file, yaml.replace('s3://backups/from-config', 's3://x/from-config'));
    const bad = await cli(['backups', '--service', 'web', '-c', file], {});
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/shipshape\.yaml:6:\d+: services\.web\.database\.backups\.dir: "x" in s3:\/\/x\/from-config is not a valid bucket name/);
  }, 120_000);
});
