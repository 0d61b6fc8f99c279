/**
 * Thousands of backups: `db backups` and `db prune` from the built CLI over 2,000 generated backup
 * directories (manifests only: listing and pruning never open a dump), two services sharing one
 * directory.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backups, type BackupManifest, type PruneResult } from '../../src/db/index.js';
import { sink } from './helpers.js';

const BIN = resolve('bin/shipshape.js');
const H = 3_600_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const WEB = 1900;
const API = 100;

function cli(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'db', ...args], { cwd, env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

let work: string;
let dir: string;

/** A backup directory with a manifest (and a verification when given), no dump. */
function make(service: string, t: number, verified?: boolean): string {
  const id = `${service}-${stamp(t)}`;
  mkdirSync(join(dir, id));
  const m: BackupManifest = {
    id,
    format: 'custom',
    file: 'dump.pgdump',
    created_at: new Date(t).toISOString(),
    duration_ms: 120,
    service,
    database: 'postgres://app@db.internal:5432/app',
    server_version: '16.4',
    pg_dump_version: 'pg_dump (PostgreSQL) 16.4',
    size: 4096,
    sha256: 'f'.repeat(64),
    tables: [{ schema: 'public', name: 'orders', rows: 10, sample: 'a'.repeat(32) }],
  };
  writeFileSync(join(dir, id, 'manifest.json'), JSON.stringify(m));
  if (verified !== undefined) writeFileSync(join(dir, id, 'verification.json'), JSON.stringify({ at: new Date(t + H).toISOString(), ok: verified, duration_ms: 50, mismatches: verified ? [] : ['public.orders: 9 rows after restore, 10 in the manifest'] }));
  return id;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'shipshape-many-'));
  dir = join(work, 'backups');
  mkdirSync(dir);
  // web: hourly from 1 Jan 2026 for 1,900 hours (to 2026-03-21T03:00Z); one verified on 10 Feb, one failed
  for (let i = 0; i < WEB; i++) {
    const t = START + i * H;
    make('web', t, t === Date.parse('2026-02-10T05:00:00Z') ? true : t === Date.parse('2026-03-20T23:00:00Z') ? false : undefined);
  }
  // api shares the directory: every 12 hours
  for (let i = 0; i < API; i++) make('api', START + i * 12 * H + 30 * 60_000);
  // a backup being written (never listed, never pruned) and a stray file
  mkdirSync(join(dir, '.web-20260321T040000Z.partial'));
  writeFileSync(join(dir, 'README.txt'), 'not a backup');
  writeFileSync(
    join(work, 'shipshape.yaml'),
    `services:
  web:
    database:
      url: postgres://app@db.internal:5432/app
      backups: { dir: backups, schedule: "0 * * * *", keep: { daily: 7, weekly: 4, monthly: 12 } }
  api:
    database:
      url: postgres://app@db.internal:5432/app
      backups: { dir: backups }
`,
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('listing and pruning past thousands of backups', () => {
  it('lists one service\'s backups from manifests alone, newest first', async () => {
    const bk = new Backups({});
    const web = await bk.list(dir, { service: 'web' });
    expect(web).toHaveLength(WEB);
    expect(web[0]).toMatchObject({ id: 'web-20260321T030000Z', verified: null });
    expect(web.at(-1)?.id).toBe('web-20260101T000000Z');
    expect(await bk.list(dir)).toHaveLength(WEB + API);
    expect((await bk.latest(dir, { service: 'web', verified: true }))?.id).toBe('web-20260210T050000Z');
    // a second listing reuses the parsed manifests, and sees a verification written since
    writeFileSync(join(dir, 'web-20260321T020000Z', 'verification.json'), JSON.stringify({ at: '2026-03-21T03:30:00.000Z', ok: true, duration_ms: 1, mismatches: [] }));
    expect((await bk.list(dir, { service: 'web' }))[1]).toMatchObject({ id: 'web-20260321T020000Z', verified: { ok: true } });
    rmSync(join(dir, 'web-20260321T020000Z', 'verification.json'));
  });

  it('`db backups` shows the newest 50 with a count, all with --limit 0 or --json, one service with --service', async () => {
    const text = await cli(['backups', '--service', 'web'], work);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('web-20260321T030000Z');
    expect(text.stdout).not.toContain('web-20260318T000000Z');
    expect(text.stdout).toMatch(/1900 backups: 1 verified, 1898 unverified, .*1 failed verification.* \(showing the newest 50; --limit 0 shows all\)/);
    expect(text.stdout.split('\n').filter((l) => /\bweb-2026/.test(l))).toHaveLength(50);
    const json = JSON.parse((await cli(['backups', '--service', 'api', '--json'], work)).stdout) as { id: string; service: string }[];
    expect(json).toHaveLength(API);
    expect(new Set(json.map((b) => b.service))).toEqual(new Set(['api']));
    const limited = JSON.parse((await cli(['backups', '--service', 'web', '--json', '--limit', '3'], work)).stdout) as { id: string }[];
    expect(limited.map((b) => b.id)).toEqual(['web-20260321T030000Z', 'web-20260321T020000Z', 'web-20260321T010000Z']);
    // with --service, the schedule's last runs as the server recorded them
    writeFileSync(join(dir, '.schedule-web.json'), JSON.stringify({ since: '2026-01-01T00:00:00.000Z', backup: { at: '2026-03-21T04:00:00.000Z', ok: false, error: 'pg_dump failed (exit 1): connection refused' } }));
    const withState = await cli(['backups', '--service', 'web', '--limit', '1'], work);
    expect(withState.stdout).toContain('last scheduled backup: 2026-03-21 04:00:00 FAILED: pg_dump failed (exit 1): connection refused');
    const bad = await cli(['backups', '--service', 'web', '--limit', 'many'], work);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--limit: expected a whole number (0 for all), got "many"');
  });

  it('`db prune --dry-run` shows what is kept and why, `db prune` deletes the rest of that service only', async () => {
    const dry = await cli(['prune', '--service', 'web', '--dry-run', '--json'], work);
    expect(dry.status).toBe(0);
    const plan = JSON.parse(dry.stdout) as PruneResult;
    const why = Object.fromEntries(plan.kept.map((k) => [k.id, k.reasons.join(', ')]));
    expect(why).toEqual({
      'web-20260321T030000Z': 'daily 2026-03-21, weekly 2026-W12, monthly 2026-03',
      // 20 March's newest (23:00) failed verification: the day keeps its newest good one
      'web-20260320T220000Z': 'daily 2026-03-20',
      'web-20260319T230000Z': 'daily 2026-03-19',
      'web-20260318T230000Z': 'daily 2026-03-18',
      'web-20260317T230000Z': 'daily 2026-03-17',
      'web-20260316T230000Z': 'daily 2026-03-16',
      'web-20260315T230000Z': 'daily 2026-03-15, weekly 2026-W11',
      'web-20260308T230000Z': 'weekly 2026-W10',
      'web-20260301T230000Z': 'weekly 2026-W09',
      'web-20260228T230000Z': 'monthly 2026-02',
      'web-20260210T050000Z': 'newest verified',
      'web-20260131T230000Z': 'monthly 2026-01',
    });
    expect(plan.pruned).toHaveLength(WEB - 12);
    expect(readdirSync(dir).filter((n) => n.startsWith('web-'))).toHaveLength(WEB); // a dry run deletes nothing

    const text = await cli(['prune', '--service', 'web', '--dry-run'], work);
    expect(text.stdout).toMatch(/web: .*backups \(keep daily 7, weekly 4, monthly 12; periods in UTC\)/);
    expect(text.stdout).toMatch(/keep\s+│?\s*web-20260210T050000Z.*newest verified/);
    expect(text.stdout).toMatch(/would prune\s+│?\s*web-20260321T020000Z/);
    expect(text.stdout).toContain(`web: 12 kept, ${WEB - 12} would be pruned (dry run: nothing deleted)`);

    const real = await cli(['prune', '--service', 'web', '--json', '--data-dir', join(work, 'no-store')], work);
    expect(real.status).toBe(0);
    expect((JSON.parse(real.stdout) as PruneResult).pruned).toHaveLength(WEB - 12);
    const left = readdirSync(dir);
    expect(left.filter((n) => n.startsWith('web-')).sort()).toEqual(Object.keys(why).sort());
    expect(left.filter((n) => n.startsWith('api-'))).toHaveLength(API);
    expect(left).toContain('.web-20260321T040000Z.partial');
    expect(left).toContain('.schedule-web.json');
    expect(left).toContain('README.txt');

    // api has no keep: policy, so it is never pruned; asked by name it says so
    const api = await cli(['prune', '--service', 'api'], work);
    expect(api.status).toBe(2);
    expect(api.stderr).toContain('services.api.database.backups has no keep: policy');
  });

  it('records one db.backup_pruned event per deleted backup, and leaves one that another process is verifying', async () => {
    const ev = sink();
    const bk = new Backups({ events: ev });
    // the oldest remaining monthly backup is being verified by a live process (this one)
    writeFileSync(join(dir, 'web-20260131T230000Z', '.busy'), `${process.pid}\n`);
    const r = await bk.prune({ dir, service: 'web', policy: { last: 0, daily: 2, weekly: 0, monthly: 0, yearly: 0 }, actor: 'user:test' });
    expect(r.kept.map((k) => [k.id, k.reasons.join(', ')])).toEqual([
      ['web-20260321T030000Z', 'daily 2026-03-21'],
      ['web-20260320T220000Z', 'daily 2026-03-20'],
      ['web-20260210T050000Z', 'newest verified'],
      ['web-20260131T230000Z', 'in use (being verified or restored)'],
    ]);
    expect(ev.events.map((e) => e.type)).toEqual(Array(8).fill('db.backup_pruned'));
    expect(ev.events[0]).toMatchObject({ actor: 'user:test', subject: 'service:web', data: { service: 'web', id: 'web-20260319T230000Z', state: 'unverified' } });
  });
});
