/**
 * Alertmanager's dispatcher: routes alerts to aggregation groups, flushes each group after
 * group_wait, then every group_interval, telling each channel only what changed (or everything
 * again after repeat_interval), minus silenced and inhibited alerts. Firing alerts are stored as
 * they come and routed into their groups again at load; what each channel was told and resolved
 * alerts still to tell are stored at each tick (and on stop). A restart neither repeats nor loses
 * a notification.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlertInstance } from '../alerts/index.js';
import type { Store } from '../core/store/db.js';
import type { NotifyTables } from './migrations.js';
import { DEFAULT_INHIBIT, type ChannelConfig, type InhibitRule, type NotifyConfig } from './config.js';
import { InhibitIndex, type Labels } from './match.js';
import { activeIntervals, compileIntervals, type TimeInterval } from './time-intervals.js';
import { buildRouteTree, matchRoute, type ResolvedRoute, type RouteTree } from './tree.js';

export type { ResolvedRoute, RouteTree } from './tree.js';
import type { NotifyQueue } from './queue.js';
import type { Silences } from './silences.js';
import { channelTarget, type ChannelTarget, type NotifiedAlert, type Notification } from './types.js';

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

/** The routing tree of a config (the flat list is a tree under a root that takes nothing itself). */
export const resolveRoutes = perConfig(buildRouteTree);

/** The named time intervals of a config, compiled. */
export const timeIntervalsOf = perConfig((cfg) => compileIntervals([...(cfg.mute_time_intervals ?? []), ...(cfg.time_intervals ?? [])]));

/** The inhibition rules in force: inhibit: or inhibit_rules:, else the default (a P0 mutes P2/P3 of its service). */
export const inhibitRulesOf = (cfg: NotifyConfig): InhibitRule[] => cfg.inhibit ?? cfg.inhibit_rules ?? DEFAULT_INHIBIT;

/** The routes an alert goes to (Alertmanager's Route.Match over the tree). */
export function routesFor(tree: RouteTree, labels: Labels): ResolvedRoute[] {
  return matchRoute(tree.root, labels);
}

/**
 * Why a route sends nothing now: the mute time intervals that are active, or (when it has active
 * time intervals and none is active) those. Empty: it may send.
 */
export function timeMutedBy(route: ResolvedRoute, intervals: Map<string, TimeInterval[]>, now: number): string[] {
  if (route.activeTimeIntervals.length && activeIntervals(intervals, route.activeTimeIntervals, now).length === 0) return route.activeTimeIntervals;
  return route.muteTimeIntervals.length ? activeIntervals(intervals, route.muteTimeIntervals, now) : [];
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
  /** the receivers of its routes (Alertmanager names; empty for routes that name channels only) */
  receivers: string[];
  /** time intervals that hold its routes' notifications now */
  timeMutedBy: string[];
}

export class Dispatcher {
  /** firing alerts (inhibition sources, and what the API shows) */
  readonly active = new Map<string, AlertInstance>();
  readonly groups = new Map<string, Group>();
  /** the firing alerts indexed for inhibition */
  private readonly inhibit = new InhibitIndex();
  /** alert fingerprint → the keys of the groups holding it */
  private readonly memberOf = new Map<string, Set<string>>();
  /** groups changed since they were last stored (stored together at the next tick) */
  private readonly dirty = new Set<string>();
  /** no group is due before this (never later than the true earliest; recomputed each tick) */
  private minDue = Number.POSITIVE_INFINITY;

  constructor(private readonly d: DispatcherDeps) {}

  /** every route of the config in force */
  routes(): ResolvedRoute[] {
    return resolveRoutes(this.d.config()).all;
  }

  inhibitRules(): InhibitRule[] {
    return inhibitRulesOf(this.d.config());
  }

  async load(): Promise<void> {
    for (const r of await this.d.store.db.selectFrom('notify_active').selectAll().execute()) this.setActive(JSON.parse(r.alert) as AlertInstance);
    for (const r of await this.d.store.db.selectFrom('notify_groups').selectAll().execute()) {
      this.groups.set(r.key, {
        key: r.key,
        route: r.route,
        labels: JSON.parse(r.labels) as Labels,
        // resolved alerts not told yet (and, in stores before 0.6, the firing ones, which are
        // kept only while still firing: the firing members come from notify_active)
        alerts: new Map(Object.entries(JSON.parse(r.alerts) as Record<string, AlertInstance>).filter(([fp, a]) => a.state === 'resolved' || this.active.has(fp))),
        createdAt: Number(r.created_at),
        nextFlushAt: Number(r.next_flush_at),
        flushed: Number(r.flushed) === 1,
        notified: JSON.parse(r.notified) as Record<string, Entry>,
      });
    }
    for (const g of this.groups.values()) for (const fp of g.alerts.keys()) this.join(fp, g.key);
    // a group's firing members are not stored with it: every firing alert is routed into its
    // groups again (routing is idempotent), also one whose group was never stored
    for (const a of this.active.values()) this.route(a);
    this.recomputeDue();
  }

  /**
   * Store the groups changed since the last call, in one transaction: what each channel was told,
   * the timings, and the resolved alerts still to be told (firing ones are in notify_active).
   */
  async persist(): Promise<void> {
    if (this.dirty.size === 0) return;
    const groups = [...this.dirty].map((k) => this.groups.get(k)).filter((g): g is Group => g !== undefined);
    this.dirty.clear();
    const rows = groups.map((g) => ({ key: g.key, route: g.route, labels: JSON.stringify(g.labels), alerts: JSON.stringify(Object.fromEntries([...g.alerts].filter(([, a]) => a.state === 'resolved'))), created_at: g.createdAt, next_flush_at: g.nextFlushAt, flushed: g.flushed ? 1 : 0, notified: JSON.stringify(g.notified) }));
    try {
      await this.d.store.db.transaction().execute(async (tx) => {
        for (const { key, ...row } of rows) await tx.insertInto('notify_groups').values({ key, ...row }).onConflict((oc) => oc.column('key').doUpdateSet(row)).execute();
      });
    } catch (e) {
      for (const g of groups) this.dirty.add(g.key); // tried again at the next tick
      throw e;
    }
  }

  private setActive(a: AlertInstance): void {
    this.active.set(a.fingerprint, a);
    this.inhibit.set(a);
  }

  private join(fp: string, key: string): void {
    let keys = this.memberOf.get(fp);
    if (!keys) this.memberOf.set(fp, (keys = new Set()));
    keys.add(key);
  }

  private leave(fp: string, key: string): void {
    const keys = this.memberOf.get(fp);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.memberOf.delete(fp);
  }

  private recomputeDue(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const g of this.groups.values()) if (g.nextFlushAt < min) min = g.nextFlushAt;
    this.minDue = min;
  }

  private async deleteGroup(g: Group): Promise<void> {
    this.groups.delete(g.key);
    this.dirty.delete(g.key);
    for (const fp of g.alerts.keys()) this.leave(fp, g.key);
    await this.d.store.db.deleteFrom('notify_groups').where('key', '=', g.key).execute();
  }

  /**
   * Alerts that fired or resolved, in order: stored in one transaction (a push of many alerts is
   * one commit), then grouped.
   */
  async handle(changes: { alert: AlertInstance; firing: boolean }[]): Promise<void> {
    const now = this.d.now();
    await this.d.store.db.transaction().execute(async (tx) => {
      for (const { alert: a, firing } of changes) {
        if (!firing) {
          await tx.deleteFrom('notify_active').where('fingerprint', '=', a.fingerprint).execute();
          continue;
        }
        const row = { alert: JSON.stringify(a), updated_at: now };
        await tx.insertInto('notify_active').values({ fingerprint: a.fingerprint, ...row }).onConflict((oc) => oc.column('fingerprint').doUpdateSet(row)).execute();
      }
    });
    for (const { alert: a, firing } of changes) {
      if (firing) {
        this.setActive(a);
        this.route(a);
      } else this.markResolved(a, now);
    }
  }

  /** Put a firing alert into the groups of its routes (a new group's timing is stored at the next tick; its members are routed again at load). */
  private route(a: AlertInstance): void {
    const now = this.d.now();
    for (const r of routesFor(resolveRoutes(this.d.config()), a.labels)) {
      const labels = groupLabelsOf(r.groupBy, a.labels);
      const key = groupKeyOf(r, labels);
      let g = this.groups.get(key);
      if (!g) {
        g = { key, route: r.id, labels, alerts: new Map(), createdAt: now, nextFlushAt: now + r.groupWait, flushed: false, notified: {} };
        this.groups.set(key, g);
        this.dirty.add(key); // its timing survives a restart (its members are routed again)
      }
      g.alerts.set(a.fingerprint, a);
      this.join(a.fingerprint, key);
      // Alertmanager: an alert that started longer than group_wait ago flushes a new group at once
      const started = Date.parse(a.firedAt ?? a.activeAt);
      if (!g.flushed && Number.isFinite(started) && started + r.groupWait <= now && g.nextFlushAt > now) {
        g.nextFlushAt = now;
        this.dirty.add(key);
      }
      this.minDue = Math.min(this.minDue, g.nextFlushAt);
    }
  }

  private markResolved(a: AlertInstance, now: number): void {
    this.active.delete(a.fingerprint);
    this.inhibit.delete(a.fingerprint);
    for (const key of this.memberOf.get(a.fingerprint) ?? []) {
      const g = this.groups.get(key);
      if (!g?.alerts.has(a.fingerprint)) continue;
      g.alerts.set(a.fingerprint, { ...a, state: 'resolved', resolvedAt: a.resolvedAt ?? new Date(now).toISOString() });
      this.dirty.add(key);
    }
  }

  /** The config changed: route the firing alerts again (new routes get them; group state stays). */
  async reroute(): Promise<void> {
    for (const a of this.active.values()) this.route(a);
    await this.persist();
  }

  muted(a: AlertInstance): { silencedBy: string[]; inhibitedBy: string[] } {
    return { silencedBy: this.d.silences.silencedBy(a.labels), inhibitedBy: a.state === 'resolved' ? [] : this.inhibit.inhibitedBy(a, this.inhibitRules()) };
  }

  /** Flush every group that is due. */
  async tick(): Promise<number> {
    const now = this.d.now();
    let queued = 0;
    if (this.minDue <= now) {
      const due = [...this.groups.values()].filter((g) => g.nextFlushAt <= now).sort((x, y) => x.nextFlushAt - y.nextFlushAt);
      for (const g of due) if (this.groups.get(g.key) === g) queued += await this.flush(g);
      this.recomputeDue();
    }
    await this.persist();
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
      this.minDue = Math.min(this.minDue, g.nextFlushAt);
      n++;
    }
    return n;
  }

  /** The earliest time a group is due (for the timer). */
  nextDue(): number | undefined {
    return Number.isFinite(this.minDue) ? this.minDue : undefined;
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
    // a route in a mute time interval (or outside its active ones) sends nothing and records
    // nothing, so what fires is told once the interval is over (Alertmanager's time stages)
    const timeMuted = timeMutedBy(route, timeIntervalsOf(this.d.config()), now).length > 0;
    if (!timeMuted && (firing.length || resolved.length)) {
      const firingFps = firing.map((a) => a.fingerprint);
      const resolvedFps = resolved.map((a) => a.fingerprint);
      for (const name of route.channels) {
        const ch = channels.get(name);
        if (!ch) continue;
        if (!needsUpdate(g.notified[name], firingFps, resolvedFps, ch.sendResolved, route.repeatInterval, now)) continue;
        g.notified[name] = { firing: firingFps, resolved: resolvedFps, at: now };
        const send = ch.sendResolved ? [...firing, ...resolved] : firing;
        if (send.length === 0) continue;
        await this.d.queue.enqueue(buildNotification(route.receiver || name, g.key, g.labels, send, this.d.externalURL()), ch);
        queued++;
      }
    }
    // resolved alerts have been told about (or muted): they leave the group
    for (const a of alerts) {
      if (a.state !== 'resolved') continue;
      g.alerts.delete(a.fingerprint);
      this.leave(a.fingerprint, g.key);
    }
    g.flushed = true;
    g.nextFlushAt = now + route.groupInterval;
    if (g.alerts.size === 0) await this.deleteGroup(g);
    else this.dirty.add(g.key); // stored with the rest of this tick's changes
    return queued;
  }

  status(): AlertStatus[] {
    const out: AlertStatus[] = [];
    for (const a of this.active.values()) {
      const m = this.muted(a);
      const groups = [...(this.memberOf.get(a.fingerprint) ?? [])].map((k) => this.groups.get(k)).filter((g): g is Group => g !== undefined);
      const routes = this.routes();
      const channels = new Set<string>();
      const receivers = new Set<string>();
      const timeMuted = new Set<string>();
      const intervals = timeIntervalsOf(this.d.config());
      for (const g of groups) {
        const r = routes.find((x) => x.id === g.route);
        if (!r) continue;
        for (const c of r.channels) channels.add(c);
        if (r.receiver) receivers.add(r.receiver);
        for (const t of timeMutedBy(r, intervals, this.d.now())) timeMuted.add(t);
      }
      out.push({ alert: a, silencedBy: m.silencedBy, inhibitedBy: m.inhibitedBy, groups: groups.map((g) => g.key), channels: [...channels], receivers: [...receivers], timeMutedBy: [...timeMuted] });
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
