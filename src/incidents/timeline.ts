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

/** `_` → space: `escalation_started` → `escalation started`. */
const words = (t: string) => t.replace(/[_-]+/g, ' ');
const list = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string').join(', ') : '');
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const DEPLOY_LABEL: Record<string, string> = {
  started: 'deploy started',
  step: 'deploy step',
  succeeded: 'deploy succeeded',
  failed: 'deploy failed',
  refused: 'deploy refused',
  rolled_back: 'rolled back',
  crashed: 'release crashed',
  restored: 'release restored',
  stopped: 'release stopped',
  locked: 'deploys locked',
  unlocked: 'deploys unlocked',
};

export interface DescribeOptions {
  /** how to show an ISO time inside a sentence (the post-mortem passes its time zone's format); default: as stored */
  time?: (iso: string) => string;
}

/**
 * One sentence for people: what the event says. Every event type the timeline can hold (alerts,
 * checks, errors, incidents, on-call, maintenance, deploys, subscriptions, silences) has its own
 * wording; any other type gets a readable generic one from its name, subject and message.
 */
export function describeEvent(e: EventRecord, opts: DescribeOptions = {}): string {
  const d = e.data as Record<string, unknown> & { labels?: Record<string, string>; annotations?: Record<string, string> };
  const s = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
  const t = (v: unknown) => (typeof v === 'string' && v ? (opts.time ? opts.time(v) : v) : '?');
  const n = (v: unknown) => (Number.isFinite(Number(v)) ? Number(v) : 0);
  const dot = e.type.indexOf('.');
  const area = dot < 0 ? e.type : e.type.slice(0, dot);
  const what = dot < 0 ? '' : e.type.slice(dot + 1);
  const withMessage = (text: string) => (d.message ? `${text}: ${s(d.message)}` : text);

  switch (e.type) {
    case 'alert.firing':
      return `alert ${s(d.labels?.alertname)} firing${d.annotations?.summary ? `: ${d.annotations.summary}` : ''}`;
    case 'alert.resolved':
      return `alert ${s(d.labels?.alertname)} resolved`;
    case 'alert.pending':
      return `alert ${s(d.labels?.alertname)} pending${d.annotations?.summary ? `: ${d.annotations.summary}` : ''}`;
    case 'alert.cancelled':
      return `alert ${s(d.labels?.alertname)} cleared before firing`;
    case 'alert.acknowledged':
      return `alert ${s(d.labels?.alertname)} acknowledged`;
    case 'alert.suppressed':
      return `alert ${s(d.alertname ?? d.labels?.alertname)} held back, not sent${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'check.state':
      return `check ${s(d.check)}: ${s(d.from)} → ${s(d.to)}${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'service.state':
      return `service ${s(d.service)}: ${s(d.from)} → ${s(d.to)}${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'issue.created':
      return `new error in ${s(d.service) || 'an unclaimed project'}: ${s(d.title)}`;
    case 'issue.regressed':
      return `error regressed in ${s(d.service)}: ${s(d.title)}${d.release ? ` (release ${s(d.release)})` : ''}`;
    case 'issue.resolved':
    case 'issue.ignored':
    case 'issue.unresolved':
      return `error marked ${what} in ${s(d.service) || 'an unclaimed project'}: ${s(d.title)}`;
    case 'incident.opened':
      return `${s(d.ref)} opened (${s(d.severity)}): ${s(d.title)}`;
    case 'incident.update':
      return `status update — ${s(d.status)}: ${s(d.message)}`;
    case 'incident.note':
      return `note: ${s(d.message)}`;
    case 'incident.breached':
      return `response target missed: ${s(d.target)} was due ${t(d.due_at)}`;
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
    case 'incident.reopened':
      return withMessage(`${s(d.ref)} re-opened`);
    case 'incident.changed': {
      const keys = Object.keys((d.changes ?? {}) as Record<string, unknown>);
      return `${s(d.ref)} edited${keys.length ? ` (${keys.map(words).join(', ')})` : ''}`;
    }
    case 'incident.postmortem_updated': {
      const fields = Array.isArray(d.fields) ? (d.fields as string[]).map(words) : [];
      return `post-mortem edited${fields.length ? ` (${fields.join(', ')})` : ''}`;
    }
    case 'incident.action_item_overdue': {
      const item = (d.item ?? {}) as { title?: string; owner?: string | null; due?: string };
      return `action item overdue: "${s(item.title)}"${item.owner ? ` (owner ${item.owner}` : ' (no owner'}, was due ${s(item.due)})`;
    }

    // on-call
    case 'oncall.escalation_started':
      return `escalation started: policy ${s(d.policy)}, ${plural(n(d.steps), 'step')}${n(d.repeat) > 0 ? `, repeated ${plural(n(d.repeat), 'time')}` : ''}`;
    case 'oncall.step': {
      const people = list(d.people);
      const nobody = list(d.nobody_on_call);
      const round = n(d.round) > 1 ? ` (round ${n(d.round)})` : '';
      return `escalation step ${n(d.step)}${round}: ${people ? `paging ${people}` : 'nobody to page'}${nobody ? `; nobody on call in ${nobody.replace(/schedule:/g, '')}` : ''}${d.last ? ' — last step' : ''}`;
    }
    case 'oncall.paged': {
      const via = s(d.via).replace(/^schedule:(.+)$/, 'on call in $1').replace(/^person:.+$/, 'named in the policy');
      const reach = [list(d.channels), d.email ? 'email' : ''].filter(Boolean).join(' and ');
      return `paged ${s(d.person)} (${via}) ${n(d.queued) > 0 ? `by ${reach}` : '— no channel or email reached them'}`;
    }
    case 'oncall.escalation_stopped':
      return `escalation stopped${d.reason ? `: ${s(d.reason)}` : ''}`;
    case 'oncall.link_used':
      return `${s(d.person)} ${d.action === 'resolve' ? 'resolved' : 'acknowledged'} ${s(d.ref)} from the link in the page`;
    case 'oncall.feed_created':
    case 'oncall.feed_revoked':
      return `calendar subscription for ${s(d.kind)} ${s(d.target)} ${what === 'feed_created' ? 'created' : 'revoked'}`;

    // maintenance windows
    case 'maintenance.scheduled':
      return `maintenance "${s(d.title)}" scheduled ${t(d.starts_at)} – ${t(d.ends_at)}${list(d.services) ? ` for ${list(d.services)}` : ''}`;
    case 'maintenance.upcoming':
      return `maintenance "${s(d.title)}" announced: starts ${t(d.starts_at)}`;
    case 'maintenance.started':
      return `maintenance "${s(d.title)}" started${list(d.services) ? ` on ${list(d.services)}` : ''} (planned end ${t(d.ends_at)}); their alerts are held back`;
    case 'maintenance.verifying':
      return `maintenance "${s(d.title)}": work done, verifying`;
    case 'maintenance.extended':
      return `maintenance "${s(d.title)}" extended until ${t(d.ends_at)}`;
    case 'maintenance.ended':
      return `maintenance "${s(d.title)}" ended${d.missed ? ' (Shipshape was not running during it)' : ''}`;
    case 'maintenance.cancelled':
      return `maintenance "${s(d.title)}" cancelled${d.reason ? ` (${s(d.reason)})` : ''}`;
    case 'maintenance.overrun':
      return `maintenance "${s(d.title)}" ran past its planned end (${t(d.ends_at)})`;

    // subscribers of status pages
    case 'subscription.requested':
      return `${s(d.kind)} subscriber ${s(d.address)} signed up (waiting for confirmation)`;
    case 'subscription.confirmed':
      return `${s(d.kind)} subscriber ${s(d.address)} confirmed`;
    case 'subscription.unsubscribed':
      return `${s(d.kind)} subscriber ${s(d.address)} unsubscribed`;
    case 'subscription.removed':
      return `${s(d.kind)} subscriber ${s(d.address)} removed`;
    case 'subscription.webhook_created':
      return `webhook subscriber ${s(d.address)} added`;
    case 'subscription.notified':
      return `subscribers told about ${words(s(d.event_type).replace(/\./g, ' '))}: ${plural(n(d.emails), 'email')}, ${plural(n(d.webhooks), 'webhook')}`;
    case 'subscription.delivery_failed':
      return `delivery to ${s(d.kind)} subscriber ${s(d.subscriber)} failed (attempt ${n(d.attempts)}): ${s(d.error)}`;

    // silences
    case 'silence.created':
      return `silence created until ${t(d.endsAt)}${d.comment ? `: ${s(d.comment)}` : ''}`;
    case 'silence.expired':
      return 'silence ended';
  }

  if (area === 'deploy') {
    const label = DEPLOY_LABEL[what] ?? `deploy ${words(what)}`;
    if (d.message) return `${label}: ${s(d.message)}`;
    return `${label}: ${[s(d.service), s(d.env)].filter(Boolean).join(' on ')}${d.version ? ` ${s(d.version)}` : ''}`;
  }
  if (area === 'incident') return withMessage(`${s(d.ref) || 'incident'} ${words(what)}`);
  // anything else: "<area>: <what> (<subject>): <message | summary | title | reason>"
  const subject = e.subject ? ` (${e.subject.replace(':', ' ')})` : '';
  const detail = d.message ?? d.annotations?.summary ?? d.summary ?? d.title ?? d.reason;
  return `${words(area)}: ${words(what) || 'event'}${subject}${detail !== undefined && detail !== null && detail !== '' ? `: ${s(detail)}` : ''}`;
}
