/** `services.<name>.database` in shipshape.yaml, and transaction-pooler URLs recognised. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { poolerProblem } from '../../src/db/index.js';
import { parseConfig } from '../../src/modules.js';

const YAML = `services:
  web:
    database:
      url: \${DATABASE_URL}
      migrations: db/migrations
`;

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, '/srv/app/shipshape.yaml', { env });
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('database: in shipshape.yaml', () => {
  it('takes the URL from the environment, with defaults for the table', () => {
    const cfg = parseConfig(YAML, '/srv/app/shipshape.yaml', { env: { DATABASE_URL: 'postgres://app:pw@db.internal:5432/app' } });
    expect(cfg.raw.services.web?.database).toEqual({ url: 'postgres://app:pw@db.internal:5432/app', migrations: 'db/migrations', table: 'shipshape.schema_migrations', backup_before: false, backups: { dir: 'backups', encrypt: false, timezone: 'UTC', verify: false } });
    const b = parseConfig(`services:\n  web:\n    database:\n      url: postgres://a@b/c\n      backup_before: true\n      lock_timeout: 5s\n      backups: { dir: /var/backups/web }\n`, '/srv/app/shipshape.yaml', { env: {} });
    expect(b.raw.services.web?.database).toMatchObject({ backup_before: true, lock_timeout: 5000, backups: { dir: '/var/backups/web' } });
    // an unset variable is not an error until a db command needs it
    expect(parseConfig(YAML, '/srv/app/shipshape.yaml', { env: {} }).raw.services.web?.database?.url).toBe('');
  });

  it('names the file, line and key of a bad value', () => {
    expect(errorOf(YAML, { DATABASE_URL: 'mysql://x@y/z' })).toMatch(/shipshape\.yaml:4:\d+: services\.web\.database\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(errorOf(`services:\n  web:\n    database:\n      url: postgres://a@b/c\n      table: Public.Migrations\n`)).toMatch(/:5:\d+: services\.web\.database\.table: expected schema\.table/);
    expect(errorOf(`services:\n  web:\n    database:\n      url: postgres://a@b/c\n      migration: x\n`)).toMatch(/:5:\d+: .*migration/);
  });

  it('warns about a transaction-pooler URL at load (db commands refuse it)', () => {
    const cfg = parseConfig(YAML, '/srv/app/shipshape.yaml', { env: { DATABASE_URL: 'postgres://postgres.abcdefghijklmnop:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres' } });
    expect(cfg.warnings.join('\n')).toMatch(/services\.web\.database\.url.*Supabase's transaction pooler.*shipshape db migrate` will refuse it \(use postgres:\/\/postgres:\*\*\*@db\.abcdefghijklmnop\.supabase\.co:5432\/postgres/);
    expect(cfg.warnings.join('\n')).not.toContain(':pw@');
  });
});

describe('transaction poolers', () => {
  it('recognises Supabase, Neon and pgbouncer=true, and leaves direct URLs alone', () => {
    expect(poolerProblem('postgres://postgres.abcdefghijklmnop:pw@aws-0-us-east-1.pooler.supabase.com:6543/postgres')?.direct).toMatch(/^postgres:\/\/postgres:\*\*\*@db\.abcdefghijklmnop\.supabase\.co:5432\/postgres/);
    expect(poolerProblem('postgres://postgres:pw@db.abcdefghijklmnop.supabase.co:6543/postgres')?.direct).toBe('postgres://postgres:***@db.abcdefghijklmnop.supabase.co:5432/postgres');
    expect(poolerProblem('postgres://u:pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require')?.direct).toBe('postgres://u:***@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb');
    expect(poolerProblem('postgres://u:pw@bouncer:6432/app?pgbouncer=true')?.why).toMatch(/pgbouncer=true/);
    expect(poolerProblem('postgres://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres')).toBeUndefined();
    expect(poolerProblem('postgres://postgres.abcdefghijklmnop:pw@aws-0-us-east-1.pooler.supabase.com:5432/postgres')).toBeUndefined(); // the session pooler keeps the session
    expect(poolerProblem('postgres://u:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb')).toBeUndefined();
    expect(poolerProblem('postgres://postgres@127.0.0.1:5432/app')).toBeUndefined();
  });
});
