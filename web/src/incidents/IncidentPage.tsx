import { lazy, Suspense, useId, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { servicePath } from '../checks/index.tsx';
import { useEscalationsOf } from '../oncall/api.ts';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime, duration, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Spinner } from '../shell/ui/Feedback.tsx';
import { LoadingLines, QueryState } from '../shell/ui/QueryState.tsx';
import { incidentsApi, incidentsKeys, useSeverities } from './api.ts';
import { actorName, IncidentStatePill, isOpen, SeverityBadge, STATUS_TEXT, Timers } from './bits.tsx';
import { TimelineList } from './TimelineList.tsx';
import type { ActionItem, IncidentDetail, Role, Roles, UpdateStatus } from './types.ts';
import './incidents.css';

const Postmortem = lazy(() => import('./Postmortem.tsx'));

const READ_ONLY = 'Your token has read scope only: changing an incident needs write scope';
const UPDATE_STATUSES: readonly UpdateStatus[] = ['investigating', 'identified', 'monitoring', 'resolved'];
const ROLE_TEXT: Record<Role, string> = { commander: 'Commander', communications: 'Communications', scribe: 'Scribe' };

function useIncidentMutation<V>(id: number, fn: (v: V) => Promise<unknown>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: incidentsKeys.incident(id) });
      void qc.invalidateQueries({ queryKey: incidentsKeys.all });
    },
  });
}

function problemText(err: unknown): string {
  return err instanceof ApiError && err.status === 403 ? 'Your token may not change incidents (write scope needed).' : errorMessage(err);
}

// ---------- header and actions ----------

function Actions({ inc, writable, onCompose }: { inc: IncidentDetail; writable: boolean; onCompose: (k: 'update' | 'note') => void }) {
  const act = useIncidentMutation(inc.id, (a: 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'reopen') => incidentsApi.act(inc.id, a));
  const s = inc.state;
  const btn = (a: 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'reopen', label: string, primary = false) => (
    <button
      type="button"
      className={`btn ${primary ? 'btn-primary' : 'btn-secondary'}`}
      disabled={!writable || act.isPending}
      title={writable ? undefined : READ_ONLY}
      onClick={() => act.mutate(a)}
      data-testid={`action-${a}`}
    >
      {act.isPending && act.variables === a ? <Spinner label={label} /> : null}
      {label}
    </button>
  );
  return (
    <div className="inc-actions">
      <div className="inc-actions-row">
        {s === 'triggered' && btn('acknowledge', 'Acknowledge', true)}
        {(s === 'triggered' || s === 'acknowledged') && btn('mitigate', 'Mitigate')}
        {isOpen(s) && btn('resolve', 'Resolve')}
        {s === 'resolved' && btn('close', 'Close (post-mortem done)')}
        {s === 'resolved' && btn('reopen', 'Re-open')}
        {(isOpen(s) || s === 'resolved') && (
          <button type="button" className="btn btn-secondary" disabled={!writable} title={writable ? undefined : READ_ONLY} onClick={() => onCompose('update')} data-testid="action-update">
            Post update
          </button>
        )}
        <button type="button" className="btn btn-ghost" disabled={!writable} title={writable ? undefined : READ_ONLY} onClick={() => onCompose('note')} data-testid="action-note">
          Add note
        </button>
      </div>
      {act.isError && (
        <div className="form-error" role="alert">
          {problemText(act.error)}
        </div>
      )}
    </div>
  );
}

function SeverityPicker({ inc, writable }: { inc: IncidentDetail; writable: boolean }) {
  const levels = useSeverities().data ?? [];
  const edit = useIncidentMutation(inc.id, (severity: string) => incidentsApi.edit(inc.id, { severity }));
  if (!writable || inc.state === 'merged' || inc.state === 'closed' || inc.state === 'declined' || levels.length === 0) return null;
  return (
    <label className="inc-sev-select">
      <span className="visually-hidden">Change severity</span>
      <select className="select" value={inc.severity} onChange={(e) => edit.mutate(e.target.value)} disabled={edit.isPending} data-testid="change-severity" title="Change severity">
        {levels.map((l) => (
          <option key={l.name} value={l.name}>
            {l.name}
            {l.description ? ` · ${l.description.split(':')[0]}` : ''}
          </option>
        ))}
      </select>
      {edit.isError && <span className="form-error">{problemText(edit.error)}</span>}
    </label>
  );
}

// ---------- composer: status update or note ----------

function Composer({ inc, kind, onDone }: { inc: IncidentDetail; kind: 'update' | 'note'; onDone: () => void }) {
  const msgId = useId();
  const [status, setStatus] = useState<UpdateStatus>(inc.status && inc.status !== 'resolved' ? inc.status : 'investigating');
  const [message, setMessage] = useState('');
  const [touched, setTouched] = useState(false);
  const send = useIncidentMutation(inc.id, () => (kind === 'update' ? incidentsApi.postUpdate(inc.id, status, message.trim()) : incidentsApi.addNote(inc.id, message.trim())));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!message.trim()) return;
    send.mutate(undefined, {
      onSuccess: () => {
        setMessage('');
        setTouched(false);
        onDone();
      },
    });
  };
  const missing = touched && !message.trim();
  const statuses = inc.state === 'resolved' ? (['resolved'] as const) : UPDATE_STATUSES;
  return (
    <form className="card inc-composer" onSubmit={submit} noValidate data-testid={`composer-${kind}`}>
      <div className="card-head">
        <h2 className="card-title">{kind === 'update' ? 'Post a status update' : 'Add a note'}</h2>
        <span className="muted small">{kind === 'update' ? 'Shown on the status page and sent to subscribers' : 'Internal: on the timeline only'}</span>
      </div>
      <div className="pad">
        {kind === 'update' && (
          <div className="segmented inc-status-picker" role="radiogroup" aria-label="Status">
            {statuses.map((s) => (
              <button key={s} type="button" role="radio" aria-checked={status === s} aria-pressed={status === s} onClick={() => setStatus(s)} data-testid={`update-status-${s}`}>
                {STATUS_TEXT[s]}
              </button>
            ))}
          </div>
        )}
        <label className="visually-hidden" htmlFor={msgId}>
          Message
        </label>
        <textarea
          id={msgId}
          className={`input inc-textarea${missing ? ' input-invalid' : ''}`}
          rows={3}
          maxLength={10_000}
          placeholder={kind === 'update' ? 'What users should know: what is affected, what we are doing, when the next update comes' : 'What was tried, what was seen'}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
          aria-invalid={missing || undefined}
          data-testid="composer-message"
          autoFocus
        />
        {missing && <div className="form-error">Write a message first.</div>}
        {send.isError && (
          <div className="form-error" role="alert">
            {problemText(send.error)}
          </div>
        )}
        <div className="inc-composer-foot">
          {kind === 'update' && status !== inc.status && (status === 'monitoring' || status === 'resolved' || (status === 'identified' && inc.state === 'triggered') || (status === 'investigating' && inc.state === 'triggered')) && (
            <span className="muted small">
              {status === 'resolved' ? 'This resolves the incident.' : status === 'monitoring' ? 'This marks the incident mitigated.' : 'This acknowledges the incident.'}
            </span>
          )}
          <button type="button" className="btn btn-ghost" onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={send.isPending} data-testid="composer-submit">
            {send.isPending ? <Spinner label="Posting" /> : null}
            {kind === 'update' ? `Post “${STATUS_TEXT[status]}”` : 'Add note'}
          </button>
        </div>
      </div>
    </form>
  );
}

// ---------- side panels ----------

function RolesCard({ inc, writable }: { inc: IncidentDetail; writable: boolean }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState<Roles>(inc.roles);
  const save = useIncidentMutation(inc.id, (r: Roles) => incidentsApi.setRoles(inc.id, { commander: r.commander?.trim() || null, communications: r.communications?.trim() || null, scribe: r.scribe?.trim() || null }));
  const roles = Object.keys(ROLE_TEXT) as Role[];
  return (
    <section className="card" aria-labelledby="roles-title">
      <div className="card-head">
        <h2 id="roles-title" className="card-title">
          Roles
        </h2>
        {writable && !editing && inc.state !== 'merged' && (
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            onClick={() => {
              setDraft(inc.roles);
              setEditing(true);
            }}
            data-testid="edit-roles"
          >
            Edit
          </button>
        )}
      </div>
      {editing ? (
        <form
          className="pad"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(draft, { onSuccess: () => setEditing(false) });
          }}
        >
          {roles.map((r) => (
            <label key={r} className="inc-role-edit">
              <span className="label">{ROLE_TEXT[r]}</span>
              <input className="input input-sm" value={draft[r] ?? ''} placeholder="Nobody" maxLength={200} onChange={(e) => setDraft({ ...draft, [r]: e.target.value })} data-testid={`role-${r}`} />
            </label>
          ))}
          {save.isError && <div className="form-error">{problemText(save.error)}</div>}
          <div className="inc-composer-foot">
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary btn-sm" disabled={save.isPending}>
              Save roles
            </button>
          </div>
        </form>
      ) : (
        <dl className="inc-dl">
          {roles.map((r) => (
            <div key={r}>
              <dt>{ROLE_TEXT[r]}</dt>
              <dd data-testid={`role-value-${r}`}>{inc.roles[r] ?? <span className="muted">Unassigned</span>}</dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

function TargetsCard({ inc, now }: { inc: IncidentDetail; now: number }) {
  return (
    <section className="card" aria-labelledby="targets-title">
      <div className="card-head">
        <h2 id="targets-title" className="card-title">
          Response targets <span className="card-title-sub">· {inc.severity}</span>
        </h2>
      </div>
      <div className="pad">
        {inc.targets.length === 0 ? <span className="muted small">No targets for this severity or state.</span> : <Timers incident={inc} now={now} />}
        {inc.breaches.length > 0 && (
          <ul className="inc-breaches">
            {inc.breaches.map((b) => (
              <li key={`${b.target}-${b.due_at}`}>
                Missed <strong>{b.target.replace('_', ' ')}</strong> (due {dateTime(b.due_at)}), recorded {ago(b.at, now)}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function EscalationCard({ inc, now }: { inc: IncidentDetail; now: number }) {
  const q = useEscalationsOf(inc.id);
  if (!q.data || q.data.length === 0) return null;
  const e = q.data[q.data.length - 1]!;
  return (
    <section className="card" aria-labelledby="esc-title">
      <div className="card-head">
        <h2 id="esc-title" className="card-title">
          Escalation <span className="card-title-sub">· {e.policy}</span>
        </h2>
        <span className={`pill pill-sm pill-${e.state === 'active' ? 'degraded' : 'unknown'}`}>
          <span className="pill-dot" aria-hidden="true" />
          {e.state === 'active' ? 'Paging' : e.state === 'done' ? 'All steps ran' : 'Stopped'}
        </span>
      </div>
      <div className="pad small">
        {e.pages.length === 0 ? (
          <span className="muted">Nobody paged yet.</span>
        ) : (
          <ul className="inc-pages">
            {e.pages.map((p) => (
              <li key={p.id}>
                <strong>{p.person}</strong> <span className="muted">via {p.via} · step {p.step}{p.round > 1 ? `, round ${p.round}` : ''} · {ago(p.sent_at, now)}</span>
              </li>
            ))}
          </ul>
        )}
        {e.state === 'active' && e.next_at && <span className="muted">Next step {e.next_step} {ago(e.next_at, now)}</span>}
        {e.stop_reason && <span className="muted">Stopped: {e.stop_reason}</span>}
      </div>
    </section>
  );
}

function ActionItems({ inc, writable }: { inc: IncidentDetail; writable: boolean }) {
  const items = inc.postmortem?.action_items ?? [];
  const [title, setTitle] = useState('');
  const [owner, setOwner] = useState('');
  const [due, setDue] = useState('');
  const save = useIncidentMutation(inc.id, (next: ActionItem[]) => incidentsApi.setPostmortem(inc.id, { action_items: next }));
  const today = new Date().toISOString().slice(0, 10);
  const open = items.filter((a) => !a.done).length;
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return;
    save.mutate([...items, { title: title.trim(), ...(owner.trim() ? { owner: owner.trim() } : {}), ...(due ? { due } : {}), done: false }], {
      onSuccess: () => {
        setTitle('');
        setOwner('');
        setDue('');
      },
    });
  };
  return (
    <section className="card" aria-labelledby="ai-title">
      <div className="card-head">
        <h2 id="ai-title" className="card-title">
          Action items <span className="card-title-sub">· {open} open</span>
          {inc.action_items_overdue > 0 && <span className="inc-overdue" data-testid="action-items-overdue">{inc.action_items_overdue} overdue</span>}
        </h2>
      </div>
      {items.length === 0 ? (
        <p className="pad muted small">Follow-ups from the post-mortem, each with an owner and a due date. They stay here until done.</p>
      ) : (
        <ul className="inc-ai">
          {items.map((a, i) => {
            const overdue = !a.done && !!a.due && a.due < today;
            return (
              <li key={`${i}-${a.title}`} className={`inc-ai-item${a.done ? ' inc-ai-done' : ''}`} data-testid="action-item">
                <input
                  type="checkbox"
                  checked={!!a.done}
                  disabled={!writable || save.isPending}
                  aria-label={`Done: ${a.title}`}
                  onChange={(e) => save.mutate(items.map((x, j) => (j === i ? { ...x, done: e.target.checked } : x)))}
                />
                <div>
                  <div className="inc-ai-title">{a.title}</div>
                  <div className="muted small">
                    {a.owner ?? 'No owner'}
                    {a.due && (
                      <>
                        {' · due '}
                        <span className={overdue ? 'text-down' : undefined}>{a.due}</span>
                      </>
                    )}
                    {overdue && <span className="inc-overdue">Overdue</span>}
                  </div>
                </div>
              </li>
            );
          })}
        </ul>
      )}
      {writable && inc.state !== 'merged' && (
        <form className="inc-ai-add" onSubmit={add}>
          <input className="input input-sm" placeholder="New action item" aria-label="Action item" value={title} maxLength={500} onChange={(e) => setTitle(e.target.value)} />
          <div className="inc-ai-add-row">
            <input className="input input-sm" placeholder="Owner" aria-label="Owner" value={owner} maxLength={200} onChange={(e) => setOwner(e.target.value)} />
            <input className="input input-sm" type="date" aria-label="Due date" value={due} onChange={(e) => setDue(e.target.value)} />
            <button type="submit" className="btn btn-secondary btn-sm" disabled={!title.trim() || save.isPending}>
              Add
            </button>
          </div>
          {save.isError && <div className="form-error">{problemText(save.error)}</div>}
        </form>
      )}
    </section>
  );
}

// ---------- timeline tabs ----------

type Tab = 'timeline' | 'changes' | 'postmortem';
const WINDOWS = ['15m', '1h', '6h', '24h'] as const;

function TimelineCard({ inc, writable }: { inc: IncidentDetail; writable: boolean }) {
  const [tab, setTab] = useState<Tab>('timeline');
  const [window, setWindow] = useState<(typeof WINDOWS)[number]>('1h');
  const tl = useQuery({ queryKey: incidentsKeys.timeline(inc.id), queryFn: ({ signal }) => incidentsApi.timeline(inc.id, signal), enabled: tab === 'timeline' });
  const ch = useQuery({ queryKey: [...incidentsKeys.changes(inc.id), window], queryFn: ({ signal }) => incidentsApi.changes(inc.id, window, signal), enabled: tab === 'changes' });
  const tabs: { key: Tab; label: string }[] = [
    { key: 'timeline', label: 'Timeline' },
    { key: 'changes', label: `What changed in the ${window === '1h' ? 'hour' : window} before` },
    { key: 'postmortem', label: 'Post-mortem' },
  ];
  return (
    <section className="card" aria-label="Timeline">
      <div className="inc-tabs" role="tablist">
        {tabs.map((t) => (
          <button key={t.key} type="button" role="tab" aria-selected={tab === t.key} className="inc-tab" onClick={() => setTab(t.key)} data-testid={`tab-${t.key}`}>
            {t.label}
            {t.key === 'timeline' && tl.data && <span className="inc-count">{tl.data.items.length}</span>}
          </button>
        ))}
      </div>
      {tab === 'timeline' && (
        <QueryState query={tl} errorTitle="Could not load the timeline" isEmpty={(d) => d.items.length === 0} empty={<EmptyState title="Nothing on the timeline yet" />}>
          {(d) => (
            <>
              <TimelineList events={d.items} testId="timeline" />
              {d.truncated && <p className="pad muted small">The timeline shows the latest {d.items.length} events of a busier window.</p>}
            </>
          )}
        </QueryState>
      )}
      {tab === 'changes' && (
        <>
          <div className="inc-changes-bar">
            <span className="muted small">
              Events of {inc.services.length ? inc.services.join(', ') : 'the affected services'} before {inc.ref} opened ({dateTime(inc.opened_at)}): deploys, check and alert changes, new errors.
            </span>
            <div className="segmented" role="group" aria-label="Window">
              {WINDOWS.map((w) => (
                <button key={w} type="button" aria-pressed={w === window} onClick={() => setWindow(w)}>
                  {w}
                </button>
              ))}
            </div>
          </div>
          {inc.services.length === 0 && inc.alerts.length === 0 ? (
            <EmptyState title="No affected services">Name the affected services and this view shows what happened to them before the incident.</EmptyState>
          ) : (
            <QueryState query={ch} errorTitle="Could not load the changes" isEmpty={(d) => d.items.length === 0} empty={<EmptyState title={`Nothing changed in the ${window} before`}>No deploys, check or alert changes, or new errors for these services in that window.</EmptyState>}>
              {(d) => <TimelineList events={d.items} testId="changes" />}
            </QueryState>
          )}
        </>
      )}
      {tab === 'postmortem' && (
        <Suspense fallback={<LoadingLines lines={4} />}>
          <Postmortem inc={inc} writable={writable} />
        </Suspense>
      )}
    </section>
  );
}

// ---------- the page ----------

export function IncidentPage({ id }: { id: number }) {
  const now = useNow(5_000);
  const me = useMe();
  const writable = canWrite(me.data);
  const [compose, setCompose] = useState<'update' | 'note' | null>(null);
  const q = useQuery({ queryKey: incidentsKeys.incident(id), queryFn: ({ signal }) => incidentsApi.get(id, signal), refetchInterval: 30_000 });
  useDocumentTitle(q.data ? `${q.data.ref} ${q.data.title} · Shipshape` : `INC-${id} · Shipshape`);

  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/incidents">Incidents</Link>
        <span className="crumb-sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page">INC-{id}</span>
      </nav>
      <QueryState
        query={q}
        errorTitle="Could not load the incident"
        notFound={
          <section className="card">
            <EmptyState title={`No incident INC-${id}`}>
              <Link to="/incidents">See all incidents</Link>
            </EmptyState>
          </section>
        }
      >
        {(inc) => {
          const lastUpdate = [...inc.updates].reverse().find((u) => u.kind === 'update');
          return (
            <>
              <header className="inc-head">
                <div className="inc-head-top">
                  <SeverityBadge severity={inc.severity} testId="incident-severity" />
                  <span className="inc-ref mono">{inc.ref}</span>
                  <IncidentStatePill state={inc.state} testId="incident-state" />
                  {inc.status && (
                    <span className="inc-status-text" data-testid="incident-status">
                      {STATUS_TEXT[inc.status]}
                    </span>
                  )}
                  <SeverityPicker inc={inc} writable={writable} />
                </div>
                <h1 className="inc-h1" data-testid="incident-title">
                  {inc.title}
                </h1>
                <div className="inc-head-meta">
                  <span title={dateTime(inc.opened_at)}>
                    Opened {ago(inc.opened_at, now)} by {actorName(inc.opened_by)}
                    {inc.source === 'alert' && ' (alert)'}
                  </span>
                  <span>{isOpen(inc.state) ? `Open for ${duration(now - Date.parse(inc.opened_at))}` : `Lasted ${duration(inc.duration_ms)}`}</span>
                  {inc.acknowledged_by && <span>Acknowledged by {actorName(inc.acknowledged_by)}</span>}
                  {inc.merged_into && (
                    <span>
                      Merged into <Link to={`/incidents/${inc.merged_into}`}>INC-{inc.merged_into}</Link>
                    </span>
                  )}
                  {inc.merged.length > 0 && <span>{plural(inc.merged.length, 'duplicate')} merged in</span>}
                </div>
                <div className="inc-head-services">
                  <span className="muted small">Affected</span>
                  {inc.services.length === 0 ? (
                    <span className="muted small">no services named</span>
                  ) : (
                    inc.services.map((s) => (
                      <Link key={s} to={servicePath(s)} className="tag">
                        {s}
                      </Link>
                    ))
                  )}
                  {inc.alerts.map((a) => (
                    <span key={a.fingerprint} className="tag" title={`Fired ${a.firings}× · last ${dateTime(a.last_at)}`}>
                      alert {a.alertname}
                      {a.firings > 1 ? ` ×${a.firings}` : ''}
                    </span>
                  ))}
                </div>
                <Actions inc={inc} writable={writable} onCompose={setCompose} />
              </header>

              {lastUpdate && (
                <div className="inc-last-update" data-testid="last-update">
                  <span className={`inc-status-chip inc-status-${lastUpdate.status}`}>{STATUS_TEXT[lastUpdate.status ?? 'investigating']}</span>
                  <span className="inc-last-update-msg">{lastUpdate.message}</span>
                  <span className="muted small">
                    {actorName(lastUpdate.author)} · {ago(lastUpdate.at, now)}
                  </span>
                </div>
              )}

              {compose && <Composer key={compose} inc={inc} kind={compose} onDone={() => setCompose(null)} />}

              <div className="inc-grid">
                <div className="inc-grid-main">
                  <TimelineCard inc={inc} writable={writable} />
                </div>
                <aside className="inc-grid-side">
                  <TargetsCard inc={inc} now={now} />
                  <RolesCard inc={inc} writable={writable} />
                  <EscalationCard inc={inc} now={now} />
                  <ActionItems inc={inc} writable={writable} />
                </aside>
              </div>
            </>
          );
        }}
      </QueryState>
    </main>
  );
}

export default IncidentPage;
