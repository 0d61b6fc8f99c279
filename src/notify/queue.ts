/**
 * The persistent notification queue: every send is a row; a worker sends due rows, each on its
 * own (a channel that hangs or fails delays nothing else), with a per-attempt timeout and
 * exponential backoff with jitter; rows survive restarts.
 */
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { EventLog } from '../core/events.js';
import type { Store } from '../core/store/db.js';
import type { NotifyTables } from './migrations.js';
import { channelKind } from './channels/index.js';
import { redact } from './redact.js';
import { render } from './render.js';
import { SendError, type ChannelTarget, type Notification } from './types.js';

export type QueueStatus = 'pending' | 'sent' | 'failed' | 'superseded';

export interface QueuedNotification {
  id: number;
  channel: string;
  kind: string;
  group_key: string;
  /** firing | resolved */
  notification_status: string;
  title: string;
  alerts: number;
  status: QueueStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
}

/** Delay before attempt n+1 after n failed attempts: 10s, 30s, 1m, 5m, 15m, 30m, then hourly. */
export const BACKOFF_MS = [10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000];
/** Give up after this long or this many attempts. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
export const MAX_ATTEMPTS = 30;
const MAX_IN_FLIGHT = 256;
/** per channel, so a channel that hangs cannot take every slot */
const MAX_IN_FLIGHT_PER_CHANNEL = 16;

export interface QueueDeps {
  store: Store<NotifyTables>;
  events: EventLog;
  logger: Logger;
  now: () => number;
  /** the channels in force, by name */
  channels: () => Map<string, ChannelTarget>;
  timeoutMs: () => number;
  random?: () => number;
  counter?: Counter<'channel' | 'result'>;
}

export function backoff(attempts: number, random: () => number = Math.random): number {
  const base = BACKOFF_MS[Math.min(attempts - 1, BACKOFF_MS.length - 1)] ?? 3_600_000;
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class NotifyQueue {
  private readonly inFlight = new Map<number, { pair: string; abort: AbortController; done: Promise<void> }>();
  private stopping = false;
  private running: Promise<void> | null = null;
  private again = false;
  /**
   * No pending row is due before this time (all writes to the queue go through this object), so
   * the once-a-second tick does not query an idle queue. 0: unknown, look.
   */
  private quietUntil = 0;
  /** bumped on every write, so a hint computed across a concurrent write is thrown away */
  private writes = 0;

  /** a look for due rows after sends finish: those finishing together share one */
  private kicked: Promise<void> | null = null;

  private kick(): void {
    if (this.kicked || this.stopping) return;
    this.kicked = new Promise<void>((res) =>
      setImmediate(() => {
        this.kicked = null;
        void (this.stopping ? Promise.resolve() : this.runDue()).finally(res);
      }),
    );
  }

  /** Before and after every write: a look for due rows that overlaps a write does not mark the queue quiet. */
  private touch(): void {
    this.quietUntil = 0;
    this.writes++;
  }

  constructor(private readonly d: QueueDeps) {}

  /** Queue a notification for a channel; older unsent ones for the same group and channel are superseded (this one has the newer state). */
  async enqueue(n: Notification, ch: ChannelTarget): Promise<number> {
    this.touch();
    const now = this.d.now();
    const inflight = [...this.inFlight.keys()];
    let upd = this.d.store.db.updateTable('notify_queue').set({ status: 'superseded', updated_at: now, last_error: null }).where('channel', '=', ch.name).where('group_key', '=', n.groupKey).where('status', '=', 'pending');
    if (inflight.length) upd = upd.where('id', 'not in', inflight);
    await upd.execute();
    const row = await this.d.store.db
      .insertInto('notify_queue')
      .values({ channel: ch.name, kind: ch.kind, group_key: n.groupKey, payload: JSON.stringify(n), status: 'pending', attempts: 0, next_attempt_at: now, last_error: null, created_at: now, updated_at: now, sent_at: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    this.touch(); // a look that ran during the writes may have judged the queue quiet without this row
    return Number(row.id);
  }

  /** Start sending every due row (returns once they are started, not finished). */
  runDue(): Promise<void> {
    if (!this.running && this.d.now() < this.quietUntil) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.startDue();
        } while (this.again && !this.stopping);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async startDue(): Promise<void> {
    if (this.stopping) return;
    const now = this.d.now();
    const writes = this.writes;
    // candidates first, without their payloads: under load most due rows wait behind one in flight
    // for the same channel and group, and every finished send looks again
    const rows = await this.d.store.db.selectFrom('notify_queue').select(['id', 'channel', 'group_key']).where('status', '=', 'pending').where('next_attempt_at', '<=', now).orderBy('id').limit(500).execute();
    if (rows.length === 0 && this.inFlight.size === 0) {
      const next = await this.d.store.db.selectFrom('notify_queue').select((eb) => eb.fn.min('next_attempt_at').as('t')).where('status', '=', 'pending').executeTakeFirst();
      if (writes === this.writes) this.quietUntil = next?.t === null || next?.t === undefined ? Number.POSITIVE_INFINITY : Number(next.t);
      return;
    }
    const busy = new Set([...this.inFlight.values()].map((f) => f.pair));
    const perChannel = new Map<string, number>();
    for (const f of this.inFlight.values()) {
      const c = f.pair.split('\n')[0] as string;
      perChannel.set(c, (perChannel.get(c) ?? 0) + 1);
    }
    const picked: number[] = [];
    for (const r of rows) {
      if (this.inFlight.size + picked.length >= MAX_IN_FLIGHT) break;
      const id = Number(r.id);
      const pair = `${r.channel}\n${r.group_key}`;
      if (this.inFlight.has(id) || busy.has(pair)) continue; // one at a time per channel and group, in order
      if ((perChannel.get(r.channel) ?? 0) >= MAX_IN_FLIGHT_PER_CHANNEL) continue;
      perChannel.set(r.channel, (perChannel.get(r.channel) ?? 0) + 1);
      busy.add(pair);
      picked.push(id);
    }
    if (picked.length === 0) return;
    // still pending: one superseded meanwhile by a newer notification of its group is not sent
    const full = await this.d.store.db.selectFrom('notify_queue').selectAll().where('id', 'in', picked).where('status', '=', 'pending').orderBy('id').execute();
    for (const r of full) {
      const id = Number(r.id);
      if (this.inFlight.has(id)) continue;
      const pair = `${r.channel}\n${r.group_key}`;
      const abort = new AbortController();
      const entry = { pair, abort, done: Promise.resolve() };
      this.inFlight.set(id, entry);
      entry.done = this.attempt({ ...r, id, attempts: Number(r.attempts), created_at: Number(r.created_at) }, abort)
        .catch((e) => this.d.logger.error({ err: e, notification: id }, 'notification bookkeeping failed'))
        .finally(() => {
          this.inFlight.delete(id);
          this.kick();
        });
    }
  }

  private async attempt(r: { id: number; channel: string; kind: string; payload: string; attempts: number; created_at: number; group_key: string }, abort: AbortController): Promise<void> {
    let ch = this.d.channels().get(r.channel);
    const n = JSON.parse(r.payload) as Notification;
    const attempts = r.attempts + 1;
    if (!ch) {
      await this.finish(r, attempts, 'failed', `the channel "${r.channel}" is no longer in the config`, n);
      return;
    }
    const kind = channelKind(ch.kind);
    const secrets = kind.secrets(ch.spec as never);
    // an on-call page to a person's own address goes through the email channel's SMTP server
    if (n.to?.length && ch.kind === 'email') ch = { ...ch, spec: { ...(ch.spec as object), to: n.to } };
    const timeout = this.d.timeoutMs();
    const timer = setTimeout(() => abort.abort(new Error('timeout')), timeout);
    let error: SendError | undefined;
    try {
      await kind.send(n, ch, abort.signal);
    } catch (e) {
      const msg = abort.signal.aborted && !this.stopping ? `${kind.describe(ch.spec as never)}: timed out after ${timeout}ms` : e instanceof Error ? e.message : String(e);
      error = e instanceof SendError && !abort.signal.aborted ? e : new SendError(msg);
      error.message = redact(error.message, secrets);
    } finally {
      clearTimeout(timer);
    }
    if (this.stopping && abort.signal.aborted) return; // stopped mid-send: the row stays pending and is sent after the restart
    if (!error) {
      await this.finish(r, attempts, 'sent', null, n);
      return;
    }
    const now = this.d.now();
    const giveUp = error.permanent || attempts >= MAX_ATTEMPTS || now - r.created_at >= GIVE_UP_AFTER_MS;
    if (giveUp) {
      await this.finish(r, attempts, 'failed', error.message, n);
      return;
    }
    // a newer notification for this group and channel has the newer state: this one need not be retried
    const newer = await this.d.store.db.selectFrom('notify_queue').select('id').where('channel', '=', r.channel).where('group_key', '=', r.group_key).where('id', '>', r.id).where('status', 'in', ['pending', 'sent']).limit(1).executeTakeFirst();
    const delay = Math.max(backoff(attempts, this.d.random), error.retryAfterMs ?? 0);
    this.touch();
    await this.d.store.db
      .updateTable('notify_queue')
      .set({ status: newer ? 'superseded' : 'pending', attempts, next_attempt_at: now + delay, last_error: error.message, updated_at: now })
      .where('id', '=', r.id)
      .execute();
    this.touch();
    this.d.counter?.inc({ channel: r.channel, result: 'retry' });
    this.d.logger.warn({ channel: r.channel, notification: r.id, attempts, retry_in_ms: newer ? null : delay }, `notification to ${r.channel} failed: ${error.message}`);
  }

  private async finish(r: { id: number; channel: string; kind: string; group_key: string }, attempts: number, status: 'sent' | 'failed', error: string | null, n: Notification): Promise<void> {
    const now = this.d.now();
    this.touch();
    await this.d.store.db
      .updateTable('notify_queue')
      .set({ status, attempts, last_error: error, updated_at: now, sent_at: status === 'sent' ? now : null })
      .where('id', '=', r.id)
      .execute();
    this.d.counter?.inc({ channel: r.channel, result: status });
    if (status === 'failed') this.d.logger.error({ channel: r.channel, notification: r.id, attempts }, `notification to ${r.channel} failed for good: ${error}`);
    await this.d.events.append({
      type: status === 'sent' ? 'notification.sent' : 'notification.failed',
      actor: 'system',
      subject: `channel:${r.channel}`,
      data: { id: r.id, channel: r.channel, kind: r.kind, group_key: r.group_key, status: n.status, alerts: n.alerts.map((a) => a.fingerprint), attempts, ...(error ? { error } : {}), ...(n.test ? { test: true } : {}) },
    });
  }

  /** Resolves when nothing is being sent (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.inFlight.size || this.kicked) {
      await this.kicked;
      await this.running;
      await Promise.all([...this.inFlight.values()].map((f) => f.done));
    }
  }

  /** Stop: abort sends in flight (their rows stay pending for the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    for (const f of this.inFlight.values()) f.abort.abort(new Error('stopping'));
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /** Send a failed (or pending) notification again now. */
  async retry(id: number): Promise<QueuedNotification | undefined> {
    const now = this.d.now();
    this.touch();
    const r = await this.d.store.db.updateTable('notify_queue').set({ status: 'pending', next_attempt_at: now, updated_at: now }).where('id', '=', id).where('status', 'in', ['failed', 'pending']).returning('id').executeTakeFirst();
    this.touch();
    if (!r) return undefined;
    void this.runDue();
    return this.get(id);
  }

  async get(id: number): Promise<QueuedNotification | undefined> {
    const r = await this.d.store.db.selectFrom('notify_queue').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toApi(r) : undefined;
  }

  async list(o: { status?: QueueStatus; channel?: string; limit: number; before?: number }): Promise<QueuedNotification[]> {
    let q = this.d.store.db.selectFrom('notify_queue').selectAll().orderBy('id', 'desc').limit(o.limit);
    if (o.status) q = q.where('status', '=', o.status);
    if (o.channel) q = q.where('channel', '=', o.channel);
    if (o.before !== undefined) q = q.where('id', '<', o.before);
    return (await q.execute()).map((r) => this.toApi(r));
  }

  /** Forget sent, superseded and failed rows older than `ms` (default 30 days). */
  async prune(ms = 30 * 86_400_000): Promise<number> {
    const r = await this.d.store.db.deleteFrom('notify_queue').where('status', '!=', 'pending').where('updated_at', '<', this.d.now() - ms).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async counts(): Promise<Record<string, number>> {
    const rows = await this.d.store.db.selectFrom('notify_queue').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  private toApi(r: { id: number; channel: string; kind: string; group_key: string; payload: string; status: string; attempts: number; next_attempt_at: number; last_error: string | null; created_at: number; updated_at: number; sent_at: number | null }): QueuedNotification {
    const n = JSON.parse(r.payload) as Notification;
    const iso = (v: number | null) => (v === null ? null : new Date(Number(v)).toISOString());
    return {
      id: Number(r.id),
      channel: r.channel,
      kind: r.kind,
      group_key: r.group_key,
      notification_status: n.status,
      title: render(n, {}).view.title,
      alerts: n.alerts.length,
      status: r.status as QueueStatus,
      attempts: Number(r.attempts),
      next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null,
      last_error: r.last_error,
      created_at: iso(r.created_at) as string,
      updated_at: iso(r.updated_at) as string,
      sent_at: iso(r.sent_at),
    };
  }
}
