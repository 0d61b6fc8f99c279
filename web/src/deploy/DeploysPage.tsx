import { plural } from '../shell/format.ts';
import { useDocumentTitle } from '../shell/hooks.ts';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Skeleton } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { useDeployOverview } from './api.ts';
import { ServiceStatus } from './ServiceStatus.tsx';
import './deploy.css';

const EXAMPLE = `services:
  web:
    deploy:
      build: "npm ci && npm run build"
      start: "node server.js"
      health: { path: /api/health, timeout: 60s }
      environments:
        staging: { proxy: { port: 8081 } }
        production: { proxy: { port: 8080 }, watch: 10m }`;

/** Every deploying service: what is live, warm and locked in each environment, with the actions. */
export function DeploysPage() {
  const me = useMe();
  const writable = canWrite(me.data);
  const q = useDeployOverview();
  useDocumentTitle('Deploys · Shipshape');
  const services = q.data?.services ?? [];
  const envs = services.flatMap((s) => s.environments);
  const live = envs.filter((e) => e.live).length;
  const locked = envs.filter((e) => e.lock && e.lock.release_id === null).length;
  const deploying = envs.filter((e) => e.lock && e.lock.release_id !== null).length;
  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Deploys</h1>
          </div>
          <p className="svc-page-sub muted" data-testid="deploys-summary">
            {q.data ? (
              <>
                {plural(services.length, 'service')} · {live} of {plural(envs.length, 'environment')} live
                {deploying > 0 && <span className="text-degraded"> · {deploying} deploying</span>}
                {locked > 0 && <span className="text-degraded"> · {locked} locked</span>}
              </>
            ) : q.isError ? (
              'Releases per service and environment'
            ) : (
              <Skeleton w={220} h={12} />
            )}
          </p>
        </div>
      </header>
      <QueryState
        query={q}
        errorTitle="Could not load deploys"
        notFound={<EmptyState title="Deploys are not available">This server has no deploy module.</EmptyState>}
        isEmpty={(d) => d.services.length === 0}
        empty={
          <section className="card">
            <EmptyState title="Nothing deploys yet">
              Give a service a <code>deploy:</code> section in <code>shipshape.yaml</code>, then deploy it here or with <code>shipshape deploy web</code>:
              <pre className="snippet">{EXAMPLE}</pre>
            </EmptyState>
          </section>
        }
      >
        {(d) => (
          <>
            {d.services.map((s) => (
              <ServiceStatus key={s.service} service={s.service} envs={s.environments} writable={writable} />
            ))}
          </>
        )}
      </QueryState>
    </main>
  );
}

export default DeploysPage;
