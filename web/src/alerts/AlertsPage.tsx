import { useMemo, useState, type ReactNode } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { servicePath } from '../checks/index.tsx';
import { ago, between, dateTime, plural, since } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, LoadMore, Skeleton } from '../shell/ui/Feedback.tsx';
import { QueryState, type QueryLike } from '../shell/ui/QueryState.tsx';
import { ALERT_TABS, alertsApi, alertsKeys, alertsPath, useAlertRules, useAlerts, useNotifyAlerts, useSilences, type AlertTab } from './api.ts';
import { SeverityPill } from './Severity.tsx';
import { MuteIcon, READ_ONLY, SilenceDialog, SilenceList } from './Silences.tsx';
import type { AlertInstance, AlertRuleStatus, NotifyAlert, Silence } from './types.ts';
import './alerts.css';

/** Labels every alert row shows in its own place rather than as chips. */
const SHOWN_ELSEWHERE = new Set(['alertname', 'severity', 'service']);

type AnyState = 'inactive' | 'pending' | 'firing' | 'resolved';
const STATE_TEXT: Record<AnyState, string> = { inactive: 'OK', pending: 'Pending', firing: 'Firing', resolved: 'Resolved' };

export function AlertStatePill({ state, testId }: { state: AnyState; testId?: string }) {
  const tone = state === 'firing' ? 'down' : state === 'pending' ? 'degraded' : state === 'resolved' || state === 'inactive' ? 'up' : 'unknown';
  return (
    <span className={`pill pill-${tone} pill-sm`} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{STATE_TEXT[state]}</span>
    </span>
  );
}

function Labels({ labels }: { labels: Record<string, string> }) {
  const rest = Object.entries(labels).filter(([k]) => !SHOWN_ELSEWHERE.has(k));
  if (rest.length === 0) return null;
  return (
    <ul className="labels" aria-label="Labels">
      {rest.map(([k, v]) => (
        <li key={k} className="label-chip">
          <span className="label-k">{k}</span>
          <span className="label-v">{v}</span>
        </li>
      ))}
    </ul>
  );
}

function sourceText(source: string): string {
  if (source.startsWith('rule:')) return 'Shipshape rule';
  if (source === 'prometheus') return 'Prometheus';
  if (source === 'alertmanager') return 'Alertmanager';
  if (source === 'pagerduty') return 'PagerDuty';
  return source;
}

// ---------- alert rows ----------

interface RowProps {
  alert: AlertInstance;
  notify?: NotifyAlert;
  silences: Map<string, Silence>;
  names: Map<string, string>;
  now: number;
  writable: boolean;
  onSilence: (a: AlertInstance) => void;
}

function AlertRow({ alert: a, notify, silences, names, now, writable, onSilence }: RowProps) {
  const service = a.labels.service;
  const name = a.labels.alertname ?? a.fingerprint;
  const summary = a.annotations.summary || a.annotations.description || a.annotations.message;
  const startedAt = a.state === 'firing' ? (a.firedAt ?? a.activeAt) : a.activeAt;
  const silencedBy = (notify?.silenced_by ?? []).map((id) => silences.get(id)).filter((s): s is Silence => !!s);
  const inhibitedBy = notify?.inhibited_by ?? [];
  return (
    <li className={`alert alert-${a.state}`} data-testid={`alert-${name}`}>
      <div className="alert-main">
        <div className="alert-head">
          <SeverityPill severity={a.labels.severity} />
          <span className="alert-name">{name}</span>
          {service && (
            <Link to={servicePath(service)} className="tag" title={`Open ${service}`}>
              {service}
            </Link>
          )}
          <AlertStatePill state={a.state} testId={`alert-state-${name}`} />
        </div>
        {summary && <div className="alert-summary">{summary}</div>}
        <div className="alert-meta">
          {a.valueText && (
            <span>
              Value <strong className="num">{a.valueText}</strong>
              {a.thresholdText && <span className="muted"> (threshold {a.thresholdText})</span>}
            </span>
          )}
          <span title={dateTime(startedAt)}>
            {a.state === 'firing' ? 'Firing' : a.state === 'pending' ? 'Pending' : 'Was active'} for {a.state === 'resolved' ? between(a.firedAt ?? a.activeAt, a.resolvedAt, now) : since(startedAt, now)}
          </span>
          <span className="muted">{sourceText(a.source)}</span>
          {a.expression && <code className="alert-expr">{a.expression}</code>}
          {a.generatorUrl && (
            <a href={a.generatorUrl} target="_blank" rel="noreferrer noopener">
              Source ↗
            </a>
          )}
        </div>
        <Labels labels={a.labels} />
        {silencedBy.length > 0 && (
          <div className="alert-muted">
            <MuteIcon />
            Silenced by <code>{silencedBy[0]!.match}</code> until {dateTime(silencedBy[0]!.endsAt)} · {silencedBy[0]!.createdBy}: “{silencedBy[0]!.comment}”
            {silencedBy.length > 1 && ` and ${plural(silencedBy.length - 1, 'more silence')}`}
          </div>
        )}
        {inhibitedBy.length > 0 && (
          <div className="alert-muted">
            <MuteIcon />
            Inhibited by {inhibitedBy.map((f) => names.get(f) ?? f.slice(0, 8)).join(', ')} (a more severe alert for the same service is firing)
          </div>
        )}
      </div>
      <div className="alert-actions">
        {a.state !== 'resolved' && silencedBy.length === 0 && (
          <button type="button" className="btn btn-secondary btn-sm" disabled={!writable} title={writable ? 'Mute notifications for this alert for a while' : READ_ONLY} onClick={() => onSilence(a)}>
            <MuteIcon />
            Silence
          </button>
        )}
      </div>
    </li>
  );
}

// ---------- rules ----------

function RulesCard({ now }: { now: number }) {
  const q = useAlertRules();
  const rules = q.data ?? [];
  const order: Record<AlertRuleStatus['state'], number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };
  const sorted = [...rules].sort((a, b) => order[a.state] - order[b.state] || a.name.localeCompare(b.name));
  return (
    <section className="card" aria-labelledby="rules-title">
      <div className="card-head">
        <h2 id="rules-title" className="card-title">
          Rules <span className="card-title-sub">· {rules.length} in shipshape.yaml</span>
        </h2>
      </div>
      <QueryState
        query={q}
        errorTitle="Could not load the rules"
        isEmpty={(d) => d.length === 0}
        empty={
          <EmptyState title="No alert rules">
            Add one line per alert to <code>shipshape.yaml</code>:
            <pre className="snippet">{`alerts:
  - name: high-error-rate
    when: error_rate(web) > 1% for 5m
    severity: P1
    summary: "{{ service }} error rate is {{ value }}"`}</pre>
          </EmptyState>
        }
      >
        {() => (
          <div className="table-wrap">
            <table className="table rules-table">
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Severity</th>
                  <th scope="col">State</th>
                  <th scope="col" className="num">
                    Last value
                  </th>
                  <th scope="col">Why</th>
                  <th scope="col">Evaluated</th>
                </tr>
              </thead>
              <tbody>
                {sorted.map((r) => (
                  <tr key={r.name} data-testid={`rule-${r.name}`}>
                    <td>
                      <div className="check-name">{r.name}</div>
                      <code className="rule-when">{r.when}</code>
                    </td>
                    <td>
                      <SeverityPill severity={r.severity} />
                    </td>
                    <td>
                      <AlertStatePill state={r.state} />
                      {r.state === 'firing' && r.firedAt && <div className="muted small">for {since(r.firedAt, now)}</div>}
                      {r.state === 'pending' && r.activeAt && <div className="muted small">for {since(r.activeAt, now)}</div>}
                    </td>
                    <td className="num">
                      <span className={r.conditionMet ? 'text-down' : undefined}>{r.valueText || '—'}</span>
                      {r.thresholdText && <div className="muted small">threshold {r.thresholdText}</div>}
                    </td>
                    <td className="td-reason">
                      <span className="muted small">{r.reason}</span>
                    </td>
                    <td className="nowrap">{r.lastEvaluation ? <time dateTime={r.lastEvaluation}>{ago(r.lastEvaluation, now)}</time> : <span className="muted">Not yet</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </section>
  );
}

// ---------- history ----------

function History({ now }: { now: number }) {
  const q = useInfiniteQuery({
    queryKey: [...alertsKeys.alerts, 'resolved'],
    queryFn: ({ pageParam, signal }) => alertsApi.alerts('resolved', pageParam, 50, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: 60_000,
  });
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <QueryState
      query={q}
      errorTitle="Could not load the history"
      isEmpty={() => items.length === 0}
      empty={<EmptyState title="No resolved alerts yet">Alerts that fired and resolved are listed here, newest first.</EmptyState>}
    >
      {() => (
        <>
          <div className="table-wrap">
            <table className="table history-table">
              <thead>
                <tr>
                  <th scope="col">Alert</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Fired</th>
                  <th scope="col">Resolved</th>
                  <th scope="col" className="num">
                    Lasted
                  </th>
                  <th scope="col" className="num">
                    Value
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={`${a.id ?? a.fingerprint}-${a.resolvedAt}`}>
                    <td>
                      <div className="check-name">{a.labels.alertname ?? a.fingerprint}</div>
                      {a.annotations.summary && <div className="muted small">{a.annotations.summary}</div>}
                      {a.labels.service && (
                        <Link to={servicePath(a.labels.service)} className="tag">
                          {a.labels.service}
                        </Link>
                      )}
                    </td>
                    <td>
                      <SeverityPill severity={a.labels.severity} />
                    </td>
                    <td className="nowrap">{a.firedAt ? <time dateTime={a.firedAt} title={ago(a.firedAt, now)}>{dateTime(a.firedAt)}</time> : <span className="muted">Never fired</span>}</td>
                    <td className="nowrap">{a.resolvedAt ? <time dateTime={a.resolvedAt} title={ago(a.resolvedAt, now)}>{dateTime(a.resolvedAt)}</time> : '—'}</td>
                    <td className="num">{between(a.firedAt ?? a.activeAt, a.resolvedAt, now)}</td>
                    <td className="num">{a.valueText || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <LoadMore q={q} label="Load older alerts" />
        </>
      )}
    </QueryState>
  );
}

// ---------- page ----------

const TAB_LABEL: Record<AlertTab, string> = { firing: 'Firing', pending: 'Pending', silenced: 'Silenced', history: 'History' };

export function AlertsPage({ tab }: { tab: AlertTab }) {
  const now = useNow(5_000);
  const me = useMe();
  const writable = canWrite(me.data);
  const firing = useAlerts('firing');
  const pending = useAlerts('pending');
  const notify = useNotifyAlerts();
  const silences = useSilences();
  const [silencing, setSilencing] = useState<AlertInstance | null>(null);

  const byFingerprint = useMemo(() => new Map((notify.data ?? []).map((n) => [n.fingerprint, n])), [notify.data]);
  const silenceById = useMemo(() => new Map((silences.data ?? []).map((s) => [s.id, s])), [silences.data]);
  const names = useMemo(() => new Map([...(firing.data ?? []), ...(pending.data ?? [])].map((a) => [a.fingerprint, a.labels.alertname ?? a.fingerprint])), [firing.data, pending.data]);

  const muted = (a: AlertInstance) => !!byFingerprint.get(a.fingerprint)?.suppressed;
  const firingLoud = (firing.data ?? []).filter((a) => !muted(a));
  const suppressed = [...(firing.data ?? []), ...(pending.data ?? [])].filter(muted);
  const pendingLoud = (pending.data ?? []).filter((a) => !muted(a));
  const counts: Record<AlertTab, number | null> = {
    firing: firing.data ? firingLoud.length : null,
    pending: pending.data ? pendingLoud.length : null,
    silenced: firing.data && notify.data ? suppressed.length : null,
    history: null,
  };

  useDocumentTitle(`${counts.firing ? `(${counts.firing} firing) ` : ''}Alerts · Shipshape`);

  const severityOrder = (a: AlertInstance) => (/^P[0-3]$/.test(a.labels.severity ?? '') ? Number(a.labels.severity!.slice(1)) : 9);
  const sortAlerts = (list: AlertInstance[]) => [...list].sort((a, b) => severityOrder(a) - severityOrder(b) || Date.parse(b.firedAt ?? b.activeAt) - Date.parse(a.firedAt ?? a.activeAt));

  const renderList = (list: AlertInstance[], q: QueryLike<unknown>, empty: ReactNode) => (
    <QueryState
      query={q}
      errorTitle="Could not load alerts"
      loading={
        <div className="pad">
          <Skeleton h={16} />
          <Skeleton h={14} w="60%" />
          <Skeleton h={16} />
        </div>
      }
      isEmpty={() => list.length === 0}
      empty={empty}
    >
      {() => (
        <ul className="alerts">
          {sortAlerts(list).map((a) => (
            <AlertRow key={a.fingerprint} alert={a} notify={byFingerprint.get(a.fingerprint)} silences={silenceById} names={names} now={now} writable={writable} onSilence={setSilencing} />
          ))}
        </ul>
      )}
    </QueryState>
  );

  const sub = firing.data && pending.data ? `${plural(firingLoud.length, 'alert')} firing · ${pendingLoud.length} pending${suppressed.length ? ` · ${suppressed.length} silenced` : ''}` : null;

  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Alerts</h1>
          </div>
          <p className="svc-page-sub muted" data-testid="alerts-summary">
            {sub ?? <Skeleton w={240} h={12} />}
          </p>
        </div>
        {!writable && me.data && <p className="hint">Read-only token: you can look, not silence.</p>}
      </header>

      <section className="card" aria-label="Alerts">
        <nav className="tabs" aria-label="Alert states">
          {ALERT_TABS.map((t) => (
            <Link key={t} to={alertsPath(t)} className={`tab tab-${t}`} aria-current={t === tab ? 'page' : undefined} data-testid={`tab-${t}`}>
              {TAB_LABEL[t]}
              {counts[t] !== null && <span className={`tab-count${t === 'firing' && counts[t] ? ' tab-count-hot' : ''}`}>{counts[t]}</span>}
            </Link>
          ))}
        </nav>
        {tab === 'firing' &&
          renderList(
            firingLoud,
            firing,
            <EmptyState
              title="Nothing is firing"
              icon={
                <svg viewBox="0 0 24 24" width="22" height="22">
                  <path d="M6 12.5l4 4L18 8" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
                </svg>
              }
            >
              {suppressed.length > 0 ? `${plural(suppressed.length, 'alert')} firing but silenced; see the Silenced tab.` : 'All rules are quiet. Alerts from your rules and from Prometheus or Alertmanager show up here the moment they fire.'}
            </EmptyState>,
          )}
        {tab === 'pending' &&
          renderList(pendingLoud, pending, <EmptyState title="Nothing pending">An alert is pending while its condition holds but its “for” duration has not passed yet.</EmptyState>)}
        {tab === 'silenced' &&
          renderList(suppressed, { data: firing.data && notify.data, isError: firing.isError || notify.isError, error: firing.error ?? notify.error, refetch: () => Promise.all([firing.refetch(), notify.refetch()]) }, <EmptyState title="No silenced alerts">Alerts muted by a silence or inhibited by a more severe alert are listed here.</EmptyState>)}
        {tab === 'history' && <History now={now} />}
      </section>

      {tab === 'silenced' && (
        <QueryState query={silences} errorTitle="Could not load silences" loading={null}>
          {(list) => <SilenceList silences={list} now={now} writable={writable} />}
        </QueryState>
      )}

      <RulesCard now={now} />

      {silencing && <SilenceDialog alert={silencing} onClose={() => setSilencing(null)} />}
    </main>
  );
}

export default AlertsPage;
