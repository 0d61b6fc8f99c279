import { useState } from 'react';
import { isNotFound } from '../shell/api.ts';
import { dateTime, since } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { deployPath, useReleases, useServiceDeploys } from './api.ts';
import { actorName, authorName, canaryText, ReleaseLink, ReleaseStatePill, ShortSha } from './bits.tsx';
import { ServiceStatus } from './ServiceStatus.tsx';
import type { ReleaseView } from './types.ts';
import './deploy.css';

const PAGE = 50;

/** One release as a row of the table (like `vercel ls`: id, version, git sha, author, env, state, age). */
function ReleaseRow({ service, r, now }: { service: string; r: ReleaseView; now: number }) {
  const canary = canaryText(r.canary);
  return (
    <tr data-testid={`release-row-${r.id}`}>
      <td>
        <ReleaseLink service={service} id={r.id} testId={`release-link-${r.id}`} />
      </td>
      <td className="mono">{r.version}</td>
      <td>
        <ShortSha sha={r.git_sha} />
        <div className="muted small dep-commit" title={r.commit_message}>
          {r.commit_message}
        </div>
      </td>
      <td title={r.author}>{authorName(r.author)}</td>
      <td>
        <span className="tag">{r.env}</span>
        {r.promoted_from !== null && <div className="muted small">from #{r.promoted_from}</div>}
      </td>
      <td>
        <ReleaseStatePill state={r.state} testId={`release-state-${r.id}`} />
        {canary && <div className="muted small">canary · {canary}</div>}
      </td>
      <td className="num" title={`${dateTime(r.created_at)} by ${r.actor}`}>
        {since(r.created_at, now)}
        <div className="muted small">{actorName(r.actor)}</div>
      </td>
    </tr>
  );
}

/** A service's environments and its releases, newest first. */
export function ServiceDeploysPage({ service }: { service: string }) {
  const me = useMe();
  const writable = canWrite(me.data);
  const now = useNow(10_000);
  const [env, setEnv] = useState('');
  const [limit, setLimit] = useState(PAGE);
  const status = useServiceDeploys(service);
  const releases = useReleases(service, env, limit);
  useDocumentTitle(`${service} · Deploys · Shipshape`);
  const envs = status.data?.environments ?? [];
  const items = releases.data ?? [];
  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={deployPath()}>Deploys</Link>
        <span className="crumb-sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page">{service}</span>
      </nav>
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>{service}</h1>
          </div>
          <p className="svc-page-sub muted">
            {status.data ? envs.map((e) => `${e.env}: ${e.live ? e.live.version : 'nothing live'}`).join(' · ') : status.isError ? 'Releases' : <Skeleton w={220} h={12} />}
          </p>
        </div>
      </header>
      <QueryState
        query={status}
        errorTitle={`Could not load ${service}`}
        notFound={
          <section className="card">
            <EmptyState title={`No service "${service}"`}>
              It is not in shipshape.yaml. <Link to={deployPath()}>All deploys</Link>
            </EmptyState>
          </section>
        }
      >
        {(d) => <ServiceStatus service={service} envs={d.environments} writable={writable} title={false} />}
      </QueryState>
      {!(status.isError && isNotFound(status.error)) && (
        <section className="card" aria-labelledby="releases-title">
          <div className="card-head">
            <h2 id="releases-title" className="card-title">
              Releases
            </h2>
            <div className="toolbar">
              {releases.isFetching && releases.data && <Spinner label="Refreshing" />}
              <label>
                <span className="visually-hidden">Environment</span>
                <select className="select" value={env} onChange={(e) => setEnv(e.target.value)} data-testid="filter-env">
                  <option value="">All environments</option>
                  {envs.map((e) => (
                    <option key={e.env} value={e.env}>
                      {e.env}
                    </option>
                  ))}
                </select>
              </label>
            </div>
          </div>
          <QueryState query={releases} errorTitle="Could not load releases" isEmpty={(d) => d.length === 0} empty={<EmptyState title={env ? `No releases in ${env} yet` : 'No releases yet'}>Deploy one with the button above or <code>shipshape deploy {service}</code>.</EmptyState>}>
            {() => (
              <>
                <div className="table-wrap">
                  <table className="table dep-table" data-testid="releases-table">
                    <thead>
                      <tr>
                        <th scope="col">Release</th>
                        <th scope="col">Version</th>
                        <th scope="col">Git SHA</th>
                        <th scope="col">Author</th>
                        <th scope="col">Env</th>
                        <th scope="col">State</th>
                        <th scope="col" className="num">
                          Age
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {items.map((r) => (
                        <ReleaseRow key={r.id} service={service} r={r} now={now} />
                      ))}
                    </tbody>
                  </table>
                </div>
                {items.length >= limit && limit < 500 && (
                  <div className="card-foot">
                    <button type="button" className="btn btn-ghost btn-sm" onClick={() => setLimit((l) => Math.min(500, l * 4))} disabled={releases.isFetching}>
                      {releases.isFetching ? 'Loading…' : 'Show older releases'}
                    </button>
                  </div>
                )}
              </>
            )}
          </QueryState>
        </section>
      )}
    </main>
  );
}

export default ServiceDeploysPage;
