/**
 * The env domain: env-var schemas and checks, an encrypted env store per service and
 * environment (AES-256-GCM envelope encryption under SHIPSHAPE_SECRET_KEY), rotation tracking
 * with an overdue event and metrics, and snapshots that pin a release's variables.
 */
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { telemetry } from '../telemetry/index.js';
import { registerEnvCommands } from './cli.js';
import { envConfig, type EnvRaw } from './config.js';
import { envMigrations, type EnvTables } from './migrations.js';
import { EnvPusher } from './push.js';
import { envRoutes } from './routes.js';
import { EnvStore } from './store.js';
import type { EnvKeyStatus, EnvSetResult, EnvSnapshot, EnvSnapshotRef, EnvVarView } from './types.js';

export type { EnvConfig, EnvRaw, EnvVarConfig, EnvPushTargetConfig } from './config.js';
export type { EnvTables } from './migrations.js';
export type * from './types.js';
export type { EnvStore } from './store.js';
export type { EnvPusher } from './push.js';
export { checkEnv, checkValues, envSchemaOf, summaryOf, readServiceEnv, resolveServiceEnv, EnvFileError, type EnvCheckReport, type EnvFinding, type EnvSchema, type EnvVarRule, type CheckEnvOptions } from './check.js';

export { formatEnvFile, quoteValue } from './envfile.js';

export const ENV_EVENTS = ['env.set', 'env.unset', 'env.rotated', 'env.rotation_overdue', 'env.rekeyed', 'env.pushed'] as const;

/** What other modules (deploy) get from `ctx.use(env)`. */
export interface EnvDomain extends ModuleLifecycle<EnvRaw> {
  /** the store itself (list, set, unset, markRotated, pull, reveal, overdue, keyStatus, tick) */
  store: EnvStore;
  /** `env push`: make a hosted platform's variables for an environment equal to the store's */
  pusher: EnvPusher;
  /**
   * Pin the current variables of service/env for a release: an immutable id (the same
   * (name, version) set always gives the same id), the names and their decrypted values.
   * An environment with nothing stored gives an empty snapshot without needing a key; otherwise
   * throws ServiceError when SHIPSHAPE_SECRET_KEY is unset or wrong, or a value fails its integrity check.
   */
  snapshot(service: string, env: string): Promise<EnvSnapshot>;
  /** which names and versions a snapshot pinned (no key needed) */
  snapshotRef(id: string): Promise<EnvSnapshotRef>;
  /** the values a snapshot pinned, decrypted from the versions it names (a rollback starts with these) */
  snapshotValues(id: string): Promise<Record<string, string>>;
  /** the variables, masked, with rotation state */
  list(filter?: { service?: string; env?: string }): Promise<EnvVarView[]>;
  keyStatus(): Promise<EnvKeyStatus>;
  /** store values (a new version each; refused when the service's env schema rejects one, unless force) */
  set(service: string, env: string, vars: Record<string, string>, actor: string, opts?: { force?: boolean }): Promise<EnvSetResult[]>;
}

export function createEnv(ctx: ModuleContext<EnvTables, EnvRaw>): EnvDomain {
  const store = new EnvStore({
    store: ctx.store,
    events: ctx.events,
    logger: ctx.logger.child({ component: 'env' }),
    now: ctx.now,
    config: ctx.config,
    metrics: (samples) => ctx.use(telemetry).sink.metrics(samples),
  });
  const pusher = new EnvPusher(store);
  return {
    store,
    pusher,
    snapshot: (service, env) => store.snapshot(service, env),
    snapshotRef: (id) => store.snapshotRef(id),
    snapshotValues: (id) => store.snapshotValues(id),
    list: (filter) => store.list(filter),
    keyStatus: () => store.keyStatus(),
    set: (service, env, vars, actor, opts) => store.set(service, env, vars, actor, opts),
    start: () => store.start(),
    stop: () => store.stop(),
    routes(app) {
      envRoutes(app, store, pusher);
    },
  };
}

export const env = defineModule<EnvDomain, EnvTables, EnvRaw>({
  name: 'env',
  description: 'env-var schemas and checks, an encrypted env store per service and environment, secret rotation',
  config: envConfig,
  migrations: envMigrations,
  events: ENV_EVENTS,
  create: (ctx) => createEnv(ctx),
  cli: registerEnvCommands,
});
