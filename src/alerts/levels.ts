/**
 * Shipshape's alert levels, P0–P3, and how a pushed alert's own `severity` maps onto them: the
 * sender's labels stay as sent, the level is an added label, and the fingerprint is Alertmanager's.
 */
import { fingerprint } from './fingerprint.js';
import type { Severity } from './types.js';

export const SEVERITIES: Severity[] = ['P0', 'P1', 'P2', 'P3'];

const isLevel = (s: string | undefined): s is Severity => s !== undefined && (SEVERITIES as string[]).includes(s);

/** Severity to Shipshape's P0–P3: kept when already one, else mapped from the usual words. */
export function mapSeverity(s: string | undefined): Severity {
  if (s === undefined) return 'P2';
  const up = s.toUpperCase();
  if ((SEVERITIES as string[]).includes(up)) return up as Severity;
  const lower = s.toLowerCase();
  if (lower === 'critical' || lower === 'page' || lower === 'fatal' || lower === 'emergency') return 'P1';
  if (lower === 'error' || lower === 'high' || lower === 'major') return 'P2';
  return 'P3'; // warning, info, low, minor, none…
}

/**
 * The label Shipshape adds to a pushed alert whose `severity` is not one of P0–P3: its level
 * (`critical` → P1, …), so routes and inhibition can read one scale. It is an added label: the
 * sender's `severity` stays as sent, and the fingerprint leaves it out.
 */
export const LEVEL_LABEL = 'shipshape_severity';

/** An alert's level on Shipshape's P0–P3 scale: the added label, else its `severity` mapped. */
export function levelOf(labels: Record<string, string>): Severity {
  const added = labels[LEVEL_LABEL];
  return isLevel(added) ? added : mapSeverity(labels.severity);
}

/**
 * The labels a pushed alert is listed with: the sender's, without empty values (as Alertmanager
 * drops them), plus `shipshape_severity` when `severity` is not already P0–P3.
 */
export function pushedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== '') out[k] = v;
  if (isLevel(out.severity)) {
    if (out[LEVEL_LABEL] !== undefined && out[LEVEL_LABEL] !== out.severity) out[LEVEL_LABEL] = out.severity;
  } else if (!isLevel(out[LEVEL_LABEL])) out[LEVEL_LABEL] = mapSeverity(out.severity);
  return out;
}

/** A pushed alert's fingerprint: Alertmanager's, over the sender's labels (Shipshape's added label left out). */
export function pushedFingerprint(labels: Record<string, string>): string {
  if (labels[LEVEL_LABEL] === undefined) return fingerprint(labels);
  const { [LEVEL_LABEL]: _added, ...sent } = labels;
  return fingerprint(sent);
}
