import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { ALERT_TABS, alertsKeys, type AlertTab } from './api.ts';
import { FiringBadge } from './FiringBadge.tsx';

const AlertsPage = lazy(() => import('./AlertsPage.tsx'));

/** Both alert paths render this one component with one key, so switching tabs keeps the page mounted. */
function AlertsRoute({ params }: { params: Record<string, string> }) {
  return <AlertsPage tab={(params.tab ?? 'firing') as AlertTab} />;
}

/** Alerts: firing / pending / silenced / history, the rules, and silences (the notify side). */
export const alertsModule = defineModule({
  name: 'alerts',
  nav: { label: 'Alerts', path: '/alerts', order: 20, badge: FiringBadge },
  routes: [
    { path: '/alerts', component: AlertsRoute, key: () => 'alerts' },
    { path: `/alerts/:tab(${ALERT_TABS.join('|')})`, component: AlertsRoute, key: () => 'alerts' },
  ],
  live: {
    events: ['alert.pending', 'alert.firing', 'alert.resolved', 'alert.cancelled', 'silence.created', 'silence.expired'],
    onEvent({ type }, live) {
      live.invalidate(alertsKeys.alerts);
      live.invalidate(alertsKeys.notifyAlerts);
      live.invalidate(alertsKeys.rules);
      if (type.startsWith('silence.')) live.invalidate(alertsKeys.silences);
    },
  },
});
