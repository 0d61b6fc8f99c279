import { Link } from '../shell/router.tsx';

/** Pages and maintenance windows: two views under "Status pages". */
export function StatusTabs({ tab }: { tab: 'pages' | 'maintenance' }) {
  return (
    <nav className="sp-tabs" aria-label="Status pages">
      <Link to="/status-pages" className="sp-tab" aria-current={tab === 'pages' ? 'page' : undefined}>
        Pages
      </Link>
      <Link to="/status-pages/maintenance" className="sp-tab" aria-current={tab === 'maintenance' ? 'page' : undefined} data-testid="tab-maintenance">
        Maintenance
      </Link>
    </nav>
  );
}
