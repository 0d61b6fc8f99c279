import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';
import type { RouteDef } from './module.ts';

/** A tiny History-API router: the path is the state, <Link> and navigate() change it. */

const NAV_EVENT = 'shipshape:navigate';

function subscribe(cb: () => void): () => void {
  window.addEventListener('popstate', cb);
  window.addEventListener(NAV_EVENT, cb);
  return () => {
    window.removeEventListener('popstate', cb);
    window.removeEventListener(NAV_EVENT, cb);
  };
}

const getPath = () => window.location.pathname;

export function usePath(): string {
  return useSyncExternalStore(subscribe, getPath, getPath);
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo(0, 0);
  window.dispatchEvent(new Event(NAV_EVENT));
}

/** The path without a trailing slash; `/index.html` is the root. */
export function cleanPath(path: string): string {
  const clean = path.replace(/\/+$/, '') || '/';
  return clean === '/index.html' ? '/' : clean;
}

interface Compiled {
  re: RegExp;
  names: string[];
}

const compiled = new Map<string, Compiled>();

function compile(pattern: string): Compiled {
  let c = compiled.get(pattern);
  if (c) return c;
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((seg) => {
      const m = /^:(\w+)(?:\((.+)\))?$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return m[2] ? `(${m[2]})` : '([^/]+)';
    })
    .join('/');
  c = { re: new RegExp(`^${source}$`), names };
  compiled.set(pattern, c);
  return c;
}

/** The params of `pattern` in `path`, or null when it does not match (or a segment is badly escaped). */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const { re, names } = compile(pattern);
  const m = re.exec(cleanPath(path));
  if (!m) return null;
  const params: Record<string, string> = {};
  try {
    names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1] ?? '');
    });
  } catch {
    return null;
  }
  return params;
}

export function findRoute(routes: readonly RouteDef[], path: string): { route: RouteDef; params: Record<string, string> } | null {
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) return { route, params };
  }
  return null;
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

/** An <a> that navigates in-app on a plain left click and behaves natively otherwise (new tab…). */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (rest.target && rest.target !== '_self') return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
