import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api.ts';
import { ago } from '../lib/format.ts';
import { useNow } from '../lib/hooks.ts';
import { useLiveStatus } from '../lib/live.ts';
import { useAlerts, useNotifyAlerts } from '../lib/queries.ts';
import { Link, usePath } from '../lib/router.tsx';
import type { Me } from '../lib/types.ts';
import { Logo } from './Logo.tsx';

function LiveIndicator() {
  const { status, lastEventAt } = useLiveStatus();
  const now = useNow(5_000);
  const label = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting' : status === 'reconnecting' ? 'Reconnecting' : 'Offline';
  const title =
    status === 'live'
      ? `Receiving live updates${lastEventAt ? ` · last event ${ago(new Date(lastEventAt).toISOString(), now)}` : ''}`
      : status === 'reconnecting'
        ? 'Lost the live connection; reconnecting. Data refreshes every 30 seconds meanwhile.'
        : 'Live updates are not connected';
  return (
    <span className={`live live-${status}`} title={title} role="status" aria-live="polite" data-testid="live">
      <span className="live-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

/** How many alerts are firing right now, not counting silenced or inhibited ones. */
function FiringBadge() {
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

export function TopBar({ me }: { me: Me }) {
  const qc = useQueryClient();
  const path = usePath();
  const logout = useMutation({
    mutationFn: api.logout,
    onSettled: () => {
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
      qc.setQueryData(['me'], null);
    },
  });
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <Link to="/" className="brand" aria-label="Shipshape overview">
          <Logo size={22} />
          <span className="brand-name">Shipshape</span>
        </Link>
        <nav className="nav" aria-label="Main">
          <Link to="/" className="nav-link" aria-current={path === '/' || path.startsWith('/services/') ? 'page' : undefined}>
            Overview
          </Link>
          <Link to="/alerts" className="nav-link" aria-current={path === '/alerts' || path.startsWith('/alerts/') ? 'page' : undefined}>
            Alerts
            <FiringBadge />
          </Link>
          <Link to="/errors" className="nav-link" aria-current={path === '/errors' || path.startsWith('/errors/') ? 'page' : undefined}>
            Errors
          </Link>
        </nav>
        <div className="topbar-right">
          <LiveIndicator />
          <span className="whoami" title={`Signed in with token “${me.token}” (${me.scopes.join(', ')})`}>
            <span className="whoami-avatar" aria-hidden="true">
              {me.token.slice(0, 1).toUpperCase()}
            </span>
            <span className="whoami-name">{me.token}</span>
          </span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Sign out
          </button>
        </div>
      </div>
    </header>
  );
}
