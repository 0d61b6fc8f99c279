/** Silences: matchers over alert labels, a time window, an author and a comment. */
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../core/events.js';
import type { Store } from '../core/store/db.js';
import type { NotifyTables } from './migrations.js';
import { allMatch, formatMatcher, validateMatcher, type Labels, type Matcher } from './match.js';

export type { Silence, SilenceState } from './api-types.js';
import type { Silence, SilenceState } from './api-types.js';

export class SilenceError extends Error {}

interface Row {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  created_at: number;
  updated_at: number;
}

export class Silences {
  private cache: Row[] = [];

  constructor(
    private readonly store: Store<NotifyTables>,
    private readonly events: EventLog,
    private readonly now: () => number,
  ) {}

  private toSilence(r: Row): Silence {
    const now = this.now();
    const matchers = JSON.parse(r.matchers) as Matcher[];
    const iso = (n: number) => new Date(Number(n)).toISOString();
    const state: SilenceState = Number(r.ends_at) <= now ? 'expired' : Number(r.starts_at) > now ? 'pending' : 'active';
    return { id: r.id, matchers, match: matchers.map(formatMatcher).join(', '), startsAt: iso(r.starts_at), endsAt: iso(r.ends_at), createdBy: r.created_by, comment: r.comment, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at), status: { state } };
  }

  /** Reload the silences that are not over yet (the CLI may have changed them in the store). */
  async refresh(): Promise<void> {
    this.cache = (await this.store.db.selectFrom('notify_silences').selectAll().where('ends_at', '>', this.now()).execute()).map((r) => ({ ...r, starts_at: Number(r.starts_at), ends_at: Number(r.ends_at), created_at: Number(r.created_at), updated_at: Number(r.updated_at) }));
  }

  /** Ids of the active silences that match these labels. */
  silencedBy(labels: Labels): string[] {
    const now = this.now();
    const out: string[] = [];
    for (const r of this.cache) {
      if (r.starts_at > now || r.ends_at <= now) continue;
      if (allMatch(JSON.parse(r.matchers) as Matcher[], labels)) out.push(r.id);
    }
    return out;
  }

  /** `endsAt`, or `durationMs` after the start (default: now). */
  async create(input: { matchers: Matcher[]; startsAt?: number; endsAt?: number; durationMs?: number; createdBy: string; comment: string }, actor: string): Promise<Silence> {
    const now = this.now();
    const startsAt = input.startsAt ?? now;
    const endsAt = input.endsAt ?? startsAt + (input.durationMs ?? 0);
    if (input.matchers.length === 0) throw new SilenceError('a silence needs at least one matcher, e.g. alertname=high-error-rate');
    for (const m of input.matchers) {
      try {
        validateMatcher(m);
      } catch (e) {
        throw new SilenceError((e as Error).message);
      }
    }
    if (input.matchers.every((m) => allMatch([m], {}))) throw new SilenceError('at least one matcher must not match an empty label (a silence may not match every alert)');
    if (!(endsAt > startsAt)) throw new SilenceError('the silence must end after it starts');
    if (endsAt <= now) throw new SilenceError('the silence would already be over: endsAt is in the past');
    if (!input.comment.trim()) throw new SilenceError('a silence needs a comment saying why');
    const row: Row = { id: randomUUID(), matchers: JSON.stringify(input.matchers), starts_at: startsAt, ends_at: endsAt, created_by: input.createdBy, comment: input.comment, created_at: now, updated_at: now };
    await this.store.db.insertInto('notify_silences').values(row).execute();
    const s = this.toSilence(row);
    await this.events.append({ type: 'silence.created', actor, subject: `silence:${s.id}`, data: { id: s.id, match: s.match, matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment } });
    await this.refresh();
    return s;
  }

  /** Expire a silence now. Undefined when there is none with that id (or a unique id prefix). */
  async expire(idOrPrefix: string, actor: string): Promise<Silence | undefined> {
    const found = await this.get(idOrPrefix);
    if (!found) return undefined;
    const now = this.now();
    if (found.status.state === 'expired') return found;
    const endsAt = now;
    const startsAt = Math.min(Date.parse(found.startsAt), now);
    await this.store.db.updateTable('notify_silences').set({ ends_at: endsAt, starts_at: startsAt, updated_at: now }).where('id', '=', found.id).execute();
    const row = await this.store.db.selectFrom('notify_silences').selectAll().where('id', '=', found.id).executeTakeFirstOrThrow();
    const s = this.toSilence(row as Row);
    await this.events.append({ type: 'silence.expired', actor, subject: `silence:${s.id}`, data: { id: s.id, match: s.match, createdBy: s.createdBy, endsAt: s.endsAt } });
    await this.refresh();
    return s;
  }

  async get(idOrPrefix: string): Promise<Silence | undefined> {
    const exact = await this.store.db.selectFrom('notify_silences').selectAll().where('id', '=', idOrPrefix).executeTakeFirst();
    if (exact) return this.toSilence(exact as Row);
    if (idOrPrefix.length < 4 || !/^[0-9a-f-]+$/i.test(idOrPrefix)) return undefined;
    const rows = await this.store.db.selectFrom('notify_silences').selectAll().where('id', 'like', `${idOrPrefix.toLowerCase()}%`).limit(2).execute();
    if (rows.length > 1) throw new SilenceError(`"${idOrPrefix}" matches several silences; give more of the id`);
    return rows[0] ? this.toSilence(rows[0] as Row) : undefined;
  }

  /** Newest first. */
  async list(opts: { state?: SilenceState | 'all'; limit?: number } = {}): Promise<Silence[]> {
    const rows = await this.store.db.selectFrom('notify_silences').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(opts.limit ?? 1000).execute();
    const all = rows.map((r) => this.toSilence(r as Row));
    return !opts.state || opts.state === 'all' ? all : all.filter((s) => s.status.state === opts.state);
  }
}
