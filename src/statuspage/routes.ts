/**
 * The status pages' routes. Each page answers on its path (and at / on its host name, when it has
 * one): the HTML page, /history?page=N, /incidents/:id, /day/:date, badges, feeds and the
 * Statuspage-shaped API under /api/v2/. The first public page also answers the root aliases
 * /api/v2/…, /history.rss and /history.atom. Pages are looked up by key on every request, so a
 * config reload changes titles, components and pins at once; new paths or hosts need a restart.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { ServiceError } from '../core/errors.js';
import { COMMON_HEADERS, fastRead, type FastPath } from '../core/http/fast-path.js';
import type { Incidents } from '../incidents/index.js';
import { spComponents, spMaintenances, spIncident, spPage, spStatus, spSummary } from './api.js';
import { statusBadge, uptimeBadge } from './badge.js';
import { prepare, send, write, type RenderCache, type Rendered } from './cache.js';
import type { StatusPageOverview } from './api-types.js';
import type { ResolvedPage } from './config.js';
import { buildFeed } from './feeds.js';
import { renderDay, renderHistory, renderIncident, renderPage, type SubscribeForm } from './render.js';
import { INDICATOR_TEXT, snapshot, STATUS_TEXT, type Snapshot, type StatusSource } from './source.js';

export interface StatusRouteDeps {
  pages: () => ResolvedPage[];
  source: StatusSource;
  incidents: () => Incidents;
  cache: RenderCache;
  now: () => number;
  /** the email subscription form of a page, when the subscriptions module offers one there */
  subscribeForm?: (p: ResolvedPage) => SubscribeForm | undefined;
}

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function statusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  // the dashboard's view of every page (read scope, not cached: it is for the people running the pages)
  app.get('/api/v1/status-pages', { config: { scope: 'read' } }, async () => {
    const items: StatusPageOverview[] = [];
    for (const p of deps.pages()) {
      const s = await snapshot(deps.source, deps.incidents(), p, deps.now());
      items.push({
        key: p.key,
        title: p.title,
        description: p.description ?? null,
        path: p.path,
        host: p.host ?? null,
        private: p.private,
        indicator: s.indicator,
        indicator_text: INDICATOR_TEXT[s.indicator],
        components: s.components.map(({ days: _days, ...c }) => ({ ...c, pin: p.components.find((x) => x.id === c.id)?.pin ?? null })),
        active: s.active.map((i) => ({ id: i.id, ref: i.ref, name: i.name, status: i.status, impact: i.impact, services: i.services, created_at: i.created_at, updated_at: i.updated_at, updates: i.updates })),
      });
    }
    return { items };
  });

  const fast = new Map<string, FastEntry>();
  for (const page of deps.pages()) {
    const targets: { prefix: string; host?: string; pageRoutes: boolean }[] = [{ prefix: page.path, pageRoutes: true }];
    if (page.host) targets.push({ prefix: '', host: page.host, pageRoutes: true });
    if (page.root) targets.push({ prefix: '', pageRoutes: false });
    for (const t of targets) mount(app, deps, page.key, page.private, t, fast);
  }
  if (fast.size > 0) app.shipshapeFastPaths?.push(fastPath(deps, fast));
}

/** A public route without parameters whose rendered answer may be sent before routing. */
interface FastEntry {
  key: string;
  what: string;
  maxAgeS: number;
}

/** The cache key of a rendered answer: links depend on how the page was reached (path or host, and the origin). */
const cacheKey = (key: string, host: string | undefined, base: string, origin: string, what: string) => `${key}|${host ?? ''}|${base}|${origin}|${what}`;

/**
 * Under load most requests are for a page rendered less than a TTL ago: those are answered before
 * routing with the very bytes and headers the route sends (`write` and `send` share `answer`).
 * Anything else — not rendered or stale (the route refreshes it), a query string, a proxy's
 * forwarded headers, a page removed or made private by a reload — goes to the route.
 */
function fastPath(deps: StatusRouteDeps, table: Map<string, FastEntry>): FastPath {
  // cache keys by route and Host header, built once: a lookup then hashes no new string. Hosts are
  // the client's to choose, so each route remembers a bounded number.
  const keys = new Map<FastEntry, Map<string, { path: string; key: string }>>();
  const keyOf = (e: FastEntry, path: string, host: string, origin: () => string): string => {
    let byHost = keys.get(e);
    if (!byHost) keys.set(e, (byHost = new Map()));
    const known = byHost.get(host);
    if (known && known.path === path) return known.key;
    if (byHost.size >= 64) byHost.clear();
    const key = cacheKey(e.key, undefined, path, origin(), e.what);
    byHost.set(host, { path, key });
    return key;
  };
  return (req, res) => {
    const e = req.url === undefined ? undefined : table.get(req.url);
    if (!e) return false;
    const f = fastRead(req);
    if (!f) return false;
    const p = deps.pages().find((x) => x.key === e.key);
    if (!p || p.private) return false;
    const ready = deps.cache.ready(keyOf(e, p.path, f.host, () => f.origin));
    if (!ready) return false;
    write(req, f, res, ready, { private: false, maxAgeS: e.maxAgeS }, COMMON_HEADERS);
    return true;
  };
}

function mount(app: FastifyInstance, deps: StatusRouteDeps, key: string, priv: boolean, t: { prefix: string; host?: string; pageRoutes: boolean }, fast: Map<string, FastEntry>): void {
  const opts: RouteShorthandOptions = { config: { scope: priv ? 'read' : 'public' }, ...(t.host ? { constraints: { host: t.host } } : {}) };
  const P = t.prefix;
  const current = (): ResolvedPage => {
    const p = deps.pages().find((x) => x.key === key);
    if (!p) throw new ServiceError('not_found', `the status page "${key}" is no longer configured`);
    return p;
  };
  /** links inside the page: its path, or the host's root */
  const base = (p: ResolvedPage) => (t.host ? '' : p.path);
  const origin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
  const snap = (p: ResolvedPage): Promise<Snapshot> => snapshot(deps.source, deps.incidents(), p, deps.now());
  const cached = (req: FastifyRequest, reply: FastifyReply, what: string, type: string, make: (p: ResolvedPage) => Promise<string>, maxAgeS = 5) => {
    const p = current();
    const k = cacheKey(key, t.host, base(p), origin(req), what);
    const opts = { private: p.private, maxAgeS };
    // the common case under load: a rendered answer is at hand, sent without a promise in between
    const ready = deps.cache.ready(k);
    if (ready) return send(req, reply, ready, opts);
    return deps.cache.get(k, async (): Promise<Rendered> => prepare(await make(p), type, deps.now())).then((r) => send(req, reply, r, opts));
  };
  /**
   * A route without parameters whose answer is rendered once and reused: it is registered with the
   * router and, when public and on a path of its own (not a host's), with the fast path too.
   */
  const getCached = (path: string, what: string, type: string, make: (req: FastifyRequest, p: ResolvedPage) => Promise<string>, maxAgeS = 5) => {
    app.get(path, opts, (req, reply) => cached(req, reply, what, type, (p) => make(req, p), maxAgeS));
    if (!priv && !t.host) fast.set(path, { key, what, maxAgeS });
  };
  const getJson = (path: string, what: string, make: (req: FastifyRequest, s: Snapshot, p: ResolvedPage) => unknown | Promise<unknown>) =>
    getCached(path, what, JSON_TYPE, async (req, p) => JSON.stringify(await make(req, await snap(p), p)));
  const pageUrl = (req: FastifyRequest, p: ResolvedPage) => `${origin(req)}${base(p) || '/'}`;

  if (t.pageRoutes) {
    getCached(P || '/', 'page', HTML, async (_req, p) => renderPage(await snap(p), base(p), { subscribe: deps.subscribeForm?.(p) }));

    app.get(`${P}/history`, opts, (req, reply) => {
      const q = req.query as { page?: string };
      const n = q.page === undefined ? 1 : Number(q.page);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new ServiceError('invalid', 'page must be a whole number from 1');
      return cached(req, reply, `history:${n}`, HTML, async (p) => {
        const h = await deps.source.history(p, n);
        return renderHistory(p, base(p), h.items, n, h.more, deps.now());
      });
    });

    app.get(`${P}/incidents/:id`, opts, (req, reply) => {
      const id = Number((req.params as { id: string }).id.replace(/^INC-/i, ''));
      if (!Number.isInteger(id) || id < 1) throw new ServiceError('not_found', 'no such incident');
      return cached(req, reply, `incident:${id}`, HTML, async (p) => {
        const inc = await deps.incidents().get(id);
        if (!deps.source.visible(p, inc)) throw new ServiceError('not_found', `no incident ${id} on this status page`);
        return renderIncident(p, base(p), await deps.source.present(inc), deps.now());
      });
    });

    app.get(`${P}/day/:day`, opts, (req, reply) => {
      const day = (req.params as { day: string }).day;
      if (!DAY.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) throw new ServiceError('invalid', 'expected a day like 2025-01-31');
      return cached(req, reply, `day:${day}`, HTML, async (p) => {
        const s = await snap(p);
        const from = Date.parse(`${day}T00:00:00Z`);
        const to = from + 86_400_000;
        if (from < s.at - 91 * 86_400_000) throw new ServiceError('not_found', 'the day detail covers the last 90 days');
        const list = (await deps.source.recent(p, 100, { since: from })).filter((i) => Date.parse(i.created_at) < to);
        return renderDay(s, base(p), day, list);
      });
    });

    const component = (s: Snapshot, name: string) => {
      const c = s.components.find((x) => x.id === name) ?? s.components.find((x) => x.name === name) ?? s.components.find((x) => x.service === name);
      if (!c) throw new ServiceError('not_found', `no component "${name}" on this status page`);
      return c;
    };
    app.get(`${P}/badge/:file`, opts, (req, reply) => {
      const file = (req.params as { file: string }).file;
      if (!file.endsWith('.svg')) throw new ServiceError('not_found', 'badges are at badge/<component>.svg and badge/<component>/uptime.svg');
      const name = file.slice(0, -4);
      return cached(req, reply, `badge:${name}`, 'image/svg+xml; charset=utf-8', async (p) => {
        const c = component(await snap(p), name);
        return statusBadge(c.name, c.status, c.state === 'unknown' && !c.pinned && c.status === 'operational' ? 'no data' : STATUS_TEXT[c.status]);
      });
    });
    app.get(`${P}/badge/:component/uptime.svg`, opts, (req, reply) => {
      const name = (req.params as { component: string }).component;
      return cached(req, reply, `uptime:${name}`, 'image/svg+xml; charset=utf-8', async (p) => {
        const c = component(await snap(p), name);
        return uptimeBadge(`${c.name} uptime`, c.uptime90);
      });
    });
  }

  // feeds: the 50 most recent incidents
  for (const kind of ['rss', 'atom'] as const) {
    getCached(`${P}/history.${kind}`, kind, kind === 'rss' ? 'application/rss+xml; charset=utf-8' : 'application/atom+xml; charset=utf-8', async (req, p) => {
      const f = buildFeed(p, origin(req), base(p), await deps.source.recent(p, 50), deps.now());
      return kind === 'rss' ? f.rss2() : f.atom1();
    }, 60);
  }

  // Atlassian Statuspage v2
  const v2 = `${P}/api/v2`;
  const link = (req: FastifyRequest, p: ResolvedPage) => `${origin(req)}${base(p)}`;
  getJson(`${v2}/summary.json`, 'summary', (req, s, p) => spSummary(s, pageUrl(req, p), link(req, p)));
  getJson(`${v2}/status.json`, 'status', (req, s, p) => ({ page: spPage(s, pageUrl(req, p)), status: spStatus(s) }));
  getJson(`${v2}/components.json`, 'components', (req, s, p) => ({ page: spPage(s, pageUrl(req, p)), components: spComponents(s) }));
  getJson(`${v2}/incidents.json`, 'incidents', async (req, s, p) => ({ page: spPage(s, pageUrl(req, p)), incidents: (await deps.source.recent(p, 50)).map((i) => spIncident(s, i, link(req, p))) }));
  getJson(`${v2}/incidents/unresolved.json`, 'unresolved', (req, s, p) => ({ page: spPage(s, pageUrl(req, p)), incidents: s.active.map((i) => spIncident(s, i, link(req, p))) }));
  // maintenance windows (the maintenance module), in Statuspage's shape
  for (const [m, which] of [['scheduled-maintenances', 'all'], ['scheduled-maintenances/upcoming', 'upcoming'], ['scheduled-maintenances/active', 'active']] as const) {
    getJson(`${v2}/${m}.json`, m, (req, s, p) => spMaintenances(s, pageUrl(req, p), link(req, p), which));
  }
}
