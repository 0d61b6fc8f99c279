/**
 * `incidents:` in shipshape.yaml: the severity scheme (P0–P3 by default, or SEV1–SEV4, or your
 * own names), each level's response targets, business hours for "next business day", and how
 * alerts open incidents.
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { parseDuration } from '../core/config/units.js';
import { duration } from '../core/config/zod-units.js';
import { IANAZone } from 'luxon';

/** A response target: a duration (`15m`, `4h`) or `next_business_day` (end of the next business day). */
export type Target = { kind: 'duration'; ms: number } | { kind: 'next_business_day' };

const target = () =>
  z
    .string()
    .transform((text, ctx): Target => {
      if (text === 'next_business_day' || text === 'next business day') return { kind: 'next_business_day' };
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 15m, 1h or 4h, or next_business_day, got "${text}"` });
        return z.NEVER;
      }
      return { kind: 'duration', ms };
    })
    .meta({ description: 'a duration (15m, 1h, 4h) or next_business_day (the end of business hours on the next business day)' });

export const LEVEL_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;

const levelSchema = z
  .object({
    name: z.string().regex(LEVEL_NAME, 'a severity name is a letter then letters, digits, "_" or "-" (at most 16)'),
    description: z.string().max(200).optional().meta({ description: 'what the level means, e.g. "site down for everyone"' }),
    ack: target().optional().meta({ description: 'acknowledge within this (from opening)' }),
    first_update: target().optional().meta({ description: 'post the first status update within this (from opening)' }),
    update_every: duration().optional().meta({ description: 'then post an update at least this often while the incident is open' }),
    resolve: target().optional().meta({ description: 'resolve within this (from opening)' }),
  })
  .strict();

export type SeverityLevel = z.output<typeof levelSchema>;

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day like 09:00');

const businessHoursSchema = z
  .object({
    time_zone: z
      .string()
      .default('UTC')
      .refine((z) => IANAZone.isValidZone(z), { message: 'expected an IANA time zone like Europe/Berlin or America/New_York' }),
    days: z.array(z.enum(DAYS)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: clock.default('09:00'),
    end: clock.default('17:00'),
  })
  .strict()
  .refine((b) => b.start < b.end, { message: 'business hours start must be before end', path: ['end'] });

const pLevels = (names: [string, string, string, string]): SeverityLevel[] => [
  { name: names[0], description: 'critical: immediate, within 15 minutes', ack: { kind: 'duration', ms: 15 * 60_000 }, first_update: { kind: 'duration', ms: 30 * 60_000 }, update_every: 30 * 60_000 },
  { name: names[1], description: 'major: within 1 hour', ack: { kind: 'duration', ms: 60 * 60_000 }, first_update: { kind: 'duration', ms: 60 * 60_000 }, update_every: 60 * 60_000 },
  { name: names[2], description: 'minor: within 4 hours', ack: { kind: 'duration', ms: 4 * 60 * 60_000 }, first_update: { kind: 'duration', ms: 4 * 60 * 60_000 } },
  { name: names[3], description: 'low: next business day', ack: { kind: 'next_business_day' } },
];

/** The built-in schemes: P0–P3 (the default) or SEV1–SEV4, with the usual targets. */
export const SCHEMES = {
  'P0-P3': pLevels(['P0', 'P1', 'P2', 'P3']),
  'SEV1-SEV4': pLevels(['SEV1', 'SEV2', 'SEV3', 'SEV4']),
} as const;

export const incidentsSchema = z
  .object({
    scheme: z.enum(['P0-P3', 'SEV1-SEV4']).default('P0-P3').meta({ description: 'the built-in severity names and targets (ignored when severities are listed)' }),
    severities: z
      .array(levelSchema)
      .min(1)
      .max(10)
      .optional()
      .meta({ description: 'your own levels, most severe first, each with its targets; P0..P3 in alert rules and the API name the first four by position' }),
    business_hours: businessHoursSchema.prefault({}).meta({ description: 'for next_business_day targets' }),
    reopen_within: duration().default(30 * 60_000).meta({ description: 'an alert that fires again this soon after its incident was resolved re-opens it' }),
    timeline_lead: duration().default(5 * 60_000).meta({ description: 'the timeline starts this long before the incident opened (the check failure and alert that caused it)' }),
    check_every: duration().default(10_000).meta({ description: 'how often response targets are checked' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.severities?.forEach((l, i) => {
      if (seen.has(l.name.toUpperCase())) ctx.addIssue({ code: 'custom', message: `duplicate severity "${l.name}"`, path: ['severities', i, 'name'] });
      seen.add(l.name.toUpperCase());
    });
  });

export type IncidentsConfig = z.output<typeof incidentsSchema>;

export type IncidentsRaw = CoreConfig & { incidents: IncidentsConfig };

/** The levels in force, most severe first. */
export function levelsOf(c: IncidentsConfig): SeverityLevel[] {
  return c.severities ?? SCHEMES[c.scheme];
}

/**
 * The level a name means: a configured name (any case), or P0..P3 by position (so alert rules and
 * scripts written for the default scheme keep working after a rename to SEV1–SEV4).
 */
export function resolveLevel(levels: readonly SeverityLevel[], name: string): SeverityLevel | undefined {
  const byName = levels.find((l) => l.name.toUpperCase() === name.toUpperCase());
  if (byName) return byName;
  const m = /^P([0-9])$/i.exec(name);
  return m ? levels[Number(m[1])] : undefined;
}

export const incidentsConfig = {
  sections: { incidents: incidentsSchema.prefault({}) },
  /** alert rules' `incident.severity` must name a level in force */
  validate(raw: IncidentsRaw) {
    const levels = levelsOf(raw.incidents);
    const rules = (raw as { alerts?: { incident?: { severity: string } }[] }).alerts ?? [];
    const out: { path: (string | number)[]; message: string }[] = [];
    rules.forEach((r, i) => {
      const s = r.incident?.severity;
      if (s !== undefined && !resolveLevel(levels, s)) out.push({ path: ['alerts', i, 'incident', 'severity'], message: `unknown incident severity "${s}"; levels: ${levels.map((l) => l.name).join(', ')}` });
    });
    return out;
  },
};
