/** The webhook inbox's tables: deliveries (raw body + kept headers), their forward attempts, and capped rejections. */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

export interface DeliveriesTable {
  id: Generated<number>;
  hook: string;
  /** the sender's id (Stripe event id, GitHub delivery, Svix message id): one row per (hook, key) */
  dedup_key: string | null;
  event_type: string | null;
  received_at: number;
  /** pending, delivered, failed */
  state: string;
  /** forward attempts made, all cycles */
  attempts: number;
  /** attempts made before the current cycle (a replay starts a new one with a full retry budget) */
  cycle_from: number;
  /** when the current cycle began (arrival or replay): max_age counts from here */
  cycle_at: number;
  /** who started the current cycle: null on arrival, the actor of a replay */
  cycle_by: string | null;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  content_type: string;
  /** JSON object: the kept request headers (signature headers and the hook's `headers`) */
  headers: string;
  body: Buffer;
  body_size: number;
}

export interface AttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status: number | null;
  error: string | null;
  /** the first 1 KB of the app's answer */
  response: string | null;
  /** auto, or the actor of a replay */
  trigger: string;
}

export interface RejectionsTable {
  id: Generated<number>;
  hook: string;
  at: number;
  code: string;
  reason: string;
  remote: string;
  body_size: number;
}

export interface WebhooksTables {
  webhook_deliveries: DeliveriesTable;
  webhook_attempts: AttemptsTable;
  webhook_rejections: RejectionsTable;
}

export function webhooksMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol, blob } = columnTypes(dialect);
  return {
    '1100_webhooks': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('id', id, idCol)
          .addColumn('hook', 'text', (c) => c.notNull())
          .addColumn('dedup_key', 'text')
          .addColumn('event_type', 'text')
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('cycle_from', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('cycle_at', 'bigint', (c) => c.notNull())
          .addColumn('cycle_by', 'text')
          .addColumn('next_attempt_at', 'bigint')
          .addColumn('last_status', 'integer')
          .addColumn('last_error', 'text')
          .addColumn('delivered_at', 'bigint')
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('body', blob, (c) => c.notNull())
          .addColumn('body_size', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhook_deliveries_dedup').on('webhook_deliveries').columns(['hook', 'dedup_key']).unique().execute();
        await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();
        await db.schema.createIndex('webhook_deliveries_received').on('webhook_deliveries').columns(['received_at']).execute();
        await db.schema
          .createTable('webhook_attempts')
          .addColumn('id', id, idCol)
          .addColumn('delivery_id', 'bigint', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('duration_ms', 'integer', (c) => c.notNull())
          .addColumn('status', 'integer')
          .addColumn('error', 'text')
          .addColumn('response', 'text')
          .addColumn('trigger', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhook_attempts_delivery').on('webhook_attempts').columns(['delivery_id', 'attempt']).execute();
        await db.schema
          .createTable('webhook_rejections')
          .addColumn('id', id, idCol)
          .addColumn('hook', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('remote', 'text', (c) => c.notNull())
          .addColumn('body_size', 'integer', (c) => c.notNull())
          .execute();
      },
    },
  };
}
