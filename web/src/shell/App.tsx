import { Suspense } from 'react';
import { modules } from '../modules.ts';
import { useLiveUpdates } from './live.ts';
import { Login } from './Login.tsx';
import { findRoute, Link, usePath } from './router.tsx';
import { useMe } from './session.ts';
import { TopBar } from './TopBar.tsx';
import type { Me } from './types.ts';
import { EmptyState, ErrorState, Spinner } from './ui/Feedback.tsx';
import { Logo } from './ui/Logo.tsx';
import './shell.css';

/** Every domain's pages, in module order. */
const ROUTES = modules.flatMap((m) => m.routes ?? []);

function Splash() {
  return (
    <div className="splash" aria-busy="true">
      <Logo size={32} />
      <Spinner label="Loading Shipshape" />
    </div>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <main className="page">
      <section className="card">
        <EmptyState title="Page not found">
          Nothing lives at <code>{path}</code>. <Link to="/">Go to the overview</Link>
        </EmptyState>
      </section>
    </main>
  );
}

function Routes() {
  const path = usePath();
  const found = findRoute(ROUTES, path);
  if (!found) return <NotFound path={path} />;
  const { route, params } = found;
  const Page = route.component;
  return (
    <Suspense key={route.key?.(params) ?? route.path} fallback={<Splash />}>
      <Page params={params} />
    </Suspense>
  );
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
  useLiveUpdates(!!me.data, modules);

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
