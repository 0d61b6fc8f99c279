/** The checks module's tables (see migrations.ts). Only this module reads or writes them. */
import type { Generated } from 'kysely';

export interface ChecksTable {
  id: Generated<number>;
  key: string;
  service: string;
  created_at: number;
}
export interface CheckStateTable {
  check_id: number;
  state: string;
  since: number;
  consecutive_ok: number;
  consecutive_fail: number;
  last_at: number | null;
  last_ok: number | null;
  last_latency: number | null;
  last_message: string | null;
  last_conditions: string | null;
  last_values: string | null;
}
export interface ServiceStateTable {
  service: string;
  state: string;
  since: number;
}
export interface StateChangesTable {
  id: Generated<number>;
  at: number;
  service: string;
  check_key: string | null;
  from_state: string;
  to_state: string;
  reason: string;
}
export interface CheckFailuresTable {
  id: Generated<number>;
  check_id: number;
  at: number;
  latency: number;
  message: string;
  conditions: string;
}
export interface AggTable {
  check_id: number;
  t: number;
  count: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}
export interface OpenBucketsTable {
  check_id: number;
  resolution: string;
  t: number;
  count: number;
  failures: number;
  max: number | null;
  sketch: Uint8Array | null;
}
export interface HeartbeatsTable {
  token: string;
  last_ping: number | null;
  since: number;
  /** the random secret in the ping URL (0003_heartbeat_secrets); null until the check first loads */
  secret: string | null;
}
export interface ChecksTables {
  checks: ChecksTable;
  check_state: CheckStateTable;
  service_state: ServiceStateTable;
  state_changes: StateChangesTable;
  check_failures: CheckFailuresTable;
  agg_minute: AggTable;
  agg_hour: AggTable;
  agg_day: AggTable;
  open_buckets: OpenBucketsTable;
  heartbeats: HeartbeatsTable;
}
