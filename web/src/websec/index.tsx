import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { websecKeys } from './api.ts';

const SecurityPage = lazy(() => import('./SecurityPage.tsx'));

/** Web security: the security-header grade of every `headers` check. */
export const websecModule = defineModule({
  name: 'websec',
  nav: { label: 'Security', path: '/security', order: 38 },
  routes: [{ path: '/security', component: SecurityPage }],
  live: {
    // a headers check's new result may mean a new grade; the page re-asks (the server answers from its cache)
    events: ['check.state'],
    onEvent(_event, live) {
      live.invalidate(websecKeys.all);
    },
  },
});
