/**
 * Alertmanager's dispatcher: routes alerts to aggregation groups, flushes each group after
 * group_wait, then every group_interval, telling each channel only what changed (or everything
 * again after repeat_interval), minus silenced and inhibited alerts. Group state and what each
 * channel was told are stored, so a restart neither repeats nor loses a notification.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlertInstance } from '../alerts/index.js';
import type { Store } from '../core/store/db.js';
import type { NotifyTables } from './migrations.js';
import { DEFAULT_INHIBIT, type ChannelConfig, type InhibitRule, type NotifyConfig, type RouteConfig } from './config.js';
import { inhibitedBy, routeMatches, type Labels } from './match.js';
import type { NotifyQueue } from './queue.js';
import type { Silences } from './silences.js';
import { channelTarget, type ChannelTarget, type NotifiedAlert, type Notification } from './types.js';

export interface ResolvedRoute {
  /** stable id: position and a hash of the route's config */
  id: string;
  index: number;
  channels: string[];
  groupBy: string[];
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
  route: RouteConfig;
}

interface Entry {
  firing: string[];
  resolved: string[];
  at: number;
}

export interface Group {
  key: string;
  route: string;
  labels: Labels;
  alerts: Map<string, AlertInstance>;
  createdAt: number;
  nextFlushAt: number;
  flushed: boolean;
  /** channel -> what it was last told (Alertmanager's notification log) */
  notified: Record<string, Entry>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Both are derived from the notify config alone and asked for on every alert and tick; the config
 * object is replaced on reload, so they are computed once per config.
 */
function perConfig<T>(compute: (cfg: NotifyConfig) => T): (cfg: NotifyConfig) => T {
  const cache = new WeakMap<NotifyConfig, T>();
  return (cfg) => {
    let v = cache.get(cfg);
    if (v === undefined) {
      v = compute(cfg);
      cache.set(cfg, v);
    }
    return v;
  };
}

export const resolveRoutes = perConfig((cfg): ResolvedRoute[] => {
  const d = cfg.defaults;
  const routes: RouteConfig[] = cfg.routes.length ? cfg.routes : Object.keys(cfg.channels).length ? [{ match: {}, match_re: {}, channels: Object.keys(cfg.channels), continue: false }] : [];
  return routes.map((r, index) => ({
    id: `${cfg.routes.length ? index : 'all'}-${sha(JSON.stringify(r)).slice(0, 8)}`,
    index,
    channels: r.channels,
    groupBy: r.group_by ?? d.group_by,
    groupWait: r.group_wait ?? d.group_wait,
    groupInterval: r.group_interval ?? d.group_interval,
    repeatInterval: r.repeat_interval ?? d.repeat_interval,
    route: r,
  }));
});

/** The routes an alert goes to: in order, first match wins unless `continue: true`. */
export function routesFor(routes: ResolvedRoute[], labels: Labels): ResolvedRoute[] {
  const out: ResolvedRoute[] = [];
  for (const r of routes) {
    if (!routeMatches(r.route, labels)) continue;
    out.push(r);
    if (!r.route.continue) break;
  }
  return out;
}

export function groupLabelsOf(groupBy: string[], labels: Labels): Labels {
  if (groupBy.includes('...')) return { ...labels };
  const out: Labels = {};
  for (const k of groupBy) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k] as string;
  return out;
}

export function groupKeyOf(route: ResolvedRoute, groupLabels: Labels): string {
  const inner = Object.keys(groupLabels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(groupLabels[k])}`)
    .join(',');
  return `${route.id}:{${inner}}`;
}

function common(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

function toNotified(a: AlertInstance, externalURL: string): NotifiedAlert {
  const firing = a.state !== 'resolved';
  return {
    status: firing ? 'firing' : 'resolved',
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.firedAt ?? a.activeAt,
    endsAt: firing ? ZERO_TIME : (a.resolvedAt ?? new Date().toISOString()),
    generatorURL: a.generatorUrl ?? (externalURL ? `${externalURL.replace(/\/$/, '')}/alerts` : ''),
    fingerprint: a.fingerprint,
    valueText: a.valueText,
  };
}

/** Build the notification for one channel (also used by `notify test`). */
export function buildNotification(receiver: string, groupKey: string, groupLabels: Labels, alerts: AlertInstance[], externalURL: string): Notification {
  const na = alerts.map((a) => toNotified(a, externalURL));
  return {
    receiver,
    groupKey,
    groupHash: sha(groupKey),
    status: na.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    groupLabels,
    commonLabels: common(na.map((a) => a.labels)),
    commonAnnotations: common(na.map((a) => a.annotations)),
    externalURL,
    alerts: na,
  };
}

export const channelTargets = perConfig((cfg): Map<string, ChannelTarget> => new Map(Object.entries(cfg.channels).map(([name, c]) => [name, channelTarget(name, c as ChannelConfig)])));

export interface DispatcherDeps {
  store: Store<NotifyTables>;
  logger: Logger;
  now: () => number;
  config: () => NotifyConfig;
  externalURL: () => string;
  silences: Silences;
  queue: NotifyQueue;
}

export interface AlertStatus {
  alert: AlertInstance;
  silencedBy: string[];
  inhibitedBy: string[];
  groups: string[];
  channels: string[];
}

export class Dispatcher {
  /** firing alerts (inhibition sources, and what the API shows) */
  readonly active = new Map<string, AlertInstance>();
  readonly groups = new Map<string, Group>();

  constructor(private readonly d: DispatcherDeps) {}

  routes(): ResolvedRoute[] {
    return resolveRoutes(this.d.config());
  }

  inhibitRules(): InhibitRule[] {
    return this.d.config().inhibit ?? DEFAULT_INHIBIT;
  }

  async load(): Promise<void> {
    for (const r of await this.d.store.db.selectFrom('notify_active').selectAll().execute()) this.active.set(r.fingerprint, JSON.parse(r.alert) as AlertInstance);
    for (const r of await this.d.store.db.selectFrom('notify_groups').selectAll().execute()) {
      this.groups.set(r.key, {
        key: r.key,
        route: r.route,
        labels: JSON.parse(r.labels) as Labels,
        alerts: new Map(Object.entries(JSON.parse(r.alerts) as Record<string, AlertInstance>)),
        createdAt: Number(r.created_at),
        nextFlushAt: Number(r.next_flush_at),
        flushed: Number(r.flushed) === 1,
        notified: JSON.parse(r.notified) as Record<string, Entry>,
      });
    }
  }

  private async saveGroup(g: Group): Promise<void> {
    const row = { route: g.route, labels: JSON.stringify(g.labels), alerts: JSON.stringify(Object.fromEntries(g.alerts)), created_at: g.createdAt, next_flush_at: g.nextFlushAt, flushed: g.flushed ? 1 : 0, notified: JSON.stringify(g.notified) };
    await this.d.store.db
      .insertInto('notify_groups')
      .values({ key: g.key, ...row })
      .onConflict((oc) => oc.column('key').doUpdateSet(row))
      .execute();
  }

  private async deleteGroup(g: Group): Promise<void> {
    this.groups.delete(g.key);
    await this.d.store.db.deleteFrom('notify_groups').where('key', '=', g.key).execute();
  }

  /** An alert fired (or changed while firing). */
  async firing(a: AlertInstance): Promise<void> {
    const now = this.d.now();
    this.active.set(a.fingerprint, a);
    const row = { alert: JSON.stringify(a), updated_at: now };
    await this.d.store.db
      .insertInto('notify_active')
      .values({ fingerprint: a.fingerprint, ...row })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet(row))
      .execute();
    await this.route(a);
  }

  private async route(a: AlertInstance): Promise<void> {
    const now = this.d.now();
    for (const r of routesFor(this.routes(), a.labels)) {
      const labels = groupLabelsOf(r.groupBy, a.labels);
      const key = groupKeyOf(r, labels);
      let g = this.groups.get(key);
      if (!g) {
        g = { key, route: r.id, labels, alerts: new Map(), createdAt: now, nextFlushAt: now + r.groupWait, flushed: false, notified: {} };
        this.groups.set(key, g);
      }
      g.alerts.set(a.fingerprint, a);
      // Alertmanager: an alert that started longer than group_wait ago flushes a new group at once
      const started = Date.parse(a.firedAt ?? a.activeAt);
      if (!g.flushed && Number.isFinite(started) && started + r.groupWait <= now) g.nextFlushAt = Math.min(g.nextFlushAt, now);
      await this.saveGroup(g);
    }
  }

  /** An alert resolved: its groups tell their channels at their next flush. */
  async resolved(a: AlertInstance): Promise<void> {
    this.active.delete(a.fingerprint);
    await this.d.store.db.deleteFrom('notify_active').where('fingerprint', '=', a.fingerprint).execute();
    for (const g of this.groups.values()) {
      if (!g.alerts.has(a.fingerprint)) continue;
      g.alerts.set(a.fingerprint, { ...a, state: 'resolved', resolvedAt: a.resolvedAt ?? new Date(this.d.now()).toISOString() });
      await this.saveGroup(g);
    }
  }

  /** The config changed: route the firing alerts again (new routes get them; group state stays). */
  async reroute(): Promise<void> {
    for (const a of this.active.values()) await this.route(a);
  }

  muted(a: AlertInstance): { silencedBy: string[]; inhibitedBy: string[] } {
    return { silencedBy: this.d.silences.silencedBy(a.labels), inhibitedBy: a.state === 'resolved' ? [] : inhibitedBy(a, this.active.values(), this.inhibitRules()) };
  }

  /** Flush every group that is due. */
  async tick(): Promise<number> {
    const now = this.d.now();
    let queued = 0;
    for (const g of [...this.groups.values()].sort((x, y) => x.nextFlushAt - y.nextFlushAt)) {
      if (g.nextFlushAt > now) continue;
      queued += await this.flush(g);
    }
    return queued;
  }

  /**
   * Make the groups holding a firing alert that `select` picks due now (a silence over them ended
   * early, e.g. a maintenance window: what still fires is told at once, not a group_interval later).
   */
  flushSoon(select: (labels: Labels) => boolean): number {
    const now = this.d.now();
    let n = 0;
    for (const g of this.groups.values()) {
      if (![...g.alerts.values()].some((a) => a.state !== 'resolved' && select(a.labels))) continue;
      g.nextFlushAt = Math.min(g.nextFlushAt, now);
      n++;
    }
    return n;
  }

  /** The earliest time a group is due (for the timer). */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const g of this.groups.values()) if (min === undefined || g.nextFlushAt < min) min = g.nextFlushAt;
    return min;
  }

  private async flush(g: Group): Promise<number> {
    const now = this.d.now();
    const route = this.routes().find((r) => r.id === g.route);
    if (!route) {
      await this.deleteGroup(g); // its route is gone from the config
      return 0;
    }
    const alerts = [...g.alerts.values()];
    const unmuted = alerts.filter((a) => {
      const m = this.muted(a);
      return m.silencedBy.length === 0 && m.inhibitedBy.length === 0;
    });
    const firing = unmuted.filter((a) => a.state !== 'resolved');
    const resolved = unmuted.filter((a) => a.state === 'resolved');
    const channels = channelTargets(this.d.config());
    let queued = 0;
    if (firing.length || resolved.length) {
      const firingFps = firing.map((a) => a.fingerprint);
      const resolvedFps = resolved.map((a) => a.fingerprint);
      for (const name of route.channels) {
        const ch = channels.get(name);
        if (!ch) continue;
        if (!needsUpdate(g.notified[name], firingFps, resolvedFps, ch.sendResolved, route.repeatInterval, now)) continue;
        g.notified[name] = { firing: firingFps, resolved: resolvedFps, at: now };
        const send = ch.sendResolved ? [...firing, ...resolved] : firing;
        if (send.length === 0) continue;
        await this.d.queue.enqueue(buildNotification(name, g.key, g.labels, send, this.d.externalURL()), ch);
        queued++;
      }
    }
    // resolved alerts have been told about (or muted): they leave the group
    for (const a of alerts) if (a.state === 'resolved') g.alerts.delete(a.fingerprint);
    g.flushed = true;
    g.nextFlushAt = now + route.groupInterval;
    if (g.alerts.size === 0) await this.deleteGroup(g);
    else await this.saveGroup(g);
    return queued;
  }

  status(): AlertStatus[] {
    const out: AlertStatus[] = [];
    for (const a of this.active.values()) {
      const m = this.muted(a);
      const groups = [...this.groups.values()].filter((g) => g.alerts.has(a.fingerprint));
      const routes = this.routes();
      const channels = new Set<string>();
      for (const g of groups) for (const c of routes.find((r) => r.id === g.route)?.channels ?? []) channels.add(c);
      out.push({ alert: a, silencedBy: m.silencedBy, inhibitedBy: m.inhibitedBy, groups: groups.map((g) => g.key), channels: [...channels] });
    }
    return out;
  }
}

/** Alertmanager's DedupStage.needsUpdate. */
export function needsUpdate(entry: Entry | undefined, firing: string[], resolved: string[], sendResolved: boolean, repeat: number, now: number): boolean {
  if (!entry) return firing.length > 0;
  const prevFiring = new Set(entry.firing);
  if (!firing.every((f) => prevFiring.has(f))) return true;
  if (firing.length === 0) return entry.firing.length > 0;
  const prevResolved = new Set(entry.resolved);
  if (sendResolved && !resolved.every((f) => prevResolved.has(f))) return true;
  return entry.at <= now - repeat;
}
