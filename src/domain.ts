/**
 * What every domain gets from the composition root (src/app.ts), and the small lifecycle a
 * domain exposes. Domains talk to each other through their service APIs and through events.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Monitor } from './checks/monitor.js';
import type { Config } from './config/load.js';
import type { EventLog } from './events/log.js';
import type { Metrics } from './metrics/metrics.js';
import type { Store } from './store/db.js';

export interface DomainContext {
  store: Store;
  events: EventLog;
  logger: Logger;
  metrics: Metrics;
  monitor: Monitor;
  /** the config in force (changes on hot reload) */
  config(): Config;
  now(): number;
}

export interface Domain {
  readonly name: string;
  /** load state and start timers */
  start?(): Promise<void>;
  /** a new config was loaded (hot reload) */
  apply?(config: Config): Promise<void>;
  /** graceful stop: finish or persist what is in flight */
  stop?(): Promise<void>;
  /** register HTTP routes (each declares its scope, see src/server/auth.ts) */
  routes?(app: FastifyInstance): void;
}
