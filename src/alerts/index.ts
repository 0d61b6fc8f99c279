/**
 * The alerts domain: rules over telemetry and checks, alert states, alerts pushed from outside.
 * Rules are evaluated every `alerting.evaluate_every` (10s); each transition is an event
 * (`alert.pending`, `alert.firing`, `alert.resolved`) that the notify domain routes.
 */
import type { Config } from '../config/load.js';
import type { Domain, DomainContext } from '../domain.js';
import type { IngestGuard } from '../server/ingest.js';
import type { TelemetryQuery } from '../telemetry/types.js';
import { AlertEngine } from './engine.js';
import type { CheckReader } from './evaluate.js';
import { heartbeatServiceOf, monitorChecks } from './readers.js';
import { alertRoutes } from './routes.js';


export interface AlertsDomain extends Domain {
  engine: AlertEngine;
  /** run one evaluation cycle now (tests, `alerts test`) */
  evaluate(): Promise<void>;
}

export function createAlerts(ctx: DomainContext, deps: { telemetry: TelemetryQuery; guard: IngestGuard; checks?: CheckReader }): AlertsDomain {
  const engine = new AlertEngine({
    store: ctx.store,
    events: ctx.events,
    telemetry: deps.telemetry,
    checks: deps.checks ?? monitorChecks(ctx.monitor, ctx.config, ctx.now),
    now: ctx.now,
    logger: ctx.logger.child({ component: 'alerts' }),
    heartbeatService: heartbeatServiceOf(ctx.config),
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
    name: 'alerts',
    engine,
    evaluate: () => engine.evaluate(),
    async start() {
      await engine.load();
      await engine.setRules(ctx.config().raw.alerts);
      schedule();
    },
    async apply(config: Config) {
      await engine.setRules(config.raw.alerts);
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
      alertRoutes(app, { engine, guard: deps.guard, now: ctx.now });
    },
  };
}
