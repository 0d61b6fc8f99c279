import { useId, useMemo, useState } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { incidentPath, useOpenIncidents } from '../incidents/index.tsx';
import { ApiError, api, errorMessage } from '../shell/api.ts';
import { ago, dateTime, duration, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { oncallApi, oncallKeys, personIcs, scheduleIcs } from './api.ts';
import type { Escalation, OnCallNow, ScheduleDetail, ShiftOut } from './types.ts';
import './oncall.css';

const DAY = 86_400_000;
const HORIZONS = [
  { key: 7, label: '7 days' },
  { key: 14, label: '14 days' },
] as const;

/** Eight person colours that read in light and dark; a person keeps theirs across schedules. */
const PALETTE = 8;
function colourIndex(people: readonly string[], person: string): number {
  const i = people.indexOf(person);
  return (i < 0 ? 0 : i) % PALETTE;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/);
  return ((parts[0]?.[0] ?? '') + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '')).toUpperCase() || '?';
}

const whenFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const when = (iso: string) => whenFmt.format(new Date(iso));

function sourceText(source: string | null): string {
  if (!source) return '';
  if (source.startsWith('override:')) return 'Override';
  const name = source.slice('layer:'.length);
  return /^\d+$/.test(name) ? `Layer ${name}` : name;
}

// ---------- now ----------

function NowCard({ o, people, now, writable }: { o: OnCallNow; people: string[]; now: number; writable: boolean }) {
  return (
    <article className="oc-now" data-testid={`oncall-now-${o.schedule}`}>
      <div className="oc-now-head">
        <span className="oc-now-schedule">{o.schedule}</span>
        <Subscribe kind="schedule" name={o.schedule} download={scheduleIcs(o.schedule)} writable={writable} align="start" />
      </div>
      {o.person ? (
        <div className="oc-now-who">
          <span className={`oc-avatar oc-c${colourIndex(people, o.person)}`} aria-hidden="true">
            {initials(o.name ?? o.person)}
          </span>
          <div>
            <div className="oc-now-name" data-testid={`oncall-person-${o.schedule}`}>
              {o.name ?? o.person}
            </div>
            <div className="muted small">
              {sourceText(o.source)}
              {o.source?.startsWith('override:') && <span className="oc-badge">override</span>}
            </div>
          </div>
        </div>
      ) : (
        <div className="oc-now-who oc-now-nobody">
          <span className="oc-avatar oc-avatar-empty" aria-hidden="true">
            ?
          </span>
          <div>
            <div className="oc-now-name text-down">Nobody on call</div>
            <div className="muted small">Pages to this schedule reach no one</div>
          </div>
        </div>
      )}
      <div className="oc-now-foot muted small">
        {o.until && Date.parse(o.until) - now > 85 * DAY ? (
          <span>No hand-off in the next 3 months</span>
        ) : o.until ? (
          <span title={dateTime(o.until)}>
            Until {when(o.until)} · {duration(Date.parse(o.until) - now)} left
          </span>
        ) : (
          <span>No hand-off ahead</span>
        )}
        <span>{o.time_zone}</span>
      </div>
    </article>
  );
}

// ---------- upcoming shifts ----------

function ShiftTimeline({ schedule, shifts, from, to, people, now }: { schedule: string; shifts: ShiftOut[]; from: number; to: number; people: string[]; now: number }) {
  const span = to - from;
  const days: number[] = [];
  const first = new Date(from);
  first.setHours(0, 0, 0, 0);
  for (let t = first.getTime() + DAY; t < to; t += DAY) days.push(t);
  const pos = (t: number) => `${(((Math.min(Math.max(t, from), to) - from) / span) * 100).toFixed(3)}%`;
  return (
    <div className="oc-tl" data-testid={`shifts-${schedule}`}>
      <div className="oc-tl-name">{schedule}</div>
      <div className="oc-tl-track" role="list" aria-label={`Shifts of ${schedule}`}>
        {days.map((d) => (
          <span key={d} className={`oc-tl-day${new Date(d).getDay() === 1 ? ' oc-tl-week' : ''}`} style={{ left: pos(d) }} aria-hidden="true" />
        ))}
        {shifts.map((s) => {
          const a = Date.parse(s.start);
          const b = Date.parse(s.end);
          const width = ((Math.min(b, to) - Math.max(a, from)) / span) * 100;
          const override = s.source.startsWith('override:');
          return (
            <span
              key={`${s.start}-${s.person}`}
              role="listitem"
              className={`oc-shift oc-c${colourIndex(people, s.person)}${override ? ' oc-shift-override' : ''}`}
              style={{ left: pos(a), width: `${width.toFixed(3)}%` }}
              title={`${s.name}${override ? ' (override)' : ''}: ${when(s.start)} → ${when(s.end)}`}
            >
              {width > 7 && <span className="oc-shift-label">{s.name}</span>}
            </span>
          );
        })}
        {now >= from && now <= to && <span className="oc-tl-now" style={{ left: pos(now) }} title="Now" aria-hidden="true" />}
      </div>
    </div>
  );
}

const dayLabel = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });

function ShiftsCard({ schedules, people }: { schedules: string[]; people: string[] }) {
  const [days, setDays] = useState<7 | 14>(14);
  // the window starts at the beginning of this hour so the query key stays put for a while
  const from = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const to = from + days * DAY;
  const now = useNow(60_000);
  const qs = useQueries({
    queries: schedules.map((s) => ({
      queryKey: [...oncallKeys.shifts(s), from, days],
      queryFn: ({ signal }: { signal: AbortSignal }) => oncallApi.shifts(s, new Date(from), new Date(to), signal),
      staleTime: 60_000,
    })),
  });
  const ticks: number[] = [];
  const first = new Date(from);
  first.setHours(0, 0, 0, 0);
  for (let t = first.getTime() + DAY; t < to; t += DAY * (days === 14 ? 2 : 1)) ticks.push(t);
  const shown = new Set(qs.flatMap((q) => (q.data?.items ?? []).map((s) => s.person)));
  const names = new Map(qs.flatMap((q) => (q.data?.items ?? []).map((s) => [s.person, s.name] as const)));
  return (
    <section className="card" aria-labelledby="shifts-title">
      <div className="card-head">
        <h2 id="shifts-title" className="card-title">
          Upcoming shifts <span className="card-title-sub">· next {days} days</span>
        </h2>
        <div className="segmented" role="group" aria-label="Horizon">
          {HORIZONS.map((h) => (
            <button key={h.key} type="button" aria-pressed={days === h.key} onClick={() => setDays(h.key)}>
              {h.label}
            </button>
          ))}
        </div>
      </div>
      <div className="oc-tls">
        <div className="oc-tl oc-tl-axis" aria-hidden="true">
          <div className="oc-tl-name" />
          <div className="oc-tl-track oc-tl-track-axis">
            {ticks.map((t) => (
              <span key={t} className="oc-tl-tick" style={{ left: `${(((t - from) / (to - from)) * 100).toFixed(3)}%` }}>
                {dayLabel.format(new Date(t))}
              </span>
            ))}
          </div>
        </div>
        {schedules.map((s, i) => {
          const q = qs[i]!;
          if (q.isError)
            return (
              <div key={s} className="oc-tl">
                <div className="oc-tl-name">{s}</div>
                <div className="form-error">{errorMessage(q.error)}</div>
              </div>
            );
          if (!q.data)
            return (
              <div key={s} className="oc-tl">
                <div className="oc-tl-name">{s}</div>
                <Skeleton h={26} />
              </div>
            );
          return <ShiftTimeline key={s} schedule={s} shifts={q.data.items} from={from} to={to} people={people} now={now} />;
        })}
      </div>
      {shown.size > 0 && (
        <div className="oc-legend">
          {[...shown].map((p) => (
            <span key={p}>
              <span className={`oc-swatch oc-c${colourIndex(people, p)}`} aria-hidden="true" />
              {names.get(p) ?? p}
            </span>
          ))}
          <span>
            <span className="oc-swatch oc-swatch-override" aria-hidden="true" />
            Override
          </span>
        </div>
      )}
    </section>
  );
}

// ---------- overrides and layers ----------

function ScheduleDetails({ details, now }: { details: ScheduleDetail[]; now: number }) {
  const overrides = details.flatMap((d) => d.overrides.map((o) => ({ ...o, schedule: d.schedule }))).filter((o) => Date.parse(o.to) > now - 7 * DAY);
  overrides.sort((a, b) => a.from.localeCompare(b.from));
  return (
    <div className="grid-2">
      <section className="card" aria-labelledby="overrides-title">
        <div className="card-head">
          <h2 id="overrides-title" className="card-title">
            Overrides <span className="card-title-sub">· one-off swaps</span>
          </h2>
        </div>
        {overrides.length === 0 ? (
          <EmptyState title="No overrides">
            Swap a shift in <code>shipshape.yaml</code>:
            <pre className="snippet">{`oncall:
  schedules:
    ${details[0]?.schedule ?? 'primary'}:
      overrides:
        - { person: bob, from: "2026-03-28 09:00", to: "2026-03-29 09:00", reason: swap }`}</pre>
          </EmptyState>
        ) : (
          <ul className="oc-list">
            {overrides.map((o) => {
              const state = now >= Date.parse(o.to) ? 'past' : now >= Date.parse(o.from) ? 'active' : 'upcoming';
              return (
                <li key={`${o.schedule}-${o.index}`} className={`oc-ovr oc-ovr-${state}`} data-testid="override">
                  <div>
                    <strong>{o.name}</strong> <span className="muted">covers {o.schedule}</span>
                    {o.reason && <div className="muted small">“{o.reason}”</div>}
                  </div>
                  <div className="oc-ovr-when small">
                    <span className={`pill pill-sm pill-${state === 'active' ? 'degraded' : state === 'upcoming' ? 'up' : 'unknown'}`}>
                      <span className="pill-dot" aria-hidden="true" />
                      {state === 'active' ? 'Now' : state === 'upcoming' ? `Starts ${ago(o.from, now)}` : 'Ended'}
                    </span>
                    <span className="muted num">
                      {when(o.from)} → {when(o.to)}
                    </span>
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="layers-title">
        <div className="card-head">
          <h2 id="layers-title" className="card-title">
            Rotations
          </h2>
        </div>
        <ul className="oc-list">
          {details.map((d) =>
            d.layers.map((l, i) => (
              <li key={`${d.schedule}-${i}`} className="oc-layer">
                <div>
                  <strong>{d.schedule}</strong>
                  {d.layers.length > 1 && <span className="muted"> · {l.name}</span>}
                  <div className="muted small">
                    {l.rotation} · hand-off {l.handoff} ({d.time_zone}) · since {l.start}
                  </div>
                </div>
                <ol className="oc-order">
                  {l.people.map((p) => (
                    <li key={p.key}>{p.name}</li>
                  ))}
                </ol>
              </li>
            )),
          )}
        </ul>
      </section>
    </div>
  );
}

// ---------- escalations ----------

function PoliciesCard() {
  const q = useQuery({ queryKey: oncallKeys.policies, queryFn: async ({ signal }) => (await oncallApi.policies(signal)).items, staleTime: 60_000 });
  return (
    <section className="card" aria-labelledby="policies-title">
      <div className="card-head">
        <h2 id="policies-title" className="card-title">
          Escalation policies
        </h2>
      </div>
      <QueryState
        query={q}
        errorTitle="Could not load the escalation policies"
        isEmpty={(d) => d.length === 0}
        empty={
          <EmptyState title="No escalation policies">
            Incidents page nobody until a policy says who:
            <pre className="snippet">{`oncall:
  escalation:
    default:
      steps:
        - { after: 0m, notify: [schedule:primary] }
        - { after: 15m, notify: [person:lead] }
      repeat: 2`}</pre>
          </EmptyState>
        }
      >
        {(list) => (
          <ul className="oc-list">
            {list.map((p) => (
              <li key={p.name} className="oc-policy" data-testid={`policy-${p.name}`}>
                <div className="oc-policy-head">
                  <strong>{p.name}</strong>
                  <span className="muted small">{p.severities ? p.severities.join(', ') : 'any severity'}</span>
                  {p.repeat > 0 && <span className="tag">repeats {plural(p.repeat, 'time')} after {duration(p.repeat_after_ms)}</span>}
                </div>
                <ol className="oc-steps">
                  {p.steps.map((s, i) => (
                    <li key={i}>
                      <span className="oc-step-after num">{s.after_ms === 0 ? 'at once' : `after ${duration(s.after_ms)}`}</span>
                      {s.notify.map((n) => (
                        <span key={n} className="tag">
                          {n.replace(':', ' ')}
                        </span>
                      ))}
                    </li>
                  ))}
                </ol>
                <div className="muted small">Stops when someone acknowledges</div>
              </li>
            ))}
          </ul>
        )}
      </QueryState>
    </section>
  );
}

function ActiveEscalations({ now, writable }: { now: number; writable: boolean }) {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: oncallKeys.escalations, queryFn: async ({ signal }) => (await oncallApi.activeEscalations(signal)).items, refetchInterval: 15_000 });
  const open = useOpenIncidents();
  const byId = useMemo(() => new Map((open.data ?? []).map((i) => [i.id, i])), [open.data]);
  const ack = useMutation({
    mutationFn: (incident: number) => api.post(`/api/v1/incidents/${incident}/acknowledge`, {}),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: oncallKeys.escalations });
      void qc.invalidateQueries({ queryKey: ['incidents'] });
    },
  });
  return (
    <section className="card" aria-labelledby="esc-title">
      <div className="card-head">
        <h2 id="esc-title" className="card-title">
          Active escalations <span className="card-title-sub">· paging until someone acknowledges</span>
        </h2>
      </div>
      {ack.isError && (
        <div className="banner banner-error" role="alert">
          Could not acknowledge: {ack.error instanceof ApiError && ack.error.status === 403 ? 'your token needs write scope' : errorMessage(ack.error)}
        </div>
      )}
      <QueryState query={q} errorTitle="Could not load escalations" isEmpty={(d) => d.length === 0} empty={<EmptyState title="Nobody is being paged">Escalations start when an incident opens and stop when someone acknowledges it.</EmptyState>}>
        {(list) => (
          <ul className="oc-list">
            {list.map((e: Escalation) => {
              const inc = byId.get(e.incident_id);
              const last = e.pages[e.pages.length - 1];
              return (
                <li key={e.id} className="oc-esc" data-testid={`escalation-${e.incident_id}`}>
                  <div className="oc-esc-main">
                    <div>
                      <Link to={incidentPath(e.incident_id)} className="oc-esc-title">
                        <span className="mono muted">INC-{e.incident_id}</span> {inc?.title ?? ''}
                      </Link>
                    </div>
                    <div className="muted small">
                      Policy {e.policy} · started {ago(e.started_at, now)}
                      {last && ` · last paged ${last.person} ${ago(last.sent_at, now)}`}
                      {e.next_at && ` · step ${e.next_step}${e.round > 1 ? ` (round ${e.round})` : ''} ${ago(e.next_at, now)}`}
                    </div>
                  </div>
                  <button type="button" className="btn btn-primary btn-sm" disabled={!writable || (ack.isPending && ack.variables === e.incident_id)} title={writable ? 'Acknowledge the incident: the paging stops' : 'Needs a token with write scope'} onClick={() => ack.mutate(e.incident_id)}>
                    {ack.isPending && ack.variables === e.incident_id ? <Spinner label="Acknowledging" /> : null}
                    Acknowledge
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </QueryState>
    </section>
  );
}

// ---------- people ----------

function PeopleCard({ people, writable }: { people: { key: string; name: string; email: string | null; channels: string[] }[]; writable: boolean }) {
  return (
    <section className="card" aria-labelledby="people-title">
      <div className="card-head">
        <h2 id="people-title" className="card-title">
          People <span className="card-title-sub">· {people.length} in shipshape.yaml</span>
        </h2>
        <span className="muted small">Subscribe gives a private URL that Google, Apple or Outlook calendars can poll without a login</span>
      </div>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Person</th>
              <th scope="col">Reached by</th>
              <th scope="col">Calendar</th>
            </tr>
          </thead>
          <tbody>
            {people.map((p, i) => (
              <tr key={p.key}>
                <td>
                  <span className="oc-person">
                    <span className={`oc-avatar oc-avatar-sm oc-c${i % PALETTE}`} aria-hidden="true">
                      {initials(p.name)}
                    </span>
                    <span>
                      <span className="check-name">{p.name}</span> <span className="muted small mono">{p.key}</span>
                    </span>
                  </span>
                </td>
                <td>
                  <span className="oc-reach">
                    {p.email && <span className="tag">email</span>}
                    {p.channels.map((c) => (
                      <span key={c} className="tag">
                        {c}
                      </span>
                    ))}
                    {!p.email && p.channels.length === 0 && <span className="text-down small">No way to page</span>}
                  </span>
                </td>
                <td>
                  <Subscribe kind="person" name={p.key} label={p.name} download={personIcs(p.key)} writable={writable} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/**
 * Calendar subscription: a disclosure that, when opened, asks for the schedule's or person's
 * subscription URL (made on first ask), with a copy button, a webcal:// link that opens the
 * calendar app, the one-off download (with the session) and, for writers, revoking the URL.
 */
function Subscribe({ kind, name, label, download, writable, align = 'end' }: { kind: 'schedule' | 'person'; name: string; label?: string; download: string; writable: boolean; align?: 'start' | 'end' }) {
  const [open, setOpen] = useState(false);
  const [copied, setCopied] = useState(false);
  const ids = useId();
  const qc = useQueryClient();
  const q = useQuery({ queryKey: oncallKeys.subscription(kind, name), queryFn: ({ signal }) => oncallApi.subscription(kind, name, signal), enabled: open, staleTime: Infinity });
  const revoke = useMutation({
    mutationFn: (id: string) => oncallApi.revokeFeed(id),
    onSuccess: () => qc.invalidateQueries({ queryKey: oncallKeys.subscription(kind, name) }),
  });
  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      (document.getElementById(`${ids}-url`) as HTMLInputElement | null)?.select();
    }
  };
  return (
    <details className="oc-sub" data-testid={`oncall-subscribe-${kind}-${name}`} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary className="oc-ics" title={`Subscribe to ${label ?? name} in a calendar app`}>
        <CalendarIcon />
        Subscribe
      </summary>
      <div className={`oc-sub-pop oc-sub-pop-${align}`}>
        <QueryState query={q} errorTitle="Could not get the subscription URL">
          {(sub) => (
            <>
              <label className="small" htmlFor={`${ids}-url`}>
                Calendar URL for {label ?? name} — anyone with it sees these shifts
              </label>
              <div className="oc-sub-row">
                <input id={`${ids}-url`} className="input mono small" readOnly value={sub.url} onFocus={(e) => e.currentTarget.select()} data-testid="oncall-subscribe-url" />
                <button type="button" className="btn btn-secondary btn-sm" onClick={() => void copy(sub.url)}>
                  {copied ? 'Copied' : 'Copy'}
                </button>
              </div>
              <div className="oc-sub-row">
                <a className="btn btn-primary btn-sm" href={sub.webcal_url}>
                  Open in calendar app
                </a>
                <a className="btn btn-ghost btn-sm" href={download}>
                  Download .ics
                </a>
                {writable && (
                  <button type="button" className="btn btn-ghost btn-sm text-down" disabled={revoke.isPending} title="The URL stops working now; a new one is made" onClick={() => revoke.mutate(sub.id)}>
                    {revoke.isPending ? <Spinner label="Revoking" /> : null}
                    Revoke URL
                  </button>
                )}
              </div>
              {revoke.isError && <p className="text-down small">{errorMessage(revoke.error)}</p>}
            </>
          )}
        </QueryState>
      </div>
    </details>
  );
}

function CalendarIcon() {
  return (
    <svg width="13" height="13" viewBox="0 0 16 16" aria-hidden="true">
      <rect x="2.5" y="3.5" width="11" height="10" rx="2" fill="none" stroke="currentColor" strokeWidth="1.4" />
      <path d="M2.5 7h11M5.5 2v3M10.5 2v3" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
    </svg>
  );
}

// ---------- the page ----------

export function OncallPage() {
  const now = useNow(30_000);
  const me = useMe();
  const writable = canWrite(me.data);
  useDocumentTitle('On-call · Shipshape');
  const nowQ = useQuery({ queryKey: oncallKeys.now, queryFn: async ({ signal }) => (await oncallApi.now(signal)).items, refetchInterval: 60_000 });
  const peopleQ = useQuery({ queryKey: oncallKeys.people, queryFn: async ({ signal }) => (await oncallApi.people(signal)).items, staleTime: 60_000 });
  const schedules = (nowQ.data ?? []).map((o) => o.schedule);
  const details = useQueries({
    queries: schedules.map((s) => ({ queryKey: oncallKeys.schedule(s), queryFn: ({ signal }: { signal: AbortSignal }) => oncallApi.schedule(s, signal), staleTime: 60_000 })),
  });
  const people = (peopleQ.data ?? []).map((p) => p.key);
  const loadedDetails = details.map((d) => d.data).filter((d): d is ScheduleDetail => !!d);
  const nobody = (nowQ.data ?? []).filter((o) => !o.person).length;

  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>On-call</h1>
          </div>
          <p className="svc-page-sub muted">
            {nowQ.data ? (
              <>
                {plural(nowQ.data.length, 'schedule')} · {plural(peopleQ.data?.length ?? 0, 'person', 'people')}
                {nobody > 0 && <span className="text-down"> · {nobody} with nobody on call</span>}
              </>
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
      </header>

      <QueryState
        query={nowQ}
        errorTitle="Could not load who is on call"
        isEmpty={(d) => d.length === 0}
        empty={
          <section className="card">
            <EmptyState title="No on-call schedules">
              Add people and a rotation to <code>shipshape.yaml</code>:
              <pre className="snippet">{`people:
  alice: { name: Alice, email: alice@example.com }
  bob: { name: Bob, email: bob@example.com }
oncall:
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers:
        - { rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice, bob] }`}</pre>
            </EmptyState>
          </section>
        }
      >
        {(list) => (
          <>
            <section aria-label="On call now" className="oc-now-grid">
              {list.map((o) => (
                <NowCard key={o.schedule} o={o} people={people} now={now} writable={writable} />
              ))}
            </section>
            <ActiveEscalations now={now} writable={writable} />
            <ShiftsCard schedules={list.map((o) => o.schedule)} people={people} />
            {loadedDetails.length > 0 && <ScheduleDetails details={loadedDetails} now={now} />}
          </>
        )}
      </QueryState>

      <PoliciesCard />
      {peopleQ.data && peopleQ.data.length > 0 && <PeopleCard people={peopleQ.data} writable={writable} />}
    </main>
  );
}

export default OncallPage;
