/**
 * The status page: server-rendered HTML that works without JavaScript (dark mode, components and
 * groups mapped to services, 90-day uptime bars with a day detail, open and recent incidents with
 * their public updates, history pages), RSS and Atom feeds, SVG badges and Atlassian Statuspage's
 * public v2 API. Without `status_pages:` in the config, one public page at /status lists every
 * service. It reads the checks module's monitor, the incidents service and the maintenance
 * windows (`use(maintenance)`); it has no tables.
 */
import { checks } from '../checks/index.js';
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleLifecycle } from '../core/module.js';
import { incidents } from '../incidents/index.js';
import { maintenance, type Maintenance } from '../maintenance/index.js';
import { RenderCache } from './cache.js';
import { resolvePages, statuspageConfig, type ResolvedPage, type StatuspageRaw } from './config.js';
import { statusRoutes } from './routes.js';
import { INDICATOR_TEXT, snapshot, StatusSource, type Snapshot } from './source.js';
import { spIncident, spStatus, type SpIncident } from './api.js';
import type { SubscribeForm } from './render.js';

export type { StatuspageRaw, ResolvedPage } from './config.js';
export { COMPONENT_STATUSES, componentStatusOf, type ComponentStatus } from './config.js';
export type { SpIncident } from './api.js';
export { renderNotice, type NoticeView, type SubscribeForm } from './render.js';
export type { StatusPageOverview } from './api-types.js';

/** how long rendered pages, feeds and API answers are reused (data is never older than 2× this) */
export const RENDER_TTL_MS = 5_000;

export interface StatuspageApi extends ModuleLifecycle<StatuspageRaw> {
  /** the pages in force */
  pages(): ResolvedPage[];
  /** drop rendered responses (tests; changes to incidents and service states do it by themselves) */
  invalidate(): void;
  /**
   * An incident as this page shows it, in Atlassian Statuspage's shape (webhook payloads), with the
   * page's status now; undefined when the page does not show it (declined, merged, or none of its
   * services on the page) or the page is gone. `base` is the page's absolute URL (for shortlinks).
   */
  publicIncident(pageKey: string, id: number, base: string): Promise<{ page: { id: string; status_indicator: string; status_description: string }; incident: SpIncident } | undefined>;
  /** the page's overall status now (Statuspage's indicator and its text) */
  pageStatus(pageKey: string): Promise<{ indicator: string; description: string } | undefined>;
  /** Offer an email subscription form on pages (the subscriptions module does); undefined: no form. */
  setSubscribeForm(fn: ((page: ResolvedPage) => SubscribeForm | undefined) | undefined): void;
}

export const statuspage = defineModule<StatuspageApi, unknown, StatuspageRaw>({
  name: 'statuspage',
  description: 'status pages (public and internal) with uptime bars, incidents, RSS/Atom feeds, SVG badges and the Statuspage v2 API',
  config: statuspageConfig,
  create(ctx) {
    const log = ctx.logger.child({ component: 'statuspage' });
    let pages = resolvePages(ctx.config().raw);
    const mounted = new Set(pages.map((p) => `${p.key}|${p.path}|${p.host ?? ''}|${p.private}|${p.root}`));
    // maintenance windows, when the maintenance module runs (it is created before this one)
    let windows: Maintenance | undefined;
    try {
      windows = ctx.use(maintenance).service;
    } catch {
      windows = undefined;
    }
    const source = new StatusSource({ monitor: () => ctx.use(checks).monitor, incidents: () => ctx.use(incidents).service, maintenance: () => windows });
    const cache = new RenderCache(RENDER_TTL_MS, ctx.now);
    let off: (() => void) | undefined;
    let subscribeForm: ((page: ResolvedPage) => SubscribeForm | undefined) | undefined;
    const snapOf = async (key: string) => {
      const p = pages.find((x) => x.key === key);
      return p ? snapshot(source, ctx.use(incidents).service, p, ctx.now()) : undefined;
    };
    const invalidate = () => {
      cache.clear();
      source.invalidate();
    };
    return {
      pages: () => pages,
      invalidate,
      async publicIncident(pageKey, id, base) {
        const p = pages.find((x) => x.key === pageKey);
        if (!p) return undefined;
        const inc = await ctx.use(incidents).service.get(id).catch(() => undefined);
        if (!inc || !source.visible(p, inc)) return undefined;
        const s = (await snapOf(pageKey)) as Snapshot;
        return { page: { id: p.key, status_indicator: s.indicator, status_description: INDICATOR_TEXT[s.indicator] }, incident: spIncident(s, await source.present(inc), base) };
      },
      async pageStatus(pageKey) {
        const s = await snapOf(pageKey);
        return s ? spStatus(s) : undefined;
      },
      setSubscribeForm(fn) {
        subscribeForm = fn;
        cache.clear();
      },
      async start() {
        off = ctx.events.onEvent((e) => {
          if (e.type.startsWith('incident.') || e.type.startsWith('maintenance.') || e.type === 'service.state') invalidate();
        });
      },
      async apply(config: Config<StatuspageRaw>) {
        pages = resolvePages(config.raw);
        invalidate();
        const changed = pages.filter((p) => !mounted.has(`${p.key}|${p.path}|${p.host ?? ''}|${p.private}|${p.root}`));
        if (changed.length) log.warn({ pages: changed.map((p) => p.key) }, 'status page paths, hosts or privacy changed: restart Shipshape to serve them there');
      },
      async stop() {
        off?.();
      },
      routes(app) {
        statusRoutes(app, { pages: () => pages, source, incidents: () => ctx.use(incidents).service, cache, now: ctx.now, subscribeForm: (p) => subscribeForm?.(p) });
      },
    };
  },
});
