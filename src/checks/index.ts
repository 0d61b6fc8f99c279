/**
 * The checks module: probes of the services (http, tcp, dns, tls, postgres, redis, command,
 * heartbeat) on a schedule, states with no flapping, history and uptime, the health endpoints,
 * and the services API. Other modules ask it questions through `ChecksQuery`.
 */
import { defineModule } from '../core/module.js';
import { registerChecksCommands } from './cli.js';
import { checksConfig, unknownKeyHint, validateChecks, type ChecksRaw } from './config.js';
import { kinds } from './kinds/index.js';
import { checksMigrations } from './migrations.js';
import { Monitor } from './monitor.js';
import { liveChecksQuery, type ChecksQuery } from './query.js';
import { healthRoutes } from './routes/health.js';
import { heartbeatRoutes } from './routes/heartbeat.js';
import { serviceRoutes } from './routes/services.js';
import type { ChecksTables } from './tables.js';

export type { ChecksQuery } from './query.js';
export { storedChecksQuery } from './query.js';
export { checkDefs, gatusAlertRules, KIND_NAMES, type CheckDef, type ChecksRaw, type DerivedAlertRule, type ServiceDef } from './config.js';
export { runCheck } from './runner.js';
export type { CheckResult, HeartbeatSource } from './types.js';
export { Monitor } from './monitor.js';

export interface ChecksApi {
  /** the running checks: states, history, uptime, health reports */
  monitor: Monitor;
  /** what other modules may ask */
  query: ChecksQuery;
}

export const CHECK_EVENTS = ['check.state', 'service.state'] as const;

export const checks = defineModule<ChecksApi, ChecksTables, ChecksRaw>({
  name: 'checks',
  description: 'probes of services on a schedule, states, history, uptime and health endpoints',
  config: { ...checksConfig, validate: validateChecks, unknownKeyHint },
  migrations: checksMigrations,
  events: CHECK_EVENTS,
  create(ctx) {
    const monitor = new Monitor({ store: ctx.store, events: ctx.events, logger: ctx.logger.child({ component: 'checks' }), metrics: ctx.metrics, now: ctx.now, onStoreError: (e) => ctx.storage.report(e) });
    return {
      monitor,
      query: liveChecksQuery(monitor, ctx.config, ctx.now),
      start: () => monitor.start(ctx.config()),
      apply: (config) => monitor.apply(config),
      async stop() {
        await monitor.stop();
        for (const k of kinds) await k.close?.();
      },
      routes(app) {
        healthRoutes(app, { monitor, version: ctx.version, details: () => ctx.config().raw.server.health_details });
        serviceRoutes(app, { monitor });
        heartbeatRoutes(app, { monitor });
      },
    };
  },
  cli: registerChecksCommands,
});
