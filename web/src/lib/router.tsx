import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

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

export const ALERT_TABS = ['firing', 'pending', 'silenced', 'history'] as const;
export type AlertTab = (typeof ALERT_TABS)[number];

export type Route =
  | { page: 'overview' }
  | { page: 'service'; name: string }
  | { page: 'alerts'; tab: AlertTab }
  | { page: 'errors' }
  | { page: 'issue'; id: number }
  | { page: 'not-found'; path: string };

export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, '') || '/';
  if (clean === '/' || clean === '/index.html') return { page: 'overview' };
  if (clean === '/alerts') return { page: 'alerts', tab: 'firing' };
  const a = /^\/alerts\/([a-z]+)$/.exec(clean);
  if (a?.[1] && (ALERT_TABS as readonly string[]).includes(a[1])) return { page: 'alerts', tab: a[1] as AlertTab };
  if (clean === '/errors') return { page: 'errors' };
  const e = /^\/errors\/(\d{1,15})$/.exec(clean);
  if (e?.[1]) return { page: 'issue', id: Number(e[1]) };
  const m = /^\/services\/([^/]+)$/.exec(clean);
  if (m?.[1]) {
    try {
      return { page: 'service', name: decodeURIComponent(m[1]) };
    } catch {
      return { page: 'not-found', path };
    }
  }
  return { page: 'not-found', path };
}

export const servicePath = (name: string) => `/services/${encodeURIComponent(name)}`;
export const alertsPath = (tab: AlertTab = 'firing') => (tab === 'firing' ? '/alerts' : `/alerts/${tab}`);
export const issuePath = (id: number) => `/errors/${id}`;

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
