/**
 * The env store's tables. `env_values` keeps every version of every value, encrypted (envelope:
 * see crypto.ts), and never changes a row; `env_vars` points at the current version of each
 * variable with what may be shown without the key (a 4-character hint and the length), who set it
 * and when it was last rotated; `env_snapshots` records the exact (name, version) set a release
 * was made with; `env_keys` the id of the master key the store is encrypted with; `env_pushes` the
 * version of each variable `env push` last sent to a hosted platform (Vercel does not show values).
 */
import type { Migration } from 'kysely';
import type { Dialect } from '../core/store/db.js';
import type { AnyDB } from '../core/store/migrations.js';

export interface EnvValuesTable {
  service: string;
  env: string;
  name: string;
  version: number;
  /** the value sealed with its data key (`v1.<base64url>`) */
  ciphertext: string;
  /** the data key sealed with the master key */
  data_key: string;
  /** the master key's id (SHA-256 prefix) */
  key_id: string;
  created_at: number;
  created_by: string;
}

export interface EnvVarsTable {
  service: string;
  env: string;
  name: string;
  /** the current version (a row of env_values) */
  version: number;
  /** the first 4 characters of a value of 16 or more, else '' */
  hint: string;
  length: number;
  updated_at: number;
  updated_by: string;
  /** when the value last changed (or was marked rotated) */
  rotated_at: number;
  rotated_by: string;
  /** the rotated_at for which env.rotation_overdue was written (once per overdue period) */
  overdue_notified_for: number | null;
}

export interface EnvSnapshotsTable {
  /** sha256 of service, env and the sorted (name, version) set: the same set gives the same id */
  id: string;
  service: string;
  env: string;
  /** JSON [name, version][] sorted by name */
  vars: string;
  created_at: number;
}

export interface EnvKeysTable {
  key_id: string;
  created_at: number;
}

/** What `env push` last pushed to a platform: per (service, env, platform, name) the store version it sent. */
export interface EnvPushesTable {
  service: string;
  env: string;
  platform: string;
  name: string;
  version: number;
  pushed_at: number;
  pushed_by: string;
}

export interface EnvTables {
  env_values: EnvValuesTable;
  env_vars: EnvVarsTable;
  env_snapshots: EnvSnapshotsTable;
  env_keys: EnvKeysTable;
  env_pushes: EnvPushesTable;
}

export function envMigrations(_dialect: Dialect): Record<string, Migration> {
  return {
    '1100_env_store': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('env_values')
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('ciphertext', 'text', (c) => c.notNull())
          .addColumn('data_key', 'text', (c) => c.notNull())
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('env_values_pk', ['service', 'env', 'name', 'version'])
          .execute();
        await db.schema
          .createTable('env_vars')
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('hint', 'text', (c) => c.notNull())
          .addColumn('length', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .addColumn('rotated_at', 'bigint', (c) => c.notNull())
          .addColumn('rotated_by', 'text', (c) => c.notNull())
          .addColumn('overdue_notified_for', 'bigint')
          .addPrimaryKeyConstraint('env_vars_pk', ['service', 'env', 'name'])
          .execute();
        await db.schema
          .createTable('env_snapshots')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('vars', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('env_keys')
          .addColumn('key_id', 'text', (c) => c.primaryKey())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '1101_env_pushes': {
      async up(db: AnyDB) {
        await db.schema
          .createTable('env_pushes')
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .addColumn('platform', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('pushed_at', 'bigint', (c) => c.notNull())
          .addColumn('pushed_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('env_pushes_pk', ['service', 'env', 'platform', 'name'])
          .execute();
      },
    },
  };
}
