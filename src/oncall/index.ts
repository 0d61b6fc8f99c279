/**
 * The on-call domain: people (config entries for now), schedules with daily / weekly / every-N-days
 * rotations in a time zone, layers and overrides; who is on call now or at T; iCal feeds per
 * schedule and per person; escalation policies that page the on-call (through the notify queue:
 * chat channels and email) in timed steps, repeated, stopped by an ack or resolve — also from the
 * signed, single-use, expiring links in the page.
 *
 * It `use`s incidents (the service API) and notify (`send`), and listens to `incident.*` events.
 */
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { incidents } from '../incidents/index.js';
import { externalUrlOf, notify, type NotifyRaw } from '../notify/index.js';
import { registerOncallCommands } from './cli.js';
import { oncallConfig, type OncallRaw } from './config.js';
import { oncallMigrations, type OncallTables } from './migrations.js';
import { oncallRoutes } from './routes.js';
import { Oncall } from './service.js';

export type { OncallRaw, OncallConfig, PersonConfig, ScheduleConfig } from './config.js';
export type { Oncall, OnCallNow, ShiftOut, Escalation } from './service.js';
export { onCallAt, shifts, currentShift } from './rotation.js';

export const ONCALL_EVENTS = ['oncall.escalation_started', 'oncall.step', 'oncall.paged', 'oncall.escalation_stopped', 'oncall.link_used'] as const;

export interface OncallDomain extends ModuleLifecycle<OncallRaw> {
  service: Oncall;
  /** run due escalation steps now (tests; the timer does it every `oncall.check_every`) */
  tick(): Promise<number>;
  /** wait until every incident event received so far has been handled */
  settled(): Promise<void>;
}

export function createOncall(ctx: ModuleContext<OncallTables, OncallRaw>): OncallDomain {
  const log = ctx.logger.child({ component: 'oncall' });
  const inc = ctx.use(incidents);
  const nfy = ctx.use(notify);
  const service = new Oncall({
    store: ctx.store,
    events: ctx.events,
    logger: log,
    now: ctx.now,
    config: () => ctx.config().raw.oncall,
    people: () => ctx.config().raw.people,
    incidents: () => inc.service,
    send: (n, channels) => nfy.send(n, channels),
    externalUrl: () => externalUrlOf(ctx.config() as unknown as Config<NotifyRaw>),
  });
  let timer: NodeJS.Timeout | undefined;
  let every = ctx.config().raw.oncall.check_every;
  let off: (() => void) | undefined;
  const schedule = () => {
    if (timer) clearInterval(timer);
    timer = setInterval(() => void service.tick().catch((e) => log.error({ err: e }, 'on-call escalation failed')), every);
    timer.unref();
  };
  return {
    service,
    tick: () => service.tick(),
    settled: async () => {
      await service.idle();
    },
    async start() {
      await service.load();
      off = ctx.events.onEvent((e) => {
        if (!e.type.startsWith('incident.')) return;
        service.onIncidentEvent(e.type, e.data, e.actor).catch((err) => log.error({ err, event: e.id }, 'on-call: handling an incident event failed'));
      });
      await service.catchUp();
      await service.tick();
      schedule();
    },
    async apply(config: Config<OncallRaw>) {
      if (config.raw.oncall.check_every !== every) {
        every = config.raw.oncall.check_every;
        schedule();
      }
    },
    async stop() {
      off?.();
      if (timer) clearInterval(timer);
      await service.idle();
    },
    routes(app) {
      oncallRoutes(app, service, ctx.now);
    },
  };
}

export const oncall = defineModule<OncallDomain, OncallTables, OncallRaw>({
  name: 'oncall',
  description: 'On-call schedules (rotations, layers, overrides, time zones), who is on call, iCal feeds, escalation policies with paging and signed ack links',
  config: oncallConfig,
  migrations: oncallMigrations,
  events: ONCALL_EVENTS,
  create: (ctx) => createOncall(ctx),
  cli: registerOncallCommands,
});
