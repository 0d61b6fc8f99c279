/** Run a check kind the way the scheduler does: parse the spec, add every/timeout, abort at the timeout. */
import { compileCondition, evaluate } from '../../src/checks/conditions.js';
import type { CheckKind, ConditionOutcome, HeartbeatSource, Observation } from '../../src/checks/types.js';

export interface RunOptions {
  timeoutMs?: number;
  every?: number;
  heartbeats?: HeartbeatSource;
  now?: () => number;
}

const noHeartbeats: HeartbeatSource = { lastPing: () => undefined, watchingSince: () => Date.now() };

/** Parse `input` with the kind's schema and run it once with a scheduler-like deadline. */
export async function runKind(kind: CheckKind, input: unknown, opts: RunOptions = {}): Promise<Observation> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const spec = kind.spec.parse(input) as Record<string, unknown>;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
  try {
    return await kind.run({ ...spec, every: opts.every ?? 30_000, timeout: timeoutMs }, {
      signal: controller.signal,
      timeoutMs,
      now: opts.now ?? Date.now,
      heartbeats: opts.heartbeats ?? noHeartbeats,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Judge an observation with the kind's implied conditions plus `userConditions`, like the runner. */
export function judge(kind: CheckKind, input: unknown, obs: Observation, userConditions: string[] = []): { ok: boolean; outcomes: ConditionOutcome[] } {
  const spec = kind.spec.parse(input);
  const all = [...kind.impliedConditions(spec, userConditions), ...userConditions];
  const outcomes = all.map((c) => evaluate(compileCondition(c), obs));
  return { ok: obs.ok && outcomes.every((o) => o.ok), outcomes };
}
