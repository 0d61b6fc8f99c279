/**
 * `shipshape db top | cancel | terminate` against the real PostgreSQL: a sleeping query shows with
 * its duration, connections as a share of max_connections, sizes and vacuum/analyze ages, what to do
 * about pg_stat_statements; cancel and terminate stop real queries, ask first (refuse without a
 * terminal), pick only old active queries with --older-than, and write their events.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events.js';
import { dbTop, findStopTargets, type StopOutcome, type TopReport } from '../../src/db/top.js';
import { openStore } from '../../src/modules.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // stdin is a pipe, as on CI: not a terminal
    const child = spawn(process.execPath, [BIN, 'db', ...args], { env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const wait = (ms: number) => new Promise((done) => setTimeout(done, ms));

let db: { url: string; drop: () => Promise<void> };
let admin: pg.Client;
let work: string;
const clients: pg.Client[] = [];

async function client(app: string): Promise<{ c: pg.Client; pid: number }> {
  const c = new pg.Client({ connectionString: db.url, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  const pid = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid as number;
  return { c, pid };
}

/** A client running `select pg_sleep(30)`; `done` settles with the error that stopped it. */
async function sleeper(app: string): Promise<{ c: pg.Client; pid: number; done: Promise<(Error & { code?: string }) | undefined> }> {
  const { c, pid } = await client(app);
  const done = c.query('select pg_sleep(30)').then(
    () => undefined,
    (e: Error) => e,
  );
  for (let i = 0; i < 200; i++) {
    const r = await admin.query<{ state: string }>(`select state from pg_stat_activity where pid = $1 and query = 'select pg_sleep(30)'`, [pid]);
    if (r.rows[0]?.state === 'active') break;
    await wait(10);
  }
  return { c, pid, done };
}

async function stateOf(pid: number): Promise<string | undefined> {
  return (await admin.query<{ state: string }>('select state from pg_stat_activity where pid = $1', [pid])).rows[0]?.state;
}

beforeAll(async () => {
  db = await createTestDatabase('shipshape_top');
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  work = mkdtempSync(join(tmpdir(), 'shipshape-top-'));
});
afterEach(async () => {
  await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

describe('shipshape db top', { timeout: 60_000 }, () => {
  it('shows a running query with its duration, connections as a share of max_connections, sizes, vacuum and analyze ages, and the pg_stat_statements fix', async () => {
    await admin.query(`
      create table items (id int primary key, v text);
      insert into items select g, md5(g::text) from generate_series(1, 2000) g;
      create table notes (id int primary key, v text);
      insert into notes values (1, 'a');
    `);
    await admin.query('vacuum analyze items');
    const s = await sleeper('top-sleeper');
    await wait(1100);
    const url = new URL(db.url);
    url.password = 'hunter2';
    const [j, text] = await Promise.all([cli(['top', '--url', url.toString(), '--json']), cli(['top', '--url', url.toString(), '--limit', '5'])]);
    expect(j.stderr).toBe('');
    expect(j.status).toBe(0);
    const r = JSON.parse(j.stdout) as TopReport;
    expect(r.database).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/shipshape_top_/);
    expect(j.stdout + text.stdout + text.stderr).not.toContain('hunter2');

    const q = r.running.find((x) => x.pid === s.pid);
    expect(q).toMatchObject({ user: 'postgres', application: 'top-sleeper', state: 'active', wait: 'Timeout:PgSleep', query: 'select pg_sleep(30)' });
    expect(q?.duration_ms).toBeGreaterThanOrEqual(1000);
    expect(q?.duration_ms).toBeLessThan(60_000);

    const max = Number((await admin.query<{ m: string }>("select current_setting('max_connections') as m")).rows[0]?.m);
    expect(r.connections.max).toBe(max);
    expect(r.connections.used).toBeGreaterThanOrEqual(3);
    expect(r.connections.percent).toBeGreaterThan(0);
    expect(r.connections.percent).toBeLessThanOrEqual(100);
    expect(r.connections.percent).toBeCloseTo((r.connections.used / max) * 100, 0);
    expect(r.connections.by_application).toContainEqual({ application: 'top-sleeper', count: 1 });
    expect(r.connections.by_state.find((x) => x.state === 'active')?.count).toBeGreaterThanOrEqual(1);
    expect(r.cache.hit_ratio).toBeGreaterThan(0);
    expect(r.cache.hit_ratio).toBeLessThanOrEqual(1);

    expect(r.tables[0]).toMatchObject({ schema: 'public', name: 'items', rows: 2000 });
    expect(r.tables[0]?.table_bytes).toBeGreaterThan(64 * 1024);
    expect(r.tables[0]?.index_bytes).toBeGreaterThan(0);
    expect(r.tables[0]?.vacuum_age_s).toBeLessThan(120);
    expect(r.tables[0]?.analyze_age_s).toBeLessThan(120);
    // never vacuumed nor analyzed (too small for autovacuum to touch)
    expect(r.tables.find((t) => t.name === 'notes')).toMatchObject({ vacuum_age_s: null, analyze_age_s: null, last_vacuum: null });
    expect(r.indexes.find((i) => i.name === 'items_pkey')).toMatchObject({ schema: 'public', table: 'items' });

    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/connections: \d+ of \d+ max_connections \([\d.]+ %/);
    expect(text.stdout).toMatch(new RegExp(`│ ${s.pid} +│ shipshape_top_\\w+ +│ postgres +│ top-sleeper +│ active +│ \\d+s +│ Timeout:PgSleep +│ select pg_sleep\\(30\\) +│`));
    expect(text.stdout).toMatch(/│ public\.items +│ [\d.]+KB +│ [\d.]+KB +│ [\d.]+KB +│ 2000 +│ 0 +│ \d+s ago +│ \d+s ago +│/);
    expect(text.stdout).toMatch(/│ public\.notes .*│ never +│ never +│/);

    // pg_stat_statements: what this server has decides which message is the truth
    const ext = (await admin.query<{ available: boolean; preload: string | null }>(`select exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available, current_setting('shared_preload_libraries') as preload`)).rows[0];
    const preloaded = /pg_stat_statements/.test(ext?.preload ?? '');
    if (!ext?.available) {
      expect(r.statements).toMatchObject({ available: false, note: expect.stringContaining('not available on this server') });
      return;
    }
    expect(r.statements.available).toBe(false);
    expect(r.statements.note).toContain('pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements;');
    expect(r.statements.note).toContain("shared_preload_libraries = 'pg_stat_statements'");
    expect(text.stdout).toContain('note: pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements;');
    await admin.query('create extension pg_stat_statements');
    const after = await dbTop(db.url, { order: 'mean' });
    if (preloaded) {
      expect(after.statements).toMatchObject({ available: true, order: 'mean' });
    } else {
      expect(after.statements).toEqual({ available: false, order: 'mean', statements: [], note: "pg_stat_statements is installed but not loaded: it needs shared_preload_libraries = 'pg_stat_statements' in postgresql.conf and a restart of PostgreSQL" });
    }
  });

  it('cancel <pid> refuses without a terminal and without --yes, cancels with --yes (the client gets the cancel error) and writes an event', async () => {
    const dataDir = join(work, 'data');
    const store = await openStore({ dataDir });
    await store.close();
    const s = await sleeper('cancel-me');
    const a = ['--url', db.url, '--data-dir', dataDir];

    const refused = await cli(['cancel', String(s.pid), ...a]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`would cancel the query of:\n  pid ${s.pid}  postgres  cancel-me  active `);
    expect(refused.stderr).toContain('shipshape: refusing to cancel without confirmation: stdin is not a terminal (pass --yes to cancel it)');
    expect(await stateOf(s.pid)).toBe('active');

    const r = await cli(['cancel', String(s.pid), '--yes', '--json', ...a]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as { mode: string; outcomes: StopOutcome[] };
    expect(res.outcomes).toEqual([expect.objectContaining({ pid: s.pid, signalled: true, stopped: true, query: 'select pg_sleep(30)' })]);
    const err = await s.done;
    expect(err?.code).toBe('57014');
    expect(err?.message).toBe('canceling statement due to user request');
    // a cancel stops the query, not the session
    expect((await s.c.query<{ one: number }>('select 1 as one')).rows[0]?.one).toBe(1);

    const s2 = await openStore({ dataDir });
    try {
      const events = await new EventLog(s2).list({ limit: 10, type: 'db.*' });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'db.query_cancelled',
        actor: expect.stringMatching(/^user:/),
        subject: expect.stringMatching(/^database:127\.0\.0\.1:5432\/shipshape_top_/),
        data: { pid: s.pid, user: 'postgres', application: 'cancel-me', state: 'active', query: 'select pg_sleep(30)', stopped: true, database: expect.stringMatching(/^postgres:\/\/postgres@127\.0\.0\.1:5432\//) },
      });
      expect((events[0]?.data as { duration_ms: number }).duration_ms).toBeGreaterThanOrEqual(0);
    } finally {
      await s2.close();
    }

    // the session is idle now: nothing to cancel; an unknown pid; bad input
    const idle = await cli(['cancel', String(s.pid), '--yes', ...a]);
    expect(idle.status).toBe(1);
    expect(idle.stderr).toContain(`pid ${s.pid} is idle, running no query: there is nothing to cancel (shipshape db terminate ${s.pid} closes the session)`);
    const [gone, word, both, dur] = await Promise.all([cli(['cancel', '2147483000', '--yes', ...a]), cli(['terminate', 'abc', ...a]), cli(['cancel', '12', '--older-than', '5m', ...a]), cli(['terminate', '--older-than', 'soon', ...a])]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('no client backend with pid 2147483000 on the server');
    expect(word).toMatchObject({ status: 2, stderr: expect.stringContaining('pid: expected a backend\'s process id (a whole number, as db top lists it), got "abc"') });
    expect(both).toMatchObject({ status: 2, stderr: expect.stringContaining('give either a pid or --older-than <duration>, not both') });
    expect(dur).toMatchObject({ status: 2, stderr: expect.stringContaining('--older-than: expected a duration above zero like 30s or 5m, got "soon"') });
  });

  it('on a terminal, asks [y/N] first: no (or just Enter) keeps the query, y cancels it', async () => {
    if (process.platform !== 'linux') return; // script(1) from util-linux gives the CLI a terminal
    const s = await sleeper('ask-me');
    const onTerminal = (answer: string) =>
      new Promise<{ status: number | null; output: string }>((done) => {
        const cmd = [process.execPath, BIN, 'db', 'cancel', String(s.pid), '--url', db.url, '--data-dir', join(work, 'data-tty')].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '' } });
        let output = '';
        let answered = false;
        child.stdout.on('data', (d: Buffer) => {
          output += d.toString();
          // type the answer once the question is on the screen
          if (!answered && output.includes('[y/N]')) {
            answered = true;
            child.stdin.write(`${answer}\r`);
          }
        });
        child.on('close', (status) => done({ status, output }));
      });

    for (const no of ['n', '']) {
      const r = await onTerminal(no);
      expect(r.output).toContain(`about to cancel the query of:\r\n  pid ${s.pid}  postgres  ask-me  active `);
      expect(r.output).toContain('Cancel it? [y/N] ');
      expect(r.output).toContain('nothing was cancelled');
      expect(r.status).toBe(1);
      expect(await stateOf(s.pid)).toBe('active');
    }
    const yes = await onTerminal('y');
    expect(yes.status).toBe(0);
    expect(yes.output).toMatch(/cancelled/);
    expect((await s.done)?.code).toBe('57014');
  });

  it('--older-than takes only active queries that old, in this database: not fresh ones, not idle sessions', async () => {
    const dataDir = join(work, 'data-older');
    const store = await openStore({ dataDir });
    await store.close();
    const old = await sleeper('old-query');
    const idle = await client('idle-session');
    const inTx = await client('idle-in-transaction');
    await inTx.c.query('begin; select 1');
    await wait(1200);
    const fresh = await sleeper('fresh-query');
    expect((await findStopTargets(admin, 'cancel', { olderThanMs: 1000 })).map((x) => x.pid)).toEqual([old.pid]);
    expect((await findStopTargets(admin, 'terminate', { olderThanMs: 1000 })).map((x) => x.pid)).toEqual([old.pid]);
    await admin.query('select pg_cancel_backend($1)', [fresh.pid]);
    await fresh.done;

    const r = await cli(['terminate', '--older-than', '1s', '--yes', '--json', '--url', db.url, '--data-dir', dataDir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as { outcomes: StopOutcome[] };
    expect(res.outcomes.map((x) => [x.pid, x.signalled, x.stopped])).toEqual([[old.pid, true, true]]);
    const err = await old.done;
    expect(err?.message).toMatch(/terminating connection due to administrator command|Connection terminated/);
    expect(await stateOf(old.pid)).toBeUndefined();
    // the idle sessions were left alone
    expect((await idle.c.query<{ one: number }>('select 1 as one')).rows[0]?.one).toBe(1);
    expect(await stateOf(inTx.pid)).toBe('idle in transaction');

    const s2 = await openStore({ dataDir });
    try {
      const events = await new EventLog(s2).list({ limit: 10, type: 'db.*' });
      expect(events.map((e) => [e.type, (e.data as { pid: number }).pid])).toEqual([['db.query_terminated', old.pid]]);
    } finally {
      await s2.close();
    }

    // nothing that old: nothing to do, and that is not a failure (so it can run from cron)
    const none = await cli(['cancel', '--older-than', '10m', '--url', db.url, '--data-dir', dataDir]);
    expect(none.status).toBe(0);
    expect(none.stdout).toMatch(/^no active query older than 10m in postgres:\/\/postgres@127\.0\.0\.1:5432\/shipshape_top_\w+: nothing to cancel\n$/);
  });

  it('refuses a transaction pooler URL (exit 2) without printing its password', async () => {
    const p = await cli(['top', '--url', 'postgresql://postgres.abcdefghijkl:topsecret@aws-0-us-east-1.pooler.supabase.com:6543/postgres']);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain('Use the direct URL instead: postgresql://postgres:***@db.abcdefghijkl.supabase.co:5432/postgres');
    expect(p.stderr + p.stdout).not.toContain('topsecret');
  });

  it('serves the report at GET /api/v1/db/<service>/top (read scope)', async () => {
    const s = await sleeper('api-sleeper');
    const server = await startTestServer(`services:\n  web:\n    database:\n      url: ${db.url}\n  api:\n    description: no database\n`);
    try {
      const r = await server.api('/api/v1/db/web/top?limit=3&sort=mean');
      expect(r.status).toBe(200);
      const top = (await r.json()) as TopReport;
      expect(top.running.find((x) => x.pid === s.pid)).toMatchObject({ application: 'api-sleeper', query: 'select pg_sleep(30)' });
      expect(top.statements.order).toBe('mean');
      expect(top.tables.length).toBeLessThanOrEqual(3);
      expect((await server.api('/api/v1/db/web/top', { token: null })).status).toBe(401);
      const bad = await server.api('/api/v1/db/web/top?limit=lots');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { detail: string }).detail).toContain('query.limit');
      expect((await server.api('/api/v1/db/api/top')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
