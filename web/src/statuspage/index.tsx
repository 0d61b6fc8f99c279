import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { statusKeys } from './api.ts';

const StatusPagesPage = lazy(() => import('./StatusPagesPage.tsx'));
const MaintenancePage = lazy(() => import('./MaintenancePage.tsx'));

/** Status pages: each configured page with its components, pins and public incidents; maintenance windows. */
export const statuspageModule = defineModule({
  name: 'statuspage',
  nav: { label: 'Status pages', path: '/status-pages', order: 40 },
  routes: [
    { path: '/status-pages', component: StatusPagesPage },
    { path: '/status-pages/maintenance', component: MaintenancePage },
  ],
  live: {
    events: [
      'service.state',
      'incident.opened',
      'incident.update',
      'incident.resolved',
      'incident.mitigated',
      'incident.closed',
      'incident.reopened',
      'incident.severity_changed',
      'maintenance.scheduled',
      'maintenance.started',
      'maintenance.verifying',
      'maintenance.extended',
      'maintenance.ended',
      'maintenance.cancelled',
      'maintenance.overrun',
    ],
    onEvent({ type }, live) {
      live.invalidate(statusKeys.pages, { heavy: true });
      if (type.startsWith('maintenance.')) live.invalidate(statusKeys.maintenance);
    },
  },
});
