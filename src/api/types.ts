/**
 * The JSON shapes of the REST API under /api/v1, shared by the server (which produces them),
 * the CLI and the dashboard (which read them). Times are ISO-8601 UTC strings.
 */
import type { CheckState, ConditionOutcome, ServiceState } from '../checks/types.js';

export type { CheckState, ConditionOutcome, ServiceState };

export interface Page<T> {
  items: T[];
  /** pass as `?cursor=` to get the next page; null on the last page */
  next_cursor: string | null;
}

export interface LastResult {
  at: string;
  ok: boolean;
  latency_ms: number;
  message: string;
  conditions: ConditionOutcome[];
}

export interface CheckSummary {
  /** `service/name` */
  id: string;
  service: string;
  name: string;
  kind: string;
  /** human description of the target, secrets removed: `GET http://127.0.0.1:3000/api/health` */
  target: string;
  state: CheckState;
  since: string | null;
  every_ms: number;
  last: LastResult | null;
  /** success ratio of runs over the last 24h (null without data) */
  uptime_24h: number | null;
}

export interface UptimeWindows {
  '24h': number | null;
  '7d': number | null;
  '30d': number | null;
  '90d': number | null;
}

/** One bar of the 90-day uptime strip: fraction of the day the service was up (null: no data). */
export interface DayBar {
  day: string; // YYYY-MM-DD (UTC)
  uptime: number | null;
  /** worst state seen that day */
  worst: ServiceState | null;
}

export interface SparkPoint {
  t: string;
  /** p95 latency of the minute across the service's checks, ms */
  p95: number | null;
  failures: number;
}

export interface ServiceSummary {
  name: string;
  state: ServiceState;
  since: string | null;
  checks: CheckSummary[];
  uptime: UptimeWindows;
  /** included with ?include=days (the dashboard asks for it) */
  days?: DayBar[];
  /** last 60 minutes, included with ?include=sparkline */
  sparkline?: SparkPoint[];
}

export interface StateChange {
  id: number;
  at: string;
  service: string;
  /** null for a service-level change */
  check: string | null;
  from: string;
  to: string;
  reason: string;
}

export interface Aggregate {
  t: string;
  count: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface FailedResult {
  id: number;
  at: string;
  latency_ms: number;
  message: string;
  conditions: ConditionOutcome[];
}

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'down';
  checks: Record<string, { status: 'healthy' | 'degraded' | 'down' | 'pending'; latencyMs: number | null; message: string }>;
  timestamp: string;
  version: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type Scope = 'read' | 'write' | 'admin';

export interface Me {
  token: string; // the token's name
  scopes: Scope[];
}

/** One entry of the event log (also what the SSE stream sends, as `event: <type>`). */
export interface EventRecord {
  id: number;
  at: string;
  type: string;
  actor: string;
  subject: string;
  data: Record<string, unknown>;
}

/** RFC 9457 problem details, as every error response (application/problem+json). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}
