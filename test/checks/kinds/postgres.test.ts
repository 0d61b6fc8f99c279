import { createServer, type AddressInfo, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../../src/checks/kinds/postgres.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { createTestDatabase } from '../../helpers/pg.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = postgres as unknown as CheckKind;
const URL_OK = process.env.SHIPSHAPE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let closedPort: number;
let silent: Server;
let silentPort: number;
/** connections the silent server accepted */
let silentAccepted = 0;

async function backendsNamed(name: string): Promise<number> {
  const c = new pg.Client({ connectionString: URL_OK });
  await c.connect();
  try {
    const r = await c.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where application_name = $1', [name]);
    return r.rows[0]?.n ?? -1;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  const tmp = createServer();
  await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
  closedPort = (tmp.address() as AddressInfo).port;
  await new Promise<void>((resolve) => tmp.close(() => resolve()));
  silent = createServer((s) => {
    silentAccepted++;
    s.on('error', () => undefined).resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

describe('postgres check', () => {
  it('reports connections, max_connections, the used fraction, replica flag and version', async () => {
    const input = { url: URL_OK };
    const obs = await runKind(kind, input);
    expect(obs.error).toBeUndefined();
    expect(obs.ok).toBe(true);
    expect(obs.values.connected).toBe(true);
    const { connections, max_connections, connections_used } = obs.values as { connections: number; max_connections: number; connections_used: number };
    expect(Number.isInteger(connections)).toBe(true);
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(max_connections).toBeGreaterThan(connections - 1);
    expect(connections_used).toBeGreaterThan(0);
    expect(connections_used).toBeLessThan(1);
    expect(connections_used).toBeCloseTo(connections / max_connections, 6);
    expect(obs.values.replica).toBe(false);
    expect(obs.values).not.toHaveProperty('replication_lag');
    expect(obs.values.version).toMatch(/^\d+(\.\d+)?/);
    expect(judge(kind, input, obs, ['connections_used < 99%', 'replica == false']).ok).toBe(true);
    expect(judge(kind, input, obs, ['connections_used < 0%']).ok).toBe(false);
  });

  it('reports the longest running query and transaction, sessions idle in a transaction and lock waits, in its own database', { timeout: 30_000 }, async () => {
    const db = await createTestDatabase('shipshape_pgcheck');
    const sessions: pg.Client[] = [];
    const session = async () => {
      const c = new pg.Client({ connectionString: db.url });
      c.on('error', () => undefined);
      await c.connect();
      sessions.push(c);
      return c;
    };
    try {
      const quiet = await runKind(kind, { url: db.url });
      expect(quiet.values).toMatchObject({ longest_query: 0, longest_transaction: 0, idle_in_transaction: 0, lock_waits: 0 });

      const setup = await session();
      await setup.query('create table jobs (id int)');
      // a query running for a while, a transaction left open, and a session waiting on its lock
      const sleeper = await session();
      const sleeping = sleeper.query('select pg_sleep(20)').catch(() => undefined);
      const holder = await session();
      await holder.query('begin');
      await holder.query('lock table jobs in access exclusive mode');
      const waiter = await session();
      const waiting = waiter.query('select count(*) from jobs').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1200));

      const obs = await runKind(kind, { url: db.url });
      expect(obs.ok).toBe(true);
      const v = obs.values as { longest_query: number; longest_transaction: number; idle_in_transaction: number; lock_waits: number };
      expect(v.longest_query).toBeGreaterThanOrEqual(1000);
      expect(v.longest_query).toBeLessThan(20_000);
      expect(v.longest_transaction).toBeGreaterThanOrEqual(1000);
      expect(v.idle_in_transaction).toBe(1);
      expect(v.lock_waits).toBe(1);
      // what alert rules and conditions read: check(db).longest_query > 5m, lock_waits == 0
      expect(judge(kind, { url: db.url }, obs, ['longest_query < 1s']).ok).toBe(false);
      expect(judge(kind, { url: db.url }, obs, ['longest_query < 5m', 'idle_in_transaction <= 1']).ok).toBe(true);
      expect(judge(kind, { url: db.url }, obs, ['lock_waits == 0']).ok).toBe(false);

      // another database's sessions do not count
      const other = await runKind(kind, { url: URL_OK });
      expect((other.values as { lock_waits: number }).lock_waits).toBe(0);

      // end the others' work at once (the sleeper would hold its session for 20 s)
      await setup.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
      await Promise.all([sleeping, waiting]);
    } finally {
      for (const c of sessions) await c.end().catch(() => undefined);
      await db.drop();
    }
  });

  it('reports the value of an extra query and fails clearly when it errors', async () => {
    const obs = await runKind(kind, { url: URL_OK, query: 'select 40 + 2' });
    expect(obs.values.result).toBe(42);
    expect(judge(kind, { url: URL_OK }, obs, ['result == 42']).ok).toBe(true);
    const bad = await runKind(kind, { url: URL_OK, query: 'select * from no_such_table_shipshape' });
    expect(bad.ok).toBe(false);
    expect(bad.error).toBe('query failed: relation "no_such_table_shipshape" does not exist');
  });

  it('closes its connection after every run', async () => {
    const name = 'shipshape-check';
    const before = await backendsNamed(name);
    for (let i = 0; i < 5; i++) await runKind(kind, { url: URL_OK });
    // the server notices a closed connection a moment after the client ends it
    await expect.poll(() => backendsNamed(name), { timeout: 5000, interval: 50 }).toBeLessThanOrEqual(before);
  });

  it('reports a refused connection', async () => {
    const obs = await runKind(kind, { url: `postgres://postgres@127.0.0.1:${closedPort}/postgres` });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(`connection refused (127.0.0.1:${closedPort})`);
  });

  it('times out against a server that never answers', async () => {
    const before = silentAccepted;
    const obs = await runKind(kind, { url: `postgres://postgres@127.0.0.1:${silentPort}/postgres` }, { timeoutMs: 300 });
    expect(obs.ok).toBe(false);
    // the check's deadline, or the driver's connect timeout (set to the same 300ms), whichever comes first
    expect([`timed out after 300ms`, `connection timed out (127.0.0.1:${silentPort})`]).toContain(obs.error);
    // the check reached the server, and hung up when it gave up instead of leaving the socket open
    expect(silentAccepted).toBe(before + 1);
    const open = () => new Promise<number>((resolve) => silent.getConnections((_e, n) => resolve(n)));
    await expect.poll(open, { timeout: 5000, interval: 20 }).toBe(0);
  });

  it('never shows the password from the URL', async () => {
    const secret = 'pa55-w0rd_Secret';
    const refusedUrl = `postgres://app:${secret}@127.0.0.1:${closedPort}/db`;
    const obs = await runKind(kind, { url: refusedUrl });
    expect(obs.ok).toBe(false);
    expect(JSON.stringify(obs)).not.toContain(secret);
    expect(postgres.describe(postgres.spec.parse({ url: refusedUrl }))).toBe(`postgres://app:***@127.0.0.1:${closedPort}/db`);
    expect(postgres.describe(postgres.spec.parse({ url: `postgres://app:${secret}@db.internal/app?sslmode=require&sslpassword=x` }))).toBe('postgres://app:***@db.internal/app');
    // a wrong password against the real server: the error names the user, not the password
    const wrong = await runKind(kind, { url: `postgres://no_such_user_shipshape:${secret}@127.0.0.1:5432/postgres` });
    expect(wrong.ok).toBe(false);
    expect(wrong.error).toMatch(/no_such_user_shipshape/);
    expect(JSON.stringify(wrong)).not.toContain(secret);
  });

  it('reports an empty url clearly', async () => {
    const obs = await runKind(kind, { url: '' });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('no database url configured');
  });
});
