/** The notify domain's tables. Names continue the global order (see src/store/migrations.ts). */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';


export interface NotifySilencesTable {
  id: string;
  /** JSON Matcher[] */
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  created_at: number;
  updated_at: number;
}
export interface NotifyActiveTable {
  fingerprint: string;
  /** JSON AlertInstance */
  alert: string;
  updated_at: number;
}
export interface NotifyGroupsTable {
  key: string;
  route: string;
  /** JSON group labels */
  labels: string;
  /**
   * JSON fingerprint -> AlertInstance: its resolved alerts not told yet (firing members are routed
   * into it again from notify_active at load; stores before 0.6 list those here too)
   */
  alerts: string;
  created_at: number;
  next_flush_at: number;
  flushed: number;
  /** JSON channel -> { firing: fp[], resolved: fp[], at } (what each channel was last told) */
  notified: string;
}
export interface NotifyQueueTable {
  id: Generated<number>;
  channel: string;
  kind: string;
  group_key: string;
  /** JSON Notification (never secrets: the channel's URL and keys come from the config at send time) */
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
}

/** The notify module's tables; its store handle is typed with these only. */
export interface NotifyTables {
  notify_silences: NotifySilencesTable;
  notify_active: NotifyActiveTable;
  notify_groups: NotifyGroupsTable;
  notify_queue: NotifyQueueTable;
}

export function notifyMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0400_notify': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('notify_silences')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('matchers', 'text', (c) => c.notNull())
          .addColumn('starts_at', 'bigint', (c) => c.notNull())
          .addColumn('ends_at', 'bigint', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('comment', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('notify_silences_ends_at').on('notify_silences').column('ends_at').execute();
        await db.schema
          .createTable('notify_active')
          .addColumn('fingerprint', 'text', (c) => c.primaryKey())
          .addColumn('alert', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('notify_groups')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('route', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('alerts', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('next_flush_at', 'bigint', (c) => c.notNull())
          .addColumn('flushed', 'integer', (c) => c.notNull())
          .addColumn('notified', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('notify_queue')
          .addColumn('id', id, idCol)
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('group_key', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('sent_at', 'bigint')
          .execute();
        await db.schema.createIndex('notify_queue_status_next').on('notify_queue').columns(['status', 'next_attempt_at']).execute();
        await db.schema.createIndex('notify_queue_channel').on('notify_queue').columns(['channel', 'id']).execute();
      },
    },
    // a new notification supersedes the pending ones of its group and channel: found by index,
    // not by a walk over the channel's whole history
    '0401_notify_queue_group': {
      async up(db: AnyDB) {
        await db.schema.createIndex('notify_queue_group').on('notify_queue').columns(['group_key', 'channel', 'status']).execute();
      },
    },
  };
}
