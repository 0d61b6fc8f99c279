/**
 * The notify domain: routes firing and resolved alerts (events `alert.firing` / `alert.resolved`)
 * to channels, Alertmanager's way (routes, grouping, inhibition, silences), through a persistent
 * queue that retries. Exposes silences and the queue over the API.
 */
import { Counter } from 'prom-client';
import type { AlertInstance } from '../alerts/types.js';
import type { Config } from '../config/load.js';
import type { Domain, DomainContext } from '../domain.js';
import { channelTargets, Dispatcher } from './dispatcher.js';
import { NotifyQueue } from './queue.js';
import { notifyRoutes } from './routes.js';
import { Silences } from './silences.js';

export interface NotifyOptions {
  /** how often due groups and queued sends are looked at, ms (0: never by itself; tests call tick()) */
  tickMs?: number;
  /** jitter source for retries (tests) */
  random?: () => number;
}

export interface NotifyDomain extends Domain {
  readonly silences: Silences;
  readonly queue: NotifyQueue;
  readonly dispatcher: Dispatcher;
  /** flush the groups that are due and start the sends that are due */
  tick(): Promise<void>;
  /** wait until every alert event received so far has been handled */
  settled(): Promise<void>;
}

export function externalUrlOf(config: Config): string {
  const n = config.raw.notify;
  if (n.external_url) return n.external_url.replace(/\/$/, '');
  const host = config.raw.server.host ?? process.env.SHIPSHAPE_HOST ?? '127.0.0.1';
  const port = config.raw.server.port ?? process.env.SHIPSHAPE_PORT ?? 4600;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function createNotify(ctx: DomainContext, opts: NotifyOptions = {}): NotifyDomain {
  const log = ctx.logger.child({ component: 'notify' });
  const tickMs = opts.tickMs ?? 1000;
  const silences = new Silences(ctx.store, ctx.events, ctx.now);
  const counterName = 'shipshape_notifications_total';
  const counter =
    (ctx.metrics.registry.getSingleMetric(counterName) as Counter<'channel' | 'result'> | undefined) ??
    new Counter({ name: counterName, help: 'Notification send attempts by channel and result (sent, retry, failed)', labelNames: ['channel', 'result'], registers: [ctx.metrics.registry] });
  const queue = new NotifyQueue({ store: ctx.store, events: ctx.events, logger: log, now: ctx.now, channels: () => channelTargets(ctx.config().raw.notify), timeoutMs: () => ctx.config().raw.notify.timeout, random: opts.random, counter });
  const dispatcher = new Dispatcher({ store: ctx.store, logger: log, now: ctx.now, config: () => ctx.config().raw.notify, externalURL: () => externalUrlOf(ctx.config()), silences, queue });

  // alert events and flushes are handled one at a time, in order
  let chain: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<unknown>): Promise<void> => {
    const next = chain.then(fn).then(
      () => undefined,
      (e) => log.error({ err: e }, 'notify: handling failed'),
    );
    chain = next;
    return next;
  };

  let offEvents: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastSilenceRefresh = 0;
  let lastPrune = 0;
  let started = false;

  const tick = async () => {
    await serial(async () => {
      if (ctx.now() - lastSilenceRefresh >= 5000 || ctx.now() < lastSilenceRefresh) {
        lastSilenceRefresh = ctx.now();
        await silences.refresh();
      }
      await dispatcher.tick();
      if (ctx.now() - lastPrune >= 3_600_000) {
        lastPrune = ctx.now();
        await queue.prune();
      }
    });
    await queue.runDue();
  };

  const domain: NotifyDomain = {
    name: 'notify',
    silences,
    queue,
    dispatcher,
    tick,
    settled: () => serial(async () => undefined),
    async start() {
      await silences.refresh();
      lastSilenceRefresh = ctx.now();
      await dispatcher.load();
      offEvents = ctx.events.onEvent((e) => {
        if (e.type !== 'alert.firing' && e.type !== 'alert.resolved') return;
        const a = e.data as unknown as AlertInstance;
        if (!a || typeof a.fingerprint !== 'string' || typeof a.labels !== 'object' || a.labels === null) {
          log.warn({ event: e.id }, `ignoring ${e.type} without an alert instance`);
          return;
        }
        const alert: AlertInstance = { ...a, labels: a.labels, annotations: a.annotations ?? {}, state: e.type === 'alert.firing' ? 'firing' : 'resolved' };
        void serial(async () => {
          if (e.type === 'alert.firing') await dispatcher.firing(alert);
          else await dispatcher.resolved(alert);
          // group_wait 0 (or an old alert): tell at once rather than at the next tick
          const due = dispatcher.nextDue();
          if (started && due !== undefined && due <= ctx.now()) {
            if (await dispatcher.tick()) void queue.runDue();
          }
        });
      });
      started = true;
      if (tickMs > 0) {
        timer = setInterval(() => void tick(), tickMs);
        timer.unref();
        void queue.runDue(); // pending rows from before a restart
      }
    },
    async apply() {
      await serial(() => dispatcher.reroute());
    },
    async stop() {
      started = false;
      offEvents?.();
      if (timer) clearInterval(timer);
      await chain;
      await queue.stop();
    },
    routes(app) {
      notifyRoutes(app, { silences, queue, dispatcher, config: () => ctx.config().raw.notify, afterSilenceChange: () => serial(() => silences.refresh()) });
    },
  };
  return domain;
}
