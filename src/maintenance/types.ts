/** The JSON shapes of the maintenance API and events, self-contained so the dashboard can import them. */

export const WINDOW_STATUSES = ['scheduled', 'in_progress', 'verifying', 'completed', 'cancelled'] as const;
export type WindowStatus = (typeof WINDOW_STATUSES)[number];
/** still to come or going on (alerts of its services are suppressed while in progress or verifying) */
export const OPEN_STATUSES: readonly WindowStatus[] = ['scheduled', 'in_progress', 'verifying'];

export interface MaintenanceWindow {
  id: number;
  title: string;
  message: string | null;
  services: string[];
  /** RFC 3339 */
  starts_at: string;
  /** the planned end (RFC 3339) */
  ends_at: string;
  /** starts_at + max: still in progress after this is an overrun (RFC 3339) */
  max_ends_at: string;
  /** the declared maximum, ms */
  max_ms: number;
  /** announced this long before it starts, ms */
  notice_ms: number;
  /** ends at ends_at by itself (false: ended by hand) */
  auto_end: boolean;
  status: WindowStatus;
  /** the config window this is an occurrence of (null: added by hand) */
  recurring: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  announced_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  overrun_at: string | null;
  cancelled_at: string | null;
  /** the notify silence that holds back the services' alerts while it is in progress */
  silence_id: string | null;
}

/** `data` of every `maintenance.*` event (subject `maintenance:<id>`). */
export interface MaintenanceEventData {
  id: number;
  title: string;
  message?: string;
  services: string[];
  starts_at: string;
  ends_at: string;
  status: WindowStatus;
  recurring?: string;
  /** maintenance.ended of a window nobody was running for (Shipshape was down the whole time) */
  missed?: boolean;
}

export const MAINTENANCE_EVENTS = [
  'maintenance.scheduled',
  'maintenance.upcoming',
  'maintenance.started',
  'maintenance.verifying',
  'maintenance.extended',
  'maintenance.ended',
  'maintenance.cancelled',
  'maintenance.overrun',
] as const;
