/**
 * The module contract. Every domain (checks, telemetry, errors, alerts, notify, …) is a folder
 * under src/ whose `index.ts` exports one `ModuleDefinition`; `src/modules.ts` lists them, and the
 * composition root (src/app.ts, src/cli/main.ts) assembles the config schema, the store's
 * migrations, the HTTP routes and the CLI from that list. A module imports this core layer and
 * other modules' `index.ts` only; it talks to other modules through their service APIs (`use`)
 * and through events.
 */
import type { AtRest } from './at-rest.js';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CoreConfig } from './config/schema.js';
import type { Config } from './config/load.js';
import type { EventLog } from './events.js';
import type { IngestGuard } from './http/ingest.js';
import type { Metrics } from './metrics.js';
import type { StorageHealth } from './storage-health.js';
import type { Dialect, Store } from './store/db.js';

/** What the composition root gives a module when it creates it. */
export interface ModuleContext<Tables = unknown, Raw = CoreConfig> {
  /** the store, typed with this module's own tables only */
  store: Store<Tables>;
  events: EventLog;
  logger: Logger;
  metrics: Metrics;
  /** ingest tokens and quotas, for modules that take telemetry in */
  ingest: IngestGuard;
  /** report failed background writes: a full disk degrades Shipshape's health until space is back */
  storage: StorageHealth;
  /** the config in force (changes on hot reload) */
  config(): Config<Raw>;
  now(): number;
  version: string;
  /** the data directory (absolute; also given with a PostgreSQL store): files a module keeps on disk, e.g. release directories */
  dataDir: string;
  /** seals secrets the module keeps in the store (link keys, signing secrets) */
  atRest: AtRest;
  /** the service API of a module listed before this one */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  use<A>(module: ModuleDefinition<A, any, any>): A;
}

/** The lifecycle a created module may have next to its service API. */
export interface ModuleLifecycle<Raw = CoreConfig> {
  /** load state and start timers */
  start?(): Promise<void>;
  /** a new config was loaded (hot reload); it has been validated already */
  apply?(config: Config<Raw>): Promise<void>;
  /** graceful stop: finish or persist what is in flight */
  stop?(): Promise<void>;
  /** register HTTP routes; each must declare `config: { scope }` (read, write, admin or public) */
  routes?(app: FastifyInstance): void;
}

/** A config problem a module finds after the schema passed: the key path and what is wrong. */
export interface ConfigFinding {
  path: (string | number)[];
  message: string;
  /** a warning is logged; anything else rejects the config */
  warning?: boolean;
}

/** What CLI commands of a module get (the adapter's helpers are in core/cli.ts). */
export interface CliContext {
  /** load and validate a config file with every module's sections; typed as the module's view of it */
  loadConfig<Raw = CoreConfig>(file: string): Config<Raw>;
  /** open the store with every module's migrations applied (migrate: false to only read), typed with the module's tables */
  openStore<Tables = unknown>(opts: { dataDir: string; databaseUrl?: string; migrate?: boolean }): Promise<Store<Tables>>;
  /** the event log of an open store (state changes a command makes are events too) */
  eventLog<Tables>(store: Store<Tables>): EventLog;
}

export interface ModuleDefinition<Api = unknown, Tables = unknown, Raw = CoreConfig> {
  /** lower-case letters; names the module's migration table */
  readonly name: string;
  /** one line for docs and `shipshape modules` */
  readonly description: string;
  readonly config?: {
    /** top-level keys of shipshape.yaml this module owns */
    sections?: Record<string, z.ZodType>;
    /** keys this module adds to every `services.<name>` entry */
    service?: Record<string, z.ZodType>;
    /** keys this module adds to an extensible core section (`server`, `ingest`) */
    extend?: Record<string, Record<string, z.ZodType>>;
    /** checks across keys once the schema passed (e.g. a name used twice) */
    validate?(raw: Raw): ConfigFinding[];
    /** what an unknown key at this path may have been meant as (added to the error) */
    unknownKeyHint?(path: readonly PropertyKey[]): string | undefined;
  };
  /**
   * Ordered by name and tracked per module: a store made by any earlier release gets exactly the
   * migrations it lacks. Never edit a released migration; add one.
   */
  migrations?(dialect: Dialect): Record<string, Migration>;
  /** event types this module writes to the log (documentation, the dashboard, audits) */
  readonly events?: readonly string[];
  /** the module's service API (what `use` returns to other modules) and its lifecycle */
  create(ctx: ModuleContext<Tables, Raw>): ModuleInstance<Api, Raw> | Promise<ModuleInstance<Api, Raw>>;
  /** CLI commands (thin: parse, call the service API or the HTTP API, print) */
  cli?(program: Command, ctx: CliContext): void;
}

export type ModuleInstance<Api = unknown, Raw = CoreConfig> = Api & ModuleLifecycle<Raw>;

/** Identity helper that keeps a module's type parameters. */
export function defineModule<Api, Tables = unknown, Raw = CoreConfig>(def: ModuleDefinition<Api, Tables, Raw>): ModuleDefinition<Api, Tables, Raw> {
  return def;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = ModuleDefinition<any, any, any>;
