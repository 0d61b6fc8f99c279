/**
 * Routing as Alertmanager's dispatch/route.go does it: a tree of routes, each inheriting receiver,
 * group_by and timings from its parent; an alert descends into the first child that matches
 * (and on past it while that child says `continue`), and the parent is the match only when no
 * child matched. Shipshape's flat `routes:` list is the same tree under a root that matches
 * nothing by itself (an alert no route takes goes nowhere, as before).
 */
import { createHash } from 'node:crypto';
import { AM_DEFAULTS, type NotifyConfig, type RouteConfig } from './config.js';
import { allMatch, matchersOf, type Labels, type Matcher } from './match.js';
import { matchersString } from './matchers.js';

export interface ResolvedRoute {
  /** stable id (groups are keyed by it) */
  id: string;
  /** position in a depth-first walk */
  index: number;
  /** where it is in the config: `route.routes[0]`, `routes[2]` */
  path: string;
  /** Alertmanager's route key: the matchers of it and its ancestors, `{}/{owner="team-A"}` */
  key: string;
  /** the receiver name notifications carry (a receivers entry or a channel); '' = each channel's own name */
  receiver: string;
  channels: string[];
  groupBy: string[];
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
  matchers: Matcher[];
  continue: boolean;
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
  children: ResolvedRoute[];
  /** the root of the flat list: never a match itself */
  virtual: boolean;
  route: RouteConfig;
}

export interface RouteTree {
  root: ResolvedRoute;
  /** every route that can take an alert (depth-first, parents first) */
  all: ResolvedRoute[];
}

const sha8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

interface Target {
  receiver: string;
  channels: string[];
}

/** A route's `receiver`: a receivers entry if there is one, else the channel of that name. */
export function receiverChannels(cfg: NotifyConfig, receiver: string): string[] {
  const r = cfg.receivers?.[receiver];
  if (r) return r;
  return receiver in cfg.channels ? [receiver] : [];
}

function targetOf(cfg: NotifyConfig, r: RouteConfig, parent: Target): Target {
  if (r.channels) return { receiver: r.receiver ?? '', channels: r.channels };
  if (r.receiver !== undefined) return { receiver: r.receiver, channels: receiverChannels(cfg, r.receiver) };
  return parent;
}

export function buildRouteTree(cfg: NotifyConfig): RouteTree {
  const all: ResolvedRoute[] = [];
  const node = (r: RouteConfig, parent: ResolvedRoute | undefined, path: string, id: (own: ResolvedRoute) => string, virtual = false): ResolvedRoute => {
    const base = parent ?? { receiver: '', channels: [], groupBy: AM_DEFAULTS.group_by, groupWait: AM_DEFAULTS.group_wait, groupInterval: AM_DEFAULTS.group_interval, repeatInterval: AM_DEFAULTS.repeat_interval, key: '' };
    const target = targetOf(cfg, r, base);
    const matchers = matchersOf(r.match, r.match_re, r.matchers);
    const own: ResolvedRoute = {
      id: '',
      index: 0,
      path,
      key: parent && !parent.virtual ? `${parent.key}/${matchersString(matchers)}` : matchersString(matchers),
      receiver: target.receiver,
      channels: target.channels,
      groupBy: r.group_by ?? base.groupBy,
      groupWait: r.group_wait ?? base.groupWait,
      groupInterval: r.group_interval ?? base.groupInterval,
      repeatInterval: r.repeat_interval ?? base.repeatInterval,
      matchers,
      continue: r.continue,
      // not inherited (dispatch/route.go sets them from the route's own config)
      muteTimeIntervals: r.mute_time_intervals ?? [],
      activeTimeIntervals: r.active_time_intervals ?? [],
      children: [],
      virtual,
      route: r,
    };
    own.id = id(own);
    if (!virtual) {
      own.index = all.length;
      all.push(own);
    }
    own.children = (r.routes ?? []).map((c, i) => node(c, own, `${path}.routes[${i}]`, (o) => `${own.id}/${i}-${sha8(JSON.stringify(ownOpts(o)))}`));
    return own;
  };
  if (cfg.route) {
    const root = node(cfg.route, undefined, 'route', (o) => `root-${sha8(JSON.stringify(ownOpts(o)))}`);
    return { root, all };
  }
  const d = cfg.defaults;
  const virtualRoot: RouteConfig = { match: {}, match_re: {}, continue: false, group_by: d.group_by, group_wait: d.group_wait, group_interval: d.group_interval, repeat_interval: d.repeat_interval };
  const flat: RouteConfig[] = cfg.routes.length ? cfg.routes : Object.keys(cfg.channels).length ? [{ match: {}, match_re: {}, channels: Object.keys(cfg.channels), continue: false }] : [];
  const root = node(virtualRoot, undefined, 'routes', () => 'flat', true);
  // the top-level entries keep the ids earlier releases gave them (stored groups are keyed by them)
  root.children = flat.map((r, i) => {
    const { routes: _children, ...rest } = r;
    return node(r, root, cfg.routes.length ? `routes[${i}]` : 'routes', () => `${cfg.routes.length ? i : 'all'}-${sha8(JSON.stringify(r.routes ? rest : r))}`);
  });
  return { root, all };
}

function ownOpts(o: ResolvedRoute) {
  return { key: o.key, receiver: o.receiver, channels: o.channels, groupBy: o.groupBy, groupWait: o.groupWait, groupInterval: o.groupInterval, repeatInterval: o.repeatInterval, continue: o.continue, mute: o.muteTimeIntervals, active: o.activeTimeIntervals };
}

/** Alertmanager's Route.Match: the routes an alert with these labels goes to, in order. */
export function matchRoute(r: ResolvedRoute, labels: Labels): ResolvedRoute[] {
  if (!allMatch(r.matchers, labels)) return [];
  const out: ResolvedRoute[] = [];
  for (const c of r.children) {
    const m = matchRoute(c, labels);
    out.push(...m);
    if (m.length && !c.continue) break;
  }
  if (out.length === 0 && !r.virtual) out.push(r);
  return out;
}

/** Walk the tree depth-first, parents first (Alertmanager's Route.Walk). */
export function walkRoutes(r: ResolvedRoute, visit: (r: ResolvedRoute) => void): void {
  if (!r.virtual) visit(r);
  for (const c of r.children) walkRoutes(c, visit);
}

/** A route as the CLI and the API show it. */
export interface RouteView {
  path: string;
  /** its own matchers, Alertmanager's form: `{service="db",severity=~"P0|P1"}` */
  matchers: string;
  receiver: string | null;
  channels: string[];
  group_by: string[];
  group_wait: number;
  group_interval: number;
  repeat_interval: number;
  continue: boolean;
  mute_time_intervals: string[];
  active_time_intervals: string[];
}

export function routeView(r: ResolvedRoute): RouteView {
  return {
    path: r.path,
    matchers: matchersString(r.matchers),
    receiver: r.receiver || null,
    channels: r.channels,
    group_by: r.groupBy,
    group_wait: r.groupWait,
    group_interval: r.groupInterval,
    repeat_interval: r.repeatInterval,
    continue: r.continue,
    mute_time_intervals: r.muteTimeIntervals,
    active_time_intervals: r.activeTimeIntervals,
  };
}

/** Every route with its depth in the tree, parents first. */
export function routeRows(tree: RouteTree): (RouteView & { depth: number })[] {
  const rows: (RouteView & { depth: number })[] = [];
  const walk = (r: ResolvedRoute, depth: number) => {
    if (!r.virtual) rows.push({ depth, ...routeView(r) });
    for (const c of r.children) walk(c, r.virtual ? depth : depth + 1);
  };
  walk(tree.root, 0);
  return rows;
}
