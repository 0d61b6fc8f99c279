/** Grandfather-father-son retention as a pure function: fixed lists of dates, across DST, month and ISO-year boundaries. */
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionItem, type RetentionPolicy } from '../../src/db/index.js';

const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, ...p });
const item = (created_at: string, verified: boolean | null = null, extra: Partial<RetentionItem> = {}): RetentionItem => ({ id: `b-${created_at}`, created_at, verified, ...extra });
const kept = (items: RetentionItem[], p: RetentionPolicy, zone?: string) =>
  planRetention(items, p, zone)
    .filter((d) => d.keep)
    .map((d) => d.created_at);
const why = (items: RetentionItem[], p: RetentionPolicy, zone?: string) => Object.fromEntries(planRetention(items, p, zone).map((d) => [d.created_at, d.reasons.map((r) => (r.period ? `${r.rule} ${r.period}` : r.rule))]));

/** One backup every `everyH` hours from `start` (UTC), `n` of them. */
function series(start: string, everyH: number, n: number, verified: boolean | null = null): RetentionItem[] {
  const t0 = Date.parse(start);
  return Array.from({ length: n }, (_, i) => item(new Date(t0 + i * everyH * 3_600_000).toISOString(), verified));
}

describe('grandfather-father-son retention', () => {
  it('keeps the newest backup of each of the last N days, weeks and months, and prunes the rest', () => {
    // two backups a day (03:00 and 15:00 UTC) from 2026-01-01 to 2026-03-31
    const items = series('2026-01-01T03:00:00.000Z', 12, 90 * 2);
    const plan = planRetention(items, policy({ daily: 7, weekly: 4, monthly: 12 }));
    expect(plan).toHaveLength(180);
    expect(plan[0]?.created_at).toBe('2026-03-31T15:00:00.000Z'); // newest first
    const keep = plan.filter((d) => d.keep).map((d) => d.created_at);
    expect(keep).toEqual([
      // daily: 31 Mar … 25 Mar, the 15:00 one of each day; the newest is also the week's and the month's
      '2026-03-31T15:00:00.000Z',
      '2026-03-30T15:00:00.000Z',
      '2026-03-29T15:00:00.000Z', // Sunday: the newest of ISO week 13
      '2026-03-28T15:00:00.000Z',
      '2026-03-27T15:00:00.000Z',
      '2026-03-26T15:00:00.000Z',
      '2026-03-25T15:00:00.000Z',
      '2026-03-22T15:00:00.000Z', // weekly: W12, W11
      '2026-03-15T15:00:00.000Z',
      '2026-02-28T15:00:00.000Z', // monthly: February, January (only three months have backups)
      '2026-01-31T15:00:00.000Z',
    ]);
    expect(why(items, policy({ daily: 7, weekly: 4, monthly: 12 }))['2026-03-31T15:00:00.000Z']).toEqual(['daily 2026-03-31', 'weekly 2026-W14', 'monthly 2026-03']);
    expect(why(items, policy({ daily: 7, weekly: 4, monthly: 12 }))['2026-03-29T15:00:00.000Z']).toEqual(['daily 2026-03-29', 'weekly 2026-W13']);
    expect(plan.find((d) => d.created_at === '2026-03-31T03:00:00.000Z')).toMatchObject({ keep: false, reasons: [] });
  });

  it('counts days in the schedule\'s time zone across the spring-forward and fall-back changes', () => {
    // backups at 00:30 Berlin time: 23:30 UTC the evening before in winter, 22:30 UTC in summer
    const berlin = ['2026-03-27T23:30:00.000Z', '2026-03-28T23:30:00.000Z', '2026-03-29T22:30:00.000Z', '2026-03-30T22:30:00.000Z'];
    // and a second one at 23:45 local the same local day, which is the newest of that day
    const late = ['2026-03-28T22:45:00.000Z', '2026-03-29T21:45:00.000Z'];
    const items = [...berlin, ...late].map((t) => item(t));
    // in Berlin: 28 Mar (00:30 and 23:45), 29 Mar (00:30 CET, the day has 23 hours, and 23:45 CEST), 30 Mar, 31 Mar
    expect(why(items, policy({ daily: 4 }), 'Europe/Berlin')).toEqual({
      '2026-03-30T22:30:00.000Z': ['daily 2026-03-31'],
      '2026-03-29T22:30:00.000Z': ['daily 2026-03-30'],
      '2026-03-29T21:45:00.000Z': ['daily 2026-03-29'],
      '2026-03-28T23:30:00.000Z': [],
      '2026-03-28T22:45:00.000Z': ['daily 2026-03-28'],
      '2026-03-27T23:30:00.000Z': [],
    });
    // read in UTC the same list has other days: 27 Mar 23:30 is its own day there
    expect(kept(items, policy({ daily: 4 }))).toEqual(['2026-03-30T22:30:00.000Z', '2026-03-29T22:30:00.000Z', '2026-03-28T23:30:00.000Z', '2026-03-27T23:30:00.000Z']);

    // fall back: in Berlin 25 Oct 2026 has 25 hours (02:00–03:00 happens twice)
    const autumn = ['2026-10-24T22:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-25T23:30:00.000Z'].map((t) => item(t));
    // 00:30 CEST, 02:30 CEST, 02:30 CET (the repeated hour) are all 25 Oct in Berlin; 23:30 UTC is 26 Oct 00:30 CET
    expect(why(autumn, policy({ daily: 5 }), 'Europe/Berlin')).toEqual({
      '2026-10-25T23:30:00.000Z': ['daily 2026-10-26'],
      '2026-10-25T01:30:00.000Z': ['daily 2026-10-25'],
      '2026-10-25T00:30:00.000Z': [],
      '2026-10-24T22:30:00.000Z': [],
    });
  });

  it('uses ISO weeks (week-year at the turn of the year) and calendar months, and skips periods without a backup', () => {
    const items = ['2026-12-27T10:00:00Z', '2026-12-28T10:00:00Z', '2026-12-31T10:00:00Z', '2027-01-01T10:00:00Z', '2027-01-03T10:00:00Z', '2027-01-04T10:00:00Z'].map((t) => item(t));
    // 2026-12-27 is a Sunday (W52); 28 Dec 2026 … 3 Jan 2027 is 2026-W53; 4 Jan 2027 starts 2027-W01
    expect(why(items, policy({ weekly: 3 }))).toEqual({
      '2027-01-04T10:00:00Z': ['weekly 2027-W01'],
      '2027-01-03T10:00:00Z': ['weekly 2026-W53'],
      '2027-01-01T10:00:00Z': [],
      '2026-12-31T10:00:00Z': [],
      '2026-12-28T10:00:00Z': [],
      '2026-12-27T10:00:00Z': ['weekly 2026-W52'],
    });
    // months: 31 Jan 23:30 UTC is already February in Berlin; a gap of months without backups uses no slot
    const months = ['2025-06-15T12:00:00Z', '2026-01-31T23:30:00Z', '2026-02-01T08:00:00Z', '2026-02-28T23:30:00Z'].map((t) => item(t));
    expect(why(months, policy({ monthly: 3 }), 'Europe/Berlin')).toEqual({
      '2026-02-28T23:30:00Z': ['monthly 2026-03'],
      '2026-02-01T08:00:00Z': ['monthly 2026-02'],
      '2026-01-31T23:30:00Z': [],
      '2025-06-15T12:00:00Z': ['monthly 2025-06'],
    });
    // in UTC the same instants fall in February, January and June
    expect(kept(months, policy({ monthly: 3 }))).toEqual(['2026-02-28T23:30:00Z', '2026-01-31T23:30:00Z', '2025-06-15T12:00:00Z']);
    expect(kept(months, policy({ yearly: 1, last: 1 }))).toEqual(['2026-02-28T23:30:00Z']);
    expect(kept(months, policy({ yearly: 2 }))).toEqual(['2026-02-28T23:30:00Z', '2025-06-15T12:00:00Z']);
  });

  it('never prunes the newest verified backup, one in use, or one without a date; prefers a good backup over a failed one in a period', () => {
    const items = [
      item('2026-05-10T03:00:00Z', null),
      item('2026-05-09T03:00:00Z', null),
      item('2026-05-08T15:00:00Z', false), // failed verification: the newest of 8 May, but not picked
      item('2026-05-08T03:00:00Z', null),
      item('2026-05-07T03:00:00Z', true), // the newest verified: kept whatever the policy
      item('2026-05-06T03:00:00Z', true),
      item('2026-05-05T03:00:00Z', null, { busy: true }),
      item('not a date', null),
    ];
    expect(why(items, policy({ daily: 3 }))).toEqual({
      '2026-05-10T03:00:00Z': ['daily 2026-05-10'],
      '2026-05-09T03:00:00Z': ['daily 2026-05-09'],
      '2026-05-08T15:00:00Z': [],
      '2026-05-08T03:00:00Z': ['daily 2026-05-08'],
      '2026-05-07T03:00:00Z': ['newest-verified'],
      '2026-05-06T03:00:00Z': [],
      '2026-05-05T03:00:00Z': ['busy'],
      'not a date': ['undated'],
    });
    // a period with only failed backups still keeps one (a broken verifier never empties the directory)
    const allFailed = series('2026-05-01T03:00:00.000Z', 24, 5, false);
    expect(kept(allFailed, policy({ daily: 2 }))).toEqual(['2026-05-05T03:00:00.000Z', '2026-05-04T03:00:00.000Z']);
    // last: N keeps the N newest whatever their day
    expect(kept(series('2026-05-01T00:00:00.000Z', 1, 5), policy({ last: 3 }))).toEqual(['2026-05-01T04:00:00.000Z', '2026-05-01T03:00:00.000Z', '2026-05-01T02:00:00.000Z']);
    expect(planRetention([], policy({ daily: 7 }))).toEqual([]);
  });
});
