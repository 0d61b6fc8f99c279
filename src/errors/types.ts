/**
 * The JSON shapes of the errors API (/api/v1/issues…), shared by the server, the CLI and the
 * dashboard. Times are ISO-8601 UTC strings.
 */
import type { Breadcrumb, ExceptionValue } from './event.js';
import type { GroupingMethod } from './grouping.js';

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
