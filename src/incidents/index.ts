/**
 * The incidents domain: severities with response targets, the lifecycle (triggered →
 * acknowledged → mitigated → resolved → closed, plus declined and merged), roles, status updates,
 * timelines read from the event log, response timers, alert rules that open incidents
 * (`incident: { severity: P1 }`), and post-mortems as Markdown.
 *
 * Other modules (on-call, status page, maintenance) `use(incidents)` for the service API
 * (`incidents.service`: open, acknowledge, list, active, timeline, …) and listen to the
 * `incident.*` events (subject `incident:<id>`); `incident.breached` is the escalation hook.
 */
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { registerIncidentCommands } from './cli.js';
import { incidentsConfig, type IncidentsRaw } from './config.js';
import { incidentsMigrations, type IncidentsTables } from './migrations.js';
import { incidentRoutes } from './routes.js';
import { countOverdueActionItems, Incidents } from './service.js';
import { telemetry, type TelemetryDomain } from '../telemetry/index.js';

export type { IncidentsRaw, SeverityLevel } from './config.js';
export type { Incidents, OpenInput, ListQuery } from './service.js';
export type * from './types.js';

export const INCIDENT_EVENTS = [
  'incident.opened',
  'incident.acknowledged',
  'incident.mitigated',
  'incident.resolved',
  'incident.closed',
  'incident.declined',
  'incident.merged',
  'incident.joined',
  'incident.reopened',
  'incident.update',
  'incident.note',
  'incident.roles_changed',
  'incident.severity_changed',
  'incident.changed',
  'incident.alert_joined',
  'incident.breached',
  'incident.postmortem_updated',
  'incident.action_item_overdue',
] as const;

export interface IncidentsDomain extends ModuleLifecycle<IncidentsRaw> {
  /** the service API other modules use */
  service: Incidents;
  /** check response targets now (tests; the timer does it every `incidents.check_every`) */
  tick(): Promise<number>;
  /** wait until every alert event received so far has been handled */
  settled(): Promise<void>;
}

/** The incident severity an alert event asks for: its rule's `incident.severity`, or a pushed alert's `incident_severity` label. */
function incidentSeverity(data: Record<string, unknown>): string | undefined {
  const inc = data.incident as { severity?: unknown } | undefined;
  if (inc && typeof inc.severity === 'string') return inc.severity;
  const labels = data.labels as Record<string, unknown> | undefined;
  if (labels && typeof labels.incident_severity === 'string') return labels.incident_severity;
  return undefined;
}

export function createIncidents(ctx: ModuleContext<IncidentsTables, IncidentsRaw>): IncidentsDomain {
  const log = ctx.logger.child({ component: 'incidents' });
  const service = new Incidents({
    store: ctx.store,
    events: ctx.events,
    now: ctx.now,
    config: () => ctx.config().raw.incidents,
    services: () => Object.keys(ctx.config().raw.services),
    logger: log,
    // telemetry is listed before incidents; without it (a run of some modules only) there are no traffic figures
    traffic: async (svc, from, to) => {
      let tel: TelemetryDomain;
      try {
        tel = ctx.use(telemetry);
      } catch {
        return null;
      }
      return tel.traffic(svc, from, to);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let every = ctx.config().raw.incidents.check_every;
  let off: (() => void) | undefined;
  let pending: Promise<unknown> = Promise.resolve();

  const schedule = () => {
    if (timer) clearInterval(timer);
    timer = setInterval(() => void service.tick().catch((e) => log.error({ err: e }, 'incident timers failed')), every);
    timer.unref();
  };

  return {
    service,
    tick: () => service.tick(),
    settled: async () => {
      await pending;
      await service.idle();
    },
    async start() {
      off = ctx.events.onEvent((e) => {
        if (e.type !== 'alert.firing') return;
        const sev = incidentSeverity(e.data);
        if (sev === undefined) return;
        pending = service.alertFired(e, sev).catch((err) => log.error({ err, event: e.id }, 'opening an incident for an alert failed'));
      });
      schedule();
    },
    async apply(config: Config<IncidentsRaw>) {
      if (config.raw.incidents.check_every !== every) {
        every = config.raw.incidents.check_every;
        schedule();
      }
    },
    async stop() {
      off?.();
      if (timer) clearInterval(timer);
      await pending;
      await service.idle();
    },
    routes(app) {
      incidentRoutes(app, service);
    },
  };
}

export const incidents = defineModule<IncidentsDomain, IncidentsTables, IncidentsRaw>({
  name: 'incidents',
  description: 'P0–P3 (or SEV1–SEV4) incidents with response targets, lifecycle, roles, status updates, timelines from the event log, alert-opened incidents and post-mortems',
  config: incidentsConfig,
  migrations: incidentsMigrations,
  events: INCIDENT_EVENTS,
  create: (ctx) => createIncidents(ctx),
  cli: registerIncidentCommands,
});

/**
 * What an `overdue_action_items([service])` alert rule reads: open post-mortem action items past
 * their due date, counted from the store (the alerts module is listed before this one, so it
 * reads through this function, not through use(); `shipshape alerts test` does the same).
 */
export function overdueItemsReader(store: unknown, config: () => Config<IncidentsRaw>, now: () => number): (service?: string) => Promise<number> {
  return (service) => countOverdueActionItems(store as never, config().raw.incidents, now(), service);
}
