/**
 * `status_pages:` in shipshape.yaml: one entry per page (public or internal), each on a path or a
 * host name, with its title, logo, links, colours and components (services, grouped, optionally
 * pinned to a status by hand). Without the section there is one default public page at /status
 * listing every service.
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';

/** Atlassian Statuspage's component statuses (what widgets and scripts understand). */
export const COMPONENT_STATUSES = ['operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance'] as const;

/** A service's state as its component's status (before maintenance windows, incidents and pins). */
export function componentStatusOf(state: string | undefined): ComponentStatus {
  return state === 'down' ? 'major_outage' : state === 'degraded' ? 'degraded_performance' : 'operational';
}
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

const color = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'expected a hex colour like #1f6feb');
/** http(s) URLs or site-relative paths only: no javascript:, data: or other schemes in links and logos */
const url = z
  .string()
  .max(2000)
  .regex(/^(?:https?:\/\/[^\s"'<>]+|\/(?!\/)[^\s"'<>]*)$/, 'expected an http(s) URL or a path starting with /');
const PATH = /^\/[a-z0-9][a-z0-9._~-]*(?:\/[a-z0-9][a-z0-9._~-]*)*$/;
const HOST = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?::\d{1,5})?$/;

const componentSchema = z
  .object({
    name: z.string().min(1).max(100).meta({ description: 'what visitors see (defaults to the service name)' }).optional(),
    service: z.string().min(1).meta({ description: 'the service (under services:) whose checks and incidents give this component its status' }),
    group: z.string().min(1).max(100).optional().meta({ description: 'components with the same group are shown together under this heading' }),
    description: z.string().max(500).optional(),
    pin: z.enum(COMPONENT_STATUSES).optional().meta({ description: 'show this status whatever the checks say (set by hand during maintenance or a known problem)' }),
  })
  .strict();

const pageSchema = z
  .object({
    path: z.string().regex(PATH, 'expected a path like /status (lower-case letters, digits, ".", "_", "~", "-")').optional().meta({ description: 'where the page is served (default /status for the first page, /status/<key> for others); its JSON API is at <path>/api/v2/…' }),
    host: z.string().toLowerCase().regex(HOST, 'expected a host name like status.example.com').optional().meta({ description: 'serve the page at / on this host name (as well as on its path); its API at /api/v2/… on that host' }),
    title: z.string().min(1).max(200).optional().meta({ description: 'the page title (default: "<key> status")' }),
    description: z.string().max(1000).optional(),
    logo: url.optional().meta({ description: 'an image URL or a path' }),
    url: url.optional().meta({ description: 'your site (the title links to it; also the Statuspage API page.url)' }),
    links: z
      .array(z.object({ label: z.string().min(1).max(100), url }).strict())
      .max(20)
      .default([])
      .meta({ description: 'links in the header: [{ label, url }]' }),
    colors: z
      .object({ accent: color.optional(), operational: color.optional(), degraded: color.optional(), outage: color.optional(), maintenance: color.optional() })
      .strict()
      .default({}),
    time_zone: z.string().default('UTC').meta({ description: 'Statuspage API page.time_zone' }),
    components: z.array(componentSchema).max(500).optional().meta({ description: 'the components shown, in order (default: every service)' }),
    private: z.boolean().default(false).meta({ description: 'internal page: needs a token or a dashboard login with the read scope' }),
    recent_days: z.number().int().min(1).max(90).default(14).meta({ description: 'incidents resolved within this many days are shown on the page; older ones under history' }),
    history_page_size: z.number().int().min(5).max(100).default(20),
  })
  .strict();

export type PageConfig = z.output<typeof pageSchema>;
export type ComponentConfig = z.output<typeof componentSchema>;

const KEY = /^[a-z][a-z0-9_-]{0,39}$/;

export const statusPagesSchema = z
  .record(z.string().regex(KEY, 'a status page key is a lower-case letter then letters, digits, "_" or "-"'), pageSchema)
  .optional()
  .meta({ description: 'status pages (default: one public page at /status listing every service)' });

export type StatuspageRaw = CoreConfig & { status_pages?: Record<string, PageConfig> };

/** A page as served: defaults filled in, components resolved against the services in force. */
export interface ResolvedPage {
  key: string;
  path: string;
  host?: string;
  title: string;
  description?: string;
  logo?: string;
  url?: string;
  links: { label: string; url: string }[];
  colors: PageConfig['colors'];
  time_zone: string;
  private: boolean;
  recent_days: number;
  history_page_size: number;
  /** in display order */
  components: { id: string; name: string; service: string; group?: string; description?: string; pin?: ComponentStatus }[];
  /** false: only incidents naming one of the page's services are shown */
  allIncidents: boolean;
  /** serves the root aliases /api/v2/…, /history.rss and /history.atom */
  root: boolean;
}

/** A stable id for a name (Statuspage ids are strings): lower-case letters, digits and "-". */
export function slug(s: string): string {
  const out = s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return out || 'c';
}

/** The pages in force: the configured ones, or the default /status page listing every service. */
export function resolvePages(raw: StatuspageRaw): ResolvedPage[] {
  const services = Object.keys(raw.services ?? {});
  const configured = raw.status_pages;
  if (!configured || Object.keys(configured).length === 0) {
    return [
      {
        key: 'default',
        path: '/status',
        title: 'Status',
        links: [],
        colors: {},
        time_zone: 'UTC',
        private: false,
        recent_days: 14,
        history_page_size: 20,
        components: uniqueIds(services.map((s) => ({ name: s, service: s, description: raw.services[s]?.description }))),
        allIncidents: true,
        root: true,
      },
    ];
  }
  let rootTaken = false;
  return Object.entries(configured).map(([key, p], i) => {
    const comps = p.components ?? services.map((s) => ({ service: s, description: raw.services[s]?.description }));
    const root = !rootTaken && !p.private;
    if (root) rootTaken = true;
    return {
      key,
      path: p.path ?? (i === 0 ? '/status' : `/status/${key}`),
      host: p.host,
      title: p.title ?? (i === 0 ? 'Status' : `${key} status`),
      description: p.description,
      logo: p.logo,
      url: p.url,
      links: p.links,
      colors: p.colors,
      time_zone: p.time_zone,
      private: p.private,
      recent_days: p.recent_days,
      history_page_size: p.history_page_size,
      components: uniqueIds(comps.map((c) => ({ ...c, name: ('name' in c && c.name) || c.service }))),
      allIncidents: p.components === undefined,
      root,
    };
  });
}

function uniqueIds<T extends { name: string }>(list: T[]): (T & { id: string })[] {
  const seen = new Set<string>();
  return list.map((c) => {
    let id = slug(c.name);
    for (let n = 2; seen.has(id); n++) id = `${slug(c.name)}-${n}`;
    seen.add(id);
    return { ...c, id };
  });
}

const RESERVED = /^\/(?:api|v1|health|metrics|events|auth)(?:\/|$)/;

export const statuspageConfig = {
  sections: { status_pages: statusPagesSchema },
  validate(raw: StatuspageRaw) {
    const out: { path: (string | number)[]; message: string }[] = [];
    const pages = raw.status_pages ?? {};
    const paths = new Map<string, string>();
    const hosts = new Map<string, string>();
    const resolved = resolvePages(raw);
    for (const p of resolved) {
      if (!raw.status_pages) break;
      const prevPath = paths.get(p.path);
      if (prevPath) out.push({ path: ['status_pages', p.key, 'path'], message: `the path ${p.path} is already used by status page "${prevPath}"` });
      paths.set(p.path, p.key);
      if (RESERVED.test(p.path)) out.push({ path: ['status_pages', p.key, 'path'], message: `${p.path} is taken by Shipshape's own API; pick another path such as /status` });
      if (p.host) {
        const prevHost = hosts.get(p.host);
        if (prevHost) out.push({ path: ['status_pages', p.key, 'host'], message: `the host ${p.host} is already used by status page "${prevHost}"` });
        hosts.set(p.host, p.key);
      }
    }
    for (const [key, p] of Object.entries(pages)) {
      (p.components ?? []).forEach((c, i) => {
        if (!(c.service in (raw.services ?? {}))) out.push({ path: ['status_pages', key, 'components', i, 'service'], message: `unknown service "${c.service}"; services: ${Object.keys(raw.services ?? {}).join(', ') || '(none)'}` });
      });
    }
    return out;
  },
};
