import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { errorsKeys } from './api.ts';

const ErrorsPage = lazy(() => import('./ErrorsPage.tsx'));
const IssuePage = lazy(() => import('./IssuePage.tsx'));

/** Errors from the Sentry SDKs, grouped into issues: the list, an issue with its stack traces. */
export const errorsModule = defineModule({
  name: 'errors',
  nav: { label: 'Errors', path: '/errors', order: 30 },
  routes: [
    { path: '/errors', component: ErrorsPage },
    { path: '/errors/:id(\\d{1,15})', component: ({ params }) => <IssuePage id={Number(params.id)} />, key: (p) => p.id ?? '' },
  ],
  live: {
    events: ['issue.event', 'issue.created', 'issue.regressed', 'issue.resolved', 'issue.ignored', 'issue.unresolved'],
    onEvent({ data }, live) {
      live.invalidate(errorsKeys.issues);
      if (typeof data.issue_id === 'number') {
        live.invalidate(errorsKeys.issue(data.issue_id));
        live.invalidate(errorsKeys.issueEvents(data.issue_id));
      }
    },
  },
});
