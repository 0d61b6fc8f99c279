/**
 * Alertmanager's time intervals (`time_intervals:` / `mute_time_intervals:`): named sets of
 * {times, weekdays, days_of_month, months, years, location}; a route's `mute_time_intervals` hold
 * its notifications while one is active, its `active_time_intervals` allow them only then.
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

interface Range {
  begin: number;
  end: number;
}

export interface TimeInterval {
  times?: { start: number; end: number }[];
  weekdays?: Range[];
  daysOfMonth?: Range[];
  months?: Range[];
  years?: Range[];
  location?: string;
}

export class TimeIntervalError extends Error {}
const fail = (msg: string): never => {
  throw new TimeIntervalError(msg);
};

function rangeOf(text: string, member: (s: string) => number): Range {
  const s = text.toLowerCase();
  if (s.includes(':')) {
    const parts = s.split(':');
    if (parts.length !== 2) fail(`couldn't parse range ${text}, invalid format`);
    return { begin: member(parts[0] as string), end: member(parts[1] as string) };
  }
  const v = member(s);
  return { begin: v, end: v };
}

const int = (s: string, what: string) => (/^[+-]?\d+$/.test(s) ? Number(s) : fail(`${s} is not a valid ${what}`));

export function parseWeekdays(text: string): Range {
  const r = rangeOf(text, (s) => (WEEKDAYS.includes(s) ? WEEKDAYS.indexOf(s) : fail(`${s} is not a valid weekday`)));
  if (r.begin > r.end) fail('start day cannot be before end day');
  return r;
}

export function parseDaysOfMonth(text: string): Range {
  const r = rangeOf(text, (s) => int(s, 'day of the month'));
  for (const d of [r.begin, r.end]) if (d === 0 || d < -31 || d > 31) fail(`${d} is not a valid day of the month: out of range`);
  if (r.begin < 0 && r.end > 0) fail('end day must be negative if start day is negative');
  const b = r.begin < 0 ? 28 + r.begin : r.begin;
  const e = r.end < 0 ? 28 + r.end : r.end;
  if (b > e) fail(`end day ${r.end} is always before start day ${r.begin}`);
  return r;
}

export function parseMonths(text: string): Range {
  const r = rangeOf(text, (s) => (MONTHS.includes(s) ? MONTHS.indexOf(s) + 1 : /^\d+$/.test(s) ? Number(s) : fail(`${s} is not a valid month`)));
  for (const m of [r.begin, r.end]) if (m < 1 || m > 12) fail(`${m} is not a valid month: out of range`);
  if (r.begin > r.end) fail(`end month ${MONTHS[r.end - 1]} is before start month ${MONTHS[r.begin - 1]}`);
  return r;
}

export function parseYears(text: string): Range {
  const r = rangeOf(text, (s) => int(s, 'year'));
  if (r.begin > r.end) fail(`end year ${r.end} is before start year ${r.begin}`);
  return r;
}

export function parseClock(text: string): number {
  if (!/^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/.test(text)) fail(`couldn't parse timestamp ${text}, invalid format`);
  const [h, m] = text.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

export function parseTimeRange(t: { start_time?: string; end_time?: string }): { start: number; end: number } {
  if (!t.start_time || !t.end_time) fail('both start and end times must be provided');
  const start = parseClock(t.start_time as string);
  const end = parseClock(t.end_time as string);
  if (start >= end) fail('start time cannot be equal or greater than end time');
  return { start, end };
}

export function parseLocation(name: string): string {
  if (name === 'Local') return Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (name === 'UTC' || name === '') return 'UTC';
  if (!IANAZone.isValidZone(name)) fail(`unknown time zone ${name}`);
  return name;
}

/** One entry of an interval's `time_intervals:` list, as written in the config. */
export const timeIntervalSchema = z
  .object({
    times: z.array(z.object({ start_time: z.string(), end_time: z.string() }).strict()).optional().meta({ description: 'times of day, [start_time, end_time) as HH:MM (end 24:00 allowed)' }),
    weekdays: z.array(z.string()).optional().meta({ description: "'monday:friday', 'sunday'" }),
    days_of_month: z.array(z.string()).optional().meta({ description: "'1:5', '-3:-1' (negative: from the end of the month)" }),
    months: z.array(z.string()).optional().meta({ description: "'january:march', '12'" }),
    years: z.array(z.string()).optional().meta({ description: "'2024:2026'" }),
    location: z.string().optional().meta({ description: "IANA time zone the times are in (default UTC), e.g. 'Europe/Berlin'" }),
  })
  .strict()
  .superRefine((t, ctx) => {
    const check = (key: string, list: unknown[] | undefined, parse: (x: never) => unknown) =>
      list?.forEach((x, i) => {
        try {
          parse(x as never);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message, path: [key, i] });
        }
      });
    check('times', t.times, parseTimeRange);
    check('weekdays', t.weekdays, parseWeekdays);
    check('days_of_month', t.days_of_month, parseDaysOfMonth);
    check('months', t.months, parseMonths);
    check('years', t.years, parseYears);
    if (t.location !== undefined) check('location', [t.location], parseLocation);
  });
export type TimeIntervalConfig = z.output<typeof timeIntervalSchema>;

export const namedTimeIntervalSchema = z
  .object({ name: z.string().min(1, 'missing name in time interval'), time_intervals: z.array(timeIntervalSchema).default([]) })
  .strict();
export type NamedTimeIntervalConfig = z.output<typeof namedTimeIntervalSchema>;

export function compileTimeInterval(t: TimeIntervalConfig): TimeInterval {
  return {
    ...(t.times ? { times: t.times.map(parseTimeRange) } : {}),
    ...(t.weekdays ? { weekdays: t.weekdays.map(parseWeekdays) } : {}),
    ...(t.days_of_month ? { daysOfMonth: t.days_of_month.map(parseDaysOfMonth) } : {}),
    ...(t.months ? { months: t.months.map(parseMonths) } : {}),
    ...(t.years ? { years: t.years.map(parseYears) } : {}),
    ...(t.location !== undefined ? { location: parseLocation(t.location) } : {}),
  };
}

const within = (ranges: Range[] | undefined, v: number) => ranges === undefined || ranges.some((r) => v >= r.begin && v <= r.end);

/** Alertmanager's TimeInterval.ContainsTime: every given field must hold (in `location`, default UTC). */
export function containsTime(ti: TimeInterval, at: number): boolean {
  const t = DateTime.fromMillis(at, { zone: ti.location ?? 'UTC' });
  const minute = t.hour * 60 + t.minute;
  if (ti.times && !ti.times.some((r) => minute >= r.start && minute < r.end)) return false;
  if (ti.daysOfMonth) {
    const dim = t.daysInMonth as number;
    const ok = ti.daysOfMonth.some((r) => {
      let begin = r.begin < 0 ? dim + r.begin + 1 : r.begin;
      let end = r.end < 0 ? dim + r.end + 1 : r.end;
      if (begin > dim) return false;
      begin = Math.max(-dim, Math.min(dim, begin));
      end = Math.max(-dim, Math.min(dim, end));
      return t.day >= begin && t.day <= end;
    });
    if (!ok) return false;
  }
  if (!within(ti.months, t.month)) return false;
  if (!within(ti.weekdays, t.weekday % 7)) return false; // luxon: Monday 1 … Sunday 7
  if (!within(ti.years, t.year)) return false;
  return true;
}

/** The named intervals of a config, compiled. */
export function compileIntervals(named: NamedTimeIntervalConfig[]): Map<string, TimeInterval[]> {
  return new Map(named.map((n) => [n.name, n.time_intervals.map(compileTimeInterval)]));
}

/** The names among `names` whose interval holds `at` (Alertmanager's Intervener.Mutes). */
export function activeIntervals(intervals: Map<string, TimeInterval[]>, names: readonly string[], at: number): string[] {
  return names.filter((n) => (intervals.get(n) ?? []).some((ti) => containsTime(ti, at)));
}
