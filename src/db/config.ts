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
 *       backups:
 *         dir: backups/
 *         schedule: "0 3 * * *"       # cron, 5 fields, read in timezone (default UTC)
 *         timezone: Europe/Berlin
 *         verify: true                # restore each scheduled backup into a scratch database
 *         keep: { daily: 7, weekly: 4, monthly: 12 }   # grandfather-father-son
 *       audit:                        # shipshape db audit (docs/db.md#audit-shipshape-db-audit)
 *         schemas: [public]           # exposed by the API: RLS required there
 *         roles: [anon, authenticated]
 *         fail_on: warn
 *         schedule: "0 6 * * *"       # while `shipshape up` runs, read in backups.timezone
 *         suppress:
 *           - { rule: rls_disabled, object: public.legacy_import, reason: "read by the nightly job only" }
 * ```
 *
 * `dir` may be an S3-compatible location, `s3://bucket/prefix`, with `s3: { endpoint, region,
 * path_style }` (credentials only from the environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * or AWS_PROFILE).
 */
import { dirname, resolve } from 'node:path';
import { Cron } from 'croner';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';
import { AUDIT_LEVELS } from './api-types.js';
import { TABLE_RE } from './tracking.js';
import { isS3, parseS3, type S3Settings } from './s3.js';
import { poolerProblem } from './target.js';

/** A problem with a 5-field cron expression, or undefined when croner reads it. */
export function cronProblem(expr: string, timezone = 'UTC'): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (!expr.trim().startsWith('@') && fields.length !== 5) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), like "0 3 * * *", got ${fields.length} in "${expr}"${fields.length === 6 ? ' (seconds are not supported)' : ''}`;
  }
  try {
    new Cron(expr, { paused: true, mode: '5-part', timezone }).nextRun();
    return undefined;
  } catch (e) {
    return `"${expr}" is not a cron expression: ${(e as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

const cronSchema = z
  .string()
  .max(200)
  .superRefine((v, ctx) => {
    const p = cronProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });

const count = (what: string) => z.number().int().min(0).max(10_000).default(0).meta({ description: `keep the newest backup of each of the ${what} (0: none by this rule)` });

const keepSchema = z
  .object({
    last: z.number().int().min(0).max(10_000).default(0).meta({ description: 'keep the newest N backups whatever their age' }),
    daily: count('N most recent days that have a backup'),
    weekly: count('N most recent ISO weeks (Monday to Sunday) that have a backup'),
    monthly: count('N most recent calendar months that have a backup'),
    yearly: count('N most recent years that have a backup'),
  })
  .strict()
  .refine((k) => k.last + k.daily + k.weekly + k.monthly + k.yearly > 0, 'keep at least one backup: give last, daily, weekly, monthly or yearly a number above 0 (or leave keep: out to keep everything)');

export type KeepPolicy = z.output<typeof keepSchema>;

/** A schema name as `db audit --schemas` and `audit.schemas` take it (an unquoted identifier). */
export const SCHEMA_NAME_RE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
/** A role name as `db audit --roles` and `audit.roles` take it (Supabase's are anon, authenticated, service_role). */
export const ROLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

/** One accepted finding: `rule` everywhere, or only on objects matching `object` (`*` matches any run of characters). */
export const suppressionSchema = z
  .object({
    rule: z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'expected an audit rule name like rls_disabled').meta({ description: 'the rule whose findings are accepted, e.g. rls_disabled (shipshape db audit prints each finding\'s rule)' }),
    object: z.string().min(1).max(1000).optional().meta({ description: 'the object as the audit names it, e.g. public.legacy_import, public."Grant Admin"(uid bigint) or server; * matches any run of characters (public.tmp_*); absent: the rule everywhere' }),
    reason: z
      .string()
      .max(500)
      .refine((r) => r.trim() !== '', 'a suppression needs a reason: say why this finding is accepted (at most 500 characters)')
      .meta({ description: 'why the finding is accepted (required, at most 500 characters); shown with each suppressed finding' }),
  })
  .strict();

export type SuppressionConfig = z.output<typeof suppressionSchema>;

export const auditSchema = z
  .object({
    schemas: z
      .array(z.string().regex(SCHEMA_NAME_RE, 'expected a schema name like public or api'))
      .min(1)
      .max(100)
      .default(['public'])
      .meta({ description: 'the schemas an API exposes (PostgREST / Supabase\'s public): row level security is required on their tables (default [public]); --schemas overrides it' }),
    roles: z
      .array(z.string().regex(ROLE_NAME_RE, 'expected a role name like anon or authenticated'))
      .min(1)
      .max(100)
      .default(['anon', 'authenticated'])
      .meta({ description: 'the roles API clients act as, whose privileges the audit considers (default [anon, authenticated], Supabase\'s); --roles overrides it' }),
    fail_on: z.enum(AUDIT_LEVELS).default('warn').meta({ description: '`shipshape db audit --service` exits 1 when a finding that is not suppressed is at this level or worse: info, warn (default) or error; --fail-on overrides it' }),
    schedule: cronSchema.optional().meta({ description: 'run the audit on this cron schedule while `shipshape up` runs (5 fields, read in backups.timezone), e.g. "0 6 * * *"; each run writes db.audit_completed, and db.audit_regressed when a finding at fail_on or worse is new' }),
    suppress: z.array(suppressionSchema).max(1000).default([]).meta({ description: 'accepted findings, each with its reason: they are listed as suppressed and do not count for fail_on; one that matched nothing in a run is reported as unused' }),
  })
  .strict();

export type AuditConfig = z.output<typeof auditSchema>;

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
        dir: z
          .string()
          .min(1)
          .max(1000)
          .superRefine((v, c) => {
            if (!isS3(v)) return;
            try {
              parseS3(v);
            } catch (e) {
              c.addIssue({ code: 'custom', message: (e as Error).message });
            }
          })
          .default('backups')
          .meta({ description: 'where backups are kept: a directory relative to the config file (default backups/), or S3-compatible storage as s3://bucket/prefix' }),
        s3: z
          .object({
            endpoint: z.string().url().regex(/^https?:\/\//i, 'expected an http:// or https:// URL').max(1000).optional().meta({ description: 'the storage\'s endpoint for S3-compatible services (R2, MinIO, B2, Ceph…), e.g. https://<account>.r2.cloudflarestorage.com; default: AWS S3, or AWS_ENDPOINT_URL_S3' }),
            region: z.string().min(1).max(64).optional().meta({ description: 'the region (default AWS_REGION, else us-east-1; R2 takes auto)' }),
            path_style: z.boolean().optional().meta({ description: 'address the bucket in the path rather than the host name; default true when an endpoint is set' }),
          })
          .strict()
          .optional()
          .meta({ description: 'how to reach an s3:// backups dir; credentials come only from the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), never this file' }),
        encrypt: z.boolean().default(false).meta({ description: 'encrypt dumps with AES-256-GCM as they are written; the key is SHIPSHAPE_BACKUP_KEY (32 bytes, hex or base64), never in this file' }),
        schedule: cronSchema.optional().meta({ description: 'take a backup on this cron schedule while `shipshape up` runs: 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *" for 03:00 every day, read in `timezone`' }),
        timezone: z
          .string()
          .refine((v) => IANAZone.isValidZone(v), 'expected an IANA time zone like UTC, Europe/Berlin or America/New_York')
          .default('UTC')
          .meta({ description: 'the IANA time zone the schedules (backups, verification and audit.schedule) are read in and retention counts days, ISO weeks and months in (default UTC)' }),
        verify: z
          .union([z.boolean(), cronSchema])
          .default(false)
          .meta({ description: 'true: verify each scheduled backup right after taking it (restore into a scratch database and compare with the manifest); a cron expression: verify the newest unverified backup on that schedule; false (default): no scheduled verification' }),
        keep: keepSchema.optional().meta({ description: 'grandfather-father-son retention applied after each scheduled backup and by `shipshape db prune`; without it nothing is ever deleted' }),
      })
      .strict()
      .prefault({})
      .meta({ description: 'backups of this database (shipshape db backup), and their schedule and retention' }),
    audit: auditSchema.optional().meta({ description: 'the audit of this database (shipshape db audit --service, GET /api/v1/db/<service>/audit, and on a schedule): exposed schemas, API roles, the exit level, suppressions with their reasons' }),
  })
  .strict();

export type DatabaseConfig = z.output<typeof databaseSchema>;

export type DbRaw = CoreConfig & { services: Record<string, { description?: string; database?: DatabaseConfig }> };

/** `absent(backup.<service>)` inside an alert rule's `when` (the alerts grammar: the target follows `absent(` directly). */
const BACKUP_TARGET = /\babsent\s*\(\s*backup\.([A-Za-z0-9][A-Za-z0-9_.:-]*)/gi;

/** The audit settings of a service's database, defaults filled in when it has no `audit:` section. */
export function auditSettingsOf(d: DatabaseConfig): AuditConfig {
  return d.audit ?? auditSchema.parse({});
}

/** The migrations directory of a service's database, as an absolute path. */
export function migrationsDirOf(configFile: string, d: DatabaseConfig): string {
  return resolve(dirname(resolve(configFile)), d.migrations);
}

/** The `backups.s3` settings of the service whose backups live at an s3:// location (none: the environment's). */
export function s3SettingsOf(config: () => { raw: DbRaw }): (location: string) => S3Settings {
  return (location) => {
    for (const svc of Object.values(config().raw.services)) {
      const d = svc.database;
      if (d && isS3(d.backups.dir) && parseS3(d.backups.dir).url === location) return d.backups.s3 ?? {};
    }
    return {};
  };
}

/** The backups directory of a service's database, as an absolute path (or its s3:// location). */
export function backupsDirOf(configFile: string, d: DatabaseConfig): string {
  if (isS3(d.backups.dir)) return parseS3(d.backups.dir).url;
  return resolve(dirname(resolve(configFile)), d.backups.dir);
}

/** A transaction-pooler URL is a warning at load (checks may use it); migrations refuse it. */
export function validateDb(raw: DbRaw): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  for (const [service, s] of Object.entries(raw.services)) {
    if (!s.database) continue;
    const p = poolerProblem(s.database.url);
    if (p) out.push({ path: ['services', service, 'database', 'url'], message: `${p.why}; \`shipshape db migrate\` will refuse it (use ${p.direct})`, warning: true });
    const b = s.database.backups;
    if (b.schedule && !s.database.url) out.push({ path: ['services', service, 'database', 'url'], message: 'backups.schedule is set but the url is empty (is the variable it names set?): every scheduled backup will fail', warning: true });
    if (s.database.audit?.schedule && !s.database.url) out.push({ path: ['services', service, 'database', 'url'], message: 'audit.schedule is set but the url is empty (is the variable it names set?): every scheduled audit will fail', warning: true });
  }
  // an alert rule reading a service's backups needs that service to have a database
  const alerts = (raw as { alerts?: unknown }).alerts;
  if (Array.isArray(alerts)) {
    alerts.forEach((rule: unknown, i) => {
      const when = (rule as { when?: unknown } | null)?.when;
      if (typeof when !== 'string') return;
      for (const m of when.matchAll(BACKUP_TARGET)) {
        const name = m[1] as string;
        const svc = raw.services[name];
        if (!svc) out.push({ path: ['alerts', i, 'when'], message: `absent(backup.${name}): there is no service "${name}" (services: ${Object.keys(raw.services).join(', ') || 'none'})` });
        else if (!svc.database) out.push({ path: ['alerts', i, 'when'], message: `absent(backup.${name}): service "${name}" has no database: section, so it has no backups to watch (add database: { url: "\${DATABASE_URL}", backups: { schedule: "0 3 * * *" } })` });
      }
    });
  }
  return out;
}

export const dbConfig = {
  service: { database: databaseSchema.optional().meta({ description: 'the service\'s own PostgreSQL and its migrations (shipshape db …)' }) },
  validate: validateDb,
};
