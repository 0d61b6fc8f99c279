import type { z } from 'zod';

/**
 * What one run of a probe saw. A kind never judges pass/fail beyond "could I reach it":
 * it reports values, and the generic condition evaluator (conditions.ts) judges them.
 */
export interface Observation {
  /** false when the probe could not get an answer at all (refused, DNS failure, timeout, TLS error…). */
  ok: boolean;
  /** wall time of the probe in milliseconds. */
  latencyMs: number;
  /** why `ok` is false, in words a user understands; never contains secrets. */
  error?: string;
  /**
   * Values conditions can read, by dotted path: `status`, `body.status`, `cert.days`,
   * `connections_used` (a fraction, so `< 80%` compares with 0.8), `exit_code`…
   * `latency` is always added by the runner from latencyMs.
   */
  values: Record<string, unknown>;
}

/** What a kind gets for one run. */
export interface RunContext {
  /** aborted when the check's timeout passes or Shipshape is stopping. */
  signal: AbortSignal;
  timeoutMs: number;
  now(): number;
  /** Heartbeat pings known to the server (the heartbeat kind reads them). */
  heartbeats: HeartbeatSource;
  /**
   * The value roots the check's conditions read (`body`, `headers`, `cert`…); a kind may skip
   * work nobody reads (the http kind discards a body no condition looks at). Undefined: all.
   */
  uses?: ReadonlySet<string>;
  /** the config file the check comes from (absolute): kinds resolve relative paths (`file: .env`) against its directory */
  configFile?: string;
}

export interface HeartbeatSource {
  /** epoch ms of the last ping for the token, or undefined when none was ever received. */
  lastPing(token: string): number | undefined;
  /** epoch ms when Shipshape started watching this token (so "never pinged" is judged from then). */
  watchingSince(token: string): number;
}

/** The fields every kind's block accepts next to its own: `http: { url, every: 30s, timeout: 5s }`. */
export interface CommonSpec {
  /** interval between runs in ms */
  every: number;
  /** per-run timeout in ms */
  timeout: number;
}

/**
 * One check kind: adding a kind is adding one file under kinds/ that exports one of these
 * and listing it in kinds/index.ts.
 */
export interface CheckKind<S extends z.ZodType = z.ZodType> {
  /** the key in shipshape.yaml (`http`, `tcp`, …) */
  readonly name: string;
  /** zod schema of the kind's own fields (every/timeout are added by the registry). */
  readonly spec: S;
  /** interval used when the block has no `every` */
  readonly defaultEvery?: number;
  /**
   * Conditions implied by the spec (expected status, keyword, max latency, cert days…) plus the
   * kind's defaults when the user wrote none of their own. Same language as user conditions.
   */
  impliedConditions(spec: z.infer<S>, userConditions: readonly string[]): string[];
  /** a short human description of the target with any password removed, e.g. `GET https://x/api/health`. */
  describe(spec: z.infer<S>): string;
  run(spec: z.infer<S> & CommonSpec, ctx: RunContext): Promise<Observation>;
  /** release what runs keep between them (connection pools) when the server stops */
  close?(): Promise<void>;
}

export type CheckState = 'up' | 'down' | 'pending';
export type ServiceState = 'up' | 'degraded' | 'down' | 'unknown';

export interface ConditionOutcome {
  condition: string;
  ok: boolean;
  /** what was observed, formatted in the condition's unit: `latency = 732ms` */
  actual?: string;
}

export interface CheckResult {
  checkId: string;
  at: number;
  ok: boolean;
  latencyMs: number;
  message: string;
  conditions: ConditionOutcome[];
  /** what the probe observed (bounded: long strings and big bodies are cut), for alert rules */
  values?: Record<string, unknown>;
}
