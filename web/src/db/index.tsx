import { lazy } from 'react';
import { defineModule } from '../shell/module.ts';
import { dbKeys } from './api.ts';

const DatabasePage = lazy(() => import('./DatabasePage.tsx'));

/** The db.* events that change a migration status (src/db/index.ts DB_EVENTS). */
export const DB_LIVE_EVENTS = ['db.migrated', 'db.migration_failed', 'db.rolled_back', 'db.rollback_failed', 'db.baselined', 'db.repaired'] as const;

/** Database: per service with a `database:` section, the migration status and what the database is busy with. */
export const dbModule = defineModule({
  name: 'db',
  nav: { label: 'Database', path: '/database', order: 36 },
  routes: [
    { path: '/database', component: DatabasePage },
    { path: '/database/:service', component: DatabasePage, key: (p) => p.service ?? '' },
  ],
  live: {
    events: DB_LIVE_EVENTS,
    onEvent(_event, live) {
      live.invalidate(dbKeys.migrations);
    },
  },
});

export { dbPath } from './api.ts';
