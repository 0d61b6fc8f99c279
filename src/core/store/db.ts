/**
 * Shipshape's own store: Kysely over better-sqlite3 (the embedded default, a file under the data
 * dir) or PostgreSQL (SHIPSHAPE_DATABASE_URL). One query layer serves both.
 */
import { mkdirSync, accessSync, closeSync, constants, existsSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver, type Generated, type SqliteDialectConfig } from 'kysely';
import { migrateModules, type ModuleMigrations } from './migrate.js';
import { redactUrlCredentials } from '../redact.js';

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
export interface MetaTable {
  key: string;
  value: string;
}

/** The core's own tables. Each module types its store handle with its own tables only. */
export interface CoreTables {
  events: EventsTable;
  tokens: TokensTable;
  meta: MetaTable;
}

export type Dialect = 'sqlite' | 'postgres';

export interface Store<Tables = CoreTables> {
  db: Kysely<Tables>;
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
  /** each module's migrations, in module order (the core's first); see src/modules.ts */
  migrations?: ModuleMigrations[];
}

export async function openStore(opts: OpenOptions = {}): Promise<Store> {
  if (opts.migrate !== false && !opts.migrations) throw new Error('openStore: pass the modules\' migrations (storeMigrations() in src/modules.ts)');
  const store = opts.databaseUrl ? await openPostgres(opts.databaseUrl) : await openSqlite(resolve(opts.dataDir ?? '.shipshape'));
  if (opts.migrate !== false) {
    try {
      await migrateModules(store, opts.migrations ?? []);
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

/**
 * SQLite runs DDL inside transactions, but Kysely's adapter says it does not; saying so makes the
 * migrator run each module's pending migrations in one transaction, so a failed migration leaves
 * the store as it was (as on PostgreSQL).
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
/**
 * After some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM…) SQLite rolls the transaction back
 * by itself; Kysely's own ROLLBACK then fails with "no transaction is active", and that error
 * would replace the real cause (a full disk) on its way to the caller.
 */
class StoreSqliteDriver extends SqliteDriver {
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (e) {
      if (/no transaction is active/i.test((e as Error).message)) return;
      throw e;
    }
  }
}
class TransactionalSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): Driver {
    return new StoreSqliteDriver(this.settings);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

/**
 * Kysely prepares every query afresh; Shipshape asks the same few hundred shapes over and over, so
 * prepared statements are kept (least recently used out past 500). Kysely runs one query at a time
 * on the one connection, so a statement is never used twice at once.
 */
function withStatementCache(sqlite: SqliteDatabase): SqliteDialectConfig['database'] {
  const cache = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  return {
    prepare(sql: string) {
      let st = cache.get(sql);
      if (st) {
        cache.delete(sql); // most recently used last
      } else {
        st = sqlite.prepare(sql);
        if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, st);
      return st;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

async function openSqlite(dataDir: string): Promise<Store> {
  const file = join(dataDir, 'shipshape.db');
  try {
    // the store holds token hashes, check output and events: for Shipshape's user only
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
    // create the file 0600 before SQLite does (it would use the umask: 0644); its -wal and -shm files take its mode
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    sqlite = new Database(file, { timeout: 2000 });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection, and a store with a day
    // of history is larger than that, so the whole cache stays resident: 4 MB holds the hot pages
    // (indexes, the newest rows), the rest comes from the OS page cache
    sqlite.pragma('cache_size = -4000');
    // the -wal file keeps its largest size after a checkpoint (68 MB in a 40-minute ingest soak):
    // what is over 16 MB is given back
    sqlite.pragma('journal_size_limit = 16777216');
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
  const db = new Kysely<CoreTables>({ dialect: new TransactionalSqliteDialect({ database: withStatementCache(sqlite) }) });
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
  const db = new Kysely<CoreTables>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    location,
    async close() {
      await db.destroy();
    },
  };
}
