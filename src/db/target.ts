/**
 * The target database: its URL shown without secrets, transaction poolers recognised (and the
 * direct URL to use instead), and a connected client whose errors never carry the password.
 */
import pg from 'pg';
import { scrub, urlPassword } from '../core/redact.js';
import { ServiceError } from '../core/errors.js';

/** `postgres://user:***@host:5432/db`: no password, no query string (it can hold sslpassword and friends). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return scrub(url, []).replace(/\?.*$/, '');
  }
}

/** host/db, for event subjects and short messages. */
export function databaseLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname || '/'}`;
  } catch {
    return 'database';
  }
}

/** Text about `url` made safe to print: its password removed wherever it appears. */
export function scrubFor(url: string): (text: string) => string {
  const pw = urlPassword(url);
  return (text) => scrub(text, [pw]);
}

export interface PoolerProblem {
  /** what the URL points at and why migrations cannot use it */
  why: string;
  /** the direct URL to use instead (masked), or how to find it */
  direct: string;
}

/**
 * A URL that goes through a transaction-mode pooler (Supabase's port 6543, Neon's `-pooler` host,
 * PgBouncer marked with `pgbouncer=true`): each statement may land on another server session, so
 * the session-level advisory lock and `SET`s would not hold and a migration's transaction could be
 * split. Returns what is wrong and the direct URL, or undefined for a direct URL.
 */
export function poolerProblem(url: string): PoolerProblem | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const host = u.hostname.toLowerCase();
  const direct = (h: string, port: string, user?: string) => {
    const d = new URL(u.toString());
    d.hostname = h;
    d.port = port;
    if (user !== undefined) d.username = user;
    d.searchParams.delete('pgbouncer');
    return maskUrl(d.toString());
  };
  const why = (what: string) => `${maskUrl(url)} is ${what}: migrations need one session for their advisory lock and each migration's transaction, which a transaction pooler does not keep`;
  if (host.endsWith('.pooler.supabase.com') && (u.port === '6543' || u.port === '')) {
    // the pooler's user is postgres.<project-ref>; the direct host is db.<project-ref>.supabase.co
    const m = /^([^.]+)\.([a-z0-9]{10,})$/i.exec(decodeURIComponent(u.username));
    const directUrl = m ? direct(`db.${m[2]}.supabase.co`, '5432', m[1]) : 'the direct connection string (db.<project-ref>.supabase.co:5432, Project Settings → Database → Connection string → Direct)';
    return { why: why("Supabase's transaction pooler (Supavisor, port 6543)"), direct: `${directUrl} (or the session pooler on port 5432 where the direct host has no IPv4)` };
  }
  if (u.port === '6543') return { why: why('on port 6543, the transaction pooler port of Supabase (PgBouncer / Supavisor)'), direct: direct(host, '5432') };
  const labels = host.split('.');
  if (labels[0]?.endsWith('-pooler') && host.endsWith('.neon.tech')) {
    labels[0] = labels[0].slice(0, -'-pooler'.length);
    return { why: why("Neon's pooled connection (PgBouncer in transaction mode, the -pooler host)"), direct: direct(labels.join('.'), u.port) };
  }
  if (u.searchParams.get('pgbouncer') === 'true') return { why: why('marked pgbouncer=true (PgBouncer in transaction mode)'), direct: 'the URL of the PostgreSQL server behind PgBouncer' };
  return undefined;
}

/** Refuse a pooler URL with the reason and the direct URL. */
export function assertDirect(url: string): void {
  const p = poolerProblem(url);
  if (p) throw new ServiceError('invalid', `${p.why}. Use the direct URL instead: ${p.direct}`);
}

/**
 * Run `fn` on a fresh session to a direct (not pooled) URL with a statement timeout, then close
 * it: what the read-and-report commands (audit, top, cancel, terminate) need.
 */
export async function withClient<T>(url: string, applicationName: string, timeout: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  assertDirect(url);
  const c = await connect(url, applicationName);
  try {
    await c.query(`set statement_timeout = '${timeout.replace(/[^0-9a-z]/gi, '')}'`);
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A connected client to the target (one session: the lock and the migrations share it). */
export async function connect(url: string, applicationName: string): Promise<pg.Client> {
  if (!/^postgres(ql)?:\/\//i.test(url)) throw new ServiceError('invalid', `expected a postgres:// URL, got "${maskUrl(url).slice(0, 80)}"`);
  const client = new pg.Client({ connectionString: url, application_name: applicationName.slice(0, 63), connectionTimeoutMillis: 15_000 });
  // an idle client's lost connection emits 'error'; the next query reports it
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new ServiceError('invalid', `cannot connect to ${maskUrl(url)}: ${scrubFor(url)((e as Error).message || String((e as { code?: string }).code ?? e))}`);
  }
  return client;
}
