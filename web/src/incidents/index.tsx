import { lazy } from 'react';
import { oncallKeys } from '../oncall/api.ts';
import { defineModule } from '../shell/module.ts';
import { incidentsKeys, useOpenIncidents } from './api.ts';

const IncidentsPage = lazy(() => import('./IncidentsPage.tsx'));
const IncidentPage = lazy(() => import('./IncidentPage.tsx'));

/** How many incidents nobody has acknowledged yet (next to "Incidents" in the top bar). */
function TriggeredBadge() {
  const q = useOpenIncidents();
  const n = (q.data ?? []).filter((i) => i.state === 'triggered').length;
  if (!n) return null;
  return (
    <span className="nav-badge" data-testid="nav-incidents" aria-label={`${n} not acknowledged`}>
      {n}
    </span>
  );
}

/** The incident.* events the screens follow (every state change of the incidents module writes one). */
export const INCIDENT_LIVE_EVENTS = [
  'incident.opened',
  'incident.acknowledged',
  'incident.mitigated',
  'incident.resolved',
  'incident.closed',
  'incident.declined',
  'incident.merged',
  'incident.joined',
  'incident.reopened',
  'incident.update',
  'incident.note',
  'incident.roles_changed',
  'incident.severity_changed',
  'incident.changed',
  'incident.alert_joined',
  'incident.breached',
  'incident.postmortem_updated',
] as const;

/** Incidents: the list (open first), an incident with its timeline and post-mortem, declaring one. */
export const incidentsModule = defineModule({
  name: 'incidents',
  nav: { label: 'Incidents', path: '/incidents', order: 15, badge: TriggeredBadge },
  routes: [
    { path: '/incidents', component: IncidentsPage },
    { path: '/incidents/:id((?:INC-)?\\d{1,15})', component: ({ params }) => <IncidentPage id={Number((params.id ?? '').replace(/^INC-/i, ''))} />, key: (p) => p.id ?? '' },
  ],
  live: {
    events: INCIDENT_LIVE_EVENTS,
    onEvent({ type, data }, live) {
      live.invalidate(incidentsKeys.all);
      const id = typeof data.id === 'number' ? data.id : null;
      if (id !== null) {
        live.invalidate(incidentsKeys.incident(id));
        // the merged-into incident's page changes too
        if (typeof data.into === 'number') live.invalidate(incidentsKeys.incident(data.into));
      }
      // escalations start and stop with incidents
      if (type === 'incident.opened' || type === 'incident.reopened' || type === 'incident.acknowledged' || type === 'incident.resolved' || type === 'incident.mitigated') live.invalidate(oncallKeys.escalations);
    },
  },
});

export { incidentPath, useOpenIncidents } from './api.ts';
