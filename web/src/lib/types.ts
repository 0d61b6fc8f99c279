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

/** src/notify/match.ts */
export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

/** src/notify/silences.ts */
export interface Silence {
  id: string;
  matchers: Matcher[];
  /** `alertname=high-error-rate, service=~web|api` */
  match: string;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  createdAt: string;
  updatedAt: string;
  status: { state: 'pending' | 'active' | 'expired' };
}

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

/** src/errors/types.ts */
export type IssueStatus = 'unresolved' | 'resolved' | 'ignored';

export interface IssueSummary {
  id: number;
  service: string | null;
  project: number;
  title: string;
  culprit: string;
  type: string | null;
  level: string;
  status: IssueStatus;
  first_seen: string;
  last_seen: string;
  count: number;
  first_release: string | null;
  last_release: string | null;
  resolved_at: string | null;
  resolved_in_release: string | null;
  grouping: 'fingerprint' | 'exception' | 'message';
}

/** src/errors/event.ts */
export interface Frame {
  filename?: string;
  abs_path?: string;
  module?: string;
  function?: string;
  lineno?: number;
  colno?: number;
  in_app?: boolean;
  context_line?: string;
  pre_context?: string[];
  post_context?: string[];
}

export interface ExceptionValue {
  type?: string;
  value?: string;
  module?: string;
  mechanism?: { type?: string; handled?: boolean };
  /** oldest call first, the frame that threw last */
  frames: Frame[];
  frames_omitted?: number;
}

export interface Breadcrumb {
  timestamp?: string;
  type?: string;
  category?: string;
  level?: string;
  message?: string;
  data?: Record<string, unknown>;
}

export interface IssueEvent {
  id: string;
  received_at: string;
  timestamp: string;
  level: string;
  platform: string | null;
  message: string | null;
  /** chained exceptions, the captured (outermost) one last */
  exceptions: ExceptionValue[];
  tags: Record<string, string>;
  release: string | null;
  environment: string | null;
  transaction: string | null;
  server_name: string | null;
  user: Record<string, unknown> | null;
  request: Record<string, unknown> | null;
  contexts: Record<string, unknown> | null;
  extra: Record<string, unknown> | null;
  breadcrumbs: Breadcrumb[];
  fingerprint: string[] | null;
  sdk: { name?: string; version?: string } | null;
}

export interface IssueDetail extends IssueSummary {
  latest_event: IssueEvent | null;
  grouping_components: string[];
}
