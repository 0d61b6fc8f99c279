import type { ComponentType } from 'react';
import type { QueryClient, QueryKey } from '@tanstack/react-query';

/**
 * The contract between the shell and a dashboard domain. Each `web/src/<domain>/index.ts(x)`
 * exports one `WebModule`; `web/src/modules.ts` lists them, and the shell builds the router, the
 * navigation, the live-event subscriptions and the service page's extra panels from that list.
 */
export interface WebModule {
  name: string;
  /** an entry in the top bar */
  nav?: NavItem;
  /** pages; the first route whose pattern matches the path wins (modules in list order) */
  routes?: RouteDef[];
  /** live updates from the event stream */
  live?: LiveHandler;
  /** panels this domain adds to a service's page (the checks domain renders them) */
  servicePanels?: ServicePanel[];
}

export interface NavItem {
  label: string;
  path: string;
  /** ascending, left to right */
  order: number;
  /** highlighted on these paths; default: `path` and everything under it */
  active?: (path: string) => boolean;
  /** e.g. a count next to the label */
  badge?: ComponentType;
}

export interface RouteProps {
  /** the pattern's `:params`, decoded */
  params: Record<string, string>;
}

export interface RouteDef {
  /**
   * `/services/:name`, `/errors/:id(\\d{1,15})`: literal segments and named parameters (one
   * segment each), optionally constrained by a regular expression in parentheses.
   */
  path: string;
  component: ComponentType<RouteProps>;
  /** the page is mounted afresh when this changes (default: once per route) */
  key?: (params: Record<string, string>) => string;
}

/** One event from `/api/v1/events/stream`: its type and (parsed) data. */
export interface LiveEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface LiveContext {
  queryClient: QueryClient;
  /**
   * Mark queries stale (prefix match on the key). Batched: refetches go out at most once a second;
   * `heavy` ones (expensive queries) at most once every five seconds.
   */
  invalidate(queryKey: QueryKey, opts?: { heavy?: boolean }): void;
}

export interface LiveHandler {
  /** event types to subscribe to (SSE event names, exact) */
  events: readonly string[];
  onEvent(event: LiveEvent, ctx: LiveContext): void;
}

export interface ServicePanel {
  /** ascending, top to bottom */
  order: number;
  component: ComponentType<{ service: string }>;
}

export function defineModule(m: WebModule): WebModule {
  return m;
}
