import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { parseConfig } from '../../src/modules.js';
import { currentShift, onCallAt, shifts } from '../../src/oncall/index.js';
import { inEachSeason } from '../helpers/seasons.js';

const PEOPLE = `
people:
  alice: { name: Alice, email: alice@example.com }
  bob: { name: Bob }
  carol: { name: Carol }
  dave: {}
`;

function schedule(yaml: string, name = 'primary') {
  const c = parseConfig(`${PEOPLE}oncall:\n  schedules:\n${yaml}`, 'test.yaml', { env: {} });
  return c.raw.oncall.schedules[name]!;
}
const berlin = (s: string) => DateTime.fromISO(s, { zone: 'Europe/Berlin' }).toMillis();
const local = (t: number) => DateTime.fromMillis(t, { zone: 'Europe/Berlin' }).toFormat("ccc yyyy-MM-dd HH:mm ZZ");

describe('rotation math', () => {
  it('a weekly Mon 09:00 hand-off stays 09:00 local across both daylight-saving changes (Europe/Berlin 2026-03-29 and 2026-10-25)', () => {
    const s = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers:
        - { rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice, bob] }
`);
    const list = shifts(s, berlin('2026-03-16T00:00'), berlin('2026-04-14T00:00'));
    expect(list.map((x) => [x.person, local(x.start), local(x.end)])).toEqual([
      ['bob', 'Mon 2026-03-16 00:00 +01:00', 'Mon 2026-03-16 09:00 +01:00'], // cut to the window
      ['alice', 'Mon 2026-03-16 09:00 +01:00', 'Mon 2026-03-23 09:00 +01:00'],
      ['bob', 'Mon 2026-03-23 09:00 +01:00', 'Mon 2026-03-30 09:00 +02:00'],
      ['alice', 'Mon 2026-03-30 09:00 +02:00', 'Mon 2026-04-06 09:00 +02:00'],
      ['bob', 'Mon 2026-04-06 09:00 +02:00', 'Mon 2026-04-13 09:00 +02:00'],
      ['alice', 'Mon 2026-04-13 09:00 +02:00', 'Tue 2026-04-14 00:00 +02:00'],
    ]);
    // the week with the change is an hour short (spring) / long (autumn)
    const spring = list[2]!;
    expect(spring.end - spring.start).toBe(167 * 3_600_000);
    const autumn = shifts(s, berlin('2026-10-19T00:00'), berlin('2026-10-27T12:00'));
    const long = autumn.find((x) => local(x.start) === 'Mon 2026-10-19 09:00 +02:00');
    expect(long).toBeDefined();
    expect(local(long!.end)).toBe('Mon 2026-10-26 09:00 +01:00');
    expect(long!.end - long!.start).toBe(169 * 3_600_000);
    // "at T" right around the hand-off after the change
    expect(onCallAt(s, berlin('2026-03-30T08:59'))?.person).toBe('bob');
    expect(onCallAt(s, berlin('2026-03-30T09:00'))?.person).toBe('alice');
    expect(onCallAt(s, berlin('2026-10-26T08:59'))?.person).toBe(long!.person);
    expect(onCallAt(s, berlin('2026-10-26T09:00'))?.person).not.toBe(long!.person);
    // nobody before the layer starts
    expect(onCallAt(s, berlin('2026-01-05T08:59'))).toBeUndefined();
    expect(onCallAt(s, berlin('2026-01-05T09:00'))).toEqual({ person: 'alice', source: 'layer:1' });
  });

  it('daily and every-3-days rotations hand off at the local time on the days of the change', () => {
    const s = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers:
        - { rotation: daily, handoff: "08:00", start: 2026-03-27, people: [alice, bob, carol] }
    custom:
      time_zone: Europe/Berlin
      layers:
        - { rotation: { every: 3d }, handoff: "02:30", start: 2026-03-26, people: [alice, bob] }
`);
    const d = shifts(s, berlin('2026-03-27T08:00'), berlin('2026-03-31T08:00'));
    expect(d.map((x) => `${x.person} ${local(x.start)}`)).toEqual(['alice Fri 2026-03-27 08:00 +01:00', 'bob Sat 2026-03-28 08:00 +01:00', 'carol Sun 2026-03-29 08:00 +02:00', 'alice Mon 2026-03-30 08:00 +02:00']);
    expect(d[1]!.end - d[1]!.start).toBe(23 * 3_600_000);
    // 02:30 does not exist on 2026-03-29 in Berlin: that hand-off moves to 03:30, the next is 02:30 again
    const c = schedule(`
    custom:
      time_zone: Europe/Berlin
      layers:
        - { rotation: { every: 3d }, handoff: "02:30", start: 2026-03-26, people: [alice, bob] }
`, 'custom');
    expect(shifts(c, berlin('2026-03-26T02:30'), berlin('2026-04-04T02:30')).map((x) => `${x.person} ${local(x.start)}`)).toEqual(['alice Thu 2026-03-26 02:30 +01:00', 'bob Sun 2026-03-29 03:30 +02:00', 'alice Wed 2026-04-01 02:30 +02:00']);
  });

  it('later layers win where they have someone; overrides win over every layer', () => {
    const s = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers:
        - { rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice, bob] }
        - { name: new-team, rotation: weekly, handoff: "Mon 09:00", start: 2026-03-23, people: [carol, dave] }
      overrides:
        - { person: bob, from: "2026-03-28 18:00", to: "2026-03-29 18:00", reason: swap }
`);
    expect(onCallAt(s, berlin('2026-03-20T12:00'))).toEqual({ person: 'alice', source: 'layer:1' });
    expect(onCallAt(s, berlin('2026-03-24T12:00'))).toEqual({ person: 'carol', source: 'layer:new-team' });
    expect(onCallAt(s, berlin('2026-03-29T12:00'))).toEqual({ person: 'bob', source: 'override:1' });
    expect(onCallAt(s, berlin('2026-03-29T18:00'))).toEqual({ person: 'carol', source: 'layer:new-team' });
    const cur = currentShift(s, berlin('2026-03-29T12:00'))!;
    expect([local(cur.start), local(cur.end)]).toEqual(['Sat 2026-03-28 18:00 +01:00', 'Sun 2026-03-29 18:00 +02:00']);
    expect(cur.end - cur.start).toBe(23 * 3_600_000);
  });

  it('refuses overlapping overrides, unknown people and channels, and a start off the hand-off day, naming file:line', () => {
    const bad = `people:
  alice: { channels: [chat, nope] }
  bob: {}
notify:
  channels:
    chat: { webhook: { url: "http://127.0.0.1:9/x" } }
oncall:
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers:
        - { rotation: weekly, handoff: "Mon 09:00", start: 2026-01-06, people: [alice, zed] }
      overrides:
        - { person: alice, from: "2026-03-28 09:00", to: "2026-03-29 09:00" }
        - { person: bob, from: "2026-03-29 08:00", to: "2026-03-30 09:00" }
  escalation:
    default:
      steps:
        - { after: 0m, notify: [schedule:primary] }
        - { after: 15m, notify: [person:lead, schedule:secondary] }
`;
    let err: unknown;
    try {
      parseConfig(bad, 'test.yaml', { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/test\.yaml:2:\d+.*unknown channel "nope"/);
    expect(msg).toMatch(/test\.yaml:12:\d+.*2026-01-06 is a Tue, but the hand-off is on Mon/);
    expect(msg).toMatch(/test\.yaml:12:\d+.*unknown person "zed"/);
    expect(msg).toMatch(/test\.yaml:15:\d+.*overlaps override 1 \(alice/);
    expect(msg).toMatch(/test\.yaml:20:\d+.*unknown person "lead"/);
    expect(msg).toMatch(/test\.yaml:20:\d+.*unknown schedule "secondary"/);
  });

  it('reads an override bound and a hand-off in the doubled autumn hour in standard time, whatever the season the server runs in', () => {
    const s = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: daily, start: 2026-01-01, people: [alice] }]
      overrides:
        - { person: bob, from: "2026-10-24 20:00", to: "2026-10-25 02:30" }
`);
    inEachSeason((now) => {
      // 02:30 happens at 00:30Z (summer time) and again at 01:30Z (standard time)
      expect(onCallAt(s, Date.parse('2026-10-25T01:00:00Z'))?.person, now).toBe('bob');
      expect(onCallAt(s, Date.parse('2026-10-25T01:30:00Z'))?.person, now).toBe('alice');
      expect(new Date(currentShift(s, Date.parse('2026-10-25T01:00:00Z'))!.end).toISOString(), now).toBe('2026-10-25T01:30:00.000Z');
    });
    // a daily hand-off at 02:30, anchored in summer: on the fall-back day it is 02:30 standard time too
    const daily = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: daily, handoff: "02:30", start: 2026-07-01, people: [alice, bob] }]
`);
    inEachSeason((now) => {
      const cuts = shifts(daily, Date.parse('2026-10-24T12:00:00Z'), Date.parse('2026-10-26T12:00:00Z')).map((x) => new Date(x.start).toISOString());
      expect(cuts, now).toEqual(['2026-10-24T12:00:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    });
  });

  it('allows back-to-back overrides (one ends when the next starts)', () => {
    const s = schedule(`
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: daily, start: 2026-01-01, people: [alice] }]
      overrides:
        - { person: bob, from: "2026-03-28 09:00", to: "2026-03-29 09:00" }
        - { person: carol, from: "2026-03-29 09:00", to: "2026-03-30T09:00:00+02:00" }
`);
    expect(onCallAt(s, berlin('2026-03-29T08:59'))?.person).toBe('bob');
    expect(onCallAt(s, berlin('2026-03-29T09:00'))?.person).toBe('carol');
    expect(onCallAt(s, berlin('2026-03-30T09:00'))?.person).toBe('alice');
  });
});
