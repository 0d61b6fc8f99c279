import { useState } from 'react';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { servicePath } from '../checks/index.tsx';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, compact, dateTime, time } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, LoadMore, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { errorsApi, errorsKeys } from './api.ts';
import { IssueTitle, LevelBadge, isRegressed } from './IssueBits.tsx';
import { ExceptionView } from './StackTrace.tsx';
import type { Breadcrumb, IssueDetail, IssueEvent, IssueStatus, IssueSummary } from './types.ts';
import './errors.css';

const STATUS_LABEL: Record<IssueStatus, string> = { unresolved: 'Unresolved', resolved: 'Resolved', ignored: 'Ignored' };
const STATUS_TONE: Record<IssueStatus, string> = { unresolved: 'down', resolved: 'up', ignored: 'unknown' };

function Crumbs({ id }: { id: number }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <Link to="/errors">Errors</Link>
      <span aria-hidden="true" className="crumb-sep">
        /
      </span>
      <span aria-current="page">Issue #{id}</span>
    </nav>
  );
}

function StatusActions({ issue, writable }: { issue: IssueSummary; writable: boolean }) {
  const qc = useQueryClient();
  const [note, setNote] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: (status: IssueStatus) => errorsApi.setIssueStatus(issue.id, status),
    onMutate: () => setNote(null),
    onSuccess: (s) => {
      qc.setQueryData(errorsKeys.issue(issue.id), (old: IssueDetail | undefined) => (old ? { ...old, ...s } : old));
      void qc.invalidateQueries({ queryKey: errorsKeys.issues });
    },
    onError: (err) => setNote(err instanceof ApiError && err.status === 403 ? 'Needs a token with write scope' : errorMessage(err)),
  });
  const title = writable ? undefined : 'Your token has read scope only';
  const busy = (s: IssueStatus) => m.isPending && m.variables === s;
  return (
    <div className="run">
      {note && (
        <span className="run-result text-down" role="status">
          {note}
        </span>
      )}
      {issue.status === 'unresolved' ? (
        <>
          <button type="button" className="btn btn-secondary" disabled={!writable || m.isPending} title={title ?? 'Hide it from the unresolved list; new events do not bring it back'} onClick={() => m.mutate('ignored')}>
            {busy('ignored') ? <Spinner label="Ignoring" /> : null}
            Ignore
          </button>
          <button type="button" className="btn btn-primary" disabled={!writable || m.isPending} title={title ?? 'Mark fixed; it comes back as a regression if it happens again in a newer release'} onClick={() => m.mutate('resolved')} data-testid="resolve">
            {busy('resolved') ? (
              <Spinner label="Resolving" />
            ) : (
              <svg width="13" height="13" viewBox="0 0 16 16" aria-hidden="true">
                <path d="M3.5 8.5l3 3 6-7" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
              </svg>
            )}
            Resolve
          </button>
        </>
      ) : (
        <button type="button" className="btn btn-secondary" disabled={!writable || m.isPending} title={title ?? 'Move it back to the unresolved list'} onClick={() => m.mutate('unresolved')} data-testid="reopen">
          {busy('unresolved') ? <Spinner label="Reopening" /> : null}
          Reopen
        </button>
      )}
    </div>
  );
}

function Breadcrumbs({ list }: { list: Breadcrumb[] }) {
  const [all, setAll] = useState(false);
  if (list.length === 0) return <EmptyState title="No breadcrumbs">The SDK sent no trail of what happened before this event.</EmptyState>;
  const shown = all ? list : list.slice(-12);
  return (
    <>
      {list.length > shown.length && (
        <div className="card-foot card-foot-top">
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setAll(true)}>
            Show all {list.length}
          </button>
        </div>
      )}
      <ol className="crumbs-list">
        {shown.map((b, i) => {
          const data = b.data && Object.keys(b.data).length ? Object.entries(b.data).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ') : null;
          return (
            <li key={i} className={`crumb crumb-${b.level === 'error' || b.level === 'fatal' ? 'down' : b.level === 'warning' ? 'degraded' : 'plain'}`}>
              <span className="crumb-cat">{b.category ?? b.type ?? 'default'}</span>
              <span className="crumb-msg">
                {b.message ?? ''}
                {data && <span className="crumb-data">{data}</span>}
              </span>
              <span className="crumb-time num">{b.timestamp ? time(b.timestamp) : ''}</span>
            </li>
          );
        })}
      </ol>
    </>
  );
}

function KeyValues({ entries }: { entries: [string, string][] }) {
  return (
    <dl className="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd title={v}>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function flat(obj: Record<string, unknown> | null | undefined, prefix = ''): [string, string][] {
  if (!obj) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'object' && !Array.isArray(v) && prefix === '') out.push(...flat(v as Record<string, unknown>, `${k}.`));
    else out.push([`${prefix}${k}`, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return out;
}

function EventDetail({ ev, now }: { ev: IssueEvent; now: number }) {
  const exceptions = ev.exceptions;
  const context: [string, string][] = [
    ['Event', ev.id],
    ['Received', `${dateTime(ev.received_at)} (${ago(ev.received_at, now)})`],
    ...(ev.release ? ([['Release', ev.release]] as [string, string][]) : []),
    ...(ev.environment ? ([['Environment', ev.environment]] as [string, string][]) : []),
    ...(ev.transaction ? ([['Transaction', ev.transaction]] as [string, string][]) : []),
    ...(ev.server_name ? ([['Server', ev.server_name]] as [string, string][]) : []),
    ...(ev.platform ? ([['Platform', ev.platform]] as [string, string][]) : []),
    ...(ev.sdk?.name ? ([['SDK', `${ev.sdk.name} ${ev.sdk.version ?? ''}`.trim()]] as [string, string][]) : []),
  ];
  const request = flat(ev.request);
  const user = flat(ev.user);
  const tags = Object.entries(ev.tags ?? {});
  return (
    <div className="issue-grid">
      <div className="issue-col">
        <section className="card" aria-labelledby="trace-title">
          <div className="card-head">
            <h2 id="trace-title" className="card-title">
              {exceptions.length ? 'Exception' : 'Message'}
            </h2>
            <span className="muted small">most recent call first</span>
          </div>
          <div className="pad">
            {exceptions.length === 0 ? (
              <p className="exception-value">{ev.message ?? 'No message'}</p>
            ) : (
              [...exceptions].reverse().map((ex, i) => <ExceptionView key={i} ex={ex} chained={i > 0} />)
            )}
            {exceptions.length > 0 && ev.message && <p className="muted small">Message: {ev.message}</p>}
          </div>
        </section>
        <section className="card" aria-labelledby="crumbs-title">
          <div className="card-head">
            <h2 id="crumbs-title" className="card-title">
              Breadcrumbs <span className="card-title-sub">· what happened before</span>
            </h2>
          </div>
          <Breadcrumbs list={ev.breadcrumbs ?? []} />
        </section>
      </div>
      <aside className="issue-col">
        <section className="card" aria-labelledby="tags-title">
          <div className="card-head">
            <h2 id="tags-title" className="card-title">
              Tags
            </h2>
          </div>
          {tags.length === 0 ? (
            <div className="pad muted small">No tags on this event.</div>
          ) : (
            <ul className="labels tag-list">
              {tags.map(([k, v]) => (
                <li key={k} className="label-chip">
                  <span className="label-k">{k}</span>
                  <span className="label-v">{v}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="card" aria-labelledby="context-title">
          <div className="card-head">
            <h2 id="context-title" className="card-title">
              Context
            </h2>
          </div>
          <KeyValues entries={context} />
          {request.length > 0 && (
            <>
              <h3 className="kv-title">Request</h3>
              <KeyValues entries={request} />
            </>
          )}
          {user.length > 0 && (
            <>
              <h3 className="kv-title">User</h3>
              <KeyValues entries={user} />
            </>
          )}
        </section>
      </aside>
    </div>
  );
}

function EventsCard({ id, selected, onSelect, now }: { id: number; selected: string | null; onSelect: (e: IssueEvent) => void; now: number }) {
  const q = useInfiniteQuery({
    queryKey: errorsKeys.issueEvents(id),
    queryFn: ({ pageParam, signal }) => errorsApi.issueEvents(id, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="card" aria-labelledby="events-title">
      <div className="card-head">
        <h2 id="events-title" className="card-title">
          Events <span className="card-title-sub">· the latest kept, with full stack traces</span>
        </h2>
      </div>
      <QueryState query={q} errorTitle="Could not load events" isEmpty={() => items.length === 0} empty={<EmptyState title="No events kept" />}>
        {() => (
          <>
            <div className="table-wrap">
              <table className="table events-table">
                <thead>
                  <tr>
                    <th scope="col">Received</th>
                    <th scope="col">Event</th>
                    <th scope="col">Release</th>
                    <th scope="col">Environment</th>
                    <th scope="col">Message</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((e) => (
                    <tr key={e.id} className={e.id === selected ? 'row-selected' : undefined}>
                      <td className="nowrap">
                        <button type="button" className="linkish event-pick" onClick={() => onSelect(e)} aria-pressed={e.id === selected} title="Show this event above">
                          {dateTime(e.received_at)}
                        </button>
                        <div className="muted small">{ago(e.received_at, now)}</div>
                      </td>
                      <td className="mono small">{e.id.slice(0, 12)}</td>
                      <td className="mono small">{e.release ?? '—'}</td>
                      <td>{e.environment ?? '—'}</td>
                      <td className="td-reason small">{e.exceptions[e.exceptions.length - 1]?.value ?? e.message ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <LoadMore q={q} label="Older events" />
          </>
        )}
      </QueryState>
    </section>
  );
}

export function IssuePage({ id }: { id: number }) {
  const now = useNow(10_000);
  const me = useMe();
  const q = useQuery({ queryKey: errorsKeys.issue(id), queryFn: ({ signal }) => errorsApi.issue(id, signal), refetchInterval: 30_000 });
  const [picked, setPicked] = useState<IssueEvent | null>(null);
  const i = q.data;
  useDocumentTitle(i ? `${i.title} · Errors · Shipshape` : `Issue #${id} · Shipshape`);

  if (q.isError && !i) {
    return (
      <main className="page">
        <Crumbs id={id} />
        <QueryState
          query={q}
          errorTitle="Could not load this issue"
          notFound={
            <section className="card">
              <EmptyState title={`No issue #${id}`}>
                It may have been deleted with its project. <Link to="/errors">Back to errors</Link>
              </EmptyState>
            </section>
          }
        >
          {() => null}
        </QueryState>
      </main>
    );
  }

  const ev = picked ?? i?.latest_event ?? null;

  return (
    <main className="page">
      <Crumbs id={id} />
      <header className="svc-page-head issue-head">
        <div className="issue-head-main">
          <div className="issue-badges">
            {i ? (
              <>
                <LevelBadge level={i.level} />
                <span className={`pill pill-sm pill-${STATUS_TONE[i.status]}`}>
                  <span className="pill-dot" aria-hidden="true" />
                  <span data-testid="issue-status">{STATUS_LABEL[i.status]}</span>
                </span>
                {isRegressed(i) && <span className="badge badge-regressed">Regressed</span>}
                {i.service && (
                  <Link to={servicePath(i.service)} className="tag">
                    {i.service}
                  </Link>
                )}
              </>
            ) : (
              <Skeleton w={120} h={20} />
            )}
          </div>
          <h1 className="issue-h1">{i ? <IssueTitle issue={i} /> : <Skeleton w={360} h={24} />}</h1>
          {i?.culprit && <p className="issue-culprit">{i.culprit}</p>}
        </div>
        {i && <StatusActions issue={i} writable={canWrite(me.data)} />}
      </header>

      <section className="stats" aria-label="Issue">
        <div className="stat">
          <div className="stat-label">Events</div>
          <div className="stat-value num" data-testid="issue-count">
            {i ? compact(i.count) : <Skeleton w={60} h={22} />}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">First seen</div>
          <div className="stat-value stat-value-sm">{i ? <time dateTime={i.first_seen} title={dateTime(i.first_seen)}>{ago(i.first_seen, now)}</time> : <Skeleton w={80} h={18} />}</div>
          {i?.first_release && <div className="stat-sub mono">{i.first_release}</div>}
        </div>
        <div className="stat">
          <div className="stat-label">Last seen</div>
          <div className="stat-value stat-value-sm">{i ? <time dateTime={i.last_seen} title={dateTime(i.last_seen)}>{ago(i.last_seen, now)}</time> : <Skeleton w={80} h={18} />}</div>
          {i?.last_release && <div className="stat-sub mono">{i.last_release}</div>}
        </div>
        <div className="stat">
          <div className="stat-label">{i?.status === 'resolved' ? 'Resolved' : 'Grouped by'}</div>
          <div className="stat-value stat-value-sm">
            {!i ? <Skeleton w={80} h={18} /> : i.status === 'resolved' && i.resolved_at ? ago(i.resolved_at, now) : i.grouping === 'fingerprint' ? 'Fingerprint' : i.grouping === 'exception' ? 'Stack trace' : 'Message'}
          </div>
          {i?.status === 'resolved' && i.resolved_in_release && <div className="stat-sub mono">in {i.resolved_in_release}</div>}
          {i && i.status !== 'resolved' && i.grouping_components.length > 0 && (
            <div className="stat-sub mono" title={i.grouping_components.join('\n')}>
              {i.grouping_components[0]}
            </div>
          )}
        </div>
      </section>

      {!i ? (
        <section className="card">
          <div className="pad">
            <Skeleton h={16} />
            <Skeleton h={120} />
          </div>
        </section>
      ) : ev ? (
        <>
          {picked && picked.id !== i.latest_event?.id && (
            <div className="banner">
              Showing event <code>{picked.id.slice(0, 12)}</code> from {dateTime(picked.received_at)}.{' '}
              <button type="button" className="linkish link" onClick={() => setPicked(null)}>
                Back to the latest
              </button>
            </div>
          )}
          <EventDetail ev={ev} now={now} />
        </>
      ) : (
        <section className="card">
          <EmptyState title="No event kept">The events of this issue were pruned; new ones will show here.</EmptyState>
        </section>
      )}

      <EventsCard id={id} selected={ev?.id ?? null} onSelect={setPicked} now={now} />
    </main>
  );
}

export default IssuePage;
