/**
 * Migrations tracked per module. Each module's migrations run in name order and are recorded in
 * its own table (`shipshape_migrations_<module>`), so a migration added to any module later
 * applies to a store made by any earlier release, whatever the other modules did meanwhile.
 *
 * Stores made by release 0.1.0 recorded every module's migrations in one table
 * (`shipshape_migrations`), which broke as soon as a module added a migration whose name sorted
 * before another module's. Opening such a store copies each module's rows into its own table once
 * (inside the same transaction that creates it); the old table is kept, unread, for reference.
 */
import { sql, Migrator, type Kysely, type Migration, type MigrationResult } from 'kysely';
import type { Dialect } from './db.js';

export interface ModuleMigrations {
  module: string;
  migrations: (dialect: Dialect) => Record<string, Migration>;
}

const LEGACY_TABLE = 'shipshape_migrations';
const LOCK_TABLE = 'shipshape_migrations_lock';
export const migrationTable = (module: string) => `shipshape_migrations_${module}`;

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly module: string,
    readonly migration?: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDB = Kysely<any>;

async function tableExists(db: AnyDB, dialect: Dialect, table: string): Promise<boolean> {
  if (dialect === 'sqlite') {
    const r = await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${table}`.execute(db);
    return Number(r.rows[0]?.n ?? 0) > 0;
  }
  const r = await sql<{ n: number }>`select count(*) as n from information_schema.tables where table_schema = current_schema() and table_name = ${table}`.execute(db);
  return Number(r.rows[0]?.n ?? 0) > 0;
}

/** Copy a module's rows from the 0.1.0 single table into its own table, once. */
async function adoptLegacy(db: AnyDB, dialect: Dialect, module: string, names: string[]): Promise<void> {
  const table = migrationTable(module);
  if (!(await tableExists(db, dialect, LEGACY_TABLE))) return;
  await db.transaction().execute(async (tx) => {
    if (await tableExists(tx, dialect, table)) return;
    const legacy = await tx.selectFrom(LEGACY_TABLE).select(['name', 'timestamp']).execute();
    const mine = legacy.filter((r: { name: string }) => names.includes(r.name));
    // the same columns Kysely's Migrator creates, so it reads this table as its own
    await tx.schema.createTable(table).addColumn('name', 'varchar(255)', (c) => c.notNull().primaryKey()).addColumn('timestamp', 'varchar(255)', (c) => c.notNull()).execute();
    if (mine.length) await tx.insertInto(table).values(mine).execute();
  });
}

/** Bring every module's schema up to date, core first, in module order. */
export async function migrateModules(store: { db: unknown; dialect: Dialect }, modules: ModuleMigrations[]): Promise<void> {
  const db = store.db as AnyDB;
  const seen = new Set<string>();
  for (const m of modules) {
    if (!/^[a-z][a-z0-9_]{0,40}$/.test(m.module)) throw new MigrationError(`module name "${m.module}" cannot name a migration table`, m.module);
    if (seen.has(m.module)) throw new MigrationError(`module "${m.module}" is listed twice`, m.module);
    seen.add(m.module);
    const list = m.migrations(store.dialect);
    const names = Object.keys(list);
    if (names.length === 0) continue;
    await adoptLegacy(db, store.dialect, m.module, names);
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => list },
      migrationTableName: migrationTable(m.module),
      migrationLockTableName: LOCK_TABLE,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw describe(error, m.module, results);
  }
}

function describe(error: unknown, module: string, results: MigrationResult[] | undefined): MigrationError {
  const failed = results?.find((r) => r.status === 'Error');
  const msg = (error as Error).message ?? String(error);
  if (failed) return new MigrationError(`migration ${module}/${failed.migrationName} failed and was rolled back: ${msg}`, module, failed.migrationName);
  const missing = /previously executed migration (\S+) is missing/.exec(msg);
  if (missing) return new MigrationError(`the store was upgraded by a newer Shipshape: module ${module} has migration ${missing[1]}, which this release does not know; run the newer release`, module, missing[1]);
  return new MigrationError(`migrations of module ${module} failed: ${msg}`, module);
}
