import { ago, dateTime } from '../shell/format.ts';
import { useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { servicePath, useDeployOverview } from './api.ts';
import { ReleaseLink, ShortSha } from './bits.tsx';
import './deploy.css';

/** On a service's page: what is live in each of its environments, when the service deploys through Shipshape. */
export function DeployPanel({ service }: { service: string }) {
  const q = useDeployOverview();
  const now = useNow(30_000);
  const envs = q.data?.services.find((s) => s.service === service)?.environments;
  if (!envs) return null;
  return (
    <section className="card" aria-labelledby="deploy-panel-title" data-testid="deploy-panel">
      <div className="card-head">
        <h2 id="deploy-panel-title" className="card-title">
          Deploys
        </h2>
        <Link to={servicePath(service)} className="btn btn-ghost btn-sm">
          Releases
        </Link>
      </div>
      <ul className="dep-panel">
        {envs.map((e) => (
          <li key={e.env}>
            <span className="tag">{e.env}</span>
            {e.live ? (
              <span>
                <ReleaseLink service={service} id={e.live.id} /> <span className="mono">{e.live.version}</span> <ShortSha sha={e.live.git_sha} />{' '}
                <span className="muted small" title={dateTime(e.live.live_at)}>
                  live {ago(e.live.live_at, now)}
                </span>
              </span>
            ) : (
              <span className="muted">nothing live</span>
            )}
            {e.lock && <span className="muted small">locked by {e.lock.owner}: {e.lock.reason}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

export default DeployPanel;
