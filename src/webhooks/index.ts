/** The webhook inbox (skeleton): verify, store, forward and replay third parties' webhooks. Filled in by issue 11. */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';

export type WebhooksRaw = CoreConfig;

export const webhooks = defineModule<Record<string, never>, unknown, WebhooksRaw>({
  name: 'webhooks',
  description: 'a webhook inbox: signature verification, durable storage, forwarding with retries, replay',
  create: () => ({}),
});
