/** The JSON shapes of the on-call API (times ISO-8601 UTC), shared by the server, the CLI and the dashboard (types only, no imports). */

/** Who is on call in one schedule (the API's and CLI's shape; times ISO-8601 UTC). */
export interface OnCallNow {
  schedule: string;
  at: string;
  time_zone: string;
  person: string | null;
  name: string | null;
  source: string | null;
  /** the shift in force: since when and until when this person is on call */
  since: string | null;
  until: string | null;
}

export interface ShiftOut {
  schedule: string;
  person: string;
  name: string;
  source: string;
  start: string;
  end: string;
}

/** A schedule as configured, for people to read (overrides as instants, ISO-8601 UTC). */
export interface ScheduleDetail {
  schedule: string;
  time_zone: string;
  layers: { name: string; rotation: string; handoff: string; start: string; people: { key: string; name: string }[] }[];
  overrides: { index: number; person: string; name: string; from: string; to: string; reason: string | null }[];
}

/** An escalation policy as configured. */
export interface PolicyOut {
  name: string;
  /** null: any severity */
  severities: string[] | null;
  steps: { after_ms: number; notify: string[] }[];
  repeat: number;
  repeat_after_ms: number;
}

export interface Escalation {
  id: number;
  incident_id: number;
  policy: string;
  state: 'active' | 'stopped' | 'done';
  /** the next step (1-based) and round (1-based) */
  next_step: number | null;
  round: number;
  next_at: string | null;
  stop_reason: string | null;
  started_at: string;
  pages: { id: number; person: string; via: string; step: number; round: number; channels: string[]; sent_at: string }[];
}

/** A calendar subscription feed (iCal by URL, no login): `url` and `webcal_url` carry the secret token and appear only in the answer of the subscription route. */
export interface CalendarFeed {
  id: string;
  kind: 'schedule' | 'person';
  target: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface CalendarSubscription extends CalendarFeed {
  /** https://…/api/v1/oncall/calendar/<token>.ics */
  url: string;
  /** the same URL as webcal://… (opens the calendar app's subscribe dialog) */
  webcal_url: string;
}
