import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { webhookKeys } from './api.ts';

const WebhooksPage = lazy(() => import('./WebhooksPage.tsx'));
const DeliveryPage = lazy(() => import('./DeliveryPage.tsx'));

/** The webhook inbox: hooks and deliveries, a delivery's attempts, replay. */
export const webhooksModule = defineModule({
  name: 'webhooks',
  nav: { label: 'Webhooks', path: '/webhooks', order: 38 },
  routes: [
    { path: '/webhooks', component: WebhooksPage },
    { path: '/webhooks/deliveries/:id(\\d{1,15})', component: ({ params }) => <DeliveryPage id={Number(params.id)} />, key: (p) => p.id ?? '' },
  ],
  live: {
    // src/webhooks/index.ts WEBHOOK_EVENTS; deliveries arriving and succeeding are polled (no event per delivery)
    events: ['webhook.failed', 'webhook.replayed', 'webhook.rejected'],
    onEvent(_e, live) {
      live.invalidate(webhookKeys.all);
    },
  },
});
