/**
 * The event log: one append-only record of everything that changed or happened (state changes,
 * config reloads, tokens made or revoked…), plus an in-process bus that also carries
 * high-rate ephemeral notices (each check result) to live views without storing them.
 */
import { EventEmitter } from 'node:events';
import type { EventRecord } from './api-types.js';
import type { Kysely } from 'kysely';
import type { CoreTables, Store } from './store/db.js';

export interface NewEvent {
  type: string;
  /** who did it: `user:<token name>`, `token:<name>`, `schedule`, `rule:<name>`, `config`, `system` */
  actor: string;
  /** what it is about: `service:web`, `check:web/api-health`, `token:ab12` */
  subject: string;
  data?: Record<string, unknown>;
}

export interface LiveNotice {
  type: string;
  data: Record<string, unknown>;
}

export class EventLog {
  private readonly bus = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.bus.setMaxListeners(1000);
  }

  /** Store an event and tell live listeners. */
  async append(e: NewEvent): Promise<EventRecord> {
    const rec = await this.insert(e);
    this.publish(rec);
    return rec;
  }

  /**
   * Store an event through `db` (a transaction's) without telling anyone: the caller publishes it
   * once the transaction has committed, so listeners never see an event that was rolled back.
   */
  async insert(e: NewEvent, db: Kysely<CoreTables> = this.store.db): Promise<EventRecord> {
    const at = this.now();
    const data = JSON.stringify(e.data ?? {});
    const row = await db.insertInto('events').values({ at, type: e.type, actor: e.actor, subject: e.subject, data }).returning('id').executeTakeFirstOrThrow();
    return { id: Number(row.id), at: new Date(at).toISOString(), type: e.type, actor: e.actor, subject: e.subject, data: e.data ?? {} };
  }

  /** Tell live listeners about stored events. */
  publish(...recs: EventRecord[]): void {
    for (const rec of recs) this.bus.emit('event', rec);
  }

  /** Tell live listeners something that is not worth storing (e.g. each check result). */
  notify(n: LiveNotice): void {
    if (this.bus.listenerCount('notice') > 0) this.bus.emit('notice', n);
  }

  /** Is anyone listening live (so callers can skip building notices nobody reads)? */
  hasListeners(): boolean {
    return this.bus.listenerCount('notice') > 0;
  }

  onEvent(fn: (e: EventRecord) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }

  onNotice(fn: (n: LiveNotice) => void): () => void {
    this.bus.on('notice', fn);
    return () => this.bus.off('notice', fn);
  }

  /**
   * Newest first; `before` is an event id cursor; `type` may end in `.*` for a family (`deploy.*`);
   * `since` / `until` bound the time (epoch ms, inclusive).
   */
  async list(opts: { limit: number; before?: number; type?: string; subject?: string; since?: number; until?: number }): Promise<EventRecord[]> {
    let q = this.store.db.selectFrom('events').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.before !== undefined) q = q.where('id', '<', opts.before);
    if (opts.since !== undefined) q = q.where('at', '>=', opts.since);
    if (opts.until !== undefined) q = q.where('at', '<=', opts.until);
    if (opts.type?.endsWith('.*')) q = q.where('type', 'like', `${opts.type.slice(0, -2).replace(/[%_\\]/g, '')}.%`);
    else if (opts.type) q = q.where('type', '=', opts.type);
    if (opts.subject) q = q.where('subject', '=', opts.subject);
    const rows = await q.execute();
    return rows.map((r) => ({ id: Number(r.id), at: new Date(Number(r.at)).toISOString(), type: r.type, actor: r.actor, subject: r.subject, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
