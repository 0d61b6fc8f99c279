/** The deploy domain's API shapes, shared with the server (types only; src/deploy/types.ts). */
import type { DeployLock, EnvironmentStatus, GateResult, Progress, Release, ReleaseDetail, ReleaseState, ReleaseStep } from '../../../src/deploy/types.ts';

export type { DeployLock, GateResult, Progress, ReleaseState, ReleaseStep };

/**
 * Fields the backend is about to add: rendered when present, never required. `canary` is the
 * share of traffic a canary release gets (a number of percent, "10%", or `{ weight }`);
 * `verification` the named checks and smoke steps run after the switch.
 */
export interface ReleaseExtras {
  canary?: unknown;
  verification?: unknown;
}

export type ReleaseView = Release & ReleaseExtras;
export type ReleaseDetailView = ReleaseDetail & ReleaseExtras;

/** Requests one release answered through an environment's proxy; latency when the server measures it. */
export interface TrafficRow {
  release: number;
  requests: number;
  errors: number;
  p50_ms?: number | null;
  p95_ms?: number | null;
}

/** The watch window of the live release after its switch: each analysed window's verdict. */
export interface WatchView {
  release: number;
  baseline: number | null;
  until: string;
  windows: { at: string; ok: boolean | null; reason: string }[];
}

/**
 * An environment's state. Optional (rendered when the server sends them): `canary` (a canary in
 * progress: `{ release, weight }`), `watch`, and `pinned` (after an automatic rollback, deploys
 * are held until a release is promoted explicitly).
 */
export type EnvView = Omit<EnvironmentStatus, 'live' | 'warm' | 'proxy' | 'canary' | 'watch' | 'pinned' | 'driver' | 'url'> & {
  /** null with driver: command (a hosted platform serves it: see `url`) */
  proxy: { host: string; port: number; listening: boolean; releases: TrafficRow[] } | null;
  driver?: 'process' | 'command';
  /** driver: command: the URL the environment is served on */
  url?: string | null;
  live: ReleaseView | null;
  warm: ReleaseView[];
  canary?: unknown;
  watch?: WatchView | null;
  pinned?: unknown;
};

/** `GET /api/v1/deploy` */
export interface DeployOverview {
  services: { service: string; environments: EnvView[] }[];
}
