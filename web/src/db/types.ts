/**
 * The db API's shapes as the dashboard reads them (types only). They mirror `StatusReport` in
 * src/db/service.ts and `TopReport` in src/db/top.ts; those files import node and pg types, which
 * the web build does not have, so the shapes are repeated here: keep them in step.
 */

/** A migration recorded in the tracking table (`AppliedInfo`). */
export interface AppliedInfo {
  version: number;
  label: string;
  name: string;
  filename: string;
  state: 'applied' | 'partial' | 'baseline';
  applied_by: string;
  applied_at: string;
  duration_ms: number;
  statements_applied: number;
  statements_total: number;
  failing_statement: string | null;
  error: string | null;
}

/** A migration file not applied yet (`PendingInfo`). */
export interface PendingInfo {
  version: number;
  label: string;
  name: string;
  filename: string;
  out_of_order: boolean;
  partial?: { statements_applied: number; statements_total: number; failing_statement: string | null; error: string | null };
}

/** An applied migration whose file changed or vanished (`DriftInfo`). */
export interface DriftInfo {
  version: number;
  label: string;
  filename: string;
  kind: 'checksum' | 'missing_file';
  detail: string;
}

/** `GET /api/v1/db/<service>/migrations` (`StatusReport`); `database` is the URL with its password masked. */
export interface StatusReport {
  database: string;
  table: string;
  dir: string;
  applied: AppliedInfo[];
  pending: PendingInfo[];
  drift: DriftInfo[];
  gaps: string[];
  ignored: string[];
  sum: 'ok' | 'missing' | 'mismatch';
  sum_differences: string[];
}

export interface RunningQuery {
  pid: number;
  user: string | null;
  application: string;
  database: string | null;
  client: string | null;
  state: string;
  wait: string | null;
  duration_ms: number;
  xact_ms: number | null;
  query: string;
  query_start: string | null;
  backend_start: string | null;
}

export interface SlowStatement {
  query: string;
  calls: number;
  total_ms: number;
  mean_ms: number;
  rows: number;
  percent: number;
}

export interface StatementsReport {
  available: boolean;
  order: 'total' | 'mean';
  statements: SlowStatement[];
  note?: string;
}

export interface ConnectionsReport {
  used: number;
  max: number;
  reserved: number;
  percent: number;
  by_state: { state: string; count: number }[];
  by_application: { application: string; count: number }[];
}

export interface TableStat {
  schema: string;
  name: string;
  total_bytes: number;
  table_bytes: number;
  index_bytes: number;
  rows: number;
  dead_rows: number;
  last_vacuum: string | null;
  last_analyze: string | null;
  vacuum_age_s: number | null;
  analyze_age_s: number | null;
  xid_age: number;
}

export interface IndexStat {
  schema: string;
  table: string;
  name: string;
  bytes: number;
  scans: number;
}

/** `GET /api/v1/db/<service>/top` (`TopReport`). */
export interface TopReport {
  database: string;
  server_version: string;
  at: string;
  statements: StatementsReport;
  running: RunningQuery[];
  connections: ConnectionsReport;
  cache: { hit_ratio: number | null; table_hit_ratio: number | null; index_hit_ratio: number | null };
  tables: TableStat[];
  indexes: IndexStat[];
}

export type TopSort = 'total' | 'mean';

/** One backup as `GET /api/v1/db/<service>/backups` lists it. */
export interface BackupItem {
  id: string;
  created_at: string;
  format: 'custom' | 'directory';
  size: number;
  duration_ms: number;
  tables: number;
  encrypted: boolean;
  sha256: string;
  /** the last verify-backup (a restore into a scratch database), or null when never verified */
  verified: { at: string; ok: boolean; duration_ms: number; mismatches: string[] } | null;
}

/** `GET /api/v1/db/<service>/backups`: newest first. */
export interface BackupsReport {
  dir: string;
  total: number;
  items: BackupItem[];
}
