/**
 * `services.<name>.database` in shipshape.yaml: the service's own PostgreSQL (the one its app uses,
 * not Shipshape's store) and where its SQL migrations live.
 *
 * ```yaml
 * services:
 *   web:
 *     database:
 *       url: ${DATABASE_URL}          # the direct URL, not a transaction pooler
 *       migrations: migrations/       # relative to this file's directory
 *       backup_before: true           # take and verify a backup before applying migrations
 *       backups: { dir: backups/ }
 * ```
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';
import { TABLE_RE } from './tracking.js';
import { poolerProblem } from './target.js';

export const databaseSchema = z
  .object({
    url: z
      .string()
      .max(4000)
      .refine((u) => u === '' || /^postgres(ql)?:\/\//i.test(u), 'expected a postgres:// or postgresql:// URL, e.g. ${DATABASE_URL}')
      .meta({ description: 'the connection URL of the service\'s PostgreSQL (e.g. ${DATABASE_URL}; empty when the variable is unset, an error only when a db command needs it); migrations need the direct URL, not a transaction pooler' }),
    migrations: z.string().min(1).max(1000).default('migrations').meta({ description: 'the directory of NNN_name.sql (or timestamped) migration files, relative to the config file (default migrations/)' }),
    table: z
      .string()
      .regex(TABLE_RE, 'expected schema.table in lower-case letters, digits and _, e.g. shipshape.schema_migrations')
      .default('shipshape.schema_migrations')
      .meta({ description: 'the tracking table in the target database (schema.table; default shipshape.schema_migrations, outside the API-exposed public schema)' }),
    lock_timeout: duration().optional().meta({ description: 'a migration statement that waits longer than this for a table lock fails and its migration rolls back (SET lock_timeout), e.g. 5s; default: wait' }),
    backup_before: z.boolean().default(false).meta({ description: 'before applying migrations, take a backup and verify it by restoring it into a scratch database; no migration runs unless it verified' }),
    backups: z
      .object({
        dir: z.string().min(1).max(1000).default('backups').meta({ description: 'where backups are kept, relative to the config file (default backups/)' }),
        encrypt: z.boolean().default(false).meta({ description: 'encrypt dumps with AES-256-GCM as they are written; the key is SHIPSHAPE_BACKUP_KEY (32 bytes, hex or base64), never in this file' }),
      })
      .strict()
      .prefault({})
      .meta({ description: 'backups of this database (shipshape db backup)' }),
  })
  .strict();

export type DatabaseConfig = z.output<typeof databaseSchema>;

export type DbRaw = CoreConfig & { services: Record<string, { description?: string; database?: DatabaseConfig }> };

/** The migrations directory of a service's database, as an absolute path. */
export function migrationsDirOf(configFile: string, d: DatabaseConfig): string {
  return resolve(dirname(resolve(configFile)), d.migrations);
}

/** The backups directory of a service's database, as an absolute path. */
export function backupsDirOf(configFile: string, d: DatabaseConfig): string {
  return resolve(dirname(resolve(configFile)), d.backups.dir);
}

/** A transaction-pooler URL is a warning at load (checks may use it); migrations refuse it. */
export function validateDb(raw: DbRaw): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  for (const [service, s] of Object.entries(raw.services)) {
    if (!s.database) continue;
    const p = poolerProblem(s.database.url);
    if (p) out.push({ path: ['services', service, 'database', 'url'], message: `${p.why}; \`shipshape db migrate\` will refuse it (use ${p.direct})`, warning: true });
  }
  return out;
}

export const dbConfig = {
  service: { database: databaseSchema.optional().meta({ description: 'the service\'s own PostgreSQL and its migrations (shipshape db …)' }) },
  validate: validateDb,
};
