import { useMemo, useState } from 'react';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { servicesQuery } from '../checks/index.tsx';
import { ago, compact, dateTime, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { EmptyState, LoadMore, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { errorsApi, errorsKeys, issuePath } from './api.ts';
import { IssueTitle, LevelBadge, isRegressed, levelTone } from './IssueBits.tsx';
import type { IssueStatus, IssueSummary } from './types.ts';
import './errors.css';

const STATUSES: readonly { key: IssueStatus; label: string }[] = [
  { key: 'unresolved', label: 'Unresolved' },
  { key: 'resolved', label: 'Resolved' },
  { key: 'ignored', label: 'Ignored' },
];

function IssueRow({ issue: i, now }: { issue: IssueSummary; now: number }) {
  const regressed = isRegressed(i);
  return (
    <li>
      <Link to={issuePath(i.id)} className={`issue issue-${levelTone(i.level)}`} data-testid={`issue-${i.id}`}>
        <div className="issue-main">
          <div className="issue-title">
            <IssueTitle issue={i} />
          </div>
          {i.culprit && <div className="issue-culprit">{i.culprit}</div>}
          <div className="issue-meta">
            <LevelBadge level={i.level} />
            {regressed && <span className="badge badge-regressed">Regressed</span>}
            {i.service && <span className="tag">{i.service}</span>}
            {i.last_release && <span className="mono small muted" title="Release of the latest event">{i.last_release}</span>}
            <span className="muted small" title={dateTime(i.first_seen)}>
              first seen {ago(i.first_seen, now)}
            </span>
          </div>
        </div>
        <div className="issue-seen num" title={`Last seen ${dateTime(i.last_seen)}`}>
          <time dateTime={i.last_seen}>{ago(i.last_seen, now)}</time>
        </div>
        <div className="issue-count num" aria-label={plural(i.count, 'event')}>
          {compact(i.count)}
        </div>
      </Link>
    </li>
  );
}

export function ErrorsPage() {
  const now = useNow(10_000);
  const [status, setStatus] = useState<IssueStatus>('unresolved');
  const [service, setService] = useState('');
  const [filter, setFilter] = useState('');
  const services = useQuery(servicesQuery(60_000));
  const q = useInfiniteQuery({
    queryKey: [...errorsKeys.issues, status, service],
    queryFn: ({ pageParam, signal }) => errorsApi.issues({ status, service: service || undefined, cursor: pageParam }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: 30_000,
  });
  useDocumentTitle('Errors · Shipshape');

  const items = useMemo(() => q.data?.pages.flatMap((p) => p.items) ?? [], [q.data]);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? items.filter((i) => i.title.toLowerCase().includes(f) || i.culprit.toLowerCase().includes(f)) : items;
  }, [items, filter]);
  const events = items.reduce((n, i) => n + i.count, 0);

  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Errors</h1>
          </div>
          <p className="svc-page-sub muted">
            {q.data ? (
              `${plural(items.length, `${status} issue`)}${q.hasNextPage ? '+' : ''} · ${compact(events)} events`
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
      </header>

      <section className="card" aria-labelledby="issues-title">
        <div className="card-head">
          <h2 id="issues-title" className="visually-hidden">
            Issues
          </h2>
          <div className="segmented" role="group" aria-label="Status">
            {STATUSES.map((s) => (
              <button key={s.key} type="button" aria-pressed={status === s.key} onClick={() => setStatus(s.key)} data-testid={`status-${s.key}`}>
                {s.label}
              </button>
            ))}
          </div>
          <div className="toolbar">
            {q.isFetching && q.data && <Spinner label="Refreshing" />}
            <label>
              <span className="visually-hidden">Service</span>
              <select className="select" value={service} onChange={(e) => setService(e.target.value)}>
                <option value="">All services</option>
                {(services.data ?? []).map((s) => (
                  <option key={s.name} value={s.name}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
            <input type="search" className="input input-sm" placeholder="Filter issues" aria-label="Filter issues" value={filter} onChange={(e) => setFilter(e.target.value)} />
          </div>
        </div>
        <QueryState
          query={q}
          errorTitle="Could not load issues"
          loading={
            <div className="pad">
              <Skeleton h={16} />
              <Skeleton h={12} w="50%" />
              <Skeleton h={16} />
              <Skeleton h={12} w="40%" />
            </div>
          }
          isEmpty={() => items.length === 0}
          empty={
            status === 'unresolved' ? (
              <EmptyState
                title={service ? `No unresolved errors in ${service}` : 'No unresolved errors'}
                icon={
                  <svg viewBox="0 0 24 24" width="22" height="22">
                    <path d="M6 12.5l4 4L18 8" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
                  </svg>
                }
              >
                Errors from the official Sentry SDKs land here, grouped into issues. Point an SDK at Shipshape with an ingest token as the
                DSN key, and claim the project for a service in <code>shipshape.yaml</code>:
                <pre className="snippet">{`Sentry.init({ dsn: '${window.location.protocol}//<ingest token>@${window.location.host}/1' });

services:
  ${service || 'web'}:
    sentry: { project: 1 }`}</pre>
              </EmptyState>
            ) : (
              <EmptyState title={`No ${status} issues`}>{status === 'resolved' ? 'Issues you resolve move here; they come back as regressions if they happen again in a newer release.' : 'Ignored issues stay here and do not count as unresolved.'}</EmptyState>
            )
          }
        >
          {() =>
            shown.length === 0 ? (
              <EmptyState title="No matching issues">Nothing matches “{filter}”.</EmptyState>
            ) : (
              <>
                <div className="issue-columns" aria-hidden="true">
                  <span>Issue</span>
                  <span>Last seen</span>
                  <span>Events</span>
                </div>
                <ul className="issues">
                  {shown.map((i) => (
                    <IssueRow key={i.id} issue={i} now={now} />
                  ))}
                </ul>
                <LoadMore q={q} label="Load more issues" />
              </>
            )
          }
        </QueryState>
      </section>
    </main>
  );
}

export default ErrorsPage;
