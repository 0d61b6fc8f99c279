/**
 * The maintenance service: windows added by hand and occurrences of the config's windows (one-off
 * and recurring, materialised `ahead` so each is listed, cancellable and kept across restarts),
 * and the timer's transitions: announce (`maintenance.upcoming`, once, `notice` before the
 * start), start (alerts of the services held back by a notify silence that names the window),
 * end (the silence expired and what is still firing told at once), overrun (in progress past
 * `max`: an event and an alert). Each transition is a guarded update of the window's row
 * (`where status = …`) before its event, so a restart or two ticks at once never repeat one.
 */
import type { Selectable } from 'kysely';
import type { Logger } from 'pino';
import { ServiceError } from '../core/errors.js';
import { Serial } from '../core/serial.js';
import type { EventLog } from '../core/events.js';
import type { Store } from '../core/store/db.js';
import { MAX_WINDOW_MS, type MaintenanceConfig, type WindowConfig } from './config.js';
import type { MaintenanceTables, MaintenanceWindowsTable } from './migrations.js';
import { occurrences, parseRfc3339 } from './time.js';
import { OPEN_STATUSES, type MaintenanceEventData, type MaintenanceWindow, type WindowStatus } from './types.js';

type Row = Selectable<MaintenanceWindowsTable>;

/** What holds back alerts while a window is in progress (notify's silences in the running server). */
export interface Suppressor {
  /** hold back alerts of the window's services until `until` (epoch ms); the silence id */
  suppress(w: MaintenanceWindow, until: number): Promise<string>;
  /** stop holding them back, and tell at once what is still firing */
  release(silenceId: string, w: MaintenanceWindow): Promise<void>;
}

/** What raises the alert of a window that overran its declared maximum (the alerts engine in the running server). */
export interface OverrunAlerts {
  raise(w: MaintenanceWindow): Promise<void>;
  clear(w: MaintenanceWindow): Promise<void>;
}

export interface MaintenanceDeps {
  store: Store<MaintenanceTables>;
  events: EventLog;
  now: () => number;
  config: () => MaintenanceConfig;
  /** the services the config names */
  services: () => string[];
  suppressor?: Suppressor;
  overrun?: OverrunAlerts;
  logger?: Logger;
}

export interface AddInput {
  title: string;
  message?: string;
  services: string[];
  starts_at: number;
  duration_ms: number;
  /** default: the duration */
  max_ms?: number;
  /** default: maintenance.notice */
  notice_ms?: number;
  auto_end?: boolean;
}

export interface ListQuery {
  /** one status; default: the open ones (scheduled, in progress, verifying) */
  status?: WindowStatus | 'all';
  service?: string;
  limit?: number;
  /** only windows starting before this (epoch ms): paging, newest start first for `all` */
  before?: number;
}

const iso = (t: number | null) => (t === null ? null : new Date(Number(t)).toISOString());
/** Windows starting up to a minute ago count as starting now (clock skew, a slow CLI). */
const PAST_GRACE_MS = 60_000;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function toWindow(r: Row): MaintenanceWindow {
  const starts = Number(r.starts_at);
  return {
    id: Number(r.id),
    title: r.title,
    message: r.message,
    services: JSON.parse(r.services) as string[],
    starts_at: iso(starts) as string,
    ends_at: iso(Number(r.ends_at)) as string,
    max_ends_at: iso(starts + Number(r.max_ms)) as string,
    max_ms: Number(r.max_ms),
    notice_ms: Number(r.notice_ms),
    auto_end: Number(r.auto_end) === 1,
    status: r.status as WindowStatus,
    recurring: r.recurring,
    created_by: r.created_by,
    created_at: iso(Number(r.created_at)) as string,
    updated_at: iso(Number(r.updated_at)) as string,
    announced_at: iso(r.announced_at),
    started_at: iso(r.started_at),
    ended_at: iso(r.ended_at),
    overrun_at: iso(r.overrun_at),
    cancelled_at: iso(r.cancelled_at),
    silence_id: r.silence_id,
  };
}

export function eventData(w: MaintenanceWindow, extra: Partial<MaintenanceEventData> = {}): MaintenanceEventData {
  return {
    id: w.id,
    title: w.title,
    ...(w.message ? { message: w.message } : {}),
    services: w.services,
    starts_at: w.starts_at,
    ends_at: w.ends_at,
    status: w.status,
    ...(w.recurring ? { recurring: w.recurring } : {}),
    ...extra,
  };
}

/** The alert matchers that hold back a window's services (never the overrun alert itself). */
export function silenceMatchers(services: readonly string[]) {
  return [
    { name: 'service', value: services.length === 1 ? (services[0] as string) : services.map(escapeRe).join('|'), isRegex: services.length > 1, isEqual: true },
    { name: 'alertname', value: OVERRUN_ALERT, isRegex: false, isEqual: false },
  ];
}

/** alertname of the alert a window raises when it overruns its declared maximum */
export const OVERRUN_ALERT = 'maintenance-overrun';

export class Maintenance {
  /** Changes run one at a time, in order (the timer and an API call must not both start a window). */
  private readonly changes = new Serial();

  constructor(private readonly d: MaintenanceDeps) {}

  private get db() {
    return this.d.store.db;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.changes.run(fn);
  }

  idle(): Promise<void> {
    return this.changes.idle();
  }

  serviceNames(): string[] {
    return this.d.services();
  }

  private async row(id: number): Promise<Row> {
    const r = await this.db.selectFrom('maintenance_windows').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new ServiceError('not_found', `no maintenance window ${id}`);
    return r;
  }

  async get(id: number): Promise<MaintenanceWindow> {
    return toWindow(await this.row(id));
  }

  /** Open windows soonest first; `all` (or a closed status) newest start first. */
  async list(q: ListQuery = {}): Promise<{ items: MaintenanceWindow[]; nextBefore: number | null }> {
    const limit = q.limit ?? 100;
    let query = this.db.selectFrom('maintenance_windows').selectAll();
    const open = q.status === undefined;
    if (open) query = query.where('status', 'in', [...OPEN_STATUSES]).orderBy('starts_at', 'asc').orderBy('id', 'asc');
    else {
      if (q.status !== 'all') query = query.where('status', '=', q.status as WindowStatus);
      query = query.orderBy('starts_at', 'desc').orderBy('id', 'desc');
      if (q.before !== undefined) query = query.where('starts_at', '<', q.before);
    }
    if (q.service) query = query.where('services', 'like', `%${JSON.stringify(q.service).replace(/[%_\\]/g, '')}%`);
    const rows = await query.limit(limit + 1).execute();
    const items = rows.slice(0, limit).map(toWindow);
    return { items, nextBefore: !open && rows.length > limit ? Date.parse(items[items.length - 1]!.starts_at) : null };
  }

  /** Windows in progress (or verifying) now. */
  async active(): Promise<MaintenanceWindow[]> {
    return (await this.list({ status: undefined, limit: 1000 })).items.filter((w) => w.status === 'in_progress' || w.status === 'verifying');
  }

  /** Windows still to come, soonest first. */
  async upcoming(limit = 100): Promise<MaintenanceWindow[]> {
    return (await this.list({ status: 'scheduled', limit })).items.reverse();
  }

  /** Windows ended or cancelled recently, newest first (the status page's history). */
  async recent(sinceMs: number, limit = 50): Promise<MaintenanceWindow[]> {
    const rows = await this.db
      .selectFrom('maintenance_windows')
      .selectAll()
      .where('status', 'in', ['completed', 'cancelled'])
      .where('starts_at', '>=', sinceMs)
      .orderBy('starts_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toWindow);
  }

  /** Which open windows share a service with [start, end) (their maximum counts). */
  private async overlapping(services: readonly string[], start: number, end: number, exceptId?: number): Promise<MaintenanceWindow[]> {
    const rows = await this.db.selectFrom('maintenance_windows').selectAll().where('status', 'in', [...OPEN_STATUSES]).where('starts_at', '<', end).execute();
    return rows
      .map(toWindow)
      .filter((w) => w.id !== exceptId)
      .filter((w) => Math.max(Date.parse(w.ends_at), Date.parse(w.max_ends_at)) > start && w.services.some((s) => services.includes(s)));
  }

  /** Check a window's times and services; a ServiceError naming the field when something is off. */
  private validate(input: AddInput, now: number): { max: number } {
    const known = this.d.services();
    const unknown = input.services.filter((s) => !known.includes(s));
    if (input.services.length === 0) throw new ServiceError('invalid', 'name at least one affected service (services)');
    if (unknown.length) throw new ServiceError('invalid', `unknown service${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `"${s}"`).join(', ')} (services); services: ${known.join(', ') || 'none configured'}`);
    if (!(input.duration_ms > 0)) throw new ServiceError('invalid', 'duration must be more than 0 (duration)');
    const max = input.max_ms ?? input.duration_ms;
    if (input.duration_ms > max) throw new ServiceError('invalid', `duration (${input.duration_ms / 60_000}m) is longer than max (${max / 60_000}m): a window may not be planned longer than its declared maximum (duration)`);
    if (max > MAX_WINDOW_MS) throw new ServiceError('invalid', 'a window may last at most 7d (max)');
    if (input.starts_at + input.duration_ms <= now) throw new ServiceError('invalid', `the window would already be over: it ends ${iso(input.starts_at + input.duration_ms)} (starts_at)`);
    if (input.starts_at < now - PAST_GRACE_MS) throw new ServiceError('invalid', `starts_at ${iso(input.starts_at)} is in the past; give now or a later time (starts_at)`);
    return { max };
  }

  /** Schedule a window by hand. Overlapping an open window on one of its services is a conflict. */
  add(input: AddInput, actor: string): Promise<MaintenanceWindow> {
    return this.serial(async () => {
      const now = this.d.now();
      const { max } = this.validate(input, now);
      const starts = input.starts_at;
      const clash = await this.overlapping(input.services, starts, starts + max);
      if (clash.length) {
        const c = clash[0] as MaintenanceWindow;
        throw new ServiceError('conflict', `overlaps maintenance window ${c.id} "${c.title}" (${c.starts_at} – ${c.ends_at}, ${c.status}) on ${c.services.filter((s) => input.services.includes(s)).join(', ')}; cancel or move that one first`);
      }
      const row = await this.db
        .insertInto('maintenance_windows')
        .values({
          title: input.title,
          message: input.message ?? null,
          services: JSON.stringify([...new Set(input.services)]),
          starts_at: starts,
          ends_at: starts + input.duration_ms,
          max_ms: max,
          notice_ms: input.notice_ms ?? this.d.config().notice,
          auto_end: input.auto_end === false ? 0 : 1,
          status: 'scheduled',
          recurring: null,
          occurrence: null,
          created_by: actor,
          created_at: now,
          updated_at: now,
          announced_at: null,
          started_at: null,
          ended_at: null,
          overrun_at: null,
          cancelled_at: null,
          silence_id: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const w = await this.get(Number(row.id));
      await this.emit('maintenance.scheduled', w, actor);
      await this.step(now);
      return this.get(w.id);
    });
  }

  /** Cancel a window that has not started (an occurrence of a recurring window is cancelled alone). */
  cancel(id: number, actor: string): Promise<MaintenanceWindow> {
    return this.serial(async () => {
      const w = await this.get(id);
      if (w.status !== 'scheduled') {
        const hint = w.status === 'in_progress' || w.status === 'verifying' ? ': it is in progress; end it instead (`shipshape maintenance end`)' : '';
        throw new ServiceError('conflict', `maintenance window ${id} is ${w.status.replace('_', ' ')} and cannot be cancelled${hint}`);
      }
      const now = this.d.now();
      if (!(await this.move(id, ['scheduled'], { status: 'cancelled', cancelled_at: now, updated_at: now }))) throw new ServiceError('conflict', `maintenance window ${id} changed meanwhile; try again`);
      const out = await this.get(id);
      await this.emit('maintenance.cancelled', out, actor);
      return out;
    });
  }

  /** End a window in progress now (the work is done). */
  end(id: number, actor: string): Promise<MaintenanceWindow> {
    return this.serial(async () => {
      const w = await this.get(id);
      if (w.status !== 'in_progress' && w.status !== 'verifying') throw new ServiceError('conflict', `maintenance window ${id} is ${w.status.replace('_', ' ')}, not in progress${w.status === 'scheduled' ? '; cancel it instead' : ''}`);
      await this.finish(w, this.d.now(), actor);
      return this.get(id);
    });
  }

  /** The work is done and being checked (Statuspage's `verifying`); alerts stay held back until it ends. */
  verify(id: number, actor: string): Promise<MaintenanceWindow> {
    return this.serial(async () => {
      const w = await this.get(id);
      if (w.status !== 'in_progress') throw new ServiceError('conflict', `maintenance window ${id} is ${w.status.replace('_', ' ')}, not in progress`);
      const now = this.d.now();
      if (!(await this.move(id, ['in_progress'], { status: 'verifying', updated_at: now }))) throw new ServiceError('conflict', `maintenance window ${id} changed meanwhile; try again`);
      const out = await this.get(id);
      await this.emit('maintenance.verifying', out, actor);
      return out;
    });
  }

  /** Move the planned end of a window that has not ended (past its max it will overrun). */
  extend(id: number, endsAt: number, actor: string): Promise<MaintenanceWindow> {
    return this.serial(async () => {
      const w = await this.get(id);
      if (!OPEN_STATUSES.includes(w.status)) throw new ServiceError('conflict', `maintenance window ${id} is ${w.status} and cannot be extended`);
      const now = this.d.now();
      const start = Date.parse(w.starts_at);
      if (endsAt <= Math.max(now, start)) throw new ServiceError('invalid', `ends_at ${iso(endsAt)} must be after ${iso(Math.max(now, start))} (ends_at)`);
      if (endsAt - start > MAX_WINDOW_MS) throw new ServiceError('invalid', 'a window may last at most 7d (ends_at)');
      const clash = await this.overlapping(w.services, start, endsAt, id);
      if (clash.length) throw new ServiceError('conflict', `would overlap maintenance window ${clash[0]!.id} "${clash[0]!.title}" (${clash[0]!.starts_at} – ${clash[0]!.ends_at})`);
      await this.db.updateTable('maintenance_windows').set({ ends_at: endsAt, updated_at: now }).where('id', '=', id).execute();
      let out = await this.get(id);
      // the silence of a window in progress follows its new end
      if (out.silence_id && this.d.suppressor) {
        const silence = await this.d.suppressor.suppress(out, this.silenceUntil(out));
        await this.d.suppressor.release(out.silence_id, out).catch((e) => this.d.logger?.warn({ err: e }, 'expiring the old maintenance silence failed'));
        await this.db.updateTable('maintenance_windows').set({ silence_id: silence }).where('id', '=', id).execute();
        out = await this.get(id);
      }
      await this.emit('maintenance.extended', out, actor);
      return out;
    });
  }

  /** Apply the config's windows and move every window on as time says (the timer calls this). */
  tick(): Promise<number> {
    return this.serial(async () => {
      const now = this.d.now();
      await this.materialise(now);
      return this.step(now);
    });
  }

  /** Until when a window's silence holds: its planned end, or its maximum if it ends by hand. */
  private silenceUntil(w: MaintenanceWindow): number {
    const end = Date.parse(w.ends_at);
    return w.auto_end ? end : Math.max(end, Date.parse(w.max_ends_at));
  }

  private async move(id: number, from: readonly WindowStatus[], set: Partial<Omit<Row, 'id'>>): Promise<boolean> {
    const r = await this.db.updateTable('maintenance_windows').set(set).where('id', '=', id).where('status', 'in', [...from]).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  private async emit(type: string, w: MaintenanceWindow, actor: string, extra: Partial<MaintenanceEventData> = {}): Promise<void> {
    await this.d.events.append({ type, actor, subject: `maintenance:${w.id}`, data: eventData(w, extra) as unknown as Record<string, unknown> });
  }

  private async finish(w: MaintenanceWindow, now: number, actor: string): Promise<void> {
    if (!(await this.move(w.id, ['in_progress', 'verifying'], { status: 'completed', ended_at: now, updated_at: now }))) return;
    const out = await this.get(w.id);
    if (w.silence_id && this.d.suppressor) await this.d.suppressor.release(w.silence_id, out).catch((e) => this.d.logger?.error({ err: e, window: w.id }, 'releasing held-back alerts failed'));
    if (w.overrun_at && this.d.overrun) await this.d.overrun.clear(out).catch((e) => this.d.logger?.error({ err: e, window: w.id }, 'resolving the overrun alert failed'));
    await this.emit('maintenance.ended', out, actor);
  }

  /** One pass over the open windows: announce, start, end, overrun. Returns how many changed. */
  private async step(now: number): Promise<number> {
    let changed = 0;
    const rows = await this.db.selectFrom('maintenance_windows').selectAll().where('status', 'in', [...OPEN_STATUSES]).where('starts_at', '<=', now + 400 * 86_400_000).orderBy('starts_at').execute();
    for (const r of rows) {
      try {
        changed += await this.stepOne(toWindow(r), now);
      } catch (e) {
        this.d.logger?.error({ err: e, window: Number(r.id) }, 'a maintenance window transition failed');
      }
    }
    return changed;
  }

  private async stepOne(w: MaintenanceWindow, now: number): Promise<number> {
    const start = Date.parse(w.starts_at);
    const end = Date.parse(w.ends_at);
    if (w.status === 'scheduled') {
      if (start > now) {
        if (w.announced_at === null && now >= start - w.notice_ms) {
          const r = await this.db.updateTable('maintenance_windows').set({ announced_at: now, updated_at: now }).where('id', '=', w.id).where('status', '=', 'scheduled').where('announced_at', 'is', null).executeTakeFirst();
          if (Number(r.numUpdatedRows) === 0) return 0;
          await this.emit('maintenance.upcoming', await this.get(w.id), 'schedule');
          return 1;
        }
        return 0;
      }
      if (w.auto_end && end <= now) {
        // Shipshape was not running for the whole window: it is over, say so once (nothing was held back)
        if (!(await this.move(w.id, ['scheduled'], { status: 'completed', ended_at: end, updated_at: now }))) return 0;
        await this.emit('maintenance.ended', await this.get(w.id), 'schedule', { missed: true });
        return 1;
      }
      const silence = this.d.suppressor ? await this.d.suppressor.suppress(w, this.silenceUntil(w)) : null;
      if (!(await this.move(w.id, ['scheduled'], { status: 'in_progress', started_at: now, silence_id: silence, updated_at: now }))) {
        if (silence && this.d.suppressor) await this.d.suppressor.release(silence, w);
        return 0;
      }
      const started = await this.get(w.id);
      await this.emit('maintenance.started', started, 'schedule');
      return 1 + (await this.stepOne(started, now));
    }
    // in progress or verifying
    if (w.auto_end && end <= now) {
      await this.finish(w, now, 'schedule');
      return 1;
    }
    if (w.overrun_at === null && now >= start + w.max_ms) {
      const r = await this.db.updateTable('maintenance_windows').set({ overrun_at: now, updated_at: now }).where('id', '=', w.id).where('overrun_at', 'is', null).where('status', 'in', ['in_progress', 'verifying']).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return 0;
      const out = await this.get(w.id);
      await this.emit('maintenance.overrun', out, 'schedule');
      if (this.d.overrun) await this.d.overrun.raise(out).catch((e) => this.d.logger?.error({ err: e, window: w.id }, 'raising the overrun alert failed'));
      return 1;
    }
    return 0;
  }

  /**
   * Keep the config's windows scheduled: each one-off window once, the next `ahead` occurrences
   * of each recurring one. Future occurrences the config no longer gives (the rule, time or
   * window changed or went) are cancelled; ones in progress run to their end.
   */
  private async materialise(now: number): Promise<void> {
    const cfg = this.d.config();
    const want = new Map<string, { w: WindowConfig; start: number }>();
    for (const w of cfg.windows) {
      const starts = w.starts ? [parseRfc3339(w.starts) as number].filter((t) => t + w.duration > now) : occurrences({ rrule: w.rrule as string, start: w.start as string, timezone: w.timezone, from: w.from, until: w.until, duration: w.duration }, now, cfg.ahead);
      for (const s of starts) want.set(`${w.name}@${s}`, { w, start: s });
    }
    const existing = await this.db.selectFrom('maintenance_windows').select(['id', 'occurrence', 'status', 'starts_at']).where('occurrence', 'is not', null).where('ends_at', '>', now).execute();
    const have = new Set(existing.map((r) => r.occurrence as string));
    for (const r of existing) {
      if (r.status !== 'scheduled' || want.has(r.occurrence as string)) continue;
      if (await this.move(Number(r.id), ['scheduled'], { status: 'cancelled', cancelled_at: now, updated_at: now })) await this.emit('maintenance.cancelled', await this.get(Number(r.id)), 'config', { reason: 'no longer in the config' } as Partial<MaintenanceEventData>);
    }
    for (const [key, { w, start }] of want) {
      if (have.has(key)) continue;
      // an occurrence made before (and perhaps cancelled, or over) is not made again
      const before = await this.db.selectFrom('maintenance_windows').select('id').where('occurrence', '=', key).executeTakeFirst();
      if (before) continue;
      const inserted = await this.db
        .insertInto('maintenance_windows')
        .values({
          title: w.title ?? w.name,
          message: w.message ?? null,
          services: JSON.stringify(w.services),
          starts_at: start,
          ends_at: start + w.duration,
          max_ms: w.max ?? w.duration,
          notice_ms: w.notice ?? cfg.notice,
          auto_end: w.auto_end ? 1 : 0,
          status: 'scheduled',
          recurring: w.name,
          occurrence: key,
          created_by: 'config',
          created_at: now,
          updated_at: now,
          announced_at: null,
          started_at: null,
          ended_at: null,
          overrun_at: null,
          cancelled_at: null,
          silence_id: null,
        })
        .onConflict((oc) => oc.column('occurrence').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) continue;
      const made = await this.get(Number(inserted.id));
      const clash = await this.overlapping(made.services, start, start + made.max_ms, made.id);
      if (clash.length) this.d.logger?.warn({ window: made.id, overlaps: clash.map((c) => c.id) }, `maintenance window ${w.name} at ${made.starts_at} overlaps window ${clash[0]!.id}`);
      await this.emit('maintenance.scheduled', made, 'config');
    }
  }
}
