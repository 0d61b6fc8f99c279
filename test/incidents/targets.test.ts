import { describe, expect, it } from 'vitest';
import { incidentsSchema, levelsOf, resolveLevel } from '../../src/incidents/config.js';
import { downtime } from '../../src/incidents/postmortem.js';
import { nextBusinessDayEnd, targetsOf } from '../../src/incidents/targets.js';

describe('incident severities and targets', () => {
  it('defaults to P0–P3 with the usual targets, or SEV1–SEV4', () => {
    const p = levelsOf(incidentsSchema.parse({}));
    expect(p.map((l) => l.name)).toEqual(['P0', 'P1', 'P2', 'P3']);
    expect(p[0]?.ack).toEqual({ kind: 'duration', ms: 15 * 60_000 });
    expect(p[3]?.ack).toEqual({ kind: 'next_business_day' });
    const sev = levelsOf(incidentsSchema.parse({ scheme: 'SEV1-SEV4' }));
    expect(sev.map((l) => l.name)).toEqual(['SEV1', 'SEV2', 'SEV3', 'SEV4']);
    expect(resolveLevel(sev, 'P0')?.name).toBe('SEV1');
    expect(resolveLevel(sev, 'sev3')?.name).toBe('SEV3');
    expect(resolveLevel(sev, 'P7')).toBeUndefined();
  });

  it('refuses bad targets, time zones and duplicate names with the key', () => {
    const r = incidentsSchema.safeParse({ severities: [{ name: 'A', ack: 'soon' }], business_hours: { time_zone: 'Mars/Olympus' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['severities.0.ack', 'business_hours.time_zone']));
    const dup = incidentsSchema.safeParse({ severities: [{ name: 'A' }, { name: 'a' }] });
    expect(dup.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['severities.1.name: duplicate severity "a"']);
  });

  it('puts "next business day" at the end of business hours of the next working day, in the time zone', () => {
    const bh = incidentsSchema.parse({ business_hours: { time_zone: 'Europe/Berlin', start: '09:00', end: '17:00' } }).business_hours;
    // Friday 2025-01-10 15:00 Berlin (14:00 UTC) → Monday 2025-01-13 17:00 Berlin (16:00 UTC)
    expect(new Date(nextBusinessDayEnd(Date.parse('2025-01-10T14:00:00Z'), bh)).toISOString()).toBe('2025-01-13T16:00:00.000Z');
    // 2025-07-01T21:30Z is Tuesday 23:30 in Berlin (CEST) → Wednesday 17:00 CEST
    expect(new Date(nextBusinessDayEnd(Date.parse('2025-07-01T21:30:00Z'), bh)).toISOString()).toBe('2025-07-02T15:00:00.000Z');
  });

  it('ticks ack, first update, recurring update and resolve targets', () => {
    const level = { name: 'P1', ack: { kind: 'duration' as const, ms: 1000 }, first_update: { kind: 'duration' as const, ms: 2000 }, update_every: 5000, resolve: { kind: 'duration' as const, ms: 10_000 } };
    const bh = incidentsSchema.parse({}).business_hours;
    const t = targetsOf({ opened_at: 0, acknowledged_at: 500, mitigated_at: null, resolved_at: null, first_update_at: 3000, last_update_at: 3000 }, level, bh);
    expect(t).toEqual([
      { target: 'ack', key: 'ack', due: 1000, met: 500 },
      { target: 'first_update', key: 'first_update', due: 2000, met: 3000 },
      { target: 'update', key: 'update@3000', due: 8000, met: null },
      { target: 'resolve', key: 'resolve', due: 10_000, met: null },
    ]);
  });

  it('measures downtime from service state changes inside the window', () => {
    const ev = (id: number, at: number, from: string, to: string) => ({ id, at: new Date(at).toISOString(), type: 'service.state', actor: 'schedule', subject: 'service:web', data: { service: 'web', from, to } });
    const d = downtime([ev(1, 1000, 'up', 'down'), ev(2, 4000, 'down', 'degraded'), ev(3, 6000, 'degraded', 'up')], ['web'], 0, 10_000);
    expect(d.get('web')).toEqual({ down: 3000, degraded: 2000 });
  });
});
