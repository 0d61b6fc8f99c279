/** The incidents domain's tables. Names continue the global order (see src/core/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

export interface IncidentsTable {
  id: Generated<number>;
  title: string;
  severity: string;
  /** triggered, acknowledged, mitigated, resolved, closed, declined, merged */
  state: string;
  /** the last public status: investigating, identified, monitoring, resolved (null before the first update) */
  status: string | null;
  /** JSON string[] */
  services: string;
  /** JSON { commander, communications, scribe } */
  roles: string;
  /** `manual` or `alert` */
  source: string;
  opened_by: string;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  mitigated_at: number | null;
  resolved_at: number | null;
  closed_at: number | null;
  declined_at: number | null;
  merged_into: number | null;
  first_update_at: number | null;
  last_update_at: number | null;
  reopened: number;
  /** JSON Breach[]: each response target missed, recorded once */
  breaches: string;
  /** JSON PostmortemFields, null until written */
  postmortem: string | null;
  updated_at: number;
}

/** Status updates (the status-page kind) and notes, in the order they were posted. */
export interface IncidentUpdatesTable {
  id: Generated<number>;
  incident_id: number;
  /** `update` (with a status) or `note` */
  kind: string;
  status: string | null;
  message: string;
  author: string;
  at: number;
}

/** Alerts that opened or joined an incident, by fingerprint (a flapping alert joins, not re-opens ten); merges move them. */
export interface IncidentAlertsTable {
  fingerprint: string;
  incident_id: number;
  alertname: string;
  first_at: number;
  last_at: number;
  firings: number;
}

/** Post-mortem action items that passed their due date and were announced (`incident.action_item_overdue`), once per item and due date. */
export interface IncidentOverdueItemsTable {
  incident_id: number;
  /** `<due>\n<title>`: an item whose due date moves later is announced again when it passes the new one */
  item_key: string;
  at: number;
}

export interface IncidentsTables {
  incidents: IncidentsTable;
  incident_overdue_items: IncidentOverdueItemsTable;
  incident_updates: IncidentUpdatesTable;
  incident_alerts: IncidentAlertsTable;
}

export function incidentsMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0500_incidents': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('incidents')
          .addColumn('id', id, idCol)
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('status', 'text')
          .addColumn('services', 'text', (c) => c.notNull())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('opened_by', 'text', (c) => c.notNull())
          .addColumn('opened_at', 'bigint', (c) => c.notNull())
          .addColumn('acknowledged_at', 'bigint')
          .addColumn('acknowledged_by', 'text')
          .addColumn('mitigated_at', 'bigint')
          .addColumn('resolved_at', 'bigint')
          .addColumn('closed_at', 'bigint')
          .addColumn('declined_at', 'bigint')
          .addColumn('merged_into', 'bigint')
          .addColumn('first_update_at', 'bigint')
          .addColumn('last_update_at', 'bigint')
          .addColumn('reopened', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('breaches', 'text', (c) => c.notNull())
          .addColumn('postmortem', 'text')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('incidents_state_id').on('incidents').columns(['state', 'id']).execute();
        await db.schema
          .createTable('incident_updates')
          .addColumn('id', id, idCol)
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('status', 'text')
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('author', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('incident_updates_incident').on('incident_updates').columns(['incident_id', 'id']).execute();
        await db.schema
          .createTable('incident_alerts')
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('alertname', 'text', (c) => c.notNull())
          .addColumn('first_at', 'bigint', (c) => c.notNull())
          .addColumn('last_at', 'bigint', (c) => c.notNull())
          .addColumn('firings', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('incident_alerts_pk', ['incident_id', 'fingerprint'])
          .execute();
        await db.schema.createIndex('incident_alerts_fingerprint').on('incident_alerts').columns(['fingerprint', 'incident_id']).execute();
      },
    },
    '0501_incident_overdue_items': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('incident_overdue_items')
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('item_key', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('incident_overdue_items_pk', ['incident_id', 'item_key'])
          .execute();
      },
    },
  };
}
