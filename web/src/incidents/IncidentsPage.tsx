import { useMemo, useState } from 'react';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { servicesQuery } from '../checks/index.tsx';
import { ago, dateTime, duration, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, LoadMore, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { incidentPath, incidentsApi, incidentsKeys, useOpenIncidents, useSeverities } from './api.ts';
import { IncidentStatePill, isOpen, RoleList, SeverityBadge, severityRank, STATUS_TEXT, Timers } from './bits.tsx';
import { DeclareDialog } from './DeclareDialog.tsx';
import type { Incident, IncidentState } from './types.ts';
import './incidents.css';

type View = 'open' | 'resolved' | 'closed' | 'declined' | 'all';
const VIEWS: readonly { key: View; label: string }[] = [
  { key: 'open', label: 'Open' },
  { key: 'resolved', label: 'Resolved' },
  { key: 'closed', label: 'Closed' },
  { key: 'declined', label: 'Declined' },
  { key: 'all', label: 'All' },
];

function IncidentRow({ incident: i, now }: { incident: Incident; now: number }) {
  const open = isOpen(i.state);
  const breached = open && i.targets.some((t) => t.breached && !t.met_at);
  return (
    <li>
      <Link to={incidentPath(i.id)} className={`inc-row inc-row-${i.state}${breached ? ' inc-row-breached' : ''}`} data-testid={`incident-${i.id}`}>
        <div className="inc-row-sev">
          <SeverityBadge severity={i.severity} />
        </div>
        <div className="inc-row-main">
          <div className="inc-row-title">
            <span className="inc-ref mono">{i.ref}</span>
            <span className="inc-title" data-testid={`incident-title-${i.id}`}>
              {i.title}
            </span>
          </div>
          <div className="inc-row-meta">
            <IncidentStatePill state={i.state} testId={`incident-state-${i.id}`} />
            {i.status && open && <span className="inc-status-text">{STATUS_TEXT[i.status]}</span>}
            {i.services.map((s) => (
              <span key={s} className="tag">
                {s}
              </span>
            ))}
            {i.roles.commander && (
              <span className="muted small">
                <RoleList roles={{ commander: i.roles.commander, communications: null, scribe: null }} />
              </span>
            )}
            {i.source === 'alert' && <span className="muted small">from alert {i.alerts[0]?.alertname}</span>}
          </div>
          <Timers incident={i} now={now} compact />
        </div>
        <div className="inc-row-when num" title={`Opened ${dateTime(i.opened_at)} by ${i.opened_by}`}>
          <time dateTime={i.opened_at}>{ago(i.opened_at, now)}</time>
          <span className="muted small">{open ? `open ${duration(i.duration_ms)}` : `lasted ${duration(i.duration_ms)}`}</span>
        </div>
      </Link>
    </li>
  );
}

export function IncidentsPage() {
  const now = useNow(5_000);
  const me = useMe();
  const writable = canWrite(me.data);
  const [view, setView] = useState<View>('open');
  const [severity, setSeverity] = useState('');
  const [service, setService] = useState('');
  const [declaring, setDeclaring] = useState(false);
  const severities = useSeverities();
  const services = useQuery(servicesQuery(60_000));
  const open = useOpenIncidents();
  useDocumentTitle('Incidents · Shipshape');

  const state: IncidentState | undefined = view === 'resolved' || view === 'closed' || view === 'declined' ? view : undefined;
  const past = useInfiniteQuery({
    queryKey: [...incidentsKeys.list, view, severity, service],
    queryFn: ({ pageParam, signal }) => incidentsApi.list({ state, severity: severity || undefined, service: service || undefined }, pageParam, 50, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    enabled: view !== 'open',
    refetchInterval: 60_000,
  });

  const levels = severities.data;
  // open ones first, most severe first, then newest
  const openShown = useMemo(
    () =>
      (open.data ?? [])
        .filter((i) => (!severity || i.severity === severity) && (!service || i.services.includes(service)))
        .sort((a, b) => severityRank(levels, a.severity) - severityRank(levels, b.severity) || b.id - a.id),
    [open.data, severity, service, levels],
  );
  const pastItems = useMemo(() => (past.data?.pages.flatMap((p) => p.items) ?? []).filter((i) => view !== 'all' || !isOpen(i.state)), [past.data, view]);

  const breached = (open.data ?? []).filter((i) => i.targets.some((t) => t.breached && !t.met_at)).length;
  const triggered = (open.data ?? []).filter((i) => i.state === 'triggered').length;
  const filtered = !!(severity || service);

  const items = view === 'open' ? openShown : view === 'all' ? [...openShown, ...pastItems] : pastItems;
  const ready = view === 'open' ? !!open.data : view === 'all' ? !!open.data && !!past.data : !!past.data;
  const failed = view === 'open' ? open : past.isError ? past : open;
  const list = {
    data: ready ? items : undefined,
    isError: failed.isError,
    error: failed.error,
    refetch: () => Promise.all([open.refetch(), view === 'open' ? null : past.refetch()]),
    isFetching: open.isFetching || (view !== 'open' && past.isFetching),
  };

  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Incidents</h1>
          </div>
          <p className="svc-page-sub muted" data-testid="incidents-summary">
            {open.data ? (
              open.data.length === 0 ? (
                'No open incidents'
              ) : (
                <>
                  {plural(open.data.length, 'open incident')}
                  {triggered > 0 && <span className="text-down"> · {triggered} not acknowledged</span>}
                  {breached > 0 && <span className="text-down"> · {plural(breached, 'missed target')}</span>}
                </>
              )
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
        <button type="button" className="btn inc-btn-danger" disabled={!writable} title={writable ? 'Open an incident by hand' : 'Declaring needs a token with write scope'} onClick={() => setDeclaring(true)} data-testid="declare">
          <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
            <path d="M8 3v10M3 8h10" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
          </svg>
          Declare incident
        </button>
      </header>

      <section className="card" aria-labelledby="incidents-title">
        <div className="card-head">
          <h2 id="incidents-title" className="visually-hidden">
            Incidents
          </h2>
          <div className="segmented" role="group" aria-label="Status">
            {VIEWS.map((v) => (
              <button key={v.key} type="button" aria-pressed={view === v.key} onClick={() => setView(v.key)} data-testid={`view-${v.key}`}>
                {v.label}
                {v.key === 'open' && (open.data?.length ?? 0) > 0 && <span className="inc-count">{open.data?.length}</span>}
              </button>
            ))}
          </div>
          <div className="toolbar">
            {list.isFetching && list.data && <Spinner label="Refreshing" />}
            <label>
              <span className="visually-hidden">Severity</span>
              <select className="select" value={severity} onChange={(e) => setSeverity(e.target.value)} data-testid="filter-severity">
                <option value="">All severities</option>
                {(levels ?? []).map((l) => (
                  <option key={l.name} value={l.name}>
                    {l.name}
                    {l.description ? ` · ${l.description.split(':')[0]}` : ''}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="visually-hidden">Service</span>
              <select className="select" value={service} onChange={(e) => setService(e.target.value)} data-testid="filter-service">
                <option value="">All services</option>
                {(services.data ?? []).map((s) => (
                  <option key={s.name} value={s.name}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </div>
        <QueryState
          query={list}
          errorTitle="Could not load incidents"
          loading={
            <div className="pad">
              <Skeleton h={16} />
              <Skeleton h={12} w="50%" />
              <Skeleton h={16} />
              <Skeleton h={12} w="40%" />
            </div>
          }
        >
          {() =>
            items.length === 0 ? (
              view === 'open' && !filtered ? (
                <EmptyState
                  title="No open incidents"
                  icon={
                    <svg viewBox="0 0 24 24" width="22" height="22">
                      <path d="M6 12.5l4 4L18 8" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
                    </svg>
                  }
                >
                  Declare one here or with <code>shipshape incident open --title … --severity P1</code>, or let an alert rule open them:
                  <pre className="snippet">{`alerts:
  - name: checkout-down
    when: service(web) is down for 2m
    incident: { severity: P1 }`}</pre>
                </EmptyState>
              ) : (
                <EmptyState title={filtered ? 'No incidents match these filters' : `No ${view === 'all' ? '' : `${view} `}incidents`} />
              )
            ) : (
              <>
                <ul className="inc-list">
                  {items.map((i) => (
                    <IncidentRow key={i.id} incident={i} now={now} />
                  ))}
                </ul>
                {view !== 'open' && <LoadMore q={past} label="Load older incidents" />}
              </>
            )
          }
        </QueryState>
      </section>

      {declaring && <DeclareDialog onClose={() => setDeclaring(false)} />}
    </main>
  );
}

export default IncidentsPage;
