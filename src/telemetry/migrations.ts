/** The telemetry domain's tables. Names continue the global order (see src/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';
import type { Dialect } from '../core/store/db.js';


/** One series: kind + service + name + labels (canonical JSON). */
export interface TelSeriesTable {
  id: Generated<number>;
  kind: string;
  service: string;
  name: string;
  labels: string;
  type: string | null;
  created_at: number;
}

/** One closed (or, after a stop, partial) bucket of a series. */
export interface TelBucketTable {
  series_id: number;
  t: number;
  count: number;
  errors: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number | null;
  /** non-empty DDSketch bins (src/telemetry/sketch.ts encoding), requests and vitals only */
  sketch: Uint8Array | null;
}

/** Buckets that were open at a graceful stop, restored at the next start. */
export interface TelOpenTable extends TelBucketTable {
  tier: string;
}

/**
 * The write-ahead log of acknowledged ingest requests (src/telemetry/wal.ts): one row per request,
 * appended before it is answered, deleted by the checkpoint that covers it, replayed at start.
 */
export interface TelWalTable {
  /** sequence number, in the order the samples were taken (assigned in memory, not by the store) */
  id: number;
  /** the ingest time (epoch ms) the samples were taken with */
  at: number;
  kind: 'sdk' | 'otlp_metrics' | 'otlp_traces';
  /** the rollup's `openFrom` when the samples were taken (replay clamps to the same buckets) */
  open_from: number;
  /** the samples taken (src/telemetry/wal.ts: sdk `encodeSdkBatch`, otlp_* `Journal`) */
  body: Uint8Array;
}

/** The telemetry module's tables; its store handle is typed with these only. */
export interface TelemetryTables {
  tel_series: TelSeriesTable;
  tel_10s: TelBucketTable;
  tel_1m: TelBucketTable;
  tel_1h: TelBucketTable;
  tel_open: TelOpenTable;
  tel_wal: TelWalTable;
}

export const TIER_TABLE = { '10s': 'tel_10s', '1m': 'tel_1m', '1h': 'tel_1h' } as const;

export function telemetryMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol, blob, num, compact } = columnTypes(dialect);
  return {
    '0100_telemetry': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('tel_series')
          .addColumn('id', id, idCol)
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('type', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('tel_series_key', ['kind', 'service', 'name', 'labels'])
          .execute();
        await db.schema.createIndex('tel_series_service').on('tel_series').columns(['service', 'kind']).execute();
        for (const table of Object.values(TIER_TABLE)) {
          await compact(
            db.schema
              .createTable(table)
              .addColumn('series_id', 'integer', (c) => c.notNull())
              .addColumn('t', 'bigint', (c) => c.notNull())
              .addColumn('count', num, (c) => c.notNull())
              .addColumn('errors', num, (c) => c.notNull())
              .addColumn('sum', num, (c) => c.notNull())
              .addColumn('min', num)
              .addColumn('max', num)
              .addColumn('last', num)
              .addColumn('sketch', blob)
              .addPrimaryKeyConstraint(`${table}_pk`, ['series_id', 't']),
          ).execute();
          await db.schema.createIndex(`${table}_t`).on(table).column('t').execute();
        }
        await db.schema
          .createTable('tel_open')
          .addColumn('series_id', 'integer', (c) => c.notNull())
          .addColumn('tier', 'text', (c) => c.notNull())
          .addColumn('t', 'bigint', (c) => c.notNull())
          .addColumn('count', num, (c) => c.notNull())
          .addColumn('errors', num, (c) => c.notNull())
          .addColumn('sum', num, (c) => c.notNull())
          .addColumn('min', num)
          .addColumn('max', num)
          .addColumn('last', num)
          .addColumn('sketch', blob)
          .addPrimaryKeyConstraint('tel_open_pk', ['series_id', 'tier', 't'])
          .execute();
      },
    },
    '0101_telemetry_wal': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('tel_wal')
          // SQLite: `integer primary key` is the rowid (no second index)
          .addColumn('id', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.primaryKey())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('open_from', 'bigint', (c) => c.notNull())
          .addColumn('body', blob, (c) => c.notNull())
          .execute();
      },
    },
  };
}
