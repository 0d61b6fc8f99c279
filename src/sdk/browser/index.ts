/**
 * `shipshape/sdk/browser`: Core Web Vitals (LCP, INP, CLS, FCP, TTFB, measured by Google's
 * `web-vitals`) and business events from real users' browsers, sent to Shipshape when the page is
 * hidden or left (navigator.sendBeacon, falling back to fetch keepalive). Shipshape computes the
 * p75 per page.
 *
 * ```ts
 * import { initShipshape } from 'shipshape/sdk/browser';
 * const shipshape = initShipshape({ url: 'https://ops.example.com', token: 'ingest-token', service: 'web' });
 * shipshape.track('signup_completed');
 * ```
 * The token travels in the query string (`?token=`): beacons cannot set headers, and a text/plain
 * body keeps the request "simple" (no CORS preflight). Use an ingest token, which is meant to be
 * public in pages, never an API token.
 */
import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals';
import { LIMITS, eventName, ingestUrl, normalizePath, type IngestEvent, type IngestPayload, type IngestVital } from '../shared.js';

export interface BrowserOptions {
  /** the Shipshape server, e.g. `https://ops.example.com` */
  url: string;
  /** an ingest token (`ingest.tokens` in shipshape.yaml) */
  token: string;
  /** the service the page belongs to (`services.<name>` in shipshape.yaml) */
  service: string;
  /**
   * The page a vital belongs to. Default: the path without query or fragment, ids as `:id`
   * (`/orders/123?x=1` -> `/orders/:id`). Return your router's template for exact names.
   */
  pageName?: (location: { pathname: string; href: string }) => string;
  /** send queued business events this often even while the page stays visible (default 10 000 ms; 0: only on hide) */
  flushIntervalMs?: number;
  /** most items held (default 500); the oldest are dropped beyond it */
  maxQueue?: number;
  /** record vitals for this share of page views (0..1, default 1) */
  sampleRate?: number;
}

export interface BrowserClient {
  /** count a business event (`signup_completed`), optionally with an amount */
  track(name: string, opts?: { value?: number; count?: number }): void;
  /** send everything queued now (happens on its own when the page is hidden or left) */
  flush(): void;
  /** stop listening (single-page apps tearing down, tests) */
  stop(): void;
}

// The few DOM APIs used, typed locally: the project compiles without the DOM lib.
interface Win {
  location: { pathname: string; href: string };
  navigator: { sendBeacon?: (url: string, data: string) => boolean };
  document: { visibilityState: string; addEventListener(t: string, f: () => void): void; removeEventListener(t: string, f: () => void): void };
  addEventListener(t: string, f: () => void): void;
  removeEventListener(t: string, f: () => void): void;
  fetch?: (url: string, init: Record<string, unknown>) => Promise<unknown>;
  setInterval(f: () => void, ms: number): number;
  clearInterval(id: number): void;
}

/** Start measuring. Safe to call during server-side rendering (it does nothing there). */
export function initShipshape(opts: BrowserOptions): BrowserClient {
  const w = globalThis as unknown as Partial<Win>;
  const noop: BrowserClient = { track() {}, flush() {}, stop() {} };
  if (!w.document || !w.location || !w.navigator) return noop;
  const win = w as Win;
  if (!opts?.url || !opts.token || !opts.service) {
    console.warn('shipshape: initShipshape needs url, token and service; not measuring');
    return noop;
  }
  const endpoint = `${ingestUrl(opts.url)}?token=${encodeURIComponent(opts.token)}`;
  const maxQueue = opts.maxQueue && opts.maxQueue > 0 ? opts.maxQueue : 500;
  const sampled = Math.random() < (opts.sampleRate ?? 1);
  // vitals by metric id: a metric reported again (CLS, INP after the page was shown again) replaces
  // its queued value instead of counting twice
  const vitals = new Map<string, IngestVital>();
  let events: IngestEvent[] = [];
  let stopped = false;

  const page = (m: Metric): string => {
    try {
      const loc = m.navigationURL ? new URL(m.navigationURL, win.location.href) : win.location;
      const name = opts.pageName ? opts.pageName({ pathname: loc.pathname, href: loc.href }) : normalizePath(loc.pathname);
      return typeof name === 'string' && name ? name.slice(0, LIMITS.page) : '/';
    } catch {
      return '/';
    }
  };

  const onMetric = (m: Metric) => {
    if (stopped || !(m.value >= 0 && m.value <= LIMITS.vitalValue)) return;
    vitals.delete(m.id);
    vitals.set(m.id, { page: page(m), name: m.name, value: Math.round(m.value * 10_000) / 10_000, at: Date.now() });
    while (vitals.size > maxQueue) vitals.delete(vitals.keys().next().value as string);
  };

  if (sampled) {
    // every change is reported and only the latest value per metric is kept until the page is
    // hidden; waiting for web-vitals' own final reports loses INP when the page is left before the
    // browser was idle after the interaction
    const all = { reportAllChanges: true };
    onTTFB(onMetric, all);
    onFCP(onMetric, all);
    onLCP(onMetric, all);
    onINP(onMetric, all);
    onCLS(onMetric, all);
  }

  const send = (body: string): void => {
    try {
      if (typeof win.navigator.sendBeacon === 'function' && win.navigator.sendBeacon(endpoint, body)) return;
    } catch {
      // fall through to fetch
    }
    try {
      // text/plain keeps it a CORS "simple" request: no preflight, works while the page unloads
      void win.fetch?.(endpoint, { method: 'POST', body, keepalive: true, mode: 'no-cors', credentials: 'omit', headers: { 'content-type': 'text/plain;charset=UTF-8' } })?.catch?.(() => undefined);
    } catch {
      // nothing more to try; telemetry must never break the page
    }
  };

  /**
   * Send what is queued. `final`: only what can no longer change (events, FCP, TTFB); LCP, CLS and
   * INP keep changing until the page is hidden and are sent then, once.
   */
  const flush = (what: 'all' | 'final' | 'events' = 'all'): void => {
    const vs: IngestVital[] = [];
    if (what !== 'events') {
      for (const [id, v] of vitals) {
        if (what === 'final' && v.name !== 'FCP' && v.name !== 'TTFB') continue;
        vs.push(v);
        vitals.delete(id);
      }
    }
    if (vs.length === 0 && events.length === 0) return;
    const es = events;
    events = [];
    // beacons are capped around 64KB: send big queues in slices
    for (let i = 0, j = 0; i < vs.length || j < es.length; i += 200, j += 200) {
      const part: IngestPayload = { service: opts.service };
      if (i < vs.length) part.vitals = vs.slice(i, i + 200);
      if (j < es.length) part.events = es.slice(j, j + 200);
      send(JSON.stringify(part));
    }
  };

  // web-vitals updates LCP, CLS and INP from its own (capturing) visibilitychange listeners; this
  // one is on the document and not capturing, so it runs after them and sends their final values.
  // Leaving a page fires pagehide first, then visibilitychange: pagehide sends only what is final.
  const onVisibility = () => {
    if (win.document.visibilityState === 'hidden') flush('all');
  };
  const onPageHide = () => flush('final');
  win.document.addEventListener('visibilitychange', onVisibility);
  win.addEventListener('pagehide', onPageHide);
  const interval = opts.flushIntervalMs === 0 ? undefined : win.setInterval(() => flush('events'), opts.flushIntervalMs ?? 10_000);

  return {
    track(name, o = {}) {
      if (stopped) return;
      const n = eventName(name);
      if (!n || (o.value !== undefined && !Number.isFinite(o.value)) || (o.count !== undefined && !(Number.isInteger(o.count) && o.count > 0))) return;
      const e: IngestEvent = { name: n, at: Date.now() };
      if (o.value !== undefined) e.value = o.value;
      if (o.count !== undefined && o.count !== 1) e.count = o.count;
      events.push(e);
      if (events.length > maxQueue) events.shift();
    },
    flush: () => flush('all'),
    stop() {
      flush('all');
      stopped = true;
      win.document.removeEventListener('visibilitychange', onVisibility);
      win.removeEventListener('pagehide', onPageHide);
      if (interval !== undefined) win.clearInterval(interval);
    },
  };
}

export { normalizePath };
