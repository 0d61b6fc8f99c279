/**
 * Grandfather-father-son retention of backups, as a pure function of the list, the policy and a
 * time zone (no clock, no disk), so `db prune --dry-run`, the scheduler and the tests share it.
 *
 * Each rule keeps the newest backup of each of the N most recent periods that have a backup (the
 * meaning restic's and borg's `--keep-daily` have): `daily` counts local calendar days, `weekly` ISO
 * weeks (Monday to Sunday, numbered by ISO week-year), `monthly` calendar months and `yearly`
 * years, all in the schedule's time zone, so a backup taken at 00:30 local time belongs to the day
 * it was taken on, across daylight-saving changes. `last` keeps the N newest whatever their age.
 * Days without a backup use no slot: when backups stop, old ones are not pruned away for it.
 *
 * Inside a period the newest backup that did not fail verification is picked (the newest one
 * when all failed), so a bad dump never displaces a good one of the same day. On top of the rules,
 * the newest verified backup is always kept, and so is any backup that is busy (being verified
 * or restored) or has no readable date.
 */
import { DateTime } from 'luxon';

export interface RetentionPolicy {
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

export interface RetentionItem {
  id: string;
  /** ISO 8601 instant the backup was taken */
  created_at: string;
  /** true: verified by a restore; false: verification failed; null: not verified */
  verified: boolean | null;
  /** being verified or restored right now: never deleted */
  busy?: boolean;
}

export type KeepRule = 'last' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'newest-verified' | 'busy' | 'undated';

export interface RetentionDecision {
  id: string;
  created_at: string;
  keep: boolean;
  /** why it is kept, e.g. `{ rule: 'daily', period: '2026-03-29' }`; empty when it is pruned */
  reasons: { rule: KeepRule; period?: string }[];
}

const PERIOD: Record<'daily' | 'weekly' | 'monthly' | 'yearly', (d: DateTime) => string> = {
  daily: (d) => d.toFormat('yyyy-MM-dd'),
  // ISO week-year and week number: 2026-12-31 (a Thursday) is in 2026-W53, 2027-01-01 too
  weekly: (d) => `${d.weekYear}-W${String(d.weekNumber).padStart(2, '0')}`,
  monthly: (d) => d.toFormat('yyyy-MM'),
  yearly: (d) => d.toFormat('yyyy'),
};

/**
 * Decide which backups to keep. Returns one decision per item, newest first; an item is pruned
 * when no rule keeps it.
 */
export function planRetention(items: readonly RetentionItem[], policy: RetentionPolicy, zone = 'UTC'): RetentionDecision[] {
  const dated = items.map((it) => ({ it, at: Date.parse(it.created_at) }));
  // newest first; equal instants by id, so the plan is the same on every run
  const key = (at: number) => (Number.isNaN(at) ? Number.MAX_SAFE_INTEGER : at);
  dated.sort((a, b) => key(b.at) - key(a.at) || b.it.id.localeCompare(a.it.id));
  const out: RetentionDecision[] = dated.map(({ it }) => ({ id: it.id, created_at: it.created_at, keep: false, reasons: [] }));
  const keep = (i: number, rule: KeepRule, period?: string) => {
    const d = out[i] as RetentionDecision;
    d.keep = true;
    d.reasons.push(period === undefined ? { rule } : { rule, period });
  };

  dated.forEach(({ it, at }, i) => {
    if (Number.isNaN(at)) keep(i, 'undated');
    if (it.busy) keep(i, 'busy');
  });
  const valid = dated.map((d, i) => ({ ...d, i })).filter((d) => !Number.isNaN(d.at));

  for (let n = 0; n < Math.min(policy.last, valid.length); n++) keep((valid[n] as { i: number }).i, 'last');

  for (const rule of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const want = policy[rule];
    if (want <= 0) continue;
    // periods in order of their newest backup (newest period first), each with its backups newest first
    const periods = new Map<string, { i: number; failed: boolean }[]>();
    for (const d of valid) {
      const key = PERIOD[rule](DateTime.fromMillis(d.at, { zone }));
      let list = periods.get(key);
      if (!list) periods.set(key, (list = []));
      list.push({ i: d.i, failed: d.it.verified === false });
    }
    let taken = 0;
    for (const [period, list] of periods) {
      if (taken >= want) break;
      const pick = list.find((x) => !x.failed) ?? (list[0] as { i: number });
      keep(pick.i, rule, period);
      taken++;
    }
  }

  const newestVerified = valid.find((d) => d.it.verified === true);
  if (newestVerified) keep(newestVerified.i, 'newest-verified');
  return out;
}

/** A reason as one short phrase: `daily 2026-03-29`, `newest verified`. */
export function reasonText(r: { rule: KeepRule; period?: string }): string {
  switch (r.rule) {
    case 'newest-verified':
      return 'newest verified';
    case 'busy':
      return 'in use (being verified or restored)';
    case 'undated':
      return 'no readable date';
    case 'last':
      return 'one of the newest (last)';
    default:
      return `${r.rule} ${r.period ?? ''}`.trim();
  }
}
