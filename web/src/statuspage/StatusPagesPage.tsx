import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { servicePath } from '../checks/index.tsx';
import { incidentPath } from '../incidents/index.tsx';
import { ago, dateTime, pct, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { EmptyState, Skeleton } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { pageHref, statusApi, statusKeys } from './api.ts';
import { StatusTabs } from './StatusTabs.tsx';
import type { PageComponentStatus, PageIndicator, StatusPageOverview } from './types.ts';
import './statuspage.css';

export const COMPONENT_TEXT: Record<PageComponentStatus, string> = {
  operational: 'Operational',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  under_maintenance: 'Under maintenance',
};

const COMPONENT_TONE: Record<PageComponentStatus, string> = {
  operational: 'up',
  degraded_performance: 'degraded',
  partial_outage: 'degraded',
  major_outage: 'down',
  under_maintenance: 'maint',
};

const INDICATOR_TONE: Record<PageIndicator, string> = { none: 'up', minor: 'degraded', major: 'down', critical: 'down', maintenance: 'maint' };

const IMPACT_TEXT = { none: 'No impact', minor: 'Minor', major: 'Major', critical: 'Critical' } as const;

export function ComponentPill({ status, testId }: { status: PageComponentStatus; testId?: string }) {
  return (
    <span className={`pill pill-sm sp-pill-${COMPONENT_TONE[status]}`}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{COMPONENT_TEXT[status]}</span>
    </span>
  );
}

function ExternalIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M9 3h4v4M13 3L7 9M11 9.5V13H3V5h3.5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

function PageCard({ p, now }: { p: StatusPageOverview; now: number }) {
  const [preview, setPreview] = useState(false);
  const href = pageHref(p);
  const groups = new Set(p.components.map((c) => c.group).filter(Boolean));
  return (
    <section className="card sp-card" aria-labelledby={`sp-${p.key}`} data-testid={`status-page-${p.key}`}>
      <div className={`sp-banner sp-banner-${INDICATOR_TONE[p.indicator]}`}>
        <div className="sp-banner-main">
          <h2 id={`sp-${p.key}`} className="sp-title">
            {p.title}
          </h2>
          <div className="sp-where">
            <code>{p.path}</code>
            {p.host && (
              <>
                {' '}
                and <code>{p.host}</code>
              </>
            )}
            <span className={`tag ${p.private ? 'sp-private' : ''}`}>{p.private ? 'Internal · needs login' : 'Public'}</span>
          </div>
        </div>
        <div className="sp-indicator" data-testid={`status-page-indicator-${p.key}`}>
          <span className="sp-indicator-dot" aria-hidden="true" />
          {p.indicator_text}
        </div>
      </div>
      <div className="sp-links">
        <a href={href} target="_blank" rel="noreferrer noopener" className="btn btn-secondary btn-sm" data-testid={`status-page-link-${p.key}`}>
          Open {p.private ? 'page' : 'public page'} <ExternalIcon />
        </a>
        {p.host && (
          <a href={`//${p.host}/`} target="_blank" rel="noreferrer noopener" className="btn btn-ghost btn-sm">
            {p.host} <ExternalIcon />
          </a>
        )}
        <button type="button" className="btn btn-ghost btn-sm" aria-expanded={preview} onClick={() => setPreview((v) => !v)} data-testid={`status-page-preview-${p.key}`}>
          {preview ? 'Hide preview' : 'Preview'}
        </button>
        <span className="sp-links-sep" aria-hidden="true" />
        <a href={`${href}/history.rss`} target="_blank" rel="noreferrer noopener" className="sp-minor-link">
          RSS
        </a>
        <a href={`${href}/history.atom`} target="_blank" rel="noreferrer noopener" className="sp-minor-link">
          Atom
        </a>
        <a href={`${href}/api/v2/summary.json`} target="_blank" rel="noreferrer noopener" className="sp-minor-link">
          Statuspage API
        </a>
      </div>
      {preview && (
        <div className="sp-preview">
          <iframe src={href} title={`Preview of ${p.title}`} loading="lazy" />
        </div>
      )}

      {p.active.length > 0 && (
        <div className="sp-incidents">
          <h3 className="sp-h3">Open incidents on this page</h3>
          <ul>
            {p.active.map((i) => {
              const last = i.updates[0];
              return (
                <li key={i.id} className={`sp-inc sp-inc-${i.impact}`}>
                  <div className="sp-inc-head">
                    <Link to={incidentPath(i.id)} className="sp-inc-name">
                      <span className="mono muted">{i.ref}</span> {i.name}
                    </Link>
                    <span className="sp-inc-status">{i.status}</span>
                    <span className="muted small">
                      {IMPACT_TEXT[i.impact]} impact · {ago(i.created_at, now)}
                    </span>
                  </div>
                  {last ? (
                    <p className="sp-inc-update">
                      <strong>{last.status}</strong> — {last.body} <span className="muted small">· {ago(last.at, now)}</span>
                    </p>
                  ) : (
                    <p className="sp-inc-update muted">No public update yet: visitors see “Investigating”.</p>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      )}

      <div className="table-wrap">
        <table className="table sp-table">
          <thead>
            <tr>
              <th scope="col">Component</th>
              {groups.size > 0 && <th scope="col">Group</th>}
              <th scope="col">Shown as</th>
              <th scope="col">Checks</th>
              <th scope="col" className="num">
                Uptime 90d
              </th>
            </tr>
          </thead>
          <tbody>
            {p.components.map((c) => (
              <tr key={c.id} data-testid={`component-${p.key}-${c.id}`}>
                <td>
                  <div className="check-name">{c.name}</div>
                  {c.name !== c.service && (
                    <Link to={servicePath(c.service)} className="muted small">
                      {c.service}
                    </Link>
                  )}
                </td>
                {groups.size > 0 && <td className="muted">{c.group ?? '—'}</td>}
                <td>
                  <span className="sp-shown">
                    <ComponentPill status={c.status} />
                    {c.pinned && (
                      <span className="sp-pin" title="Pinned by hand in shipshape.yaml: shown whatever the checks say">
                        <svg width="11" height="11" viewBox="0 0 16 16" aria-hidden="true">
                          <path d="M6 2h4l-.5 4 2.5 2v1H4V8l2.5-2zM8 9v5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
                        </svg>
                        Pinned
                      </span>
                    )}
                  </span>
                </td>
                <td>
                  <span className={`text-${c.state === 'up' || c.state === 'down' || c.state === 'degraded' ? c.state : 'unknown'}`}>{c.state === 'unknown' ? 'No data' : c.state[0]!.toUpperCase() + c.state.slice(1)}</span>
                  {c.since && <div className="muted small" title={dateTime(c.since)}>since {ago(c.since, now)}</div>}
                </td>
                <td className="num">{pct(c.uptime90, 3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function StatusPagesPage() {
  const now = useNow(15_000);
  useDocumentTitle('Status pages · Shipshape');
  const q = useQuery({ queryKey: statusKeys.pages, queryFn: async ({ signal }) => (await statusApi.pages(signal)).items, refetchInterval: 30_000 });
  const down = (q.data ?? []).filter((p) => p.indicator !== 'none').length;
  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Status pages</h1>
          </div>
          <p className="svc-page-sub muted">
            {q.data ? (
              <>
                {plural(q.data.length, 'page')} · {plural(q.data.reduce((n, p) => n + p.components.length, 0), 'component')}
                {down > 0 && <span className="text-down"> · {plural(down, 'page')} not all green</span>}
              </>
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
      </header>
      <StatusTabs tab="pages" />
      <QueryState query={q} errorTitle="Could not load the status pages" isEmpty={(d) => d.length === 0} empty={<EmptyState title="No status pages" />}>
        {(list) => (
          <>
            {list.map((p) => (
              <PageCard key={p.key} p={p} now={now} />
            ))}
            {list.length === 1 && list[0]!.key === 'default' && (
              <p className="muted small sp-hint">
                This is the default page: every service, at <code>/status</code>. Add <code>status_pages:</code> to <code>shipshape.yaml</code> for titles, groups, pins, internal pages and host names.
              </p>
            )}
          </>
        )}
      </QueryState>
    </main>
  );
}

export default StatusPagesPage;
