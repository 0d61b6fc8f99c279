/** The API's JSON shapes, shared with the server (types only; nothing of the server is bundled). */
export type {
  Aggregate,
  CheckState,
  CheckSummary,
  ConditionOutcome,
  DayBar,
  EventRecord,
  FailedResult,
  LastResult,
  Me,
  Page,
  Problem,
  Scope,
  ServiceState,
  ServiceSummary,
  SparkPoint,
  StateChange,
  UptimeWindows,
} from '../../../src/api/types.ts';
export type { AlertInstance, AlertRuleStatus, AlertState, Severity } from '../../../src/alerts/types.ts';
export type { VitalName } from '../../../src/telemetry/types.ts';

import type { VitalName } from '../../../src/telemetry/types.ts';

/*
 * The shapes below mirror server files that also import Node built-ins (src/errors/types.ts,
 * src/notify/*), which the browser build cannot type-check; keep them in step with those files.
 */

/** `GET /api/v1/services/:name/telemetry`: one point per step, `t` in epoch ms (or ISO). */
export interface TelemetrySeries {
  t: (number | string)[];
  /** requests per second */
  request_rate: (number | null)[];
  /** failed / all requests, a fraction (0.01 is 1%) */
  error_rate: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
}

export interface VitalSeries {
  t: (number | string)[];
  p75: (number | null)[];
}

export interface RouteStat {
  route: string;
  method?: string;
  requests: number;
  error_rate: number | null;
  p95: number | null;
}

export interface Telemetry {
  step_ms: number;
  series: TelemetrySeries;
  vitals: Partial<Record<VitalName, VitalSeries>>;
  routes: RouteStat[];
}

export type { Matcher, Silence } from '../../../src/notify/api-types.ts';

/** `GET /api/v1/notify/alerts` (src/notify/routes.ts): active alerts as routing sees them. */
export interface NotifyAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  value: string;
  activeAt: string;
  firedAt: string | null;
  source: string;
  suppressed: boolean;
  /** silence ids */
  silenced_by: string[];
  /** fingerprints of the alerts that inhibit this one */
  inhibited_by: string[];
  groups: string[];
  channels: string[];
}

export type { Breadcrumb, ExceptionValue, Frame, IssueDetail, IssueEvent, IssueStatus, IssueSummary } from '../../../src/errors/types.ts';
