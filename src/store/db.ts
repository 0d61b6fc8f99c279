/**
 * Shipshape's own store: Kysely over better-sqlite3 (the embedded default, a file under the data
 * dir) or PostgreSQL (SHIPSHAPE_DATABASE_URL). One query layer serves both.
 */
import { mkdirSync, accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Generated } from 'kysely';
import { migrations } from './migrations.js';
import { redactUrlCredentials } from '../secrets/redact.js';

export interface EventsTable {
  id: Generated<number>;
  at: number;
  type: string;
  actor: string;
  subject: string;
  data: string;
}
export interface TokensTable {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}
export interface ChecksTable {
  id: Generated<number>;
  key: string;
  service: string;
  created_at: number;
}
export interface CheckStateTable {
  check_id: number;
  state: string;
  since: number;
  consecutive_ok: number;
  consecutive_fail: number;
  last_at: number | null;
  last_ok: number | null;
  last_latency: number | null;
  last_message: string | null;
  last_conditions: string | null;
  last_values: string | null;
}
export interface ServiceStateTable {
  service: string;
  state: string;
  since: number;
}
export interface StateChangesTable {
  id: Generated<number>;
  at: number;
  service: string;
  check_key: string | null;
  from_state: string;
  to_state: string;
  reason: string;
}
export interface CheckFailuresTable {
  id: Generated<number>;
  check_id: number;
  at: number;
  latency: number;
  message: string;
  conditions: string;
}
export interface AggTable {
  check_id: number;
  t: number;
  count: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}
export interface OpenBucketsTable {
  check_id: number;
  resolution: string;
  t: number;
  count: number;
  failures: number;
  max: number | null;
  sketch: Uint8Array | null;
}
export interface HeartbeatsTable {
  token: string;
  last_ping: number | null;
  since: number;
}
export interface MetaTable {
  key: string;
  value: string;
}

export interface DB {
  events: EventsTable;
  tokens: TokensTable;
  checks: ChecksTable;
  check_state: CheckStateTable;
  service_state: ServiceStateTable;
  state_changes: StateChangesTable;
  check_failures: CheckFailuresTable;
  agg_minute: AggTable;
  agg_hour: AggTable;
  agg_day: AggTable;
  open_buckets: OpenBucketsTable;
  heartbeats: HeartbeatsTable;
  meta: MetaTable;
}

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<DB>;
  dialect: Dialect;
  /** where the data lives, for messages: a file path or a redacted URL */
  location: string;
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}


export interface OpenOptions {
  /** directory for the embedded SQLite file (default .shipshape) */
  dataDir?: string;
  /** postgres://… to use PostgreSQL instead */
  databaseUrl?: string;
  /** run Shipshape's schema migrations (default true) */
  migrate?: boolean;
}

export async function openStore(opts: OpenOptions = {}): Promise<Store> {
  const store = opts.databaseUrl ? await openPostgres(opts.databaseUrl) : await openSqlite(resolve(opts.dataDir ?? '.shipshape'));
  if (opts.migrate !== false) {
    try {
      await migrate(store);
    } catch (e) {
      await store.close().catch(() => undefined);
      throw describeOpenError(e, store.location);
    }
  }
  return store;
}

function describeOpenError(e: unknown, location: string): Error {
  if (e instanceof StoreError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const msg = err.message ?? String(e);
  if (code === 'SQLITE_READONLY' || /readonly/i.test(msg)) return new StoreError(`the store ${location} is read-only: Shipshape needs to write to it (check the file and directory permissions, or pick another --data-dir)`);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || /database is locked/i.test(msg)) return new StoreError(`the store ${location} is locked by another process (is another shipshape running on this data dir?)`);
  if (code === 'SQLITE_CANTOPEN') return new StoreError(`cannot open the store ${location}: ${msg}`);
  if (code === 'ECONNREFUSED') return new StoreError(`cannot connect to the store database ${location}: connection refused`);
  return new StoreError(`cannot open the store ${location}: ${msg}`);
}

async function openSqlite(dataDir: string): Promise<Store> {
  const file = join(dataDir, 'shipshape.db');
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new StoreError(`cannot create the data directory ${dataDir}: ${(e as Error).message}`);
  }
  try {
    accessSync(dataDir, constants.W_OK);
    if (existsSync(file)) accessSync(file, constants.W_OK);
  } catch {
    throw new StoreError(`the store ${file} is read-only: Shipshape needs to write to it (check the file and directory permissions, or pick another --data-dir)`);
  }
  const { default: Database } = await import('better-sqlite3');
  let sqlite: SqliteDatabase | undefined;
  try {
    sqlite = new Database(file, { timeout: 2000 });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // prove at start that we can write: a locked or read-only store is a clear error now, not a failed write later
    sqlite.pragma('busy_timeout = 2000');
    sqlite.prepare('BEGIN IMMEDIATE').run();
    sqlite.prepare('COMMIT').run();
    sqlite.pragma('busy_timeout = 5000');
  } catch (e) {
    try {
      sqlite?.close();
    } catch {
      /* already failing */
    }
    throw describeOpenError(e, file);
  }
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    async close() {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  const { default: pg } = await import('pg');
  const int8 = 20;
  const numeric = 1700;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === int8 || oid === numeric) return (v: string) => Number(v);
        return pg.types.getTypeParser(oid, format as 'text');
      }) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', () => undefined);
  const location = redactUrlCredentials(url);
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw describeOpenError(e, location);
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    location,
    async close() {
      await db.destroy();
    },
  };
}

export async function migrate(store: Store): Promise<void> {
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => migrations(store.dialect) },
    migrationTableName: 'shipshape_migrations',
    migrationLockTableName: 'shipshape_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const e = error as Error;
    if (failed) e.message = `migration ${failed.migrationName} failed: ${e.message}`;
    throw e;
  }
}
