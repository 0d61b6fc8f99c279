/**
 * The incident service: the lifecycle (triggered → acknowledged → mitigated → resolved → closed,
 * plus declined and merged), status updates and notes, roles, alerts that open or join incidents,
 * and the response-target timer. Every change is written to the incidents tables first and then to
 * the event log as `incident.*` with subject `incident:<id>`, naming its actor: that is how other
 * modules (on-call, status page) and the timeline see it.
 */
import type { Kysely, Selectable } from 'kysely';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { EventRecord } from '../core/api-types.js';
import { ServiceError } from '../core/errors.js';
import { Serial } from '../core/serial.js';
import type { EventLog } from '../core/events.js';
import type { Store } from '../core/store/db.js';
import { levelsOf, resolveLevel, type IncidentsConfig, type SeverityLevel } from './config.js';
import type { IncidentsTable, IncidentsTables, IncidentUpdatesTable } from './migrations.js';
import { renderPostmortem } from './postmortem.js';
import { targetsOf } from './targets.js';
import { collectTimeline } from './timeline.js';
import {
  OPEN_STATES,
  ROLES,
  type ActionItemStatus,
  type Breach,
  type Incident,
  type IncidentDetail,
  type IncidentState,
  type IncidentUpdate,
  type PostmortemFields,
  type Roles,
  type Timeline,
  type UpdateStatus,
} from './types.js';

export interface IncidentsDeps {
  store: Store<IncidentsTables>;
  events: EventLog;
  now: () => number;
  config: () => IncidentsConfig;
  /** the services the config names (incidents may only name these) */
  services: () => string[];
  logger?: Logger;
  /** requests and failed requests of a service in [from, to), from telemetry (post-mortem impact) */
  traffic?: (service: string, from: number, to: number) => Promise<{ requests: number; failed: number } | null>;
}

export interface OpenInput {
  title: string;
  severity: string;
  services?: string[];
  message?: string;
  roles?: Partial<Roles>;
}

export interface ListQuery {
  state?: IncidentState;
  /** only triggered, acknowledged and mitigated ones */
  open?: boolean;
  severity?: string;
  service?: string;
  limit: number;
  before?: number;
}

type Row = Selectable<IncidentsTable>;
type StoredBreach = Breach & { key: string };

export const refOf = (id: number) => `INC-${id}`;
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** Rows that may hold action items (merged incidents' post-mortems are their target's business). */
function rowsWithPostmortem(db: Kysely<IncidentsTables>) {
  return db.selectFrom('incidents').select(['id', 'title', 'state', 'severity', 'services', 'postmortem']).where('postmortem', 'is not', null).where('state', '!=', 'merged').orderBy('id', 'desc').execute();
}

/** An incident's post-mortem action items; one due on `due` (YYYY-MM-DD) is overdue from the start of the next day in the business-hours zone. */
function actionItemsOf(r: Pick<Row, 'id' | 'title' | 'state' | 'postmortem'>, zone: string, now: number): ActionItemStatus[] {
  if (r.postmortem === null) return [];
  const items = (JSON.parse(r.postmortem) as PostmortemFields).action_items ?? [];
  return items.map((a, i) => {
    const since = a.due ? DateTime.fromISO(a.due, { zone }).plus({ days: 1 }).toMillis() : null;
    const overdue = !a.done && since !== null && now >= since;
    return {
      incident: Number(r.id),
      ref: refOf(Number(r.id)),
      incident_title: r.title,
      incident_state: r.state as IncidentState,
      index: i + 1,
      title: a.title,
      owner: a.owner ?? null,
      due: a.due ?? null,
      done: a.done === true,
      overdue,
      overdue_since: overdue ? iso(since) : null,
    };
  });
}

/**
 * Open post-mortem action items past their due date, of every incident or of those affecting
 * `service`: what an `overdue_action_items()` alert rule reads, from the store (the running
 * server and `shipshape alerts test` alike).
 */
export async function countOverdueActionItems(store: Store<IncidentsTables>, config: IncidentsConfig, now: number, service?: string): Promise<number> {
  let n = 0;
  for (const r of await rowsWithPostmortem(store.db)) {
    if (service !== undefined && !(JSON.parse(r.services) as string[]).includes(service)) continue;
    n += actionItemsOf(r, config.business_hours.time_zone, now).filter((a) => a.overdue).length;
  }
  return n;
}
const num = (v: number | string | null) => (v === null ? null : Number(v));

/** A status update moves the lifecycle forward (never back): what each status implies. */
const STATUS_IMPLIES: Record<UpdateStatus, IncidentState> = { investigating: 'acknowledged', identified: 'acknowledged', monitoring: 'mitigated', resolved: 'resolved' };
const RANK: Record<string, number> = { triggered: 0, acknowledged: 1, mitigated: 2, resolved: 3 };

/** Which states each action may start from. */
const FROM: Record<string, readonly IncidentState[]> = {
  acknowledge: ['triggered'],
  mitigate: ['triggered', 'acknowledged'],
  resolve: ['triggered', 'acknowledged', 'mitigated'],
  close: ['resolved'],
  decline: ['triggered', 'acknowledged'],
  reopen: ['resolved'],
  merge: ['triggered', 'acknowledged', 'mitigated', 'resolved'],
  update: ['triggered', 'acknowledged', 'mitigated', 'resolved'],
  edit: ['triggered', 'acknowledged', 'mitigated', 'resolved'],
};
const VERB: Record<string, string> = { acknowledge: 'acknowledged', mitigate: 'mitigated', resolve: 'resolved', close: 'closed', decline: 'declined', reopen: 're-opened', merge: 'merged', update: 'updated', edit: 'changed' };

export class Incidents {
  /** Writes run one at a time, in order (two firings of one alert must not open two incidents). */
  private readonly writes = new Serial();

  constructor(private readonly d: IncidentsDeps) {}

  private get db() {
    return this.d.store.db;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }

  /** Wait for the writes in flight. */
  idle(): Promise<void> {
    return this.writes.idle();
  }

  /** The severity levels in force, most severe first. */
  levels(): SeverityLevel[] {
    return levelsOf(this.d.config());
  }

  /** The configured level a name means (`P1` also names the second level of a renamed scheme). */
  level(name: string): SeverityLevel | undefined {
    return resolveLevel(this.levels(), name);
  }

  /** The services the config names. */
  serviceNames(): string[] {
    return this.d.services();
  }

  private levelOrThrow(name: string, field: string): SeverityLevel {
    const l = this.level(name);
    if (!l) throw new ServiceError('invalid', `${field}: unknown severity "${name}"; levels: ${this.levels().map((x) => x.name).join(', ')}`);
    return l;
  }

  private checkServices(list: string[], field: string): string[] {
    const known = new Set(this.d.services());
    list.forEach((s, i) => {
      if (!known.has(s)) throw new ServiceError('invalid', `${field}.${i}: unknown service "${s}"; services: ${[...known].join(', ') || 'none configured'}`);
    });
    return [...new Set(list)];
  }

  private async row(id: number): Promise<Row> {
    const r = await this.db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new ServiceError('not_found', `no incident ${refOf(id)}`);
    return r;
  }

  private async emit(type: string, r: Row, actor: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.d.events.append({
      type,
      actor,
      subject: `incident:${r.id}`,
      data: { id: Number(r.id), ref: refOf(Number(r.id)), title: r.title, severity: r.severity, state: r.state, services: JSON.parse(r.services) as string[], ...extra },
    });
  }

  private allowed(r: Row, action: string): void {
    const from = FROM[action] ?? [];
    if (!from.includes(r.state as IncidentState)) {
      const id = refOf(Number(r.id));
      const why = r.state === 'merged' ? `${id} was merged into ${refOf(Number(r.merged_into))}` : `${id} is ${r.state}`;
      throw new ServiceError('conflict', `${why}: it can be ${VERB[action]} only when ${from.join(', ') || 'never'}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // reading

  async get(id: number): Promise<IncidentDetail> {
    const r = await this.row(id);
    const [inc] = await this.present([r]);
    const updates = await this.db.selectFrom('incident_updates').selectAll().where('incident_id', '=', id).orderBy('id').execute();
    return { ...(inc as Incident), updates: updates.map(toUpdate) };
  }

  async list(q: ListQuery): Promise<{ items: Incident[]; nextBefore: number | null }> {
    let query = this.db.selectFrom('incidents').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
    if (q.state) query = query.where('state', '=', q.state);
    if (q.open) query = query.where('state', 'in', [...OPEN_STATES]);
    if (q.severity) {
      const l = this.levelOrThrow(q.severity, 'query.severity');
      query = query.where('severity', '=', l.name);
    }
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    let rows = await query.execute();
    // services is a JSON list: filter here (a page may come back shorter; the cursor still moves on)
    const more = rows.length > q.limit;
    rows = rows.slice(0, q.limit);
    const last = rows[rows.length - 1];
    if (q.service) rows = rows.filter((r) => (JSON.parse(r.services) as string[]).includes(q.service as string));
    return { items: await this.present(rows), nextBefore: more && last ? Number(last.id) : null };
  }

  /** Incidents still being worked on (triggered, acknowledged, mitigated), newest first: the status page's view. */
  async active(): Promise<Incident[]> {
    return (await this.list({ open: true, limit: 500 })).items;
  }

  private async present(rows: Row[]): Promise<Incident[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.id));
    const alerts = await this.db.selectFrom('incident_alerts').selectAll().where('incident_id', 'in', ids).orderBy('first_at').execute();
    const merged = await this.db.selectFrom('incidents').select(['id', 'merged_into']).where('merged_into', 'in', ids).execute();
    const now = this.d.now();
    const bh = this.d.config().business_hours;
    return rows.map((r) => {
      const id = Number(r.id);
      const t = timed(r);
      const level = this.level(r.severity);
      const breaches = (JSON.parse(r.breaches) as StoredBreach[]).map(({ key: _key, ...b }) => b);
      const recorded = new Set((JSON.parse(r.breaches) as StoredBreach[]).map((b) => b.key));
      const open = OPEN_STATES.includes(r.state as IncidentState);
      return {
        id,
        ref: refOf(id),
        title: r.title,
        severity: r.severity,
        state: r.state as IncidentState,
        status: r.status as UpdateStatus | null,
        services: JSON.parse(r.services) as string[],
        roles: JSON.parse(r.roles) as Roles,
        source: r.source as 'manual' | 'alert',
        alerts: alerts.filter((a) => Number(a.incident_id) === id).map((a) => ({ fingerprint: a.fingerprint, alertname: a.alertname, firings: Number(a.firings), first_at: iso(Number(a.first_at)) as string, last_at: iso(Number(a.last_at)) as string })),
        opened_by: r.opened_by,
        opened_at: iso(t.opened_at) as string,
        acknowledged_at: iso(t.acknowledged_at),
        acknowledged_by: r.acknowledged_by,
        mitigated_at: iso(t.mitigated_at),
        resolved_at: iso(t.resolved_at),
        closed_at: iso(num(r.closed_at)),
        declined_at: iso(num(r.declined_at)),
        merged_into: num(r.merged_into),
        merged: merged.filter((m) => Number(m.merged_into) === id).map((m) => Number(m.id)),
        reopened: Number(r.reopened),
        duration_ms: (t.resolved_at ?? num(r.declined_at) ?? (open ? now : Number(r.updated_at))) - t.opened_at,
        targets: open || r.state === 'resolved' || r.state === 'closed'
          ? targetsOf(t, level, bh).map((x) => ({ target: x.target, due_at: iso(x.due) as string, met_at: iso(x.met), breached: recorded.has(x.key) || (x.met !== null ? x.met > x.due : open && now > x.due) }))
          : [],
        breaches,
        postmortem: r.postmortem === null ? null : (JSON.parse(r.postmortem) as PostmortemFields),
        ...this.itemCounts(r, now),
        updated_at: iso(Number(r.updated_at)) as string,
      };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // the lifecycle

  /** Open an incident by hand (CLI, API, UI). */
  open(input: OpenInput, actor: string): Promise<Incident> {
    return this.serial(async () => {
      const level = this.levelOrThrow(input.severity, 'body.severity');
      const services = this.checkServices(input.services ?? [], 'body.services');
      const r = await this.insert({ title: input.title, severity: level.name, services, roles: input.roles, source: 'manual' }, actor);
      if (input.message) await this.addUpdateRow(r, 'note', null, input.message, actor);
      return (await this.present([await this.row(Number(r.id))]))[0] as Incident;
    });
  }

  private async insert(i: { title: string; severity: string; services: string[]; roles?: Partial<Roles>; source: 'manual' | 'alert' }, actor: string): Promise<Row> {
    const now = this.d.now();
    const roles: Roles = { commander: null, communications: null, scribe: null, ...i.roles };
    const ins = await this.db
      .insertInto('incidents')
      .values({ title: i.title, severity: i.severity, state: 'triggered', status: null, services: JSON.stringify(i.services), roles: JSON.stringify(roles), source: i.source, opened_by: actor, opened_at: now, reopened: 0, breaches: '[]', updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const r = await this.row(Number(ins.id));
    await this.emit('incident.opened', r, actor, { source: i.source, roles });
    return r;
  }

  /** Move to a new lifecycle state. */
  private async transition(id: number, action: 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'decline' | 'reopen', actor: string, message?: string): Promise<Row> {
    const r = await this.row(id);
    this.allowed(r, action);
    const now = this.d.now();
    await this.recordBreaches(r, now);
    const from = r.state;
    const set: Partial<Record<keyof IncidentsTable, unknown>> = { updated_at: now };
    const state = ({ acknowledge: 'acknowledged', mitigate: 'mitigated', resolve: 'resolved', close: 'closed', decline: 'declined', reopen: 'triggered' } as const)[action];
    set.state = state;
    if (action === 'acknowledge') Object.assign(set, { acknowledged_at: now, acknowledged_by: actor });
    if (action === 'mitigate') Object.assign(set, { mitigated_at: now }, r.acknowledged_at === null ? { acknowledged_at: now, acknowledged_by: actor } : {});
    if (action === 'resolve') Object.assign(set, { resolved_at: now }, r.acknowledged_at === null ? { acknowledged_at: now, acknowledged_by: actor } : {}, r.mitigated_at === null ? { mitigated_at: now } : {});
    if (action === 'close') set.closed_at = now;
    if (action === 'decline') set.declined_at = now;
    if (action === 'reopen') Object.assign(set, { resolved_at: null, mitigated_at: null, reopened: Number(r.reopened) + 1, status: r.status === 'resolved' ? 'investigating' : r.status });
    await this.db.updateTable('incidents').set(set as never).where('id', '=', id).execute();
    const next = await this.row(id);
    await this.emit(action === 'reopen' ? 'incident.reopened' : `incident.${state}`, next, actor, { from, ...(message ? { message } : {}) });
    if (message) await this.addUpdateRow(next, 'note', null, message, actor);
    return next;
  }

  private act(id: number, action: 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'decline' | 'reopen', actor: string, message?: string): Promise<Incident> {
    return this.serial(async () => (await this.present([await this.transition(id, action, actor, message)]))[0] as Incident);
  }

  acknowledge(id: number, actor: string): Promise<Incident> {
    return this.act(id, 'acknowledge', actor);
  }
  mitigate(id: number, actor: string, message?: string): Promise<Incident> {
    return this.act(id, 'mitigate', actor, message);
  }
  resolve(id: number, actor: string, message?: string): Promise<Incident> {
    return this.act(id, 'resolve', actor, message);
  }
  /** The post-mortem is done. */
  close(id: number, actor: string, message?: string): Promise<Incident> {
    return this.act(id, 'close', actor, message);
  }
  /** Not an incident after all (a false alarm). */
  decline(id: number, actor: string, message?: string): Promise<Incident> {
    return this.act(id, 'decline', actor, message);
  }
  reopen(id: number, actor: string, message?: string): Promise<Incident> {
    return this.act(id, 'reopen', actor, message);
  }

  /** A duplicate joins another incident: its alerts, services and timeline go with it. */
  merge(id: number, into: number, actor: string): Promise<Incident> {
    return this.serial(async () => {
      if (id === into) throw new ServiceError('invalid', 'body.into: an incident cannot be merged into itself');
      const r = await this.row(id);
      this.allowed(r, 'merge');
      const target = await this.db.selectFrom('incidents').selectAll().where('id', '=', into).executeTakeFirst();
      if (!target) throw new ServiceError('invalid', `body.into: no incident ${refOf(into)}`);
      if (!OPEN_STATES.includes(target.state as IncidentState) && target.state !== 'resolved') throw new ServiceError('conflict', `${refOf(into)} is ${target.state}: merge into an open or resolved incident`);
      const now = this.d.now();
      await this.db.updateTable('incidents').set({ state: 'merged', merged_into: into, updated_at: now }).where('id', '=', id).execute();
      // the duplicate's own merged incidents follow it
      await this.db.updateTable('incidents').set({ merged_into: into, updated_at: now }).where('merged_into', '=', id).execute();
      await this.db.updateTable('incident_alerts').set({ incident_id: into }).where('incident_id', '=', id).execute();
      const services = [...new Set([...(JSON.parse(target.services) as string[]), ...(JSON.parse(r.services) as string[])])];
      await this.db.updateTable('incidents').set({ services: JSON.stringify(services), updated_at: now }).where('id', '=', into).execute();
      const dup = await this.row(id);
      await this.emit('incident.merged', dup, actor, { from: r.state, into, into_ref: refOf(into) });
      const t = await this.row(into);
      await this.emit('incident.joined', t, actor, { merged: id, merged_ref: refOf(id), merged_title: r.title });
      return (await this.present([dup]))[0] as Incident;
    });
  }

  /** A status-page style update; it moves the lifecycle forward when the status says so. */
  postUpdate(id: number, u: { status: UpdateStatus; message: string }, actor: string): Promise<IncidentDetail> {
    return this.serial(async () => {
      let r = await this.row(id);
      this.allowed(r, 'update');
      if (r.state === 'resolved' && u.status !== 'resolved') throw new ServiceError('conflict', `${refOf(id)} is resolved: re-open it before posting "${u.status}"`);
      const now = this.d.now();
      await this.recordBreaches(r, now);
      const implied = STATUS_IMPLIES[u.status];
      if ((RANK[implied] ?? 0) > (RANK[r.state] ?? 0)) {
        r = await this.transition(id, implied === 'acknowledged' ? 'acknowledge' : implied === 'mitigated' ? 'mitigate' : 'resolve', actor);
      }
      await this.db
        .updateTable('incidents')
        .set({ status: u.status, last_update_at: now, updated_at: now, ...(r.first_update_at === null ? { first_update_at: now } : {}) })
        .where('id', '=', id)
        .execute();
      r = await this.row(id);
      await this.addUpdateRow(r, 'update', u.status, u.message, actor);
      return this.get(id);
    });
  }

  /** A note on the timeline (what was tried, what was seen). */
  addNote(id: number, message: string, actor: string): Promise<IncidentUpdate> {
    return this.serial(async () => {
      const r = await this.row(id);
      return this.addUpdateRow(r, 'note', null, message, actor);
    });
  }

  private async addUpdateRow(r: Row, kind: 'update' | 'note', status: UpdateStatus | null, message: string, actor: string): Promise<IncidentUpdate> {
    const at = this.d.now();
    const ins = await this.db.insertInto('incident_updates').values({ incident_id: Number(r.id), kind, status, message, author: actor, at }).returning('id').executeTakeFirstOrThrow();
    await this.emit(kind === 'update' ? 'incident.update' : 'incident.note', r, actor, { update_id: Number(ins.id), ...(status ? { status } : {}), message });
    return { id: Number(ins.id), kind, status, message, author: actor, at: iso(at) as string };
  }

  /** Assign or clear roles (commander, communications, scribe). */
  setRoles(id: number, roles: Partial<Roles>, actor: string): Promise<Incident> {
    return this.serial(async () => {
      const r = await this.row(id);
      this.allowed(r, 'edit');
      const before = JSON.parse(r.roles) as Roles;
      const after: Roles = { ...before };
      for (const k of ROLES) if (roles[k] !== undefined) after[k] = roles[k] ?? null;
      const changed = ROLES.filter((k) => before[k] !== after[k]);
      if (changed.length === 0) return (await this.present([r]))[0] as Incident;
      await this.db.updateTable('incidents').set({ roles: JSON.stringify(after), updated_at: this.d.now() }).where('id', '=', id).execute();
      const next = await this.row(id);
      await this.emit('incident.roles_changed', next, actor, { changes: Object.fromEntries(changed.map((k) => [k, { from: before[k], to: after[k] }])), roles: after });
      return (await this.present([next]))[0] as Incident;
    });
  }

  /** Change the title, severity or affected services. */
  edit(id: number, e: { title?: string; severity?: string; services?: string[] }, actor: string): Promise<Incident> {
    return this.serial(async () => {
      const r = await this.row(id);
      this.allowed(r, 'edit');
      const set: { title?: string; severity?: string; services?: string } = {};
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      if (e.title !== undefined && e.title !== r.title) {
        set.title = e.title;
        changes.title = { from: r.title, to: e.title };
      }
      if (e.severity !== undefined) {
        const l = this.levelOrThrow(e.severity, 'body.severity');
        if (l.name !== r.severity) {
          set.severity = l.name;
          changes.severity = { from: r.severity, to: l.name };
        }
      }
      if (e.services !== undefined) {
        const next = this.checkServices(e.services, 'body.services');
        const before = JSON.parse(r.services) as string[];
        if (JSON.stringify(next) !== JSON.stringify(before)) {
          set.services = JSON.stringify(next);
          changes.services = { from: before, to: next };
        }
      }
      if (Object.keys(changes).length === 0) return (await this.present([r]))[0] as Incident;
      await this.db.updateTable('incidents').set({ ...set, updated_at: this.d.now() }).where('id', '=', id).execute();
      const next = await this.row(id);
      await this.emit(changes.severity ? 'incident.severity_changed' : 'incident.changed', next, actor, { changes });
      return (await this.present([next]))[0] as Incident;
    });
  }

  /** Write the post-mortem's own parts (summary, root cause, what went well / badly, action items). */
  setPostmortem(id: number, fields: PostmortemFields, actor: string): Promise<Incident> {
    return this.serial(async () => {
      const r = await this.row(id);
      if (r.state === 'merged') this.allowed(r, 'edit');
      const merged = { ...(r.postmortem ? (JSON.parse(r.postmortem) as PostmortemFields) : {}), ...fields };
      await this.db.updateTable('incidents').set({ postmortem: JSON.stringify(merged), updated_at: this.d.now() }).where('id', '=', id).execute();
      const next = await this.row(id);
      await this.emit('incident.postmortem_updated', next, actor, { fields: Object.keys(fields) });
      return (await this.present([next]))[0] as Incident;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // alerts

  /**
   * An alert fired whose rule says `incident: { severity }`: join the incident its fingerprint
   * already has open, re-open one resolved within `reopen_within`, or open a new one.
   */
  alertFired(e: EventRecord, severity: string): Promise<Incident | undefined> {
    return this.serial(async () => {
      const a = e.data as { fingerprint?: unknown; labels?: Record<string, string>; annotations?: Record<string, string> };
      if (typeof a.fingerprint !== 'string') return undefined;
      const fp = a.fingerprint;
      const labels = a.labels ?? {};
      const alertname = labels.alertname ?? fp;
      const now = this.d.now();
      const link = await this.db
        .selectFrom('incident_alerts')
        .innerJoin('incidents', 'incidents.id', 'incident_alerts.incident_id')
        .selectAll('incidents')
        .where('incident_alerts.fingerprint', '=', fp)
        .orderBy('incidents.id', 'desc')
        .executeTakeFirst();
      const reopenWithin = this.d.config().reopen_within;
      let r: Row | undefined;
      if (link && OPEN_STATES.includes(link.state as IncidentState)) {
        r = link;
        await this.emit('incident.alert_joined', r, e.actor, { fingerprint: fp, alertname, summary: a.annotations?.summary ?? null });
      } else if (link && link.state === 'resolved' && link.resolved_at !== null && now - Number(link.resolved_at) <= reopenWithin) {
        r = await this.transition(Number(link.id), 'reopen', e.actor, `${alertname} fired again`);
      } else {
        const level = this.level(severity) ?? this.levels()[Math.min(2, this.levels().length - 1)];
        const known = new Set(this.d.services());
        const services = labels.service && known.has(labels.service) ? [labels.service] : [];
        r = await this.insert({ title: a.annotations?.summary || alertname, severity: (level as SeverityLevel).name, services, source: 'alert' }, e.actor);
      }
      const id = Number(r.id);
      const existing = await this.db.selectFrom('incident_alerts').selectAll().where('incident_id', '=', id).where('fingerprint', '=', fp).executeTakeFirst();
      if (existing) await this.db.updateTable('incident_alerts').set({ last_at: now, firings: Number(existing.firings) + 1 }).where('incident_id', '=', id).where('fingerprint', '=', fp).execute();
      else await this.db.insertInto('incident_alerts').values({ fingerprint: fp, incident_id: id, alertname, first_at: now, last_at: now, firings: 1 }).execute();
      return (await this.present([await this.row(id)]))[0];
    });
  }

  // ---------------------------------------------------------------------------------------------
  // response targets

  /** Check every open incident's targets; a missed one is recorded once and written as `incident.breached`. */
  tick(): Promise<number> {
    return this.serial(async () => {
      const rows = await this.db.selectFrom('incidents').selectAll().where('state', 'in', [...OPEN_STATES]).execute();
      const now = this.d.now();
      let n = 0;
      for (const r of rows) n += await this.recordBreaches(r, now);
      return n + (await this.recordOverdue(now));
    });
  }

  /** Record the targets of `r` that are past due and unmet at `now` (inside serial()). */
  private async recordBreaches(r: Row, now: number): Promise<number> {
    if (!OPEN_STATES.includes(r.state as IncidentState)) return 0;
    const stored = JSON.parse(r.breaches) as StoredBreach[];
    const have = new Set(stored.map((b) => b.key));
    const missed = targetsOf(timed(r), this.level(r.severity), this.d.config().business_hours).filter((t) => t.met === null && now > t.due && !have.has(t.key));
    if (missed.length === 0) return 0;
    const add: StoredBreach[] = missed.map((t) => ({ key: t.key, target: t.target, due_at: iso(t.due) as string, at: iso(now) as string, overdue_ms: now - t.due }));
    await this.db.updateTable('incidents').set({ breaches: JSON.stringify([...stored, ...add]) }).where('id', '=', r.id).execute();
    for (const b of add) await this.emit('incident.breached', r, 'schedule', { target: b.target, due_at: b.due_at, overdue_ms: b.overdue_ms, roles: JSON.parse(r.roles) as Roles });
    return add.length;
  }

  // ---------------------------------------------------------------------------------------------
  // post-mortem action items

  private itemsOf(r: Pick<Row, 'id' | 'title' | 'state' | 'postmortem'>, now: number): ActionItemStatus[] {
    return actionItemsOf(r, this.d.config().business_hours.time_zone, now);
  }

  private itemCounts(r: Row, now: number): { action_items_open: number; action_items_overdue: number } {
    const items = this.itemsOf(r, now).filter((a) => !a.done);
    return { action_items_open: items.length, action_items_overdue: items.filter((a) => a.overdue).length };
  }

  private rowsWithPostmortem() {
    return rowsWithPostmortem(this.db);
  }

  /**
   * Action items of every incident's post-mortem, due first (items without a due date last); the
   * API, the CLI and other modules read the overdue signal here.
   */
  async actionItems(q: { open?: boolean; overdue?: boolean; owner?: string; limit?: number } = {}): Promise<ActionItemStatus[]> {
    const now = this.d.now();
    let items = (await this.rowsWithPostmortem()).flatMap((r) => this.itemsOf(r, now));
    if (q.open || q.overdue) items = items.filter((a) => !a.done);
    if (q.overdue) items = items.filter((a) => a.overdue);
    if (q.owner !== undefined) items = items.filter((a) => a.owner === q.owner);
    items.sort((a, b) => (a.due ?? '9999').localeCompare(b.due ?? '9999') || a.incident - b.incident || a.index - b.index);
    return items.slice(0, q.limit ?? 1000);
  }

  /** Announce each action item that passed its due date, once (inside serial()). */
  private async recordOverdue(now: number): Promise<number> {
    let n = 0;
    for (const r of await this.rowsWithPostmortem()) {
      const overdue = this.itemsOf(r, now).filter((a) => a.overdue);
      if (overdue.length === 0) continue;
      const seen = new Set((await this.db.selectFrom('incident_overdue_items').select('item_key').where('incident_id', '=', r.id).execute()).map((x) => x.item_key));
      for (const a of overdue) {
        const key = `${a.due}\n${a.title}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ins = await this.db
          .insertInto('incident_overdue_items')
          .values({ incident_id: Number(r.id), item_key: key, at: now })
          .onConflict((oc) => oc.columns(['incident_id', 'item_key']).doNothing())
          .executeTakeFirst();
        if (Number(ins.numInsertedOrUpdatedRows ?? 0n) === 0) continue; // another process announced it
        await this.d.events.append({
          type: 'incident.action_item_overdue',
          actor: 'schedule',
          subject: `incident:${r.id}`,
          data: { id: Number(r.id), ref: a.ref, title: r.title, severity: r.severity, state: r.state, services: JSON.parse(r.services) as string[], item: { index: a.index, title: a.title, owner: a.owner, due: a.due }, overdue_since: a.overdue_since },
        });
        n++;
      }
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // timeline

  /**
   * The incident's timeline, read from the one event log: its own events (and those of incidents
   * merged into it), the alerts that joined it, and every event about its services (check and
   * service states, errors, alerts, and whatever later modules write about a service) from
   * `timeline_lead` before it opened until it ended.
   */
  async timeline(id: number, opts: { limit?: number } = {}): Promise<Timeline> {
    const inc = await this.get(id);
    const lead = this.d.config().timeline_lead;
    const opened = Date.parse(inc.opened_at);
    const open = OPEN_STATES.includes(inc.state);
    const end = open ? this.d.now() : Date.parse(inc.closed_at ?? inc.resolved_at ?? inc.declined_at ?? inc.updated_at);
    return collectTimeline(this.d.events, {
      incident: id,
      subjects: [id, ...inc.merged].map((i) => `incident:${i}`),
      services: inc.services,
      fingerprints: inc.alerts.map((a) => a.fingerprint),
      from: opened - lead,
      to: open ? end : end + lead,
      limit: opts.limit ?? 1000,
    });
  }

  /** "What changed in the hour before?": events of the affected services in the window before it opened. */
  async changesBefore(id: number, windowMs: number, opts: { limit?: number } = {}): Promise<Timeline> {
    const inc = await this.get(id);
    const opened = Date.parse(inc.opened_at);
    return collectTimeline(this.d.events, {
      incident: id,
      subjects: [],
      services: inc.services,
      fingerprints: inc.alerts.map((a) => a.fingerprint),
      from: opened - windowMs,
      to: opened,
      limit: opts.limit ?? 1000,
      skipIncidentEvents: true,
    });
  }

  /** The post-mortem as Markdown (times in `timeZone`, default UTC). */
  async postmortem(id: number, opts: { timeZone?: string } = {}): Promise<string> {
    const inc = await this.get(id);
    const tl = await this.timeline(id, { limit: 5000 });
    const now = this.d.now();
    const end = inc.resolved_at ? Date.parse(inc.resolved_at) : now;
    const traffic = new Map<string, { requests: number; failed: number }>();
    for (const svc of inc.services) {
      const t = await this.d.traffic?.(svc, Date.parse(inc.opened_at), end);
      if (t && t.requests > 0) traffic.set(svc, t);
    }
    return renderPostmortem(inc, tl, { now, timeZone: opts.timeZone, traffic });
  }
}

function timed(r: Row) {
  return {
    opened_at: Number(r.opened_at),
    acknowledged_at: num(r.acknowledged_at),
    mitigated_at: num(r.mitigated_at),
    resolved_at: num(r.resolved_at),
    first_update_at: num(r.first_update_at),
    last_update_at: num(r.last_update_at),
  };
}

function toUpdate(u: Selectable<IncidentUpdatesTable>): IncidentUpdate {
  return { id: Number(u.id), kind: u.kind as 'update' | 'note', status: u.status as UpdateStatus | null, message: u.message, author: u.author, at: iso(Number(u.at)) as string };
}
