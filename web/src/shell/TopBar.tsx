import { useMutation, useQueryClient } from '@tanstack/react-query';
import { modules } from '../modules.ts';
import { ago } from './format.ts';
import { useNow } from './hooks.ts';
import { useLiveStatus } from './live.ts';
import type { NavItem } from './module.ts';
import { Link, usePath } from './router.tsx';
import { ME_KEY, sessionApi } from './session.ts';
import type { Me } from './types.ts';
import { Logo } from './ui/Logo.tsx';

/** The top bar's links, from the modules that have one. */
const NAV: NavItem[] = modules.flatMap((m) => (m.nav ? [m.nav] : [])).sort((a, b) => a.order - b.order);

const isActive = (item: NavItem, path: string) => (item.active ? item.active(path) : path === item.path || path.startsWith(`${item.path}/`));

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

export function TopBar({ me }: { me: Me }) {
  const qc = useQueryClient();
  const path = usePath();
  const logout = useMutation({
    mutationFn: sessionApi.logout,
    onSettled: () => {
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
      qc.setQueryData(ME_KEY, null);
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
          {NAV.map((item) => (
            <Link key={item.path} to={item.path} className="nav-link" aria-current={isActive(item, path) ? 'page' : undefined}>
              {item.label}
              {item.badge && <item.badge />}
            </Link>
          ))}
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
