import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { servicesQuery } from '../checks/index.tsx';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime, duration, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { statusApi, statusKeys } from './api.ts';
import { StatusTabs } from './StatusTabs.tsx';
import type { MaintenanceWindow, WindowStatus } from './types.ts';
import './statuspage.css';

const STATUS_TEXT: Record<WindowStatus, string> = { scheduled: 'Scheduled', in_progress: 'In progress', verifying: 'Verifying', completed: 'Completed', cancelled: 'Cancelled' };
const STATUS_TONE: Record<WindowStatus, string> = { scheduled: 'sp-pill-maint', in_progress: 'pill-degraded', verifying: 'pill-degraded', completed: 'pill-up', cancelled: 'pill-unknown' };
const READ_ONLY = 'Needs a token with write scope';

const whenFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const when = (iso: string) => whenFmt.format(new Date(iso));

function WindowRow({ w, now, writable }: { w: MaintenanceWindow; now: number; writable: boolean }) {
  const qc = useQueryClient();
  const act = useMutation({
    mutationFn: (a: 'cancel' | 'end') => (a === 'cancel' ? statusApi.cancel(w.id) : statusApi.end(w.id)),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: statusKeys.maintenance });
      void qc.invalidateQueries({ queryKey: statusKeys.pages });
    },
  });
  const overrun = !!w.overrun_at;
  return (
    <li className={`mw mw-${w.status}`} data-testid={`maintenance-${w.id}`}>
      <div className="mw-main">
        <div className="mw-head">
          <span className={`pill pill-sm ${STATUS_TONE[w.status]}`}>
            <span className="pill-dot" aria-hidden="true" />
            <span data-testid={`maintenance-status-${w.id}`}>{STATUS_TEXT[w.status]}</span>
          </span>
          <span className="mw-title">{w.title}</span>
          {w.recurring && <span className="tag" title="An occurrence of a recurring window in shipshape.yaml">recurring · {w.recurring}</span>}
          {overrun && <span className="mw-overrun">Overran its {duration(w.max_ms)} maximum</span>}
        </div>
        <div className="mw-meta num">
          <span title={`${dateTime(w.starts_at)} → ${dateTime(w.ends_at)}`}>
            {when(w.starts_at)} → {when(w.ends_at)} ({duration(Date.parse(w.ends_at) - Date.parse(w.starts_at))})
          </span>
          {w.status === 'scheduled' && <span>starts {ago(w.starts_at, now)}</span>}
          {(w.status === 'in_progress' || w.status === 'verifying') && <span>ends {ago(w.ends_at, now)}</span>}
          <span className="muted">max {duration(w.max_ms)} · announced {duration(w.notice_ms)} ahead</span>
        </div>
        <div className="mw-services">
          {w.services.map((s) => (
            <span key={s} className="tag">
              {s}
            </span>
          ))}
          {w.status === 'in_progress' && <span className="muted small">alerts of these services are held back</span>}
        </div>
        {w.message && <p className="mw-msg">{w.message}</p>}
        {act.isError && <div className="form-error">{act.error instanceof ApiError && act.error.status === 403 ? READ_ONLY : errorMessage(act.error)}</div>}
      </div>
      <div className="mw-actions">
        {w.status === 'scheduled' && (
          <button type="button" className="btn btn-secondary btn-sm" disabled={!writable || act.isPending} title={writable ? 'Call the window off' : READ_ONLY} onClick={() => act.mutate('cancel')} data-testid={`maintenance-cancel-${w.id}`}>
            {act.isPending ? <Spinner label="Cancelling" /> : null}
            Cancel
          </button>
        )}
        {(w.status === 'in_progress' || w.status === 'verifying') && (
          <button type="button" className="btn btn-secondary btn-sm" disabled={!writable || act.isPending} title={writable ? 'The work is done: end the window now' : READ_ONLY} onClick={() => act.mutate('end')}>
            End now
          </button>
        )}
      </div>
    </li>
  );
}

function ScheduleDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const qc = useQueryClient();
  const ids = { head: useId(), title: useId(), start: useId(), dur: useId(), max: useId(), msg: useId() };
  const services = useQuery(servicesQuery(60_000));
  const [title, setTitle] = useState('');
  const [start, setStart] = useState(() => {
    const d = new Date(Date.now() + 48 * 3_600_000);
    d.setMinutes(0, 0, 0);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  });
  const [dur, setDur] = useState('2h');
  const [max, setMax] = useState('');
  const [message, setMessage] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [touched, setTouched] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const schedule = useMutation({
    mutationFn: () =>
      statusApi.schedule({
        title: title.trim(),
        services: [...picked],
        starts_at: new Date(start).toISOString(),
        duration: dur.trim(),
        ...(max.trim() ? { max: max.trim() } : {}),
        ...(message.trim() ? { message: message.trim() } : {}),
      }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: statusKeys.maintenance });
      ref.current?.close();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!title.trim() || picked.size === 0 || !start || !dur.trim()) return;
    schedule.mutate();
  };
  return (
    <dialog ref={ref} className="dialog sp-dialog" aria-labelledby={ids.head} onClose={onClose} onCancel={onClose}>
      <form onSubmit={submit} noValidate>
        <div className="dialog-head">
          <h2 id={ids.head}>Schedule maintenance</h2>
          <p className="muted">Announced on the status pages and to subscribers ahead of time; alerts of the services are held back while it runs.</p>
        </div>
        <div className="dialog-body">
          <div>
            <label className="label" htmlFor={ids.title}>
              Title
            </label>
            <input id={ids.title} className={`input${touched && !title.trim() ? ' input-invalid' : ''}`} value={title} maxLength={300} placeholder="Database upgrade" onChange={(e) => setTitle(e.target.value)} autoFocus />
          </div>
          <fieldset className="sp-field">
            <legend className="label">Affected services</legend>
            <div className="sp-chips">
              {(services.data ?? []).map((s) => (
                <label key={s.name} className={`sp-chip${picked.has(s.name) ? ' sp-chip-on' : ''}`}>
                  <input
                    type="checkbox"
                    checked={picked.has(s.name)}
                    onChange={(e) =>
                      setPicked((prev) => {
                        const n = new Set(prev);
                        if (e.target.checked) n.add(s.name);
                        else n.delete(s.name);
                        return n;
                      })
                    }
                  />
                  {s.name}
                </label>
              ))}
            </div>
            {touched && picked.size === 0 && <div className="form-error">Name at least one affected service.</div>}
          </fieldset>
          <div className="sp-row">
            <div>
              <label className="label" htmlFor={ids.start}>
                Starts (your time)
              </label>
              <input id={ids.start} type="datetime-local" className="input" value={start} onChange={(e) => setStart(e.target.value)} />
            </div>
            <div>
              <label className="label" htmlFor={ids.dur}>
                Duration
              </label>
              <input id={ids.dur} className="input" value={dur} placeholder="2h" onChange={(e) => setDur(e.target.value)} />
            </div>
            <div>
              <label className="label" htmlFor={ids.max}>
                Maximum
              </label>
              <input id={ids.max} className="input" value={max} placeholder="default" onChange={(e) => setMax(e.target.value)} />
            </div>
          </div>
          <div>
            <label className="label" htmlFor={ids.msg}>
              Message for visitors <span className="muted">(optional)</span>
            </label>
            <textarea id={ids.msg} className="input sp-textarea" rows={3} value={message} maxLength={10_000} placeholder="The shop is read-only for up to two hours." onChange={(e) => setMessage(e.target.value)} />
          </div>
          {schedule.isError && (
            <div className="form-error" role="alert">
              {schedule.error instanceof ApiError && schedule.error.status === 403 ? READ_ONLY : errorMessage(schedule.error)}
            </div>
          )}
        </div>
        <div className="dialog-foot">
          <button type="button" className="btn btn-secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={schedule.isPending}>
            {schedule.isPending ? <Spinner label="Scheduling" /> : null}
            Schedule
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function MaintenancePage() {
  const now = useNow(15_000);
  const me = useMe();
  const writable = canWrite(me.data);
  const [adding, setAdding] = useState(false);
  const [showPast, setShowPast] = useState(false);
  useDocumentTitle('Maintenance · Shipshape');
  const open = useQuery({ queryKey: [...statusKeys.maintenance, 'open'], queryFn: async ({ signal }) => (await statusApi.maintenance('open', signal)).items, refetchInterval: 30_000 });
  const all = useQuery({ queryKey: [...statusKeys.maintenance, 'all'], queryFn: async ({ signal }) => (await statusApi.maintenance('all', signal)).items, enabled: showPast });
  const past = (all.data ?? []).filter((w) => w.status === 'completed' || w.status === 'cancelled');
  const running = (open.data ?? []).filter((w) => w.status !== 'scheduled').length;
  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Status pages</h1>
          </div>
          <p className="svc-page-sub muted">
            {open.data ? (
              <>
                {plural(open.data.length - running, 'window')} scheduled{running > 0 && <span className="text-degraded"> · {running} in progress</span>}
              </>
            ) : open.isError ? (
              'Maintenance windows'
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
        <button type="button" className="btn btn-primary" disabled={!writable} title={writable ? undefined : READ_ONLY} onClick={() => setAdding(true)} data-testid="schedule-maintenance">
          Schedule maintenance
        </button>
      </header>
      <StatusTabs tab="maintenance" />
      <section className="card" aria-labelledby="mw-title">
        <div className="card-head">
          <h2 id="mw-title" className="card-title">
            Upcoming and in progress
          </h2>
          <label className="check-toggle">
            <input type="checkbox" checked={showPast} onChange={(e) => setShowPast(e.target.checked)} />
            Show past windows
          </label>
        </div>
        <QueryState
          query={open}
          errorTitle="Could not load maintenance windows"
          notFound={<EmptyState title="Maintenance is not available">This server has no maintenance module.</EmptyState>}
          isEmpty={(d) => d.length === 0}
          empty={
            <EmptyState title="No maintenance scheduled">
              Schedule a one-off window here, with <code>shipshape maintenance add</code>, or a recurring one in <code>shipshape.yaml</code>.
            </EmptyState>
          }
        >
          {(list) => (
            <ul className="mw-list">
              {list.map((w) => (
                <WindowRow key={w.id} w={w} now={now} writable={writable} />
              ))}
            </ul>
          )}
        </QueryState>
      </section>
      {showPast && (
        <section className="card" aria-labelledby="mw-past">
          <div className="card-head">
            <h2 id="mw-past" className="card-title">
              Past windows
            </h2>
          </div>
          <QueryState query={all} errorTitle="Could not load past windows" isEmpty={() => past.length === 0} empty={<EmptyState title="No past windows" />}>
            {() => (
              <ul className="mw-list">
                {past.map((w) => (
                  <WindowRow key={w.id} w={w} now={now} writable={writable} />
                ))}
              </ul>
            )}
          </QueryState>
        </section>
      )}
      {adding && <ScheduleDialog onClose={() => setAdding(false)} />}
    </main>
  );
}

export default MaintenancePage;
