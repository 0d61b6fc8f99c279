/**
 * The db module's API shapes (types only, no node or pg imports), shared by the server
 * (service.ts, top.ts, routes.ts) and the dashboard (web/src/db/types.ts).
 */

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

export interface PendingInfo {
  version: number;
  label: string;
  name: string;
  filename: string;
  /** lower than a migration already applied: needs `outOfOrder` (--out-of-order) */
  out_of_order: boolean;
  /** a run stopped part-way outside a transaction: the next migrate resumes it */
  partial?: { statements_applied: number; statements_total: number; failing_statement: string | null; error: string | null };
}

export interface DriftInfo {
  version: number;
  label: string;
  filename: string;
  kind: 'checksum' | 'missing_file';
  detail: string;
}

export interface StatusReport {
  database: string;
  table: string;
  dir: string;
  applied: AppliedInfo[];
  pending: PendingInfo[];
  drift: DriftInfo[];
  /** numbers missing in a numbered sequence (009) */
  gaps: string[];
  /** .sql files without a version number (ignored) */
  ignored: string[];
  /** shipshape.sum against the directory */
  sum: 'ok' | 'missing' | 'mismatch';
  /** files whose sum line differs */
  sum_differences: string[];
}

export interface ConnectionUsage {
  /** client backends on the whole server */
  used: number;
  max: number;
  /** superuser_reserved_connections */
  reserved: number;
}

export interface RunningQuery {
  pid: number;
  user: string | null;
  application: string;
  /** the database the backend is connected to */
  database: string | null;
  client: string | null;
  state: string;
  /** `Lock:relation`, `IO:DataFileRead`, … or null when it is not waiting */
  wait: string | null;
  /** how long the query has run (active), or how long the session has been in its state (idle in transaction) */
  duration_ms: number;
  /** the age of its open transaction, or null outside one */
  xact_ms: number | null;
  /** the query text on one line, truncated */
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
  /** share of all statements' time, in % */
  percent: number;
}

export interface StatementsReport {
  /** pg_stat_statements was read */
  available: boolean;
  order: 'total' | 'mean';
  statements: SlowStatement[];
  /** why there is nothing to show, and the fix */
  note?: string;
}

export interface ConnectionsReport extends ConnectionUsage {
  /** used as a share of max_connections, 0–100 */
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
  /** estimated live rows (pg_stat_user_tables.n_live_tup) */
  rows: number;
  dead_rows: number;
  last_vacuum: string | null;
  last_analyze: string | null;
  /** seconds since the last vacuum or autovacuum; null when never */
  vacuum_age_s: number | null;
  /** seconds since the last analyze or autoanalyze; null when never */
  analyze_age_s: number | null;
  /** age(relfrozenxid): transactions until wraparound protection matters (autovacuum_freeze_max_age) */
  xid_age: number;
}

export interface IndexStat {
  schema: string;
  table: string;
  name: string;
  bytes: number;
  /** index scans since the statistics were reset */
  scans: number;
}

export interface TopReport {
  database: string;
  server_version: string;
  at: string;
  statements: StatementsReport;
  running: RunningQuery[];
  connections: ConnectionsReport;
  /** shared-buffer hit ratios (0–1) of this database, its tables and its indexes; null before any block was read */
  cache: { hit_ratio: number | null; table_hit_ratio: number | null; index_hit_ratio: number | null };
  tables: TableStat[];
  indexes: IndexStat[];
}

/** One backup as `GET /api/v1/db/<service>/backups` lists it (the manifest without its table figures and server path). */
export interface BackupListItem {
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
  items: BackupListItem[];
}

// ---- db audit -------------------------------------------------------------------------------------

export const AUDIT_LEVELS = ['info', 'warn', 'error'] as const;
export type AuditLevel = (typeof AUDIT_LEVELS)[number];

export interface AuditFinding {
  rule: string;
  level: AuditLevel;
  /** schema.table, schema.function(args), an index or a backend pid */
  object: string;
  message: string;
  /** what to run or change */
  remediation: string;
}

export interface AuditReport {
  findings: AuditFinding[];
  /** what was looked at */
  checked: { tables: number; functions: number; indexes: number; pg_stat_statements: boolean; server_version: string; /** the API roles whose privileges were read (PUBLIC when none of them exists) */ roles?: string[]; views?: number; policies?: number };
  counts: Record<AuditLevel, number>;
  /** findings accepted by a suppression (config or --suppress file): not in `findings` nor in `counts` */
  suppressed?: AuditSuppressedFinding[];
  /** suppressions that matched no finding in this run (stale ones to remove) */
  unused_suppressions?: AuditSuppression[];
}

/** An accepted finding: `rule` everywhere, or on the objects `object` matches (`*`: any run of characters). */
export interface AuditSuppression {
  rule: string;
  object?: string;
  reason: string;
  /** where it was written: `services.web.database.audit.suppress[0]`, or `<file>[0]` for a --suppress file */
  source?: string;
}

export type AuditSuppressedFinding = AuditFinding & { reason: string };
