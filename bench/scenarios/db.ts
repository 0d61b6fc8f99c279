/**
 * db: database operations on the PostgreSQL on this machine (127.0.0.1:5432), in-process with the
 * built module (dist/db/*).
 *
 * 1. `db status` on 1,000 migration files (all applied): wall time. Goal < 1 s.
 * 2. The audit on a schema of 500 tables (with foreign keys and indexes): wall time. Goal < 5 s.
 * 3. A backup of a BENCH_DB_MB (default 1024) database side by side with plain `pg_dump -Fc` to a
 *    file in the same run: time (goal ≤ 1.1×) and the peak RSS of each run's pg_dump.
 * 4. Verify-restore of that backup (SHA-256, restore into a scratch database, compare) against a
 *    plain `pg_restore` into a fresh database.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type * as AuditNs from '../../src/db/audit.js';
import type * as BackupNs from '../../src/db/backup.js';
import type * as ServiceNs from '../../src/db/service.js';
import { removeTempDir, tempDir } from '../lib/proc.js';
import { row, type Row } from '../lib/report.js';
import { ROOT } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_MB = Number(process.env.BENCH_DB_MB ?? 1024);

const urlOf = (name: string) => {
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
};

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

/** Run a command, return its wall time (ms) and peak RSS (KB, from GNU time's %M when there; else from /proc polling). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; peakKb: number }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* exited */
      }
    }, 50);
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      clearInterval(poll);
      if (code !== 0) fail(new Error(`${cmd} exited with ${code}: ${err.slice(0, 500)}`));
      else done({ ms: performance.now() - t0, peakKb: peak });
    });
  });
}

/** The newest pg_dump process's peak RSS while `fn` runs (Shipshape's backup spawns one). */
async function withPgDumpPeak<T>(fn: () => Promise<T>): Promise<{ value: T; peakKb: number }> {
  let peak = 0;
  const poll = setInterval(() => {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        // the name line first: only pg_dump's status is read whole
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        if (!/^Name:\s+pg_dump$/m.test(status)) continue;
        const m = /VmHWM:\s+(\d+)/.exec(status);
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* gone */
      }
    }
  }, 100);
  try {
    return { value: await fn(), peakKb: peak };
  } finally {
    clearInterval(poll);
  }
}

export async function runDb(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dist = join(ROOT, 'dist', 'db');
  const { Migrations } = (await import(join(dist, 'service.js'))) as typeof ServiceNs;
  const { Backups } = (await import(join(dist, 'backup.js'))) as typeof BackupNs;
  const { audit } = (await import(join(dist, 'audit.js'))) as typeof AuditNs;
  const dir = tempDir('db');
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const names = { status: `bench_status_${suffix}`, audit: `bench_audit_${suffix}`, big: `bench_big_${suffix}`, plain: `bench_plain_${suffix}` };
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    for (const n of Object.values(names)) await sql(ADMIN, `create database ${n}`);

    // 1. status on 1,000 files, all applied
    const mig = join(dir, 'migrations');
    mkdirSync(mig);
    for (let i = 1; i <= 1000; i++) writeFileSync(join(mig, `${String(i).padStart(4, '0')}_step_${i}.sql`), `-- migrate:up\ncreate table t${i} (id bigint primary key, note text);\n\n-- migrate:down\ndrop table t${i};\n`);
    const m = new Migrations({ version: 'bench' });
    const target = { url: urlOf(names.status), dir: mig };
    ctx.log('db: applying 1,000 migrations');
    await m.migrate(target, { actor: 'bench' });
    const statusMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const st = await m.status(target);
      statusMs.push(performance.now() - t0);
      if (st.pending.length !== 0 || st.applied.length !== 1000) throw new Error(`status saw ${st.applied.length} applied, ${st.pending.length} pending`);
    }
    const statusMed = [...statusMs].sort((a, b) => a - b)[2] as number;
    rows.push(row({ scenario: 'db', metric: 'db status, 1,000 applied files (median of 5)', goal: '< 1 s', value: statusMed, unit: 'ms', pass: statusMed < 1000 }));

    // 2. audit on 500 tables
    const ddl: string[] = [];
    for (let i = 1; i <= 500; i++) ddl.push(`create table a${i} (id bigint primary key, parent bigint ${i > 1 ? `references a${i - 1} (id)` : ''}, note text); create index on a${i} (note);${i % 3 ? ` alter table a${i} enable row level security; create policy p on a${i} using (true);` : ''}`);
    await sql(urlOf(names.audit), ddl.join('\n'));
    const c = new pg.Client({ connectionString: urlOf(names.audit) });
    await c.connect();
    let auditMs = 0;
    let findings = 0;
    try {
      await audit(c);
      const t0 = performance.now();
      const r = await audit(c);
      auditMs = performance.now() - t0;
      findings = r.findings.length;
    } finally {
      await c.end();
    }
    rows.push(row({ scenario: 'db', metric: 'db audit, 500 tables', goal: '< 5 s', value: auditMs, unit: 'ms', pass: auditMs < 5000, note: `${findings} findings` }));

    // 3. backup vs pg_dump -Fc
    ctx.log(`db: filling a ${DB_MB} MB database`);
    await sql(urlOf(names.big), `create table events (id bigint primary key, at timestamptz not null, kind text not null, payload text not null);
      insert into events select g, now() - (g || ' seconds')::interval, 'kind_' || (g % 50), md5(g::text) || repeat(md5((g * 7)::text), 6)
        from generate_series(1, ${Math.round((DB_MB * 1024 * 1024) / 330)}) g;
      create index on events (at); analyze events;`);
    const size = Number((await sql(urlOf(names.big), `select pg_database_size(current_database()) as b`)).rows[0]?.b ?? 0);
    ctx.log(`db: ${Math.round(size / 1024 / 1024)} MB; plain pg_dump -Fc, then Shipshape's backup`);
    const plainFile = join(dir, 'plain.pgdump');
    const plain = await timed('pg_dump', ['-Fc', '-f', plainFile, urlOf(names.big)]);
    const backups = new Backups({});
    const dest = join(dir, 'backups');
    mkdirSync(dest);
    const t0 = performance.now();
    const made = await withPgDumpPeak(() => backups.backup({ url: urlOf(names.big), dest, actor: 'bench' }));
    const backupMs = performance.now() - t0;
    const ratio = backupMs / plain.ms;
    rows.push(
      row({ scenario: 'db', metric: `backup of ${Math.round(size / 1024 / 1024)} MB (dump, row counts, samples, SHA-256)`, goal: '<= 1.1x pg_dump', value: backupMs, unit: 'ms', pass: ratio <= 1.1, reference: { name: 'pg_dump -Fc to a file', value: plain.ms }, note: `dump ${Math.round(statSync(plainFile).size / 1024 / 1024)} MB; peak RSS of pg_dump ${Math.round(made.peakKb / 1024)} MB (Shipshape) vs ${Math.round(plain.peakKb / 1024)} MB (plain)` }),
    );

    // 4. verify-restore vs pg_restore into a fresh database
    const restore = await timed('pg_restore', ['--no-owner', '-d', urlOf(names.plain), plainFile]);
    const v0 = performance.now();
    const verified = await backups.verify({ backup: made.value, url: urlOf('postgres'), actor: 'bench' });
    const verifyMs = performance.now() - v0;
    rows.push(row({ scenario: 'db', metric: 'verify-backup (SHA-256, restore into scratch, compare, drop)', goal: '', value: verifyMs, unit: 'ms', pass: null, reference: { name: 'pg_restore into a fresh database', value: restore.ms }, note: `verified: ${verified.ok}` }));
    raw.status = statusMs;
    raw.audit = { ms: auditMs, findings };
    raw.backup = { ms: backupMs, plainMs: plain.ms, size, peakKb: made.peakKb, plainPeakKb: plain.peakKb };
    raw.verify = { ms: verifyMs, restoreMs: restore.ms, ok: verified.ok };
    return { rows, raw };
  } finally {
    for (const n of Object.values(names)) await sql(ADMIN, `drop database if exists ${n} with (force)`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    removeTempDir(dir);
  }
}
