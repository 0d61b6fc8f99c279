/**
 * Who is on call, as pure functions of a schedule's config and an instant. Shifts are counted in
 * the schedule's time zone in calendar days (luxon's `plus({ days })` keeps the wall-clock time),
 * so a weekly 09:00 hand-off stays 09:00 local across daylight-saving changes (that week is 167 or
 * 169 hours long). Layers later in the list win where they have someone on call (a layer has
 * someone from its start on); overrides win over every layer (they may not overlap: config error).
 */
import { DateTime } from 'luxon';
import { instantOf, type LayerConfig, type ScheduleConfig } from './config.js';
import { localInstant } from '../core/local-time.js';

export interface OnCall {
  person: string;
  /** `layer:<n>` (1-based, or the layer's name) or `override:<n>` */
  source: string;
}

export interface Shift extends OnCall {
  start: number;
  end: number;
}

function layerAnchor(l: LayerConfig, zone: string): DateTime {
  return DateTime.fromISO(l.start, { zone }).set({ hour: l.handoff.hour, minute: l.handoff.minute, second: 0, millisecond: 0 });
}

const layerName = (l: LayerConfig, i: number) => `layer:${l.name ?? i + 1}`;

/** Start of shift k of a layer (k may be any integer; shift 0 starts at the anchor); a hand-off in the doubled autumn hour is in standard time. */
function shiftStart(anchor: DateTime, days: number, k: number): number {
  return localInstant(anchor.plus({ days: k * days }));
}

/** The index of the layer's shift that contains t (negative before the layer starts). */
export function shiftIndex(l: LayerConfig, zone: string, t: number): number {
  const anchor = layerAnchor(l, zone);
  const days = l.rotation.days;
  // an estimate from elapsed real time, then corrected against the local-calendar boundaries
  let k = Math.floor((t - shiftStart(anchor, days, 0)) / (days * 86_400_000));
  while (shiftStart(anchor, days, k + 1) <= t) k++;
  while (shiftStart(anchor, days, k) > t) k--;
  return k;
}

function layerAt(l: LayerConfig, zone: string, t: number): string | undefined {
  const k = shiftIndex(l, zone, t);
  if (k < 0) return undefined;
  return l.people[k % l.people.length];
}

/** Who is on call in a schedule at instant t (ms), and why; undefined when nobody is. */
export function onCallAt(s: ScheduleConfig, t: number): OnCall | undefined {
  for (let i = 0; i < s.overrides.length; i++) {
    const o = s.overrides[i]!;
    if (instantOf(o.from, s.time_zone) <= t && t < instantOf(o.to, s.time_zone)) return { person: o.person, source: `override:${i + 1}` };
  }
  for (let i = s.layers.length - 1; i >= 0; i--) {
    const l = s.layers[i]!;
    const p = layerAt(l, s.time_zone, t);
    if (p !== undefined) return { person: p, source: layerName(l, i) };
  }
  return undefined;
}

/** Every instant in [from, to) where who is on call may change. */
function boundaries(s: ScheduleConfig, from: number, to: number, max: number): number[] {
  const out = new Set<number>([from]);
  for (const l of s.layers) {
    const anchor = layerAnchor(l, s.time_zone);
    let k = Math.max(0, shiftIndex(l, s.time_zone, from));
    for (let n = 0; n < max; n++, k++) {
      const b = shiftStart(anchor, l.rotation.days, k);
      if (b >= to) break;
      if (b > from) out.add(b);
    }
  }
  for (const o of s.overrides) {
    for (const b of [instantOf(o.from, s.time_zone), instantOf(o.to, s.time_zone)]) if (b > from && b < to) out.add(b);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The shifts of a schedule between two instants, cut to [from, to): consecutive stretches with the
 * same person from the same source; stretches with nobody on call are left out.
 */
export function shifts(s: ScheduleConfig, from: number, to: number, max = 5000): Shift[] {
  if (to <= from) return [];
  const cuts = boundaries(s, from, to, max);
  const out: Shift[] = [];
  for (let i = 0; i < cuts.length && out.length < max; i++) {
    const start = cuts[i]!;
    const end = cuts[i + 1] ?? to;
    const who = onCallAt(s, start);
    const last = out[out.length - 1];
    if (!who) continue;
    if (last && last.end === start && last.person === who.person && last.source === who.source) last.end = end;
    else out.push({ ...who, start, end });
  }
  return out;
}

/** The shift in force at t, with its full extent (looked for up to `horizonMs` either side). */
export function currentShift(s: ScheduleConfig, t: number, horizonMs = 90 * 86_400_000): Shift | undefined {
  const who = onCallAt(s, t);
  if (!who) return undefined;
  const around = shifts(s, t - horizonMs, t + horizonMs);
  return around.find((x) => x.start <= t && t < x.end);
}
