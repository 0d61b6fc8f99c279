/**
 * The tracking table in the target database (default `shipshape.schema_migrations`, outside the
 * API-exposed `public` schema): one row per migration that ran, with its checksum, who ran it,
 * when, how long it took and how many of its statements were applied; a migration that stopped
 * part-way outside a transaction stays `partial` with the failing statement and the error, so the
 * next run resumes it.
 */
import type pg from 'pg';

export const TABLE_RE = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;

export type RowState = 'applied' | 'partial' | 'baseline';

export interface TrackedRow {
  version: number;
  name: string;
  filename: string;
  checksum: string;
  state: RowState;
  applied_by: string;
  applied_at: string;
  duration_ms: number;
  statements_applied: number;
  statements_total: number;
  /** sha256 over the statements applied so far: a resumed run checks they did not change */
  progress_checksum: string | null;
  failing_statement: string | null;
  error: string | null;
  out_of_order: boolean;
  tool_version: string | null;
}

/** `schema.table` quoted for SQL (the name was checked against TABLE_RE). */
export function qualified(table: string): { schema: string; name: string; sql: string } {
  if (!TABLE_RE.test(table)) throw new Error(`bad tracking table name ${table}`);
  const [schema = '', name = ''] = table.split('.');
  return { schema, name, sql: `"${schema}"."${name}"` };
}

export async function trackingExists(c: pg.Client, table: string): Promise<boolean> {
  const r = await c.query<{ t: string | null }>('select to_regclass($1) as t', [qualified(table).sql]);
  return r.rows[0]?.t != null;
}

export async function ensureTracking(c: pg.Client, table: string): Promise<void> {
  const t = qualified(table);
  if (await trackingExists(c, table)) return;
  await c.query(`create schema if not exists "${t.schema}"`);
  await c.query(`create table if not exists ${t.sql} (
  version bigint primary key,
  name text not null,
  filename text not null,
  checksum text not null,
  state text not null check (state in ('applied', 'partial', 'baseline')),
  applied_by text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer not null default 0,
  statements_applied integer not null,
  statements_total integer not null,
  progress_checksum text,
  failing_statement text,
  error text,
  out_of_order boolean not null default false,
  tool_version text
)`);
  await c.query(`comment on table ${t.sql} is 'migrations applied by shipshape db migrate (do not edit by hand: use shipshape db repair)'`);
}

export async function readRows(c: pg.Client, table: string): Promise<TrackedRow[]> {
  if (!(await trackingExists(c, table))) return [];
  const r = await c.query<TrackedRow & { version: string; applied_at: Date }>(`select * from ${qualified(table).sql} order by version`);
  return r.rows.map((row) => ({ ...row, version: Number(row.version), applied_at: new Date(row.applied_at).toISOString() }));
}

export interface RowWrite {
  version: number;
  name: string;
  filename: string;
  checksum: string;
  state: RowState;
  applied_by: string;
  duration_ms: number;
  statements_applied: number;
  statements_total: number;
  progress_checksum: string | null;
  failing_statement: string | null;
  error: string | null;
  out_of_order: boolean;
  tool_version: string;
}

export async function upsertRow(c: pg.Client, table: string, w: RowWrite): Promise<void> {
  const cols = ['version', 'name', 'filename', 'checksum', 'state', 'applied_by', 'duration_ms', 'statements_applied', 'statements_total', 'progress_checksum', 'failing_statement', 'error', 'out_of_order', 'tool_version'] as const;
  const values = cols.map((k) => w[k]);
  const sets = cols
    .slice(1)
    .map((k) => `${k} = excluded.${k}`)
    .join(', ');
  await c.query(`insert into ${qualified(table).sql} (${cols.join(', ')}, applied_at) values (${cols.map((_, i) => `$${i + 1}`).join(', ')}, now()) on conflict (version) do update set ${sets}, applied_at = now()`, values);
}

export async function deleteRow(c: pg.Client, table: string, version: number): Promise<void> {
  await c.query(`delete from ${qualified(table).sql} where version = $1`, [version]);
}
