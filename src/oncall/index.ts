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
export type { Oncall, OnCallNow, ShiftOut, Escalation, ScheduleDetail, PolicyOut, CalendarFeed, CalendarSubscription } from './service.js';
export { onCallAt, shifts, currentShift } from './rotation.js';

export const ONCALL_EVENTS = ['oncall.escalation_started', 'oncall.step', 'oncall.paged', 'oncall.escalation_stopped', 'oncall.link_used', 'oncall.feed_created', 'oncall.feed_revoked'] as const;

export interface OncallDomain extends ModuleLifecycle<OncallRaw> {
  service: Oncall;
  /** run due escalation steps now (tests; a timer armed at the next due step does it, and a poll every `oncall.check_every`) */
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
    atRest: ctx.atRest,
    now: ctx.now,
    config: () => ctx.config().raw.oncall,
    people: () => ctx.config().raw.people,
    incidents: () => inc.service,
    send: (n, channels) => nfy.send(n, channels),
    externalUrl: () => externalUrlOf(ctx.config() as unknown as Config<NotifyRaw>),
  });
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let stopped = false;
  let every = ctx.config().raw.oncall.check_every;
  let off: (() => void) | undefined;
  /** a one-shot timer at the next due step, so pages go out on time rather than on the next poll */
  const arm = async () => {
    const due = await service.nextDue().catch(() => null);
    if (soon) clearTimeout(soon);
    soon = undefined;
    if (due === null || stopped) return;
    // setTimeout's range is ~24.8 days; wake at least hourly and look again
    soon = setTimeout(run, Math.min(Math.max(0, due - ctx.now()), 3_600_000));
    soon.unref();
  };
  const run = () => {
    service
      .tick()
      .catch((e) => log.error({ err: e }, 'on-call escalation failed'))
      .finally(() => void arm());
  };
  // the poll catches what another process (the CLI) changed in the store
  const schedule = () => {
    if (timer) clearInterval(timer);
    timer = setInterval(run, every);
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
        service
          .onIncidentEvent(e.type, e.data, e.actor)
          .catch((err) => log.error({ err, event: e.id }, 'on-call: handling an incident event failed'))
          .finally(() => void arm());
      });
      await service.catchUp();
      await service.tick();
      schedule();
      await arm();
    },
    async apply(config: Config<OncallRaw>) {
      if (config.raw.oncall.check_every !== every) {
        every = config.raw.oncall.check_every;
        schedule();
      }
    },
    async stop() {
      off?.();
      stopped = true;
      if (timer) clearInterval(timer);
      if (soon) clearTimeout(soon);
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
