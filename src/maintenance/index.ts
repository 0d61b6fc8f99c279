/**
 * The maintenance domain: planned maintenance windows, one-off or recurring (RRULE in a time
 * zone), from the config or added by hand (API, `shipshape maintenance add|list|cancel|end`).
 *
 * While a window is in progress the alerts of its services are held back by a notify silence
 * whose comment names the window (visible as `suppressed` / `silenced_by` in
 * `/api/v1/notify/alerts`, and each held-back firing is recorded as an `alert.suppressed` event);
 * when it ends the silence is expired and what still fires is told at once. A window in progress
 * past its declared `max` raises a `maintenance-overrun` alert through the alerts engine (as a
 * pushed alert, source `maintenance`), so it is routed, grouped and sent like any other alert and
 * can open an incident; it resolves when the window ends.
 *
 * Other modules (status page, subscriptions) `use(maintenance).service` (list, active, upcoming,
 * recent) and listen to `maintenance.*` events (subject `maintenance:<id>`, data
 * `{ id, title, message?, services, starts_at, ends_at, status, recurring? }`).
 */
import { alerts as alertsModule } from '../alerts/index.js';
import type { Config } from '../core/config/load.js';
import type { EventRecord } from '../core/api-types.js';
import { lots } from '../core/serial.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { notify as notifyModule } from '../notify/index.js';
import { registerMaintenanceCommands } from './cli.js';
import { maintenanceConfig, type MaintenanceRaw } from './config.js';
import { maintenanceMigrations, type MaintenanceTables } from './migrations.js';
import { maintenanceRoutes } from './routes.js';
import { Maintenance, OVERRUN_ALERT, silenceMatchers, type OverrunAlerts, type Suppressor } from './service.js';
import { MAINTENANCE_EVENTS, type MaintenanceWindow } from './types.js';

export type { MaintenanceRaw, MaintenanceConfig, WindowConfig } from './config.js';
export type { Maintenance, AddInput, ListQuery } from './service.js';
export { OVERRUN_ALERT } from './service.js';
export type * from './types.js';
export { MAINTENANCE_EVENTS, WINDOW_STATUSES, OPEN_STATUSES } from './types.js';

export interface MaintenanceDomain extends ModuleLifecycle<MaintenanceRaw> {
  /** the service API other modules use */
  service: Maintenance;
  /** move windows on now (tests; the timer does it every `maintenance.check_every`) */
  tick(): Promise<number>;
  /** wait until every alert event received so far has been looked at (tests) */
  settled(): Promise<void>;
}

const describeWindow = (w: MaintenanceWindow) => `maintenance window ${w.id} "${w.title}"${w.recurring ? ` (${w.recurring})` : ''}: ${w.services.join(', ')} from ${w.starts_at} to ${w.ends_at}`;

export function createMaintenance(ctx: ModuleContext<MaintenanceTables, MaintenanceRaw>, deps: { suppressor?: Suppressor; overrun?: OverrunAlerts } = {}): MaintenanceDomain {
  const log = ctx.logger.child({ component: 'maintenance' });
  const service = new Maintenance({
    store: ctx.store,
    events: ctx.events,
    now: ctx.now,
    config: () => ctx.config().raw.maintenance,
    services: () => Object.keys(ctx.config().raw.services),
    suppressor: deps.suppressor,
    overrun: deps.overrun,
    logger: log,
  });
  let timer: NodeJS.Timeout | undefined;
  let every = ctx.config().raw.maintenance.check_every;
  let off: (() => void) | undefined;
  let pending: Promise<unknown> = Promise.resolve();
  const run = () => service.tick().catch((e) => (log.error({ err: e }, 'maintenance windows: tick failed'), 0));
  const schedule = () => {
    if (timer) clearInterval(timer);
    timer = setInterval(() => void run(), every);
    timer.unref();
  };

  return {
    service,
    tick: () => service.tick(),
    async settled() {
      await pending;
    },
    async start() {
      // a held-back firing is recorded on the log with the window that held it back
      // alerts that fire together are looked up together: one read of the open windows for all
      const record = lots<EventRecord>(
        (run) => {
          pending = pending.then(run).catch((err) => log.error({ err }, 'recording a suppressed alert failed'));
        },
        async (lot) => {
          const open = (await service.active()).filter((w) => w.silence_id);
          for (const ev of lot) {
            const l = (ev.data as { labels: Record<string, string> }).labels;
            const svc = l.service as string;
            const w = open.find((x) => x.services.includes(svc));
            if (!w) continue;
            await ctx.events.append({
              type: 'alert.suppressed',
              actor: `maintenance:${w.id}`,
              subject: ev.subject,
              data: { alertname: l.alertname, fingerprint: (ev.data as { fingerprint?: string }).fingerprint, service: svc, labels: l, reason: describeWindow(w), maintenance_id: w.id, silence_id: w.silence_id },
            });
          }
        },
      );
      off = ctx.events.onEvent((e) => {
        if (e.type !== 'alert.firing') return;
        const labels = (e.data as { labels?: Record<string, string> }).labels;
        if (!labels?.service || labels.alertname === OVERRUN_ALERT) return;
        record(e);
      });
      await run(); // a restart mid-window carries on where the store says it is
      schedule();
    },
    async apply(config: Config<MaintenanceRaw>) {
      if (config.raw.maintenance.check_every !== every) {
        every = config.raw.maintenance.check_every;
        schedule();
      }
      await run();
    },
    async stop() {
      off?.();
      if (timer) clearInterval(timer);
      await pending;
      await service.idle();
    },
    routes(app) {
      maintenanceRoutes(app, service, ctx.now);
    },
  };
}

export const maintenance = defineModule<MaintenanceDomain, MaintenanceTables, MaintenanceRaw>({
  name: 'maintenance',
  description: 'planned maintenance windows (one-off or recurring RRULE in a time zone): announced ahead, alerts of the services held back, overruns alerted',
  config: maintenanceConfig,
  migrations: maintenanceMigrations,
  events: [...MAINTENANCE_EVENTS, 'alert.suppressed'],
  create(ctx) {
    const n = ctx.use(notifyModule);
    const a = ctx.use(alertsModule);
    const suppressor: Suppressor = {
      async suppress(w, until) {
        const s = await n.silences.create(
          { matchers: silenceMatchers(w.services), startsAt: ctx.now(), endsAt: Math.max(until, ctx.now() + 1000), createdBy: 'maintenance', comment: describeWindow(w) },
          `maintenance:${w.id}`,
        );
        return s.id;
      },
      async release(silenceId, w) {
        await n.silences.expire(silenceId, `maintenance:${w.id}`);
        await n.recheck((labels) => w.services.includes(labels.service ?? ''));
      },
    };
    const overrunLabels = (w: MaintenanceWindow, service: string) => ({ alertname: OVERRUN_ALERT, service, maintenance_id: String(w.id), severity: ctx.config().raw.maintenance.overrun_severity });
    const overrun: OverrunAlerts = {
      async raise(w) {
        const mins = Math.round(w.max_ms / 60_000);
        await a.engine.receive(
          w.services.map((s) => ({
            labels: overrunLabels(w, s),
            annotations: { summary: `Maintenance "${w.title}" on ${s} is still in progress past its declared maximum of ${mins} min`, description: describeWindow(w), maintenance_id: String(w.id) },
            startsAt: Date.parse(w.max_ends_at),
            endsAt: null,
          })),
          'maintenance',
        );
      },
      async clear(w) {
        await a.engine.receive(w.services.map((s) => ({ labels: overrunLabels(w, s), annotations: {}, resolved: true, endsAt: ctx.now() })), 'maintenance');
      },
    };
    return createMaintenance(ctx, { suppressor, overrun });
  },
  cli: registerMaintenanceCommands,
});
