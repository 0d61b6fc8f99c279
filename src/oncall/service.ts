/**
 * The on-call service: who is on call (now or at T), shifts, escalations of incidents (timed steps
 * that page schedules' on-call and people through the notify queue, repeated, stopped by an ack or
 * resolve) and the signed single-use ack / resolve links in pages. Escalation state is stored, so
 * a restart resumes where it was (due times included).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { loadKey, type AtRest } from '../core/at-rest.js';
import type { EventLog } from '../core/events.js';
import { ServiceError } from '../core/errors.js';
import { Serial } from '../core/serial.js';
import type { Store } from '../core/store/db.js';
import type { Incidents } from '../incidents/index.js';
import type { Notification } from '../notify/index.js';
import { instantOf, type OncallConfig, type PersonConfig, type PolicyConfig } from './config.js';
import { badLink, feedNonce, feedSignatureOk, LinkError, linkNonce, newNonce, signFeed, signLink, verifyLink, type LinkAction, type LinkClaims } from './links.js';
import type { OncallTables } from './migrations.js';
import { currentShift, onCallAt, shifts, type Shift } from './rotation.js';
import type { CalendarFeed, CalendarSubscription, Escalation, OnCallNow, PolicyOut, ScheduleDetail, ShiftOut } from './api-types.js';

export type { CalendarFeed, CalendarSubscription, Escalation, OnCallNow, PolicyOut, ScheduleDetail, ShiftOut } from './api-types.js';

export interface OncallDeps {
  store: Store<OncallTables>;
  events: EventLog;
  logger: Logger;
  /** seals the link key in the store */
  atRest: AtRest;
  now: () => number;
  config: () => OncallConfig;
  people: () => Record<string, PersonConfig>;
  incidents: () => Incidents;
  /** durable send through the notify queue */
  send: (n: Omit<Notification, 'receiver'>, channels: readonly string[]) => Promise<{ queued: number[]; unknown: string[] }>;
  /** the URL links in pages start with */
  externalUrl: () => string;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const ZERO_TIME = '0001-01-01T00:00:00Z';
const STOPPING = ['incident.acknowledged', 'incident.mitigated', 'incident.resolved', 'incident.closed', 'incident.declined', 'incident.merged'];

export class Oncall {
  private key: string | undefined;
  /** escalation changes run one at a time, in order */
  private readonly changes = new Serial();

  constructor(private readonly d: OncallDeps) {}

  private get db() {
    return this.d.store.db;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.changes.run(fn);
  }

  idle(): Promise<void> {
    return this.changes.idle();
  }

  /** Load (or make, once) the link signing key. */
  async load(): Promise<void> {
    // sealed at rest (core/at-rest): a copy of the store cannot forge an ack link
    this.key = await loadKey(
      this.d.atRest,
      'the on-call link key',
      {
        read: async () => (await this.db.selectFrom('oncall_keys').select('secret').where('name', '=', 'link_key').executeTakeFirst())?.secret,
        insert: async (secret) => {
          await this.db.insertInto('oncall_keys').values({ name: 'link_key', secret, created_at: this.d.now() }).onConflict((oc) => oc.column('name').doNothing()).execute();
        },
        replace: async (old, secret) => {
          await this.db.updateTable('oncall_keys').set({ secret }).where('name', '=', 'link_key').where('secret', '=', old).execute();
        },
      },
      (msg) => this.d.logger.warn(msg),
    );
  }

  private signingKey(): string {
    if (!this.key) throw new Error('on-call: the link key is not loaded (start() first)');
    return this.key;
  }

  // ---------------------------------------------------------------------------------------------
  // schedules

  scheduleNames(): string[] {
    return Object.keys(this.d.config().schedules);
  }

  private schedule(name: string) {
    const s = this.d.config().schedules[name];
    if (!s) throw new ServiceError('not_found', `no schedule "${name}"; schedules: ${this.scheduleNames().join(', ') || 'none (add them under oncall.schedules)'}`);
    return s;
  }

  private displayName(person: string): string {
    return this.d.people()[person]?.name ?? person;
  }

  /** Who is on call in one schedule, or in every schedule, at `at` (default now). */
  whoIsOn(name: string | undefined, at = this.d.now()): OnCallNow[] {
    const names = name === undefined ? this.scheduleNames() : [name];
    return names.map((n) => {
      const s = this.schedule(n);
      const shift = currentShift(s, at);
      const who = shift ?? onCallAt(s, at);
      return {
        schedule: n,
        at: new Date(at).toISOString(),
        time_zone: s.time_zone,
        person: who?.person ?? null,
        name: who ? this.displayName(who.person) : null,
        source: who?.source ?? null,
        since: shift ? iso(shift.start) : null,
        until: shift ? iso(shift.end) : null,
      };
    });
  }

  /** The shifts of a schedule in [from, to). */
  shiftsOf(name: string, from: number, to: number): ShiftOut[] {
    return shifts(this.schedule(name), from, to).map((x) => this.shiftOut(name, x));
  }

  /** Every shift a person has in any schedule in [from, to). */
  shiftsOfPerson(person: string, from: number, to: number): ShiftOut[] {
    if (!(person in this.d.people())) throw new ServiceError('not_found', `no person "${person}"; people: ${Object.keys(this.d.people()).join(', ') || 'none (add them under people:)'}`);
    return this.scheduleNames()
      .flatMap((n) => this.shiftsOf(n, from, to).filter((x) => x.person === person))
      .sort((a, b) => a.start.localeCompare(b.start));
  }

  private shiftOut(schedule: string, x: Shift): ShiftOut {
    return { schedule, person: x.person, name: this.displayName(x.person), source: x.source, start: new Date(x.start).toISOString(), end: new Date(x.end).toISOString() };
  }

  people(): { key: string; name: string; email: string | null; channels: string[] }[] {
    return Object.entries(this.d.people()).map(([key, p]) => ({ key, name: p.name ?? key, email: p.email ?? null, channels: p.channels }));
  }

  /** A schedule as configured (layers, overrides as instants), for the dashboard. */
  scheduleDetail(name: string): ScheduleDetail {
    const s = this.schedule(name);
    return {
      schedule: name,
      time_zone: s.time_zone,
      layers: s.layers.map((l, i) => ({
        name: l.name ?? `Layer ${i + 1}`,
        rotation: l.rotation.label,
        handoff: l.handoff.text,
        start: l.start,
        people: l.people.map((p) => ({ key: p, name: this.displayName(p) })),
      })),
      overrides: s.overrides.map((o, i) => ({
        index: i + 1,
        person: o.person,
        name: this.displayName(o.person),
        from: new Date(instantOf(o.from, s.time_zone)).toISOString(),
        to: new Date(instantOf(o.to, s.time_zone)).toISOString(),
        reason: o.reason ?? null,
      })),
    };
  }

  /** The escalation policies in force, in config order (the first matching one wins). */
  policies(): PolicyOut[] {
    return Object.entries(this.d.config().escalation).map(([name, p]) => ({
      name,
      severities: p.severities ?? null,
      steps: p.steps.map((s) => ({ after_ms: s.after, notify: s.notify })),
      repeat: p.repeat,
      repeat_after_ms: p.repeat_after,
    }));
  }

  /** Escalations still running (nobody acknowledged yet), newest first. */
  async activeEscalations(limit = 200): Promise<Escalation[]> {
    const rows = await this.db.selectFrom('oncall_escalations').select('incident_id').where('state', '=', 'active').orderBy('id', 'desc').limit(limit).execute();
    const ids = [...new Set(rows.map((r) => Number(r.incident_id)))];
    const all = await Promise.all(ids.map((i) => this.escalations(i)));
    return all.flat().filter((e) => e.state === 'active').sort((a, b) => b.id - a.id);
  }

  // ---------------------------------------------------------------------------------------------
  // escalation

  private policyFor(severity: string): [string, PolicyConfig] | undefined {
    return Object.entries(this.d.config().escalation).find(([, p]) => !p.severities || p.severities.some((s) => s.toUpperCase() === severity.toUpperCase()));
  }

  /** Handle an incident event (opened / re-opened start an escalation, ack / resolve / … stop it, a missed ack target brings the next step forward). */
  onIncidentEvent(type: string, data: Record<string, unknown>, actor: string): Promise<void> {
    const id = Number(data.id);
    if (!Number.isFinite(id)) return Promise.resolve();
    if (type === 'incident.opened' || type === 'incident.reopened') return this.serial(() => this.startEscalation(id, String(data.severity ?? ''), actor));
    if (STOPPING.includes(type)) return this.serial(() => this.stopEscalation(id, `${type.slice('incident.'.length)} by ${actor}`, actor));
    if (type === 'incident.breached' && data.target === 'ack') return this.serial(() => this.bringForward(id));
    return Promise.resolve();
  }

  private async startEscalation(incident: number, severity: string, actor: string): Promise<void> {
    const found = this.policyFor(severity);
    if (!found) return;
    const [name, policy] = found;
    const open = await this.db.selectFrom('oncall_escalations').select('id').where('incident_id', '=', incident).where('state', '=', 'active').executeTakeFirst();
    if (open) return;
    const now = this.d.now();
    const ins = await this.db
      .insertInto('oncall_escalations')
      .values({ incident_id: incident, policy: name, state: 'active', step: 0, round: 0, round_start: now, next_at: now + policy.steps[0]!.after, stop_reason: null, started_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await this.d.events.append({ type: 'oncall.escalation_started', actor, subject: `incident:${incident}`, data: { escalation: Number(ins.id), incident, policy: name, steps: policy.steps.length, repeat: policy.repeat } });
    await this.runDue();
  }

  private async stopEscalation(incident: number, reason: string, actor: string): Promise<void> {
    const rows = await this.db.selectFrom('oncall_escalations').select(['id', 'policy', 'step', 'round']).where('incident_id', '=', incident).where('state', '=', 'active').execute();
    for (const r of rows) {
      await this.db.updateTable('oncall_escalations').set({ state: 'stopped', stop_reason: reason, next_at: null, updated_at: this.d.now() }).where('id', '=', r.id).execute();
      await this.d.events.append({ type: 'oncall.escalation_stopped', actor, subject: `incident:${incident}`, data: { escalation: Number(r.id), incident, policy: r.policy, reason, next_step: Number(r.step) + 1, round: Number(r.round) + 1 } });
    }
  }

  private async bringForward(incident: number): Promise<void> {
    const now = this.d.now();
    await this.db.updateTable('oncall_escalations').set({ next_at: now, updated_at: now }).where('incident_id', '=', incident).where('state', '=', 'active').where('next_at', '>', now).execute();
    await this.runDue();
  }

  /** Run the steps that are due (the timer calls this; so do tests). Returns how many ran. */
  tick(): Promise<number> {
    return this.serial(() => this.runDue());
  }

  /** When the next escalation step is due (epoch ms), or null when none is waiting. */
  async nextDue(): Promise<number | null> {
    const r = await this.db.selectFrom('oncall_escalations').select('next_at').where('state', '=', 'active').where('next_at', 'is not', null).orderBy('next_at').limit(1).executeTakeFirst();
    return r?.next_at === undefined || r.next_at === null ? null : Number(r.next_at);
  }

  /** Escalations of incidents opened while nobody listened (e.g. during a restart) start now. */
  catchUp(): Promise<void> {
    return this.serial(async () => {
      const active = await this.d.incidents().active();
      for (const inc of active) {
        if (inc.state !== 'triggered') continue;
        const any = await this.db.selectFrom('oncall_escalations').select('id').where('incident_id', '=', inc.id).executeTakeFirst();
        if (!any) await this.startEscalation(inc.id, inc.severity, 'system');
      }
    });
  }

  private async runDue(): Promise<number> {
    let ran = 0;
    for (let guard = 0; guard < 1000; guard++) {
      const now = this.d.now();
      const r = await this.db.selectFrom('oncall_escalations').selectAll().where('state', '=', 'active').where('next_at', '<=', now).orderBy('next_at').limit(1).executeTakeFirst();
      if (!r) break;
      await this.runStep({ id: Number(r.id), incident: Number(r.incident_id), policy: r.policy, step: Number(r.step), round: Number(r.round), roundStart: Number(r.round_start) });
      ran++;
    }
    return ran;
  }

  private async runStep(r: { id: number; incident: number; policy: string; step: number; round: number; roundStart: number }): Promise<void> {
    const now = this.d.now();
    const policy = this.d.config().escalation[r.policy];
    const stop = async (state: 'stopped' | 'done', reason: string | null) => {
      await this.db.updateTable('oncall_escalations').set({ state, stop_reason: reason, next_at: null, updated_at: now }).where('id', '=', r.id).execute();
      if (state === 'stopped') await this.d.events.append({ type: 'oncall.escalation_stopped', actor: 'system', subject: `incident:${r.incident}`, data: { escalation: r.id, incident: r.incident, policy: r.policy, reason } });
    };
    if (!policy || r.step >= policy.steps.length) return stop('stopped', `the escalation policy "${r.policy}" is no longer in the config (or lost this step)`);
    let inc;
    try {
      inc = await this.d.incidents().get(r.incident);
    } catch {
      return stop('stopped', 'the incident is gone');
    }
    // (an ack can be seen here before its event arrives, e.g. after a breach brought a step forward)
    if (inc.state !== 'triggered') return stop('stopped', inc.acknowledged_by ? `acknowledged by ${inc.acknowledged_by}` : `the incident is ${inc.state}`);

    // advance first (so a crash mid-page does not page twice), then page
    const last = r.step + 1 >= policy.steps.length;
    let next: { step: number; round: number; roundStart: number; at: number } | null;
    if (!last) next = { step: r.step + 1, round: r.round, roundStart: r.roundStart, at: r.roundStart + policy.steps[r.step + 1]!.after };
    else if (r.round < policy.repeat) {
      const roundStart = r.roundStart + policy.steps[r.step]!.after + policy.repeat_after;
      next = { step: 0, round: r.round + 1, roundStart, at: roundStart + policy.steps[0]!.after };
    } else next = null;
    const upd = await this.db
      .updateTable('oncall_escalations')
      .set(next ? { step: next.step, round: next.round, round_start: next.roundStart, next_at: next.at, updated_at: now } : { state: 'done', next_at: null, updated_at: now })
      .where('id', '=', r.id)
      .where('state', '=', 'active')
      .where('step', '=', r.step)
      .where('round', '=', r.round)
      .executeTakeFirst();
    if (Number(upd.numUpdatedRows) === 0) return; // someone else ran it

    const step = policy.steps[r.step]!;
    const targets: { person: string; via: string }[] = [];
    const nobody: string[] = [];
    for (const t of step.notify) {
      const [kind, name] = t.split(':') as ['schedule' | 'person', string];
      if (kind === 'person') targets.push({ person: name, via: t });
      else {
        const s = this.d.config().schedules[name];
        const who = s ? onCallAt(s, now) : undefined;
        if (who) targets.push({ person: who.person, via: t });
        else nobody.push(t);
      }
    }
    const seen = new Set<string>();
    const unique = targets.filter((t) => (seen.has(t.person) ? false : (seen.add(t.person), true)));
    await this.d.events.append({
      type: 'oncall.step',
      actor: 'system',
      subject: `incident:${r.incident}`,
      data: { escalation: r.id, incident: r.incident, ref: inc.ref, policy: r.policy, step: r.step + 1, round: r.round + 1, notify: step.notify, people: unique.map((t) => t.person), ...(nobody.length ? { nobody_on_call: nobody } : {}), last: next === null },
    });
    if (nobody.length) this.d.logger.warn({ incident: r.incident, schedules: nobody }, 'on-call: nobody is on call to page');
    for (const t of unique) await this.page(r, inc, t.person, t.via);
  }

  private async page(r: { id: number; incident: number; step: number; round: number }, inc: { id: number; ref: string; title: string; severity: string; services: string[] }, person: string, via: string): Promise<void> {
    const now = this.d.now();
    const cfg = this.d.config();
    const p = this.d.people()[person];
    const channels = p?.channels ?? [];
    const email = p?.email && cfg.email_channel ? p.email : undefined;
    const ins = await this.db
      .insertInto('oncall_pages')
      .values({ escalation_id: r.id, incident_id: r.incident, person, step: r.step, round: r.round, via, channels: JSON.stringify([...channels, ...(email ? [`${cfg.email_channel}:${email}`] : [])]), sent_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const pageId = Number(ins.id);
    const expires = now + cfg.link_ttl;
    const links = {} as Record<LinkAction, string>;
    for (const action of ['ack', 'resolve'] as const) {
      const nonce = newNonce();
      await this.db.insertInto('oncall_links').values({ nonce, page_id: pageId, incident_id: r.incident, person, action, expires_at: expires, used_at: null }).execute();
      links[action] = `${this.d.externalUrl()}/api/v1/oncall/ack/${signLink(this.signingKey(), { n: nonce, i: r.incident, p: person, a: action, e: expires })}`;
    }
    const name = p?.name ?? person;
    const summary = `${inc.ref} ${inc.title} (${inc.severity}) — ${name}, you are paged (${via}, step ${r.step + 1})`;
    const groupKey = `oncall:page:${pageId}`;
    const n: Omit<Notification, 'receiver'> = {
      groupKey,
      groupHash: createHash('sha256').update(groupKey).digest('hex'),
      status: 'firing',
      groupLabels: { incident: inc.ref },
      commonLabels: { alertname: 'oncall-page', incident: inc.ref, severity: inc.severity, person },
      commonAnnotations: { summary },
      externalURL: this.d.externalUrl(),
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'oncall-page', incident: inc.ref, severity: inc.severity, person, ...(inc.services.length ? { service: inc.services.join(',') } : {}) },
          annotations: { summary, description: `Acknowledge: ${links.ack}\n    Resolve: ${links.resolve}\n    (links expire ${new Date(expires).toISOString()}, each works once)`, ack_url: links.ack, resolve_url: links.resolve },
          startsAt: new Date(now).toISOString(),
          endsAt: ZERO_TIME,
          generatorURL: `${this.d.externalUrl()}/incidents/${inc.id}`,
          fingerprint: createHash('sha256').update(`${inc.id}:${person}`).digest('hex').slice(0, 16),
          valueText: '',
        },
      ],
    };
    const sent = await this.d.send(n, channels);
    let queued = sent.queued.length;
    if (email && cfg.email_channel) {
      const viaMail = await this.d.send({ ...n, to: [email] }, [cfg.email_channel]);
      queued += viaMail.queued.length;
    }
    await this.d.events.append({
      type: 'oncall.paged',
      actor: 'system',
      subject: `incident:${r.incident}`,
      data: { page: pageId, escalation: r.id, incident: r.incident, ref: inc.ref, person, via, step: r.step + 1, round: r.round + 1, channels, ...(email ? { email } : {}), queued, ...(sent.unknown.length ? { unknown_channels: sent.unknown } : {}), links_expire_at: new Date(expires).toISOString() },
    });
    if (queued === 0) this.d.logger.warn({ person, incident: r.incident }, `on-call: ${person} has no channel or email to page`);
  }

  async escalations(incident: number): Promise<Escalation[]> {
    const rows = await this.db.selectFrom('oncall_escalations').selectAll().where('incident_id', '=', incident).orderBy('id').execute();
    const pages = await this.db.selectFrom('oncall_pages').selectAll().where('incident_id', '=', incident).orderBy('id').execute();
    return rows.map((r) => ({
      id: Number(r.id),
      incident_id: Number(r.incident_id),
      policy: r.policy,
      state: r.state as Escalation['state'],
      next_step: r.state === 'active' ? Number(r.step) + 1 : null,
      round: Number(r.round) + 1,
      next_at: iso(r.next_at === null ? null : Number(r.next_at)),
      stop_reason: r.stop_reason,
      started_at: iso(Number(r.started_at)) as string,
      pages: pages
        .filter((p) => Number(p.escalation_id) === Number(r.id))
        .map((p) => ({ id: Number(p.id), person: p.person, via: p.via, step: Number(p.step) + 1, round: Number(p.round) + 1, channels: JSON.parse(p.channels) as string[], sent_at: iso(Number(p.sent_at)) as string })),
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // links

  /** What a link would do (for the confirm page); refuses tampered, unknown, expired and used links. */
  async inspectLink(token: string): Promise<LinkClaims & { title: string; ref: string; state: string }> {
    const c = await this.checkLink(token);
    const inc = await this.d.incidents().get(c.i);
    return { ...c, title: inc.title, ref: inc.ref, state: inc.state };
  }

  private async checkLink(token: string): Promise<LinkClaims> {
    const nonce = linkNonce(token);
    const row = await this.db.selectFrom('oncall_links').selectAll().where('nonce', '=', nonce).executeTakeFirst();
    if (!row) throw badLink();
    const c: LinkClaims = { n: row.nonce, i: Number(row.incident_id), p: row.person, a: row.action as LinkAction, e: Number(row.expires_at) };
    verifyLink(this.signingKey(), token, c);
    if (this.d.now() >= c.e) throw new LinkError(410, 'Gone', `this link expired at ${new Date(c.e).toISOString()}; acknowledge in Shipshape instead`);
    if (row.used_at !== null) throw new LinkError(409, 'Conflict', `this link was already used (${new Date(Number(row.used_at)).toISOString()}); each link works once`);
    return c;
  }

  /** Use a link: acknowledge or resolve its incident as `person:<name>`, once. */
  useLink(token: string) {
    return this.serial(async () => {
      const c = await this.checkLink(token);
      const now = this.d.now();
      const spent = await this.db.updateTable('oncall_links').set({ used_at: now }).where('nonce', '=', c.n).where('used_at', 'is', null).executeTakeFirst();
      if (Number(spent.numUpdatedRows) === 0) throw new LinkError(409, 'Conflict', 'this link was already used; each link works once');
      const actor = `person:${c.p}`;
      try {
        const inc = c.a === 'ack' ? await this.d.incidents().acknowledge(c.i, actor) : await this.d.incidents().resolve(c.i, actor, 'resolved from the link in an on-call page');
        await this.d.events.append({ type: 'oncall.link_used', actor, subject: `incident:${c.i}`, data: { incident: c.i, ref: inc.ref, person: c.p, action: c.a } });
        return inc;
      } catch (e) {
        // nothing changed: the link stays usable (e.g. the incident was already acknowledged)
        await this.db.updateTable('oncall_links').set({ used_at: null }).where('nonce', '=', c.n).execute();
        throw e;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // calendar subscription feeds

  private feedOut(r: { id: string; kind: string; target: string; created_at: number; created_by: string; revoked_at: number | null; revoked_by: string | null }): CalendarFeed {
    return { id: r.id, kind: r.kind as CalendarFeed['kind'], target: r.target, created_at: iso(Number(r.created_at)) as string, created_by: r.created_by, revoked_at: iso(r.revoked_at === null ? null : Number(r.revoked_at)), revoked_by: r.revoked_by };
  }

  private checkTarget(kind: CalendarFeed['kind'], target: string): void {
    if (kind === 'schedule') this.schedule(target);
    else if (!(target in this.d.people())) throw new ServiceError('not_found', `no person "${target}"; people: ${Object.keys(this.d.people()).join(', ') || 'none (add them under people:)'}`);
  }

  /**
   * The subscription URL of a schedule's or person's calendar: the feed in force, or a new one
   * when there is none (the first call, or after the last one was revoked).
   */
  subscription(kind: CalendarFeed['kind'], target: string, actor: string): Promise<CalendarSubscription> {
    this.checkTarget(kind, target);
    return this.serial(async () => {
      let row = await this.db.selectFrom('oncall_feeds').selectAll().where('kind', '=', kind).where('target', '=', target).where('revoked_at', 'is', null).orderBy('created_at').executeTakeFirst();
      if (!row) {
        const values = { id: `feed_${randomBytes(9).toString('base64url')}`, nonce: newNonce(), kind, target, created_at: this.d.now(), created_by: actor, revoked_at: null, revoked_by: null };
        await this.db.insertInto('oncall_feeds').values(values).execute();
        row = values;
        await this.d.events.append({ type: 'oncall.feed_created', actor, subject: `oncall:${kind}:${target}`, data: { feed: values.id, kind, target } });
      }
      const url = `${this.d.externalUrl()}/api/v1/oncall/calendar/${signFeed(this.signingKey(), { n: row.nonce, kind, target })}.ics`;
      return { ...this.feedOut(row), url, webcal_url: url.replace(/^https?:\/\//, 'webcal://') };
    });
  }

  /** Every feed made (newest first), without their tokens. */
  async feeds(): Promise<CalendarFeed[]> {
    const rows = await this.db.selectFrom('oncall_feeds').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(1000).execute();
    return rows.map((r) => this.feedOut(r));
  }

  /** Revoke a feed: its URL answers 404 from now on; the next subscription call makes a new one. */
  revokeFeed(id: string, actor: string): Promise<CalendarFeed> {
    return this.serial(async () => {
      const row = await this.db.selectFrom('oncall_feeds').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new ServiceError('not_found', `no calendar feed "${id}"`);
      if (row.revoked_at !== null) throw new ServiceError('conflict', `the calendar feed "${id}" was already revoked (${iso(Number(row.revoked_at))})`);
      const now = this.d.now();
      await this.db.updateTable('oncall_feeds').set({ revoked_at: now, revoked_by: actor }).where('id', '=', id).execute();
      await this.d.events.append({ type: 'oncall.feed_revoked', actor, subject: `oncall:${row.kind}:${row.target}`, data: { feed: id, kind: row.kind, target: row.target } });
      return this.feedOut({ ...row, revoked_at: now, revoked_by: actor });
    });
  }

  /** What a feed token names, or null for anything not a live, untampered feed of an existing target (the route answers 404 alike). */
  async feedOf(token: string): Promise<{ kind: CalendarFeed['kind']; target: string } | null> {
    const nonce = feedNonce(token);
    if (!nonce) return null;
    const row = await this.db.selectFrom('oncall_feeds').selectAll().where('nonce', '=', nonce).executeTakeFirst();
    if (!row) return null;
    const kind = row.kind as CalendarFeed['kind'];
    if (!feedSignatureOk(this.signingKey(), token, { n: row.nonce, kind, target: row.target })) return null;
    if (row.revoked_at !== null) return null;
    if (kind === 'schedule' ? !(row.target in this.d.config().schedules) : !(row.target in this.d.people())) return null;
    return { kind, target: row.target };
  }
}
