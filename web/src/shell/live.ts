import { useEffect, useSyncExternalStore } from 'react';
import { hashKey, useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import { ME_KEY } from './session.ts';
import type { LiveContext, LiveEvent, WebModule } from './module.ts';

/**
 * Live updates: one EventSource on /api/v1/events/stream (cookie auth). Which events to listen to
 * and what they make stale comes from the modules (`WebModule.live`); the shell only batches the
 * refetches (at most one round per second, `heavy` queries at most one per five seconds) and
 * refreshes everything after a reconnect or a config reload.
 */

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'off';

interface LiveSnapshot {
  status: LiveStatus;
  lastEventAt: number | null;
  events: number;
}

let snapshot: LiveSnapshot = { status: 'off', lastEventAt: null, events: 0 };
const listeners = new Set<() => void>();

function setSnapshot(patch: Partial<LiveSnapshot>): void {
  snapshot = { ...snapshot, ...patch };
  for (const l of listeners) l();
}

export function useLiveStatus(): LiveSnapshot {
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => snapshot,
  );
}

const STREAM_URL = '/api/v1/events/stream';
const FLUSH_MS = 1000;
const HEAVY_MS = 5000;
/** core events the shell itself handles */
const CONFIG_RELOADED = 'config.reloaded';

/** Collects invalidations and flushes them in throttled rounds. */
class Invalidator {
  private all = false;
  private keys = new Map<string, QueryKey>();
  private heavy = new Map<string, QueryKey>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = 0;
  private lastHeavy = 0;
  readonly ctx: LiveContext;

  constructor(private readonly qc: QueryClient) {
    this.ctx = {
      queryClient: qc,
      invalidate: (queryKey, opts) => {
        (opts?.heavy ? this.heavy : this.keys).set(hashKey(queryKey), queryKey);
        this.schedule();
      },
    };
  }

  /** after a reconnect (or a config reload) we may have missed changes: refresh everything once. */
  refreshAll(): void {
    this.all = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + FLUSH_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = null;
    this.lastFlush = Date.now();
    const qc = this.qc;
    if (this.all) {
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
      this.all = false;
      this.keys.clear();
      this.heavy.clear();
      this.lastHeavy = this.lastFlush;
      return;
    }
    for (const key of this.keys.values()) void qc.invalidateQueries({ queryKey: key });
    this.keys.clear();
    if (this.heavy.size) {
      if (this.lastFlush - this.lastHeavy >= HEAVY_MS) {
        for (const key of this.heavy.values()) void qc.invalidateQueries({ queryKey: key });
        this.heavy.clear();
        this.lastHeavy = this.lastFlush;
      } else {
        this.timer = setTimeout(() => this.flush(), this.lastHeavy + HEAVY_MS - Date.now());
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** event type → the modules' handlers for it */
function handlersByType(modules: readonly WebModule[]): Map<string, NonNullable<WebModule['live']>[]> {
  const out = new Map<string, NonNullable<WebModule['live']>[]>();
  for (const m of modules) {
    if (!m.live) continue;
    for (const t of m.live.events) out.set(t, [...(out.get(t) ?? []), m.live]);
  }
  return out;
}

/** Keeps the event stream open while `enabled` (signed in); reconnects with backoff. */
export function useLiveUpdates(enabled: boolean, modules: readonly WebModule[]): void {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') {
      setSnapshot({ status: 'off' });
      return;
    }
    const inv = new Invalidator(qc);
    const handlers = handlersByType(modules);
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let attempts = 0;
    let opened = false;
    let stopped = false;

    const onMessage = (type: string) => (ev: MessageEvent<string>) => {
      let data: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(ev.data);
        if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
      } catch {
        // a comment or keep-alive: nothing to refresh
      }
      setSnapshot({ lastEventAt: Date.now(), events: snapshot.events + 1 });
      if (type === CONFIG_RELOADED) {
        inv.refreshAll();
        return;
      }
      const event: LiveEvent = { type, data };
      for (const h of handlers.get(type) ?? []) h.onEvent(event, inv.ctx);
    };

    const connect = () => {
      if (stopped) return;
      setSnapshot({ status: opened ? 'reconnecting' : 'connecting' });
      const source = new EventSource(STREAM_URL, { withCredentials: true });
      es = source;
      source.onopen = () => {
        if (opened || attempts > 0) inv.refreshAll();
        opened = true;
        attempts = 0;
        setSnapshot({ status: 'live' });
      };
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) {
          // the browser gave up (HTTP error, e.g. 401 after the session ended): check the session,
          // then try again ourselves with backoff.
          source.close();
          setSnapshot({ status: 'reconnecting' });
          void qc.invalidateQueries({ queryKey: ME_KEY });
          attempts += 1;
          const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempts - 1, 5));
          retry = setTimeout(connect, delay);
        } else {
          setSnapshot({ status: 'reconnecting' });
        }
      };
      for (const t of [CONFIG_RELOADED, ...handlers.keys()]) source.addEventListener(t, onMessage(t) as EventListener);
    };

    connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      es?.close();
      inv.dispose();
      setSnapshot({ status: 'off' });
    };
  }, [enabled, qc, modules]);
}
