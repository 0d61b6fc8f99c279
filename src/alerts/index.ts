/**
 * The alerts domain: rules over telemetry and checks, alert states, alerts pushed from outside.
 * Rules are evaluated every `alerting.evaluate_every` (10s); each transition is an event
 * (`alert.pending`, `alert.firing`, `alert.resolved`) that the notify domain routes.
 */
import { checks as checksModule, type ChecksQuery } from '../checks/index.js';
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { backupSignalReader, type DbRaw } from '../db/index.js';
import { overdueItemsReader, type IncidentsRaw } from '../incidents/index.js';
import { telemetry as telemetryModule, type TelemetryQuery } from '../telemetry/index.js';
import { registerAlertsCommands } from './cli.js';
import { alertsConfig, configuredRules, type AlertsRaw } from './config.js';
import { AlertEngine } from './engine.js';
import { alertsMigrations, type AlertsTables } from './migrations.js';
import { alertRoutes } from './routes.js';

export type { AlertInstance, AlertState, Severity } from './types.js';
export { LEVEL_LABEL, levelOf } from './levels.js';


export interface AlertsDomain extends ModuleLifecycle<AlertsRaw> {
  engine: AlertEngine;
  /** run one evaluation cycle now (tests, `alerts test`) */
  evaluate(): Promise<void>;
}

export function createAlerts(ctx: ModuleContext<AlertsTables, AlertsRaw>, deps: { telemetry: TelemetryQuery; checks: ChecksQuery }): AlertsDomain {
  const engine = new AlertEngine({
    store: ctx.store,
    events: ctx.events,
    telemetry: deps.telemetry,
    checks: deps.checks,
    now: ctx.now,
    logger: ctx.logger.child({ component: 'alerts' }),
    heartbeatService: deps.checks.heartbeatService,
    // the db module is listed after this one: its backups are read from the config and the disk, not through use()
    backups: backupSignalReader(() => ctx.config() as unknown as Config<DbRaw>, ctx.dataDir),
    // so is the incidents module: overdue action items are read from its table
    overdueItems: overdueItemsReader(ctx.store, () => ctx.config() as unknown as Config<IncidentsRaw>, ctx.now),
  });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let every = ctx.config().raw.alerting.evaluate_every;

  const schedule = () => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => {
      engine
        .evaluate()
        .catch((e) => ctx.logger.error({ err: e }, 'alert evaluation failed'))
        .finally(schedule);
    }, every);
    timer.unref();
  };

  return {
    engine,
    evaluate: () => engine.evaluate(),
    async start() {
      await engine.load();
      await engine.setRules(configuredRules(ctx.config().raw));
      schedule();
    },
    async apply(config: Config<AlertsRaw>) {
      await engine.setRules(configuredRules(config.raw));
      if (config.raw.alerting.evaluate_every !== every) {
        every = config.raw.alerting.evaluate_every;
        schedule();
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await engine.idle();
    },
    routes(app) {
      alertRoutes(app, { engine, guard: ctx.ingest, now: ctx.now });
    },
  };
}

export const alerts = defineModule<AlertsDomain, AlertsTables, AlertsRaw>({
  name: 'alerts',
  description: 'one-line rules over telemetry, checks and heartbeats; alerts pushed by Prometheus, Alertmanager, Grafana and PagerDuty clients',
  config: alertsConfig,
  migrations: alertsMigrations,
  events: ['alert.pending', 'alert.firing', 'alert.resolved', 'alert.acknowledged'],
  create: (ctx) => createAlerts(ctx, { telemetry: ctx.use(telemetryModule).query, checks: ctx.use(checksModule).query }),
  cli: registerAlertsCommands,
});
export type { AlertsRaw } from './config.js';
