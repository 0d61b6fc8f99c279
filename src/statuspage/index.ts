/**
 * The status page: server-rendered HTML that works without JavaScript (dark mode, components and
 * groups mapped to services, 90-day uptime bars with a day detail, open and recent incidents with
 * their public updates, history pages), RSS and Atom feeds, SVG badges and Atlassian Statuspage's
 * public v2 API. Without `status_pages:` in the config, one public page at /status lists every
 * service. It reads the checks module's monitor and the incidents service; it has no tables.
 */
import { checks } from '../checks/index.js';
import type { Config } from '../core/config/load.js';
import { defineModule, type ModuleLifecycle } from '../core/module.js';
import { incidents } from '../incidents/index.js';
import { RenderCache } from './cache.js';
import { resolvePages, statuspageConfig, type ResolvedPage, type StatuspageRaw } from './config.js';
import { statusRoutes } from './routes.js';
import { StatusSource } from './source.js';

export type { StatuspageRaw, ResolvedPage } from './config.js';
export { COMPONENT_STATUSES, type ComponentStatus } from './config.js';

/** how long rendered pages, feeds and API answers are reused (data is never older than 2× this) */
export const RENDER_TTL_MS = 5_000;

export interface StatuspageApi extends ModuleLifecycle<StatuspageRaw> {
  /** the pages in force */
  pages(): ResolvedPage[];
  /** drop rendered responses (tests; changes to incidents and service states do it by themselves) */
  invalidate(): void;
}

export const statuspage = defineModule<StatuspageApi, unknown, StatuspageRaw>({
  name: 'statuspage',
  description: 'status pages (public and internal) with uptime bars, incidents, RSS/Atom feeds, SVG badges and the Statuspage v2 API',
  config: statuspageConfig,
  create(ctx) {
    const log = ctx.logger.child({ component: 'statuspage' });
    let pages = resolvePages(ctx.config().raw);
    const mounted = new Set(pages.map((p) => `${p.key}|${p.path}|${p.host ?? ''}|${p.private}|${p.root}`));
    const source = new StatusSource({ monitor: () => ctx.use(checks).monitor, incidents: () => ctx.use(incidents).service });
    const cache = new RenderCache(RENDER_TTL_MS, ctx.now);
    let off: (() => void) | undefined;
    const invalidate = () => {
      cache.clear();
      source.invalidate();
    };
    return {
      pages: () => pages,
      invalidate,
      async start() {
        off = ctx.events.onEvent((e) => {
          if (e.type.startsWith('incident.') || e.type === 'service.state') invalidate();
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
        statusRoutes(app, { pages: () => pages, source, incidents: () => ctx.use(incidents).service, cache, now: ctx.now });
      },
    };
  },
});
