/**
 * `postgres`: connect, and report connections in use, the replica flag and replication lag, the
 * longest running query and transaction, sessions idle in a transaction and lock waits, and
 * optionally the single value an extra query returns. One short-lived client per run.
 */
import type pg from 'pg';
import { z } from 'zod';
import { egressDenial, egressSocket } from '../../core/egress.js';
import type { CheckKind, Observation } from '../types.js';
import { deadline, elapsed, failed, firstLine, networkErrorText, redactUrlCredentials, scrub, urlPassword } from './_util.js';

const spec = z
  .object({
    url: z
      .string()
      .meta({ description: 'connection URL, e.g. ${DATABASE_URL} or postgres://user:password@host:5432/db?sslmode=require' }),
    query: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'extra SQL returning one value, reported as `result` (e.g. select count(*) from jobs where failed)' }),
  })
  .strict();

/**
 * One round trip per run. Besides connections, the replica flag and lag: what the runbooks watch in
 * pg_stat_activity ("kill queries older than 5 minutes", stuck transactions, lock waits), for the
 * check's database and its client sessions, this check's own excepted. A role without
 * pg_read_all_stats (pg_monitor) sees only its own sessions' figures.
 */
const STATS_SQL = `select
  (select count(*) from pg_stat_activity)::int as connections,
  current_setting('max_connections')::int as max_connections,
  pg_is_in_recovery() as replica,
  current_setting('server_version') as version,
  case when pg_is_in_recovery()
    then extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000
  end as replication_lag,
  a.longest_query, a.longest_transaction, a.idle_in_transaction, a.lock_waits
from (select
    coalesce(extract(epoch from max(now() - query_start) filter (where state = 'active')) * 1000, 0) as longest_query,
    coalesce(extract(epoch from max(now() - xact_start)) * 1000, 0) as longest_transaction,
    count(*) filter (where state in ('idle in transaction', 'idle in transaction (aborted)'))::int as idle_in_transaction,
    count(*) filter (where wait_event_type = 'Lock')::int as lock_waits
  from pg_stat_activity
  where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()) a`;

interface Target {
  host: string;
  port: string;
}

function target(url: string): Target {
  try {
    const u = new URL(url);
    const host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')) || u.searchParams.get('host') || 'localhost';
    return { host, port: u.port || u.searchParams.get('port') || '5432' };
  } catch {
    return { host: 'database', port: '' };
  }
}

/** `postgres://user:***@host:5432/db` — no password, no query string (it can hold sslpassword and friends). */
function safeDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return redactUrlCredentials(url).replace(/\?.*$/, '');
  }
}

function pgErrorText(err: unknown, t: Target): string {
  const denied = egressDenial(err);
  if (denied) return denied.message;
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/timeout/i.test(message) && /connect/i.test(message)) return `connection timed out (${t.host}:${t.port})`;
  if (typeof e?.code === 'string' && /^[A-Z0-9]{5}$/.test(e.code) && !/^E[A-Z]/.test(e.code)) {
    // a server error (SQLSTATE): its message is already meant for people
    return firstLine(message);
  }
  if (/Connection terminated unexpectedly/i.test(message)) return `connection closed by ${t.host}:${t.port}`;
  if (/server does not support SSL/i.test(message)) return 'the server does not support SSL (remove sslmode=require?)';
  return networkErrorText(err, t.host, t.port);
}

function scalar(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) && Number.isSafeInteger(Math.trunc(Number(v)))) return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}

export const postgres: CheckKind<typeof spec> = {
  name: 'postgres',
  spec,
  impliedConditions() {
    return ['connected == true'];
  },
  describe(s) {
    return s.url.trim() === '' ? 'postgres (no url configured)' : safeDbUrl(s.url.trim());
  },
  async run(s, ctx) {
    const start = performance.now();
    const url = s.url.trim();
    if (url === '') return failed(start, 'no database url configured');
    const secret = urlPassword(url);
    const t = target(url);
    const dl = deadline(ctx, s.timeout);
    const timeout = s.timeout > 0 ? s.timeout : ctx.timeoutMs;
    let client: pg.Client;
    try {
      // loaded on first use: a server without postgres checks does not pay for the driver
      const { default: Pg } = await import('pg');
      client = new Pg.Client({
        connectionString: url,
        connectionTimeoutMillis: timeout,
        query_timeout: timeout,
        statement_timeout: timeout,
        application_name: 'shipshape-check',
        // the egress policy at connect time: the socket checks a literal IP and resolves a name
        // with the policy's lookup (TLS, when asked for, is then started on this socket)
        stream: () => egressSocket(),
      });
    } catch (e) {
      dl.dispose();
      return failed(start, scrub(`invalid database url: ${firstLine((e as Error).message)}`, [secret]));
    }
    // pg emits 'error' for a connection lost while idle; never let that crash the process
    client.on('error', () => undefined);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      void client.end().catch(() => undefined);
    };
    const onAbort = close;
    dl.signal.addEventListener('abort', onAbort, { once: true });
    const work = async (): Promise<Observation> => {
      await client.connect();
      const stats = (await client.query(STATS_SQL)).rows[0] as {
        connections: number;
        max_connections: number;
        replica: boolean;
        version: string;
        replication_lag: string | number | null;
        longest_query: string | number;
        longest_transaction: string | number;
        idle_in_transaction: number;
        lock_waits: number;
      };
      const values: Record<string, unknown> = {
        connected: true,
        connections: stats.connections,
        max_connections: stats.max_connections,
        connections_used: stats.max_connections > 0 ? stats.connections / stats.max_connections : 0,
        replica: stats.replica,
        version: String(stats.version).split(' ')[0],
      };
      if (stats.replica) values.replication_lag = stats.replication_lag === null ? null : Math.round(Number(stats.replication_lag));
      values.longest_query = Math.round(Number(stats.longest_query));
      values.longest_transaction = Math.round(Number(stats.longest_transaction));
      values.idle_in_transaction = stats.idle_in_transaction;
      values.lock_waits = stats.lock_waits;
      if (s.query) {
        try {
          const res = await client.query({ text: s.query, rowMode: 'array' });
          const row = res.rows[0] as unknown[] | undefined;
          values.result = row === undefined ? null : scalar(row[0]);
        } catch (e) {
          return failed(start, `query failed: ${pgErrorText(e, t)}`, values);
        }
      }
      return { ok: true, latencyMs: elapsed(start), values };
    };
    try {
      const p = work();
      p.catch(() => undefined);
      const result = await Promise.race([p, dl.aborted.then(() => undefined)]);
      if (result === undefined) return failed(start, dl.reason());
      return result.error ? { ...result, error: scrub(result.error, [secret]) } : result;
    } catch (e) {
      if (dl.signal.aborted) return failed(start, dl.reason());
      return failed(start, scrub(pgErrorText(e, t), [secret]));
    } finally {
      dl.signal.removeEventListener('abort', onAbort);
      dl.dispose();
      close();
    }
  },
};
