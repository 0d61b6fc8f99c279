/**
 * Judging one parsed rule once against what is known now: telemetry (through the TelemetryQuery
 * contract) and checks (service states, a check's last values, heartbeat pings). Pure apart from
 * the reads, so the engine, the API and `shipshape alerts test` share it.
 */
import type { TelemetryQuery, Stat } from '../telemetry/index.js';
import { formatValue, type CompareOp, type Expr, type ParsedRule } from './expr.js';
import { formatDuration } from '../core/config/units.js';
import type { ChecksQuery as CheckReader } from '../checks/index.js';
import type { BackupSignalReader } from '../db/index.js';

/** What rules read about services and checks (the live Monitor, or the store for the CLI). */
export type { ChecksQuery as CheckReader } from '../checks/index.js';

export interface RuleEvaluation {
  value: number | null;
  valueText: string;
  threshold: number | null;
  thresholdText: string;
  samples: number | null;
  /** the condition holds (after the minimum-samples guard) */
  met: boolean;
  reason: string;
  /** the rule cannot be evaluated (unknown check, heartbeat…): never fires */
  error?: string;
}

export const DEFAULT_MIN_SAMPLES = 20;

interface Val {
  value: number | null;
  /** samples behind the value (null: not sample-based) */
  samples: number | null;
}

function combineSamples(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function statVal(s: Stat, zeroWhenEmpty: boolean): Val {
  if (s.value === null && zeroWhenEmpty) return { value: 0, samples: s.samples };
  return { value: s.value, samples: s.samples };
}

class EvalError extends Error {}

/** Open post-mortem action items past their due date, of every incident or of a service's (what `overdue_action_items()` reads). */
export type OverdueItemsReader = (service?: string) => Promise<number>;

interface Sources {
  telemetry: TelemetryQuery;
  checks: CheckReader;
  overdueItems?: OverdueItemsReader;
}

async function evalExpr(e: Expr, src: Sources): Promise<Val> {
  const t = src.telemetry;
  switch (e.k) {
    case 'num':
      return { value: e.value, samples: null };
    case 'neg': {
      const v = await evalExpr(e.e, src);
      return { value: v.value === null ? null : -v.value, samples: v.samples };
    }
    case 'bin': {
      const l = await evalExpr(e.l, src);
      const r = await evalExpr(e.r, src);
      // a ratio is as trustworthy as its denominator (1 failure of 1 attempt is not 100%)
      const samples = e.op === '/' ? (r.samples ?? l.samples) : combineSamples(l.samples, r.samples);
      if (l.value === null || r.value === null) return { value: null, samples };
      switch (e.op) {
        case '+':
          return { value: l.value + r.value, samples };
        case '-':
          return { value: l.value - r.value, samples };
        case '*':
          return { value: l.value * r.value, samples };
        case '/':
          return { value: r.value === 0 ? null : l.value / r.value, samples };
      }
      break;
    }
    case 'error_rate':
      return statVal(await t.errorRate(e.service, e.window, e.route), false);
    case 'request_rate':
      return statVal(await t.requestRate(e.service, e.window, e.route), true);
    case 'latency':
      return statVal(await t.latency(e.service, e.q, e.window, e.route), false);
    case 'vital':
      return statVal(await t.vital(e.service, e.name, e.q, e.window, e.page), false);
    case 'event_rate':
      return statVal(await t.eventRate(e.name, e.window, e.service), true);
    case 'metric':
      return statVal(await t.metric(e.name, e.labels, e.window), false);
    case 'check': {
      const r = src.checks.checkValue(e.service, e.check, e.path);
      if ('error' in r) throw new EvalError(r.error);
      return { value: r.value, samples: null };
    }
    case 'overdue_action_items':
      if (!src.overdueItems) throw new EvalError('action items cannot be read here');
      try {
        return { value: await src.overdueItems(e.service), samples: null };
      } catch (err) {
        throw new EvalError(`action items cannot be read: ${err instanceof Error ? err.message : String(err)}`);
      }
  }
  return { value: null, samples: null };
}

function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return Math.abs(a - b) < 1e-9;
    case '!=':
      return Math.abs(a - b) >= 1e-9;
  }
}

export async function evaluateRule(rule: ParsedRule, opts: { telemetry: TelemetryQuery; checks: CheckReader; now: number; minSamples?: number; /** services' backups, for absent(backup.<service>) */ backups?: BackupSignalReader; /** post-mortem action items, for overdue_action_items() */ overdueItems?: OverdueItemsReader }): Promise<RuleEvaluation> {
  const c = rule.condition;
  try {
    if (c.k === 'down') {
      const s = c.check ? opts.checks.checkState(c.service, c.check) : opts.checks.serviceState(c.service);
      const what = c.check ? `check ${c.service}/${c.check}` : `service ${c.service}`;
      if (!s) return fail(`no ${what} in the config`);
      const down = s.state === 'down';
      const age = opts.now - s.since;
      return {
        value: down ? age : 0,
        valueText: down ? `down for ${formatDuration(age)}` : s.state,
        threshold: null,
        thresholdText: 'down',
        samples: null,
        met: down,
        reason: down ? `${what} is down (since ${new Date(s.since).toISOString()})` : `${what} is ${s.state}`,
      };
    }
    if (c.k === 'absent') {
      // absent(x) for D: silent for at least D (the `for` is the silence length, so a restart does not reset it)
      const need = rule.forMs || c.window || 5 * 60_000;
      let last: number | undefined;
      let from: number;
      let what: string;
      if (c.target.kind === 'backup') {
        // absent(backup.web) for 26h: no good backup for 26h, or the last scheduled run failed
        if (!opts.backups) return fail('backups cannot be read here');
        const sig = await opts.backups(c.target.service);
        if ('error' in sig) return fail(sig.error);
        const age = sig.lastOk !== undefined ? opts.now - sig.lastOk : sig.since !== undefined ? opts.now - sig.since : null;
        const ageText = sig.lastOk !== undefined ? `last good backup ${formatDuration(Math.max(0, age ?? 0))} ago (${sig.lastOkId ?? ''})` : age !== null ? `no backup yet (watched for ${formatDuration(Math.max(0, age))})` : 'no backup yet';
        const failedText = sig.failed ? `the scheduled ${sig.failed.kind} at ${new Date(sig.failed.at).toISOString()} failed: ${sig.failed.error.slice(0, 300)}` : undefined;
        const met = Boolean(sig.failed) || age === null || age >= need;
        what = `backups of ${c.target.service}`;
        return {
          value: age,
          valueText: failedText ? 'last run failed' : ageText,
          threshold: need,
          thresholdText: formatDuration(need),
          samples: null,
          met,
          reason: failedText ? `${what}: ${failedText}; ${ageText}` : met ? `${what}: ${ageText}, none for at least ${formatDuration(need)}` : `${what}: ${ageText} (< ${formatDuration(need)})`,
        };
      }
      if (c.target.kind === 'heartbeat') {
        const hb = opts.checks.heartbeat(c.target.token);
        if (!hb) return fail(`no heartbeat check with token "${c.target.token}" in the config`);
        last = hb.lastPing;
        from = hb.since;
        what = `heartbeat ${c.target.token}`;
      } else {
        last = opts.telemetry.lastSeen(c.target.service);
        from = last ?? Number.NaN;
        what = `telemetry from ${c.target.service}`;
      }
      const age = last !== undefined ? opts.now - last : Number.isNaN(from) ? null : opts.now - from;
      // a service that never sent anything is absent (its age is unknown; treat as infinite)
      const met = age === null ? true : age >= need;
      const ageText = age === null ? 'never seen' : last === undefined ? `none for ${formatDuration(age)} (never)` : `last ${formatDuration(age)} ago`;
      return {
        value: age,
        valueText: ageText,
        threshold: need,
        thresholdText: formatDuration(need),
        samples: null,
        met,
        reason: met ? `${what}: ${ageText}, absent for at least ${formatDuration(need)}` : `${what}: ${ageText} (< ${formatDuration(need)})`,
      };
    }
    const v = await evalExpr(c.expr, opts);
    const thresholdText = formatValue(c.threshold.value, rule.unit);
    const valueText = formatValue(v.value, rule.unit);
    const base = { value: v.value, valueText, threshold: c.threshold.value, thresholdText, samples: v.samples };
    const exprText = c.exprText;
    if (v.value === null) return { ...base, met: false, reason: `no data for ${exprText}` };
    const min = opts.minSamples ?? (rule.guarded ? DEFAULT_MIN_SAMPLES : 0);
    const holds = compare(v.value, c.op, c.threshold.value);
    const cmpText = `${exprText} = ${valueText} ${holds ? '' : 'not '}${c.op} ${thresholdText}`;
    if (v.samples !== null && v.samples < min) return { ...base, met: false, reason: `min_samples: ${v.samples} < ${min} (${cmpText})` };
    return { ...base, met: holds, reason: cmpText };
  } catch (e) {
    if (e instanceof EvalError) return fail(e.message);
    throw e;
  }
}

function fail(error: string): RuleEvaluation {
  return { value: null, valueText: 'error', threshold: null, thresholdText: '', samples: null, met: false, reason: error, error };
}

