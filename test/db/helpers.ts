/** Helpers for the db tests: a migrations directory on disk and a real PostgreSQL database reset between tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ConfigError } from '../../src/core/config/load.js';
import type { NewEvent } from '../../src/core/events.js';
import { parseConfig } from '../../src/modules.js';
import { createTestDatabase } from '../helpers/pg.js';

export class MigrationsDir {
  readonly dir: string;
  constructor(files: Record<string, string> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'shipshape-mig-'));
    this.write(files);
  }
  write(files: Record<string, string>): void {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, name), text);
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The guides' list: 001 … 013 with 009 missing, each creating one table (and dropping it on the way down). */
export const GUIDE_NAMES = [
  '001_create_user_profiles',
  '002_create_posts',
  '003_add_post_indexes',
  '004_create_comments',
  '005_add_rls_policies',
  '006_create_audit_log',
  '007_add_profile_avatar',
  '008_create_notifications',
  '010_create_subscriptions',
  '011_add_search_vector',
  '012_create_api_keys',
  '013_add_billing_and_orgs',
];

export function guideFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of GUIDE_NAMES) {
    const t = n.replace(/^\d+_(create_|add_)?/, 't_');
    out[`${n}.sql`] = `-- ${n}\n-- migrate:up\nCREATE TABLE ${t} (id bigint PRIMARY KEY, note text DEFAULT 'a;b');\n\n-- migrate:down\nDROP TABLE ${t};\n`;
  }
  return out;
}

/** One fresh database for a test file; `reset` empties it between tests. */
export async function testDatabase(): Promise<{ url: string; query: <R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>; reset: () => Promise<void>; drop: () => Promise<void> }> {
  const d = await createTestDatabase('shipshape_db');
  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    const c = new pg.Client({ connectionString: d.url });
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  return {
    url: d.url,
    query,
    reset: async () => {
      await query('drop schema if exists shipshape cascade; drop schema public cascade; create schema public; drop type if exists mood');
    },
    drop: d.drop,
  };
}

export async function tablesOf(query: (sql: string) => Promise<{ t: string }[]>): Promise<string[]> {
  return (await query(`select table_name as t from information_schema.tables where table_schema = 'public' order by 1`)).map((r) => r.t);
}

export function sink(): { events: NewEvent[]; append: (e: NewEvent) => Promise<void> } {
  const events: NewEvent[] = [];
  return { events, append: async (e) => void events.push(e) };
}

/** backup.test.ts's data: a table with a primary key and non-ASCII text, one without, one in another schema with a foreign key. */
export const FILL_SQL = `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, created timestamptz DEFAULT '2026-01-01T00:00:00Z');
INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 2500) g;
INSERT INTO users VALUES (9999, 'zoë☕@example.com');
CREATE TABLE events_nopk (kind text, n int);
INSERT INTO events_nopk SELECT 'k' || (g % 7), g FROM generate_series(1, 300) g;
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id serial PRIMARY KEY, user_id bigint REFERENCES users (id), cents int);
INSERT INTO billing.invoices (user_id, cents) SELECT g, g * 100 FROM generate_series(1, 50) g;`;

/** The message of the ConfigError that parsing `text` as `file` raises (throws when it parses). */
export function configErrorOf(text: string, file: string): string {
  try {
    parseConfig(text, file, { env: {} });
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
}
