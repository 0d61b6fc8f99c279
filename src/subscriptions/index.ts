/**
 * Status page subscriptions: visitors subscribe by email on a public status page (double opt-in,
 * an unsubscribe link and RFC 8058 one-click header in every mail, optionally only some
 * components); integrations subscribe a webhook through the API (Statuspage-shaped bodies signed
 * with HMAC-SHA256). Subscribers hear about public incident updates and maintenance.
 *
 * Consumes (ctx.events.onEvent, then read back from the log after a stored cursor, so a restart
 * loses nothing): `incident.opened`, `incident.update`, `incident.resolved`, `incident.reopened` (data: the incidents
 * module's `{ id, ref, title, severity, state, services, … }`, plus `status` and `message` on
 * updates) and `maintenance.upcoming|started|ended|cancelled` (data `{ id, title, message?,
 * services, starts_at, ends_at, status }`). Uses statuspage (pages, what a page shows of an
 * incident), incidents (to tell a resolution from a "resolved" update) and notify (`sendMail`
 * through `subscriptions.email_channel`).
 */
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { incidents } from '../incidents/index.js';
import { notify } from '../notify/index.js';
import { statuspage } from '../statuspage/index.js';
import { registerSubscriptionCommands } from './cli.js';
import { subscriptionsConfig, type SubscriptionsRaw } from './config.js';
import { subscriptionsMigrations, type SubscriptionsTables } from './migrations.js';
import { subscriptionRoutes } from './routes.js';
import { CONSUMED_EVENTS, SUBSCRIPTION_EVENTS, Subscriptions } from './service.js';

/** How often the timer reads the event log for events written by another process. */
const CATCH_UP_MS = 10_000;

export type { SubscriptionsRaw } from './config.js';
export type { Subscriber, Delivery } from './service.js';
export { CONSUMED_EVENTS } from './service.js';

export interface SubscriptionsOptions {
  /** how often due deliveries are looked for, ms (0: never by itself; tests call tick()) */
  tickMs?: number;
  random?: () => number;
}

export interface SubscriptionsDomain extends ModuleLifecycle<SubscriptionsRaw> {
  service: Subscriptions;
  /** send what is due (and fan out events not yet handled) */
  tick(): Promise<void>;
  /** what the timer runs: the same, but reads the event log and the deliveries only when there may be something to do */
  periodic(): Promise<void>;
  /** wait until every event received so far is fanned out and nothing is being sent */
  settled(): Promise<void>;
}

export function createSubscriptions(ctx: ModuleContext<SubscriptionsTables, SubscriptionsRaw>, opts: SubscriptionsOptions = {}): SubscriptionsDomain {
  const log = ctx.logger.child({ component: 'subscriptions' });
  const service = new Subscriptions({
    store: ctx.store,
    events: ctx.events,
    logger: log,
    atRest: ctx.atRest,
    now: ctx.now,
    config: ctx.config,
    statuspage: () => ctx.use(statuspage),
    notify: () => ctx.use(notify),
    incidents: () => ctx.use(incidents).service,
    random: opts.random,
  });
  const tickMs = opts.tickMs ?? 1000;
  const consumed = new Set<string>(CONSUMED_EVENTS);
  let off: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastPrune = 0;

  const tick = async () => {
    await service.catchUp();
    await service.runDue();
    await prune();
  };
  const prune = async () => {
    if (ctx.now() - lastPrune >= 3_600_000 || ctx.now() < lastPrune) {
      lastPrune = ctx.now();
      await service.prune();
    }
  };
  // the timer's round: events this process writes start a catch-up at once (onEvent below), so
  // the event log is read only every CATCH_UP_MS for events written by another process (the CLI),
  // and deliveries only when one may be due: an idle server asked the store 4 times a second
  let lastCatchUp = 0;
  const periodic = async () => {
    if (ctx.now() - lastCatchUp >= CATCH_UP_MS || ctx.now() < lastCatchUp) {
      lastCatchUp = ctx.now();
      await service.catchUp();
    }
    await service.runDueIfAny();
    await prune();
  };

  const offerForm = () =>
    ctx.use(statuspage).setSubscribeForm((p) => {
      if (!service.emailEnabled() || !service.offered().some((x) => x.key === p.key)) return undefined;
      return { components: p.components.map((c) => ({ id: c.id, name: c.name })) };
    });

  return {
    service,
    tick,
    periodic,
    async settled() {
      await service.idle();
    },
    async start() {
      await service.load();
      off = ctx.events.onEvent((e) => {
        if (consumed.has(e.type)) void service.catchUp();
      });
      offerForm();
      await service.catchUp(); // events written while Shipshape was down or before it stopped
      if (tickMs > 0) {
        timer = setInterval(() => void periodic().catch((err) => log.error({ err }, 'subscriptions: tick failed')), tickMs);
        timer.unref();
      }
    },
    async apply(_config: Config<SubscriptionsRaw>) {
      offerForm();
    },
    async stop() {
      off?.();
      if (timer) clearInterval(timer);
      ctx.use(statuspage).setSubscribeForm(undefined);
      await service.stop();
    },
    routes(app) {
      subscriptionRoutes(app, service, ctx.now);
    },
  };
}

export const subscriptions = defineModule<SubscriptionsDomain, SubscriptionsTables, SubscriptionsRaw>({
  name: 'subscriptions',
  description: 'status page subscriptions: email (double opt-in, unsubscribe in every mail, per component) and signed webhooks, for incident updates and maintenance',
  config: subscriptionsConfig,
  migrations: subscriptionsMigrations,
  events: SUBSCRIPTION_EVENTS,
  create: (ctx) => createSubscriptions(ctx),
  cli: registerSubscriptionCommands,
});
