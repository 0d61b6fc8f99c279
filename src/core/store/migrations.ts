/**
 * The core's schema, and the column helpers every module's migrations use. Never edit a released
 * migration: add one. Times are epoch milliseconds (UTC instants). Each module keeps its own
 * migrations (src/<module>/migrations.ts); src/core/store/migrate.ts runs and tracks them.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './db.js';

/** Migrations run against the schema as it is then, not the final typed DB. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDB = Kysely<any>;

/** Column types that differ between SQLite and PostgreSQL, for every domain's migrations. */
export function columnTypes(dialect: Dialect) {
  const pg = dialect === 'postgres';
  return {
    /** auto-incrementing id column type; use with `idCol` */
    id: (pg ? 'bigserial' : 'integer') as 'integer',
    idCol: (c: ColumnDefinitionBuilder) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()),
    blob: (pg ? 'bytea' : 'blob') as 'blob',
    num: (pg ? 'double precision' : 'real') as 'real',
    /** SQLite tables keyed by their primary key alone store rows once, not twice (no rowid). */
    compact: <T extends { modifyEnd(s: ReturnType<typeof sql>): T }>(t: T): T => (pg ? t : t.modifyEnd(sql`without rowid`)),
  };
}

/** The core's tables: meta, the event log and API tokens. */
export function coreMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);

  return {
    '0001_foundation': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('events')
          .addColumn('id', id, idCol)
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_at').on('events').column('at').execute();
        await db.schema.createIndex('events_type_at').on('events').columns(['type', 'at']).execute();
        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute();
      },
    },
    // incident timelines read an incident's own events by subject
    '0002_events_subject': {
      async up(db: AnyDB) {
        await db.schema.createIndex('events_subject_id').on('events').columns(['subject', 'id']).execute();
      },
    },
  };
}
