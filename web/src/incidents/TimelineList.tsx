import { Link } from '../shell/router.tsx';
import { servicePath } from '../checks/index.tsx';
import { dateTime, time } from '../shell/format.ts';
import type { EventRecord } from '../shell/types.ts';
import { actorName, STATUS_TEXT } from './bits.tsx';
import type { UpdateStatus } from './types.ts';

/**
 * Events of the one event log as timeline entries. Nothing here needs to know every event type:
 * known ones get a sentence and a tone, anything else (deploys, flag flips, later modules) shows its
 * type, subject and message.
 */

type Tone = 'down' | 'up' | 'degraded' | 'accent' | 'muted';

interface Entry {
  tone: Tone;
  kind: string;
  text: string;
  /** a quoted message (notes, updates) */
  body?: string;
  status?: UpdateStatus;
  service?: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

export function describe(e: EventRecord): Entry {
  const d = e.data as Record<string, unknown> & { labels?: Record<string, string>; annotations?: Record<string, string> };
  const alertname = str(d.labels?.alertname ?? d.alertname);
  const service = typeof d.service === 'string' ? d.service : typeof d.labels?.service === 'string' ? d.labels.service : undefined;
  switch (e.type) {
    case 'incident.opened':
      return { tone: 'down', kind: 'Opened', text: `${str(d.ref)} opened at ${str(d.severity)}${d.source === 'alert' ? ' by an alert' : ''}: ${str(d.title)}` };
    case 'incident.acknowledged':
      return { tone: 'degraded', kind: 'Acknowledged', text: `Acknowledged by ${actorName(e.actor)}` };
    case 'incident.mitigated':
      return { tone: 'accent', kind: 'Mitigated', text: `Mitigated by ${actorName(e.actor)}`, body: d.message ? str(d.message) : undefined };
    case 'incident.resolved':
      return { tone: 'up', kind: 'Resolved', text: `Resolved by ${actorName(e.actor)}`, body: d.message ? str(d.message) : undefined };
    case 'incident.closed':
      return { tone: 'muted', kind: 'Closed', text: 'Closed: the post-mortem is done' };
    case 'incident.declined':
      return { tone: 'muted', kind: 'Declined', text: 'Declined: not an incident after all' };
    case 'incident.reopened':
      return { tone: 'down', kind: 'Re-opened', text: `Re-opened${d.message ? `: ${str(d.message)}` : ''}` };
    case 'incident.update':
      return { tone: 'accent', kind: 'Status update', text: `Status update: ${STATUS_TEXT[d.status as UpdateStatus] ?? str(d.status)}`, body: str(d.message), status: d.status as UpdateStatus };
    case 'incident.note':
      return { tone: 'muted', kind: 'Note', text: 'Note', body: str(d.message) };
    case 'incident.breached':
      return { tone: 'down', kind: 'Target missed', text: `Response target missed: ${str(d.target).replace('_', ' ')} was due ${dateTime(str(d.due_at))}` };
    case 'incident.roles_changed':
      return {
        tone: 'muted',
        kind: 'Roles',
        text: `Roles: ${Object.entries((d.changes ?? {}) as Record<string, { to: string | null }>)
          .map(([k, v]) => `${k} → ${v.to ?? 'nobody'}`)
          .join(', ')}`,
      };
    case 'incident.severity_changed': {
      const c = (d.changes as { severity?: { from: string; to: string } } | undefined)?.severity;
      return { tone: 'degraded', kind: 'Severity', text: c ? `Severity ${c.from} → ${c.to}` : `Severity changed to ${str(d.severity)}` };
    }
    case 'incident.changed':
      return { tone: 'muted', kind: 'Changed', text: `Changed ${Object.keys((d.changes ?? {}) as object).join(', ')}` };
    case 'incident.alert_joined':
      return { tone: 'down', kind: 'Alert', text: `Alert ${str(d.alertname)} fired again and joined` };
    case 'incident.merged':
      return { tone: 'muted', kind: 'Merged', text: `${str(d.ref)} merged into ${str(d.into_ref)}` };
    case 'incident.joined':
      return { tone: 'muted', kind: 'Merged in', text: `${str(d.merged_ref)} (${str(d.merged_title)}) merged into this incident` };
    case 'incident.postmortem_updated':
      return { tone: 'muted', kind: 'Post-mortem', text: `Post-mortem edited (${((d.fields ?? []) as string[]).join(', ').replace(/_/g, ' ')})` };
    case 'alert.firing':
      return { tone: 'down', kind: 'Alert firing', text: `Alert ${alertname} firing${d.annotations?.summary ? `: ${d.annotations.summary}` : ''}`, service };
    case 'alert.resolved':
      return { tone: 'up', kind: 'Alert resolved', text: `Alert ${alertname} resolved`, service };
    case 'alert.pending':
      return { tone: 'degraded', kind: 'Alert pending', text: `Alert ${alertname} pending`, service };
    case 'alert.cancelled':
      return { tone: 'muted', kind: 'Alert cleared', text: `Alert ${alertname} cleared before firing`, service };
    case 'check.state':
      return { tone: d.to === 'down' ? 'down' : d.to === 'up' ? 'up' : 'degraded', kind: 'Check', text: `Check ${str(d.check)}: ${str(d.from)} → ${str(d.to)}${d.reason ? ` (${str(d.reason)})` : ''}`, service };
    case 'service.state':
      return { tone: d.to === 'down' ? 'down' : d.to === 'up' ? 'up' : 'degraded', kind: 'Service', text: `${str(d.service)} went ${str(d.to)}${d.reason ? ` (${str(d.reason)})` : ''}`, service };
    case 'issue.created':
      return { tone: 'down', kind: 'New error', text: `New error: ${str(d.title)}`, service };
    case 'issue.regressed':
      return { tone: 'down', kind: 'Regression', text: `Error regressed: ${str(d.title)}${d.release ? ` (release ${str(d.release)})` : ''}`, service };
    case 'oncall.paged':
      return { tone: 'degraded', kind: 'Paged', text: `Paged ${str(d.person)} (step ${str(d.step)}, via ${str(d.via)})` };
    case 'oncall.escalation_started':
      return { tone: 'muted', kind: 'Escalation', text: `Escalation policy ${str(d.policy)} started` };
    case 'oncall.escalation_stopped':
      return { tone: 'muted', kind: 'Escalation', text: `Escalation stopped: ${str(d.reason)}` };
    case 'oncall.step':
      return { tone: 'muted', kind: 'Escalation', text: `Escalation step ${str(d.step)}${Array.isArray(d.people) && d.people.length ? `: ${(d.people as string[]).join(', ')}` : ''}${d.nobody_on_call ? ' (nobody on call)' : ''}` };
    case 'oncall.link_used':
      return { tone: 'accent', kind: 'Link', text: `${str(d.person)} used the ${str(d.action)} link in the page` };
    default: {
      const kind = e.type.split('.')[0] ?? e.type;
      return { tone: 'muted', kind: kind[0]!.toUpperCase() + kind.slice(1), text: `${e.type} · ${e.subject}${d.message ? `: ${str(d.message)}` : ''}`, service };
    }
  }
}

export function TimelineList({ events, testId }: { events: EventRecord[]; testId?: string }) {
  let lastDay = '';
  return (
    <ol className="inc-tl" data-testid={testId}>
      {events.map((e) => {
        const x = describe(e);
        const day = new Date(e.at).toDateString();
        const showDay = day !== lastDay;
        lastDay = day;
        return (
          <li key={e.id} className={`inc-tl-item inc-tl-${x.tone}`} data-type={e.type} data-testid="timeline-entry">
            <span className="inc-tl-dot" aria-hidden="true" />
            <div className="inc-tl-when num" title={dateTime(e.at)}>
              {showDay && <span className="inc-tl-day">{new Date(e.at).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })}</span>}
              <time dateTime={e.at}>{time(e.at)}</time>
            </div>
            <div className="inc-tl-body">
              <div className="inc-tl-line">
                <span className="inc-tl-kind">{x.kind}</span>
                <span className="inc-tl-text">{x.text}</span>
                {x.service && (
                  <Link to={servicePath(x.service)} className="tag">
                    {x.service}
                  </Link>
                )}
              </div>
              {x.body && <blockquote className="inc-tl-quote">{x.body}</blockquote>}
              <div className="inc-tl-actor muted small">{actorName(e.actor)}</div>
            </div>
          </li>
        );
      })}
    </ol>
  );
}
