/**
 * The checks module's tables. `0001_foundation` and `0002_check_values` keep the names they had
 * in release 0.1.0 (when one migration created the core's and the checks' tables together), so a
 * 0.1.0 store is recognised as having run them.
 */
import type { Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

export function checksMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol, blob, num, compact } = columnTypes(dialect);
  return {
    '0001_foundation': {
      async up(db: AnyDB) {
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
    // heartbeat URLs carry a random secret next to the readable name (filled in when a heartbeat check loads)
    '0003_heartbeat_secrets': {
      async up(db: AnyDB) {
        await db.schema.alterTable('heartbeats').addColumn('secret', 'text').execute();
      },
    },
  };
}
