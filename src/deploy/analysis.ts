/**
 * Judging a new release against the one before it, Flagger-style: in a window, the share of
 * requests that did not fail must be at least `success_rate`, and its p95 at most `p95_ratio`
 * times the previous release's — and more than `p95_slack` above it, so that a fast app's few
 * milliseconds of noise (a release just started, a loaded host) fail nothing; a window with fewer
 * than `min_requests` requests is not judged.
 */
import { formatPercent } from '../core/config/units.js';
import type { AnalysisConfig } from './config.js';
import type { WindowStats } from './stats.js';

export interface Verdict {
  /** true: passed · false: failed (roll back) · null: too little traffic to judge */
  ok: boolean | null;
  /** one line a person reads: the figures and the thresholds */
  reason: string;
  release: WindowStats;
  baseline: WindowStats | null;
}

const ms = (v: number | null) => (v === null ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

export function judge(cand: WindowStats, base: WindowStats | null, a: Pick<AnalysisConfig, 'success_rate' | 'p95_ratio' | 'p95_slack' | 'min_requests'>): Verdict {
  const figures = `${cand.requests} requests, ${cand.errors} failed (success ${formatPercent(cand.successRate, 2)}), p95 ${ms(cand.p95)}`;
  if (cand.requests < a.min_requests) return { ok: null, reason: `${figures}: fewer than ${a.min_requests} requests, not judged`, release: cand, baseline: base };
  if (cand.successRate < a.success_rate) return { ok: false, reason: `${figures}: success rate below ${formatPercent(a.success_rate, 2)}`, release: cand, baseline: base };
  if (base && base.requests >= a.min_requests && base.p95 !== null && cand.p95 !== null && cand.p95 > base.p95 * a.p95_ratio && cand.p95 - base.p95 > a.p95_slack) {
    return { ok: false, reason: `${figures}: p95 above ${a.p95_ratio}× the previous release's ${ms(base.p95)} (and more than ${ms(a.p95_slack)} above it)`, release: cand, baseline: base };
  }
  const against = base && base.requests >= a.min_requests ? `; previous release p95 ${ms(base.p95)}, success ${formatPercent(base.successRate, 2)}` : '; no baseline with enough requests for p95';
  return { ok: true, reason: `${figures}${against}`, release: cand, baseline: base };
}
