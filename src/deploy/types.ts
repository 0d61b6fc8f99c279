/** The JSON shapes of the deploy API (times are ISO-8601 UTC strings). */

/**
 * running: being gated, built or started · failed: never served (the old release kept serving) ·
 * live: serving its environment · warm: replaced, still running for instant rollback ·
 * retired: stopped (its directory may still be on disk for cold rollback) · rolled_back: was live,
 * taken out by a rollback.
 */
export const RELEASE_STATES = ['running', 'failed', 'live', 'warm', 'retired', 'rolled_back'] as const;
export type ReleaseState = (typeof RELEASE_STATES)[number];

export interface GateResult {
  name: string;
  kind: 'run' | 'bundle' | 'migrations' | 'backup' | 'env' | 'secrets' | 'audit' | 'headers';
  passed: boolean;
  /** one line: why it passed or failed */
  summary: string;
  duration_ms: number;
  warnings?: number;
  exit_code?: number | null;
  /** bundle gates: the measured bytes and the limit */
  size?: number;
  limit?: number;
  files?: { path: string; size: number }[];
}

export interface Release {
  id: number;
  service: string;
  env: string;
  state: ReleaseState;
  version: string;
  git_sha: string;
  ref: string;
  author: string;
  commit_message: string;
  /** who deployed it */
  actor: string;
  promoted_from: number | null;
  gates: GateResult[];
  error: string | null;
  /** still on disk (so a cold rollback to it is possible) */
  on_disk: boolean;
  port: number | null;
  /** driver: command: the platform's id of the deployment and its own URL (null with driver: process) */
  deployment_id: string | null;
  deployment_url: string | null;
  /** the env store's snapshot it runs with (names and versions, never values); null without the env store */
  env_snapshot: string | null;
  created_at: string;
  finished_at: string | null;
  live_at: string | null;
  ended_at: string | null;
  age_ms: number;
}

export interface ReleaseStep {
  seq: number;
  name: string;
  state: 'running' | 'ok' | 'failed' | 'skipped';
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  detail: string | null;
  output: string;
}

export interface ReleaseDetail extends Release {
  /** the service's deploy config when it was cut (env values left out) */
  config: Record<string, unknown>;
  steps: ReleaseStep[];
}

export interface DeployLock {
  service: string;
  env: string;
  owner: string;
  reason: string;
  release_id: number | null;
  acquired_at: string;
  expires_at: string;
}

/** One line of a deploy's live progress (the NDJSON stream of POST …/deploys and the `deploy.progress` SSE notice). */
export type Progress =
  | { type: 'release'; release: Release }
  | { type: 'step'; release: number; seq: number; name: string; state: 'running' | 'ok' | 'failed' | 'skipped'; detail?: string; duration_ms?: number }
  | { type: 'output'; release: number; step: string; text: string }
  | { type: 'done'; release: ReleaseDetail }
  | { type: 'error'; status: number; title: string; detail: string; release?: ReleaseDetail };

/** The environments of one service: what is live, what is warm, who holds the lock. */
export interface EnvironmentStatus {
  service: string;
  env: string;
  driver: 'process';
  /** `releases`: requests each release answered through this proxy since the proxy daemon started, how many were 5xx or cut, and latency */
  proxy: { host: string; port: number; listening: boolean; releases: { release: number; requests: number; errors: number; p50_ms: number | null; p95_ms: number | null }[] };
  /** the URL the environment is served on (driver: command only) */
  url: null;
  live: Release | null;
  warm: Release[];
  lock: DeployLock | null;
  /** a canary in progress: this share of clients (%) goes to `release` */
  canary: { release: number; weight: number } | null;
  /** the watch window of the live release: each analysed window's verdict */
  watch: { release: number; baseline: number | null; until: string; windows: { at: string; ok: boolean | null; reason: string }[] } | null;
  /** pinned after an automatic rollback: deploys are refused until a release is promoted explicitly or the environment unlocked */
  pinned: boolean;
}

/** An environment of a driver: command service: no proxy (the platform serves it), no warm releases, canaries or watch window. */
export interface CommandEnvironmentStatus extends Omit<EnvironmentStatus, 'driver' | 'proxy' | 'url'> {
  driver: 'command';
  proxy: null;
  /** the environment's configured URL (`url:`), else the live deployment's URL */
  url: string | null;
}

/** The verdict on one analysis window (a canary step, a watch window). */
export interface AnalysisWindow {
  ok: boolean | null;
  reason: string;
  requests: number;
  errors: number;
  p95_ms: number | null;
  baseline: { release: number; requests: number; errors: number; p95_ms: number | null } | null;
}
