/**
 * `maintenance:` in shipshape.yaml: planned maintenance windows, one-off (`starts:`) or recurring
 * (an RFC 5545 RRULE read in the window's time zone with a local `start:` time), each with the
 * services it affects, its planned `duration`, the declared maximum (`max`, overrunning it raises
 * an alert) and how long ahead it is announced (`notice`, default 48h).
 *
 * ```yaml
 * maintenance:
 *   windows:
 *     - name: db-upgrades
 *       title: Monthly database upgrades
 *       services: [api]
 *       rrule: FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1   # the first Tuesday of the month
 *       start: "02:00"
 *       duration: 2h
 *       max: 2h
 *       timezone: UTC
 *       notice: 48h
 * ```
 */
import { IANAZone } from 'luxon';
// rrule ships CommonJS for Node: its named exports are reached through the default export
import rrule from 'rrule';
import { z } from 'zod';
import { NAME_RE, type CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';
import { parseRfc3339 } from './time.js';

const { RRule } = rrule;

/** Longest window accepted (planned or maximum): a week. */
export const MAX_WINDOW_MS = 7 * 86_400_000;
export const DEFAULT_NOTICE_MS = 48 * 3_600_000;

/** Parse an RRULE body (no DTSTART: the window's `start` and `timezone` give it); a message when it is not one. */
export function checkRrule(text: string): string | undefined {
  const body = text.replace(/^RRULE:/i, '');
  if (/DTSTART|TZID|\n/i.test(body)) return 'write the rule without DTSTART or TZID (the window\'s start and timezone give them), e.g. FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1';
  let opts;
  try {
    opts = RRule.parseString(body);
  } catch (e) {
    return `not an RRULE (${(e as Error).message}); e.g. FREQ=WEEKLY;BYDAY=TU`;
  }
  if (opts.freq === undefined) return 'an RRULE needs FREQ=, e.g. FREQ=WEEKLY;BYDAY=TU';
  if (opts.freq > RRule.DAILY) return 'FREQ must be YEARLY, MONTHLY, WEEKLY or DAILY (the time of day comes from start:)';
  if (opts.byhour != null || opts.byminute != null || opts.bysecond != null) return 'leave out BYHOUR, BYMINUTE and BYSECOND: start: gives the time of day';
  if (opts.until) return 'leave out UNTIL: use the window\'s until: (a date)';
  const list = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
  if (list(opts.byweekday).some((d) => d === null || d === undefined)) return 'BYDAY takes MO, TU, WE, TH, FR, SA, SU (optionally with a position: 1TU, -1FR)';
  const range = (name: string, v: unknown, lo: number, hi: number) => (list(v).some((x) => typeof x !== 'number' || !Number.isInteger(x) || x === 0 || x < lo || x > hi) ? `${name} must be from ${lo} to ${hi} (not 0)` : undefined);
  const bad =
    range('BYMONTH', opts.bymonth, 1, 12) ??
    range('BYMONTHDAY', opts.bymonthday, -31, 31) ??
    range('BYSETPOS', opts.bysetpos, -366, 366) ??
    range('BYYEARDAY', opts.byyearday, -366, 366) ??
    range('BYWEEKNO', opts.byweekno, -53, 53) ??
    (opts.interval !== undefined && !(Number.isInteger(opts.interval) && opts.interval >= 1 && opts.interval <= 1000) ? 'INTERVAL must be a whole number from 1' : undefined) ??
    (opts.count !== undefined && opts.count !== null && !(Number.isInteger(opts.count) && opts.count >= 1) ? 'COUNT must be a whole number from 1' : undefined);
  if (bad) return bad;
  // a rule that names no real date (February 30th) would be searched for until the year 9999
  const start = new Date(Date.UTC(2020, 0, 6));
  const first = new RRule({ ...opts, dtstart: start, count: null }).between(start, new Date(Date.UTC(2032, 0, 1)), true, (_d, i) => i < 1);
  if (first.length === 0) return 'the rule matches no date (e.g. BYMONTHDAY=30 in February)';
  return undefined;
}

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time of day like 02:00');
const zone = z
  .string()
  .default('UTC')
  .refine((v) => IANAZone.isValidZone(v), { message: 'expected an IANA time zone like UTC or Europe/Berlin' });

const windowSchema = z
  .object({
    name: z.string().regex(NAME_RE, 'a window name is letters, digits, ".", "_" or "-" (at most 63)').meta({ description: 'names the window in events, the API and silences' }),
    title: z.string().trim().min(1).max(300).optional().meta({ description: 'what people see on the status page (default: the name)' }),
    message: z.string().max(10_000).optional().meta({ description: 'details shown with the window and in announcements' }),
    services: z.array(z.string().min(1)).min(1, 'name at least one affected service').meta({ description: 'the affected services: their alerts are suppressed and their components show under maintenance' }),
    starts: z
      .string()
      .refine((s) => parseRfc3339(s) !== undefined, 'expected an RFC 3339 time like 2026-03-10T02:00:00Z')
      .optional()
      .meta({ description: 'a one-off window: when it starts (RFC 3339); give this or rrule' }),
    rrule: z
      .string()
      .max(500)
      .superRefine((v, ctx) => {
        const bad = checkRrule(v);
        if (bad) ctx.addIssue({ code: 'custom', message: bad });
      })
      .optional()
      .meta({ description: 'a recurring window: RFC 5545 RRULE without DTSTART, e.g. FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1; give this or starts' }),
    start: clock.optional().meta({ description: 'recurring: the local start time in timezone (wall clock, kept across daylight-saving changes)' }),
    from: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2026-01-01')
      .optional()
      .meta({ description: 'recurring: the first day the rule applies (default: the rule applies from now on)' }),
    until: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2026-12-31')
      .optional()
      .meta({ description: 'recurring: the last day the rule applies' }),
    timezone: zone.meta({ description: 'IANA time zone the rule and start time are read in' }),
    duration: duration().meta({ description: 'planned length: the window ends this long after it starts' }),
    max: duration().optional().meta({ description: 'declared maximum (default: duration); a window still in progress past it raises a maintenance-overrun alert' }),
    notice: duration().optional().meta({ description: 'announce it this long before it starts (default: maintenance.notice)' }),
    auto_end: z.boolean().default(true).meta({ description: 'end at the planned end by itself (false: it stays in progress until ended by hand, and overruns past max)' }),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (!!w.starts === !!w.rrule) ctx.addIssue({ code: 'custom', message: 'give either starts: (a one-off window) or rrule: (a recurring one)', path: [w.starts ? 'rrule' : 'starts'] });
    if (w.rrule && !w.start) ctx.addIssue({ code: 'custom', message: 'a recurring window needs start: (its local start time, like "02:00")', path: ['start'] });
    if (w.rrule && /COUNT=/i.test(w.rrule) && !w.from) ctx.addIssue({ code: 'custom', message: 'a rule with COUNT needs from: (the day counting starts)', path: ['from'] });
    if (w.starts && (w.start || w.from || w.until)) ctx.addIssue({ code: 'custom', message: 'start, from and until are for recurring windows; a one-off window has starts: only', path: [w.start ? 'start' : w.from ? 'from' : 'until'] });
    if (w.duration <= 0) ctx.addIssue({ code: 'custom', message: 'duration must be more than 0', path: ['duration'] });
    if (w.duration > MAX_WINDOW_MS) ctx.addIssue({ code: 'custom', message: 'duration must be at most 7d', path: ['duration'] });
    if (w.max !== undefined && w.max < w.duration) ctx.addIssue({ code: 'custom', message: `max (${w.max / 60_000}m) is shorter than duration (${w.duration / 60_000}m): a window may not be planned longer than its declared maximum`, path: ['max'] });
    if (w.max !== undefined && w.max > MAX_WINDOW_MS) ctx.addIssue({ code: 'custom', message: 'max must be at most 7d', path: ['max'] });
  });

export type WindowConfig = z.output<typeof windowSchema>;

export const maintenanceSchema = z
  .object({
    notice: duration().default(DEFAULT_NOTICE_MS).meta({ description: 'announce windows this long before they start (48h), unless a window says otherwise' }),
    ahead: z.number().int().min(1).max(50).default(3).meta({ description: 'how many future occurrences of each recurring window are scheduled (listable and cancellable one by one)' }),
    overrun_severity: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'expected a severity like P2').default('P2').meta({ description: 'severity label of the maintenance-overrun alert a window raises when it runs past its max' }),
    check_every: duration().default(15_000).meta({ description: 'how often windows are started, ended and announced' }),
    windows: z.array(windowSchema).max(200).default([]).meta({ description: 'windows defined in config (more can be added with `shipshape maintenance add` or the API)' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.windows.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: 'custom', message: `duplicate window name "${w.name}"`, path: ['windows', i, 'name'] });
      seen.add(w.name);
    });
  });

export type MaintenanceConfig = z.output<typeof maintenanceSchema>;
export type MaintenanceRaw = CoreConfig & { maintenance: MaintenanceConfig };

export const maintenanceConfig = {
  sections: { maintenance: maintenanceSchema.prefault({}) },
  /** windows may only name configured services */
  validate(raw: MaintenanceRaw) {
    const known = Object.keys(raw.services ?? {});
    const out: { path: (string | number)[]; message: string }[] = [];
    raw.maintenance.windows.forEach((w, i) =>
      w.services.forEach((s, j) => {
        if (!known.includes(s)) out.push({ path: ['maintenance', 'windows', i, 'services', j], message: `unknown service "${s}"; services: ${known.join(', ') || 'none configured'}` });
      }),
    );
    return out;
  },
};
