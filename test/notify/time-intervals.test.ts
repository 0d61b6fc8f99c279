/**
 * Alertmanager's time intervals (cases of timeinterval/timeinterval_test.go) and what they do to a
 * route: mute_time_intervals hold its notifications while active, active_time_intervals allow them
 * only then; what still fires is told once the route may send again.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { compileTimeInterval, containsTime, timeIntervalSchema, type TimeIntervalConfig } from '../../src/notify/time-intervals.js';
import { alert, harness, useNotifyFixture } from './helpers.js';

/** Go's RFC822Z, "02 Jan 06 15:04 +0000" */
function rfc822z(s: string): number {
  const m = /^(\d{1,2}) (\w{3}) (\d{2}) (\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) throw new Error(`bad test time ${s}`);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[2]!);
  const off = (m[6] === '-' ? -1 : 1) * (Number(m[7]) * 60 + Number(m[8])) * 60_000;
  return Date.UTC(2000 + Number(m[3]), mon, Number(m[1]), Number(m[4]), Number(m[5])) - off;
}

const interval = (c: TimeIntervalConfig) => compileTimeInterval(timeIntervalSchema.parse(c));

describe('ContainsTime (timeinterval_test.go)', () => {
  const cases: [string, TimeIntervalConfig, string[], string[]][] = [
    ['an empty interval holds always', {}, ['02 Jan 06 15:04 +0000', '03 Jan 07 10:04 +0000'], []],
    ['9am to 5pm, monday to friday', { times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'] }, ['04 May 20 15:04 +0000', '05 May 20 10:04 +0000', '09 Jun 20 09:04 +0000'], ['03 May 20 15:04 +0000', '04 May 20 08:59 +0000', '05 May 20 05:00 +0000']],
    ['Easter 2020', { days_of_month: ['4:6'], months: ['april'], years: ['2020'] }, ['04 Apr 20 15:04 +0000', '05 Apr 20 00:00 +0000', '06 Apr 20 23:05 +0000'], ['03 May 18 15:04 +0000', '03 Apr 20 23:59 +0000', '04 Jun 20 23:59 +0000', '06 Apr 19 23:59 +0000', '07 Apr 20 00:00 +0000']],
    ['the last 3 days of each month', { days_of_month: ['-3:-1'] }, ['31 Jan 20 15:04 +0000', '30 Jan 20 15:04 +0000', '29 Jan 20 15:04 +0000', '30 Jun 20 00:00 +0000', '29 Feb 20 23:05 +0000'], ['03 May 18 15:04 +0000', '27 Jan 20 15:04 +0000', '03 Apr 20 23:59 +0000', '04 Jun 20 23:59 +0000', '06 Apr 19 23:59 +0000', '07 Apr 20 00:00 +0000', '01 Mar 20 00:00 +0000']],
    ['AEST 9am to 5pm, monday to friday', { times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'], location: 'Australia/Sydney' }, ['06 Apr 21 13:00 +1000'], ['06 Apr 21 13:00 +0000']],
    ['Sydney during daylight saving time', { times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'], months: ['november'], location: 'Australia/Sydney' }, ['01 Nov 21 09:00 +1100', '31 Oct 21 22:00 +0000'], ['31 Oct 21 21:00 +0000']],
    ['the last day does not shift in a spring-forward month', { days_of_month: ['-1'], location: 'America/New_York' }, ['31 Mar 21 12:00 -0400'], ['30 Mar 21 12:00 -0400']],
    ['last week of the first quarter, business hours, 2020-2025 and 2030-2035', { weekdays: ['monday:friday', 'sunday'], months: ['january:march'], days_of_month: ['-7:-1'], years: ['2020:2025', '2030:2035'], times: [{ start_time: '09:00', end_time: '17:00' }] }, ['27 Jan 21 09:00 +0000', '28 Jan 21 16:59 +0000', '29 Jan 21 13:00 +0000', '31 Mar 25 13:00 +0000', '31 Jan 35 13:00 +0000'], ['30 Jan 21 13:00 +0000', '01 Apr 21 13:00 +0000', '30 Jan 26 13:00 +0000', '31 Jan 35 17:01 +0000']],
    ['the whole day', { times: [{ start_time: '00:00', end_time: '24:00' }] }, ['01 Apr 21 23:59 +0000'], []],
  ];
  for (const [name, cfg, yes, no] of cases)
    it(name, () => {
      const ti = interval(cfg);
      for (const t of yes) expect(containsTime(ti, rfc822z(t)), `contains ${t}`).toBe(true);
      for (const t of no) expect(containsTime(ti, rfc822z(t)), `excludes ${t}`).toBe(false);
    });

  it('out of bound days are clamped to the month (a range the config refuses, as in Alertmanager)', () => {
    const ti = { months: [{ begin: 6, end: 6 }], daysOfMonth: [{ begin: -31, end: 31 }] };
    for (const t of ['30 Jun 20 00:00 +0000', '01 Jun 20 00:00 +0000']) expect(containsTime(ti, rfc822z(t)), t).toBe(true);
    for (const t of ['31 May 20 00:00 +0000', '1 Jul 20 00:00 +0000']) expect(containsTime(ti, rfc822z(t)), t).toBe(false);
  });

  const errors: [TimeIntervalConfig, RegExp][] = [
    [{ times: [{ start_time: '01:99', end_time: '23:59' }] }, /couldn't parse timestamp 01:99, invalid format/],
    [{ times: [{ start_time: '00:00', end_time: '99:99' }] }, /couldn't parse timestamp 99:99, invalid format/],
    [{ times: [{ start_time: '17:31', end_time: '17:31' }] }, /start time cannot be equal or greater than end time/],
    [{ times: [{ start_time: '12:30', end_time: '24:01' }] }, /couldn't parse timestamp 24:01/],
    [{ weekdays: ['friday:monday'] }, /start day cannot be before end day/],
    [{ weekdays: ['blurgsday:flurgsday'] }, /blurgsday is not a valid weekday/],
    [{ weekdays: ['1:3'] }, /1 is not a valid weekday/],
    [{ days_of_month: ['0'] }, /0 is not a valid day of the month: out of range/],
    [{ days_of_month: ['-50:-20'] }, /-50 is not a valid day of the month: out of range/],
    [{ days_of_month: ['1:50'] }, /50 is not a valid day of the month: out of range/],
    [{ days_of_month: ['-15:5'] }, /end day must be negative if start day is negative/],
    [{ days_of_month: ['10:-25'] }, /end day -25 is always before start day 10/],
    [{ months: ['martius:june'] }, /martius is not a valid month/],
    [{ months: ['december:january'] }, /end month january is before start month december/],
    [{ years: ['2022:2020'] }, /end year 2020 is before start year 2022/],
    [{ location: 'Mars/Olympus' }, /unknown time zone Mars\/Olympus/],
  ];
  for (const [cfg, want] of errors) it(`refuses ${JSON.stringify(cfg)}`, () => expect(() => timeIntervalSchema.parse(cfg)).toThrow(want));

  it('accepts months in any case and negative day ranges (1:-1)', () => {
    expect(() => interval({ months: ['January:december'], days_of_month: ['1:-1'] })).not.toThrow();
  });

  it('errors in the config name file:line and key', () => {
    const text = 'notify:\n  channels:\n    a: { webhook: { url: "http://x/" } }\n  time_intervals:\n    - name: office\n      time_intervals:\n        - weekdays: [monday:friday]\n          months: [martius]\n';
    expect(() => parseConfig(text, 'f.yaml', { env: {} })).toThrow(/f\.yaml:8:\d+: notify\.time_intervals\[0\]\.time_intervals\[0\]\.months\[0\]: martius is not a valid month/);
    const dup = 'notify:\n  time_intervals:\n    - name: x\n  mute_time_intervals:\n    - name: x\n';
    expect(() => parseConfig(dup, 'f.yaml', { env: {} })).toThrow(/time interval "x" is not unique/);
  });
});

describe('routes in time intervals', () => {
  const f = useNotifyFixture('shipshape-ti-');

  const config = () => `
notify:
  channels:
    chat: { webhook: { url: "${f.rx.url}/chat" } }
    pager: { webhook: { url: "${f.rx.url}/pager" } }
  inhibit_rules: []
  mute_time_intervals:
    - name: nights
      time_intervals:
        - times: [{ start_time: "22:00", end_time: "24:00" }, { start_time: "00:00", end_time: "07:00" }]
          location: Europe/Berlin
  time_intervals:
    - name: office-hours
      time_intervals:
        - weekdays: ["monday:friday"]
          times: [{ start_time: "09:00", end_time: "17:00" }]
          location: Europe/Berlin
  route:
    receiver: chat
    group_wait: 0s
    group_interval: 1m
    routes:
      - matchers: [team=web]
        receiver: chat
        mute_time_intervals: [nights]
      - matchers: [team=ops]
        receiver: pager
        active_time_intervals: [office-hours]
`;
  const sent = (path: string) => f.rx.requests.filter((r) => r.path === path).flatMap((r) => (r.json().alerts as { labels: { alertname: string } }[]).map((a) => a.labels.alertname));

  it('mute_time_intervals hold a route while active; the still-firing alert is told when it ends', async () => {
    // Monday 2025-03-03 23:30 in Berlin (22:30 UTC): inside "nights"
    f.h = await harness(f.store, config(), { t: Date.parse('2025-03-03T22:30:00Z') });
    await f.h.fire(alert('web-slow', { team: 'web' }));
    expect(sent('/chat')).toEqual([]);
    expect(f.h.notify.dispatcher.status()[0]).toMatchObject({ timeMutedBy: ['nights'] });
    await f.h.advance(3_600_000); // 00:30 Berlin: still night
    expect(sent('/chat')).toEqual([]);
    await f.h.advance(6.5 * 3_600_000); // 07:00 Berlin
    await f.h.advance(60_000);
    expect(sent('/chat')).toEqual(['web-slow']);
    expect(f.h.notify.dispatcher.status()[0]).toMatchObject({ timeMutedBy: [] });
  });

  it('active_time_intervals allow a route only while one is active', async () => {
    // Saturday 2025-03-01 12:00 UTC: outside office hours
    f.h = await harness(f.store, config(), { t: Date.parse('2025-03-01T12:00:00Z') });
    await f.h.fire(alert('disk', { team: 'ops' }));
    expect(sent('/pager')).toEqual([]);
    expect(f.h.notify.dispatcher.status()[0]).toMatchObject({ timeMutedBy: ['office-hours'] });
    // Monday 09:00 Berlin = 08:00 UTC
    f.h.clock.t = Date.parse('2025-03-03T08:00:00Z');
    await f.h.advance(60_000);
    expect(sent('/pager')).toEqual(['disk']);
    // an alert of another team is not held by ops' hours
    await f.h.fire(alert('web-down', { team: 'web' }));
    expect(sent('/chat')).toEqual(['web-down']);
  });
});
