/**
 * What a status page shows, read from the other modules' service APIs: components from the
 * checks module's monitor (state, 90-day bars), incidents and their public updates from the
 * incidents service. Nothing here reads another module's tables.
 */
import type { Monitor } from '../checks/index.js';
import type { Incident, IncidentDetail, Incidents } from '../incidents/index.js';
import type { Maintenance, MaintenanceWindow } from '../maintenance/index.js';
import { componentStatusOf, slug, type ComponentStatus, type ResolvedPage } from './config.js';

export type DayBar = NonNullable<NonNullable<ReturnType<Monitor['service']>>['days']>[number];

export type Impact = 'none' | 'minor' | 'major' | 'critical';
export type Indicator = Impact | 'maintenance';

export interface ComponentView {
  id: string;
  name: string;
  service: string;
  group?: string;
  description?: string;
  status: ComponentStatus;
  /** the checks' view: up, degraded, down, unknown (no data yet) */
  state: string;
  since: string | null;
  pinned: boolean;
  uptime90: number | null;
  days: DayBar[];
}

export interface GroupView {
  id: string;
  name: string | null;
  components: ComponentView[];
}

export interface PublicIncident {
  id: number;
  ref: string;
  name: string;
  /** Statuspage's incident status */
  status: 'investigating' | 'identified' | 'monitoring' | 'resolved' | 'postmortem';
  impact: Impact;
  services: string[];
  created_at: string;
  updated_at: string;
  monitoring_at: string | null;
  resolved_at: string | null;
  updates: { id: number; status: string; body: string; at: string }[];
}

/** A maintenance window as a status page shows it (Statuspage's scheduled maintenance). */
export interface PublicMaintenance {
  id: number;
  name: string;
  /** Statuspage's scheduled-maintenance status */
  status: 'scheduled' | 'in_progress' | 'verifying' | 'completed';
  services: string[];
  message: string | null;
  scheduled_for: string;
  scheduled_until: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  resolved_at: string | null;
  /** newest first, made from the window's lifecycle */
  updates: { id: string; status: string; body: string; at: string }[];
}

export interface MaintenanceView {
  /** in progress or verifying, soonest end first */
  active: PublicMaintenance[];
  /** scheduled, soonest first */
  upcoming: PublicMaintenance[];
  /** completed within the page's recent_days, newest first */
  recent: PublicMaintenance[];
}

/** Statuspage-style updates made from a window's lifecycle times, newest first. */
function maintenanceUpdates(w: MaintenanceWindow): PublicMaintenance['updates'] {
  const out: PublicMaintenance['updates'] = [{ id: `${w.id}-scheduled`, status: 'scheduled', body: w.message ?? `${w.title}: scheduled maintenance of ${w.services.join(', ')}.`, at: w.created_at }];
  if (w.started_at) out.push({ id: `${w.id}-in_progress`, status: 'in_progress', body: 'Scheduled maintenance is currently in progress. We will provide updates as necessary.', at: w.started_at });
  if (w.status === 'verifying') out.push({ id: `${w.id}-verifying`, status: 'verifying', body: 'Maintenance is done; we are verifying that everything works.', at: w.updated_at });
  if (w.status === 'completed' && w.ended_at) out.push({ id: `${w.id}-completed`, status: 'completed', body: 'The scheduled maintenance has been completed.', at: w.ended_at });
  return out.reverse();
}

export function presentMaintenance(w: MaintenanceWindow): PublicMaintenance {
  return {
    id: w.id,
    name: w.title,
    status: w.status === 'cancelled' ? 'completed' : w.status,
    services: w.services,
    message: w.message,
    scheduled_for: w.starts_at,
    scheduled_until: w.ends_at,
    created_at: w.created_at,
    updated_at: w.updated_at,
    started_at: w.started_at,
    resolved_at: w.ended_at,
    updates: maintenanceUpdates(w),
  };
}

const RANK: Record<ComponentStatus, number> = { operational: 0, under_maintenance: 1, degraded_performance: 2, partial_outage: 3, major_outage: 4 };
const IMPACT_RANK: Record<Indicator, number> = { none: 0, maintenance: 1, minor: 2, major: 3, critical: 4 };
export const INDICATOR_TEXT: Record<Indicator, string> = {
  none: 'All Systems Operational',
  maintenance: 'Service Under Maintenance',
  minor: 'Minor Service Outage',
  major: 'Partial System Outage',
  critical: 'Major Service Outage',
};
export const STATUS_TEXT: Record<ComponentStatus, string> = {
  operational: 'Operational',
  degraded_performance: 'Degraded Performance',
  partial_outage: 'Partial Outage',
  major_outage: 'Major Outage',
  under_maintenance: 'Under Maintenance',
};

const worse = (a: ComponentStatus, b: ComponentStatus): ComponentStatus => (RANK[b] > RANK[a] ? b : a);

export class StatusSource {
  /** page key → ids that start history pages (page n starts below starts[n-1]); reset when incidents change */
  private starts = new Map<string, (number | null)[]>();

  constructor(private readonly d: { monitor: () => Monitor; incidents: () => Incidents; maintenance?: () => Maintenance | undefined }) {}

  /** Maintenance windows naming one of the page's services (any, on an all-services page); cancelled ones are not shown. */
  async maintenances(page: ResolvedPage, now: number): Promise<MaintenanceView> {
    const m = this.d.maintenance?.();
    if (!m) return { active: [], upcoming: [], recent: [] };
    const mine = new Set(page.components.map((c) => c.service));
    const shown = (w: MaintenanceWindow) => page.allIncidents || w.services.some((s) => mine.has(s));
    const open = (await m.list({ limit: 500 })).items.filter(shown);
    const recent = (await m.recent(now - page.recent_days * 86_400_000, 50)).filter((w) => w.status === 'completed' && shown(w));
    return {
      active: open.filter((w) => w.status === 'in_progress' || w.status === 'verifying').map(presentMaintenance),
      upcoming: open.filter((w) => w.status === 'scheduled').map(presentMaintenance),
      recent: recent.map(presentMaintenance),
    };
  }

  /** Forget derived pagination (an incident changed). */
  invalidate(): void {
    this.starts.clear();
  }

  impactOf(severity: string): Impact {
    const levels = this.d.incidents().levels();
    const i = levels.findIndex((l) => l.name.toUpperCase() === severity.toUpperCase());
    return i === 0 ? 'critical' : i === 1 ? 'major' : i === 2 ? 'minor' : 'none';
  }

  /** Incidents shown on this page: not declined or merged, and naming one of its services (or any, on an all-services page). */
  visible(page: ResolvedPage, i: Incident): boolean {
    if (i.state === 'declined' || i.state === 'merged') return false;
    if (page.allIncidents) return true;
    const mine = new Set(page.components.map((c) => c.service));
    return i.services.some((s) => mine.has(s));
  }

  async present(i: Incident): Promise<PublicIncident> {
    const detail: IncidentDetail = await this.d.incidents().get(i.id);
    const resolved = i.state === 'resolved' || i.state === 'closed';
    const status: PublicIncident['status'] = resolved ? (i.state === 'closed' && i.postmortem ? 'postmortem' : 'resolved') : (i.status && i.status !== 'resolved' ? i.status : 'investigating');
    const updates = detail.updates
      .filter((u) => u.kind === 'update')
      .map((u) => ({ id: u.id, status: u.status ?? 'investigating', body: u.message, at: u.at }))
      .reverse();
    const monitoring = detail.updates.find((u) => u.status === 'monitoring');
    return {
      id: i.id,
      ref: i.ref,
      name: i.title,
      status,
      impact: this.impactOf(i.severity),
      services: i.services,
      created_at: i.opened_at,
      updated_at: i.updated_at,
      monitoring_at: monitoring?.at ?? i.mitigated_at,
      resolved_at: i.resolved_at,
      updates,
    };
  }

  /** Open incidents on the page, newest first. */
  async active(page: ResolvedPage): Promise<PublicIncident[]> {
    const list = (await this.d.incidents().active()).filter((i) => this.visible(page, i));
    return Promise.all(list.map((i) => this.present(i)));
  }

  /** The most recent incidents on the page (any state but declined/merged), newest first. */
  async recent(page: ResolvedPage, limit: number, opts: { since?: number } = {}): Promise<PublicIncident[]> {
    const out: Incident[] = [];
    let before: number | undefined;
    for (let scanned = 0; out.length < limit && scanned < 5000; ) {
      const { items, nextBefore } = await this.d.incidents().list({ limit: 100, before });
      scanned += items.length;
      let old = false;
      for (const i of items) {
        if (opts.since !== undefined && Date.parse(i.opened_at) < opts.since && (i.resolved_at === null || Date.parse(i.resolved_at) < opts.since)) {
          old = true;
          continue;
        }
        if (this.visible(page, i) && out.length < limit) out.push(i);
      }
      if (nextBefore === null || old) break;
      before = nextBefore;
    }
    return Promise.all(out.map((i) => this.present(i)));
  }

  /**
   * One page of the history (1-based), newest first: keyset pages over the incident ids, with the
   * ids that start each page remembered so page n does not rescan what came before it twice.
   */
  async history(page: ResolvedPage, n: number): Promise<{ items: PublicIncident[]; more: boolean }> {
    const size = page.history_page_size;
    let starts = this.starts.get(page.key);
    if (!starts) this.starts.set(page.key, (starts = [null]));
    // walk from the nearest known page start
    let k = Math.min(n, starts.length) - 1;
    let before = starts[k] ?? undefined;
    let exhausted = false;
    for (;;) {
      const got: Incident[] = [];
      let cursor = before;
      while (got.length < size + 1) {
        const { items, nextBefore } = await this.d.incidents().list({ limit: Math.max(100, size + 1), before: cursor });
        for (const i of items) {
          if (this.visible(page, i)) got.push(i);
          if (got.length === size + 1) break;
        }
        if (nextBefore === null || got.length === size + 1) {
          exhausted = got.length <= size;
          break;
        }
        cursor = nextBefore;
      }
      const pageItems = got.slice(0, size);
      const lastId = pageItems[pageItems.length - 1]?.id;
      if (k + 1 === n) return { items: await Promise.all(pageItems.map((i) => this.present(i))), more: !exhausted };
      if (exhausted || lastId === undefined) return { items: [], more: false };
      k++;
      starts[k] = lastId;
      before = lastId;
    }
  }

  /** The page's components with their status now. */
  components(page: ResolvedPage, active: PublicIncident[], activeStates: Map<number, string>, maintenance: readonly PublicMaintenance[] = []): ComponentView[] {
    const monitor = this.d.monitor();
    const underMaintenance = new Set(maintenance.flatMap((w) => w.services));
    return page.components.map((c) => {
      const s = monitor.service(c.service, { days: true });
      // during a maintenance window the component is under maintenance, whatever its checks say
      let status: ComponentStatus = underMaintenance.has(c.service) ? 'under_maintenance' : componentStatusOf(s?.state);
      for (const i of active) {
        if (!i.services.includes(c.service)) continue;
        const mitigated = activeStates.get(i.id) === 'mitigated';
        const byImpact: ComponentStatus = i.impact === 'critical' ? 'major_outage' : i.impact === 'major' ? 'partial_outage' : i.impact === 'minor' ? 'degraded_performance' : 'operational';
        status = worse(status, mitigated && RANK[byImpact] > RANK.degraded_performance ? 'degraded_performance' : byImpact);
      }
      if (c.pin) status = c.pin;
      return {
        id: c.id,
        name: c.name,
        service: c.service,
        group: c.group,
        description: c.description,
        status,
        state: s?.state ?? 'unknown',
        since: s?.since ?? null,
        pinned: c.pin !== undefined,
        uptime90: s?.uptime['90d'] ?? null,
        days: s?.days ?? [],
      };
    });
  }

  /** Overall indicator: the worst of the components and the open incidents. */
  indicator(components: ComponentView[], active: PublicIncident[]): Indicator {
    let ind: Indicator = 'none';
    const bump = (x: Indicator) => {
      if (IMPACT_RANK[x] > IMPACT_RANK[ind]) ind = x;
    };
    const nonMaint = components.filter((c) => c.status !== 'under_maintenance');
    for (const c of components) {
      if (c.status === 'under_maintenance') bump('maintenance');
      if (c.status === 'degraded_performance') bump('minor');
      if (c.status === 'partial_outage') bump('major');
      if (c.status === 'major_outage') bump(nonMaint.length > 0 && nonMaint.every((x) => x.status === 'major_outage') ? 'critical' : 'major');
    }
    for (const i of active) bump(i.impact === 'none' ? 'minor' : i.impact);
    return ind;
  }

  /** Group components for display, in order of first appearance; ungrouped ones stand alone. */
  static groups(components: ComponentView[]): GroupView[] {
    const out: GroupView[] = [];
    const byName = new Map<string, GroupView>();
    for (const c of components) {
      if (!c.group) {
        out.push({ id: c.id, name: null, components: [c] });
        continue;
      }
      let g = byName.get(c.group);
      if (!g) {
        g = { id: `group-${slug(c.group)}`, name: c.group, components: [] };
        byName.set(c.group, g);
        out.push(g);
      }
      g.components.push(c);
    }
    return out;
  }
}

/** Everything one render of a page needs, read once. */
export interface Snapshot {
  page: ResolvedPage;
  at: number;
  components: ComponentView[];
  groups: GroupView[];
  active: PublicIncident[];
  /** resolved within the page's recent_days, newest first (at most 10) */
  recent: PublicIncident[];
  indicator: Indicator;
  /** maintenance windows on the page */
  maintenance: MaintenanceView;
}

export async function snapshot(src: StatusSource, incidents: Incidents, page: ResolvedPage, now: number): Promise<Snapshot> {
  const open = (await incidents.active()).filter((i) => src.visible(page, i));
  const states = new Map(open.map((i) => [i.id, i.state as string]));
  const active = await Promise.all(open.map((i) => src.present(i)));
  const recent = (await src.recent(page, 10 + active.length, { since: now - page.recent_days * 86_400_000 })).filter((i) => i.status === 'resolved' || i.status === 'postmortem').slice(0, 10);
  const maintenance = await src.maintenances(page, now);
  const components = src.components(page, active, states, maintenance.active);
  return { page, at: now, components, groups: StatusSource.groups(components), active, recent, indicator: src.indicator(components, active), maintenance };
}
