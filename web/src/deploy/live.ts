import { useSyncExternalStore } from 'react';
import type { ReleaseStep } from './types.ts';

/**
 * Live progress of running deploys, from the `deploy.progress` notices of the event stream (a
 * step starts or ends; a step prints output). The stored release has each step's output only once
 * the step ends, so what a running step printed lives here until the release is fetched again;
 * `mergeSteps` lays it over the stored steps.
 */

/** One step as the notices told it. `seq` is unknown when only its output was seen. */
export interface LiveStep {
  seq: number | null;
  name: string;
  state: ReleaseStep['state'];
  detail: string | null;
  duration_ms: number | null;
  /** when this page first heard of it (epoch ms), for a running step's clock */
  seen_at: number;
  output: string;
}

/** the tail of a step's output that is kept, like the server's 256 KB */
const MAX_OUTPUT = 256 * 1024;
/** releases followed at once; the oldest is forgotten first */
const MAX_RELEASES = 20;

const releases = new Map<number, LiveStep[]>();
const versions = new Map<number, number>();
const listeners = new Set<() => void>();
let pending: ReturnType<typeof setTimeout> | null = null;

/** Tell the views, at most every 50 ms (output arrives in many small chunks). */
function changed(id: number): void {
  versions.set(id, (versions.get(id) ?? 0) + 1);
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    for (const l of listeners) l();
  }, 50);
}

function stepsOf(id: number): LiveStep[] {
  let s = releases.get(id);
  if (!s) {
    s = [];
    releases.set(id, s);
    while (releases.size > MAX_RELEASES) {
      const oldest = releases.keys().next().value as number;
      releases.delete(oldest);
      versions.delete(oldest);
    }
  }
  return s;
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const STATES = new Set(['running', 'ok', 'failed', 'skipped']);

/** Feed one `deploy.progress` notice (its data: `service`, `env` and a Progress line). */
export function recordProgress(data: Record<string, unknown>): number | null {
  const release = num(data.release);
  if (release === null) return null;
  if (data.type === 'step') {
    const seq = num(data.seq);
    const name = str(data.name);
    const state = str(data.state);
    if (seq === null || name === null || state === null || !STATES.has(state)) return null;
    const steps = stepsOf(release);
    const known = steps.find((s) => s.seq === seq) ?? steps.find((s) => s.seq === null && s.name === name);
    const next: Partial<LiveStep> = { seq, state: state as LiveStep['state'], detail: str(data.detail), duration_ms: num(data.duration_ms) };
    if (known) Object.assign(known, next);
    else steps.push({ name, seen_at: Date.now(), output: '', ...next } as LiveStep);
    changed(release);
    return release;
  }
  if (data.type === 'output') {
    const step = str(data.step);
    const text = str(data.text);
    if (step === null || text === null) return null;
    const steps = stepsOf(release);
    let s = [...steps].reverse().find((x) => x.name === step);
    // a step that ended prints no more into its record (a started app keeps printing to "start")
    if (s && s.state !== 'running') return release;
    if (!s) {
      s = { seq: null, name: step, state: 'running', detail: null, duration_ms: null, seen_at: Date.now(), output: '' };
      steps.push(s);
    }
    s.output = (s.output + text).slice(-MAX_OUTPUT);
    changed(release);
    return release;
  }
  return null;
}

/** What this page heard live about a release (an empty list when nothing). */
export function useLiveSteps(release: number): { steps: readonly LiveStep[]; version: number } {
  const version = useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => versions.get(release) ?? 0,
  );
  return { steps: releases.get(release) ?? [], version };
}

/** A step as the release page shows it. */
export interface ShownStep {
  key: string;
  seq: number | null;
  name: string;
  state: ReleaseStep['state'];
  detail: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  /** epoch ms it started (stored, or when first heard of) */
  started: number;
  output: string;
  /** the output is still coming in over the event stream */
  live: boolean;
}

/**
 * The stored output of a running step (what it printed until the page fetched it) joined with what
 * was heard live: the two overlap when the fetch came after the first live lines.
 */
export function joinOutput(stored: string, heard: string): string {
  if (!heard) return stored;
  if (!stored || heard.startsWith(stored)) return heard;
  if (stored.endsWith(heard)) return stored;
  for (let n = Math.min(stored.length, heard.length); n > 0; n--) if (stored.endsWith(heard.slice(0, n))) return stored + heard.slice(n);
  return stored + heard;
}

/**
 * The stored steps with what arrived live laid over them: a step the store still has as running
 * takes the live state and the output printed so far; a step the store has not got yet is added.
 * A step the store has as ended is shown as stored (its output is the kept record).
 */
export function mergeSteps(stored: readonly ReleaseStep[], live: readonly LiveStep[]): ShownStep[] {
  const out: ShownStep[] = stored.map((s) => ({
    key: `s${s.seq}`,
    seq: s.seq,
    name: s.name,
    state: s.state,
    detail: s.detail,
    duration_ms: s.duration_ms,
    exit_code: s.exit_code,
    started: Date.parse(s.started_at),
    output: s.output,
    live: false,
  }));
  for (const l of live) {
    const i = l.seq !== null ? out.findIndex((s) => s.seq === l.seq) : out.findLastIndex((s) => s.name === l.name && s.state === 'running');
    const target = i >= 0 ? out[i] : undefined;
    if (target) {
      if (target.state !== 'running') continue;
      out[i] = { ...target, state: l.state, detail: l.detail ?? target.detail, duration_ms: l.duration_ms ?? target.duration_ms, output: joinOutput(target.output, l.output), live: l.state === 'running' };
    } else {
      // the stored release is older than this step; earlier numbered steps it lacks are still in order
      if (l.seq !== null && out.some((s) => s.seq !== null && s.seq > (l.seq as number))) continue;
      // output of a step whose start this page missed, and which the store has as ended (a started
      // app keeps printing to "start"): the stored record is what there is to show
      if (l.seq === null && out.some((s) => s.name === l.name)) continue;
      out.push({ key: l.seq !== null ? `s${l.seq}` : `l${l.name}`, seq: l.seq, name: l.name, state: l.state, detail: l.detail, duration_ms: l.duration_ms, exit_code: null, started: l.seen_at, output: l.output, live: l.state === 'running' });
    }
  }
  return out;
}
