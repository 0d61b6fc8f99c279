/**
 * Shipshape's own schema, as ordered migrations. Never edit a released migration: add one.
 * Times are epoch milliseconds (UTC instants).
 */
import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './db.js';
import { telemetryMigrations } from '../telemetry/migrations.js';
import { errorsMigrations } from '../errors/migrations.js';
import { alertsMigrations } from '../alerts/migrations.js';
import { notifyMigrations } from '../notify/migrations.js';

/** Migrations run against the schema as it is then, not the final typed DB. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDB = Kysely<any>;

/**
 * All migrations, by name (Kysely runs them in name order). Each domain owns a number range:
 * 0001-0099 foundation (here), 0100 telemetry, 0200 errors, 0300 alerts, 0400 notify.
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    ...foundationMigrations(dialect),
    ...telemetryMigrations(dialect),
    ...errorsMigrations(dialect),
    ...alertsMigrations(dialect),
    ...notifyMigrations(dialect),
  };
}

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

function foundationMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol, blob, num, compact } = columnTypes(dialect);

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
        await db.schema
          .createTable('checks')
          .addColumn('id', id, idCol)
          .addColumn('key', 'text', (c) => c.notNull().unique())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('check_state')
          .addColumn('check_id', 'integer', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('since', 'bigint', (c) => c.notNull())
          .addColumn('consecutive_ok', 'integer', (c) => c.notNull())
          .addColumn('consecutive_fail', 'integer', (c) => c.notNull())
          .addColumn('last_at', 'bigint')
          .addColumn('last_ok', 'integer')
          .addColumn('last_latency', num)
          .addColumn('last_message', 'text')
          .addColumn('last_conditions', 'text')
          .execute();
        await db.schema
          .createTable('service_state')
          .addColumn('service', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('since', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('state_changes')
          .addColumn('id', id, idCol)
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('check_key', 'text')
          .addColumn('from_state', 'text', (c) => c.notNull())
          .addColumn('to_state', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('state_changes_service_at').on('state_changes').columns(['service', 'at']).execute();
        await db.schema
          .createTable('check_failures')
          .addColumn('id', id, idCol)
          .addColumn('check_id', 'integer', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('latency', num, (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('conditions', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('check_failures_check_at').on('check_failures').columns(['check_id', 'at']).execute();
        for (const table of ['agg_minute', 'agg_hour', 'agg_day']) {
          await compact(
            db.schema
              .createTable(table)
              .addColumn('check_id', 'integer', (c) => c.notNull())
              .addColumn('t', 'bigint', (c) => c.notNull())
              .addColumn('count', 'integer', (c) => c.notNull())
              .addColumn('failures', 'integer', (c) => c.notNull())
              .addColumn('p50', num)
              .addColumn('p95', num)
              .addColumn('max', num)
              .addPrimaryKeyConstraint(`${table}_pk`, ['check_id', 't']),
          ).execute();
        }
        await db.schema
          .createTable('open_buckets')
          .addColumn('check_id', 'integer', (c) => c.notNull())
          .addColumn('resolution', 'text', (c) => c.notNull())
          .addColumn('t', 'bigint', (c) => c.notNull())
          .addColumn('count', 'integer', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('max', num)
          .addColumn('sketch', blob)
          .addPrimaryKeyConstraint('open_buckets_pk', ['check_id', 'resolution'])
          .execute();
        await db.schema
          .createTable('heartbeats')
          .addColumn('token', 'text', (c) => c.primaryKey())
          .addColumn('last_ping', 'bigint')
          .addColumn('since', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0002_check_values': {
      async up(db: AnyDB) {
        await db.schema.alterTable('check_state').addColumn('last_values', 'text').execute();
      },
    },
  };
}
