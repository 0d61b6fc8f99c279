/**
 * The one list of modules. The composition root assembles the config schema, the store's
 * migrations, the HTTP routes, the CLI and the lifecycle from it; adding a domain is adding its
 * folder and one line here. Order matters: a module may `use` the modules listed before it, and
 * modules start in this order and stop in reverse.
 */
import { alerts, type AlertsRaw } from './alerts/index.js';
import { checks, type ChecksRaw } from './checks/index.js';
import { loadConfig as loadWith, parseConfig as parseWith, type Config, type LoadOptions } from './core/config/load.js';
import { buildConfigSchema, jsonSchemaOf } from './core/config/schema.js';
import { EventLog } from './core/events.js';
import type { AnyModule, CliContext, ConfigFinding } from './core/module.js';
import { openStore as openWith, type OpenOptions, type Store } from './core/store/db.js';
import type { ModuleMigrations } from './core/store/migrate.js';
import { coreMigrations } from './core/store/migrations.js';
import { errors, type ErrorsRaw } from './errors/index.js';
import { incidents, type IncidentsRaw } from './incidents/index.js';
import { maintenance, type MaintenanceRaw } from './maintenance/index.js';
import { notify, type NotifyRaw } from './notify/index.js';
import { statuspage, type StatuspageRaw } from './statuspage/index.js';
import { subscriptions, type SubscriptionsRaw } from './subscriptions/index.js';
import { oncall, type OncallRaw } from './oncall/index.js';
import { db, type DbRaw } from './db/index.js';
import { deploy, type DeployRaw } from './deploy/index.js';
import { env, type EnvRaw } from './env/index.js';
import { secrets, type SecretsRaw } from './secrets/index.js';
import { websec, type WebsecRaw } from './websec/index.js';
import { webhooks, type WebhooksRaw } from './webhooks/index.js';
import { telemetry, type TelemetryRaw } from './telemetry/index.js';

export const modules: readonly AnyModule[] = [checks, telemetry, errors, alerts, notify, incidents, maintenance, statuspage, subscriptions, oncall, db, env, secrets, websec, webhooks, deploy];

/** The whole config as the composition root sees it: every module's view of it at once. */
export type RawConfig = ChecksRaw & TelemetryRaw & ErrorsRaw & AlertsRaw & NotifyRaw & IncidentsRaw & MaintenanceRaw & StatuspageRaw & SubscriptionsRaw & OncallRaw & DbRaw & EnvRaw & SecretsRaw & WebsecRaw & WebhooksRaw & DeployRaw;

export const configSchema = buildConfigSchema(modules);

/** Every module's `config.validate`, run once the schema passed. */
function validate(raw: never): ConfigFinding[] {
  return modules.flatMap((m) => m.config?.validate?.(raw) ?? []);
}

const loadOptions = (env?: NodeJS.ProcessEnv): LoadOptions => ({ schema: configSchema, validate, hints: { unknownKey: (path) => modules.map((m) => m.config?.unknownKeyHint?.(path)).find(Boolean) }, env });

/** Load and validate shipshape.yaml with every module's sections. Throws ConfigError. */
export function loadConfig(file: string, opts: { env?: NodeJS.ProcessEnv } = {}): Config<RawConfig> {
  return loadWith<RawConfig>(file, loadOptions(opts.env));
}

export function parseConfig(text: string, file: string, opts: { env?: NodeJS.ProcessEnv } = {}): Config<RawConfig> {
  return parseWith<RawConfig>(text, file, loadOptions(opts.env));
}

export function jsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(configSchema);
}

/** The core's migrations first, then each module's, in list order. */
export function storeMigrations(list: readonly AnyModule[] = modules): ModuleMigrations[] {
  const out: ModuleMigrations[] = [{ module: 'core', migrations: coreMigrations }];
  for (const m of list) if (m.migrations) out.push({ module: m.name, migrations: m.migrations });
  return out;
}

/**
 * A store handle that may be given to any module: only the composition root (and tests) hold
 * one; each module types what it gets with its own tables.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RootStore = Store<any>;

/** Open the store with every module's schema up to date. */
export function openStore(opts: Omit<OpenOptions, 'migrations'> = {}): Promise<RootStore> {
  return openWith({ ...opts, migrations: storeMigrations() });
}

/** What module CLI commands get: each its own typed view of the config and of the store. */
export const cliContext: CliContext = {
  loadConfig: <Raw>(file: string) => loadConfig(file) as unknown as Config<Raw>,
  openStore: (o) => openStore(o),
  eventLog: (store) => new EventLog(store as unknown as Store),
};
