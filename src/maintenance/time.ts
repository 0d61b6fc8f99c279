/**
 * Times of maintenance windows: RFC 3339 instants, `+2h` offsets from now, and the occurrences of
 * a recurring window. Recurrences are expanded with `rrule` in floating time (the rule sees local
 * wall-clock times) and each occurrence is then placed in the window's zone with luxon, so
 * "Tuesdays 02:00 Europe/Berlin" stays 02:00 local across daylight-saving changes. A local start
 * that does not exist (the spring-forward gap) moves forward by the gap (02:30 → 03:30); one that
 * exists twice (the autumn fall-back) is read in standard time (the later of the two).
 */
import { DateTime } from 'luxon';
// rrule ships CommonJS for Node: its named exports are reached through the default export
import rrule from 'rrule';
import { parseDuration } from '../core/config/units.js';
import { localInstant } from '../core/local-time.js';

const { RRule } = rrule;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an RFC 3339 time with a zone or offset; undefined when it is not one. */
export function parseRfc3339(s: string): number | undefined {
  if (!RFC3339.test(s)) return undefined;
  const d = DateTime.fromISO(s.replace(' ', 'T'), { setZone: true });
  return d.isValid ? d.toMillis() : undefined;
}

/** `2026-03-10T02:00:00Z`, or `+2h` / `+30m` from now. */
export function parseStart(s: string, now: number): number | undefined {
  const t = s.trim();
  if (t === 'now') return now;
  if (t.startsWith('+')) {
    const ms = parseDuration(t.slice(1));
    return ms === undefined ? undefined : now + ms;
  }
  return parseRfc3339(t);
}

/** Default first day of a rule without `from:` (INTERVAL counts from here). */
export const DEFAULT_FROM = '2020-01-06';

export interface RecurrenceSpec {
  rrule: string;
  /** HH:MM local */
  start: string;
  timezone: string;
  from?: string;
  until?: string;
  duration: number;
}

const floating = (d: DateTime) => new Date(Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute));

function ruleOf(spec: RecurrenceSpec): InstanceType<typeof RRule> {
  const [h, m] = spec.start.split(':').map(Number) as [number, number];
  const [y, mo, d] = (spec.from ?? DEFAULT_FROM).split('-').map(Number) as [number, number, number];
  const opts = RRule.parseString(spec.rrule.replace(/^RRULE:/i, ''));
  const until = spec.until ? (spec.until.split('-').map(Number) as [number, number, number]) : undefined;
  return new RRule({
    ...opts,
    dtstart: new Date(Date.UTC(y, mo - 1, d, h, m)),
    byhour: [h],
    byminute: [m],
    bysecond: [0],
    ...(until ? { until: new Date(Date.UTC(until[0], until[1] - 1, until[2], 23, 59, 59)) } : {}),
  });
}

/** The real instant of a floating (wall-clock-as-UTC) date in a zone. */
function place(f: Date, zone: string): number {
  return localInstant(
    DateTime.fromObject({ year: f.getUTCFullYear(), month: f.getUTCMonth() + 1, day: f.getUTCDate(), hour: f.getUTCHours(), minute: f.getUTCMinutes() }, { zone }),
  );
}

/**
 * The next `count` occurrences (start instants, epoch ms) of a recurring window that have not
 * ended by `now`, in order, at most `horizonMs` ahead.
 */
export function occurrences(spec: RecurrenceSpec, now: number, count: number, horizonMs = 3 * 366 * 86_400_000): number[] {
  const rule = ruleOf(spec);
  const out: number[] = [];
  // start looking a day and a window before now: an occurrence in progress still counts
  const from = floating(DateTime.fromMillis(now - spec.duration - 86_400_000, { zone: spec.timezone }));
  // bounded, so a rule with few dates left is not searched for until the year 9999
  const to = floating(DateTime.fromMillis(now + horizonMs, { zone: spec.timezone }));
  const found = rule.between(from, to, true, (_d: Date, i: number) => i < count + 3);
  for (const f of found) {
    const at = place(f, spec.timezone);
    if (at + spec.duration > now && at <= now + horizonMs && !out.includes(at)) out.push(at);
    if (out.length === count) break;
  }
  return out;
}
