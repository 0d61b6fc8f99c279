/**
 * Runs one check once: the kind probes with a hard timeout, then the generic evaluator judges
 * every condition. Never throws; a kind that ignores its abort signal is cut off all the same.
 */
import { formatDuration } from '../core/config/units.js';
import { scrub, secretEnvValues } from '../core/redact.js';
import type { CheckDef } from './config.js';
import { evaluate } from './conditions.js';
import { kindByName } from './kinds/index.js';
import type { CheckResult, HeartbeatSource, Observation } from './types.js';

export interface RunOptions {
  heartbeats: HeartbeatSource;
  /** aborted when Shipshape stops */
  stop?: AbortSignal;
  now?: () => number;
}

/**
 * Keep what rules read (numbers, flags, short strings) and drop what would bloat memory and the
 * store: strings are cut at 256 characters, arrays at 50 items, and at most 200 values are kept,
 * 3 levels deep.
 */
export function compactValues(values: Record<string, unknown>): Record<string, unknown> {
  const budget = { left: 200 };
  return compactObject(values, 0, budget);
}

function compactObject(values: Record<string, unknown>, depth: number, budget: { left: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in values) {
    if (budget.left <= 0) break;
    const v = values[k];
    if (v === undefined) continue;
    budget.left--;
    if (v === null || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string') out[k] = v.length > 256 ? v.slice(0, 256) : v;
    else if (Array.isArray(v)) out[k] = v.slice(0, 50).map((x) => (x !== null && typeof x === 'object' ? (depth < 2 ? compactObject(x as Record<string, unknown>, depth + 1, budget) : null) : typeof x === 'string' && x.length > 256 ? x.slice(0, 256) : x));
    else if (typeof v === 'object' && depth < 2) out[k] = compactObject(v as Record<string, unknown>, depth + 1, budget);
  }
  return out;
}

/** Replace secrets in every string of a value tree. */
function scrubDeep(v: unknown, secrets: readonly string[]): unknown {
  if (typeof v === 'string') return scrub(v, secrets);
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, secrets));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubDeep(x, secrets)]));
  return v;
}

/**
 * The secrets no result may carry: values of secret variables in Shipshape's environment (its
 * admin token, database password…) and, for a command, the secret-named values of its `env:`.
 */
function secretsOf(def: CheckDef): string[] {
  const env = def.kind === 'command' ? (def.spec.env as Record<string, string> | undefined) : undefined;
  return [...secretEnvValues(process.env), ...(env ? secretEnvValues(env) : [])];
}

export async function runCheck(def: CheckDef, opts: RunOptions): Promise<CheckResult> {
  const now = opts.now ?? Date.now;
  const at = now();
  const kind = kindByName(def.kind);
  const ac = new AbortController();
  const timeoutText = `timed out after ${formatDuration(def.timeout)}`;
  let timedOut = false;
  const onStop = () => ac.abort(new Error('shipshape is stopping'));
  opts.stop?.addEventListener('abort', onStop, { once: true });
  const started = performance.now();
  let hardTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(timeoutText));
  }, def.timeout);
  let obs: Observation;
  try {
    if (!kind) throw new Error(`unknown check kind ${def.kind}`);
    const probe = kind.run(def.spec as never, { signal: ac.signal, timeoutMs: def.timeout, now, heartbeats: opts.heartbeats, uses: def.uses });
    // a kind that ignores the signal still ends one second after its timeout
    const hard = new Promise<Observation>((resolve) => {
      hardTimer = setTimeout(() => resolve({ ok: false, latencyMs: performance.now() - started, error: timeoutText, values: {} }), def.timeout + 1000);
    });
    obs = await Promise.race([probe, hard]);
  } catch (e) {
    obs = { ok: false, latencyMs: performance.now() - started, error: timedOut ? timeoutText : (e as Error).message, values: {} };
  } finally {
    clearTimeout(timer);
    clearTimeout(hardTimer);
    opts.stop?.removeEventListener('abort', onStop);
  }
  if (timedOut && obs.ok === false && !obs.error) obs.error = timeoutText;
  const latencyMs = Math.round(obs.latencyMs * 100) / 100;
  const conditions = def.conditions.map((c) => evaluate(c, { ...obs, latencyMs }));
  const ok = obs.ok && conditions.every((c) => c.ok);
  let message = 'ok';
  if (!ok) {
    const failing = conditions.filter((c) => !c.ok);
    message = obs.ok ? failing.map((c) => `${c.condition} (${c.actual ?? 'no value'})`).join('; ') : (obs.error ?? 'failed');
  }
  const secrets = secretsOf(def);
  return {
    checkId: def.id,
    at,
    ok,
    latencyMs,
    message: scrub(message, secrets),
    conditions: conditions.map((c) => (c.actual === undefined ? c : { ...c, actual: scrub(c.actual, secrets) })),
    values: scrubDeep(compactValues(obs.values), secrets) as Record<string, unknown>,
  };
}
