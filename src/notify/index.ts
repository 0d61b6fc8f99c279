/**
 * The notify domain: routes firing and resolved alerts (events `alert.firing` / `alert.resolved`)
 * to channels, Alertmanager's way (routes, grouping, inhibition, silences), through a persistent
 * queue that retries. Exposes silences and the queue over the API.
 */
import { Counter } from 'prom-client';
import type { AlertInstance } from '../alerts/index.js';
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { lots } from '../core/serial.js';
import { registerNotifyCommands } from './cli.js';
import { notifyConfig, type NotifyRaw } from './config.js';
import { notifyMigrations, type NotifyTables } from './migrations.js';
import { externalUrlOf, sendTestMessage } from './test-send.js';
import { channelTargets, Dispatcher } from './dispatcher.js';
import { NotifyQueue } from './queue.js';
import { notifyRoutes } from './routes.js';
import { Silences } from './silences.js';
import { smtpSend, type EmailSpec, type MailMessage } from './channels/email.js';
import { SendError, type Notification } from './types.js';

export interface NotifyOptions {
  /** how often due groups and queued sends are looked at, ms (0: never by itself; tests call tick()) */
  tickMs?: number;
  /** jitter source for retries (tests) */
  random?: () => number;
}

export interface NotifyDomain extends ModuleLifecycle<NotifyRaw> {
  readonly silences: Silences;
  readonly queue: NotifyQueue;
  readonly dispatcher: Dispatcher;
  /** flush the groups that are due and start the sends that are due */
  tick(): Promise<void>;
  /** wait until every alert event received so far has been handled */
  settled(): Promise<void>;
  /**
   * Send a message to these channels now, durably: one queue row per channel (retried with
   * backoff, kept across restarts), sends started at once. Unknown channels are skipped and
   * returned in `unknown`. Used by on-call pages.
   */
  send(n: Omit<Notification, 'receiver'>, channels: readonly string[]): Promise<{ queued: number[]; unknown: string[] }>;
  /**
   * Send one composed message (own subject, text, HTML and headers) to these addresses through
   * the SMTP server and sender of the email channel `channel`, once, now, within `notify.timeout`.
   * Not queued: the caller keeps its own delivery record and retries (status-page subscriptions
   * do, per subscriber). Rejects with a SendError (secret-free; `permanent` when retrying cannot
   * help, e.g. an unknown or non-email channel, a 5xx answer).
   */
  sendMail(channel: string, mail: MailMessage, signal?: AbortSignal): Promise<void>;
  /**
   * A silence over some alerts ended early (a maintenance window ended): reload the silences and
   * tell at once what is still firing among the alerts `select` picks.
   */
  recheck(select: (labels: Record<string, string>) => boolean): Promise<void>;
}


export function createNotify(ctx: ModuleContext<NotifyTables, NotifyRaw>, opts: NotifyOptions = {}): NotifyDomain {
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

  // a group is flushed when it is due, not at the next whole tick: a timer for the earliest due
  // group (Alertmanager runs one per group), besides the steady tick for retries and silences
  let dueTimer: NodeJS.Timeout | undefined;
  let dueAt = Number.POSITIVE_INFINITY;
  const armDue = (): void => {
    if (!started || tickMs <= 0) return; // tests with their own clock tick by hand
    const due = dispatcher.nextDue();
    if (due === undefined || due >= dueAt) return; // an earlier one is armed already
    if (dueTimer) clearTimeout(dueTimer);
    dueAt = due;
    dueTimer = setTimeout(() => {
      dueAt = Number.POSITIVE_INFINITY;
      dueTimer = undefined;
      void tick();
    }, Math.max(0, due - ctx.now()));
    dueTimer.unref();
  };

  const tick = async () => {
    await serial(async () => {
      if (ctx.now() - lastSilenceRefresh >= 5000 || ctx.now() < lastSilenceRefresh) {
        lastSilenceRefresh = ctx.now();
        await silences.refresh();
      }
      await dispatcher.tick();
      armDue();
      if (ctx.now() - lastPrune >= 3_600_000) {
        lastPrune = ctx.now();
        await queue.prune();
      }
    });
    await queue.runDue();
  };

  const domain: NotifyDomain = {
    silences,
    queue,
    dispatcher,
    tick,
    settled: () => serial(async () => undefined),
    async send(n, names) {
      const targets = channelTargets(ctx.config().raw.notify);
      const queued: number[] = [];
      const unknown: string[] = [];
      for (const name of names) {
        const ch = targets.get(name);
        if (!ch) unknown.push(name);
        else queued.push(await queue.enqueue({ ...n, receiver: name }, ch));
      }
      if (queued.length) void queue.runDue();
      return { queued, unknown };
    },
    async sendMail(name, mail, signal) {
      const ch = channelTargets(ctx.config().raw.notify).get(name);
      if (!ch) throw new SendError(`there is no channel "${name}" in notify.channels`, true);
      if (ch.kind !== 'email') throw new SendError(`the channel "${name}" is a ${ch.kind} channel, not an email channel`, true);
      const timeout = ctx.config().raw.notify.timeout;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error('timeout')), timeout);
      const onAbort = () => abort.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await smtpSend(ch.spec as EmailSpec, mail, abort.signal);
        counter.inc({ channel: name, result: 'sent' });
      } catch (e) {
        counter.inc({ channel: name, result: 'retry' });
        if (abort.signal.aborted && !signal?.aborted) throw new SendError(`email via the channel "${name}": timed out after ${timeout}ms`);
        throw e;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
    async recheck(select) {
      await serial(async () => {
        await silences.refresh();
        lastSilenceRefresh = ctx.now();
        if (dispatcher.flushSoon(select) > 0) await dispatcher.tick();
      });
      await queue.runDue();
    },
    async start() {
      await silences.refresh();
      lastSilenceRefresh = ctx.now();
      await dispatcher.load();
      // alert changes that arrive together are handled together (one transaction), in order
      const receive = lots<{ alert: AlertInstance; firing: boolean }>(
        (run) => void serial(run),
        async (lot) => {
          await dispatcher.handle(lot);
          // group_wait 0 (or an old alert): tell at once rather than at the next tick
          const due = dispatcher.nextDue();
          if (started && due !== undefined && due <= ctx.now()) {
            if (await dispatcher.tick()) void queue.runDue();
          }
          armDue();
        },
      );
      offEvents = ctx.events.onEvent((e) => {
        if (e.type !== 'alert.firing' && e.type !== 'alert.resolved') return;
        const a = e.data as unknown as AlertInstance;
        if (!a || typeof a.fingerprint !== 'string' || typeof a.labels !== 'object' || a.labels === null) {
          log.warn({ event: e.id }, `ignoring ${e.type} without an alert instance`);
          return;
        }
        const firing = e.type === 'alert.firing';
        receive({ alert: { ...a, labels: a.labels, annotations: a.annotations ?? {}, state: firing ? 'firing' : 'resolved' }, firing });
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
      if (dueTimer) clearTimeout(dueTimer);
      await serial(() => dispatcher.persist());
      await queue.stop();
    },
    routes(app) {
      notifyRoutes(app, {
        silences,
        queue,
        dispatcher,
        config: () => ctx.config().raw.notify,
        afterSilenceChange: () => serial(() => silences.refresh()),
        testChannel: (name, actor) => sendTestMessage(ctx.config().raw.notify, externalUrlOf(ctx.config()), name, actor),
      });
    },
  };
  return domain;
}

export { externalUrlOf } from './test-send.js';
export type { Notification, NotifiedAlert } from './types.js';
export { SendError } from './types.js';
export type { MailMessage } from './channels/email.js';
export { backoff } from './queue.js';

export const notify = defineModule<NotifyDomain, NotifyTables, NotifyRaw>({
  name: 'notify',
  description: 'Alertmanager-style routing, grouping, inhibition and silences; Slack, Discord, Teams, Telegram, webhook, email, PagerDuty and ntfy',
  config: notifyConfig,
  migrations: notifyMigrations,
  events: ['notification.sent', 'notification.failed', 'silence.created', 'silence.expired'],
  create: (ctx) => createNotify(ctx),
  cli: registerNotifyCommands,
});
export type { NotifyRaw } from './config.js';
