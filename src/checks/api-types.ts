/**
 * The JSON shapes of the checks module's REST API (services, checks, uptime, health), shared by
 * the server, the CLI and the dashboard. Times are ISO-8601 UTC strings.
 */
import type { CheckState, ConditionOutcome, ServiceState } from './types.js';

export type { CheckState, ConditionOutcome, ServiceState };

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

/**
 * `healthy` (HTTP 200) only when every service with checks is up. `pending` (503): no service is
 * failing, but some service has no concluded check yet (just started, or a check failed fewer
 * times than its down_after); pending is not healthy, so a load balancer or deploy gate waits.
 */
export interface HealthReport {
  status: 'healthy' | 'degraded' | 'down' | 'pending';
  checks: Record<string, { status: 'healthy' | 'degraded' | 'down' | 'pending'; latencyMs: number | null; message: string }>;
  timestamp: string;
  version: string;
}
