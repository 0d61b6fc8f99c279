/**
 * Timelines are views of the one event log: nothing here knows which module wrote an event, so
 * deploys, rollbacks, migrations and flag flips that later modules log about a service appear
 * without touching this code. An event belongs to an incident's timeline when it is the
 * incident's own, or an alert that joined it, or about one of its services: subject
 * `service:<name>`, or `data.service`, `data.services[]` or `data.labels.service` naming it.
 */
import type { EventRecord } from '../core/api-types.js';
import type { EventLog } from '../core/events.js';
import type { Timeline } from './types.js';

export interface TimelineQuery {
  incident: number;
  /** subjects whose every event belongs (the incident's own, and those merged into it) */
  subjects: string[];
  services: string[];
  fingerprints: string[];
  from: number;
  to: number;
  limit: number;
  /** leave out `incident.*` events (the "what changed before" view) */
  skipIncidentEvents?: boolean;
}

const PAGE = 500;
/** at most this many events are looked at for one window (a timeline is for people, not a dump) */
const MAX_SCAN = 50_000;

/** Does this event concern one of the services or alerts? */
export function concerns(e: EventRecord, services: ReadonlySet<string>, fingerprints: ReadonlySet<string>): boolean {
  if (e.subject.startsWith('service:') && services.has(e.subject.slice(8))) return true;
  const d = e.data as { service?: unknown; services?: unknown; labels?: { service?: unknown }; fingerprint?: unknown };
  if (typeof d.service === 'string' && services.has(d.service)) return true;
  if (Array.isArray(d.services) && d.services.some((s) => typeof s === 'string' && services.has(s))) return true;
  if (d.labels && typeof d.labels === 'object' && typeof d.labels.service === 'string' && services.has(d.labels.service)) return true;
  if (typeof d.fingerprint === 'string' && fingerprints.has(d.fingerprint)) return true;
  return false;
}

export async function collectTimeline(events: EventLog, q: TimelineQuery): Promise<Timeline> {
  const services = new Set(q.services);
  const fingerprints = new Set(q.fingerprints);
  const own = new Set(q.subjects);
  const found = new Map<number, EventRecord>();
  let truncated = false;

  // the incident's own events, whenever they happened
  for (const subject of q.subjects) {
    let before: number | undefined;
    for (;;) {
      const page = await events.list({ limit: PAGE, before, subject });
      for (const e of page) found.set(e.id, e);
      if (page.length < PAGE) break;
      before = page[page.length - 1]?.id;
    }
  }

  // everything else in the window that concerns its services or alerts
  if (services.size > 0 || fingerprints.size > 0) {
    let before: number | undefined;
    let scanned = 0;
    outer: for (;;) {
      const page = await events.list({ limit: PAGE, before, since: q.from, until: q.to });
      for (const e of page) {
        const at = Date.parse(e.at);
        if (at < q.from) break outer;
        if (at > q.to || own.has(e.subject)) continue;
        if (q.skipIncidentEvents && e.type.startsWith('incident.')) continue;
        if (concerns(e, services, fingerprints)) found.set(e.id, e);
      }
      scanned += page.length;
      if (page.length < PAGE) break;
      if (scanned >= MAX_SCAN) {
        truncated = true;
        break;
      }
      before = page[page.length - 1]?.id;
    }
  }

  let items = [...found.values()].filter((e) => !q.skipIncidentEvents || !e.type.startsWith('incident.')).sort((a, b) => a.id - b.id);
  if (items.length > q.limit) {
    truncated = true;
    items = items.slice(items.length - q.limit);
  }
  return { incident: q.incident, from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), items, truncated };
}

/** One line for people: what the event says. */
export function describeEvent(e: EventRecord): string {
  const d = e.data as Record<string, unknown> & { labels?: Record<string, string>; annotations?: Record<string, string> };
  const s = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
  switch (e.type) {
    case 'alert.firing':
      return `alert ${s(d.labels?.alertname)} firing${d.annotations?.summary ? `: ${d.annotations.summary}` : ''}`;
    case 'alert.resolved':
      return `alert ${s(d.labels?.alertname)} resolved`;
    case 'alert.pending':
      return `alert ${s(d.labels?.alertname)} pending${d.annotations?.summary ? `: ${d.annotations.summary}` : ''}`;
    case 'alert.cancelled':
      return `alert ${s(d.labels?.alertname)} cleared before firing`;
    case 'check.state':
      return `check ${s(d.check)}: ${s(d.from)} → ${s(d.to)}${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'service.state':
      return `service ${s(d.service)}: ${s(d.from)} → ${s(d.to)}${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'issue.created':
      return `new error in ${s(d.service) || 'an unclaimed project'}: ${s(d.title)}`;
    case 'issue.regressed':
      return `error regressed in ${s(d.service)}: ${s(d.title)}${d.release ? ` (release ${s(d.release)})` : ''}`;
    case 'incident.opened':
      return `${s(d.ref)} opened (${s(d.severity)}): ${s(d.title)}`;
    case 'incident.update':
      return `status update — ${s(d.status)}: ${s(d.message)}`;
    case 'incident.note':
      return `note: ${s(d.message)}`;
    case 'incident.breached':
      return `response target missed: ${s(d.target)} was due ${s(d.due_at)}`;
    case 'incident.roles_changed':
      return `roles: ${Object.entries((d.changes ?? {}) as Record<string, { to: string | null }>)
        .map(([k, v]) => `${k} → ${v.to ?? 'nobody'}`)
        .join(', ')}`;
    case 'incident.alert_joined':
      return `alert ${s(d.alertname)} fired again and joined ${s(d.ref)}`;
    case 'incident.merged':
      return `${s(d.ref)} merged into ${s(d.into_ref)}`;
    case 'incident.joined':
      return `${s(d.merged_ref)} (${s(d.merged_title)}) merged into this incident`;
    case 'incident.severity_changed':
      return `severity changed to ${s(d.severity)}`;
    default:
      if (e.type.startsWith('incident.')) return `${s(d.ref)} ${e.type.slice('incident.'.length).replace(/_/g, ' ')}${d.message ? `: ${s(d.message)}` : ''}`;
      return `${e.type} ${e.subject}${d.message ? `: ${s(d.message)}` : ''}`;
  }
}
