import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { oncallKeys } from './api.ts';

const OncallPage = lazy(() => import('./OncallPage.tsx'));

/** On-call: who is on call now, upcoming shifts, overrides, escalation policies and active escalations, iCal links. */
export const oncallModule = defineModule({
  name: 'oncall',
  nav: { label: 'On-call', path: '/oncall', order: 16 },
  routes: [{ path: '/oncall', component: OncallPage }],
  live: {
    events: ['oncall.escalation_started', 'oncall.step', 'oncall.paged', 'oncall.escalation_stopped', 'oncall.link_used'],
    onEvent({ data }, live) {
      live.invalidate(oncallKeys.escalations);
      if (typeof data.incident === 'number') live.invalidate(oncallKeys.escalationsOf(data.incident));
    },
  },
});
