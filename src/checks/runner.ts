/**
 * Runs one check once: the kind probes with a hard timeout, then the generic evaluator judges
 * every condition. Never throws; a kind that ignores its abort signal is cut off all the same.
 */
import { formatDuration } from '../core/config/units.js';
import { scrubber, secretEnvValues } from '../core/redact.js';
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
 * 3 levels deep. `clean` is applied to every string kept (secrets are scrubbed in the same pass).
 */
export function compactValues(values: Record<string, unknown>, clean: (s: string) => string = (s) => s): Record<string, unknown> {
  const budget = { left: 200 };
  return compactObject(values, 0, budget, clean);
}

function compactObject(values: Record<string, unknown>, depth: number, budget: { left: number }, clean: (s: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in values) {
    if (budget.left <= 0) break;
    const v = values[k];
    if (v === undefined) continue;
    budget.left--;
    if (v === null || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string') out[k] = clean(v.length > 256 ? v.slice(0, 256) : v);
    else if (Array.isArray(v)) {
      const n = Math.min(v.length, 50);
      const items: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const x: unknown = v[i];
        items[i] = x !== null && typeof x === 'object' ? (depth < 2 ? compactObject(x as Record<string, unknown>, depth + 1, budget, clean) : null) : typeof x === 'string' ? clean(x.length > 256 ? x.slice(0, 256) : x) : x;
      }
      out[k] = items;
    } else if (typeof v === 'object' && depth < 2) out[k] = compactObject(v as Record<string, unknown>, depth + 1, budget, clean);
  }
  return out;
}

/**
 * The secrets no result may carry: values of secret variables in Shipshape's environment (its
 * admin token, database password…) and, for a command, the secret-named values of its `env:`.
 */
function secretsOf(def: CheckDef): string[] {
  const env = def.kind === 'command' ? (def.spec.env as Record<string, string> | undefined) : undefined;
  return [...secretEnvValues(process.env), ...(env ? secretEnvValues(env) : [])];
}

/**
 * The scrubber of a check definition, made on its first run: reading the environment on every
 * run was the largest cost of a run. A definition lives until the config is (re)loaded, so the
 * secrets are those of Shipshape's environment as of the config in force.
 */
const scrubbers = new WeakMap<CheckDef, (text: string) => string>();
function scrubberOf(def: CheckDef): (text: string) => string {
  let s = scrubbers.get(def);
  if (!s) {
    s = scrubber(secretsOf(def));
    scrubbers.set(def, s);
  }
  return s;
}

/**
 * The runs in flight under each stop signal: one listener on the signal aborts them all, instead
 * of a listener added and removed on a shared signal by every run.
 */
const inFlight = new WeakMap<AbortSignal, Set<AbortController>>();
const stopping = (c: AbortController): void => c.abort(new Error('shipshape is stopping'));
function track(stop: AbortSignal, ac: AbortController): () => void {
  let set = inFlight.get(stop);
  if (!set) {
    const runs = new Set<AbortController>();
    set = runs;
    inFlight.set(stop, runs);
    stop.addEventListener('abort', () => runs.forEach(stopping), { once: true });
  }
  if (stop.aborted) stopping(ac);
  set.add(ac);
  return () => set.delete(ac);
}

export async function runCheck(def: CheckDef, opts: RunOptions): Promise<CheckResult> {
  const now = opts.now ?? Date.now;
  const at = now();
  const kind = kindByName(def.kind);
  const ac = new AbortController();
  const timeoutText = () => `timed out after ${formatDuration(def.timeout)}`;
  let timedOut = false;
  const untrack = opts.stop ? track(opts.stop, ac) : undefined;
  const started = performance.now();
  let hardTimer: NodeJS.Timeout | undefined;
  let cutOff: ((o: Observation) => void) | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(timeoutText()));
    // a kind that ignores the signal still ends one second after its timeout
    hardTimer = setTimeout(() => cutOff?.({ ok: false, latencyMs: performance.now() - started, error: timeoutText(), values: {} }), 1000);
  }, def.timeout);
  let obs: Observation;
  try {
    if (!kind) throw new Error(`unknown check kind ${def.kind}`);
    const probe = kind.run(def.spec as never, { signal: ac.signal, timeoutMs: def.timeout, now, heartbeats: opts.heartbeats, uses: def.uses, configFile: def.configFile });
    obs = await new Promise<Observation>((resolve, reject) => {
      cutOff = resolve;
      probe.then(resolve, reject);
    });
  } catch (e) {
    obs = { ok: false, latencyMs: performance.now() - started, error: timedOut ? timeoutText() : (e as Error).message, values: {} };
  } finally {
    clearTimeout(timer);
    clearTimeout(hardTimer);
    cutOff = undefined;
    untrack?.();
  }
  if (timedOut && obs.ok === false && !obs.error) obs.error = timeoutText();
  const latencyMs = Math.round(obs.latencyMs * 100) / 100;
  const seen: Observation = { ...obs, latencyMs };
  const conditions = def.conditions.map((c) => evaluate(c, seen));
  // Gatus: a probe that could not connect is judged by its conditions when one reads [CONNECTED]
  // (a port that must stay closed: `[CONNECTED] == false`)
  const judged = !obs.ok && def.conditions.some((c) => c.gatus && c.roots.includes('connected'));
  const ok = (obs.ok || judged) && conditions.every((c) => c.ok);
  let message = 'ok';
  if (!ok) {
    const failing = conditions.filter((c) => !c.ok);
    message = obs.ok || judged ? failing.map((c) => `${c.condition} (${c.actual ?? 'no value'})`).join('; ') + (judged && obs.error ? `: ${obs.error}` : '') : (obs.error ?? 'failed');
  }
  const clean = scrubberOf(def);
  return {
    checkId: def.id,
    at,
    ok,
    latencyMs,
    message: clean(message),
    conditions: conditions.map((c) => {
      if (c.actual === undefined) return c;
      const actual = clean(c.actual);
      return actual === c.actual ? c : { ...c, actual };
    }),
    values: compactValues(obs.values, clean),
  };
}
