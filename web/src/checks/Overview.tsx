import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ago, dateTime, pct, plural, since } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { EmptyState, Skeleton } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { servicePath, servicesQuery } from './api.ts';
import { Sparkline } from './Sparkline.tsx';
import { STATE_LABEL } from './state.ts';
import { StatePill } from './StatePill.tsx';
import type { ServiceState, ServiceSummary } from './types.ts';
import { UptimeBars } from './UptimeBars.tsx';
import './Overview.css';

type Counts = Record<ServiceState, number>;

function countStates(list: ServiceSummary[]): Counts {
  const c: Counts = { up: 0, degraded: 0, down: 0, unknown: 0 };
  for (const s of list) c[s.state] = (c[s.state] ?? 0) + 1;
  return c;
}

function headline(c: Counts, total: number): { tone: ServiceState; text: string } {
  if (total === 0) return { tone: 'unknown', text: 'No services configured' };
  if (c.down > 0) return { tone: 'down', text: `${plural(c.down, 'service')} down` };
  if (c.degraded > 0) return { tone: 'degraded', text: `${plural(c.degraded, 'service')} degraded` };
  if (c.up === 0) return { tone: 'unknown', text: 'Waiting for the first check results' };
  return { tone: 'up', text: 'All systems operational' };
}

function SummaryIcon({ tone }: { tone: ServiceState }) {
  return (
    <span className={`summary-icon summary-icon-${tone}`} aria-hidden="true">
      <svg viewBox="0 0 24 24" width="20" height="20">
        {tone === 'up' && <path d="M6 12.5l4 4L18 8" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />}
        {(tone === 'down' || tone === 'degraded') && <path d="M12 6.5v7M12 17.5v.01" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" />}
        {tone === 'unknown' && <path d="M6.5 12h.01M12 12h.01M17.5 12h.01" stroke="currentColor" strokeWidth="3" strokeLinecap="round" />}
      </svg>
    </span>
  );
}

function Summary({ list, updatedAt, now }: { list: ServiceSummary[]; updatedAt: number; now: number }) {
  const c = countStates(list);
  const h = headline(c, list.length);
  const extra: string[] = [];
  if (h.tone === 'down' && c.degraded) extra.push(`${c.degraded} degraded`);
  return (
    <section className={`summary summary-${h.tone}`} aria-labelledby="summary-title">
      <SummaryIcon tone={h.tone} />
      <div className="summary-main">
        <h1 id="summary-title" className="summary-title" data-testid="overall">
          {h.text}
          {extra.length > 0 && <span className="summary-extra"> · {extra.join(', ')}</span>}
        </h1>
        <div className="summary-sub">
          {plural(list.length, 'service')} monitored · updated <time dateTime={new Date(updatedAt).toISOString()}>{ago(new Date(updatedAt).toISOString(), now)}</time>
        </div>
      </div>
      <dl className="counts">
        {(['up', 'degraded', 'down', 'unknown'] as const).map((s) => (
          <div key={s} className={`count count-${s}${c[s] ? '' : ' count-zero'}`}>
            <dt>
              <span className={`dot dot-${s}`} aria-hidden="true" />
              {s === 'up' ? 'Up' : s === 'degraded' ? 'Degraded' : s === 'down' ? 'Down' : 'Unknown'}
            </dt>
            <dd className="num">{c[s]}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function ServiceRow({ s, now }: { s: ServiceSummary; now: number }) {
  const checksUp = s.checks.filter((c) => c.state === 'up').length;
  return (
    <li>
      <Link
        to={servicePath(s.name)}
        className={`svc svc-${s.state}`}
        data-testid={`service-${s.name}`}
        aria-label={`${s.name}: ${STATE_LABEL[s.state]}${s.since ? ` for ${since(s.since, now)}` : ''}, ${checksUp} of ${plural(s.checks.length, 'check')} up, uptime ${pct(s.uptime['24h'])} over 24 hours and ${pct(s.uptime['90d'])} over 90 days`}
      >
        <div className="svc-head">
          <div className="svc-id">
            <span className="svc-name">{s.name}</span>
            <StatePill state={s.state} testId={`state-${s.name}`} size="sm" />
            {s.since && (
              <span className="svc-since muted" title={`Since ${dateTime(s.since)}`}>
                for {since(s.since, now)}
              </span>
            )}
          </div>
          <div className="svc-meta muted">
            {s.checks.length === 0 ? 'No checks' : `${checksUp}/${s.checks.length} checks up`}
          </div>
          <div className="svc-spark">
            <Sparkline points={s.sparkline} tone={s.state} />
          </div>
          <dl className="svc-uptime">
            {(['24h', '30d', '90d'] as const).map((w) => (
              <div key={w}>
                <dt>{w}</dt>
                <dd className="num">{pct(s.uptime[w])}</dd>
              </div>
            ))}
          </dl>
        </div>
        <UptimeBars days={s.days} label={s.name} size="sm" />
      </Link>
    </li>
  );
}

function LoadingRows() {
  return (
    <ul className="svc-list" aria-busy="true" aria-label="Loading services">
      {[0, 1, 2].map((i) => (
        <li key={i}>
          <div className="svc svc-loading">
            <div className="svc-head">
              <div className="svc-id">
                <Skeleton w={120} h={14} />
                <Skeleton w={48} h={18} className="skeleton-pill" />
              </div>
              <div />
              <Skeleton w={120} h={24} />
              <Skeleton w={200} h={14} />
            </div>
            <Skeleton h={22} />
          </div>
        </li>
      ))}
    </ul>
  );
}

const ORDER: Record<ServiceState, number> = { down: 0, degraded: 1, unknown: 2, up: 3 };

export function Overview() {
  const now = useNow(10_000);
  const q = useQuery(servicesQuery());
  const [filter, setFilter] = useState('');
  const [problemsFirst, setProblemsFirst] = useState(false);

  const list = q.data;
  const c = list ? countStates(list) : null;
  useDocumentTitle(
    c && list ? `${c.down ? `(${c.down} down) ` : c.degraded ? `(${c.degraded} degraded) ` : ''}Overview · Shipshape` : 'Overview · Shipshape',
  );

  const shown = useMemo(() => {
    if (!list) return [];
    const f = filter.trim().toLowerCase();
    const out = f ? list.filter((s) => s.name.toLowerCase().includes(f) || s.checks.some((c) => c.name.toLowerCase().includes(f))) : [...list];
    if (problemsFirst) out.sort((a, b) => ORDER[a.state] - ORDER[b.state]);
    return out;
  }, [list, filter, problemsFirst]);

  return (
    <main className="page">
      {list ? (
        <Summary list={list} updatedAt={q.dataUpdatedAt} now={Math.max(now, q.dataUpdatedAt)} />
      ) : q.isPending ? (
        <section className="summary summary-loading">
          <Skeleton w={40} h={40} className="skeleton-round" />
          <div className="summary-main">
            <Skeleton w={260} h={22} />
            <Skeleton w={180} h={12} />
          </div>
        </section>
      ) : null}

      <section className="card" aria-labelledby="services-title">
        <div className="card-head">
          <h2 id="services-title" className="card-title">
            Services
          </h2>
          {list && list.length > 0 && (
            <div className="toolbar">
              <label className="check-toggle">
                <input type="checkbox" checked={problemsFirst} onChange={(e) => setProblemsFirst(e.target.checked)} />
                Problems first
              </label>
              <input
                type="search"
                className="input input-sm"
                placeholder="Filter services"
                aria-label="Filter services"
                value={filter}
                onChange={(e) => setFilter(e.target.value)}
              />
            </div>
          )}
        </div>
        <QueryState
          query={q}
          errorTitle="Could not load services"
          loading={<LoadingRows />}
          isEmpty={(l) => l.length === 0}
          empty={
            <EmptyState
              title="No services yet"
              icon={
                <svg viewBox="0 0 24 24" width="22" height="22">
                  <path d="M4 7h16M4 12h16M4 17h10" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
                </svg>
              }
            >
              Add a service with at least one check to <code>shipshape.yaml</code>; Shipshape reloads the file and starts checking right
              away.
              <pre className="snippet">{`services:
  web:
    checks:
      - name: health
        http: { url: https://example.com/api/health, every: 30s }`}</pre>
            </EmptyState>
          }
        >
          {() =>
            shown.length === 0 ? (
              <EmptyState title="No matching services">Nothing matches “{filter}”.</EmptyState>
            ) : (
              <>
                <div className="svc-columns" aria-hidden="true">
                  <span>Service</span>
                  <span />
                  <span>p95 latency · 1h</span>
                  <span className="svc-columns-uptime">Uptime</span>
                </div>
                <ul className="svc-list">
                  {shown.map((s) => (
                    <ServiceRow key={s.name} s={s} now={now} />
                  ))}
                </ul>
              </>
            )
          }
        </QueryState>
      </section>
    </main>
  );
}
