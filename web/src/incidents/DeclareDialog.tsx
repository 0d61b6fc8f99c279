import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { servicesQuery } from '../checks/index.tsx';
import { ApiError, errorMessage } from '../shell/api.ts';
import { navigate } from '../shell/router.tsx';
import { Spinner } from '../shell/ui/Feedback.tsx';
import { incidentPath, incidentsApi, incidentsKeys, useSeverities } from './api.ts';

/** "Declare incident": title, severity (with its targets), affected services, commander, first note. */
export function DeclareDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const qc = useQueryClient();
  const ids = { title: useId(), head: useId(), commander: useId(), message: useId() };
  const severities = useSeverities();
  const services = useQuery(servicesQuery(60_000));
  const [title, setTitle] = useState('');
  const [severity, setSeverity] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [commander, setCommander] = useState('');
  const [message, setMessage] = useState('');
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  const levels = severities.data ?? [];
  // default: the second level (P1): serious enough to page, not all-hands
  const chosen = severity ?? levels[Math.min(1, levels.length - 1)]?.name ?? '';

  const declare = useMutation({
    mutationFn: () =>
      incidentsApi.open({
        title: title.trim(),
        severity: chosen,
        services: [...picked],
        ...(message.trim() ? { message: message.trim() } : {}),
        ...(commander.trim() ? { roles: { commander: commander.trim() } } : {}),
      }),
    onSuccess: (inc) => {
      void qc.invalidateQueries({ queryKey: incidentsKeys.all });
      ref.current?.close();
      navigate(incidentPath(inc.id));
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!title.trim() || !chosen) return;
    declare.mutate();
  };
  const titleMissing = touched && !title.trim();
  const level = levels.find((l) => l.name === chosen);

  return (
    <dialog ref={ref} className="dialog inc-declare" aria-labelledby={ids.head} onClose={onClose} onCancel={onClose} data-testid="declare-dialog">
      <form onSubmit={submit} noValidate>
        <div className="dialog-head">
          <h2 id={ids.head}>Declare an incident</h2>
          <p className="muted">Opens it now, starts the response timers and pages the on-call by its escalation policy.</p>
        </div>
        <div className="dialog-body">
          <div className="field">
            <label className="label" htmlFor={ids.title}>
              What is happening?
            </label>
            <input
              id={ids.title}
              name="title"
              className={`input${titleMissing ? ' input-invalid' : ''}`}
              placeholder="Checkout fails for some customers"
              value={title}
              maxLength={300}
              onChange={(e) => setTitle(e.target.value)}
              aria-invalid={titleMissing || undefined}
              autoFocus
            />
            {titleMissing && <div className="form-error">A short title: it names the incident everywhere, the status page included.</div>}
          </div>
          <fieldset className="field">
            <legend className="label">Severity</legend>
            <div className="inc-sev-picker" role="radiogroup" aria-label="Severity">
              {levels.map((l, i) => (
                <button
                  key={l.name}
                  type="button"
                  role="radio"
                  aria-checked={chosen === l.name}
                  className={`inc-sev-option inc-sev-option-${Math.min(3, i)}`}
                  onClick={() => setSeverity(l.name)}
                  data-testid={`declare-severity-${l.name}`}
                >
                  <span className="inc-sev-option-name">{l.name}</span>
                  {l.description && <span className="inc-sev-option-desc">{l.description}</span>}
                </button>
              ))}
              {severities.isPending && <Spinner label="Loading severities" />}
            </div>
            {level && <p className="muted small inc-sev-targets">{targetsText(level)}</p>}
          </fieldset>
          <fieldset className="field">
            <legend className="label">Affected services</legend>
            {(services.data ?? []).length === 0 ? (
              <p className="muted small">No services in shipshape.yaml.</p>
            ) : (
              <div className="inc-chips">
                {(services.data ?? []).map((s) => (
                  <label key={s.name} className={`inc-chip${picked.has(s.name) ? ' inc-chip-on' : ''}`}>
                    <input
                      type="checkbox"
                      checked={picked.has(s.name)}
                      onChange={(e) =>
                        setPicked((prev) => {
                          const next = new Set(prev);
                          if (e.target.checked) next.add(s.name);
                          else next.delete(s.name);
                          return next;
                        })
                      }
                    />
                    {s.name}
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          <div className="field">
            <label className="label" htmlFor={ids.commander}>
              Incident commander <span className="muted">(optional)</span>
            </label>
            <input id={ids.commander} className="input" placeholder="Who leads the response" value={commander} maxLength={200} onChange={(e) => setCommander(e.target.value)} />
          </div>
          <div className="field">
            <label className="label" htmlFor={ids.message}>
              First note <span className="muted">(optional)</span>
            </label>
            <textarea id={ids.message} className="input inc-textarea" rows={3} placeholder="What we know so far" value={message} maxLength={10_000} onChange={(e) => setMessage(e.target.value)} />
          </div>
          {declare.error && (
            <div className="form-error" role="alert">
              {declare.error instanceof ApiError && declare.error.status === 403 ? 'Your token may not declare incidents (write scope needed).' : errorMessage(declare.error)}
            </div>
          )}
        </div>
        <div className="dialog-foot">
          <button type="button" className="btn btn-secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="btn inc-btn-danger" disabled={declare.isPending || !chosen}>
            {declare.isPending ? (
              <>
                <Spinner label="Declaring" /> Declaring…
              </>
            ) : (
              `Declare ${chosen} incident`
            )}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function target(v: number | 'next_business_day' | null): string | null {
  if (v === null) return null;
  if (v === 'next_business_day') return 'next business day';
  const m = Math.round(v / 60_000);
  return m >= 60 && m % 60 === 0 ? `${m / 60}h` : `${m}m`;
}

/** "Acknowledge within 15m · first update within 30m · update every 30m" */
export function targetsText(l: { ack: number | 'next_business_day' | null; first_update: number | 'next_business_day' | null; update_every: number | null; resolve: number | 'next_business_day' | null }): string {
  const parts = [
    target(l.ack) && `acknowledge within ${target(l.ack)}`,
    target(l.first_update) && `first update within ${target(l.first_update)}`,
    l.update_every && `update every ${target(l.update_every)}`,
    target(l.resolve) && `resolve within ${target(l.resolve)}`,
  ].filter(Boolean) as string[];
  if (parts.length === 0) return 'No response targets at this level.';
  const s = parts.join(' · ');
  return s[0]!.toUpperCase() + s.slice(1);
}
