import { useAlerts, useNotifyAlerts } from './api.ts';

/** How many alerts are firing right now, not counting silenced or inhibited ones (next to "Alerts" in the top bar). */
export function FiringBadge() {
  const q = useAlerts('firing');
  const notify = useNotifyAlerts();
  const muted = new Set((notify.data ?? []).filter((a) => a.suppressed).map((a) => a.fingerprint));
  const n = (q.data ?? []).filter((a) => !muted.has(a.fingerprint)).length;
  if (!n) return null;
  return (
    <span className="nav-badge" data-testid="nav-firing" aria-label={`${n} firing`}>
      {n}
    </span>
  );
}
