/** The JSON shapes of the incidents API, shared by the server, the CLI and (later) the dashboard. Times are ISO-8601 UTC. */
import type { EventRecord } from '../core/api-types.js';

export const INCIDENT_STATES = ['triggered', 'acknowledged', 'mitigated', 'resolved', 'closed', 'declined', 'merged'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];
/** states in which the incident is still being worked on (timers tick, alerts join it) */
export const OPEN_STATES: readonly IncidentState[] = ['triggered', 'acknowledged', 'mitigated'];

/** Status-page style updates. */
export const UPDATE_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type UpdateStatus = (typeof UPDATE_STATUSES)[number];

export const ROLES = ['commander', 'communications', 'scribe'] as const;
export type Role = (typeof ROLES)[number];
export type Roles = Record<Role, string | null>;

export type TargetName = 'ack' | 'first_update' | 'update' | 'resolve';

/** A response target of the incident's severity and where it stands. */
export interface TargetStatus {
  target: TargetName;
  due_at: string;
  met_at: string | null;
  /** past due and not met in time */
  breached: boolean;
}

/** A missed response target, recorded once (and written to the log as `incident.breached`). */
export interface Breach {
  target: TargetName;
  due_at: string;
  /** when Shipshape noticed */
  at: string;
  overdue_ms: number;
}

export interface IncidentUpdate {
  id: number;
  kind: 'update' | 'note';
  status: UpdateStatus | null;
  message: string;
  author: string;
  at: string;
}

export interface ActionItem {
  title: string;
  owner?: string;
  /** YYYY-MM-DD */
  due?: string;
  done?: boolean;
}

/** An action item as the incidents API lists it across incidents (`GET /api/v1/incidents/action-items`). */
export interface ActionItemStatus {
  incident: number;
  ref: string;
  incident_title: string;
  incident_state: IncidentState;
  /** 1-based position in the incident's post-mortem */
  index: number;
  title: string;
  owner: string | null;
  /** YYYY-MM-DD */
  due: string | null;
  done: boolean;
  /** not done and past the end of its due day (in the business-hours time zone) */
  overdue: boolean;
  /** when it became overdue (the start of the day after `due`), ISO */
  overdue_since: string | null;
}

export interface PostmortemFields {
  summary?: string;
  impact?: string;
  root_cause?: string;
  went_well?: string[];
  went_badly?: string[];
  action_items?: ActionItem[];
}

export interface Incident {
  id: number;
  /** `INC-12`: what people say and the CLI accepts */
  ref: string;
  title: string;
  severity: string;
  state: IncidentState;
  status: UpdateStatus | null;
  services: string[];
  roles: Roles;
  source: 'manual' | 'alert';
  /** fingerprints of the alerts that opened or joined it */
  alerts: { fingerprint: string; alertname: string; firings: number; first_at: string; last_at: string }[];
  opened_by: string;
  opened_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  mitigated_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  declined_at: string | null;
  merged_into: number | null;
  /** incidents merged into this one */
  merged: number[];
  reopened: number;
  /** opened → resolved (or now, while open), ms */
  duration_ms: number;
  targets: TargetStatus[];
  breaches: Breach[];
  postmortem: PostmortemFields | null;
  /** post-mortem action items not done yet, and how many of those are past their due date */
  action_items_open: number;
  action_items_overdue: number;
  updated_at: string;
}

export interface IncidentDetail extends Incident {
  updates: IncidentUpdate[];
}

export interface Timeline {
  incident: number;
  from: string;
  to: string;
  items: EventRecord[];
  /** the window held more events than one timeline shows */
  truncated: boolean;
}
