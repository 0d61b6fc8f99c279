/**
 * Atlassian Statuspage's public v2 API shapes (`/api/v2/summary.json` and friends), so status
 * widgets and scripts written for Statuspage read Shipshape. Field names follow Atlassian's
 * documentation; values Shipshape has no notion of are null or false, as Statuspage sends them.
 */
import { INDICATOR_TEXT, type ComponentView, type PublicIncident, type PublicMaintenance, type Snapshot } from './source.js';

export interface SpPage {
  id: string;
  name: string;
  url: string;
  time_zone: string;
  updated_at: string;
}

export interface SpComponent {
  id: string;
  name: string;
  status: string;
  created_at: string;
  updated_at: string;
  position: number;
  description: string | null;
  showcase: boolean;
  start_date: string | null;
  group_id: string | null;
  page_id: string;
  group: boolean;
  only_show_if_degraded: boolean;
  components?: string[];
}

export interface SpIncidentUpdate {
  id: string;
  status: string;
  body: string;
  incident_id: string;
  created_at: string;
  updated_at: string;
  display_at: string;
  affected_components: { code: string; name: string; old_status: string; new_status: string }[] | null;
  deliver_notifications: boolean;
  custom_tweet: null;
  tweet_id: null;
}

export interface SpIncident {
  id: string;
  name: string;
  status: string;
  created_at: string;
  updated_at: string;
  monitoring_at: string | null;
  resolved_at: string | null;
  impact: string;
  shortlink: string;
  started_at: string;
  page_id: string;
  incident_updates: SpIncidentUpdate[];
  components: SpComponent[];
}

const iso = (t: number) => new Date(t).toISOString();

export function spPage(s: Snapshot, url: string): SpPage {
  const latest = [...s.active, ...s.recent].reduce((m, i) => Math.max(m, Date.parse(i.updated_at)), 0);
  return { id: s.page.key, name: s.page.title, url: s.page.url ?? url, time_zone: s.page.time_zone, updated_at: iso(latest || s.at) };
}

export function spStatus(s: Snapshot): { indicator: string; description: string } {
  return { indicator: s.indicator, description: INDICATOR_TEXT[s.indicator] };
}

function component(s: Snapshot, c: ComponentView, position: number, groupId: string | null): SpComponent {
  const since = c.since ?? iso(s.at);
  return { id: c.id, name: c.name, status: c.status, created_at: since, updated_at: since, position, description: c.description ?? null, showcase: true, start_date: null, group_id: groupId, page_id: s.page.key, group: false, only_show_if_degraded: false };
}

/** Components in Statuspage's flat form: groups are components with `group: true` and the ids they hold. */
export function spComponents(s: Snapshot): SpComponent[] {
  const out: SpComponent[] = [];
  let position = 1;
  for (const g of s.groups) {
    if (g.name === null) {
      out.push(component(s, g.components[0] as ComponentView, position++, null));
      continue;
    }
    const worst = g.components.map((c) => c.status).sort((a, b) => ORDER.indexOf(b) - ORDER.indexOf(a))[0] ?? 'operational';
    const updated = iso(s.at);
    out.push({ id: g.id, name: g.name, status: worst, created_at: updated, updated_at: updated, position: position++, description: null, showcase: false, start_date: null, group_id: null, page_id: s.page.key, group: true, only_show_if_degraded: false, components: g.components.map((c) => c.id) });
    for (const c of g.components) out.push(component(s, c, position++, g.id));
  }
  return out;
}

const ORDER = ['operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'];

export function spIncident(s: Snapshot, i: PublicIncident, base: string): SpIncident {
  const comps = spComponents(s).filter((c) => !c.group);
  const byService = new Map(s.components.map((c) => [c.id, c.service]));
  return {
    id: String(i.id),
    name: i.name,
    status: i.status,
    created_at: i.created_at,
    updated_at: i.updated_at,
    monitoring_at: i.monitoring_at,
    resolved_at: i.resolved_at,
    impact: i.impact,
    shortlink: `${base}/incidents/${i.id}`,
    started_at: i.created_at,
    page_id: s.page.key,
    incident_updates: i.updates.map((u) => ({
      id: String(u.id),
      status: u.status,
      body: u.body,
      incident_id: String(i.id),
      created_at: u.at,
      updated_at: u.at,
      display_at: u.at,
      affected_components: null,
      deliver_notifications: true,
      custom_tweet: null,
      tweet_id: null,
    })),
    // services no longer on the page (or no longer configured) are simply not listed
    components: comps.filter((c) => i.services.includes(byService.get(c.id) ?? '')),
  };
}

/** Statuspage's scheduled maintenance: an incident with impact `maintenance` and its scheduled times. */
export interface SpMaintenance extends SpIncident {
  scheduled_for: string;
  scheduled_until: string;
}

export function spMaintenance(s: Snapshot, m: PublicMaintenance, base: string): SpMaintenance {
  const comps = spComponents(s).filter((c) => !c.group);
  const byService = new Map(s.components.map((c) => [c.id, c.service]));
  const components = comps.filter((c) => m.services.includes(byService.get(c.id) ?? ''));
  const id = `m${m.id}`;
  return {
    id,
    name: m.name,
    status: m.status,
    created_at: m.created_at,
    updated_at: m.updated_at,
    monitoring_at: null,
    resolved_at: m.resolved_at,
    impact: 'maintenance',
    shortlink: `${base}/#maintenance-${m.id}`,
    started_at: m.started_at ?? m.scheduled_for,
    page_id: s.page.key,
    incident_updates: m.updates.map((u) => ({
      id: u.id,
      status: u.status,
      body: u.body,
      incident_id: id,
      created_at: u.at,
      updated_at: u.at,
      display_at: u.at,
      affected_components: null,
      deliver_notifications: true,
      custom_tweet: null,
      tweet_id: null,
    })),
    components,
    scheduled_for: m.scheduled_for,
    scheduled_until: m.scheduled_until,
  };
}

/** `scheduled-maintenances.json` (every shown window, newest first), `upcoming.json`, `active.json`. */
export function spMaintenances(s: Snapshot, url: string, base: string, which: 'all' | 'upcoming' | 'active') {
  const m = s.maintenance;
  const list =
    which === 'upcoming'
      ? m.upcoming
      : which === 'active'
        ? m.active
        : [...m.upcoming, ...m.active, ...m.recent].sort((a, b) => Date.parse(b.scheduled_for) - Date.parse(a.scheduled_for)).slice(0, 50);
  return { page: spPage(s, url), scheduled_maintenances: list.map((x) => spMaintenance(s, x, base)) };
}

export function spSummary(s: Snapshot, url: string, base: string) {
  return {
    page: spPage(s, url),
    components: spComponents(s),
    incidents: s.active.map((i) => spIncident(s, i, base)),
    // Statuspage: the upcoming and in-progress ones
    scheduled_maintenances: [...s.maintenance.active, ...s.maintenance.upcoming].map((m) => spMaintenance(s, m, base)),
    status: spStatus(s),
  };
}
