import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime, plural } from '../shell/format.ts';
import { EmptyState, Spinner } from '../shell/ui/Feedback.tsx';
import { alertsApi, alertsKeys } from './api.ts';
import type { AlertInstance, Matcher, NotifyAlert, Silence } from './types.ts';

/** Silences (the notify side of alerts): the dialog that creates one, and the list. */

export const READ_ONLY = 'Your token has read scope only: silences need a token with write scope';

export function MuteIcon() {
  return (
    <svg width="13" height="13" viewBox="0 0 16 16" aria-hidden="true" className="icon">
      <path d="M3 6h2.5L9 3v10L5.5 10H3z" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" />
      <path d="M11.5 6l3 4M14.5 6l-3 4" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
    </svg>
  );
}

const DURATIONS = ['30m', '1h', '2h', '4h', '1d', '1w'] as const;

export function SilenceDialog({ alert, onClose }: { alert: AlertInstance | NotifyAlert; onClose: () => void }) {
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
      return alertsApi.createSilence({ matchers, duration: custom.trim() || duration, comment: comment.trim() });
    },
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: alertsKeys.silences });
      void qc.invalidateQueries({ queryKey: alertsKeys.notifyAlerts });
      void qc.invalidateQueries({ queryKey: alertsKeys.alerts });
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

export function SilenceList({ silences, now, writable }: { silences: Silence[]; now: number; writable: boolean }) {
  const qc = useQueryClient();
  const [showExpired, setShowExpired] = useState(false);
  const expire = useMutation({
    mutationFn: (id: string) => alertsApi.expireSilence(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: alertsKeys.silences });
      void qc.invalidateQueries({ queryKey: alertsKeys.notifyAlerts });
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
