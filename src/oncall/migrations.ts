/** The on-call domain's tables. Names continue the global order (see src/core/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

/** Secrets made once: `link_key` signs ack / resolve links (never logged, never sent). */
export interface OncallKeysTable {
  name: string;
  secret: string;
  created_at: number;
}

/** One escalation per incident opening (or re-opening): where it is, so a restart resumes it. */
export interface OncallEscalationsTable {
  id: Generated<number>;
  incident_id: number;
  policy: string;
  /** active, stopped (acknowledged, resolved, …), done (every step of every round ran) */
  state: string;
  /** the next step to run (0-based) and the round it belongs to (0-based) */
  step: number;
  round: number;
  /** when the current round started; step i is due at round_start + after_i */
  round_start: number;
  next_at: number | null;
  stop_reason: string | null;
  started_at: number;
  updated_at: number;
}

/** Pages sent, one per person per step; each carries an ack and a resolve link (oncall_links). */
export interface OncallPagesTable {
  id: Generated<number>;
  escalation_id: number;
  incident_id: number;
  person: string;
  step: number;
  round: number;
  /** `schedule:primary` or `person:lead`: why this person was paged */
  via: string;
  /** JSON string[]: channels the page was queued to */
  channels: string;
  sent_at: number;
}

/** Single-use links: a nonce per link, bound to incident, person and action; used_at marks it spent. */
export interface OncallLinksTable {
  nonce: string;
  page_id: number;
  incident_id: number;
  person: string;
  /** ack or resolve */
  action: string;
  expires_at: number;
  used_at: number | null;
}

/** Calendar subscription feeds (iCal by URL): the secret nonce is in the signed token, `id` is public. */
export interface OncallFeedsTable {
  id: string;
  nonce: string;
  /** schedule or person */
  kind: string;
  target: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
}

export interface OncallTables {
  oncall_keys: OncallKeysTable;
  oncall_feeds: OncallFeedsTable;
  oncall_escalations: OncallEscalationsTable;
  oncall_pages: OncallPagesTable;
  oncall_links: OncallLinksTable;
}

export function oncallMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0600_oncall': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('oncall_keys')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('oncall_escalations')
          .addColumn('id', id, idCol)
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('policy', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('step', 'integer', (c) => c.notNull())
          .addColumn('round', 'integer', (c) => c.notNull())
          .addColumn('round_start', 'bigint', (c) => c.notNull())
          .addColumn('next_at', 'bigint')
          .addColumn('stop_reason', 'text')
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('oncall_escalations_due').on('oncall_escalations').columns(['state', 'next_at']).execute();
        await db.schema.createIndex('oncall_escalations_incident').on('oncall_escalations').columns(['incident_id', 'id']).execute();
        await db.schema
          .createTable('oncall_pages')
          .addColumn('id', id, idCol)
          .addColumn('escalation_id', 'bigint', (c) => c.notNull())
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('person', 'text', (c) => c.notNull())
          .addColumn('step', 'integer', (c) => c.notNull())
          .addColumn('round', 'integer', (c) => c.notNull())
          .addColumn('via', 'text', (c) => c.notNull())
          .addColumn('channels', 'text', (c) => c.notNull())
          .addColumn('sent_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('oncall_pages_incident').on('oncall_pages').columns(['incident_id', 'id']).execute();
        await db.schema
          .createTable('oncall_links')
          .addColumn('nonce', 'text', (c) => c.primaryKey())
          .addColumn('page_id', 'bigint', (c) => c.notNull())
          .addColumn('incident_id', 'bigint', (c) => c.notNull())
          .addColumn('person', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
      },
    },
    '0601_oncall_feeds': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('oncall_feeds')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('nonce', 'text', (c) => c.notNull().unique())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .addColumn('revoked_by', 'text')
          .execute();
        await db.schema.createIndex('oncall_feeds_target').on('oncall_feeds').columns(['kind', 'target', 'revoked_at']).execute();
      },
    },
  };
}
