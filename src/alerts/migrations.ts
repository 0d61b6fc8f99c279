/** The alerts domain's tables. Names continue the global order (see src/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

/**
 * One row per alert instance: from a rule (`rule` set) or pushed from outside. The current instance
 * of a fingerprint is the row in state pending/firing; resolved rows are the history.
 */
export interface AlertsTable {
  id: Generated<number>;
  fingerprint: string;
  /** `rule:<name>`, `prometheus`, `alertmanager`, `pagerduty` */
  source: string;
  rule: string | null;
  state: string;
  labels: string;
  annotations: string;
  value: number | null;
  value_text: string;
  threshold: number | null;
  threshold_text: string | null;
  samples: number | null;
  expression: string | null;
  active_at: number;
  fired_at: number | null;
  resolved_at: number | null;
  /** pushed alerts: resolve at this instant unless re-sent */
  ends_at: number | null;
  /** rule alerts: when the condition stopped holding while firing (keep_firing_for) */
  cleared_at: number | null;
  generator_url: string | null;
  updated_at: number;
}

/** The alerts module's tables; its store handle is typed with these only. */
export interface AlertsTables {
  alerts: AlertsTable;
}


export function alertsMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol, num } = columnTypes(dialect);
  return {
    '0300_alerts': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('alerts')
          .addColumn('id', id, idCol)
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('rule', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('annotations', 'text', (c) => c.notNull())
          .addColumn('value', num)
          .addColumn('value_text', 'text', (c) => c.notNull())
          .addColumn('threshold', num)
          .addColumn('threshold_text', 'text')
          .addColumn('samples', 'bigint')
          .addColumn('expression', 'text')
          .addColumn('active_at', 'bigint', (c) => c.notNull())
          .addColumn('fired_at', 'bigint')
          .addColumn('resolved_at', 'bigint')
          .addColumn('ends_at', 'bigint')
          .addColumn('cleared_at', 'bigint')
          .addColumn('generator_url', 'text')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('alerts_state_id').on('alerts').columns(['state', 'id']).execute();
        await db.schema.createIndex('alerts_fingerprint').on('alerts').columns(['fingerprint', 'state']).execute();
      },
    },
  };
}
