import { Suspense, lazy } from 'react';
import { useLiveUpdates } from './lib/live.ts';
import { Link, matchRoute, usePath } from './lib/router.tsx';
import { useMe } from './lib/session.ts';
import type { Me } from './lib/types.ts';
import { EmptyState, ErrorState, Spinner } from './components/Feedback.tsx';
import { Logo } from './components/Logo.tsx';
import { TopBar } from './components/TopBar.tsx';
import { Login } from './pages/Login.tsx';
import { Overview } from './pages/Overview.tsx';

// the service page carries the chart library; load it when first needed
const ServicePage = lazy(() => import('./pages/ServicePage.tsx'));
const AlertsPage = lazy(() => import('./pages/AlertsPage.tsx'));
const ErrorsPage = lazy(() => import('./pages/ErrorsPage.tsx'));
const IssuePage = lazy(() => import('./pages/IssuePage.tsx'));

function Splash() {
  return (
    <div className="splash" aria-busy="true">
      <Logo size={32} />
      <Spinner label="Loading Shipshape" />
    </div>
  );
}

function Routes() {
  const route = matchRoute(usePath());
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'service':
      return (
        <Suspense fallback={<Splash />}>
          <ServicePage key={route.name} name={route.name} />
        </Suspense>
      );
    case 'alerts':
      return (
        <Suspense fallback={<Splash />}>
          <AlertsPage tab={route.tab} />
        </Suspense>
      );
    case 'errors':
      return (
        <Suspense fallback={<Splash />}>
          <ErrorsPage />
        </Suspense>
      );
    case 'issue':
      return (
        <Suspense fallback={<Splash />}>
          <IssuePage key={route.id} id={route.id} />
        </Suspense>
      );
    default:
      return (
        <main className="page">
          <section className="card">
            <EmptyState title="Page not found">
              Nothing lives at <code>{route.path}</code>. <Link to="/">Go to the overview</Link>
            </EmptyState>
          </section>
        </main>
      );
  }
}

function Shell({ me }: { me: Me }) {
  return (
    <div className="shell">
      <a href="#content" className="skip">
        Skip to content
      </a>
      <TopBar me={me} />
      <div id="content">
        <Routes />
      </div>
    </div>
  );
}

export function App() {
  const me = useMe();
  useLiveUpdates(!!me.data);

  if (me.data) return <Shell me={me.data} />;
  if (me.data === null) return <Login />;
  if (me.isError) {
    return (
      <main className="login">
        <div className="login-card">
          <ErrorState error={me.error} onRetry={() => void me.refetch()} title="Could not reach Shipshape" />
        </div>
      </main>
    );
  }
  return <Splash />;
}
