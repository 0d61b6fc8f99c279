import { duration } from '../shell/format.ts';
import { useSeverities } from './api.ts';
import type { Incident, IncidentState, SeverityLevel, TargetName, TargetStatus, UpdateStatus } from './types.ts';

/** Shared pieces of the incident screens: severity badges, state pills, response timers. */

/** The tone of a level: its position in the scheme (P0 the most severe), whatever it is called. */
export function severityRank(levels: readonly SeverityLevel[] | undefined, name: string): number {
  const i = (levels ?? []).findIndex((l) => l.name.toUpperCase() === name.toUpperCase());
  if (i >= 0) return i;
  const m = /^P([0-9])$/i.exec(name);
  return m ? Number(m[1]) : 3;
}

export function SeverityBadge({ severity, testId }: { severity: string; testId?: string }) {
  const levels = useSeverities().data;
  const rank = Math.min(3, severityRank(levels, severity));
  const level = levels?.find((l) => l.name.toUpperCase() === severity.toUpperCase());
  return (
    <span className={`inc-sev inc-sev-${rank}`} title={level?.description ? `${level.name} · ${level.description}` : `Severity ${severity}`} data-testid={testId}>
      {severity}
    </span>
  );
}

export const STATE_TEXT: Record<IncidentState, string> = {
  triggered: 'Triggered',
  acknowledged: 'Acknowledged',
  mitigated: 'Mitigated',
  resolved: 'Resolved',
  closed: 'Closed',
  declined: 'Declined',
  merged: 'Merged',
};

export const STATUS_TEXT: Record<UpdateStatus, string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };

const STATE_TONE: Record<IncidentState, string> = {
  triggered: 'down',
  acknowledged: 'degraded',
  mitigated: 'mitigated',
  resolved: 'up',
  closed: 'unknown',
  declined: 'unknown',
  merged: 'unknown',
};

export const isOpen = (s: IncidentState) => s === 'triggered' || s === 'acknowledged' || s === 'mitigated';

export function IncidentStatePill({ state, testId }: { state: IncidentState; testId?: string }) {
  return (
    <span className={`pill pill-sm pill-${STATE_TONE[state]}`} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{STATE_TEXT[state]}</span>
    </span>
  );
}

const TARGET_TEXT: Record<TargetName, { due: string; met: string }> = {
  ack: { due: 'Ack', met: 'Acked' },
  first_update: { due: 'First update', met: 'First update' },
  update: { due: 'Next update', met: 'Updated' },
  resolve: { due: 'Resolve', met: 'Resolved' },
};

export interface TimerView {
  target: TargetName;
  tone: 'ok' | 'due' | 'soon' | 'breached' | 'late';
  text: string;
  title: string;
}

/** A response target in words: "Ack due in 12m", "Ack overdue by 4m", "Acked in 3m" (or "… 2m late"). */
export function timerView(t: TargetStatus, openedAt: string, now: number, open: boolean): TimerView {
  const due = Date.parse(t.due_at);
  const label = TARGET_TEXT[t.target];
  const dueTitle = `${label.due} target: ${new Date(due).toLocaleString()}`;
  if (t.met_at) {
    const met = Date.parse(t.met_at);
    const took = duration(met - Date.parse(openedAt));
    if (met > due || t.breached) return { target: t.target, tone: 'late', text: `${label.met} in ${took} · ${duration(met - due)} late`, title: dueTitle };
    return { target: t.target, tone: 'ok', text: `${label.met} in ${took}`, title: dueTitle };
  }
  if (!open) return { target: t.target, tone: t.breached ? 'late' : 'ok', text: t.breached ? `${label.due} missed` : `${label.due} not needed`, title: dueTitle };
  if (now > due || t.breached) return { target: t.target, tone: 'breached', text: `${label.due} overdue by ${duration(Math.max(0, now - due))}`, title: `${dueTitle} · breached` };
  const left = due - now;
  return { target: t.target, tone: left < 5 * 60_000 ? 'soon' : 'due', text: `${label.due} due in ${duration(left)}`, title: dueTitle };
}

/** The timers worth a glance: unmet ones while open, or every one once it is over. */
export function Timers({ incident: i, now, compact = false }: { incident: Incident; now: number; compact?: boolean }) {
  const open = isOpen(i.state);
  let views = i.targets.map((t) => timerView(t, i.opened_at, now, open));
  if (compact) {
    const pending = views.filter((v) => v.tone === 'breached' || v.tone === 'due' || v.tone === 'soon');
    views = open ? pending.slice(0, 2) : views.filter((v) => v.tone === 'late').slice(0, 1);
  }
  if (views.length === 0) return null;
  return (
    <ul className="inc-timers" aria-label="Response targets">
      {views.map((v) => (
        <li key={v.target} className={`inc-timer inc-timer-${v.tone}`} title={v.title} data-testid={`timer-${v.target}`}>
          <TimerIcon tone={v.tone} />
          {v.text}
        </li>
      ))}
    </ul>
  );
}

function TimerIcon({ tone }: { tone: TimerView['tone'] }) {
  if (tone === 'ok')
    return (
      <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">
        <path d="M3.5 8.5l3 3 6-7" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    );
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">
      <circle cx="8" cy="8.5" r="6" fill="none" stroke="currentColor" strokeWidth="1.5" />
      <path d="M8 5v3.7l2.3 1.5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
    </svg>
  );
}

export function RoleList({ roles }: { roles: Incident['roles'] }) {
  const set = (Object.entries(roles) as [string, string | null][]).filter(([, v]) => v);
  if (set.length === 0) return <span className="muted">No roles assigned</span>;
  return (
    <span className="inc-roles">
      {set.map(([k, v]) => (
        <span key={k} className="inc-role">
          <span className="inc-role-k">{k}</span> {v}
        </span>
      ))}
    </span>
  );
}

/** A short, readable actor: `token:admin` → admin, `person:alice` → alice. */
export function actorName(actor: string): string {
  const m = /^(?:token|person|user):(.+)$/.exec(actor);
  return m ? m[1]! : actor;
}
