/**
 * `people:` and `oncall:` in shipshape.yaml. People are config entries for now (name, email,
 * notification channels); schedules rotate them in layers with one-off overrides, in the
 * schedule's time zone; escalation policies page schedules and people in timed steps.
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';
import { localInstant } from '../core/local-time.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameKey = (what: string) => z.string().regex(NAME, `a ${what} name is letters, digits, "_", "-" or "." (at most 63)`);

export const personSchema = z
  .object({
    name: z.string().min(1).max(200).optional().meta({ description: 'display name (default: the key)' }),
    email: z.string().email().optional().meta({ description: 'pages also go here, through oncall.email_channel' }),
    channels: z.array(z.string()).default([]).meta({ description: 'names from notify.channels that reach this person (chat DM, ntfy topic, phone webhook…)' }),
  })
  .strict();
export type PersonConfig = z.output<typeof personSchema>;

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/** A rotation period in local calendar days (daily 1, weekly 7, `{ every: 3d }`, `{ every: 2w }`). */
const rotation = z.union([
  z.enum(['daily', 'weekly']).transform((r) => ({ days: r === 'daily' ? 1 : 7, label: r })),
  z
    .object({ every: z.string() })
    .strict()
    .transform((r, ctx) => {
      const m = /^([1-9][0-9]{0,2})(d|w)$/.exec(r.every.trim());
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected whole days or weeks like 3d or 2w, got "${r.every}" (shifts are counted in local calendar days so hand-offs keep their wall-clock time across daylight-saving changes)`, path: ['every'] });
        return z.NEVER;
      }
      const days = Number(m[1]) * (m[2] === 'w' ? 7 : 1);
      return { days, label: `every ${r.every.trim()}` };
    }),
]);

const HANDOFF = /^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+)?([01]\d|2[0-3]):([0-5]\d)$/i;

const handoff = z
  .string()
  .transform((t, ctx) => {
    const m = HANDOFF.exec(t.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected a hand-off like "09:00" or "Mon 09:00", got "${t}"` });
      return z.NEVER;
    }
    const day = m[1] ? WEEKDAYS.findIndex((d) => d.toLowerCase() === m[1]!.toLowerCase()) + 1 : undefined;
    return { weekday: day, hour: Number(m[2]), minute: Number(m[3]), text: t.trim() };
  })
  .meta({ description: 'local time of the hand-off, "09:00", or for weekly rotations "Mon 09:00"' });

const date = z
  .string()
  .transform((v, ctx) => {
    const s = v.trim();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || !DateTime.fromISO(s, { zone: 'UTC' }).isValid) {
      ctx.addIssue({ code: 'custom', message: `expected a date like 2026-01-05, got "${String(v)}"` });
      return z.NEVER;
    }
    return s;
  })
  .meta({ description: 'a date, YYYY-MM-DD' });

/** A local date-time in the schedule's zone ("2026-03-28 09:00", "2026-03-28T09:00") or an instant with an offset. */
const localTime = z
  .string()
  .transform((v, ctx) => {
    const s = v.trim().replace(' ', 'T');
    if (!DateTime.fromISO(s, { zone: 'UTC' }).isValid) {
      ctx.addIssue({ code: 'custom', message: `expected a date and time like "2026-03-28 09:00" (in the schedule's time zone) or an ISO time with an offset, got "${v}"` });
      return z.NEVER;
    }
    return { text: s, offset: /(Z|[+-]\d\d:?\d\d)$/i.test(s) };
  });

const layerSchema = z
  .object({
    name: z.string().max(100).optional(),
    rotation,
    handoff: handoff.prefault('09:00'),
    start: date.meta({ description: 'the first shift starts on this date at the hand-off time; nobody from this layer is on call before it' }),
    people: z.array(z.string()).min(1).meta({ description: 'keys of people:, in rotation order' }),
  })
  .strict();

const overrideSchema = z
  .object({
    person: z.string(),
    from: localTime,
    to: localTime,
    reason: z.string().max(500).optional(),
  })
  .strict();

const zone = z
  .string()
  .default('UTC')
  .refine((v) => IANAZone.isValidZone(v), { message: 'expected an IANA time zone like Europe/Berlin or America/New_York' });

const scheduleSchema = z
  .object({
    time_zone: zone,
    layers: z.array(layerSchema).min(1).max(20).meta({ description: 'later layers win where they have someone on call' }),
    overrides: z.array(overrideSchema).max(500).default([]).meta({ description: 'one-off swaps; they win over every layer; overlapping overrides are a config error' }),
  })
  .strict();

const target = z.string().regex(/^(schedule|person):[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected schedule:<name> or person:<name>');

const policySchema = z
  .object({
    severities: z.array(z.string()).optional().meta({ description: 'incidents of these severities use this policy (default: any); the first matching policy wins' }),
    steps: z
      .array(
        z
          .object({
            after: duration().meta({ description: 'from the incident opening (or the round starting)' }),
            notify: z.array(target).min(1),
          })
          .strict(),
      )
      .min(1)
      .max(20),
    repeat: z.number().int().min(0).max(10).default(0).meta({ description: 'run the steps this many more times while nobody acknowledges' }),
    repeat_after: duration().default(15 * 60_000).meta({ description: 'pause between the last step of a round and the next round' }),
  })
  .strict()
  .superRefine((p, ctx) => {
    p.steps.forEach((s, i) => {
      if (i > 0 && s.after < p.steps[i - 1]!.after) ctx.addIssue({ code: 'custom', message: 'steps are in order: each step\'s after is at least the previous one\'s', path: ['steps', i, 'after'] });
    });
  });

export const oncallSchema = z
  .object({
    schedules: z.record(nameKey('schedule'), scheduleSchema).default({}),
    escalation: z.record(nameKey('policy'), policySchema).default({}),
    email_channel: z.string().optional().meta({ description: 'an email channel of notify.channels whose SMTP server sends pages to people\'s own addresses' }),
    link_ttl: duration().default(24 * 3_600_000).meta({ description: 'ack / resolve links in pages expire after this' }),
    check_every: duration().default(5000).meta({ description: 'how often due escalation steps are looked for' }),
  })
  .strict();

export type OncallConfig = z.output<typeof oncallSchema>;
export type ScheduleConfig = OncallConfig['schedules'][string];
export type LayerConfig = ScheduleConfig['layers'][number];
export type PolicyConfig = OncallConfig['escalation'][string];

export type OncallRaw = CoreConfig & { people: Record<string, PersonConfig>; oncall: OncallConfig; notify?: { channels: Record<string, Record<string, unknown>> } };

/** An override's bounds as instants (local times are read in the schedule's zone; one that happens twice, in standard time). */
export function instantOf(t: { text: string; offset: boolean }, zoneName: string): number {
  return t.offset ? DateTime.fromISO(t.text, { setZone: true }).toMillis() : localInstant(DateTime.fromISO(t.text, { zone: zoneName }));
}

export function validateOncall(raw: OncallRaw): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const people = raw.people ?? {};
  const channels = raw.notify?.channels ?? {};
  for (const [key, p] of Object.entries(people)) {
    p.channels.forEach((c, i) => {
      if (!(c in channels)) out.push({ path: ['people', key, 'channels', i], message: `unknown channel "${c}"; channels: ${Object.keys(channels).join(', ') || 'none defined (add them under notify.channels)'}` });
    });
  }
  const knownPerson = (name: string, path: (string | number)[]) => {
    if (!(name in people)) out.push({ path, message: `unknown person "${name}"; people: ${Object.keys(people).join(', ') || 'none defined (add them under people:)'}` });
  };
  const oc = raw.oncall;
  if (oc.email_channel !== undefined) {
    const ch = channels[oc.email_channel];
    if (!ch) out.push({ path: ['oncall', 'email_channel'], message: `unknown channel "${oc.email_channel}"; channels: ${Object.keys(channels).join(', ') || 'none defined'}` });
    else if (ch.email === undefined) out.push({ path: ['oncall', 'email_channel'], message: `the channel "${oc.email_channel}" is not an email channel` });
  }
  for (const [sname, s] of Object.entries(oc.schedules)) {
    s.layers.forEach((l, li) => {
      l.people.forEach((p, pi) => knownPerson(p, ['oncall', 'schedules', sname, 'layers', li, 'people', pi]));
      if (l.handoff.weekday !== undefined) {
        const wd = DateTime.fromISO(l.start, { zone: s.time_zone }).weekday;
        if (wd !== l.handoff.weekday) out.push({ path: ['oncall', 'schedules', sname, 'layers', li, 'start'], message: `${l.start} is a ${WEEKDAYS[wd - 1]}, but the hand-off is on ${WEEKDAYS[l.handoff.weekday - 1]} ("${l.handoff.text}"); start on a ${WEEKDAYS[l.handoff.weekday - 1]}` });
      }
    });
    const spans = s.overrides.map((o, i) => ({ i, from: instantOf(o.from, s.time_zone), to: instantOf(o.to, s.time_zone) }));
    s.overrides.forEach((o, i) => knownPerson(o.person, ['oncall', 'schedules', sname, 'overrides', i, 'person']));
    for (const a of spans) {
      if (a.to <= a.from) out.push({ path: ['oncall', 'schedules', sname, 'overrides', a.i, 'to'], message: 'an override ends after it starts' });
    }
    // overlapping overrides are ambiguous (who is on call in the overlap?): refuse them
    const sorted = spans.filter((x) => x.to > x.from).sort((x, y) => x.from - y.from);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1]!;
      const cur = sorted[k]!;
      if (cur.from < prev.to) {
        const [first, second] = prev.i < cur.i ? [prev, cur] : [cur, prev];
        out.push({ path: ['oncall', 'schedules', sname, 'overrides', second.i], message: `this override overlaps override ${first.i + 1} (${s.overrides[first.i]!.person}, ${s.overrides[first.i]!.from.text} – ${s.overrides[first.i]!.to.text}); overrides of a schedule may not overlap` });
      }
    }
  }
  for (const [pname, p] of Object.entries(oc.escalation)) {
    p.steps.forEach((st, si) =>
      st.notify.forEach((t, ti) => {
        const [kind, name] = t.split(':') as [string, string];
        const path = ['oncall', 'escalation', pname, 'steps', si, 'notify', ti];
        if (kind === 'person') knownPerson(name, path);
        else if (!(name in oc.schedules)) out.push({ path, message: `unknown schedule "${name}"; schedules: ${Object.keys(oc.schedules).join(', ') || 'none defined'}` });
      }),
    );
  }
  return out;
}

export const oncallConfig = {
  sections: {
    people: z.record(nameKey('person'), personSchema).default({}).meta({ description: 'people who can be on call: name, email, notification channels' }),
    oncall: oncallSchema.prefault({}),
  },
  validate: validateOncall,
};
