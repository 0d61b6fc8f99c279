/** Helpers for the db tests: a migrations directory on disk and a real PostgreSQL database reset between tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { NewEvent } from '../../src/core/events.js';
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
