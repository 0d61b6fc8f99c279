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
  /** (added) row id in the alerts table, for API cursors and links */
  id?: number;
  /** (added) rule alerts: the rule's expression, its threshold (raw and formatted) and the samples behind the value */
  expression?: string;
  threshold?: number | null;
  thresholdText?: string;
  samples?: number | null;
  /** (added) when an alert pushed from outside expires unless re-sent (ISO), null when it does not */
  endsAt?: string | null;
}

/**
 * The alerts domain publishes each transition on the event log as `alert.pending`,
 * `alert.firing` and `alert.resolved` with `data: AlertInstance`; the notify domain routes the
 * firing and resolved ones to channels.
 *
 * `alert.cancelled` is a pending alert whose condition cleared before `for` elapsed: it never fired, so there is
 * nothing to notify, but the timeline shows it ended. `data: AlertInstance` with state `resolved`
 * and `firedAt: null`. Notify routes only alert.firing and alert.resolved, so it ignores this one.
 */
export const ALERT_CANCELLED_EVENT = 'alert.cancelled';

/** (added) A rule's evaluation state as the API and `shipshape alerts test` show it. */
export interface AlertRuleStatus {
  name: string;
  when: string;
  severity: Severity;
  labels: Record<string, string>;
  state: 'inactive' | AlertState;
  /** the last evaluated value, raw and formatted in the rule's unit */
  value: number | null;
  valueText: string;
  threshold: number | null;
  thresholdText: string;
  samples: number | null;
  /** whether the condition held at the last evaluation (after the minimum-samples guard) */
  conditionMet: boolean;
  /** why it does or does not hold: `error_rate(web) = 3.2% > 1%`, `min_samples: 3 < 20`, `no data` */
  reason: string;
  lastEvaluation: string | null;
  activeAt: string | null;
  firedAt: string | null;
}
