import type { CheckState, ServiceState } from './types.ts';

export const STATE_LABEL: Record<ServiceState | CheckState, string> = {
  up: 'Up',
  degraded: 'Degraded',
  down: 'Down',
  unknown: 'Unknown',
  pending: 'Pending',
};

/** A state as one of the four colour tones (a pending check reads as unknown). */
export function stateTone(s: string): ServiceState {
  return s === 'up' || s === 'down' || s === 'degraded' ? s : 'unknown';
}

/** The colour class for one day of the uptime strip. */
export function uptimeTone(uptime: number | null, worst?: ServiceState | null): ServiceState {
  if (uptime === null) return 'unknown';
  if (uptime >= 0.999 && worst !== 'down') return worst === 'degraded' ? 'degraded' : 'up';
  if (uptime >= 0.98) return 'degraded';
  return 'down';
}
