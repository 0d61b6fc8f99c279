/** The alerts domain's API shapes (alerts, and the notify side: routing and silences), shared with the server as types. */
export type { AlertInstance, AlertRuleStatus, AlertState, Severity } from '../../../src/alerts/types.ts';
export type { Matcher, Silence } from '../../../src/notify/api-types.ts';

/**
 * `GET /api/v1/notify/alerts` (src/notify/routes.ts): active alerts as routing sees them. The route
 * builds it inline; keep this in step with it.
 */
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
