import { Suspense, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { modules } from '../modules.ts';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime, every, ms, pct, plural, since, time } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { TIME_RANGES, TimeRangePicker, windowEndingNow, type TimeRange } from '../shell/ui/TimeRangePicker.tsx';
import { checksApi, checksKeys, type Resolution } from './api.ts';
import { LatencyChart } from './LatencyChart.tsx';
import { STATE_LABEL, stateTone } from './state.ts';
import { StatePill } from './StatePill.tsx';
import type { CheckSummary, ConditionOutcome, FailedResult, ServiceSummary, StateChange } from './types.ts';
import { UptimeBars } from './UptimeBars.tsx';
import './ServicePage.css';

/** The latency chart's windows, each with the aggregate resolution that fills it sensibly. */
const RANGES = [
  { ...TIME_RANGES['1h'], resolution: 'minute', bucket: 60 },
  { ...TIME_RANGES['6h'], resolution: 'minute', bucket: 60 },
  { ...TIME_RANGES['24h'], resolution: 'minute', bucket: 60 },
  { ...TIME_RANGES['7d'], resolution: 'hour', bucket: 3600 },
  { ...TIME_RANGES['90d'], resolution: 'day', bucket: 86400 },
] as const satisfies readonly (TimeRange & { resolution: Resolution; bucket: number })[];

type RangeKey = (typeof RANGES)[number]['key'];

/** Panels other domains add to a service's page (telemetry's charts…), from the module list. */
const PANELS = modules.flatMap((m) => m.servicePanels ?? []).sort((a, b) => a.order - b.order);

/** ✓/✗ per condition with what was observed; `actual` is left out where it only repeats `message`. */
function Conditions({ list, message }: { list: ConditionOutcome[]; message?: string }) {
  if (list.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="conds">
      {list.map((c, i) => (
        <li key={`${c.condition}-${i}`} className={c.ok ? 'cond cond-ok' : 'cond cond-fail'}>
          <span className="cond-mark" role="img" aria-label={c.ok ? 'passed' : 'failed'}>
            {c.ok ? '✓' : '✗'}
          </span>
          <span className="cond-text">
            <code className="cond-expr">{c.condition}</code>
            {c.actual && c.actual !== message && <span className="cond-actual">{c.actual}</span>}
          </span>
        </li>
      ))}
    </ul>
  );
}

function ChecksTable({ checks, selected, onSelect, now }: { checks: CheckSummary[]; selected: string | null; onSelect: (name: string) => void; now: number }) {
  if (checks.length === 0) {
    return <EmptyState title="No checks">This service has no checks in shipshape.yaml, so its state is unknown.</EmptyState>;
  }
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Check</th>
            <th scope="col">Kind</th>
            <th scope="col">Target</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              Latency
            </th>
            <th scope="col">Last run</th>
            <th scope="col" className="num">
              24h
            </th>
            <th scope="col">Conditions</th>
          </tr>
        </thead>
        <tbody>
          {checks.map((c) => {
            const isSel = c.name === selected;
            return (
              <tr key={c.id} className={isSel ? 'row-selected' : undefined} data-testid={`check-${c.name}`}>
                <td className="td-check">
                  <button type="button" className="linkish check-name" onClick={() => onSelect(c.name)} aria-pressed={isSel} title="Show this check's latency and failures">
                    {c.name}
                  </button>
                  <div className="check-every muted">every {every(c.every_ms)}</div>
                </td>
                <td>
                  <span className="kind">{c.kind}</span>
                </td>
                <td className="td-target">
                  <span className="target" title={c.target}>
                    {c.target}
                  </span>
                </td>
                <td>
                  <StatePill state={c.state} size="sm" />
                  {c.since && (
                    <div className="muted small" title={dateTime(c.since)}>
                      for {since(c.since, now)}
                    </div>
                  )}
                </td>
                <td className="num">{c.last ? ms(c.last.latency_ms) : '—'}</td>
                <td>
                  {c.last ? (
                    <time dateTime={c.last.at} title={dateTime(c.last.at)}>
                      {ago(c.last.at, now)}
                    </time>
                  ) : (
                    <span className="muted">Not run yet</span>
                  )}
                </td>
                <td className="num">{pct(c.uptime_24h)}</td>
                <td className="td-conds">
                  {c.last ? <Conditions list={c.last.conditions} message={c.last.ok ? undefined : c.last.message} /> : <span className="muted">—</span>}
                  {c.last && !c.last.ok && c.last.message && <div className="check-msg">{c.last.message}</div>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function LatencyCard({ service, checks, check, onCheck }: { service: string; checks: CheckSummary[]; check: string | null; onCheck: (n: string) => void }) {
  const [rangeKey, setRangeKey] = useState<RangeKey>('6h');
  const range = RANGES.find((r) => r.key === rangeKey) ?? RANGES[1];
  const q = useQuery({
    queryKey: [...checksKeys.aggregates(service), check, range.key],
    enabled: !!check,
    queryFn: async ({ signal }) => {
      const { from, to } = windowEndingNow(range);
      const res = await checksApi.aggregates(service, check ?? '', range.resolution, new Date(from), new Date(to), signal);
      return { items: res.items, from, to };
    },
    refetchInterval: 60_000,
    placeholderData: (prev, prevQuery) => (prevQuery?.queryKey[2] === check && prevQuery?.queryKey[3] === range.key ? prev : undefined),
  });
  const stats = useMemo(() => {
    const items = q.data?.items ?? [];
    let runs = 0;
    let fails = 0;
    let worst: number | null = null;
    let p50sum = 0;
    let p50n = 0;
    for (const a of items) {
      runs += a.count;
      fails += a.failures;
      if (a.p95 !== null) worst = Math.max(worst ?? 0, a.p95);
      if (a.p50 !== null) {
        p50sum += a.p50 * a.count;
        p50n += a.count;
      }
    }
    return { runs, fails, worst, p50: p50n ? p50sum / p50n : null };
  }, [q.data]);

  return (
    <section className="card" aria-labelledby="latency-title">
      <div className="card-head">
        <h2 id="latency-title" className="card-title">
          Latency
        </h2>
        <div className="toolbar">
          {checks.length > 1 && (
            <label className="select-wrap">
              <span className="visually-hidden">Check</span>
              <select className="select" value={check ?? ''} onChange={(e) => onCheck(e.target.value)}>
                {checks.map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <TimeRangePicker ranges={RANGES} value={rangeKey} onChange={setRangeKey} />
        </div>
      </div>
      {!check ? (
        <EmptyState title="No checks to chart" />
      ) : (
        <QueryState query={q} errorTitle="Could not load latency" loading={<LatencyBody stats={stats} fetching={q.isFetching} />}>
          {(d) => (
            <LatencyBody stats={stats} fetching={q.isFetching}>
              <LatencyChart items={d.items} from={d.from} to={d.to} bucket={range.bucket} />
              {d.items.length === 0 && <div className="chart-empty">No results in the last {range.label} yet</div>}
            </LatencyBody>
          )}
        </QueryState>
      )}
    </section>
  );
}

interface LatencyStats {
  runs: number;
  fails: number;
  worst: number | null;
  p50: number | null;
}

/** The latency card's numbers and chart; without a chart (loading) the numbers read — over a skeleton. */
function LatencyBody({ stats, fetching, children }: { stats: LatencyStats; fetching: boolean; children?: ReactNode }) {
  const has = !!children;
  return (
    <>
      <div className="chart-stats">
        <div>
          <span className="stat-label">Runs</span>
          <span className="num">{has ? stats.runs.toLocaleString() : '—'}</span>
        </div>
        <div>
          <span className="stat-label">Failed</span>
          <span className={`num${stats.fails ? ' text-down' : ''}`}>{has ? stats.fails.toLocaleString() : '—'}</span>
        </div>
        <div>
          <span className="stat-label">Success</span>
          <span className="num">{has && stats.runs ? pct(1 - stats.fails / stats.runs) : '—'}</span>
        </div>
        <div>
          <span className="stat-label">Median</span>
          <span className="num">{ms(stats.p50)}</span>
        </div>
        <div>
          <span className="stat-label">Worst p95</span>
          <span className="num">{ms(stats.worst)}</span>
        </div>
        {fetching && <Spinner label="Refreshing" />}
      </div>
      <div className="chart-box">{children ?? <Skeleton h={240} />}</div>
    </>
  );
}

interface FailureGroup {
  latest: FailedResult;
  earliest: FailedResult;
  count: number;
}

/** Consecutive failures with the same message and failed conditions read as one line: "×12". */
function groupFailures(items: FailedResult[]): FailureGroup[] {
  const key = (f: FailedResult) =>
    `${f.message}\u0000${f.conditions
      .filter((c) => !c.ok)
      .map((c) => `${c.condition}=${c.actual ?? ''}`)
      .join('\u0000')}`;
  const out: FailureGroup[] = [];
  let prevKey: string | null = null;
  for (const f of items) {
    const k = key(f);
    const last = out[out.length - 1];
    if (last && k === prevKey) {
      last.earliest = f;
      last.count += 1;
    } else out.push({ latest: f, earliest: f, count: 1 });
    prevKey = k;
  }
  return out;
}

function FailuresCard({ service, check, now }: { service: string; check: string | null; now: number }) {
  const q = useQuery({
    queryKey: checksKeys.failures(service, check),
    enabled: !!check,
    queryFn: ({ signal }) => checksApi.failures(service, check ?? '', signal),
    refetchInterval: 60_000,
  });
  return (
    <section className="card" aria-labelledby="failures-title">
      <div className="card-head">
        <h2 id="failures-title" className="card-title">
          Recent failures{check && <span className="card-title-sub"> · {check}</span>}
        </h2>
      </div>
      {!check ? (
        <EmptyState title="No checks" />
      ) : (
        <QueryState
          query={q}
          errorTitle="Could not load failures"
          isEmpty={(d) => d.items.length === 0}
          empty={
            <EmptyState
              title="No failures recorded"
              icon={
                <svg viewBox="0 0 24 24" width="22" height="22">
                  <path d="M6 12.5l4 4L18 8" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
                </svg>
              }
            >
              Every recent run of <strong>{check}</strong> passed.
            </EmptyState>
          }
        >
          {(d) => (
            <ol className="fails">
              {groupFailures(d.items).map((g) => {
                const f = g.latest;
                const failed = f.conditions.filter((c) => !c.ok);
                return (
                  <li key={f.id} className="fail">
                    <div className="fail-head">
                      <span className="dot dot-down" aria-hidden="true" />
                      <time dateTime={f.at} title={dateTime(f.at)} className="fail-time">
                        {g.count > 1 ? `${time(g.earliest.at)} – ${time(f.at)}` : dateTime(f.at)}
                      </time>
                      {g.count > 1 && (
                        <span className="fail-count" title={`${g.count} consecutive failures with the same result`}>
                          ×{g.count}
                        </span>
                      )}
                      <span className="muted small">{ago(f.at, now)}</span>
                      <span className="fail-latency num">{ms(f.latency_ms)}</span>
                    </div>
                    {f.message && !(failed.length > 0 && failed.every((c) => f.message.includes(c.condition))) && <div className="fail-msg">{f.message}</div>}
                    {failed.length > 0 && <Conditions list={failed} message={f.message} />}
                  </li>
                );
              })}
            </ol>
          )}
        </QueryState>
      )}
    </section>
  );
}

function stateLabel(s: string): string {
  return (STATE_LABEL as Record<string, string>)[s] ?? s;
}

const tone = stateTone;

function Timeline({ service, now }: { service: string; now: number }) {
  const q = useQuery({ queryKey: checksKeys.stateChanges(service), queryFn: ({ signal }) => checksApi.stateChanges(service, signal), refetchInterval: 60_000 });
  return (
    <section className="card" aria-labelledby="history-title">
      <div className="card-head">
        <h2 id="history-title" className="card-title">
          State history
        </h2>
      </div>
      <QueryState
        query={q}
        errorTitle="Could not load history"
        isEmpty={(d) => d.items.length === 0}
        empty={<EmptyState title="No state changes yet">Changes between up, degraded and down will appear here.</EmptyState>}
      >
        {(d) => (
          <ol className="timeline">
            {d.items.map((c: StateChange) => (
              <li key={c.id} className={`tl tl-${tone(c.to)}`}>
                <span className={`tl-dot dot-${tone(c.to)}`} aria-hidden="true" />
                <div className="tl-body">
                  <div className="tl-title">
                    <span className="tl-subject">{c.check ? (c.check.startsWith(`${service}/`) ? c.check.slice(service.length + 1) : c.check) : 'Service'}</span>{' '}
                    <span className="muted">changed from</span> <span className={`text-${tone(c.from)}`}>{stateLabel(c.from)}</span>{' '}
                    <span className="muted">to</span> <strong className={`text-${tone(c.to)}`}>{stateLabel(c.to)}</strong>
                  </div>
                  {c.reason && <div className="tl-reason">{c.reason}</div>}
                  <time className="tl-time" dateTime={c.at} title={dateTime(c.at)}>
                    {dateTime(c.at)} · {ago(c.at, now)}
                  </time>
                </div>
              </li>
            ))}
          </ol>
        )}
      </QueryState>
    </section>
  );
}

function RunButton({ service, disabled }: { service: string; disabled: boolean }) {
  const qc = useQueryClient();
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    if (!result) return;
    const t = setTimeout(() => setResult(null), 8_000);
    return () => clearTimeout(t);
  }, [result]);
  const run = useMutation({
    mutationFn: () => checksApi.runService(service),
    onMutate: () => setResult(null),
    onSuccess: (s: ServiceSummary) => {
      qc.setQueryData(checksKeys.service(service), (old: ServiceSummary | undefined) => ({ ...old, ...s }));
      void qc.invalidateQueries({ queryKey: checksKeys.services });
      void qc.invalidateQueries({ queryKey: checksKeys.stateChanges(service) });
      void qc.invalidateQueries({ queryKey: checksKeys.failures(service) });
      void qc.invalidateQueries({ queryKey: checksKeys.aggregates(service) });
      const failing = s.checks.filter((c) => c.last && !c.last.ok).length;
      setResult(
        failing
          ? { ok: false, text: `${failing} of ${plural(s.checks.length, 'check')} failing` }
          : { ok: true, text: `${s.checks.length === 1 ? 'Check' : `All ${s.checks.length} checks`} passed` },
      );
    },
    onError: (err) => setResult({ ok: false, text: err instanceof ApiError && err.status === 403 ? 'Needs a token with write scope' : errorMessage(err) }),
  });
  return (
    <div className="run">
      {result && (
        <span className={`run-result ${result.ok ? 'text-up' : 'text-down'}`} role="status">
          {result.text}
        </span>
      )}
      <button
        type="button"
        className="btn btn-primary"
        onClick={() => run.mutate()}
        disabled={disabled || run.isPending}
        title={disabled ? 'Your token has read scope only' : 'Run all of this service’s checks now'}
      >
        {run.isPending ? (
          <>
            <Spinner label="Running" /> Running…
          </>
        ) : (
          <>
            <svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
              <path d="M3 1.8v8.4L10 6z" fill="currentColor" />
            </svg>
            Run checks now
          </>
        )}
      </button>
    </div>
  );
}

export function ServicePage({ name }: { name: string }) {
  const now = useNow(5_000);
  const me = useMe();
  const q = useQuery({ queryKey: checksKeys.service(name), queryFn: ({ signal }) => checksApi.service(name, signal), refetchInterval: 30_000 });
  const [picked, setPicked] = useState<string | null>(null);
  const s = q.data;
  useDocumentTitle(s ? `${s.name} (${STATE_LABEL[s.state]}) · Shipshape` : `${name} · Shipshape`);

  const checks = s?.checks ?? [];
  const selected = picked && checks.some((c) => c.name === picked) ? picked : (checks.find((c) => c.state === 'down')?.name ?? checks[0]?.name ?? null);

  if (q.isError && !s) {
    return (
      <main className="page">
        <Crumbs name={name} />
        <QueryState
          query={q}
          errorTitle="Could not load this service"
          notFound={
            <section className="card">
              <EmptyState title={`No service named “${name}”`}>
                It may have been renamed or removed from shipshape.yaml. <Link to="/">Back to the overview</Link>
              </EmptyState>
            </section>
          }
        >
          {() => null}
        </QueryState>
      </main>
    );
  }

  const upChecks = checks.filter((c) => c.state === 'up').length;

  return (
    <main className="page">
      <Crumbs name={name} />
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>{name}</h1>
            {s ? <StatePill state={s.state} testId="service-state" /> : <Skeleton w={64} h={22} className="skeleton-pill" />}
          </div>
          <p className="svc-page-sub muted">
            {s ? (
              <>
                {s.since ? (
                  <>
                    {STATE_LABEL[s.state]} for {since(s.since, now)} · since <time dateTime={s.since}>{dateTime(s.since)}</time>
                  </>
                ) : (
                  'No state yet'
                )}
                {' · '}
                {checks.length ? `${upChecks} of ${plural(checks.length, 'check')} up` : 'No checks'}
              </>
            ) : (
              <Skeleton w={280} h={12} />
            )}
          </p>
        </div>
        <RunButton service={name} disabled={!canWrite(me.data) || !s || checks.length === 0} />
      </header>

      <section className="stats" aria-label="Uptime">
        {(['24h', '7d', '30d', '90d'] as const).map((w) => (
          <div key={w} className="stat">
            <div className="stat-label">Uptime · {w}</div>
            <div className="stat-value num">{s ? pct(s.uptime[w]) : <Skeleton w={80} h={22} />}</div>
          </div>
        ))}
      </section>

      <section className="card" aria-labelledby="days-title">
        <div className="card-head">
          <h2 id="days-title" className="card-title">
            Last 90 days
          </h2>
          <div className="legend" aria-hidden="true">
            <span>
              <span className="dot dot-up" /> Up
            </span>
            <span>
              <span className="dot dot-degraded" /> Degraded
            </span>
            <span>
              <span className="dot dot-down" /> Down
            </span>
            <span>
              <span className="dot dot-unknown" /> No data
            </span>
          </div>
        </div>
        <div className="pad">{s ? <UptimeBars days={s.days} label={name} /> : <Skeleton h={36} />}</div>
      </section>

      {s &&
        PANELS.map((p, i) => (
          <Suspense key={i} fallback={null}>
            <p.component service={name} />
          </Suspense>
        ))}

      <section className="card" aria-labelledby="checks-title">
        <div className="card-head">
          <h2 id="checks-title" className="card-title">
            Checks
          </h2>
          {q.isFetching && s && <Spinner label="Refreshing" />}
        </div>
        {s ? (
          <ChecksTable checks={checks} selected={selected} onSelect={setPicked} now={now} />
        ) : (
          <div className="pad">
            <Skeleton h={14} />
            <Skeleton h={14} w="80%" />
          </div>
        )}
      </section>

      {s && checks.length > 0 && <LatencyCard service={name} checks={checks} check={selected} onCheck={setPicked} />}

      {s && checks.length === 0 ? (
        <Timeline service={name} now={now} />
      ) : (
        <div className="grid-2">
          <FailuresCard service={name} check={selected} now={now} />
          <Timeline service={name} now={now} />
        </div>
      )}
    </main>
  );
}

function Crumbs({ name }: { name: string }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <Link to="/">Overview</Link>
      <span aria-hidden="true" className="crumb-sep">
        /
      </span>
      <span aria-current="page">{name}</span>
    </nav>
  );
}

export default ServicePage;
