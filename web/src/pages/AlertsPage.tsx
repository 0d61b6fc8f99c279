import { useEffect, useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, errorMessage } from '../lib/api.ts';
import { ago, between, dateTime, plural, since } from '../lib/format.ts';
import { useDocumentTitle, useNow } from '../lib/hooks.ts';
import { useAlertRules, useAlerts, useNotifyAlerts, useSilences } from '../lib/queries.ts';
import { ALERT_TABS, Link, alertsPath, servicePath, type AlertTab } from '../lib/router.tsx';
import { canWrite, useMe } from '../lib/session.ts';
import type { AlertInstance, AlertRuleStatus, Matcher, NotifyAlert, Silence } from '../lib/types.ts';
import { EmptyState, ErrorState, LoadMore, Skeleton, Spinner } from '../components/Feedback.tsx';
import { SeverityPill } from '../components/Severity.tsx';

const READ_ONLY = 'Your token has read scope only: silences need a token with write scope';

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

// ---------- silence dialog ----------

const DURATIONS = ['30m', '1h', '2h', '4h', '1d', '1w'] as const;

function SilenceDialog({ alert, onClose }: { alert: AlertInstance | NotifyAlert; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const qc = useQueryClient();
  const titleId = useId();
  const commentId = useId();
  const customId = useId();
  const rank = (k: string) => ['alertname', 'service', 'severity'].indexOf(k) >>> 0;
  const entries = Object.entries(alert.labels).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  // Alertmanager pre-fills every label; the ones that identify this alert are what people keep
  const [picked, setPicked] = useState<Set<string>>(() => new Set(entries.filter(([k]) => k === 'alertname' || k === 'service').map(([k]) => k)));
  const [duration, setDuration] = useState<string>('2h');
  const [custom, setCustom] = useState('');
  const [comment, setComment] = useState('');
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  const create = useMutation({
    mutationFn: () => {
      const matchers: Matcher[] = entries.filter(([k]) => picked.has(k)).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
      return api.createSilence({ matchers, duration: custom.trim() || duration, comment: comment.trim() });
    },
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['silences'] });
      void qc.invalidateQueries({ queryKey: ['notify-alerts'] });
      void qc.invalidateQueries({ queryKey: ['alerts'] });
      ref.current?.close();
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!comment.trim() || picked.size === 0) return;
    create.mutate();
  };

  const commentMissing = touched && !comment.trim();
  const noMatchers = touched && picked.size === 0;
  const err = create.error;

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      <form onSubmit={submit} noValidate>
        <div className="dialog-head">
          <h2 id={titleId}>Silence “{alert.labels.alertname ?? 'alert'}”</h2>
          <p className="muted">Notifications for matching alerts stop until the silence ends. The alert itself keeps its state.</p>
        </div>
        <div className="dialog-body">
          <fieldset className="field">
            <legend className="label">Match alerts with</legend>
            <ul className="matchers">
              {entries.map(([k, v]) => (
                <li key={k}>
                  <label className="check-toggle matcher">
                    <input
                      type="checkbox"
                      checked={picked.has(k)}
                      onChange={(e) =>
                        setPicked((prev) => {
                          const next = new Set(prev);
                          if (e.target.checked) next.add(k);
                          else next.delete(k);
                          return next;
                        })
                      }
                    />
                    <code>
                      {k}=&quot;{v}&quot;
                    </code>
                  </label>
                </li>
              ))}
            </ul>
            {noMatchers && <div className="form-error">Pick at least one label, or the silence would match every alert.</div>}
          </fieldset>
          <div className="field">
            <span className="label" id={`${customId}-l`}>
              For
            </span>
            <div className="duration-row">
              <div className="segmented" role="group" aria-labelledby={`${customId}-l`}>
                {DURATIONS.map((d) => (
                  <button
                    key={d}
                    type="button"
                    aria-pressed={!custom.trim() && duration === d}
                    onClick={() => {
                      setDuration(d);
                      setCustom('');
                    }}
                  >
                    {d}
                  </button>
                ))}
              </div>
              <input id={customId} className="input input-sm input-duration" placeholder="or e.g. 90m" aria-label="Custom duration" value={custom} onChange={(e) => setCustom(e.target.value)} />
            </div>
          </div>
          <div className="field">
            <label className="label" htmlFor={commentId}>
              Comment
            </label>
            <textarea
              id={commentId}
              className={`input textarea${commentMissing ? ' input-invalid' : ''}`}
              rows={3}
              placeholder="Why, and who is on it: “Deploying the fix, INC-42”"
              value={comment}
              onChange={(e) => setComment(e.target.value)}
              aria-invalid={commentMissing || undefined}
              data-testid="silence-comment"
            />
            {commentMissing && <div className="form-error">Say why: the comment is shown to everyone who sees the silence.</div>}
          </div>
          {err && (
            <div className="form-error" role="alert">
              {err instanceof ApiError && err.status === 403 ? 'Your token may not create silences (write scope needed).' : errorMessage(err)}
            </div>
          )}
        </div>
        <div className="dialog-foot">
          <button type="button" className="btn btn-secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? (
              <>
                <Spinner label="Creating" /> Silencing…
              </>
            ) : (
              `Silence for ${custom.trim() || duration}`
            )}
          </button>
        </div>
      </form>
    </dialog>
  );
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

function MuteIcon() {
  return (
    <svg width="13" height="13" viewBox="0 0 16 16" aria-hidden="true" className="icon">
      <path d="M3 6h2.5L9 3v10L5.5 10H3z" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" />
      <path d="M11.5 6l3 4M14.5 6l-3 4" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
    </svg>
  );
}

// ---------- silences ----------

function SilenceList({ silences, now, writable }: { silences: Silence[]; now: number; writable: boolean }) {
  const qc = useQueryClient();
  const [showExpired, setShowExpired] = useState(false);
  const expire = useMutation({
    mutationFn: (id: string) => api.expireSilence(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['silences'] });
      void qc.invalidateQueries({ queryKey: ['notify-alerts'] });
    },
  });
  const current = silences.filter((s) => s.status.state !== 'expired');
  const expired = silences.filter((s) => s.status.state === 'expired');
  const shown = showExpired ? [...current, ...expired] : current;
  return (
    <section className="card" aria-labelledby="silences-title">
      <div className="card-head">
        <h2 id="silences-title" className="card-title">
          Silences <span className="card-title-sub">· {current.length} active or scheduled</span>
        </h2>
        {expired.length > 0 && (
          <label className="check-toggle">
            <input type="checkbox" checked={showExpired} onChange={(e) => setShowExpired(e.target.checked)} />
            Show {plural(expired.length, 'expired silence')}
          </label>
        )}
      </div>
      {expire.isError && (
        <div className="banner banner-error" role="alert">
          Could not expire the silence: {errorMessage(expire.error)}
        </div>
      )}
      {shown.length === 0 ? (
        <EmptyState title="No active silences">
          Silence a firing alert from the Firing tab, or with <code>shipshape silence add alertname=… --for 2h</code>.
        </EmptyState>
      ) : (
        <ul className="silences">
          {shown.map((s) => {
            const state = s.status.state;
            return (
              <li key={s.id} className={`silence silence-${state}`} data-testid="silence">
                <div className="silence-main">
                  <div className="silence-head">
                    <span className={`pill pill-sm pill-${state === 'active' ? 'degraded' : 'unknown'}`}>
                      <span className="pill-dot" aria-hidden="true" />
                      {state === 'active' ? 'Active' : state === 'pending' ? 'Scheduled' : 'Expired'}
                    </span>
                    <ul className="labels labels-inline">
                      {s.matchers.map((m) => (
                        <li key={`${m.name}${m.value}`} className="label-chip">
                          <span className="label-k">{m.name}</span>
                          <span className="label-op">{m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!='}</span>
                          <span className="label-v">{m.value}</span>
                        </li>
                      ))}
                    </ul>
                  </div>
                  <div className="silence-comment">“{s.comment}”</div>
                  <div className="alert-meta">
                    <span>by {s.createdBy}</span>
                    {state === 'expired' ? (
                      <span title={dateTime(s.endsAt)}>ended {ago(s.endsAt, now)}</span>
                    ) : state === 'pending' ? (
                      <span title={dateTime(s.startsAt)}>starts {ago(s.startsAt, now)}</span>
                    ) : (
                      <span title={dateTime(s.endsAt)}>ends {ago(s.endsAt, now)}</span>
                    )}
                    <span className="muted mono small">{s.id.slice(0, 8)}</span>
                  </div>
                </div>
                {state !== 'expired' && (
                  <button
                    type="button"
                    className="btn btn-secondary btn-sm"
                    disabled={!writable || (expire.isPending && expire.variables === s.id)}
                    title={writable ? 'End this silence now' : READ_ONLY}
                    onClick={() => expire.mutate(s.id)}
                  >
                    {expire.isPending && expire.variables === s.id ? 'Expiring…' : 'Expire'}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
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
      {q.isPending ? (
        <div className="pad">
          <Skeleton h={14} />
          <Skeleton h={14} w="70%" />
        </div>
      ) : q.isError ? (
        <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load the rules" />
      ) : rules.length === 0 ? (
        <EmptyState title="No alert rules">
          Add one line per alert to <code>shipshape.yaml</code>:
          <pre className="snippet">{`alerts:
  - name: high-error-rate
    when: error_rate(web) > 1% for 5m
    severity: P1
    summary: "{{ service }} error rate is {{ value }}"`}</pre>
        </EmptyState>
      ) : (
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
    </section>
  );
}

// ---------- history ----------

function History({ now }: { now: number }) {
  const q = useInfiniteQuery({
    queryKey: ['alerts', 'resolved'],
    queryFn: ({ pageParam, signal }) => api.alerts('resolved', pageParam, 50, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: 60_000,
  });
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  if (q.isPending) {
    return (
      <div className="pad">
        <Skeleton h={14} />
        <Skeleton h={14} w="70%" />
      </div>
    );
  }
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load the history" />;
  if (items.length === 0) return <EmptyState title="No resolved alerts yet">Alerts that fired and resolved are listed here, newest first.</EmptyState>;
  return (
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

  const renderList = (list: AlertInstance[], q: { isPending: boolean; isError: boolean; error: unknown; refetch: () => unknown }, empty: ReactNode) => {
    if (q.isPending) {
      return (
        <div className="pad">
          <Skeleton h={16} />
          <Skeleton h={14} w="60%" />
          <Skeleton h={16} />
        </div>
      );
    }
    if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load alerts" />;
    if (list.length === 0) return empty;
    return (
      <ul className="alerts">
        {sortAlerts(list).map((a) => (
          <AlertRow key={a.fingerprint} alert={a} notify={byFingerprint.get(a.fingerprint)} silences={silenceById} names={names} now={now} writable={writable} onSilence={setSilencing} />
        ))}
      </ul>
    );
  };

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
          renderList(suppressed, { ...firing, isPending: firing.isPending || notify.isPending, isError: firing.isError || notify.isError, error: firing.error ?? notify.error }, <EmptyState title="No silenced alerts">Alerts muted by a silence or inhibited by a more severe alert are listed here.</EmptyState>)}
        {tab === 'history' && <History now={now} />}
      </section>

      {tab === 'silenced' && (silences.data ? <SilenceList silences={silences.data} now={now} writable={writable} /> : silences.isError ? <ErrorState error={silences.error} onRetry={() => void silences.refetch()} title="Could not load silences" /> : null)}

      <RulesCard now={now} />

      {silencing && <SilenceDialog alert={silencing} onClose={() => setSilencing(null)} />}
    </main>
  );
}

export default AlertsPage;
