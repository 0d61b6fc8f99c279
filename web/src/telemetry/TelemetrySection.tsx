import { useMemo, useState, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, listEvents } from '../shell/api.ts';
import { compact, epoch, ms, perSecond, ratio, vitalValue } from '../shell/format.ts';
import type { EventRecord } from '../shell/types.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { TimeChart, type ChartBand, type ChartLine, type ChartMarker } from '../shell/ui/TimeChart.tsx';
import { TIME_RANGES, TimeRangePicker, windowEndingNow } from '../shell/ui/TimeRangePicker.tsx';
import { telemetryApi, telemetryKeys } from './api.ts';
import type { RouteStat, Telemetry, VitalName } from './types.ts';
import './telemetry.css';

/** The windows the charts offer, each with how often it refreshes. */
const RANGES = [
  { ...TIME_RANGES['1h'], refresh: 10_000 },
  { ...TIME_RANGES['6h'], refresh: 30_000 },
  { ...TIME_RANGES['24h'], refresh: 60_000 },
  { ...TIME_RANGES['7d'], refresh: 300_000 },
  { ...TIME_RANGES['30d'], refresh: 300_000 },
] as const;
type RangeKey = (typeof RANGES)[number]['key'];

/** Google's Core Web Vitals thresholds (good ≤ first, poor > second), at the 75th percentile. */
export const VITALS: readonly { name: VitalName; label: string; good: number; poor: number }[] = [
  { name: 'LCP', label: 'Largest Contentful Paint', good: 2500, poor: 4000 },
  { name: 'INP', label: 'Interaction to Next Paint', good: 200, poor: 500 },
  { name: 'CLS', label: 'Cumulative Layout Shift', good: 0.1, poor: 0.25 },
  { name: 'FCP', label: 'First Contentful Paint', good: 1800, poor: 3000 },
  { name: 'TTFB', label: 'Time to First Byte', good: 800, poor: 1800 },
];

type Rating = 'good' | 'warn' | 'poor';
const RATING_LABEL: Record<Rating, string> = { good: 'Good', warn: 'Needs improvement', poor: 'Poor' };

function rate(v: (typeof VITALS)[number], value: number): Rating {
  return value <= v.good ? 'good' : value <= v.poor ? 'warn' : 'poor';
}

const SYNC = 'telemetry';

function lastValue(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function hasData(values: (number | null)[] | undefined): boolean {
  return !!values?.some((v) => v !== null && v !== undefined);
}

/** Alert transitions of this service and its deploys, as chart markers. */
function useMarkers(service: string) {
  return useQuery({
    queryKey: [...telemetryKeys.markers, service],
    queryFn: async ({ signal }): Promise<ChartMarker[]> => {
      // deploy events are optional: a server without a deploy domain has none to list
      const soft = (p: Promise<{ items: EventRecord[] }>) => p.catch((e: unknown) => (e instanceof ApiError && e.status !== 401 ? { items: [] } : Promise.reject(e)));
      const [firing, resolved, deploys] = await Promise.all([
        listEvents('alert.firing', 200, signal),
        listEvents('alert.resolved', 200, signal),
        soft(listEvents('deploy.*', 100, signal)),
      ]);
      const out: ChartMarker[] = [];
      const alertMarker = (e: EventRecord, kind: 'firing' | 'resolved') => {
        const labels = (e.data.labels ?? {}) as Record<string, string>;
        if (labels.service !== service) return;
        const value = typeof e.data.valueText === 'string' && e.data.valueText ? e.data.valueText : undefined;
        out.push({ t: Date.parse(e.at), kind, title: labels.alertname ?? 'alert', detail: [labels.severity, value].filter(Boolean).join(' · ') || undefined });
      };
      for (const e of firing.items) alertMarker(e, 'firing');
      for (const e of resolved.items) alertMarker(e, 'resolved');
      for (const e of deploys.items) {
        if (!e.type.startsWith('deploy.') || e.data.service !== service) continue;
        const version = [e.data.version, e.data.release, e.data.ref].find((v) => typeof v === 'string' && v) as string | undefined;
        out.push({ t: Date.parse(e.at), kind: 'deploy', title: version ?? e.type.slice('deploy.'.length), detail: e.type.replace('deploy.', '').replace(/_/g, ' ') });
      }
      return out.filter((m) => !Number.isNaN(m.t)).sort((a, b) => a.t - b.t);
    },
    refetchInterval: 60_000,
  });
}

interface Stats {
  requests: number;
  throughput: number | null;
  errorRate: number | null;
  worstP95: number | null;
  worstP99: number | null;
}

function summarize(t: Telemetry, spanMs: number): Stats {
  const s = t.series;
  const stepS = t.step_ms / 1000;
  let requests = 0;
  let errors = 0;
  let worstP95: number | null = null;
  let worstP99: number | null = null;
  s.request_rate.forEach((r, i) => {
    if (r === null || r === undefined) return;
    const n = r * stepS;
    requests += n;
    errors += n * (s.error_rate[i] ?? 0);
  });
  for (const v of s.p95) if (v !== null && v !== undefined) worstP95 = Math.max(worstP95 ?? 0, v);
  for (const v of s.p99) if (v !== null && v !== undefined) worstP99 = Math.max(worstP99 ?? 0, v);
  return {
    requests,
    throughput: requests > 0 ? requests / (spanMs / 1000) : null,
    errorRate: requests > 0 ? errors / requests : null,
    worstP95,
    worstP99,
  };
}

function MarkerLegend({ markers }: { markers: ChartMarker[] | undefined }) {
  const kinds = new Set((markers ?? []).map((m) => m.kind));
  if (kinds.size === 0) return null;
  return (
    <div className="legend" aria-hidden="true">
      {kinds.has('firing') && (
        <span>
          <span className="legend-marker legend-marker-firing" /> Alert fired
        </span>
      )}
      {kinds.has('resolved') && (
        <span>
          <span className="legend-marker legend-marker-resolved" /> Resolved
        </span>
      )}
      {kinds.has('deploy') && (
        <span>
          <span className="legend-marker legend-marker-deploy" /> Deploy
        </span>
      )}
    </div>
  );
}

function Panel({ title, value, children, wide }: { title: string; value?: string; children: ReactNode; wide?: boolean }) {
  return (
    <div className={`panel${wide ? ' panel-wide' : ''}`}>
      <div className="panel-head">
        <h3 className="panel-title">{title}</h3>
        {value && <span className="panel-value num">{value}</span>}
      </div>
      {children}
    </div>
  );
}

const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

type RouteSort = 'slowest' | 'failing' | 'busiest';

function RoutesCard({ routes, rangeLabel }: { routes: RouteStat[]; rangeLabel: string }) {
  const [sort, setSort] = useState<RouteSort>('slowest');
  const [all, setAll] = useState(false);
  const sorted = useMemo(() => {
    const list = [...routes];
    const n = (v: number | null) => v ?? -1;
    if (sort === 'slowest') list.sort((a, b) => n(b.p95) - n(a.p95) || b.requests - a.requests);
    else if (sort === 'failing') list.sort((a, b) => n(b.error_rate) * b.requests - n(a.error_rate) * a.requests || n(b.error_rate) - n(a.error_rate));
    else list.sort((a, b) => b.requests - a.requests);
    return list;
  }, [routes, sort]);
  const maxP95 = Math.max(1, ...routes.map((r) => r.p95 ?? 0));
  const maxReq = Math.max(1, ...routes.map((r) => r.requests));
  const shown = all ? sorted : sorted.slice(0, 10);

  return (
    <section className="card" aria-labelledby="routes-title">
      <div className="card-head">
        <h2 id="routes-title" className="card-title">
          Routes <span className="card-title-sub">· {rangeLabel}</span>
        </h2>
        <div className="segmented" role="group" aria-label="Sort routes">
          {(
            [
              ['slowest', 'Slowest'],
              ['failing', 'Most failing'],
              ['busiest', 'Busiest'],
            ] as const
          ).map(([k, label]) => (
            <button key={k} type="button" aria-pressed={sort === k} onClick={() => setSort(k)}>
              {label}
            </button>
          ))}
        </div>
      </div>
      {routes.length === 0 ? (
        <EmptyState title="No routes in this window">Requests show up here per route template, e.g. /api/items/:id.</EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table routes-table" data-testid="routes">
              <thead>
                <tr>
                  <th scope="col">Route</th>
                  <th scope="col" className="num">
                    Requests
                  </th>
                  <th scope="col" className="num">
                    Error rate
                  </th>
                  <th scope="col" className="num th-bar">
                    p95
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((r) => {
                  const bad = (r.error_rate ?? 0) >= 0.01;
                  return (
                    <tr key={`${r.method ?? ''} ${r.route}`}>
                      <td className="td-route">
                        {r.method && <span className={`method method-${METHOD_ORDER.includes(r.method) ? r.method.toLowerCase() : 'other'}`}>{r.method}</span>}
                        <code className="route">{r.route || '(unknown route)'}</code>
                      </td>
                      <td className="num">
                        <span className="meter" aria-hidden="true">
                          <span style={{ width: `${(r.requests / maxReq) * 100}%` }} />
                        </span>
                        {compact(r.requests)}
                      </td>
                      <td className={`num${bad ? ' text-down' : ''}`}>{ratio(r.error_rate)}</td>
                      <td className="num td-bar">
                        <span className="meter meter-latency" aria-hidden="true">
                          <span style={{ width: `${((r.p95 ?? 0) / maxP95) * 100}%` }} />
                        </span>
                        {ms(r.p95)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {sorted.length > 10 && (
            <div className="card-foot">
              <button type="button" className="btn btn-ghost btn-sm" onClick={() => setAll((v) => !v)}>
                {all ? 'Show the top 10' : `Show all ${sorted.length} routes`}
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function VitalsCard({ t, from, to, markers, service }: { t: Telemetry; from: number; to: number; markers: ChartMarker[] | undefined; service: string }) {
  const [picked, setPicked] = useState<VitalName>('LCP');
  const vitals = t.vitals ?? {};
  const any = VITALS.some((v) => hasData(vitals[v.name]?.p75));
  const def = VITALS.find((v) => v.name === picked) ?? VITALS[0]!;
  const series = vitals[def.name];
  const chart = useMemo(() => {
    const x = (series?.t ?? []).map(epoch);
    const lines: ChartLine[] = [{ label: `${def.name} p75`, values: series?.p75 ?? [], color: '--chart-vital', width: 2, spanGaps: true }];
    const bands: ChartBand[] = [
      { from: 0, to: def.good, tone: 'good' },
      { from: def.good, to: def.poor, tone: 'warn' },
      { from: def.poor, to: null, tone: 'poor' },
    ];
    return { x, lines, bands };
  }, [series, def]);

  return (
    <section className="card" aria-labelledby="vitals-title">
      <div className="card-head">
        <h2 id="vitals-title" className="card-title">
          Web vitals <span className="card-title-sub">· p75 of real users</span>
        </h2>
        <div className="legend" aria-hidden="true">
          <span>
            <span className="dot dot-up" /> Good
          </span>
          <span>
            <span className="dot dot-degraded" /> Needs improvement
          </span>
          <span>
            <span className="dot dot-down" /> Poor
          </span>
        </div>
      </div>
      {!any ? (
        <EmptyState title="No web vitals yet">
          Add the browser beacon to the pages of <strong>{service}</strong>; it reports LCP, INP, CLS, FCP and TTFB of real visits:
          <pre className="snippet">{`import { initShipshape } from 'shipshape/sdk/browser';

initShipshape({
  url: '${window.location.origin}',
  token: '<ingest token>',
  service: '${service}',
});`}</pre>
        </EmptyState>
      ) : (
        <>
          <div className="vitals" role="tablist" aria-label="Web vital">
            {VITALS.map((v) => {
              const latest = lastValue(vitals[v.name]?.p75 ?? []);
              const r = latest === null ? null : rate(v, latest);
              return (
                <button
                  key={v.name}
                  type="button"
                  role="tab"
                  aria-selected={v.name === picked}
                  className={`vital${r ? ` vital-${r}` : ''}`}
                  onClick={() => setPicked(v.name)}
                  title={`${v.label}: good ≤ ${vitalValue(v.name, v.good)}, poor > ${vitalValue(v.name, v.poor)}`}
                  data-testid={`vital-${v.name}`}
                >
                  <span className="vital-name">{v.name}</span>
                  <span className="vital-value num">{vitalValue(v.name, latest)}</span>
                  <span className="vital-rating">{r ? RATING_LABEL[r] : 'No data'}</span>
                </button>
              );
            })}
          </div>
          <div className="chart-box chart-box-sm">
            <TimeChart
              x={chart.x}
              lines={chart.lines}
              bands={chart.bands}
              from={from}
              to={to}
              markers={markers}
              format={(v) => vitalValue(def.name, v)}
              height={200}
              syncKey={SYNC}
              label={`${def.label} (p75) over time, with the good, needs improvement and poor ranges shaded`}
            />
            {!hasData(series?.p75) && <div className="chart-empty">No {def.name} samples in this window</div>}
          </div>
        </>
      )}
    </section>
  );
}

function Setup({ service }: { service: string }) {
  const [tab, setTab] = useState<'otel' | 'node' | 'http'>('otel');
  const origin = window.location.origin;
  const snippets = {
    otel: `# any OpenTelemetry SDK or Collector, unchanged: metrics go to ${origin}/v1/metrics
OTEL_SERVICE_NAME=${service}
OTEL_EXPORTER_OTLP_ENDPOINT=${origin}
OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <ingest token>"`,
    node: `import { createShipshape } from 'shipshape/sdk/node';

const shipshape = createShipshape({
  url: '${origin}',
  token: process.env.SHIPSHAPE_INGEST_TOKEN,
  service: '${service}',
});
app.use(shipshape.express());   // or: await fastify.register(shipshape.fastify)`,
    http: `curl -X POST ${origin}/api/v1/ingest \\
  -H "Authorization: Bearer <ingest token>" -H "content-type: application/json" \\
  -d '{"service":"${service}","requests":[{"route":"/api/items/:id","method":"GET","status":200,"duration_ms":42}]}'`,
  };
  return (
    <EmptyState
      title={`No telemetry from ${service} yet`}
      icon={
        <svg viewBox="0 0 24 24" width="22" height="22">
          <path d="M3 17l5-6 4 4 8-9" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      }
    >
      Request rate, error rate and latency appear here once the app reports its requests. Add an ingest token to{' '}
      <code>shipshape.yaml</code> (<code>ingest: {'{'} tokens: [&quot;$&#123;SHIPSHAPE_INGEST_TOKEN&#125;&quot;] {'}'}</code>), then send telemetry
      with:
      <div className="setup">
        <div className="segmented" role="group" aria-label="How to send telemetry">
          <button type="button" aria-pressed={tab === 'otel'} onClick={() => setTab('otel')}>
            OpenTelemetry
          </button>
          <button type="button" aria-pressed={tab === 'node'} onClick={() => setTab('node')}>
            Node SDK
          </button>
          <button type="button" aria-pressed={tab === 'http'} onClick={() => setTab('http')}>
            HTTP
          </button>
        </div>
        <pre className="snippet" data-testid="telemetry-setup">
          {snippets[tab]}
        </pre>
      </div>
    </EmptyState>
  );
}

/** The service page's telemetry: request rate, error rate, latency quantiles, routes and web vitals. */
export function TelemetrySection({ service }: { service: string }) {
  const [rangeKey, setRangeKey] = useState<RangeKey>('1h');
  const range = RANGES.find((r) => r.key === rangeKey) ?? RANGES[0];
  const q = useQuery({
    queryKey: [...telemetryKeys.telemetry(service), range.key],
    queryFn: async ({ signal }) => {
      const { from, to } = windowEndingNow(range);
      const t = await telemetryApi.telemetry(service, new Date(from), new Date(to), signal);
      return { t, from, to };
    },
    refetchInterval: range.refresh,
    placeholderData: (prev, prevQuery) => (prevQuery?.queryKey[1] === service ? prev : undefined),
  });
  const markers = useMarkers(service);

  const d = q.data;
  const view = useMemo(() => {
    if (!d) return null;
    const s = d.t.series;
    const x = s.t.map(epoch);
    return {
      x,
      stats: summarize(d.t, d.to - d.from),
      rate: [{ label: 'Requests', values: s.request_rate, color: '--chart-rate', fill: '--chart-rate-fill' }] satisfies ChartLine[],
      errors: [{ label: 'Error rate', values: s.error_rate, color: '--down', fill: '--chart-fail-band' }] satisfies ChartLine[],
      latency: [
        { label: 'p50', values: s.p50, color: '--chart-p50' },
        { label: 'p95', values: s.p95, color: '--chart-p95', fill: '--chart-p95-fill' },
        { label: 'p99', values: s.p99, color: '--chart-p99', dash: [4, 3] },
      ] satisfies ChartLine[],
      hasRequests: hasData(s.request_rate) || (d.t.routes ?? []).length > 0,
      hasVitals: VITALS.some((v) => hasData(d.t.vitals?.[v.name]?.p75)),
      current: { rate: lastValue(s.request_rate), errors: lastValue(s.error_rate), p95: lastValue(s.p95) },
    };
  }, [d]);

  const rangeToolbar = (
    <div className="toolbar">
      <MarkerLegend markers={markers.data} />
      {q.isFetching && d && <Spinner label="Refreshing" />}
      <TimeRangePicker ranges={RANGES} value={rangeKey} onChange={setRangeKey} label="Telemetry time range" />
    </div>
  );

  const nothing = view && !view.hasRequests && !view.hasVitals;
  const m = markers.data;

  return (
    <>
      <section className="card" aria-labelledby="telemetry-title" data-testid="telemetry">
        <div className="card-head">
          <h2 id="telemetry-title" className="card-title">
            Requests <span className="card-title-sub">· from telemetry</span>
          </h2>
          {rangeToolbar}
        </div>
        <QueryState
          query={q}
          errorTitle="Could not load telemetry"
          loading={
            <div className="pad">
              <Skeleton h={40} />
              <Skeleton h={180} />
            </div>
          }
          isEmpty={() => !view?.hasRequests}
          empty={<Setup service={service} />}
        >
          {(d) =>
            view && (
              <>
                <div className="chart-stats">
                  <div>
                    <span className="stat-label">Requests</span>
                    <span className="num">{compact(view.stats.requests)}</span>
                  </div>
                  <div>
                    <span className="stat-label">Throughput</span>
                    <span className="num">{perSecond(view.stats.throughput)}</span>
                  </div>
                  <div>
                    <span className="stat-label">Error rate</span>
                    <span className={`num${(view.stats.errorRate ?? 0) >= 0.01 ? ' text-down' : ''}`} data-testid="error-rate">
                      {ratio(view.stats.errorRate)}
                    </span>
                  </div>
                  <div>
                    <span className="stat-label">Worst p95</span>
                    <span className="num">{ms(view.stats.worstP95)}</span>
                  </div>
                  <div>
                    <span className="stat-label">Worst p99</span>
                    <span className="num">{ms(view.stats.worstP99)}</span>
                  </div>
                </div>
                <div className="panels">
                  <Panel title="Request rate" value={view.current.rate === null ? undefined : `${perSecond(view.current.rate)} now`}>
                    <div data-testid="chart-request-rate">
                      <TimeChart x={view.x} lines={view.rate} from={d.from} to={d.to} format={perSecond} minTop={1} markers={m} height={170} syncKey={SYNC} label="Requests per second over time" />
                    </div>
                  </Panel>
                  <Panel title="Error rate" value={view.current.errors === null ? undefined : `${ratio(view.current.errors)} now`}>
                    <div data-testid="chart-error-rate" data-points={view.errors[0]?.values.filter((v) => v !== null).length ?? 0}>
                      <TimeChart x={view.x} lines={view.errors} from={d.from} to={d.to} format={ratio} minTop={0.01} markers={m} height={170} syncKey={SYNC} label="Share of failed requests over time" />
                    </div>
                  </Panel>
                  <Panel title="Latency" value={view.current.p95 === null ? undefined : `p95 ${ms(view.current.p95)} now`} wide>
                    <div data-testid="chart-latency">
                      <TimeChart x={view.x} lines={view.latency} from={d.from} to={d.to} format={ms} minTop={10} markers={m} height={220} syncKey={SYNC} label="Latency quantiles p50, p95 and p99 over time" />
                    </div>
                  </Panel>
                </div>
              </>
            )
          }
        </QueryState>
      </section>
      {view && d && view.hasRequests && <RoutesCard routes={d.t.routes ?? []} rangeLabel={`last ${range.label}`} />}
      {view && d && !nothing && <VitalsCard t={d.t} from={d.from} to={d.to} markers={m} service={service} />}
    </>
  );
}

export default TelemetrySection;
