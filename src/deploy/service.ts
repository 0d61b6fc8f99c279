/**
 * The deploy pipeline and the process driver: cut a release from git into its own directory,
 * gate it, build it, start it on a fresh port as a supervised child, wait until it is healthy,
 * switch the environment's proxy to it, keep the previous release warm for instant rollback, and
 * keep the last N release directories for cold rollback. Every step is a row with its output and
 * an event (`deploy.step`); the whole deploy holds the service/environment lock.
 *
 * Services with `driver: command` share the locks, the records, the cut, gates and build, smoke
 * steps and named checks, but the deployment itself is the platform CLI's (command.ts): see
 * `commandPipeline`, `commandPromote` and `commandRollback`.
 */
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config/load.js';
import { formatDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import type { EventLog } from '../core/events.js';
import { maskAssignments, scrub, secretEnvValues } from '../core/redact.js';
import type { Store } from '../core/store/db.js';
import { judge, type Verdict } from './analysis.js';
import { repoOf, type DeployConfig, type DeployRaw, type EnvironmentConfig, type SmokeStep } from './config.js';
import { CommandDriver, type CommandRunOptions, type Deployment } from './command.js';
import { databaseGate, gateName, runGate, securityGate, type DatabaseReader, type SecurityReader } from './gates.js';
import { exportTree, resolveRef, type Commit } from './git.js';
import { AdoptedProcess, AppProcess, freePort, isReleaseProcess, probe, waitHealthy, type ReleaseProcess } from './instance.js';
import { Locks, lockJson } from './locks.js';
import type { DeployTables, ReleasesTable } from './migrations.js';
import { ProxydClient, RemoteProxy } from './proxyd-client.js';
import type { Hello } from './proxyd-protocol.js';
import { runCommand } from './run.js';
import { smokeRequest } from './smoke.js';
import { between, emptySnapshot, type StatsSnapshot, type WindowStats } from './stats.js';
import type { CommandEnvironmentStatus, DeployLock, EnvironmentStatus, GateResult, Progress, Release, ReleaseDetail, ReleaseState, ReleaseStep } from './types.js';

type Row = Omit<ReleasesTable, 'id'> & { id: number };

/** What the app, the gates and the build see of Shipshape's environment (never its tokens). */
const PASS_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'SHELL', 'NODE_EXTRA_CA_CERTS'];

interface EnvRuntime {
  service: string;
  env: string;
  proxy: RemoteProxy;
  live: ReleaseProcess | null;
  warm: Map<number, { app: ReleaseProcess; timer: NodeJS.Timeout }>;
}

interface WatchState {
  release: number;
  baseline: number | null;
  until: number;
  timer: NodeJS.Timeout;
  windows: { at: number; ok: boolean | null; reason: string }[];
}

/** Who holds the lock that pins an environment after an automatic rollback. */
export const PIN_OWNER = 'shipshape:auto-rollback';
const PIN_TTL = 7 * 24 * 3_600_000;
const METRICS_EVERY = 10_000;
/** A running release's log file past this is moved to `<id>.log.1` (the one before is dropped), checked every minute. */
const LOG_LIMIT = 16 * 1024 * 1024;

/** What the deploy domain needs of other domains (absent in tests that run it alone). */
export interface DeployPeers {
  /** run the named checks (`service/name` ids) once, now */
  runChecks?(ids: string[]): Promise<{ id: string; ok: boolean; message: string }[]>;
  /** open an incident about an automatic rollback; undefined when incidents are not configured */
  openIncident?(i: { title: string; severity?: string; services: string[]; message: string }): Promise<{ id: number; ref: string } | undefined>;
  /** the service's requests in the last `windowMs` from telemetry (the command driver's watch window: no proxy to measure) */
  serviceTraffic?(service: string, windowMs: number): Promise<WindowStats>;
  /** the service's database, for the migrations and backup gates */
  database?: DatabaseReader;
  /** the env, secrets and websec modules, for the env, secrets, audit and headers gates */
  security?: SecurityReader;
  /** the env store: the values a release of a service runs with in an environment, a reference to that set, and the values of a reference again */
  envStore?: { snapshot(service: string, env: string): Promise<{ id: string; names: string[]; values: Record<string, string> }>; values?(snapshot: string): Promise<Record<string, string> | null> };
  /** per-release proxy metrics into telemetry */
  metrics?(samples: { service: string; name: string; labels: Record<string, string>; type: 'gauge' | 'counter'; value: number; at: number }[]): void;
}

export interface DeployInput {
  service: string;
  env?: string;
  ref?: string;
  /** start as a canary with this share of traffic (1–99 %), stepping up through the environment's canary.steps */
  canary?: number;
  actor: string;
  onProgress?: (p: Progress) => void;
}

export interface PromoteInput {
  service: string;
  release: number;
  to: string;
  actor: string;
  onProgress?: (p: Progress) => void;
}

export interface RollbackInput {
  service: string;
  env?: string;
  release?: number;
  actor: string;
  /** why (an automatic rollback names the failed window) */
  reason?: string;
  onProgress?: (p: Progress) => void;
}

export interface DeployerDeps {
  store: Store<DeployTables>;
  events: EventLog;
  logger: Logger;
  now: () => number;
  config: () => Config<DeployRaw>;
  dataDir: string;
  peers?: DeployPeers;
}

/** PostgreSQL answers bigint columns as strings: make a row's numbers numbers. */
function norm(r: Row): Row;
function norm(r: Row | undefined): Row | undefined;
function norm(r: Row | undefined): Row | undefined {
  if (!r) return r;
  const n = (v: number | null) => (v === null ? null : Number(v));
  return { ...r, id: Number(r.id), promoted_from: n(r.promoted_from), port: n(r.port), pid: n(r.pid), created_at: Number(r.created_at), finished_at: n(r.finished_at), live_at: n(r.live_at), ended_at: n(r.ended_at) };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** A watch window as the status shows it. */
function watchJson(w: WatchState | undefined): EnvironmentStatus['watch'] {
  return w ? { release: w.release, baseline: w.baseline, until: iso(w.until) as string, windows: w.windows.map((x) => ({ ...x, at: iso(x.at) as string })) } : null;
}

class StepFailed extends Error {}

/** The new release was taken out again by the pipeline itself (a failed canary, a failed verification). */
class AutoRolledBack extends Error {}

export class Deployer {
  private readonly envs = new Map<string, EnvRuntime>();
  /** the env store values of releases started or to be started here (never stored: the release records its snapshot id) */
  private readonly releaseEnv = new Map<number, Record<string, string>>();
  private readonly locks: Locks;
  private readonly stopping = new AbortController();
  /** deploys, promotions and rollbacks in flight */
  private readonly inflight = new Set<Promise<unknown>>();
  /** releases being drained and stopped */
  private readonly retiring = new Set<Promise<unknown>>();

  /** the proxy daemon, which outlives this Shipshape */
  private readonly proxyd: ProxydClient;

  constructor(private readonly d: DeployerDeps) {
    this.locks = new Locks(d.store, d.now);
    this.proxyd = new ProxydClient(d.dataDir, d.logger, (h) => this.onProxyRestart(h));
  }

  // ---------- config ----------

  serviceNames(): string[] {
    return Object.entries(this.d.config().raw.services)
      .filter(([, s]) => s.deploy)
      .map(([n]) => n);
  }

  configOf(service: string): DeployConfig {
    const s = this.d.config().raw.services[service];
    if (!s) throw new ServiceError('not_found', `no service "${service}" in ${this.d.config().file}`);
    if (!s.deploy) throw new ServiceError('invalid', `service "${service}" has no deploy: section in ${this.d.config().file}`);
    return s.deploy;
  }

  private envName(service: string, cfg: DeployConfig, env: string | undefined, fallback: 'first' | 'last'): string {
    const names = Object.keys(cfg.environments);
    if (env === undefined) return (fallback === 'first' ? names[0] : names[names.length - 1]) as string;
    if (!names.includes(env)) throw new ServiceError('invalid', `service "${service}" has no environment "${env}"; environments: ${names.join(', ')}`);
    return env;
  }

  private runtime(service: string, env: string): EnvRuntime {
    const key = `${service}/${env}`;
    let rt = this.envs.get(key);
    if (!rt) {
      const p = this.configOf(service).environments[env];
      if (!p) throw new ServiceError('invalid', `service "${service}" has no environment "${env}"`);
      if (!p.proxy) throw new ServiceError('invalid', `${service}/${env} has no proxy (driver: ${this.configOf(service).driver})`);
      rt = { service, env, proxy: new RemoteProxy(this.proxyd, key, p.proxy.host, p.proxy.port), live: null, warm: new Map() };
      this.envs.set(key, rt);
    }
    return rt;
  }

  /**
   * What a release's gates, build and app see: a few of Shipshape's own variables (never its
   * tokens), deploy.env, then the env store's values of the release's snapshot (the store wins).
   */
  private processEnv(cfg: DeployConfig, extra: Record<string, string> = {}, release?: number): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const k of PASS_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
    return { ...env, ...cfg.env, ...(release !== undefined ? this.releaseEnv.get(release) : undefined), ...extra };
  }

  /** The variables a release runs with, without Shipshape's own (what an env gate checks). */
  private appEnv(cfg: DeployConfig, release: number): Record<string, string> {
    return { ...cfg.env, ...this.releaseEnv.get(release) };
  }

  /** A release's env store values after a restart (its snapshot's versions), for a cold start of it. */
  private async loadReleaseEnv(rel: Row): Promise<void> {
    if (this.releaseEnv.has(rel.id) || !rel.env_snapshot || !this.d.peers?.envStore?.values) return;
    const values = await this.d.peers.envStore.values(rel.env_snapshot);
    if (!values) throw new ServiceError('conflict', `the env store no longer holds snapshot ${rel.env_snapshot} of release ${rel.id} (a value was removed): deploy it again`);
    this.releaseEnv.set(rel.id, values);
  }

  private secrets(cfg: DeployConfig, release?: number): string[] {
    return [...secretEnvValues(cfg.env), ...secretEnvValues(release !== undefined ? (this.releaseEnv.get(release) ?? {}) : {})];
  }

  /** The config a release records: env values left out, secret-looking assignments in commands masked. */
  private snapshot(cfg: DeployConfig): Record<string, unknown> {
    const { env, ...rest } = cfg;
    const text = scrub(JSON.stringify({ ...rest, env: Object.keys(env) }), this.secrets(cfg));
    const snap = JSON.parse(text) as Record<string, unknown>;
    for (const k of ['build', 'start'] as const) if (typeof snap[k] === 'string') snap[k] = maskAssignments(snap[k]);
    if (Array.isArray(snap.gates)) for (const g of snap.gates as { run?: string }[]) if (typeof g.run === 'string') g.run = maskAssignments(g.run);
    const cmd = snap.command as Record<string, unknown> | undefined;
    if (cmd) for (const k of ['deploy', 'promote', 'rollback', 'list']) if (typeof cmd[k] === 'string') cmd[k] = maskAssignments(cmd[k]);
    return snap;
  }

  // ---------- reading ----------

  private toRelease(r: Row): Release {
    return {
      id: Number(r.id),
      service: r.service,
      env: r.env,
      state: r.state as ReleaseState,
      version: r.version,
      git_sha: r.git_sha,
      ref: r.ref,
      author: r.author,
      commit_message: r.commit_message,
      actor: r.actor,
      promoted_from: r.promoted_from === null ? null : Number(r.promoted_from),
      gates: JSON.parse(r.gates) as GateResult[],
      error: r.error,
      on_disk: r.dir !== null && existsSync(r.dir),
      port: r.port === null ? null : Number(r.port),
      deployment_id: r.deployment_id ?? null,
      deployment_url: r.deployment_url ?? null,
      env_snapshot: r.env_snapshot ?? null,
      created_at: iso(r.created_at) as string,
      finished_at: iso(r.finished_at),
      live_at: iso(r.live_at),
      ended_at: iso(r.ended_at),
      age_ms: Math.max(0, this.d.now() - Number(r.created_at)),
    };
  }

  private async row(id: number): Promise<Row | undefined> {
    return norm((await this.d.store.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined);
  }

  async list(service: string, opts: { env?: string; limit?: number } = {}): Promise<Release[]> {
    const cfg = this.configOf(service);
    if (opts.env !== undefined) this.envName(service, cfg, opts.env, 'first');
    let q = this.d.store.db.selectFrom('releases').selectAll().where('service', '=', service).orderBy('id', 'desc').limit(opts.limit ?? 50);
    if (opts.env) q = q.where('env', '=', opts.env);
    return ((await q.execute()) as Row[]).map((r) => this.toRelease(norm(r)));
  }

  async get(service: string, id: number): Promise<ReleaseDetail> {
    const r = await this.row(id);
    if (!r || r.service !== service) throw new ServiceError('not_found', `no release ${id} of ${service}`);
    const steps = await this.d.store.db.selectFrom('release_steps').selectAll().where('release_id', '=', id).orderBy('seq').execute();
    return {
      ...this.toRelease(r),
      config: JSON.parse(r.config) as Record<string, unknown>,
      steps: steps.map(
        (s): ReleaseStep => ({
          seq: Number(s.seq),
          name: s.name,
          state: s.state as ReleaseStep['state'],
          started_at: iso(s.started_at) as string,
          finished_at: iso(s.finished_at),
          duration_ms: s.finished_at === null ? null : Number(s.finished_at) - Number(s.started_at),
          exit_code: s.exit_code === null ? null : Number(s.exit_code),
          detail: s.detail,
          output: s.state === 'running' ? (this.runningOutput.get(`${id}/${Number(s.seq)}`)?.() ?? s.output) : s.output,
        }),
      ),
    };
  }

  async status(service: string): Promise<(EnvironmentStatus | CommandEnvironmentStatus)[]> {
    const cfg = this.configOf(service);
    const out: (EnvironmentStatus | CommandEnvironmentStatus)[] = [];
    for (const env of Object.keys(cfg.environments)) {
      if (cfg.driver === 'command') {
        out.push(await this.commandStatus(service, env, cfg));
        continue;
      }
      const rt = this.runtime(service, env);
      const rows = (await this.d.store.db.selectFrom('releases').selectAll().where('service', '=', service).where('env', '=', env).where('state', 'in', ['live', 'warm']).orderBy('id', 'desc').execute()).map((r) => norm(r as Row));
      const lock = await this.locks.get(service, env);
      const figures = await rt.proxy.stats().catch(() => null);
      const canary = rt.proxy.canary();
      out.push({
        service,
        env,
        driver: 'process',
        url: null,
        proxy: {
          ...rt.proxy.address,
          listening: figures?.route.listening ?? false,
          releases: [...(figures?.releases ?? [])].map(([release, st]) => {
            const w = between(undefined, st);
            return { release, requests: w.requests, errors: w.errors, p50_ms: w.p50, p95_ms: w.p95 };
          }),
        },
        live: rows.filter((r) => r.state === 'live').map((r) => this.toRelease(r))[0] ?? null,
        warm: rows.filter((r) => r.state === 'warm').map((r) => this.toRelease(r)),
        lock: lock ? lockJson(lock) : null,
        canary: canary ? { release: canary.target.release, weight: canary.weight } : null,
        watch: watchJson(this.watches.get(`${service}/${env}`)),
        pinned: lock?.owner === PIN_OWNER,
      });
    }
    return out;
  }

  // ---------- locks ----------

  async lock(service: string, env: string | undefined, actor: string, reason: string, ttlMs: number): Promise<DeployLock> {
    const cfg = this.configOf(service);
    const e = this.envName(service, cfg, env, 'last');
    const row = await this.locks.acquire({ service, env: e, owner: actor, reason, ttlMs });
    await this.event('deploy.locked', actor, service, e, { reason, expires_at: iso(row.expires_at), message: `${service}/${e} locked: ${reason}` });
    return lockJson(row);
  }

  async unlock(service: string, env: string | undefined, actor: string): Promise<DeployLock | null> {
    const cfg = this.configOf(service);
    const e = this.envName(service, cfg, env, 'last');
    const held = await this.locks.get(service, e);
    if (!held) return null;
    if (held.release_id !== null && (await this.row(Number(held.release_id)))?.state === 'running') {
      throw new ServiceError('conflict', `${service}/${e} is locked by a running deploy (release ${held.release_id}, ${held.owner}); it unlocks when the deploy ends`);
    }
    await this.locks.remove(service, e);
    await this.event('deploy.unlocked', actor, service, e, { previous_owner: held.owner, reason: held.reason, message: `${service}/${e} unlocked (was locked by ${held.owner}: ${held.reason})` });
    return lockJson(held);
  }

  // ---------- events and steps ----------

  private async event(type: string, actor: string, service: string, env: string, data: Record<string, unknown>, release?: number): Promise<void> {
    await this.d.events.append({ type, actor, subject: release !== undefined ? `release:${release}` : `service:${service}`, data: { service, env, ...(release !== undefined ? { release } : {}), ...data } });
  }

  private readonly runningOutput = new Map<string, () => string>();

  /** Run one recorded step: a row with its output, a `deploy.step` event, live progress. */
  private async step<T>(
    ctx: { release: number; service: string; env: string; actor: string; seq: { n: number }; secrets: string[]; onProgress?: (p: Progress) => void },
    name: string,
    fn: (out: (text: string) => void) => Promise<{ ok: boolean; value?: T; detail: string; exitCode?: number | null; output?: string }>,
  ): Promise<T | undefined> {
    const seq = ++ctx.seq.n;
    const started = this.d.now();
    const row = await this.d.store.db.insertInto('release_steps').values({ release_id: ctx.release, seq, name, state: 'running', started_at: started, finished_at: null, exit_code: null, output: '', detail: null }).returning('id').executeTakeFirstOrThrow();
    const progress = (p: Progress) => {
      ctx.onProgress?.(p);
      this.d.events.notify({ type: 'deploy.progress', data: { service: ctx.service, env: ctx.env, ...p } });
    };
    progress({ type: 'step', release: ctx.release, seq, name, state: 'running' });
    let collected = '';
    const out = (text: string) => {
      const clean = scrub(text, ctx.secrets);
      if (collected.length < 300_000) collected += clean;
      progress({ type: 'output', release: ctx.release, step: name, text: clean });
    };
    // a running step's output so far, for whoever opens the release now
    const key = `${ctx.release}/${seq}`;
    this.runningOutput.set(key, () => collected);
    let r: Awaited<ReturnType<typeof fn>>;
    try {
      r = await fn(out);
    } catch (e) {
      r = { ok: false, detail: e instanceof ServiceError || e instanceof StepFailed ? e.message : `failed: ${(e as Error).message}` };
    } finally {
      this.runningOutput.delete(key);
    }
    const finished = this.d.now();
    const output = scrub(r.output ?? collected, ctx.secrets).slice(-256 * 1024);
    const detail = scrub(r.detail, ctx.secrets);
    await this.d.store.db
      .updateTable('release_steps')
      .set({ state: r.ok ? 'ok' : 'failed', finished_at: finished, exit_code: r.exitCode ?? null, output, detail })
      .where('id', '=', Number(row.id))
      .execute();
    await this.event('deploy.step', ctx.actor, ctx.service, ctx.env, { step: name, state: r.ok ? 'ok' : 'failed', duration_ms: finished - started, detail, message: `${name}: ${detail}` }, ctx.release);
    progress({ type: 'step', release: ctx.release, seq, name, state: r.ok ? 'ok' : 'failed', detail, duration_ms: finished - started });
    if (!r.ok) throw new StepFailed(`${name}: ${detail}`);
    return r.value;
  }

  // ---------- the pipeline ----------

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  deploy(input: DeployInput): Promise<ReleaseDetail> {
    return this.track(this.doDeploy(input));
  }

  promote(input: PromoteInput): Promise<ReleaseDetail> {
    return this.track(this.doPromote(input));
  }

  rollback(input: RollbackInput): Promise<ReleaseDetail> {
    return this.track(this.doRollback(input));
  }

  /**
   * Run `fn` holding the service/environment lock. `pin`: an automatic rollback's pin does not
   * refuse this operation — a rollback keeps it (it is put back afterwards), a promotion that goes
   * live clears it.
   */
  private async withLock<T>(
    service: string,
    env: string,
    cfg: DeployConfig,
    actor: string,
    reason: string,
    fn: (lock: { setRelease(id: number): Promise<void> }) => Promise<T>,
    opts: { pin?: 'keep' | 'clear' } = {},
  ): Promise<T> {
    let pin: Awaited<ReturnType<Locks['get']>>;
    if (opts.pin) {
      const l = await this.locks.get(service, env);
      if (l?.owner === PIN_OWNER) {
        pin = l;
        await this.locks.release(l);
      }
    }
    const restorePin = async () => {
      if (pin) await this.locks.acquire({ service, env, owner: pin.owner, reason: pin.reason, ttlMs: Math.max(60_000, Number(pin.expires_at) - this.d.now()) }).catch(() => undefined);
    };
    let held;
    try {
      held = await this.locks.acquire({ service, env, owner: actor, reason, ttlMs: cfg.lock_ttl });
    } catch (e) {
      await restorePin();
      if (e instanceof ServiceError) await this.event('deploy.refused', actor, service, env, { reason: e.message, message: `refused: ${e.message}` });
      throw e;
    }
    const beat = setInterval(() => void this.locks.renew(held, cfg.lock_ttl).catch((err) => this.d.logger.warn({ err }, 'renewing a deploy lock failed')), Math.max(1000, cfg.lock_ttl / 3));
    beat.unref();
    let result: T | undefined;
    try {
      result = await fn({ setRelease: (id) => this.locks.setRelease(service, env, id) });
      return result;
    } finally {
      clearInterval(beat);
      await this.locks.release(held).catch((err) => this.d.logger.warn({ err }, 'releasing a deploy lock failed'));
      if (pin) {
        const live = (result as { state?: string } | undefined)?.state === 'live';
        if (opts.pin === 'clear' && live) await this.event('deploy.unlocked', actor, service, env, { previous_owner: pin.owner, reason: pin.reason, message: `${service}/${env} unpinned: a release was promoted explicitly` });
        else await restorePin();
      }
    }
  }

  private releaseDir(service: string, id: number): string {
    return join(this.d.dataDir, 'releases', service, String(id));
  }

  /** A release's app output (appended by every start of it; removed with its directory). */
  private logPath(service: string, id: number): string {
    return join(this.d.dataDir, 'logs', 'releases', service, `${id}.log`);
  }

  private async newRelease(service: string, env: string, c: Commit, ref: string, actor: string, cfg: DeployConfig, extra: { promoted_from?: number; gates?: string; config?: string; deployment?: Deployment } = {}): Promise<Row> {
    const now = this.d.now();
    // the env store's values for this environment now: recorded by reference, kept in memory for the release's processes
    const snap = cfg.driver === 'command' ? undefined : await this.d.peers?.envStore?.snapshot(service, env);
    const values = {
      service,
      env,
      state: 'running',
      version: c.version,
      git_sha: c.sha,
      ref,
      author: c.author,
      commit_message: c.message,
      actor,
      promoted_from: extra.promoted_from ?? null,
      config: extra.config ?? JSON.stringify(this.snapshot(cfg)),
      gates: extra.gates ?? '[]',
      error: null,
      dir: null,
      port: null,
      pid: null,
      created_at: now,
      finished_at: null,
      live_at: null,
      ended_at: null,
      deployment_id: extra.deployment?.id ?? null,
      deployment_url: extra.deployment?.url ?? null,
      env_snapshot: snap?.id ?? null,
    };
    const r = await this.d.store.db.insertInto('releases').values(values).returning('id').executeTakeFirstOrThrow();
    const id = Number(r.id);
    if (snap) this.releaseEnv.set(id, snap.values);
    const dir = this.releaseDir(service, id);
    await this.d.store.db.updateTable('releases').set({ dir }).where('id', '=', id).execute();
    return { ...values, id, dir };
  }

  private async doDeploy(input: DeployInput): Promise<ReleaseDetail> {
    const cfg = this.configOf(input.service);
    const env = this.envName(input.service, cfg, input.env, 'first');
    const ref = input.ref ?? 'HEAD';
    const commit = await resolveRef(repoOf(this.d.config().file, cfg), ref);
    if (input.canary !== undefined && !(input.canary >= 1 && input.canary <= 99)) throw new ServiceError('invalid', `a canary is 1% to 99% of traffic, got ${input.canary}%`);
    if (input.canary !== undefined && cfg.driver === 'command') throw new ServiceError('invalid', `${input.service} deploys with driver: command (a hosted platform): canaries need the proxy of driver: process`);
    const detail = await this.withLock(input.service, env, cfg, input.actor, `deploying ${ref} (${commit.sha.slice(0, 7)}) to ${env}${input.canary !== undefined ? ` as a ${input.canary}% canary` : ''}`, async (lock) => {
      const rel = await this.newRelease(input.service, env, commit, ref, input.actor, cfg);
      await lock.setRelease(rel.id);
      return (cfg.driver === 'command' ? this.commandPipeline : this.pipeline).call(this, rel, cfg, input, async (ctx) => {
        const dir = rel.dir as string;
        await this.step(ctx, 'cut', async () => {
          await exportTree(repoOf(this.d.config().file, cfg), commit.sha, dir);
          return { ok: true, detail: `${commit.version} (${commit.sha.slice(0, 12)}) from ${ref} into ${dir}` };
        });
        // the command running now, so a restart after a crash can kill what it left
        const recordPid = (pid: number) => void this.d.store.db.updateTable('releases').set({ pid }).where('id', '=', rel.id).execute().catch(() => undefined);
        const results: GateResult[] = [];
        const gate = async (g: DeployConfig['gates'][number]) => {
          await this.step(ctx, `gate ${gateName(g)}`, async (out) => {
            const r =
              g.migrations || g.backup
                ? await databaseGate(g, input.service, dir, this.d.peers?.database, this.d.now())
                : g.env || g.secrets || g.audit || g.headers
                  ? await securityGate(g, { service: input.service, env, dir, values: this.appEnv(cfg, rel.id), signal: this.stopping.signal }, this.d.peers?.security)
                  : await runGate(g, { dir, env: this.processEnv(cfg, { SHIPSHAPE_RELEASE: String(rel.id) }, rel.id), onOutput: out, onSpawn: recordPid, signal: this.stopping.signal });
            const { output, ...result } = r;
            results.push({ ...result, summary: scrub(result.summary, ctx.secrets) });
            await this.d.store.db.updateTable('releases').set({ gates: JSON.stringify(results) }).where('id', '=', rel.id).execute();
            return { ok: r.passed, detail: r.summary, exitCode: r.exit_code, output: r.kind === 'bundle' ? (r.files ?? []).map((f) => `${f.path}  ${f.size} B`).join('\n') : output };
          });
        };
        // commands (typecheck, lint, tests) and the database's state gate the source; bundle budgets measure what the build made
        for (const g of cfg.gates.filter((g) => g.bundle === undefined && g.headers?.path === undefined)) await gate(g);
        if (cfg.build) {
          const build = cfg.build;
          await this.step(ctx, 'build', async (out) => {
            const r = await runCommand(build, { cwd: dir, env: this.processEnv(cfg, { SHIPSHAPE_RELEASE: String(rel.id) }, rel.id), timeoutMs: cfg.build_timeout, onOutput: out, onSpawn: recordPid, signal: this.stopping.signal });
            const detail = r.timedOut ? `timed out after ${formatDuration(cfg.build_timeout)} (killed)` : r.exitCode === 0 ? `built in ${formatDuration(r.durationMs)}` : `exited with ${r.exitCode ?? r.signal}`;
            return { ok: !r.timedOut && r.exitCode === 0, detail, exitCode: r.exitCode, output: r.output };
          });
        }
        for (const g of cfg.gates.filter((g) => g.bundle !== undefined)) await gate(g);
      });
    });
    await this.afterPipeline(detail, cfg);
    return detail;
  }

  // ---------- the command driver (hosted platforms) ----------

  private driverOf(cfg: DeployConfig): CommandDriver {
    if (!cfg.command) throw new ServiceError('invalid', 'driver: command needs a command: section');
    return new CommandDriver(cfg.command);
  }

  /** Does making a deployment serve this environment take the platform's promote command (production), or only a record (previews)? */
  private isProduction(env: string, cfg: DeployConfig): boolean {
    return cfg.environments[env]?.production ?? env === 'production';
  }

  private async liveRow(service: string, env: string): Promise<Row | undefined> {
    return norm((await this.d.store.db.selectFrom('releases').selectAll().where('service', '=', service).where('env', '=', env).where('state', '=', 'live').orderBy('id', 'desc').limit(1).executeTakeFirst()) as Row | undefined);
  }

  private async commandStatus(service: string, env: string, cfg: DeployConfig): Promise<CommandEnvironmentStatus> {
    const live = await this.liveRow(service, env);
    const lock = await this.locks.get(service, env);
    return {
      service,
      env,
      driver: 'command',
      url: cfg.environments[env]?.url ?? live?.deployment_url ?? null,
      proxy: null,
      live: live ? this.toRelease(live) : null,
      warm: [],
      lock: lock ? lockJson(lock) : null,
      canary: null,
      watch: watchJson(this.watches.get(`${service}/${env}`)),
      pinned: lock?.owner === PIN_OWNER,
    };
  }

  private commandOptions(ctx: Parameters<Deployer['step']>[0], cfg: DeployConfig, cwd: string, out: (t: string) => void): CommandRunOptions {
    const recordPid = (pid: number) => void this.d.store.db.updateTable('releases').set({ pid }).where('id', '=', ctx.release).execute().catch(() => undefined);
    return { cwd, env: this.processEnv(cfg, { SHIPSHAPE_RELEASE: String(ctx.release) }), onOutput: out, onSpawn: recordPid, signal: this.stopping.signal };
  }

  /** Run the promote or rollback command as a step; a failing command fails the step with its output. */
  private async platformStep(ctx: Parameters<Deployer['step']>[0], cfg: DeployConfig, kind: 'promote' | 'rollback', d: Deployment, cwd: string): Promise<void> {
    const driver = this.driverOf(cfg);
    await this.step(ctx, kind, async (out) => {
      const r = await (kind === 'promote' ? driver.promote(d, ctx.env, this.commandOptions(ctx, cfg, cwd, out)) : driver.rollback(d, ctx.env, this.commandOptions(ctx, cfg, cwd, out)));
      if (r.error) return { ok: false, detail: `${maskAssignments(r.command)} ${r.error}`, exitCode: r.run.exitCode, output: r.run.output };
      return { ok: true, detail: `${ctx.service}/${ctx.env} now serves deployment ${d.id} (${d.url})`, exitCode: r.run.exitCode, output: r.run.output };
    });
  }

  /** Record `to` as what serves its environment; the release that served becomes `previousState`. */
  private async markLive(to: number, previous: Row | undefined, previousState: 'retired' | 'rolled_back'): Promise<void> {
    const now = this.d.now();
    await this.d.store.db.updateTable('releases').set({ state: 'live', live_at: now, ended_at: null, pid: null }).where('id', '=', to).execute();
    if (previous && previous.id !== to) await this.d.store.db.updateTable('releases').set({ state: previousState, ended_at: now }).where('id', '=', previous.id).execute();
  }

  /**
   * The pipeline of driver: command: `prepare` (cut, gates, build — or, for a promotion, the
   * deployment of the source release), the deploy command (its output names the deployment), smoke
   * steps against the deployment's URL, the promote command for a production environment, then the
   * named checks; failing checks run the rollback command to the release that served before.
   */
  private async commandPipeline(rel: Row, cfg: DeployConfig, input: { actor: string; onProgress?: (p: Progress) => void }, prepare: (ctx: Parameters<Deployer['step']>[0]) => Promise<void>): Promise<ReleaseDetail> {
    const ctx = { release: rel.id, service: rel.service, env: rel.env, actor: input.actor, seq: { n: 0 }, secrets: this.secrets(cfg), onProgress: input.onProgress };
    const envCfg = cfg.environments[rel.env] as EnvironmentConfig;
    const driver = this.driverOf(cfg);
    const previous = await this.liveRow(rel.service, rel.env);
    const cwd = rel.dir ?? this.d.dataDir;
    input.onProgress?.({ type: 'release', release: this.toRelease(rel) });
    await this.event('deploy.started', input.actor, rel.service, rel.env, {
      version: rel.version,
      git_sha: rel.git_sha,
      ref: rel.ref,
      ...(rel.promoted_from !== null ? { promoted_from: rel.promoted_from } : {}),
      message: `${rel.service} ${rel.version} (${rel.git_sha.slice(0, 7)}) ${rel.promoted_from !== null ? `promoted from release ${rel.promoted_from}` : 'deploying'} to ${rel.env}`,
    }, rel.id);
    let dep: Deployment | undefined = rel.deployment_id && rel.deployment_url ? { id: rel.deployment_id, url: rel.deployment_url } : undefined;
    try {
      await prepare(ctx);
      dep ??= await this.step(ctx, 'deploy', async (out) => {
        const r = await driver.deploy(rel.env, this.commandOptions(ctx, cfg, cwd, out));
        if (r.error || !r.deployment) return { ok: false, detail: `${maskAssignments(r.command)} ${r.error ?? 'named no deployment'}`, exitCode: r.run.exitCode, output: r.run.output };
        await this.d.store.db.updateTable('releases').set({ deployment_id: r.deployment.id, deployment_url: r.deployment.url, pid: null }).where('id', '=', rel.id).execute();
        return { ok: true, value: r.deployment, detail: `deployment ${r.deployment.id} at ${r.deployment.url}`, exitCode: r.run.exitCode, output: r.run.output };
      });
      const d = dep as Deployment;
      if (envCfg.verify?.smoke.length) await this.smoke(ctx, d.url, envCfg.verify.smoke);
      await this.releaseGates(ctx, rel, cfg, d.url);
      if (this.isProduction(rel.env, cfg)) await this.platformStep(ctx, cfg, 'promote', d, cwd);
      else await this.step(ctx, 'switch', async () => ({ ok: true, detail: `${rel.service}/${rel.env} is deployment ${d.id} at ${d.url} (not a production environment: no promote command)` }));
      await this.markLive(rel.id, previous, 'retired');
      if (envCfg.verify?.checks.length) await this.commandVerify(ctx, cfg, envCfg, previous, cwd);
      await this.d.store.db.updateTable('releases').set({ finished_at: this.d.now() }).where('id', '=', rel.id).execute();
      await this.event('deploy.succeeded', input.actor, rel.service, rel.env, { version: rel.version, git_sha: rel.git_sha, deployment_id: d.id, deployment_url: d.url, message: `${rel.service} ${rel.version} live on ${rel.env} (${d.url})` }, rel.id);
      if (envCfg.watch && previous?.deployment_id) await this.startCommandWatch(rel, previous, cfg, envCfg.watch);
      await this.prune(rel.service, cfg).catch((err) => this.d.logger.warn({ err }, 'removing old release directories failed'));
    } catch (e) {
      const error = e instanceof StepFailed || e instanceof ServiceError || e instanceof AutoRolledBack ? e.message : `failed: ${(e as Error).message}`;
      if (e instanceof AutoRolledBack) {
        await this.d.store.db.updateTable('releases').set({ state: 'rolled_back', error, finished_at: this.d.now(), ended_at: this.d.now() }).where('id', '=', rel.id).execute();
        this.autoRolledBack.set(rel.id, error);
      } else {
        if (rel.dir) rmSync(rel.dir, { recursive: true, force: true });
        await this.d.store.db.updateTable('releases').set({ state: 'failed', error, finished_at: this.d.now(), pid: null, dir: null }).where('id', '=', rel.id).execute();
        // the promote command may have failed half-way: what serves is what was recorded live
        const serving = await this.liveRow(rel.service, rel.env);
        await this.event('deploy.failed', input.actor, rel.service, rel.env, { version: rel.version, git_sha: rel.git_sha, error, still_serving: serving?.id ?? null, message: `${rel.service} ${rel.version} failed on ${rel.env}: ${error}${serving ? ` (release ${serving.id} keeps serving)` : ''}` }, rel.id);
      }
    }
    const detail = await this.get(rel.service, rel.id);
    input.onProgress?.({ type: 'done', release: detail });
    return detail;
  }

  /**
   * driver: command: the watch window from telemetry. The platform serves the deployment, so there
   * is no proxy to measure: the service's requests (as its telemetry reports them: OpenTelemetry,
   * Sentry, the SDK) since the last judged window are judged against what it reported in a window
   * as long as the watch before the promotion.
   */
  private async startCommandWatch(rel: Row, previous: Row, cfg: DeployConfig, windowMs: number): Promise<void> {
    const traffic = this.d.peers?.serviceTraffic;
    if (!traffic) return;
    const baseline = await traffic(rel.service, windowMs).catch(() => null);
    let since = this.d.now();
    this.watch(rel.service, rel.env, rel.id, previous.id, cfg, windowMs, {
      stillLive: async () => (await this.liveRow(rel.service, rel.env))?.id === rel.id,
      judgeNext: async (interval) => {
        const now = this.d.now();
        const v = judge(await traffic(rel.service, Math.max(interval, now - since)), baseline, cfg.analysis);
        if (v.ok !== null) since = now;
        return v;
      },
    });
  }

  /** driver: command: the named checks after the promotion; failing, the rollback command brings back the release that served before. */
  private async commandVerify(ctx: Parameters<Deployer['step']>[0], cfg: DeployConfig, envCfg: EnvironmentConfig, previous: Row | undefined, cwd: string): Promise<void> {
    try {
      await this.verifyStep(ctx, envCfg, 1000);
    } catch (e) {
      const why = `verification failed: ${(e as Error).message.replace(/^verify: /, '')}`;
      if (!previous?.deployment_id || !previous.deployment_url) {
        await this.event('deploy.step', ctx.actor, ctx.service, ctx.env, { step: 'verify', state: 'failed', message: `${why}; no earlier deployment to go back to, so it keeps serving` }, ctx.release);
        return;
      }
      const back = { id: previous.deployment_id, url: previous.deployment_url };
      if (this.isProduction(ctx.env, cfg)) await this.platformStep(ctx, cfg, 'rollback', back, cwd);
      await this.markLive(previous.id, undefined, 'rolled_back');
      await this.event('deploy.rolled_back', PIN_OWNER, ctx.service, ctx.env, { from: ctx.release, to: previous.id, automatic: true, reason: why, deployment_id: back.id, deployment_url: back.url, message: `${ctx.service}/${ctx.env} rolled back automatically to release ${previous.id} (${back.url}): ${why}` }, previous.id);
      throw new AutoRolledBack(why);
    }
  }

  /** driver: command: the same deployment, verified in another environment (promoted there by the promote command when it is production). */
  private async commandPromote(input: PromoteInput, cfg: DeployConfig, to: string, src: Row): Promise<ReleaseDetail> {
    if (!src.deployment_id || !src.deployment_url) throw new ServiceError('conflict', `release ${src.id} of ${input.service} has no deployment on the platform (it was not deployed with driver: command)`);
    const deployment = { id: src.deployment_id, url: src.deployment_url };
    const commit: Commit = { sha: src.git_sha, version: src.version, author: src.author, message: src.commit_message };
    const detail = await this.withLock(
      input.service,
      to,
      cfg,
      input.actor,
      `promoting release ${src.id} (${src.version}) to ${to}`,
      async (lock) => {
        const rel = await this.newRelease(input.service, to, commit, src.ref, input.actor, cfg, { promoted_from: src.id, gates: src.gates, config: src.config, deployment });
        // nothing to build: the platform has the deployment (the source release's directory, if kept, is where its commands run)
        await this.d.store.db.updateTable('releases').set({ dir: null }).where('id', '=', rel.id).execute();
        await lock.setRelease(rel.id);
        return this.commandPipeline({ ...rel, dir: src.dir && existsSync(src.dir) ? src.dir : null }, cfg, input, async (ctx) => {
          await this.step(ctx, 'deployment', async () => ({ ok: true, detail: `deployment ${deployment.id} (${deployment.url}) of release ${src.id} (${src.env}), gates passed there` }));
        });
      },
      { pin: 'clear' },
    );
    await this.afterPipeline(detail, cfg);
    return detail;
  }

  /** driver: command: the rollback command to an earlier release's deployment (the platform still has it). */
  private async commandRollback(input: RollbackInput, cfg: DeployConfig, env: string, given: Row | undefined): Promise<ReleaseDetail> {
    return this.withLock(input.service, env, cfg, input.actor, `rolling back ${input.service}/${env}${input.release !== undefined ? ` to release ${input.release}` : ''}`, async () => {
      const current = await this.liveRow(input.service, env);
      let target = given;
      if (!target) {
        // like the process driver: the release that served before (a rolled-back one only when named)
        let q = this.d.store.db.selectFrom('releases').selectAll().where('service', '=', input.service).where('env', '=', env).where('state', '=', 'retired').where('live_at', 'is not', null);
        if (current) q = q.where('id', '!=', current.id);
        target = norm((await q.orderBy('live_at', 'desc').limit(1).executeTakeFirst()) as Row | undefined);
        if (!target) throw new ServiceError('conflict', `${input.service}/${env} has no earlier release to roll back to`);
      }
      const to = target;
      if (to.state === 'failed' || to.state === 'running') throw new ServiceError('conflict', `release ${to.id} ${to.state === 'failed' ? 'failed' : 'is still being deployed'}; roll back to a release that served`);
      if (current?.id === to.id) throw new ServiceError('conflict', `release ${to.id} is already live on ${input.service}/${env}`);
      if (!to.deployment_id || !to.deployment_url) throw new ServiceError('conflict', `release ${to.id} of ${input.service} has no deployment on the platform to roll back to`);
      const d = { id: to.deployment_id, url: to.deployment_url };
      const ctx = { release: to.id, service: input.service, env, actor: input.actor, seq: { n: await this.maxSeq(to.id) }, secrets: this.secrets(cfg), onProgress: input.onProgress };
      input.onProgress?.({ type: 'release', release: this.toRelease(to) });
      try {
        if (this.isProduction(env, cfg)) await this.platformStep(ctx, cfg, 'rollback', d, to.dir && existsSync(to.dir) ? to.dir : this.d.dataDir);
        else await this.step(ctx, 'switch', async () => ({ ok: true, detail: `${input.service}/${env} is deployment ${d.id} at ${d.url} again (not a production environment: no rollback command)` }));
      } catch (e) {
        const error = (e as Error).message;
        await this.event('deploy.failed', input.actor, input.service, env, { error, rollback: true, still_serving: current?.id ?? null, message: `rollback of ${input.service}/${env} to release ${to.id} failed: ${error}` }, to.id);
        throw new ServiceError('conflict', `rollback to release ${to.id} failed: ${error}; release ${current?.id ?? 'none'} keeps serving`);
      }
      await this.markLive(to.id, current, 'rolled_back');
      const automatic = input.actor === PIN_OWNER;
      await this.event(
        'deploy.rolled_back',
        input.actor,
        input.service,
        env,
        { from: current?.id ?? null, to: to.id, automatic, ...(input.reason ? { reason: input.reason } : {}), version: to.version, git_sha: to.git_sha, deployment_id: d.id, deployment_url: d.url, message: `${input.service}/${env} rolled back${automatic ? ' automatically' : ''} to release ${to.id} (${to.version}, ${d.url})${current ? ` from release ${current.id}` : ''}${input.reason ? `: ${input.reason}` : ''}` },
        to.id,
      );
      const detail = await this.get(input.service, to.id);
      input.onProgress?.({ type: 'done', release: detail });
      return detail;
    }, { pin: 'keep' });
  }

  /** driver: command: what the platform lists (the list command's output), for comparing with the releases Shipshape recorded. */
  async platformList(service: string): Promise<{ command: string; exit_code: number | null; output: string }> {
    const cfg = this.configOf(service);
    if (cfg.driver !== 'command') throw new ServiceError('invalid', `${service} deploys with driver: ${cfg.driver}; the platform's list is for driver: command`);
    const secrets = this.secrets(cfg);
    const r = await this.driverOf(cfg).list({ cwd: this.d.dataDir, env: this.processEnv(cfg), signal: this.stopping.signal });
    if (!r) throw new ServiceError('invalid', `${service} has no command.list (and no preset giving one)`);
    if (r.error) throw new ServiceError('conflict', `${maskAssignments(r.command)} ${r.error}: ${scrub(r.run.output, secrets).slice(-2000)}`);
    return { command: maskAssignments(r.command), exit_code: r.run.exitCode, output: scrub(r.run.output, secrets) };
  }

  private async afterPipeline(detail: ReleaseDetail, cfg: DeployConfig): Promise<void> {
    const why = this.autoRolledBack.get(detail.id);
    if (why === undefined) return;
    this.autoRolledBack.delete(detail.id);
    await this.afterAutoRollback(detail.service, detail.env, detail.id, why, cfg);
  }

  private async doPromote(input: PromoteInput): Promise<ReleaseDetail> {
    const cfg = this.configOf(input.service);
    const to = this.envName(input.service, cfg, input.to, 'last');
    const src = await this.row(input.release);
    if (!src || src.service !== input.service) throw new ServiceError('not_found', `no release ${input.release} of ${input.service}`);
    if (src.state === 'running' || src.state === 'failed') throw new ServiceError('conflict', `release ${src.id} ${src.state === 'failed' ? 'failed' : 'is still being deployed'}; only a release that went live can be promoted`);
    if (src.env === to) throw new ServiceError('conflict', `release ${src.id} is already a ${to} release; promote takes a release to another environment`);
    if (cfg.driver === 'command') return this.commandPromote(input, cfg, to, src);
    if (!src.dir || !existsSync(src.dir)) throw new ServiceError('conflict', `release ${src.id} of ${input.service} is no longer on disk (only the last ${cfg.keep_releases} are kept: deploy.keep_releases); deploy ${src.git_sha.slice(0, 12)} again with \`shipshape deploy ${input.service} --env ${to} --ref ${src.git_sha.slice(0, 12)}\``);
    const srcDir = src.dir;
    const commit: Commit = { sha: src.git_sha, version: src.version, author: src.author, message: src.commit_message };
    const detail = await this.withLock(
      input.service,
      to,
      cfg,
      input.actor,
      `promoting release ${src.id} (${src.version}) to ${to}`,
      async (lock) => {
        const rel = await this.newRelease(input.service, to, commit, src.ref, input.actor, cfg, { promoted_from: src.id, gates: src.gates, config: src.config });
        await lock.setRelease(rel.id);
        return this.pipeline(rel, cfg, input, async (ctx) => {
          await this.step(ctx, 'copy', async () => {
            cpSync(srcDir, rel.dir as string, { recursive: true, verbatimSymlinks: true });
            return { ok: true, detail: `the build of release ${src.id} (${src.env}), gates passed there` };
          });
        });
      },
      { pin: 'clear' },
    );
    await this.afterPipeline(detail, cfg);
    return detail;
  }

  /**
   * The common end of a deploy and a promotion: `prepare` (cut, gates, build), then start, health,
   * smoke steps, the canary steps (with `canary`), switch, verification by the named checks, and
   * the watch window. A failure before the switch leaves the old release serving and marks this one
   * failed; a failed canary step or verification takes it out again (`rolled_back`), pins the
   * environment and opens an incident.
   */
  private async pipeline(rel: Row, cfg: DeployConfig, input: { actor: string; canary?: number; onProgress?: (p: Progress) => void }, prepare: (ctx: Parameters<Deployer['step']>[0]) => Promise<void>): Promise<ReleaseDetail> {
    const ctx = { release: rel.id, service: rel.service, env: rel.env, actor: input.actor, seq: { n: 0 }, secrets: this.secrets(cfg, rel.id), onProgress: input.onProgress };
    const rt = this.runtime(rel.service, rel.env);
    const envCfg = cfg.environments[rel.env] as EnvironmentConfig;
    input.onProgress?.({ type: 'release', release: this.toRelease(rel) });
    await this.event('deploy.started', input.actor, rel.service, rel.env, {
      version: rel.version,
      git_sha: rel.git_sha,
      ref: rel.ref,
      ...(rel.promoted_from !== null ? { promoted_from: rel.promoted_from } : {}),
      ...(input.canary !== undefined ? { canary: input.canary } : {}),
      message: `${rel.service} ${rel.version} (${rel.git_sha.slice(0, 7)}) ${rel.promoted_from !== null ? `promoted from release ${rel.promoted_from}` : 'deploying'} to ${rel.env}${input.canary !== undefined ? ` as a ${input.canary}% canary` : ''}`,
    }, rel.id);
    let app: ReleaseProcess | null = null;
    let stable: ReleaseProcess | null = null;
    try {
      await prepare(ctx);
      app = await this.startAndCheck(ctx, rel, cfg);
      if (envCfg.verify?.smoke.length) await this.smoke(ctx, app, envCfg.verify.smoke);
      await this.releaseGates(ctx, rel, cfg, `http://127.0.0.1:${app.port}`);
      stable = rt.live;
      if (input.canary !== undefined) await this.runCanary(ctx, rt, app, cfg, envCfg, input.canary);
      await this.switchTo(ctx, rt, app, cfg);
      if (envCfg.verify?.checks.length) await this.verifyChecks(ctx, rt, app, stable, cfg, envCfg);
      await this.d.store.db.updateTable('releases').set({ finished_at: this.d.now() }).where('id', '=', rel.id).execute();
      await this.event('deploy.succeeded', input.actor, rel.service, rel.env, { version: rel.version, git_sha: rel.git_sha, message: `${rel.service} ${rel.version} live on ${rel.env}` }, rel.id);
      if (envCfg.watch && stable) await this.startWatch(rt, app, stable, cfg, envCfg.watch).catch((err) => this.d.logger.error({ err }, 'the watch window could not start (the proxy daemon did not answer)'));
      // the releases older than the warm one are stopped, and directories past keep_releases removed
      await this.prune(rel.service, cfg).catch((err) => this.d.logger.warn({ err }, 'removing old release directories failed'));
    } catch (e) {
      const error = e instanceof StepFailed || e instanceof ServiceError || e instanceof AutoRolledBack ? e.message : `failed: ${(e as Error).message}`;
      if (e instanceof AutoRolledBack) {
        // it served some traffic: it is kept on disk (like any release that served) and recorded
        await this.d.store.db.updateTable('releases').set({ state: 'rolled_back', error, finished_at: this.d.now(), ended_at: this.d.now() }).where('id', '=', rel.id).execute();
        this.autoRolledBack.set(rel.id, error);
      } else {
        if (app) await app.stop(cfg.stop_timeout);
        // a failed release is never served, promoted or rolled back to: its directory goes now
        if (rel.dir) rmSync(rel.dir, { recursive: true, force: true });
        await this.d.store.db.updateTable('releases').set({ state: 'failed', error, finished_at: this.d.now(), port: null, pid: null, dir: null }).where('id', '=', rel.id).execute();
        const serving = rt.proxy.current();
        await this.event('deploy.failed', input.actor, rel.service, rel.env, { version: rel.version, git_sha: rel.git_sha, error, still_serving: serving?.release ?? null, message: `${rel.service} ${rel.version} failed on ${rel.env}: ${error}${serving ? ` (release ${serving.release} keeps serving)` : ''}` }, rel.id);
      }
    }
    const detail = await this.get(rel.service, rel.id);
    input.onProgress?.({ type: 'done', release: detail });
    return detail;
  }

  /**
   * Gates that judge the running release itself (`headers: { path }`), after the smoke steps and
   * before any traffic; their results join the release's gate results.
   */
  private async releaseGates(ctx: Parameters<Deployer['step']>[0], rel: Row, cfg: DeployConfig, url: string): Promise<void> {
    for (const g of cfg.gates.filter((g) => g.headers?.path !== undefined)) {
      await this.step(ctx, `gate ${gateName(g)}`, async () => {
        const { output, ...result } = await securityGate(g, { service: rel.service, env: rel.env, dir: rel.dir ?? this.d.dataDir, values: {}, url, signal: this.stopping.signal }, this.d.peers?.security);
        const row = await this.d.store.db.selectFrom('releases').select('gates').where('id', '=', rel.id).executeTakeFirst();
        const results = [...(JSON.parse(row?.gates ?? '[]') as GateResult[]), { ...result, summary: scrub(result.summary, ctx.secrets) }];
        await this.d.store.db.updateTable('releases').set({ gates: JSON.stringify(results) }).where('id', '=', rel.id).execute();
        return { ok: result.passed, detail: result.summary, output };
      });
    }
  }

  /** Smoke steps: HTTP requests to the new release itself, before it gets any traffic. */
  private async smoke(ctx: Parameters<Deployer['step']>[0], app: ReleaseProcess | string, steps: SmokeStep[]): Promise<void> {
    await this.step(ctx, 'smoke', async (out) => {
      for (const st of steps) {
        const name = st.name ?? `${st.method} ${st.path}`;
        const r = await smokeRequest(typeof app === 'string' ? app : app.port, st);
        out(`${r.ok ? '✓' : '✗'} ${name}: ${r.detail}\n`);
        if (!r.ok) return { ok: false, detail: `${name}: ${r.detail}` };
      }
      return { ok: true, detail: `${steps.length} smoke step${steps.length === 1 ? '' : 's'} passed` };
    });
  }

  /**
   * The canary: `weight` % of clients (sticky by cookie) go to the new release, stepping up through
   * the environment's canary steps; each step lasts one analysis interval and is judged against the
   * stable release over the same interval. A failed step sends every client back to the stable
   * release and takes the new one out.
   */
  private async runCanary(ctx: Parameters<Deployer['step']>[0], rt: EnvRuntime, app: ReleaseProcess, cfg: DeployConfig, envCfg: EnvironmentConfig, start: number): Promise<void> {
    const stable = rt.proxy.current();
    if (!stable || !rt.live) {
      await this.step(ctx, 'canary', async () => ({ ok: true, detail: `nothing serves ${rt.service}/${rt.env} yet: the first release takes all traffic` }));
      return;
    }
    const steps = [start, ...(envCfg.canary?.steps ?? [10, 25, 50]).filter((w) => w > start)];
    const interval = envCfg.canary?.interval ?? cfg.analysis.interval;
    // both releases' counters read at the same moment (one request to the daemon)
    const both = async () => {
      // a proxy daemon restarting (it is started again at once) is waited for, a few seconds
      let figures: Awaited<ReturnType<RemoteProxy['stats']>> | undefined;
      for (let i = 0; !figures; i++) {
        try {
          figures = await rt.proxy.stats();
        } catch (e) {
          if (i >= 50) throw e;
          await this.sleep(100);
        }
      }
      const { releases } = figures;
      return { n: releases.get(app.release), o: releases.get(stable.release) ?? emptySnapshot() };
    };
    for (const weight of steps) {
      let verdict: Verdict | undefined;
      try {
        await this.step(ctx, `canary ${weight}%`, async (out) => {
          await rt.proxy.setCanary({ target: { release: app.release, port: app.port }, weight });
          await this.event('deploy.canary', ctx.actor, rt.service, rt.env, { weight, stable: stable.release, message: `${rt.service}/${rt.env}: ${weight}% of clients to release ${app.release}, the rest to release ${stable.release}` }, app.release);
          // too little traffic to judge: the step goes on (the window grows), at most three intervals
          const a = await both();
          for (let round = 1; round <= 3; round++) {
            await this.sleep(interval);
            if (!app.alive) return { ok: false, detail: 'the canary exited' };
            const now = await both();
            verdict = judge(between(a.n, now.n ?? emptySnapshot()), between(a.o, now.o), cfg.analysis);
            out(`${formatDuration(interval * round)}: ${verdict.reason}\n`);
            if (verdict.ok !== null) break;
          }
          const v = verdict as Verdict;
          if (v.ok === false) return { ok: false, detail: v.reason };
          // still too few requests: any failure among them fails the step, none lets it step on
          if (v.ok === null) return v.release.errors > 0 ? { ok: false, detail: `${v.reason}, but some failed` } : { ok: true, detail: `${v.reason}; none failed, stepping on` };
          return { ok: true, detail: v.reason };
        });
      } catch (e) {
        await rt.proxy.setCanary(null).catch((err) => this.d.logger.error({ err }, 'ending the canary in the proxy failed'));
        // Shipshape is stopping: an interrupted deploy, not a verdict on the release
        if (this.stopping.signal.aborted) throw e;
        const why = `canary at ${weight}% failed: ${e instanceof StepFailed ? e.message.replace(/^canary \d+%: /, '') : (e as Error).message}`;
        await this.d.store.db.updateTable('releases').set({ state: 'rolled_back' }).where('id', '=', app.release).execute();
        void this.retire(rt, app, cfg, 'rolled_back');
        await this.event('deploy.rolled_back', PIN_OWNER, rt.service, rt.env, { from: app.release, to: stable.release, warm: true, automatic: true, canary: weight, reason: why, message: `${rt.service}/${rt.env}: all clients back on release ${stable.release}; ${why}` }, app.release);
        throw new AutoRolledBack(why);
      }
    }
  }

  /** The `verify` step: the environment's named checks, run until all pass or verify.timeout ends (StepFailed then). */
  private async verifyStep(ctx: Parameters<Deployer['step']>[0], envCfg: EnvironmentConfig, everyMs: number): Promise<void> {
    const v = envCfg.verify as NonNullable<EnvironmentConfig['verify']>;
    const run = this.d.peers?.runChecks;
    const ids = v.checks.map((c) => `${ctx.service}/${c}`);
    await this.step(ctx, 'verify', async (out) => {
      if (!run) return { ok: true, detail: 'checks are not running here: skipped' };
      const deadline = this.d.now() + v.timeout;
      for (;;) {
        const results = await run(ids);
        const failing = results.filter((r) => !r.ok);
        if (failing.length === 0 && results.length === ids.length) return { ok: true, detail: `${ids.length} check${ids.length === 1 ? '' : 's'} passed: ${v.checks.join(', ')}` };
        if (this.d.now() >= deadline || this.stopping.signal.aborted) {
          for (const f of failing) out(`✗ ${f.id}: ${f.message}\n`);
          return { ok: false, detail: `after ${formatDuration(v.timeout)}: ${failing.map((f) => `${f.id.slice(ctx.service.length + 1)} failing (${f.message})`).join('; ')}` };
        }
        await this.sleep(everyMs);
      }
    });
  }

  /** After the switch: the named checks must pass within verify.timeout, else the previous release serves again. */
  private async verifyChecks(ctx: Parameters<Deployer['step']>[0], rt: EnvRuntime, app: ReleaseProcess, stable: ReleaseProcess | null, cfg: DeployConfig, envCfg: EnvironmentConfig): Promise<void> {
    try {
      await this.verifyStep(ctx, envCfg, Math.min(1000, Math.max(100, cfg.health.interval)));
    } catch (e) {
      const why = `verification failed: ${(e as Error).message.replace(/^verify: /, '')}`;
      if (!stable || !stable.alive || rt.live !== app) {
        // nothing to go back to: it keeps serving, and the failure is on record
        await this.event('deploy.step', ctx.actor, rt.service, rt.env, { step: 'verify', state: 'failed', message: `${why}; no earlier release is running to go back to, so it keeps serving` }, app.release);
        return;
      }
      await this.switchTo(ctx, rt, stable, cfg, { previousState: 'rolled_back' });
      await this.event('deploy.rolled_back', PIN_OWNER, rt.service, rt.env, { from: app.release, to: stable.release, warm: true, automatic: true, reason: why, message: `${rt.service}/${rt.env} rolled back automatically to release ${stable.release}: ${why}` }, stable.release);
      throw new AutoRolledBack(why);
    }
  }

  /**
   * The watch window: every analysis interval, the live release's window is judged against what the
   * previous release answered before the switch; a failed window rolls back (the previous release is
   * still warm), pins the environment and opens an incident.
   */
  private async startWatch(rt: EnvRuntime, app: ReleaseProcess, prev: ReleaseProcess, cfg: DeployConfig, windowMs: number): Promise<void> {
    const { releases } = await rt.proxy.stats();
    const baseline = between(undefined, releases.get(prev.release) ?? emptySnapshot());
    let from: StatsSnapshot = releases.get(app.release) ?? emptySnapshot();
    this.watch(rt.service, rt.env, app.release, prev.release, cfg, windowMs, {
      stillLive: () => rt.live === app,
      judgeNext: async () => {
        const to = await rt.proxy.snapshot(app.release);
        const v = judge(between(from, to), baseline, cfg.analysis);
        if (v.ok !== null) from = to;
        return v;
      },
    });
  }

  /** The watch windows running, by service/env (one per environment: a newer release's replaces it). */
  private readonly watches = new Map<string, WatchState>();

  /**
   * The watch loop of both drivers: every analysis interval `judgeNext` judges the window since the
   * last judged one (a window with too few requests is not judged: the next one adds to it); a
   * failing window rolls back to `previous` (warm with the process driver, the rollback command
   * with the command driver), pins the environment and opens an incident; the watch ends when its
   * time is up (`deploy.watched`) or the release no longer serves.
   */
  private watch(service: string, env: string, release: number, previous: number, cfg: DeployConfig, windowMs: number, how: { stillLive: () => boolean | Promise<boolean>; judgeNext: (intervalMs: number) => Verdict | Promise<Verdict> }): void {
    const key = `${service}/${env}`;
    const old = this.watches.get(key);
    if (old) clearTimeout(old.timer);
    const interval = Math.min(cfg.analysis.interval, windowMs);
    const until = this.d.now() + windowMs;
    const w: WatchState = { release, baseline: previous, until, windows: [], timer: setTimeout(() => undefined, 0) };
    const done = () => {
      if (this.watches.get(key) === w) this.watches.delete(key);
    };
    const tick = async () => {
      if (this.watches.get(key) !== w || this.stopping.signal.aborted) return;
      if (!(await how.stillLive())) return done();
      // figures that cannot be read (the proxy daemon restarting) are a window not judged, not the end of the watch
      const v = await Promise.resolve()
        .then(() => how.judgeNext(interval))
        .catch((err: Error): Verdict => ({ ok: null, reason: `not judged: ${err.message}`, release: between(undefined, emptySnapshot()), baseline: null }));
      w.windows.push({ at: this.d.now(), ok: v.ok, reason: v.reason });
      if (w.windows.length > 100) w.windows.shift();
      if (v.ok === false) {
        done();
        return this.autoRollback(service, env, release, previous, cfg, `watch window: ${v.reason}`);
      }
      if (this.d.now() >= until) {
        done();
        await this.event('deploy.watched', 'system', service, env, { windows: w.windows.length, message: `release ${release} passed its ${formatDuration(windowMs)} watch window (${w.windows.filter((x) => x.ok).length} of ${w.windows.length} windows judged)` }, release);
        return;
      }
      schedule();
    };
    const schedule = () => {
      w.timer = setTimeout(() => void tick().catch((err) => this.d.logger.warn({ err }, 'a watch window failed')), interval);
      w.timer.unref();
    };
    clearTimeout(w.timer);
    this.watches.set(key, w);
    schedule();
  }

  /** Roll back to the release before (from the watch window), then pin and open an incident. */
  private async autoRollback(service: string, env: string, bad: number, previous: number, cfg: DeployConfig, reason: string): Promise<void> {
    try {
      await this.rollback({ service, env, release: previous, actor: PIN_OWNER, reason });
      await this.d.store.db.updateTable('releases').set({ state: 'rolled_back', error: reason }).where('id', '=', bad).execute();
    } catch (err) {
      this.d.logger.error({ err, release: bad }, 'the automatic rollback failed');
      await this.event('deploy.failed', PIN_OWNER, service, env, { rollback: true, automatic: true, error: (err as Error).message, message: `automatic rollback of ${service}/${env} failed: ${(err as Error).message}` }, bad).catch(() => undefined);
      return;
    }
    await this.afterAutoRollback(service, env, bad, reason, cfg);
  }

  /** Releases the pipeline took out itself (canary, verification): pinned and reported once the lock is free. */
  private readonly autoRolledBack = new Map<number, string>();

  /** Pin the environment (no deploy until an explicit promote or unlock) and open an incident about it. */
  private async afterAutoRollback(service: string, env: string, release: number, reason: string, cfg: DeployConfig): Promise<void> {
    const row = await this.row(release);
    const version = row?.version ?? '';
    try {
      await this.locks.acquire({ service, env, owner: PIN_OWNER, reason: `release ${release} (${version}) was rolled back automatically (${reason}); deploys wait until a release is promoted explicitly (shipshape promote ${service} <release> --to ${env}) or the environment is unlocked (shipshape unlock ${service} --env ${env})`, ttlMs: PIN_TTL });
      await this.event('deploy.pinned', PIN_OWNER, service, env, { reason, message: `${service}/${env} pinned after the automatic rollback of release ${release}` }, release);
    } catch (err) {
      this.d.logger.warn({ err }, 'pinning after an automatic rollback failed (the environment is locked already)');
    }
    const inc = cfg.analysis.incident;
    if (inc === false || !this.d.peers?.openIncident) return;
    try {
      const opened = await this.d.peers.openIncident({
        title: `${service} ${env}: release ${release} (${version}) rolled back automatically`,
        severity: inc.severity,
        services: [service],
        message: `Shipshape rolled ${service}/${env} back from release ${release} (${version}${row ? `, ${row.git_sha.slice(0, 12)} by ${row.author}` : ''}): ${reason}. Deploys to ${env} are pinned until a release is promoted explicitly.`,
      });
      if (opened) await this.event('deploy.incident', PIN_OWNER, service, env, { incident: opened.id, message: `${opened.ref} opened for the automatic rollback of release ${release}` }, release);
    } catch (err) {
      this.d.logger.error({ err }, 'opening an incident for an automatic rollback failed');
    }
  }

  /** Wait, unless Shipshape is stopping (then StepFailed). */
  private sleep(ms: number): Promise<void> {
    return new Promise((done, fail) => {
      if (this.stopping.signal.aborted) return fail(new StepFailed('Shipshape is stopping'));
      const t = setTimeout(() => {
        this.stopping.signal.removeEventListener('abort', stop);
        done();
      }, ms);
      const stop = () => {
        clearTimeout(t);
        fail(new StepFailed('Shipshape is stopping'));
      };
      this.stopping.signal.addEventListener('abort', stop, { once: true });
    });
  }

  /** Start a release's app on a fresh port and wait until it is healthy; stops it on failure. */
  private async startAndCheck(ctx: Parameters<Deployer['step']>[0], rel: Row, cfg: DeployConfig): Promise<ReleaseProcess> {
    const rt = this.runtime(rel.service, rel.env);
    const app = (await this.step(ctx, 'start', async () => {
      const port = await freePort();
      await this.loadReleaseEnv(rel);
      const a = new AppProcess(rel.id, port, {
        dir: rel.dir as string,
        command: cfg.start as string,
        env: this.processEnv(cfg, {}, rel.id),
        log: this.logPath(rel.service, rel.id),
        onUnexpectedExit: (e) => void this.exited(rt, a, e, cfg),
      });
      await this.d.store.db.updateTable('releases').set({ port, pid: a.pid ?? null }).where('id', '=', rel.id).execute();
      return { ok: true, value: a, detail: `${maskAssignments(cfg.start as string)} on port ${port} (pid ${a.pid ?? '?'}; output in ${this.logPath(rel.service, rel.id)})`, output: '' };
    })) as ReleaseProcess;
    try {
      await this.step(ctx, 'health', async () => {
        const h = await waitHealthy(app, cfg.health.path, cfg.health.timeout, cfg.health.interval, this.stopping.signal);
        return h.healthy ? { ok: true, detail: `GET ${cfg.health.path} answered ${h.status}`, output: app.output() } : { ok: false, detail: h.reason, output: app.output() };
      });
    } catch (e) {
      await app.stop(cfg.stop_timeout);
      throw e;
    }
    return app;
  }

  /** Point the proxy at `app`; the release that served keeps running (warm) for instant rollback. */
  private async switchTo(ctx: Parameters<Deployer['step']>[0], rt: EnvRuntime, app: ReleaseProcess, cfg: DeployConfig, opts: { previousState?: 'warm' | 'rolled_back' } = {}): Promise<void> {
    await this.step(ctx, 'switch', async () => {
      if (!rt.proxy.listening) await rt.proxy.listen();
      const prev = rt.live;
      const prevTarget = rt.proxy.current();
      await rt.proxy.switchTo({ release: app.release, port: app.port });
      rt.live = app;
      rt.warm.delete(app.release);
      const now = this.d.now();
      await this.d.store.db.updateTable('releases').set({ state: 'live', live_at: now, ended_at: null }).where('id', '=', app.release).execute();
      if (prevTarget && prevTarget.release !== app.release) {
        const state = opts.previousState ?? 'warm';
        await this.d.store.db.updateTable('releases').set({ state, ended_at: now }).where('id', '=', prevTarget.release).execute();
        // one release is kept warm: the one that served until now; older warm ones stop
        for (const w of [...rt.warm.values()]) if (w.app !== prev) void this.retire(rt, w.app, cfg, 'retired');
        if (prev && state === 'warm') this.keepWarm(rt, prev, cfg);
        else if (prev) void this.retire(rt, prev, cfg, 'rolled_back');
      }
      const { address } = rt.proxy;
      return { ok: true, detail: `${rt.service}/${rt.env} on ${address.host}:${address.port} now serves release ${app.release}${prevTarget && prevTarget.release !== app.release ? ` (was ${prevTarget.release})` : ''}` };
    });
  }

  private keepWarm(rt: EnvRuntime, app: ReleaseProcess, cfg: DeployConfig): void {
    const window = Math.max(cfg.keep_warm, cfg.environments[rt.env]?.watch ?? 0);
    const timer = setTimeout(() => {
      if (rt.warm.get(app.release)?.app === app) void this.retire(rt, app, cfg, 'retired');
    }, window);
    timer.unref();
    rt.warm.set(app.release, { app, timer });
  }

  /** Drain a release that no longer serves, stop it, record it. */
  private retire(rt: EnvRuntime, app: ReleaseProcess, cfg: DeployConfig, state: 'retired' | 'rolled_back'): Promise<void> {
    const p = this.doRetire(rt, app, cfg, state).catch((err) => this.d.logger.warn({ err, release: app.release }, 'stopping a release failed'));
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
    return p;
  }

  private async doRetire(rt: EnvRuntime, app: ReleaseProcess, cfg: DeployConfig, state: 'retired' | 'rolled_back'): Promise<void> {
    const w = rt.warm.get(app.release);
    if (w?.app === app) {
      clearTimeout(w.timer);
      rt.warm.delete(app.release);
    }
    // a daemon that cannot be asked (restarting) does not keep the release running
    const { drained } = await rt.proxy.drain(app.port, cfg.drain_timeout).catch((err: Error) => {
      this.d.logger.warn({ err, release: app.release }, 'draining a release failed: stopping it anyway');
      return { drained: false };
    });
    await app.stop(cfg.stop_timeout);
    await this.d.store.db.updateTable('releases').set({ state, port: null, pid: null }).where('id', '=', app.release).where('state', 'in', ['warm', 'rolled_back', 'retired']).execute();
    await this.event('deploy.stopped', 'system', rt.service, rt.env, { drained, message: `release ${app.release} stopped${drained ? '' : ` (requests still in flight after ${formatDuration(cfg.drain_timeout)} were cut)`}` }, app.release);
  }

  /** A release's app exited on its own. */
  private async exited(rt: EnvRuntime, app: ReleaseProcess, e: { code: number | null; signal: NodeJS.Signals | null }, cfg: DeployConfig): Promise<void> {
    const wasLive = rt.live === app;
    const w = rt.warm.get(app.release);
    if (w?.app === app) {
      clearTimeout(w.timer);
      rt.warm.delete(app.release);
    }
    if (!wasLive && !w) return; // still starting: the health step reports it
    const how = e.code !== null ? `exit code ${e.code}` : `signal ${e.signal ?? '?'}`;
    const tail = scrub(app.output().split('\n').slice(-20).join('\n'), this.secrets(cfg));
    await this.d.store.db.updateTable('releases').set({ port: null, pid: null, ...(wasLive ? {} : { state: 'retired' }) }).where('id', '=', app.release).execute().catch(() => undefined);
    await this.event('deploy.crashed', 'system', rt.service, rt.env, { live: wasLive, exit: how, output: tail, message: `release ${app.release} ${wasLive ? '(live) ' : '(warm) '}exited: ${how}${wasLive ? '; restarting it' : ''}` }, app.release).catch(() => undefined);
    if (wasLive) this.revive(rt, app, 1);
  }

  /**
   * The live release crashed: start it again (a fresh port, health-gated) with backoff — 1s, 2s,
   * 4s … at most 30s — until it is healthy, or until a deploy or rollback replaces it. Until then
   * the proxy answers 502.
   */
  private revive(rt: EnvRuntime, dead: ReleaseProcess, attempt: number): void {
    const wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
    const timer = setTimeout(() => {
      void (async () => {
        if (this.stopping.signal.aborted || rt.live !== dead) return;
        const row = await this.row(dead.release);
        const cfg = this.d.config().raw.services[rt.service]?.deploy;
        if (!row || !cfg || !row.dir || !existsSync(row.dir)) return;
        const ctx = { release: Number(row.id), service: rt.service, env: rt.env, actor: 'system', seq: { n: await this.maxSeq(Number(row.id)) }, secrets: this.secrets(cfg) };
        try {
          const app = await this.startAndCheck(ctx, row, cfg);
          if (rt.live !== dead || this.stopping.signal.aborted) {
            await app.stop(cfg.stop_timeout);
            return;
          }
          await rt.proxy.switchTo({ release: app.release, port: app.port });
          rt.live = app;
          await this.event('deploy.restored', 'system', rt.service, rt.env, { attempt, message: `release ${row.id} (${row.version}) serves ${rt.service}/${rt.env} again after a crash (attempt ${attempt})` }, Number(row.id));
        } catch (err) {
          this.d.logger.warn({ err, release: dead.release, attempt }, 'restarting a crashed release failed');
          this.revive(rt, dead, attempt + 1);
        }
      })();
    }, wait);
    timer.unref();
  }

  private async doRollback(input: RollbackInput): Promise<ReleaseDetail> {
    const cfg = this.configOf(input.service);
    let env: string;
    let target: Row | undefined;
    if (input.release !== undefined) {
      target = await this.row(input.release);
      if (!target || target.service !== input.service) throw new ServiceError('not_found', `no release ${input.release} of ${input.service}`);
      if (input.env !== undefined && input.env !== target.env) throw new ServiceError('invalid', `release ${target.id} is a ${target.env} release, not ${input.env}`);
      env = this.envName(input.service, cfg, target.env, 'last');
    } else env = this.envName(input.service, cfg, input.env, 'last');
    if (cfg.driver === 'command') return this.commandRollback(input, cfg, env, target);
    const rt = this.runtime(input.service, env);
    return this.withLock(input.service, env, cfg, input.actor, `rolling back ${input.service}/${env}${input.release !== undefined ? ` to release ${input.release}` : ''}`, async () => {
      const current = rt.proxy.current();
      if (!target) {
        let q = this.d.store.db.selectFrom('releases').selectAll().where('service', '=', input.service).where('env', '=', env).where('state', 'in', ['warm', 'retired']).where('live_at', 'is not', null);
        if (current) q = q.where('id', '!=', current.release);
        target = norm((await q.orderBy('live_at', 'desc').limit(1).executeTakeFirst()) as Row | undefined);
        if (!target) throw new ServiceError('conflict', `${input.service}/${env} has no earlier release to roll back to`);
      }
      const to = target;
      if (to.state === 'failed' || to.state === 'running') throw new ServiceError('conflict', `release ${to.id} ${to.state === 'failed' ? 'failed' : 'is still being deployed'}; roll back to a release that served`);
      if (current?.release === to.id) throw new ServiceError('conflict', `release ${to.id} is already live on ${input.service}/${env}`);
      const warm = rt.warm.get(to.id);
      if (!warm && (!to.dir || !existsSync(to.dir))) {
        throw new ServiceError(
          'conflict',
          `release ${to.id} of ${input.service} (${to.version}, ${to.git_sha.slice(0, 12)}) is no longer on disk (only the last ${cfg.keep_releases} are kept: deploy.keep_releases); deploy it again with \`shipshape deploy ${input.service} --env ${env} --ref ${to.git_sha.slice(0, 12)}\``,
        );
      }
      if (!warm) await this.loadReleaseEnv(to);
      const ctx = { release: to.id, service: input.service, env, actor: input.actor, seq: { n: (await this.maxSeq(to.id)) }, secrets: this.secrets(cfg, to.id), onProgress: input.onProgress };
      input.onProgress?.({ type: 'release', release: this.toRelease(to) });
      try {
        const app = warm?.app.alive ? warm.app : await this.startAndCheck(ctx, { ...to, dir: to.dir }, cfg);
        await this.switchTo(ctx, rt, app, cfg, { previousState: 'rolled_back' });
      } catch (e) {
        const error = e instanceof StepFailed || e instanceof ServiceError ? e.message : (e as Error).message;
        await this.event('deploy.failed', input.actor, input.service, env, { error, rollback: true, still_serving: current?.release ?? null, message: `rollback of ${input.service}/${env} to release ${to.id} failed: ${error}` }, to.id);
        throw new ServiceError('conflict', `rollback to release ${to.id} failed: ${error}; release ${current?.release ?? 'none'} keeps serving`);
      }
      const automatic = input.actor === PIN_OWNER;
      await this.event(
        'deploy.rolled_back',
        input.actor,
        input.service,
        env,
        { from: current?.release ?? null, to: to.id, warm: Boolean(warm), automatic, ...(input.reason ? { reason: input.reason } : {}), version: to.version, git_sha: to.git_sha, message: `${input.service}/${env} rolled back${automatic ? ' automatically' : ''} to release ${to.id} (${to.version})${current ? ` from release ${current.release}` : ''}${warm ? ', warm: instant' : ', cold start'}${input.reason ? `: ${input.reason}` : ''}` },
        to.id,
      );
      const detail = await this.get(input.service, to.id);
      input.onProgress?.({ type: 'done', release: detail });
      return detail;
    }, { pin: 'keep' });
  }

  private async maxSeq(release: number): Promise<number> {
    const r = await this.d.store.db.selectFrom('release_steps').select((eb) => eb.fn.max('seq').as('m')).where('release_id', '=', release).executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /** Keep the newest `keep_releases` directories of a service (failed ones are removed), and every one that runs. */
  private async prune(service: string, cfg: DeployConfig): Promise<void> {
    await Promise.allSettled([...this.retiring]);
    const rows = (await this.d.store.db.selectFrom('releases').select(['id', 'dir', 'state']).where('service', '=', service).where('dir', 'is not', null).orderBy('id', 'desc').execute()) as { id: number; dir: string | null; state: string }[];
    const running = new Set<number>();
    for (const rt of this.envs.values()) {
      if (rt.service !== service) continue;
      if (rt.live) running.add(rt.live.release);
      for (const id of rt.warm.keys()) running.add(id);
    }
    let kept = 0;
    for (const r of rows) {
      const id = Number(r.id);
      // what runs is never removed, and counts towards the kept ones
      if (r.state === 'running' || running.has(id) || r.state === 'live' || r.state === 'warm') {
        kept++;
        continue;
      }
      if (r.state !== 'failed' && kept < cfg.keep_releases) {
        kept++;
        continue;
      }
      if (r.dir) rmSync(r.dir, { recursive: true, force: true });
      rmSync(this.logPath(service, id), { force: true });
      rmSync(`${this.logPath(service, id)}.1`, { force: true });
      await this.d.store.db.updateTable('releases').set({ dir: null }).where('id', '=', id).execute();
    }
  }

  // ---------- lifecycle ----------

  /** The proxies the config asks for, by service/env. */
  private wantedProxies(): Map<string, { host: string; port: number }> {
    const want = new Map<string, { host: string; port: number }>();
    for (const name of this.serviceNames()) {
      const cfg = this.configOf(name);
      if (cfg.driver === 'command') continue;
      for (const [env, e] of Object.entries(cfg.environments)) if (e.proxy) want.set(`${name}/${env}`, e.proxy);
    }
    return want;
  }

  /**
   * After a start. The proxy daemon of this data directory kept serving while Shipshape was down:
   * attach to it (start it when none runs and an environment needs one). Deploys that were running
   * when Shipshape stopped are marked failed (their locks freed, their processes killed, a canary
   * they ran ended). Live and warm releases whose process still runs and answers its health path
   * are adopted as they are; a live one that died meanwhile is started again (health-gated, then
   * the proxy switches to it); a warm one that died is retired. Releases of environments no longer
   * in the config are stopped, and their listeners closed.
   */
  async start(): Promise<void> {
    this.logTimer = setInterval(() => this.trimLogs(), 60_000);
    this.logTimer.unref();
    if (this.d.peers?.metrics) {
      this.metricsTimer = setInterval(() => void this.pushMetrics().catch((err) => this.d.logger.warn({ err }, 'pushing release metrics failed')), METRICS_EVERY);
      this.metricsTimer.unref();
    }
    const want = this.wantedProxies();
    let routes: Hello['envs'] = [];
    try {
      if (want.size > 0) routes = (await this.proxyd.ensure()).envs;
      else if (await this.proxyd.attach()) routes = this.proxyd.hello?.envs ?? [];
    } catch (err) {
      this.d.logger.error({ err }, 'the proxy daemon cannot be reached or started: environments are not served');
    }
    for (const r of routes) {
      // an environment gone from the config: its listener closes (its releases stop below)
      if (!want.has(r.env)) await this.proxyd.request({ op: 'close', env: r.env }).catch((err) => this.d.logger.warn({ err }, 'closing a proxy failed'));
      // a canary does not outlive the deploy that ran it, which was interrupted
      else if (r.canary) await this.proxyd.request({ op: 'canary', env: r.env, canary: null }).catch((err) => this.d.logger.warn({ err }, 'ending a canary failed'));
    }
    const rows = (await this.d.store.db.selectFrom('releases').selectAll().where('state', 'in', ['running', 'live', 'warm']).execute()).map((r) => norm(r as Row));
    const interrupted = rows.filter((r) => r.state === 'running');
    for (const r of interrupted) if (r.pid !== null) killOrphan(Number(r.pid), Number(r.id));
    for (const r of interrupted) {
      const error = 'interrupted: Shipshape stopped during the deploy (traffic never went to it)';
      await this.d.store.db.updateTable('releases').set({ state: 'failed', error, finished_at: this.d.now(), port: null, pid: null }).where('id', '=', r.id).execute();
      await this.d.store.db.updateTable('release_steps').set({ state: 'failed', finished_at: this.d.now(), detail: 'interrupted' }).where('release_id', '=', r.id).where('state', '=', 'running').execute();
      await this.event('deploy.failed', 'system', r.service, r.env, { version: r.version, git_sha: r.git_sha, error, message: `${r.service} ${r.version} on ${r.env}: ${error}` }, Number(r.id));
    }
    await this.locks.removeForReleases(interrupted.map((r) => Number(r.id)));
    // a release recorded as stopped whose process is still there (its stop did not finish): killed
    const stale = (await this.d.store.db.selectFrom('releases').select(['id', 'pid']).where('state', 'in', ['retired', 'rolled_back', 'failed']).where('pid', 'is not', null).execute()) as { id: number; pid: number | null }[];
    for (const r of stale) {
      killOrphan(Number(r.pid), Number(r.id));
      await this.d.store.db.updateTable('releases').set({ pid: null, port: null }).where('id', '=', Number(r.id)).execute();
    }
    await this.apply();
    for (const r of rows.filter((o) => o.state === 'live' || o.state === 'warm')) {
      const cfg = this.d.config().raw.services[r.service]?.deploy;
      // driver: command: the platform kept serving it
      if (cfg?.driver === 'command') continue;
      const id = Number(r.id);
      if (!cfg || !want.has(`${r.service}/${r.env}`)) {
        if (r.pid !== null) killOrphan(Number(r.pid), id);
        await this.d.store.db.updateTable('releases').set({ state: 'retired', port: null, pid: null, ended_at: this.d.now() }).where('id', '=', id).execute();
        await this.event('deploy.stopped', 'system', r.service, r.env, { message: `release ${id} stopped: ${r.service}/${r.env} is no longer in the config` }, id);
        continue;
      }
      const rt = this.runtime(r.service, r.env);
      const pid = r.pid === null ? null : Number(r.pid);
      const port = r.port === null ? null : Number(r.port);
      const running = pid !== null && isReleaseProcess(pid, id);
      if (running && port !== null && (await this.answers(port, cfg.health.path))) {
        const app: AdoptedProcess = new AdoptedProcess(id, port, pid, this.logPath(r.service, id), (e) => void this.exited(rt, app, e, cfg));
        if (r.state === 'live') rt.live = app;
        else this.keepWarm(rt, app, cfg);
        await this.event('deploy.adopted', 'system', r.service, r.env, { pid, port, warm: r.state === 'warm', message: `release ${id} (${r.state}, pid ${pid}, port ${port}) kept running while Shipshape restarted: adopted` }, id);
        continue;
      }
      if (pid !== null) killOrphan(pid, id);
      if (r.state === 'warm') {
        await this.d.store.db.updateTable('releases').set({ state: 'retired', port: null, pid: null }).where('id', '=', id).execute();
        continue;
      }
      // live, but its process died (or stopped answering) while Shipshape was down: started again
      await this.event('deploy.crashed', 'system', r.service, r.env, { live: true, while_down: true, message: `release ${id} (live) ${running ? `did not answer ${cfg.health.path}` : 'was not running'} when Shipshape started; starting it again` }, id);
      const ctx = { release: id, service: r.service, env: r.env, actor: 'system', seq: { n: await this.maxSeq(id) }, secrets: this.secrets(cfg) };
      try {
        if (!r.dir || !existsSync(r.dir)) throw new StepFailed(`its directory ${r.dir ?? ''} is gone`);
        const app = await this.startAndCheck(ctx, r, cfg);
        await rt.proxy.switchTo({ release: app.release, port: app.port });
        rt.live = app;
        await this.event('deploy.restored', 'system', r.service, r.env, { message: `release ${id} (${r.version}) serves ${r.service}/${r.env} again after a restart` }, id);
      } catch (e) {
        await this.d.store.db.updateTable('releases').set({ state: 'retired', port: null, pid: null, ended_at: this.d.now() }).where('id', '=', id).execute();
        await this.event('deploy.crashed', 'system', r.service, r.env, { live: true, message: `release ${id} could not be started again after a restart: ${(e as Error).message}` }, id);
      }
    }
    await this.syncRoutes();
  }

  /** Does the app on `port` answer its health path (a few tries)? */
  private async answers(port: number, path: string): Promise<boolean> {
    for (let i = 0; i < 3; i++) {
      const st = await probe(port, path, 2000);
      if (st >= 200 && st < 300) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  /** Each proxy sends its traffic to the live release this Shipshape runs (after a restart of either). */
  private async syncRoutes(): Promise<void> {
    for (const rt of this.envs.values()) {
      if (!rt.live?.alive) continue;
      const cur = rt.proxy.current();
      if (cur?.release === rt.live.release && cur.port === rt.live.port) continue;
      await rt.proxy.switchTo({ release: rt.live.release, port: rt.live.port }).catch((err) => this.d.logger.error({ err }, 'pointing the proxy at the live release failed'));
    }
  }

  /** The proxy daemon went away while Shipshape ran and was started again: it serves the routes of its state file; check them. */
  private onProxyRestart(h: Hello): void {
    if (this.stopping.signal.aborted) return;
    void (async () => {
      for (const rt of this.envs.values()) {
        const r = h.envs.find((x) => x.env === `${rt.service}/${rt.env}`);
        if (r) rt.proxy.adopt(r);
        else rt.proxy.forget();
      }
      await this.d.events.append({ type: 'deploy.proxy_restarted', actor: 'system', subject: 'deploy:proxy', data: { pid: h.pid, restored: h.restored, message: `the deploy proxy daemon stopped and was started again (pid ${h.pid}); it serves ${h.restored.length ? h.restored.join(', ') : 'no route'} from its state file` } });
      await this.apply();
      await this.syncRoutes();
    })().catch((err) => this.d.logger.error({ err }, 'restoring the proxies after a daemon restart failed'));
  }

  private metricsTimer: NodeJS.Timeout | null = null;
  private logTimer: NodeJS.Timeout | null = null;

  /**
   * Keep the running releases' log files bounded: past LOG_LIMIT a file is copied to `.1` and
   * truncated (the app appends, so it goes on writing at the new end).
   */
  trimLogs(limit = LOG_LIMIT): void {
    for (const rt of this.envs.values()) {
      for (const app of [rt.live, ...[...rt.warm.values()].map((w) => w.app)]) {
        if (!app) continue;
        const log = this.logPath(rt.service, app.release);
        try {
          if (statSync(log).size <= limit) continue;
          copyFileSync(log, `${log}.1`);
          truncateSync(log, 0);
        } catch {
          /* no log yet */
        }
      }
    }
  }
  private readonly pushed = new Map<string, StatsSnapshot>();

  /**
   * Per-release proxy metrics into telemetry, as the service's metrics: request and failure
   * counters, and the p95 of the requests since the last push (labels env and release), so a
   * release shows on charts and alert rules can read `metric("shipshape_release_errors_total", …)`.
   * The counters are the proxy daemon's (since it started).
   */
  async pushMetrics(): Promise<void> {
    const sink = this.d.peers?.metrics;
    if (!sink) return;
    const at = this.d.now();
    const samples: Parameters<NonNullable<DeployPeers['metrics']>>[0] = [];
    for (const rt of this.envs.values()) {
      if (!rt.proxy.listening) continue;
      const figures = await rt.proxy.stats().catch(() => null);
      for (const [release, now] of figures?.releases ?? []) {
        const key = `${rt.service}/${rt.env}/${release}`;
        let last = this.pushed.get(key);
        if (last && last.requests === now.requests) continue;
        // a restarted daemon counts from zero again
        if (last && last.requests > now.requests) last = undefined;
        const w = between(last, now);
        this.pushed.set(key, now);
        const labels = { env: rt.env, release: String(release) };
        samples.push({ service: rt.service, name: 'shipshape_release_requests_total', labels, type: 'counter', value: now.requests, at });
        samples.push({ service: rt.service, name: 'shipshape_release_errors_total', labels, type: 'counter', value: now.errors, at });
        if (w.p95 !== null) samples.push({ service: rt.service, name: 'shipshape_release_latency_p95_ms', labels, type: 'gauge', value: w.p95, at });
      }
    }
    if (samples.length) sink(samples);
  }

  /** Make the proxies match the config: listen on new addresses (a move keeps the routes), and take removed environments down. */
  async apply(): Promise<void> {
    const want = this.wantedProxies();
    for (const [key, rt] of this.envs) {
      if (want.has(key)) continue;
      // removed from the config: its listener closes and its releases stop
      await rt.proxy.close().catch((err) => this.d.logger.warn({ err }, 'closing a proxy failed'));
      await this.stopRuntime(rt, true);
      this.envs.delete(key);
    }
    for (const [key, at] of want) {
      const [service, env] = key.split('/') as [string, string];
      const rt = this.runtime(service, env);
      const a = rt.proxy.address;
      if (rt.proxy.listening && a.host === at.host && a.port === at.port) continue;
      try {
        await rt.proxy.listen(at);
      } catch (e) {
        this.d.logger.error({ err: e, service, env }, `the proxy of ${key} cannot listen on ${at.host}:${at.port}`);
      }
    }
  }

  /** Stop an environment's releases; `record`: they are recorded as retired (taken down, not to be adopted). */
  private async stopRuntime(rt: EnvRuntime, record: boolean): Promise<number[]> {
    const cfg = this.d.config().raw.services[rt.service]?.deploy;
    const grace = cfg?.stop_timeout ?? 10_000;
    for (const w of rt.warm.values()) clearTimeout(w.timer);
    const apps = [rt.live, ...[...rt.warm.values()].map((w) => w.app)].filter((a): a is ReleaseProcess => a !== null);
    await Promise.all(apps.map((a) => a.stop(grace)));
    rt.live = null;
    rt.warm.clear();
    const key = `${rt.service}/${rt.env}`;
    const w = this.watches.get(key);
    if (w) clearTimeout(w.timer);
    this.watches.delete(key);
    if (record && apps.length) await this.d.store.db.updateTable('releases').set({ state: 'retired', port: null, pid: null, ended_at: this.d.now() }).where('id', 'in', apps.map((a) => a.release)).execute();
    return apps.map((a) => a.release);
  }

  /**
   * Take a service's environments (or one) down: the proxy stops listening, the live and warm
   * releases stop and are recorded retired (the next start does not serve them again). The proxy
   * daemon exits when no environment is left. A deploy in progress refuses it.
   */
  async down(service: string, env: string | undefined, actor: string): Promise<{ service: string; env: string; stopped: number[] }[]> {
    const cfg = this.configOf(service);
    if (cfg.driver === 'command') throw new ServiceError('invalid', `${service} deploys with driver: command: the platform serves it, there is nothing here to take down`);
    const envs = env === undefined ? Object.keys(cfg.environments) : [this.envName(service, cfg, env, 'last')];
    const out: { service: string; env: string; stopped: number[] }[] = [];
    for (const e of envs) {
      const held = await this.locks.get(service, e);
      if (held?.release_id !== null && held?.release_id !== undefined && (await this.row(Number(held.release_id)))?.state === 'running') {
        throw new ServiceError('conflict', `${service}/${e} is being deployed (release ${held.release_id}); take it down when the deploy ends`);
      }
      const rt = this.runtime(service, e);
      await rt.proxy.close().catch((err) => this.d.logger.warn({ err }, 'closing a proxy failed'));
      const stopped = await this.stopRuntime(rt, true);
      // stray live rows (a release that was not running here) are taken down too
      await this.d.store.db.updateTable('releases').set({ state: 'retired', port: null, pid: null, ended_at: this.d.now() }).where('service', '=', service).where('env', '=', e).where('state', 'in', ['live', 'warm']).execute();
      this.envs.delete(`${service}/${e}`);
      await this.event('deploy.down', actor, service, e, { stopped, message: `${service}/${e} taken down: the proxy stopped listening${stopped.length ? `, release${stopped.length > 1 ? 's' : ''} ${stopped.join(', ')} stopped` : ''}` });
      out.push({ service, env: e, stopped });
    }
    return out;
  }

  /** Everything down (every service's environments, then the daemon): what tests and `shipshape proxy stop` use. */
  async downAll(actor = 'system'): Promise<void> {
    await this.idle();
    for (const name of this.serviceNames()) if (this.configOf(name).driver !== 'command') await this.down(name, undefined, actor).catch((err) => this.d.logger.warn({ err }, 'taking a service down failed'));
    for (const rt of this.envs.values()) await this.stopRuntime(rt, true);
    this.envs.clear();
    await this.proxyd.shutdown();
  }

  /**
   * Stop: running deploys are aborted (their gates and builds killed). The proxies (in their
   * daemon) and the live and warm releases keep running: the next start adopts them.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    if (this.logTimer) clearInterval(this.logTimer);
    await this.pushMetrics().catch(() => undefined);
    for (const w of this.watches.values()) clearTimeout(w.timer);
    this.watches.clear();
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled([...this.retiring]);
    for (const rt of this.envs.values()) {
      for (const w of rt.warm.values()) clearTimeout(w.timer);
      // no longer supervised here: an exit after this is the next start's to notice
      rt.live = null;
      rt.warm.clear();
    }
    this.proxyd.close();
    this.envs.clear();
  }

  /** The deploys in flight (tests). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled([...this.retiring]);
  }
}

/**
 * Kill what is left of a release's process group from a Shipshape that died, but only when the
 * process is still that release (its environment names it): a recycled pid is left alone.
 */
function killOrphan(pid: number, release: number): void {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (!env.includes(`SHIPSHAPE_RELEASE=${release}`)) return;
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone, or not ours */
  }
}

export function releaseDirs(dataDir: string, service: string): string[] {
  const d = join(dataDir, 'releases', service);
  return existsSync(d) ? readdirSync(d) : [];
}
