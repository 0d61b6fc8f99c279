/**
 * Recurring windows: RRULEs read in the window's zone keep their local time across daylight-saving
 * changes (Europe/Berlin in March and October, America/New_York), and config mistakes are
 * refused with the file, line and key.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { occurrences } from '../../src/maintenance/time.js';
import { parseConfig } from '../../src/modules.js';
import { inEachSeason } from '../helpers/seasons.js';

const iso = (list: number[]) => list.map((t) => new Date(t).toISOString());
const H = 3_600_000;

describe('recurrence across daylight-saving changes', () => {
  it('keeps "Sundays 09:00 Europe/Berlin" at 09:00 local across the March and October changes', () => {
    const spec = { rrule: 'FREQ=WEEKLY;BYDAY=SU', start: '09:00', timezone: 'Europe/Berlin', duration: 2 * H };
    // 29 March 2026: CET (+1) → CEST (+2)
    expect(iso(occurrences(spec, Date.parse('2026-03-20T00:00:00Z'), 3))).toEqual(['2026-03-22T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-04-05T07:00:00.000Z']);
    // 25 October 2026: CEST → CET
    expect(iso(occurrences(spec, Date.parse('2026-10-15T00:00:00Z'), 3))).toEqual(['2026-10-18T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-11-01T08:00:00.000Z']);
  });

  it('moves a start in the spring-forward gap forward by the gap, and reads a doubled autumn hour once, in standard time', () => {
    const spec = { rrule: 'FREQ=DAILY', start: '02:30', timezone: 'Europe/Berlin', duration: H };
    // 02:30 does not exist on 29 March (02:00 → 03:00): it is 03:30 CEST
    expect(iso(occurrences(spec, Date.parse('2026-03-27T12:00:00Z'), 3))).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    // 02:30 happens twice on 25 October: one window, at 02:30 CET
    const oct = iso(occurrences(spec, Date.parse('2026-10-23T12:00:00Z'), 3));
    expect(oct).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('gives the same instants whatever the season the server runs in', () => {
    // luxon guesses a local time's offset from the zone's offset now; a doubled autumn hour read in
    // summer came out in summer time (00:30Z), in winter in standard time (01:30Z)
    const spec = { rrule: 'FREQ=DAILY', start: '02:30', timezone: 'Europe/Berlin', duration: H };
    inEachSeason((now) => {
      expect(iso(occurrences(spec, Date.parse('2026-10-23T12:00:00Z'), 3)), now).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-26T01:30:00.000Z']);
      expect(iso(occurrences(spec, Date.parse('2026-03-27T12:00:00Z'), 3)), now).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    });
  });

  it('follows the US change too, and the first Tuesday of each month in UTC', () => {
    const ny = { rrule: 'FREQ=WEEKLY;BYDAY=TU', start: '02:00', timezone: 'America/New_York', duration: 2 * H };
    // 8 March 2026: EST (-5) → EDT (-4)
    expect(iso(occurrences(ny, Date.parse('2026-03-01T00:00:00Z'), 2))).toEqual(['2026-03-03T07:00:00.000Z', '2026-03-10T06:00:00.000Z']);
    const monthly = { rrule: 'FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1', start: '02:00', timezone: 'UTC', duration: 2 * H };
    expect(iso(occurrences(monthly, Date.parse('2026-12-02T10:00:00Z'), 3))).toEqual(['2027-01-05T02:00:00.000Z', '2027-02-02T02:00:00.000Z', '2027-03-02T02:00:00.000Z']);
  });

  it('counts an occurrence in progress as the next one, and stops at until:', () => {
    const spec = { rrule: 'FREQ=DAILY', start: '02:00', timezone: 'UTC', duration: 2 * H, until: '2026-05-03' };
    expect(iso(occurrences(spec, Date.parse('2026-05-01T03:00:00Z'), 5))).toEqual(['2026-05-01T02:00:00.000Z', '2026-05-02T02:00:00.000Z', '2026-05-03T02:00:00.000Z']);
  });
});

describe('maintenance: in the config', () => {
  const load = (windows: string) =>
    parseConfig(
      `services:
  api: {}
maintenance:
  windows:
${windows}`,
      'shipshape.yaml',
      { env: {} },
    );
  const error = (windows: string): string => {
    try {
      load(windows);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error('expected a config error');
  };

  it('accepts the guides\' window: monthly, Tuesday 02:00–04:00 UTC, max 2 hours, 48 hours notice', () => {
    const c = load(`    - { name: db-upgrades, services: [api], rrule: "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1", start: "02:00", duration: 2h, max: 2h, timezone: UTC, notice: 48h }`);
    expect(c.raw.maintenance.windows[0]).toMatchObject({ name: 'db-upgrades', duration: 2 * H, max: 2 * H, notice: 48 * H, timezone: 'UTC', auto_end: true });
    expect(c.raw.maintenance.notice).toBe(48 * H);
  });

  it('names the file, line and key of each mistake', () => {
    expect(error(`    - { name: a, services: [nope], starts: "2026-05-01T02:00:00Z", duration: 1h }`)).toMatch(/shipshape\.yaml:5:\d+.*maintenance\.windows\[0\]\.services\[0\].*unknown service "nope"/s);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=HOURLY", start: "02:00", duration: 1h }`)).toMatch(/maintenance\.windows\[0\]\.rrule.*FREQ must be YEARLY, MONTHLY, WEEKLY or DAILY/s);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=WEEKLY;BYDAY=XX", start: "02:00", duration: 1h }`)).toMatch(/maintenance\.windows\[0\]\.rrule.*BYDAY takes MO, TU/s);
    expect(error(`    - { name: a, services: [api], rrule: "EVERY=TUESDAY", start: "02:00", duration: 1h }`)).toMatch(/maintenance\.windows\[0\]\.rrule.*not an RRULE/s);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", start: "02:00", duration: 1h }`)).toMatch(/matches no date/);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=YEARLY;BYMONTH=13", start: "02:00", duration: 1h }`)).toMatch(/BYMONTH must be from 1 to 12/);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=DAILY;BYHOUR=3", start: "02:00", duration: 1h }`)).toMatch(/leave out BYHOUR/);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=WEEKLY", duration: 1h }`)).toMatch(/maintenance\.windows\[0\]\.start.*needs start:/s);
    expect(error(`    - { name: a, services: [api], duration: 1h }`)).toMatch(/either starts: .* or rrule:/s);
    expect(error(`    - { name: a, services: [api], starts: "2026-05-01T02:00:00Z", duration: 0s }`)).toMatch(/maintenance\.windows\[0\]\.duration.*more than 0/s);
    expect(error(`    - { name: a, services: [api], starts: "2026-05-01T02:00:00Z", duration: 3h, max: 2h }`)).toMatch(/maintenance\.windows\[0\]\.max.*shorter than duration/s);
    expect(error(`    - { name: a, services: [api], rrule: "FREQ=DAILY", start: "02:00", duration: 1h, timezone: Mars/Olympus }`)).toMatch(/maintenance\.windows\[0\]\.timezone.*IANA time zone/s);
    expect(error(`    - { name: a, services: [api], starts: "tomorrow", duration: 1h }`)).toMatch(/maintenance\.windows\[0\]\.starts.*RFC 3339/s);
    expect(error(`    - { name: a, services: [api], starts: "2026-05-01T02:00:00Z", duration: 1h }\n    - { name: a, services: [api], starts: "2026-06-01T02:00:00Z", duration: 1h }`)).toMatch(/duplicate window name "a"/);
  });
});
