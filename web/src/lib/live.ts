import { useEffect, useSyncExternalStore } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';

/**
 * Live updates: one EventSource on /api/v1/events/stream (cookie auth). Events don't carry whole
 * objects, so they mark the affected queries stale; refetches are batched and throttled to at most
 * one round per second (aggregates, the heaviest, to one per five seconds).
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

interface StreamData {
  service?: string | null;
  check?: string | null;
  ok?: boolean;
  /** alert events carry the AlertInstance, issue events the issue id */
  labels?: Record<string, string>;
  issue_id?: number;
}

const STREAM_URL = '/api/v1/events/stream';
const FLUSH_MS = 1000;
const HEAVY_MS = 5000;

class Invalidator {
  private services = false;
  private all = false;
  private detail = new Set<string>();
  private changes = new Set<string>();
  private failures = new Set<string>();
  private heavy = new Set<string>();
  private alerts = false;
  private silences = false;
  private issues = false;
  private issueIds = new Set<number>();
  /** services whose telemetry charts show alert markers */
  private markers = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = 0;
  private lastHeavy = 0;
  private readonly qc: QueryClient;

  constructor(qc: QueryClient) {
    this.qc = qc;
  }

  onEvent(type: string, data: StreamData): void {
    const svc = typeof data.service === 'string' ? data.service : null;
    switch (type) {
      case 'check.result':
        this.services = true;
        if (svc) {
          this.detail.add(svc);
          this.heavy.add(svc);
          if (data.ok === false && data.check) this.failures.add(svc);
        }
        break;
      case 'check.state':
      case 'service.state':
        this.services = true;
        if (svc) {
          this.detail.add(svc);
          this.changes.add(svc);
          this.failures.add(svc);
        }
        break;
      case 'config.reloaded':
        this.all = true;
        break;
      case 'alert.pending':
      case 'alert.cancelled':
        this.alerts = true;
        break;
      case 'alert.firing':
      case 'alert.resolved':
        this.alerts = true;
        this.markers = true;
        break;
      case 'silence.created':
      case 'silence.expired':
        this.silences = true;
        this.alerts = true;
        break;
      case 'issue.event':
      case 'issue.created':
      case 'issue.regressed':
      case 'issue.resolved':
      case 'issue.ignored':
      case 'issue.unresolved':
        this.issues = true;
        if (typeof data.issue_id === 'number') this.issueIds.add(data.issue_id);
        break;
      default:
        if (type.startsWith('deploy.')) {
          this.markers = true;
          break;
        }
        return;
    }
    this.schedule();
  }

  /** after a reconnect we may have missed events: refresh everything once. */
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
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
      this.reset();
      this.lastHeavy = this.lastFlush;
      return;
    }
    if (this.services) void qc.invalidateQueries({ queryKey: ['services'] });
    for (const s of this.detail) void qc.invalidateQueries({ queryKey: ['service', s] });
    for (const s of this.changes) void qc.invalidateQueries({ queryKey: ['state-changes', s] });
    for (const s of this.failures) void qc.invalidateQueries({ queryKey: ['failures', s] });
    if (this.alerts) {
      void qc.invalidateQueries({ queryKey: ['alerts'] });
      void qc.invalidateQueries({ queryKey: ['notify-alerts'] });
      void qc.invalidateQueries({ queryKey: ['alert-rules'] });
    }
    if (this.silences) void qc.invalidateQueries({ queryKey: ['silences'] });
    if (this.markers) void qc.invalidateQueries({ queryKey: ['markers'] });
    if (this.issues) void qc.invalidateQueries({ queryKey: ['issues'] });
    for (const id of this.issueIds) {
      void qc.invalidateQueries({ queryKey: ['issue', id] });
      void qc.invalidateQueries({ queryKey: ['issue-events', id] });
    }
    let heavyLeft = false;
    if (this.heavy.size) {
      if (this.lastFlush - this.lastHeavy >= HEAVY_MS) {
        for (const s of this.heavy) void qc.invalidateQueries({ queryKey: ['aggregates', s] });
        this.heavy.clear();
        this.lastHeavy = this.lastFlush;
      } else heavyLeft = true;
    }
    const heavy = this.heavy;
    this.reset();
    this.heavy = heavy;
    if (heavyLeft) this.timer = setTimeout(() => this.flush(), this.lastHeavy + HEAVY_MS - Date.now());
  }

  private reset(): void {
    this.services = false;
    this.all = false;
    this.detail = new Set();
    this.changes = new Set();
    this.failures = new Set();
    this.heavy = new Set();
    this.alerts = false;
    this.silences = false;
    this.issues = false;
    this.issueIds = new Set();
    this.markers = false;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

const EVENT_TYPES = [
  'check.result',
  'check.state',
  'service.state',
  'config.reloaded',
  'alert.pending',
  'alert.firing',
  'alert.resolved',
  'alert.cancelled',
  'silence.created',
  'silence.expired',
  'issue.event',
  'issue.created',
  'issue.regressed',
  'issue.resolved',
  'issue.ignored',
  'issue.unresolved',
  'deploy.started',
  'deploy.succeeded',
  'deploy.failed',
  'deploy.rolled_back',
] as const;

/** Keeps the event stream open while `enabled` (signed in); reconnects with backoff. */
export function useLiveUpdates(enabled: boolean): void {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') {
      setSnapshot({ status: 'off' });
      return;
    }
    const inv = new Invalidator(qc);
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let attempts = 0;
    let opened = false;
    let stopped = false;

    const onMessage = (type: string) => (ev: MessageEvent<string>) => {
      let data: StreamData = {};
      try {
        data = JSON.parse(ev.data) as StreamData;
      } catch {
        // a comment or keep-alive: nothing to refresh
      }
      setSnapshot({ lastEventAt: Date.now(), events: snapshot.events + 1 });
      inv.onEvent(type, data);
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
          void qc.invalidateQueries({ queryKey: ['me'] });
          attempts += 1;
          const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempts - 1, 5));
          retry = setTimeout(connect, delay);
        } else {
          setSnapshot({ status: 'reconnecting' });
        }
      };
      for (const t of EVENT_TYPES) source.addEventListener(t, onMessage(t) as EventListener);
    };

    connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      es?.close();
      inv.dispose();
      setSnapshot({ status: 'off' });
    };
  }, [enabled, qc]);
}
