/** Response targets: when each is due for an incident, and which ones are missed. */
import { DateTime } from 'luxon';
import type { IncidentsConfig, SeverityLevel, Target } from './config.js';
import type { TargetName } from './types.js';

const WEEKDAY = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 } as const;

/**
 * "Next business day": the end of business hours on the first business day after the day the
 * incident opened, in the configured time zone (opened Friday 15:00 in Berlin with Mon–Fri 09–17 →
 * due Monday 17:00 Berlin time).
 */
export function nextBusinessDayEnd(from: number, bh: IncidentsConfig['business_hours']): number {
  const days = new Set<number>(bh.days.map((d) => WEEKDAY[d]));
  const [h, m] = bh.end.split(':').map(Number) as [number, number];
  let day = DateTime.fromMillis(from, { zone: bh.time_zone }).startOf('day');
  for (let i = 0; i < 14; i++) {
    day = day.plus({ days: 1 });
    if (days.has(day.weekday)) return day.set({ hour: h, minute: m }).toMillis();
  }
  return day.set({ hour: h, minute: m }).toMillis();
}

export function dueAt(t: Target, from: number, bh: IncidentsConfig['business_hours']): number {
  return t.kind === 'duration' ? from + t.ms : nextBusinessDayEnd(from, bh);
}

/** What the timer needs to know about an incident. */
export interface TimedIncident {
  opened_at: number;
  acknowledged_at: number | null;
  mitigated_at: number | null;
  resolved_at: number | null;
  first_update_at: number | null;
  last_update_at: number | null;
}

export interface DueTarget {
  target: TargetName;
  /** a key that names this deadline once (the recurring update target has one per update) */
  key: string;
  due: number;
  met: number | null;
}

/** The targets of a level for one incident, with when each is due and when it was met. */
export function targetsOf(inc: TimedIncident, level: SeverityLevel | undefined, bh: IncidentsConfig['business_hours']): DueTarget[] {
  if (!level) return [];
  const out: DueTarget[] = [];
  // acknowledging, mitigating or resolving all count as a response
  const acked = [inc.acknowledged_at, inc.mitigated_at, inc.resolved_at].filter((v): v is number => v !== null);
  if (level.ack) out.push({ target: 'ack', key: 'ack', due: dueAt(level.ack, inc.opened_at, bh), met: acked.length ? Math.min(...acked) : null });
  if (level.first_update) out.push({ target: 'first_update', key: 'first_update', due: dueAt(level.first_update, inc.opened_at, bh), met: inc.first_update_at });
  if (level.update_every && inc.last_update_at !== null && inc.resolved_at === null) {
    out.push({ target: 'update', key: `update@${inc.last_update_at}`, due: inc.last_update_at + level.update_every, met: null });
  }
  if (level.resolve) out.push({ target: 'resolve', key: 'resolve', due: dueAt(level.resolve, inc.opened_at, bh), met: inc.resolved_at });
  return out;
}
