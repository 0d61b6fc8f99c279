/** The subscriptions module's tables: subscribers (email and webhook), deliveries, and its key and cursor. */
import type { Generated, Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import { columnTypes, type AnyDB } from '../core/store/migrations.js';

/** name → value: `link_key` (signs confirm / unsubscribe links), `cursor` (the last event fanned out). */
export interface SubscriptionMetaTable {
  name: string;
  value: string;
}

export interface SubscribersTable {
  id: Generated<number>;
  /** the status page key */
  page: string;
  kind: 'email' | 'webhook';
  /** an email address (lower-cased domain) or a webhook URL */
  address: string;
  /** JSON string[]: the services whose incidents and maintenance reach this subscriber; [] = all of the page */
  services: string;
  state: 'pending' | 'confirmed';
  /** random; links are bound to it, so links of a removed and re-added subscriber do not work */
  nonce: string;
  /** a webhook's HMAC key (hex); null for email */
  secret: string | null;
  description: string | null;
  created_by: string;
  created_at: number;
  confirmed_at: number | null;
  /** the last confirmation or "already subscribed" mail (the per-address limit) */
  last_mail_at: number | null;
}

export interface DeliveriesTable {
  id: Generated<number>;
  /** unique: `e<event id>:<subscriber id>` for notices, `c<subscriber id>:<time>` for confirmation mails */
  key: string;
  subscriber_id: number;
  /** notice | confirm | already */
  kind: string;
  event_id: number | null;
  event_type: string | null;
  /** JSON Notice (or {} for confirm / already); links are signed at send time */
  payload: string;
  /** pending | sent | failed | dropped (the subscriber left before it was sent) */
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
}

export interface SubscriptionsTables {
  subscription_meta: SubscriptionMetaTable;
  subscribers: SubscribersTable;
  subscription_deliveries: DeliveriesTable;
}

export function subscriptionsMigrations(dialect: Dialect): Record<string, Migration> {
  const { id, idCol } = columnTypes(dialect);
  return {
    '0800_subscriptions': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('subscription_meta')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('subscribers')
          .addColumn('id', id, idCol)
          .addColumn('page', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('services', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('secret', 'text')
          .addColumn('description', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('confirmed_at', 'bigint')
          .addColumn('last_mail_at', 'bigint')
          .execute();
        await db.schema.createIndex('subscribers_address').on('subscribers').columns(['page', 'kind', 'address']).unique().execute();
        await db.schema.createIndex('subscribers_state').on('subscribers').columns(['page', 'state', 'id']).execute();
        await db.schema
          .createTable('subscription_deliveries')
          .addColumn('id', id, idCol)
          .addColumn('key', 'text', (c) => c.notNull().unique())
          .addColumn('subscriber_id', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('event_id', 'bigint')
          .addColumn('event_type', 'text')
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('sent_at', 'bigint')
          .execute();
        await db.schema.createIndex('subscription_deliveries_due').on('subscription_deliveries').columns(['status', 'next_attempt_at']).execute();
      },
    },
  };
}
