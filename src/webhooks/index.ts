/**
 * The webhook inbox: `webhooks:` in shipshape.yaml names each inbound hook (`POST /hooks/<name>`)
 * with its signature scheme (Stripe, GitHub, Svix / Standard Webhooks, generic HMAC) and the app
 * URL it forwards to. A delivery is verified on its raw bytes, stored durably, acknowledged, then
 * forwarded with retries (persisted backoff), each attempt recorded; failures write
 * `webhook.failed` and feed the `shipshape_webhook_*` metrics alert rules read. See docs/webhooks.md.
 */
import { defineModule, type ModuleContext, type ModuleLifecycle } from '../core/module.js';
import { telemetry } from '../telemetry/index.js';
import { registerWebhookCommands } from './cli.js';
import { webhooksConfig, type WebhooksRaw } from './config.js';
import { webhooksMigrations, type WebhooksTables } from './migrations.js';
import { webhookRoutes } from './routes.js';
import { Inbox } from './service.js';

export type { HookConfig, VerifyConfig, WebhooksRaw } from './config.js';
export type * from './types.js';
export { Inbox, backoffMs } from './service.js';
export { verify } from './verify.js';

export const WEBHOOK_EVENTS = ['webhook.failed', 'webhook.replayed', 'webhook.rejected'] as const;

export interface WebhooksDomain extends ModuleLifecycle<WebhooksRaw> {
  inbox: Inbox;
}

export function createWebhooks(ctx: ModuleContext<WebhooksTables, WebhooksRaw>): WebhooksDomain {
  const inbox = new Inbox({
    store: ctx.store,
    events: ctx.events,
    logger: ctx.logger.child({ component: 'webhooks' }),
    now: ctx.now,
    config: ctx.config,
    metrics: (samples) => ctx.use(telemetry).sink.metrics(samples),
    version: ctx.version,
  });
  return {
    inbox,
    start: () => inbox.start(),
    async apply() {
      inbox.wake();
    },
    stop: () => inbox.stop(),
    routes(app) {
      webhookRoutes(app, inbox);
    },
  };
}

export const webhooks = defineModule<WebhooksDomain, WebhooksTables, WebhooksRaw>({
  name: 'webhooks',
  description: 'a webhook inbox: signature verification, durable storage, forwarding with retries, replay',
  config: webhooksConfig,
  migrations: webhooksMigrations,
  events: WEBHOOK_EVENTS,
  create: (ctx) => createWebhooks(ctx),
  cli: registerWebhookCommands,
});
