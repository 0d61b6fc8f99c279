/**
 * The JSON shapes of the errors API (/api/v1/issues…), shared by the server, the CLI and the
 * dashboard. Times are ISO-8601 UTC strings.
 */
// self-contained (no imports): the dashboard imports these types too

export type GroupingMethod = 'fingerprint' | 'exception' | 'message';

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
  /** oldest call first, the frame that threw last (Sentry's order) */
  frames: Frame[];
  /** frames left out of the middle of a very deep stack */
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


export type IssueStatus = 'unresolved' | 'resolved' | 'ignored';
export const ISSUE_STATUSES = ['unresolved', 'resolved', 'ignored'] as const satisfies readonly IssueStatus[];

export interface IssueSummary {
  id: number;
  /** the service that claims the Sentry project (`services.<name>.sentry.project`); null when none does */
  service: string | null;
  project: number;
  title: string;
  /** where it happens: `module in function`, or the transaction */
  culprit: string;
  /** the exception type; null for message events */
  type: string | null;
  level: string;
  status: IssueStatus;
  first_seen: string;
  last_seen: string;
  /** events received (duplicates of an event id are not counted twice) */
  count: number;
  first_release: string | null;
  last_release: string | null;
  /** when it was last resolved and the release in force then (what a regression compares with) */
  resolved_at: string | null;
  resolved_in_release: string | null;
  grouping: GroupingMethod;
}

export interface IssueEvent {
  /** the Sentry event id (32 hex digits) */
  id: string;
  received_at: string;
  /** when the client says it happened */
  timestamp: string;
  level: string;
  platform: string | null;
  message: string | null;
  /** chained exceptions, the captured (outermost) one last; frames oldest call first */
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
  /** the last breadcrumbs before the event (at most 100) */
  breadcrumbs: Breadcrumb[];
  fingerprint: string[] | null;
  sdk: { name?: string; version?: string } | null;
}

export interface IssueDetail extends IssueSummary {
  latest_event: IssueEvent | null;
  /** what the events were grouped by */
  grouping_components: string[];
}
