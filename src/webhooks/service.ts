/**
 * The inbox: a verified delivery is stored (a committed insert) before it is acknowledged; a
 * worker forwards stored deliveries to the hook's app URL with the original body and signature
 * headers, one attempt at a time per delivery, with exponential backoff and jitter whose next time
 * is in the table (a restart resumes), a timeout per attempt, no redirects followed and bounded
 * concurrency. Each attempt is recorded; the last failure marks the delivery `failed` and writes
 * `webhook.failed`. Signature rejections are counted, kept in a capped table, and written to the
 * event log at most once per hook per 5 minutes (with the count since the last one).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Insertable } from 'kysely';
import { request } from 'undici';
import type { Config } from '../core/config/load.js';
import { formatDuration } from '../core/config/units.js';
import { egressAgent } from '../core/egress-http.js';
import { egressDenial } from '../core/egress.js';
import { ServiceError } from '../core/errors.js';
import type { EventLog } from '../core/events.js';
import { redactUrlCredentials } from '../core/redact.js';
import type { Store } from '../core/store/db.js';
import type { TelemetrySink } from '../telemetry/index.js';
import { hooksOf, schemeOf, serviceOf, type HookConfig, type WebhooksRaw } from './config.js';
import type { DeliveriesTable, WebhooksTables } from './migrations.js';
import type { AttemptInfo, DeliveryBody, DeliveryDetail, DeliveryState, DeliverySummary, HookInfo, RejectionInfo, ReplayResult } from './types.js';
import { schemeHeaders, verify, type Refused } from './verify.js';

/** at most this many forward attempts in flight across all hooks */
const GLOBAL_CONCURRENCY = 32;
/** the longest wait between two attempts */
const MAX_BACKOFF = 6 * 3_600_000;
/** rejections kept (all hooks); older rows are pruned */
const MAX_REJECTION_ROWS = 1000;
/** rejection rows stored per hook per second at most (the rest are only counted) */
const REJECTION_ROWS_PER_S = 10;
/** at most one webhook.rejected event per hook per window */
const REJECTION_EVENT_EVERY = 5 * 60_000;
const METRICS_EVERY = 10_000;
const PRUNE_EVERY = 10 * 60_000;
/** retention of deliveries whose hook is no longer configured */
const DEFAULT_RETENTION = 30 * 86_400_000;
const SNIPPET = 1024;

type MetricSample = Parameters<TelemetrySink['metrics']>[0][number];

export class Rejected extends Error {
  constructor(readonly refusal: Refused) {
    super(refusal.reason);
  }
}

export interface InboxDeps {
  store: Store<WebhooksTables>;
  events: EventLog;
  logger: Logger;
  now(): number;
  config(): Config<WebhooksRaw>;
  /** push samples to telemetry (alert rules read them) */
  metrics?(samples: MetricSample[]): void;
  version: string;
}

interface Counts {
  received: number;
  rejected: number;
  failed: number;
  delivered: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** Exponential backoff with jitter: base·2^(n-1), capped, times a random factor in [0.5, 1]. */
export function backoffMs(base: number, retry: number, rand: () => number = Math.random): number {
  const raw = Math.min(MAX_BACKOFF, base * 2 ** Math.min(30, retry - 1));
  return Math.round(raw * (0.5 + rand() / 2));
}

function describeError(e: unknown, timeoutMs: number): string {
  const denied = egressDenial(e);
  if (denied) return `refused by the egress policy: ${denied.message}`;
  const err = e as Error & { code?: string; cause?: Error & { code?: string } };
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') return `timed out after ${formatDuration(timeoutMs)}`;
  const inner = err.cause ?? err;
  return redactUrlCredentials(inner.message || String(e)).slice(0, 500);
}

export class Inbox {
  private readonly counts = new Map<string, Counts>();
  private readonly inflight = new Map<number, string>();
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private metricsTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private started = false;
  private wakeQueued = false;
  private readonly rejectionWindow = new Map<string, { second: number; rows: number }>();
  private readonly rejectionEvents = new Map<string, { lastAt: number; pending: number; reason: string }>();
  private rejectionInserts = 0;
  private lastPrune = 0;
  private readonly pendingRows: { values: Insertable<DeliveriesTable>; resolve: (r: { id: number; duplicate: boolean }) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private flushQueued = false;
  private readonly log: Logger;

  constructor(private readonly deps: InboxDeps) {
    this.log = deps.logger;
  }

  hooks(): Record<string, HookConfig> {
    return hooksOf(this.deps.config());
  }

  hook(name: string): HookConfig | undefined {
    return Object.hasOwn(this.hooks(), name) ? this.hooks()[name] : undefined;
  }

  private count(hook: string): Counts {
    let c = this.counts.get(hook);
    if (!c) this.counts.set(hook, (c = { received: 0, rejected: 0, failed: 0, delivered: 0 }));
    return c;
  }

  /**
   * Verify and store one delivery. Resolves once the row is committed (a duplicate of a stored
   * one resolves with the first one's id); a bad signature rejects with `Rejected`.
   */
  async receive(name: string, body: Buffer, headers: IncomingHttpHeaders, remote: string): Promise<{ id: number; duplicate: boolean }> {
    const h = this.hook(name);
    if (!h) throw new ServiceError('not_found', `no webhook "${name}"`);
    const now = this.deps.now();
    const v = verify(h.verify, body, headers, now);
    if (!v.ok) {
      await this.reject(name, v, remote, body.length);
      throw new Rejected(v);
    }
    const kept: Record<string, string> = {};
    for (const k of [...schemeHeaders(h.verify), ...h.headers.map((x) => x.toLowerCase()), 'user-agent']) {
      const val = headers[k];
      if (val !== undefined) kept[k] = (Array.isArray(val) ? val.join(', ') : val).slice(0, 4096);
    }
    const contentType = String(headers['content-type'] ?? 'application/octet-stream').slice(0, 200);
    const r = await this.commit({
      hook: name,
      dedup_key: v.dedupKey,
      event_type: v.eventType,
      received_at: now,
      state: 'pending',
      attempts: 0,
      cycle_from: 0,
      cycle_at: now,
      cycle_by: null,
      next_attempt_at: now,
      content_type: contentType,
      headers: JSON.stringify(kept),
      body,
      body_size: body.length,
    });
    this.count(name).received++;
    if (!r.duplicate) this.wake();
    return r;
  }

  /**
   * Group commit: deliveries arriving together are inserted in one transaction (each request still
   * waits for the commit that holds its row before it is answered), so concurrent senders share a
   * commit instead of each rewriting the same pages.
   */
  private commit(values: Insertable<DeliveriesTable>): Promise<{ id: number; duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.pendingRows.push({ values, resolve, reject });
      if (this.flushing || this.flushQueued) return;
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        void this.flush();
      });
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pendingRows.length) {
        const items = this.pendingRows.splice(0, 256);
        try {
          const results = await this.deps.store.db.transaction().execute(async (tx) => {
            const out: { id: number; duplicate: boolean }[] = [];
            for (const it of items) {
              const row = await tx
                .insertInto('webhook_deliveries')
                .values(it.values)
                .onConflict((oc) => oc.columns(['hook', 'dedup_key']).doNothing())
                .returning('id')
                .executeTakeFirst();
              if (row) out.push({ id: Number(row.id), duplicate: false });
              else {
                const first = await tx.selectFrom('webhook_deliveries').select('id').where('hook', '=', it.values.hook).where('dedup_key', '=', it.values.dedup_key as string).executeTakeFirstOrThrow();
                out.push({ id: Number(first.id), duplicate: true });
              }
            }
            return out;
          });
          items.forEach((it, i) => it.resolve(results[i] as { id: number; duplicate: boolean }));
        } catch (e) {
          // nothing of this batch was committed: every sender gets the error (a 5xx) and retries
          for (const it of items) it.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async reject(hook: string, r: Refused, remote: string, size: number): Promise<void> {
    this.count(hook).rejected++;
    const now = this.deps.now();
    this.log.warn({ hook, code: r.code, remote }, `webhook ${hook}: rejected a delivery from ${remote}: ${r.reason}`);
    const second = Math.floor(now / 1000);
    const w = this.rejectionWindow.get(hook);
    const inWindow = w && w.second === second ? w : { second, rows: 0 };
    this.rejectionWindow.set(hook, inWindow);
    if (inWindow.rows < REJECTION_ROWS_PER_S) {
      inWindow.rows++;
      try {
        await this.deps.store.db.insertInto('webhook_rejections').values({ hook, at: now, code: r.code, reason: r.reason, remote: remote.slice(0, 100), body_size: size }).execute();
        if (++this.rejectionInserts % 100 === 0) await this.pruneRejections();
      } catch (e) {
        this.log.error({ err: e }, 'could not record a webhook rejection');
      }
    }
    const ev = this.rejectionEvents.get(hook) ?? { lastAt: 0, pending: 0, reason: '' };
    ev.pending++;
    ev.reason = r.reason;
    this.rejectionEvents.set(hook, ev);
    if (now - ev.lastAt >= REJECTION_EVENT_EVERY) await this.flushRejectionEvent(hook, now);
  }

  private async flushRejectionEvent(hook: string, now: number): Promise<void> {
    const ev = this.rejectionEvents.get(hook);
    if (!ev || ev.pending === 0) return;
    const count = ev.pending;
    ev.pending = 0;
    ev.lastAt = now;
    await this.deps.events
      .append({ type: 'webhook.rejected', actor: 'system', subject: `webhook:${hook}`, data: { hook, service: serviceOf(hook, this.hook(hook)), count, reason: ev.reason } })
      .catch((e: unknown) => this.log.error({ err: e }, 'could not write webhook.rejected'));
  }

  private async pruneRejections(): Promise<void> {
    const db = this.deps.store.db;
    const newest = await db.selectFrom('webhook_rejections').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    const max = Number(newest?.id ?? 0);
    if (max > MAX_REJECTION_ROWS) await db.deleteFrom('webhook_rejections').where('id', '<=', max - MAX_REJECTION_ROWS).execute();
  }

  // ---- the worker ----

  async start(): Promise<void> {
    this.started = true;
    this.pushMetrics();
    this.metricsTimer = setInterval(() => {
      this.pushMetrics();
      const now = this.deps.now();
      for (const [hook, ev] of this.rejectionEvents) if (ev.pending > 0 && now - ev.lastAt >= REJECTION_EVENT_EVERY) void this.flushRejectionEvent(hook, now);
      if (now - this.lastPrune >= PRUNE_EVERY) {
        this.lastPrune = now;
        void this.prune().catch((e: unknown) => this.log.error({ err: e }, 'webhooks: could not delete old deliveries'));
      }
    }, METRICS_EVERY);
    this.metricsTimer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    clearInterval(this.metricsTimer);
    // in-flight attempts are abandoned, not recorded: their deliveries stay pending and are sent again after a restart
    this.stopping.abort();
    await Promise.allSettled([...this.running]);
  }

  /** Look for due deliveries now. */
  wake(): void {
    if (!this.started || this.wakeQueued) return;
    // many deliveries arriving at once wake the worker once
    this.wakeQueued = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.wakeQueued = false;
      void this.tick();
    }, 0);
  }

  private async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    let nextIn = 5_000;
    try {
      do {
        this.again = false;
        nextIn = await this.dispatch();
      } while (this.again && this.started);
    } catch (e) {
      this.log.error({ err: e }, 'webhook worker: could not read due deliveries');
    } finally {
      this.ticking = false;
    }
    // a wake queued meanwhile runs the next tick soon; keep its timer
    if (!this.started || this.wakeQueued) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(10, Math.min(5_000, nextIn)));
  }

  /** Start what is due and has a free slot; returns how long until the next due one (ms). */
  private async dispatch(): Promise<number> {
    const now = this.deps.now();
    const hooks = this.hooks();
    const names = Object.keys(hooks);
    if (names.length === 0) return 5_000;
    const perHook = new Map<string, number>();
    for (const h of this.inflight.values()) perHook.set(h, (perHook.get(h) ?? 0) + 1);
    const free = GLOBAL_CONCURRENCY - this.inflight.size;
    // every slot busy: an attempt ending wakes the worker again
    if (free <= 0 || names.every((n) => (perHook.get(n) ?? 0) >= (hooks[n] as HookConfig).concurrency)) return 5_000;
    const due = await this.deps.store.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'hook', 'next_attempt_at'])
      .where('state', '=', 'pending')
      .where('hook', 'in', names)
      .orderBy('next_attempt_at')
      .limit(GLOBAL_CONCURRENCY * 2 + this.inflight.size)
      .execute();
    let started = 0;
    let nextIn = 5_000;
    for (const d of due) {
      const id = Number(d.id);
      if (this.inflight.has(id)) continue;
      const at = Number(d.next_attempt_at ?? now);
      if (at > now) {
        nextIn = Math.min(nextIn, at - now);
        continue;
      }
      const h = hooks[d.hook] as HookConfig;
      const n = perHook.get(d.hook) ?? 0;
      if (n >= h.concurrency || started >= free) continue;
      perHook.set(d.hook, n + 1);
      started++;
      this.inflight.set(id, d.hook);
      const p = this.attempt(id, d.hook, h)
        .catch((e: unknown) => this.log.error({ err: e, id }, 'webhook worker: an attempt failed to record'))
        .finally(() => {
          this.inflight.delete(id);
          this.running.delete(p);
          this.wake();
        });
      this.running.add(p);
    }
    return nextIn;
  }

  private async attempt(id: number, hook: string, h: HookConfig): Promise<void> {
    const db = this.deps.store.db;
    const d = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    if (!d || d.state !== 'pending') return;
    const n = Number(d.attempts) + 1;
    const headers: Record<string, string> = { ...(JSON.parse(d.headers) as Record<string, string>) };
    headers['content-type'] = d.content_type;
    headers['user-agent'] = `Shipshape-Webhooks/${this.deps.version}`;
    headers['x-shipshape-webhook-id'] = String(id);
    headers['x-shipshape-attempt'] = String(n);
    headers['x-shipshape-hook'] = hook;
    const started = this.deps.now();
    const t0 = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    let response: string | null = null;
    const signal = AbortSignal.any([AbortSignal.timeout(h.timeout), this.stopping.signal]);
    try {
      const res = await request(h.forward, {
        method: 'POST',
        headers,
        body: Buffer.from(d.body),
        dispatcher: egressAgent(),
        signal,
        headersTimeout: h.timeout,
        bodyTimeout: h.timeout,
      });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of res.body) {
          chunks.push(c as Buffer);
          size += (c as Buffer).length;
          if (size >= SNIPPET) break;
        }
      } finally {
        res.body.destroy();
      }
      response = Buffer.concat(chunks).subarray(0, SNIPPET).toString('utf8');
      if (status >= 300 && status < 400) error = `redirect ${status}${res.headers.location ? ` to ${redactUrlCredentials(String(res.headers.location)).slice(0, 300)}` : ''} (redirects are not followed)`;
      else if (status < 200 || status >= 300) error = `the app answered ${status}`;
    } catch (e) {
      if (this.stopping.signal.aborted) return;
      error = describeError(e, h.timeout);
      status = status ?? null;
    }
    const duration = Math.round(performance.now() - t0);
    const now = this.deps.now();
    const ok = error === null;
    const retry = n - Number(d.cycle_from);
    const wait = backoffMs(h.backoff, retry);
    const exhausted = !ok && (retry > h.retries || now + wait > Number(d.cycle_at) + h.max_age);
    const change = ok
      ? { state: 'delivered', attempts: n, delivered_at: now, next_attempt_at: null, last_status: status, last_error: null }
      : exhausted
        ? { state: 'failed', attempts: n, next_attempt_at: null, last_status: status, last_error: error }
        : { attempts: n, next_attempt_at: now + wait, last_status: status, last_error: error };
    // the attempt and the delivery's new state in one commit
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('webhook_attempts').values({ delivery_id: id, attempt: n, started_at: started, duration_ms: duration, status, error, response, trigger: d.cycle_by ?? 'auto' }).execute();
      await tx.updateTable('webhook_deliveries').set(change).where('id', '=', id).execute();
    });
    if (ok) {
      this.count(hook).delivered++;
      return;
    }
    if (!exhausted) return;
    this.count(hook).failed++;
    this.log.warn({ hook, id, attempts: n }, `webhook ${hook} delivery ${id} failed after ${n} attempts: ${error}`);
    await this.deps.events.append({
      type: 'webhook.failed',
      actor: 'system',
      subject: `webhook:${hook}/${id}`,
      data: { hook, id, service: serviceOf(hook, h), attempts: n, last_status: status, last_error: error, event_type: d.event_type },
    });
    this.pushMetrics();
  }

  /**
   * Delete delivered and failed deliveries older than their hook's retention, with their attempts
   * (in batches, so a large backlog does not hold the store). Returns how many went.
   */
  async prune(): Promise<number> {
    const db = this.deps.store.db;
    const now = this.deps.now();
    const hooks = this.hooks();
    const stored = await db.selectFrom('webhook_deliveries').select('hook').distinct().execute();
    let removed = 0;
    for (const { hook } of stored) {
      const cutoff = now - (hooks[hook]?.retention ?? DEFAULT_RETENTION);
      for (;;) {
        const old = await db.selectFrom('webhook_deliveries').select('id').where('hook', '=', hook).where('state', '!=', 'pending').where('received_at', '<', cutoff).limit(500).execute();
        if (old.length === 0) break;
        const ids = old.map((r) => Number(r.id));
        await db.transaction().execute(async (tx) => {
          await tx.deleteFrom('webhook_attempts').where('delivery_id', 'in', ids).execute();
          await tx.deleteFrom('webhook_deliveries').where('id', 'in', ids).execute();
        });
        removed += ids.length;
        if (old.length < 500) break;
      }
    }
    return removed;
  }

  // ---- metrics ----

  private pushMetrics(): void {
    const sink = this.deps.metrics;
    if (!sink) return;
    void this.pendingByHook()
      .then((pending) => {
        const at = this.deps.now();
        const samples: MetricSample[] = [];
        for (const [hook, h] of Object.entries(this.hooks())) {
          const c = this.count(hook);
          const service = serviceOf(hook, h);
          const labels = { hook };
          samples.push({ service, name: 'shipshape_webhook_received_total', labels, type: 'counter', value: c.received, at });
          samples.push({ service, name: 'shipshape_webhook_rejected_total', labels, type: 'counter', value: c.rejected, at });
          samples.push({ service, name: 'shipshape_webhook_failed_total', labels, type: 'counter', value: c.failed, at });
          samples.push({ service, name: 'shipshape_webhook_delivered_total', labels, type: 'counter', value: c.delivered, at });
          samples.push({ service, name: 'shipshape_webhook_pending', labels, type: 'gauge', value: pending.get(hook) ?? 0, at });
        }
        if (samples.length) sink(samples);
      })
      .catch((e: unknown) => this.log.error({ err: e }, 'webhook metrics: could not count pending deliveries'));
  }

  private async pendingByHook(): Promise<Map<string, number>> {
    const rows = await this.deps.store.db.selectFrom('webhook_deliveries').select(['hook', (eb) => eb.fn.countAll().as('n')]).where('state', '=', 'pending').groupBy('hook').execute();
    return new Map(rows.map((r) => [r.hook, Number(r.n)]));
  }

  // ---- queries and replays ----

  async hookList(): Promise<HookInfo[]> {
    const rows = await this.deps.store.db.selectFrom('webhook_deliveries').select(['hook', 'state', (eb) => eb.fn.countAll().as('n')]).groupBy(['hook', 'state']).execute();
    return Object.entries(this.hooks()).map(([name, h]) => {
      const states: Record<DeliveryState, number> = { pending: 0, delivered: 0, failed: 0 };
      for (const r of rows) if (r.hook === name && r.state in states) states[r.state as DeliveryState] = Number(r.n);
      const c = this.count(name);
      return { name, scheme: schemeOf(h.verify), forward: redactUrlCredentials(h.forward), service: serviceOf(name, h), path: `/hooks/${name}`, states, received: c.received, rejected: c.rejected };
    });
  }

  private summary(r: { id: number; hook: string; event_type: string | null; dedup_key: string | null; state: string; attempts: number; received_at: number; next_attempt_at: number | null; delivered_at: number | null; last_status: number | null; last_error: string | null; content_type: string; body_size: number }): DeliverySummary {
    return {
      id: Number(r.id),
      hook: r.hook,
      service: serviceOf(r.hook, this.hook(r.hook)),
      event_type: r.event_type,
      sender_id: r.dedup_key,
      state: r.state as DeliveryState,
      attempts: Number(r.attempts),
      received_at: iso(r.received_at) as string,
      next_attempt_at: r.state === 'pending' ? iso(r.next_attempt_at) : null,
      delivered_at: iso(r.delivered_at),
      last_status: r.last_status === null ? null : Number(r.last_status),
      last_error: r.last_error,
      content_type: r.content_type,
      body_size: Number(r.body_size),
    };
  }

  private static readonly COLS = ['id', 'hook', 'event_type', 'dedup_key', 'state', 'attempts', 'received_at', 'next_attempt_at', 'delivered_at', 'last_status', 'last_error', 'content_type', 'body_size'] as const;

  /** Newest first; `before` is an id cursor. */
  async list(o: { hook?: string; state?: DeliveryState; since?: number; before?: number; limit: number }): Promise<{ items: DeliverySummary[]; next_cursor: number | null }> {
    let q = this.deps.store.db.selectFrom('webhook_deliveries').select([...Inbox.COLS]).orderBy('id', 'desc').limit(o.limit + 1);
    if (o.hook) q = q.where('hook', '=', o.hook);
    if (o.state) q = q.where('state', '=', o.state);
    if (o.since !== undefined) q = q.where('received_at', '>=', o.since);
    if (o.before !== undefined) q = q.where('id', '<', o.before);
    const rows = await q.execute();
    const more = rows.length > o.limit;
    const items = rows.slice(0, o.limit).map((r) => this.summary(r));
    return { items, next_cursor: more ? (items[items.length - 1]?.id ?? null) : null };
  }

  async show(id: number): Promise<DeliveryDetail> {
    const db = this.deps.store.db;
    const r = await db.selectFrom('webhook_deliveries').select([...Inbox.COLS, 'headers']).where('id', '=', id).executeTakeFirst();
    if (!r) throw new ServiceError('not_found', `no webhook delivery ${id}`);
    const attempts = await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', id).orderBy('attempt').orderBy('id').execute();
    const attempt_log: AttemptInfo[] = attempts.map((a) => ({ attempt: Number(a.attempt), started_at: iso(a.started_at) as string, duration_ms: Number(a.duration_ms), status: a.status === null ? null : Number(a.status), error: a.error, response: a.response, trigger: a.trigger }));
    return { ...this.summary(r), headers: JSON.parse(r.headers) as Record<string, string>, attempt_log };
  }

  async body(id: number): Promise<DeliveryBody> {
    const r = await this.deps.store.db.selectFrom('webhook_deliveries').select(['id', 'content_type', 'body']).where('id', '=', id).executeTakeFirst();
    if (!r) throw new ServiceError('not_found', `no webhook delivery ${id}`);
    const buf = Buffer.from(r.body);
    const text = buf.toString('utf8');
    const utf8 = Buffer.from(text, 'utf8').equals(buf);
    return { id: Number(r.id), content_type: r.content_type, encoding: utf8 ? 'utf8' : 'base64', body: utf8 ? text : buf.toString('base64') };
  }

  async rejections(o: { hook?: string; limit: number }): Promise<RejectionInfo[]> {
    let q = this.deps.store.db.selectFrom('webhook_rejections').selectAll().orderBy('id', 'desc').limit(o.limit);
    if (o.hook) q = q.where('hook', '=', o.hook);
    return (await q.execute()).map((r) => ({ id: Number(r.id), hook: r.hook, at: iso(r.at) as string, code: r.code, reason: r.reason, remote: r.remote, body_size: Number(r.body_size) }));
  }

  /** Queue one delivery again (any state), with a fresh retry budget. */
  async replay(id: number, actor: string): Promise<ReplayResult> {
    const r = await this.deps.store.db.selectFrom('webhook_deliveries').select(['id', 'hook', 'state', 'attempts']).where('id', '=', id).executeTakeFirst();
    if (!r) throw new ServiceError('not_found', `no webhook delivery ${id}`);
    if (!this.hook(r.hook)) throw new ServiceError('conflict', `webhook "${r.hook}" is no longer configured; add it back to replay its deliveries`);
    if (this.inflight.has(id)) throw new ServiceError('conflict', `delivery ${id} is being forwarded right now; try again when the attempt ends`);
    const ids = await this.requeue([Number(r.id)], actor);
    await this.deps.events.append({ type: 'webhook.replayed', actor, subject: `webhook:${r.hook}/${id}`, data: { hook: r.hook, service: serviceOf(r.hook, this.hook(r.hook)), ids, previous_state: r.state } });
    return { ids };
  }

  /** Queue every failed delivery received since `since` (of one hook, or all) again. */
  async replayFailed(o: { since: number; hook?: string; actor: string }): Promise<ReplayResult> {
    const names = Object.keys(this.hooks()).filter((n) => !o.hook || n === o.hook);
    if (o.hook && names.length === 0) throw new ServiceError('not_found', `no webhook "${o.hook}"`);
    if (names.length === 0) return { ids: [] };
    const rows = await this.deps.store.db.selectFrom('webhook_deliveries').select('id').where('state', '=', 'failed').where('received_at', '>=', o.since).where('hook', 'in', names).orderBy('id').limit(10_000).execute();
    const ids = await this.requeue(rows.map((r) => Number(r.id)).filter((id) => !this.inflight.has(id)), o.actor);
    if (ids.length) await this.deps.events.append({ type: 'webhook.replayed', actor: o.actor, subject: o.hook ? `webhook:${o.hook}` : 'webhooks', data: { ...(o.hook ? { hook: o.hook } : {}), count: ids.length, ids: ids.slice(0, 100), since: new Date(o.since).toISOString(), state: 'failed' } });
    return { ids };
  }

  private async requeue(ids: number[], actor: string): Promise<number[]> {
    if (ids.length === 0) return [];
    const now = this.deps.now();
    const db = this.deps.store.db;
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({ state: 'pending', next_attempt_at: now, cycle_at: now, cycle_by: actor, cycle_from: eb.ref('attempts') }))
        .where('id', 'in', part)
        .execute();
    }
    this.wake();
    return ids;
  }
}
