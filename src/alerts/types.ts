/** Alert instances: from Shipshape's own rules or from outside (Prometheus, Alertmanager, PagerDuty). */

export type AlertState = 'pending' | 'firing' | 'resolved';
export type Severity = 'P0' | 'P1' | 'P2' | 'P3';

export interface AlertInstance {
  /** stable identity: hash of the sorted labels (Alertmanager's fingerprint) */
  fingerprint: string;
  /** labels include alertname, severity, service (when known) and the rule's own labels */
  labels: Record<string, string>;
  /** summary, description (templates rendered), and anything the source sent */
  annotations: Record<string, string>;
  state: AlertState;
  /** the value that caused the last transition, formatted for people (`3.2%`) and raw */
  value: number | null;
  valueText: string;
  /** ISO times */
  activeAt: string;
  firedAt: string | null;
  resolvedAt: string | null;
  /** `rule:<name>`, `prometheus`, `alertmanager`, `pagerduty` */
  source: string;
  /** optional link back to the source */
  generatorUrl?: string;
}

/**
 * The alerts domain publishes each transition on the event log as `alert.pending`,
 * `alert.firing` and `alert.resolved` with `data: AlertInstance`; the notify domain routes the
 * firing and resolved ones to channels.
 */
export const ALERT_EVENT_TYPES = ['alert.pending', 'alert.firing', 'alert.resolved'] as const;
