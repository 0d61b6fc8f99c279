import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { deployKeys } from './api.ts';
import { recordProgress } from './live.ts';

const DeploysPage = lazy(() => import('./DeploysPage.tsx'));
const ServiceDeploysPage = lazy(() => import('./ServiceDeploysPage.tsx'));
const ReleasePage = lazy(() => import('./ReleasePage.tsx'));
const DeployPanel = lazy(() => import('./DeployPanel.tsx'));

/** The deploy.* events the screens follow (src/deploy/index.ts DEPLOY_EVENTS; every change of the deploy module writes one). */
export const DEPLOY_LIVE_EVENTS = [
  'deploy.started',
  'deploy.step',
  'deploy.succeeded',
  'deploy.failed',
  'deploy.refused',
  'deploy.rolled_back',
  'deploy.stopped',
  'deploy.crashed',
  'deploy.restored',
  'deploy.locked',
  'deploy.unlocked',
  'deploy.canary',
  'deploy.watched',
  'deploy.pinned',
  'deploy.incident',
] as const;

/** Steps starting and ending, and their output, while a deploy runs (not stored: the SSE notice only). */
const PROGRESS = 'deploy.progress';

/** Deploys: what is live per service and environment, the releases, a release's steps live; deploy, promote, roll back, lock. */
export const deployModule = defineModule({
  name: 'deploy',
  nav: { label: 'Deploys', path: '/deploys', order: 35 },
  routes: [
    { path: '/deploys', component: DeploysPage },
    { path: '/deploys/:service', component: ({ params }) => <ServiceDeploysPage service={params.service ?? ''} />, key: (p) => p.service ?? '' },
    {
      path: '/deploys/:service/releases/:id(\\d{1,15})',
      component: ({ params }) => <ReleasePage service={params.service ?? ''} id={Number(params.id)} />,
      key: (p) => `${p.service ?? ''}/${p.id ?? ''}`,
    },
  ],
  servicePanels: [{ order: 30, component: DeployPanel }],
  live: {
    events: [...DEPLOY_LIVE_EVENTS, PROGRESS],
    onEvent({ type, data }, live) {
      const service = typeof data.service === 'string' ? data.service : null;
      const release = typeof data.release === 'number' ? data.release : null;
      if (type === PROGRESS) {
        recordProgress(data);
        // a step that ends is stored with its whole output: fetch the release again
        if (service && release !== null && data.type === 'step' && data.state !== 'running') live.invalidate(deployKeys.release(service, release));
        return;
      }
      if (service && release !== null) live.invalidate(deployKeys.release(service, release));
      // a step's record changes only its release; everything else changes what is live, warm or locked
      if (type === 'deploy.step') return;
      live.invalidate(deployKeys.overview);
      if (service) {
        live.invalidate(deployKeys.service(service));
        live.invalidate(deployKeys.releases(service));
      }
    },
  },
});

export { deployPath, releasePath, servicePath as deployServicePath } from './api.ts';
