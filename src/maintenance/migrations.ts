/** The maintenance domain's table. Names continue the global order (see src/core/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

/** One window: a one-off window, or one occurrence of a recurring window from the config. */
export interface MaintenanceWindowsTable {
  id: Generated<number>;
  title: string;
  message: string | null;
  /** JSON string[] */
  services: string;
  starts_at: number;
  /** the planned end (moved by an extension) */
  ends_at: number;
  /** the declared maximum length, ms: in progress past starts_at + max_ms is an overrun */
  max_ms: number;
  notice_ms: number;
  /** 1: ends at ends_at by itself; 0: stays in progress until ended by hand */
  auto_end: number;
  /** scheduled, in_progress, verifying, completed, cancelled */
  status: string;
  /** the config window this is an occurrence of (null: added by hand) */
  recurring: string | null;
  /** `<recurring>@<starts_at>` for occurrences of config windows (unique), null otherwise */
  occurrence: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  announced_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  overrun_at: number | null;
  cancelled_at: number | null;
  /** the notify silence that suppresses the services' alerts while it is in progress */
  silence_id: string | null;
}

export interface MaintenanceTables {
  maintenance_windows: MaintenanceWindowsTable;
}

export function maintenanceMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0700_maintenance': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('maintenance_windows')
          .addColumn('id', id, idCol)
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('message', 'text')
          .addColumn('services', 'text', (c) => c.notNull())
          .addColumn('starts_at', 'bigint', (c) => c.notNull())
          .addColumn('ends_at', 'bigint', (c) => c.notNull())
          .addColumn('max_ms', 'bigint', (c) => c.notNull())
          .addColumn('notice_ms', 'bigint', (c) => c.notNull())
          .addColumn('auto_end', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('recurring', 'text')
          .addColumn('occurrence', 'text', (c) => c.unique())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('announced_at', 'bigint')
          .addColumn('started_at', 'bigint')
          .addColumn('ended_at', 'bigint')
          .addColumn('overrun_at', 'bigint')
          .addColumn('cancelled_at', 'bigint')
          .addColumn('silence_id', 'text')
          .execute();
        await db.schema.createIndex('maintenance_windows_status').on('maintenance_windows').columns(['status', 'starts_at']).execute();
        await db.schema.createIndex('maintenance_windows_starts').on('maintenance_windows').columns(['starts_at']).execute();
      },
    },
  };
}
