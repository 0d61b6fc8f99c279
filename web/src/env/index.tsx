import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { envKeys } from './api.ts';
import { OverdueBadge } from './OverdueBadge.tsx';

const EnvPage = lazy(() => import('./EnvPage.tsx'));

/** The env.* events the page follows (src/env/index.ts ENV_EVENTS). */
export const ENV_LIVE_EVENTS = ['env.set', 'env.unset', 'env.rotated', 'env.rotation_overdue', 'env.rekeyed'] as const;

/** Env: the encrypted env store per service and environment, masked, with rotation; set and unset (admin). */
export const envModule = defineModule({
  name: 'env',
  nav: { label: 'Env', path: '/env', order: 37, badge: OverdueBadge },
  routes: [{ path: '/env', component: EnvPage }],
  live: {
    events: ENV_LIVE_EVENTS,
    onEvent(_event, live) {
      live.invalidate(envKeys.all);
    },
  },
});

export { envPath } from './api.ts';
