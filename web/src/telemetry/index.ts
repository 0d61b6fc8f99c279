import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { telemetryKeys } from './api.ts';

// charts (uPlot) load with the service page, not with the app
const TelemetrySection = lazy(() => import('./TelemetrySection.tsx'));

/** Telemetry: request rate, error rate, latency quantiles, routes and web vitals on a service's page. */
export const telemetryModule = defineModule({
  name: 'telemetry',
  servicePanels: [{ order: 10, component: TelemetrySection }],
  live: {
    // the charts mark alert transitions and deploys
    events: ['alert.firing', 'alert.resolved', 'deploy.started', 'deploy.succeeded', 'deploy.failed', 'deploy.rolled_back'],
    onEvent(_event, live) {
      live.invalidate(telemetryKeys.markers);
    },
  },
});
