import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { checksKeys } from './api.ts';
import { Overview } from './Overview.tsx';

// the service page carries the chart library; load it when first needed
const ServicePage = lazy(() => import('./ServicePage.tsx'));

/** Checks and services: the overview, a service's page, uptime bars, sparklines, state pills. */
export const checksModule = defineModule({
  name: 'checks',
  nav: { label: 'Overview', path: '/', order: 10, active: (path) => path === '/' || path.startsWith('/services/') },
  routes: [
    { path: '/', component: Overview },
    { path: '/services/:name', component: ({ params }) => <ServicePage name={params.name ?? ''} />, key: (p) => p.name ?? '' },
  ],
  live: {
    events: ['check.result', 'check.state', 'service.state'],
    onEvent({ type, data }, live) {
      live.invalidate(checksKeys.services);
      const svc = typeof data.service === 'string' ? data.service : null;
      if (!svc) return;
      live.invalidate(checksKeys.service(svc));
      if (type === 'check.result') {
        // aggregates are the heaviest query: at most one refetch round every five seconds
        live.invalidate(checksKeys.aggregates(svc), { heavy: true });
        if (data.ok === false && data.check) live.invalidate(checksKeys.failures(svc));
      } else {
        live.invalidate(checksKeys.stateChanges(svc));
        live.invalidate(checksKeys.failures(svc));
      }
    },
  },
});

/** What other domains may use. */
export { servicePath, servicesQuery } from './api.ts';
export type { ServiceState, ServiceSummary } from './types.ts';
