/**
 * Status page subscriptions: email subscribers (double opt-in through signed, expiring links;
 * signed unsubscribe links that never expire) and webhook subscribers (HMAC-SHA256 signed bodies),
 * each for a whole page or some of its components.
 *
 * Durability: the public incident and maintenance events are read back from the event log after a
 * stored cursor (so an event that arrived just before a restart is still fanned out), and every
 * send is a row in `subscription_deliveries`, keyed by event and subscriber (so nothing is sent
 * twice), retried with notify's backoff until it is sent or 24 hours have passed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { KEY_ENV, loadKey, type AtRest } from '../core/at-rest.js';
import type { EventRecord } from '../core/api-types.js';
import type { Config } from '../core/config/load.js';
import { egressFetch } from '../core/egress-http.js';
import { egressCheck, egressDenial } from '../core/egress.js';
import { ServiceError } from '../core/errors.js';
import { Serial } from '../core/serial.js';
import type { EventLog } from '../core/events.js';
import type { Store } from '../core/store/db.js';
import type { Incidents } from '../incidents/index.js';
import { backoff, externalUrlOf, SendError, type NotifyDomain } from '../notify/index.js';
import { componentStatusOf, type ResolvedPage, type StatuspageApi } from '../statuspage/index.js';
import type { SubscriptionsRaw } from './config.js';
import { LinkError, newNonce, signLink, verifyLink, type LinkAction } from './links.js';
import { alreadyMail, confirmMail, maskEmail, noticeMail, safeUrl, webhookBody, type Notice } from './messages.js';
import type { SubscribersTable, SubscriptionsTables } from './migrations.js';

/** The events subscribers hear about. */
export const CONSUMED_EVENTS = ['incident.opened', 'incident.update', 'incident.resolved', 'incident.reopened', 'service.state', 'maintenance.upcoming', 'maintenance.started', 'maintenance.ended', 'maintenance.cancelled'] as const;
const CONSUMED = new Set<string>(CONSUMED_EVENTS);

export const SUBSCRIPTION_EVENTS = ['subscription.requested', 'subscription.confirmed', 'subscription.unsubscribed', 'subscription.removed', 'subscription.webhook_created', 'subscription.notified', 'subscription.delivery_failed'] as const;

const MAINTENANCE_STATUS: Record<string, string> = { 'maintenance.upcoming': 'scheduled', 'maintenance.started': 'in_progress', 'maintenance.ended': 'completed', 'maintenance.cancelled': 'cancelled' };

/** Give up on a delivery after this long or this many attempts (notify's queue does the same). */
const GIVE_UP_AFTER_MS = 24 * 3_600_000;
const MAX_ATTEMPTS = 30;
const CONCURRENCY = 8;

type Row = SubscribersTable & { id: number };

export interface Subscriber {
  id: number;
  page: string;
  kind: 'email' | 'webhook';
  /** masked (`a***@example.com`, `https://host/…`) unless the caller may see it whole */
  address: string;
  /** services; [] = the whole page */
  services: string[];
  state: 'pending' | 'confirmed';
  description: string | null;
  created_by: string;
  created_at: string;
  confirmed_at: string | null;
}

export interface Delivery {
  id: number;
  subscriber_id: number;
  kind: string;
  event_id: number | null;
  event_type: string | null;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

/** What a webhook subscriber's sealed secret is bound to (and how errors name it): part of the stored format, never change it. */
const subscriberSecret = (id: number) => `the signing secret of webhook subscriber ${id}`;

export interface SubscriptionsDeps {
  store: Store<SubscriptionsTables>;
  events: EventLog;
  logger: Logger;
  /** seals the link key and webhook subscribers' secrets in the store */
  atRest: AtRest;
  now: () => number;
  config: () => Config<SubscriptionsRaw>;
  statuspage: () => StatuspageApi;
  notify: () => NotifyDomain;
  incidents: () => Incidents;
  random?: () => number;
}

const iso = (v: number | null | undefined) => (v === null || v === undefined ? null : new Date(Number(v)).toISOString());
const parseList = (s: string) => JSON.parse(s) as string[];

/** Lower-case the domain (the local part is the mailbox owner's business) and trim. */
export function normalizeEmail(s: string): string {
  const t = s.trim();
  const at = t.lastIndexOf('@');
  return at < 0 ? t : `${t.slice(0, at)}@${t.slice(at + 1).toLowerCase()}`;
}

export class Subscriptions {
  private key: string | undefined;
  private cursor = 0;
  /** when the cursor's event happened (ms): the log is read from a little before it, so a long log is not scanned */
  private cursorAt = 0;
  /** fan-outs and clean-ups run one at a time, in order */
  private readonly work = new Serial();
  private running: Promise<void> | null = null;
  private again = false;
  /** when the next pending delivery is due, as of the last round (0: not known, look) */
  private nextDueAt = 0;
  /** when the periodic round last asked the store */
  private lastLook = 0;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** a catch-up that is queued and has not started yet */
  private queuedCatchUp: Promise<void> | null = null;

  constructor(private readonly d: SubscriptionsDeps) {}

  private get db() {
    return this.d.store.db;
  }

  private get cfg() {
    return this.d.config().raw.subscriptions;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.work.run(fn);
  }

  /** Load (or make, once) the link key, and the event cursor (first start: now, so history is not mailed). */
  async load(): Promise<void> {
    const meta = async (name: string, make: () => Promise<string> | string) => {
      let row = await this.db.selectFrom('subscription_meta').select('value').where('name', '=', name).executeTakeFirst();
      if (!row) {
        await this.db
          .insertInto('subscription_meta')
          .values({ name, value: await make() })
          .onConflict((oc) => oc.column('name').doNothing())
          .execute();
        row = await this.db.selectFrom('subscription_meta').select('value').where('name', '=', name).executeTakeFirstOrThrow();
      }
      return row.value;
    };
    // sealed at rest (core/at-rest): a copy of the store cannot forge a confirm or unsubscribe link
    this.key = await loadKey(
      this.d.atRest,
      'the subscription link key',
      {
        read: async () => (await this.db.selectFrom('subscription_meta').select('value').where('name', '=', 'link_key').executeTakeFirst())?.value,
        insert: async (value) => {
          await this.db.insertInto('subscription_meta').values({ name: 'link_key', value }).onConflict((oc) => oc.column('name').doNothing()).execute();
        },
        replace: async (old, value) => {
          await this.db.updateTable('subscription_meta').set({ value }).where('name', '=', 'link_key').where('value', '=', old).execute();
        },
      },
      (msg) => this.d.logger.warn(msg),
    );
    await this.sealSubscriberSecrets();
    const latest = async () => {
      const e = (await this.d.events.list({ limit: 1 }))[0];
      return JSON.stringify({ id: e?.id ?? 0, at: e ? Date.parse(e.at) : 0 });
    };
    const c = JSON.parse(await meta('cursor', latest)) as { id: number; at: number };
    this.cursor = c.id;
    this.cursorAt = c.at;
  }

  /** Seal webhook subscribers' secrets an earlier release stored in plain text (or under SHIPSHAPE_SECRET_KEY_PREVIOUS); say how many cannot be opened. */
  private async sealSubscriberSecrets(): Promise<void> {
    const rows = await this.db.selectFrom('subscribers').select(['id', 'secret']).where('kind', '=', 'webhook').where('secret', 'is not', null).execute();
    const unreadable: number[] = [];
    for (const r of rows) {
      const stored = r.secret as string;
      try {
        const o = this.d.atRest.open(subscriberSecret(Number(r.id)), stored);
        if (o.reseal) await this.db.updateTable('subscribers').set({ secret: this.d.atRest.seal(subscriberSecret(Number(r.id)), o.value) }).where('id', '=', r.id).where('secret', '=', stored).execute();
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        unreadable.push(Number(r.id));
      }
    }
    if (unreadable.length) this.d.logger.warn({ subscribers: unreadable }, `subscriptions: the signing secrets of ${unreadable.length} webhook subscriber(s) were sealed with another key, so their deliveries fail until ${KEY_ENV} is set to that key (or the subscribers are made again)`);
  }

  private signingKey(): string {
    if (!this.key) throw new Error('subscriptions: the link key is not loaded (start() first)');
    return this.key;
  }

  // ---------------------------------------------------------------------------------------------
  // pages and links

  /** Pages that offer subscriptions: public ones, limited to `subscriptions.pages` when set. */
  offered(): ResolvedPage[] {
    const only = this.cfg.pages;
    return this.d.statuspage().pages().filter((p) => !p.private && (only === undefined || only.includes(p.key)));
  }

  page(key: string): ResolvedPage {
    const p = this.offered().find((x) => x.key === key);
    if (!p) throw new ServiceError('not_found', `the status page "${key}" does not offer subscriptions; pages that do: ${this.offered().map((x) => x.key).join(', ') || 'none'}`);
    return p;
  }

  emailEnabled(): boolean {
    return this.cfg.email_channel !== undefined;
  }

  /** The page's absolute URL (links in mails and webhooks): notify.external_url (or the server address) + the page's path. */
  pageUrl(p: ResolvedPage): string {
    return `${externalUrlOf(this.d.config() as never)}${p.path}`;
  }

  private link(p: ResolvedPage, sub: Row, action: LinkAction, expires: number): string {
    const token = signLink(this.signingKey(), { a: action, s: Number(sub.id), n: sub.nonce, e: expires });
    return `${this.pageUrl(p)}/subscriptions/${action}/${token}`;
  }

  /** Service names → the page's component names (services not on the page are left out). */
  private componentNames(p: ResolvedPage, services: string[]): string[] {
    return p.components.filter((c) => services.includes(c.service)).map((c) => c.name);
  }

  /** Component ids (or names, or service names) of a page → its services; unknown ones are an error naming `field`. */
  servicesOf(p: ResolvedPage, components: string[], field: string): string[] {
    const out = new Set<string>();
    components.forEach((c, i) => {
      const hit = p.components.find((x) => x.id === c) ?? p.components.find((x) => x.name === c) ?? p.components.find((x) => x.service === c);
      if (!hit) throw new ServiceError('invalid', `${field}.${i}: no component "${c}" on the status page "${p.key}"; components: ${p.components.map((x) => x.id).join(', ') || 'none'}`);
      out.add(hit.service);
    });
    // every component chosen: the same as the whole page (and new components are included later)
    const all = new Set(p.components.map((c) => c.service));
    return out.size === all.size && [...all].every((s) => out.has(s)) ? [] : [...out].sort();
  }

  // ---------------------------------------------------------------------------------------------
  // the public form and links

  /**
   * Someone entered an address on a page's form. The caller answers the same whatever happens
   * here (new, pending or subscribed address): no way to learn who is subscribed. At most one mail
   * per address per `resend_after`, so the form cannot be used to flood a mailbox.
   */
  async subscribe(pageKey: string, email: string, components: string[]): Promise<void> {
    const p = this.page(pageKey);
    if (!this.emailEnabled()) throw new ServiceError('not_found', 'email subscriptions are not set up here (subscriptions.email_channel)');
    const address = normalizeEmail(email);
    const services = this.servicesOf(p, components, 'component');
    await this.serial(async () => {
      const now = this.d.now();
      const existing = await this.db.selectFrom('subscribers').selectAll().where('page', '=', p.key).where('kind', '=', 'email').where('address', '=', address).executeTakeFirst();
      if (!existing) {
        const pending = await this.db.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')).where('page', '=', p.key).where('state', '=', 'pending').executeTakeFirstOrThrow();
        if (Number(pending.n) >= this.cfg.max_pending) {
          this.d.logger.warn({ page: p.key }, `subscriptions: ${pending.n} unconfirmed addresses on page "${p.key}" (subscriptions.max_pending): a sign-up was not taken`);
          return;
        }
        const ins = await this.db
          .insertInto('subscribers')
          .values({ page: p.key, kind: 'email', address, services: JSON.stringify(services), state: 'pending', nonce: newNonce(), secret: null, description: null, created_by: 'anonymous', created_at: now, confirmed_at: null, last_mail_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        const id = Number(ins.id);
        await this.enqueue(`c${id}:${now}`, id, 'confirm', null, {});
        await this.d.events.append({ type: 'subscription.requested', actor: 'anonymous', subject: `subscription:${id}`, data: { id, page: p.key, kind: 'email', address: maskEmail(address), services } });
        return;
      }
      const last = existing.last_mail_at === null ? null : Number(existing.last_mail_at);
      if (last !== null && now - last < this.cfg.resend_after && now >= last) return;
      const id = Number(existing.id);
      await this.db
        .updateTable('subscribers')
        .set({ last_mail_at: now, ...(existing.state === 'pending' ? { services: JSON.stringify(services) } : {}) })
        .where('id', '=', id)
        .execute();
      await this.enqueue(`c${id}:${now}`, id, existing.state === 'pending' ? 'confirm' : 'already', null, {});
    });
    void this.runDue();
  }

  /** What a link is for (the GET page shows it and a button; changes nothing). */
  async inspect(pageKey: string, token: string, action: LinkAction): Promise<{ subscriber: Subscriber; page: ResolvedPage } | undefined> {
    const c = verifyLink(this.signingKey(), token, action, this.d.now());
    const row = await this.db.selectFrom('subscribers').selectAll().where('id', '=', c.s).executeTakeFirst();
    if (!row || row.nonce !== c.n) {
      if (action === 'unsubscribe') return undefined; // already gone: nothing to do
      throw gone();
    }
    if (row.page !== pageKey) throw new LinkError(400, 'This link is not valid', 'It belongs to another status page.');
    return { subscriber: this.present(row as Row, false), page: this.page(row.page) };
  }

  /** Confirm a subscription: `confirmed`, or `already` when the link is used again (nothing changes). */
  async confirm(pageKey: string, token: string): Promise<{ result: 'confirmed' | 'already'; subscriber: Subscriber }> {
    const c = verifyLink(this.signingKey(), token, 'confirm', this.d.now());
    return this.serial(async () => {
      const row = await this.db.selectFrom('subscribers').selectAll().where('id', '=', c.s).executeTakeFirst();
      if (!row || row.nonce !== c.n) throw gone();
      if (row.page !== pageKey) throw new LinkError(400, 'This link is not valid', 'It belongs to another status page.');
      if (row.state === 'confirmed') return { result: 'already' as const, subscriber: this.present(row as Row, false) };
      const now = this.d.now();
      await this.db.updateTable('subscribers').set({ state: 'confirmed', confirmed_at: now }).where('id', '=', c.s).where('state', '=', 'pending').execute();
      const next = { ...row, state: 'confirmed' as const, confirmed_at: now } as Row;
      await this.d.events.append({ type: 'subscription.confirmed', actor: 'anonymous', subject: `subscription:${c.s}`, data: { id: c.s, page: row.page, kind: row.kind, address: maskEmail(row.address), services: parseList(row.services) } });
      return { result: 'confirmed' as const, subscriber: this.present(next, false) };
    });
  }

  /** Unsubscribe (the link in every mail, and RFC 8058 one-click POSTs): `unsubscribed`, or `gone` when it already was. */
  async unsubscribe(pageKey: string, token: string): Promise<'unsubscribed' | 'gone'> {
    const c = verifyLink(this.signingKey(), token, 'unsubscribe', this.d.now());
    return this.serial(async () => {
      const row = await this.db.selectFrom('subscribers').selectAll().where('id', '=', c.s).executeTakeFirst();
      if (!row || row.nonce !== c.n) return 'gone' as const;
      if (row.page !== pageKey) throw new LinkError(400, 'This link is not valid', 'It belongs to another status page.');
      await this.drop(Number(row.id));
      await this.d.events.append({ type: 'subscription.unsubscribed', actor: 'anonymous', subject: `subscription:${c.s}`, data: { id: c.s, page: row.page, kind: row.kind, address: row.kind === 'email' ? maskEmail(row.address) : safeUrl(row.address) } });
      return 'unsubscribed' as const;
    });
  }

  private async drop(id: number): Promise<void> {
    const now = this.d.now();
    await this.db.deleteFrom('subscribers').where('id', '=', id).execute();
    await this.db.updateTable('subscription_deliveries').set({ status: 'dropped', updated_at: now, next_attempt_at: now }).where('subscriber_id', '=', id).where('status', '=', 'pending').execute();
  }

  // ---------------------------------------------------------------------------------------------
  // the API

  present(r: Row, reveal: boolean): Subscriber {
    return {
      id: Number(r.id),
      page: r.page,
      kind: r.kind,
      address: reveal ? r.address : r.kind === 'email' ? maskEmail(r.address) : safeUrl(r.address),
      services: parseList(r.services),
      state: r.state,
      description: r.description,
      created_by: r.created_by,
      created_at: iso(Number(r.created_at)) as string,
      confirmed_at: iso(r.confirmed_at),
    };
  }

  async list(q: { page?: string; kind?: 'email' | 'webhook'; state?: 'pending' | 'confirmed'; limit: number; before?: number }, reveal: boolean): Promise<{ items: Subscriber[]; next_before: number | null }> {
    let query = this.db.selectFrom('subscribers').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
    if (q.page) query = query.where('page', '=', q.page);
    if (q.kind) query = query.where('kind', '=', q.kind);
    if (q.state) query = query.where('state', '=', q.state);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    const rows = (await query.execute()) as Row[];
    const items = rows.slice(0, q.limit).map((r) => this.present(r, reveal));
    return { items, next_before: rows.length > q.limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  async remove(id: number, actor: string): Promise<void> {
    await this.serial(async () => {
      const row = await this.db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new ServiceError('not_found', `no subscriber ${id}`);
      await this.drop(id);
      await this.d.events.append({ type: 'subscription.removed', actor, subject: `subscription:${id}`, data: { id, page: row.page, kind: row.kind, address: row.kind === 'email' ? maskEmail(row.address) : safeUrl(row.address) } });
    });
  }

  /** A webhook subscriber; the answer holds its signing secret, shown this once. */
  async createWebhook(input: { page: string; url: string; components: string[]; description?: string }, actor: string): Promise<Subscriber & { secret: string }> {
    const p = this.page(input.page);
    const services = this.servicesOf(p, input.components, 'body.components');
    const host = new URL(input.url).hostname;
    const denied = egressCheck(host.replace(/^\[|\]$/g, ''));
    if (denied) throw new ServiceError('invalid', `body.url: ${denied}`);
    return this.serial(async () => {
      const dup = await this.db.selectFrom('subscribers').select('id').where('page', '=', p.key).where('kind', '=', 'webhook').where('address', '=', input.url).executeTakeFirst();
      if (dup) throw new ServiceError('conflict', `body.url: this URL already gets the page "${p.key}" (subscriber ${dup.id}); delete that one first`);
      const now = this.d.now();
      const secret = randomBytes(32).toString('hex');
      // stored sealed, bound to its row: the id is known once the row is there, so both in one transaction
      const id = await this.db.transaction().execute(async (tx) => {
        const ins = await tx
          .insertInto('subscribers')
          .values({ page: p.key, kind: 'webhook', address: input.url, services: JSON.stringify(services), state: 'confirmed', nonce: newNonce(), secret: null, description: input.description ?? null, created_by: actor, created_at: now, confirmed_at: now, last_mail_at: null })
          .returning('id')
          .executeTakeFirstOrThrow();
        await tx.updateTable('subscribers').set({ secret: this.d.atRest.seal(subscriberSecret(Number(ins.id)), secret) }).where('id', '=', ins.id).execute();
        return Number(ins.id);
      });
      const row = (await this.db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as Row;
      await this.d.events.append({ type: 'subscription.webhook_created', actor, subject: `subscription:${row.id}`, data: { id: Number(row.id), page: p.key, kind: 'webhook', address: safeUrl(input.url), services } });
      return { ...this.present(row, true), secret };
    });
  }

  async deliveries(q: { status?: string; subscriber?: number; limit: number; before?: number }): Promise<{ items: Delivery[]; next_before: number | null }> {
    let query = this.db.selectFrom('subscription_deliveries').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.subscriber !== undefined) query = query.where('subscriber_id', '=', q.subscriber);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    const rows = await query.execute();
    const items = rows.slice(0, q.limit).map((r) => ({
      id: Number(r.id),
      subscriber_id: Number(r.subscriber_id),
      kind: r.kind,
      event_id: r.event_id === null ? null : Number(r.event_id),
      event_type: r.event_type,
      status: r.status,
      attempts: Number(r.attempts),
      next_attempt_at: r.status === 'pending' ? iso(Number(r.next_attempt_at)) : null,
      last_error: r.last_error,
      created_at: iso(Number(r.created_at)) as string,
      sent_at: iso(r.sent_at === null ? null : Number(r.sent_at)),
    }));
    return { items, next_before: rows.length > q.limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  // ---------------------------------------------------------------------------------------------
  // fan-out: events → deliveries

  /**
   * An event of interest arrived (or the module started): fan out every consumed event after the
   * cursor, in order. Calls while one is waiting to run join it (a burst of events is one pass).
   */
  catchUp(): Promise<void> {
    if (this.queuedCatchUp) return this.queuedCatchUp;
    const run = this.serial(async () => {
      this.queuedCatchUp = null;
      const found: EventRecord[] = [];
      let newest = { id: this.cursor, at: this.cursorAt };
      // the ids grow with time; a few minutes of slack for a clock that stepped back
      const since = Math.max(0, this.cursorAt - 300_000);
      for (const family of ['incident.*', 'maintenance.*', 'service.state']) {
        let before: number | undefined;
        for (;;) {
          const batch = await this.d.events.list({ limit: 200, type: family, before, since });
          let reached = false;
          for (const e of batch) {
            if (e.id <= this.cursor) {
              reached = true;
              break;
            }
            if (e.id > newest.id) newest = { id: e.id, at: Date.parse(e.at) };
            if (CONSUMED.has(e.type)) found.push(e);
          }
          if (reached || batch.length < 200) break;
          before = batch[batch.length - 1]?.id;
        }
      }
      found.sort((a, b) => a.id - b.id);
      for (const e of found) {
        try {
          await this.fanOut(e);
        } catch (err) {
          // the cursor stays before this event: it is tried again with the next event or start
          this.d.logger.error({ err, event: e.id }, `subscriptions: could not fan out ${e.type}`);
          return;
        }
        await this.saveCursor(e.id, Date.parse(e.at));
      }
      if (newest.id > this.cursor) await this.saveCursor(newest.id, newest.at);
      void this.runDue();
    });
    this.queuedCatchUp = run;
    return run;
  }

  private async saveCursor(id: number, at: number): Promise<void> {
    this.cursor = id;
    this.cursorAt = Math.max(this.cursorAt, at);
    await this.db.updateTable('subscription_meta').set({ value: JSON.stringify({ id, at: this.cursorAt }) }).where('name', '=', 'cursor').execute();
  }

  private async fanOut(e: EventRecord): Promise<void> {
    for (const p of this.offered()) {
      const subs = (await this.db.selectFrom('subscribers').selectAll().where('page', '=', p.key).where('state', '=', 'confirmed').execute()) as Row[];
      if (subs.length === 0) continue; // nobody to tell: do not even work out what the page shows
      const n = await this.noticeFor(e, p);
      if (!n) continue;
      const reach = subs.filter((s) => {
        // component updates go to webhooks only (as Statuspage's component_update); mail is for incidents and maintenance
        if (n.kind === 'component' && s.kind !== 'webhook') return false;
        const only = parseList(s.services);
        // a subscriber to some components hears about what touches them; a notice naming no service concerns the whole page
        return only.length === 0 || n.services.length === 0 || n.services.some((x) => only.includes(x));
      });
      if (reach.length === 0) continue;
      for (let i = 0; i < reach.length; i += 200) {
        const now = this.d.now();
        const payload = JSON.stringify(n);
        await this.db
          .insertInto('subscription_deliveries')
          .values(reach.slice(i, i + 200).map((s) => ({ key: `e${e.id}:${s.id}`, subscriber_id: Number(s.id), kind: 'notice', event_id: e.id, event_type: e.type, payload, status: 'pending', attempts: 0, next_attempt_at: now, last_error: null, created_at: now, updated_at: now, sent_at: null })))
          .onConflict((oc) => oc.column('key').doNothing())
          .execute();
      }
      await this.d.events.append({ type: 'subscription.notified', actor: 'system', subject: `status_page:${p.key}`, data: { page: p.key, event: e.id, event_type: e.type, about: `${n.kind}:${n.id}`, status: n.status, emails: reach.filter((s) => s.kind === 'email').length, webhooks: reach.filter((s) => s.kind === 'webhook').length } });
    }
  }

  /** What page `p` tells its subscribers about event `e` (undefined: nothing, e.g. the page does not show it). */
  private async noticeFor(e: EventRecord, p: ResolvedPage): Promise<Notice | undefined> {
    const data = e.data as Record<string, unknown>;
    const pageUrl = this.pageUrl(p);
    const base = { event: { id: e.id, type: e.type, at: e.at }, page: p.key, page_title: p.title, page_url: pageUrl };
    if (e.type.startsWith('incident.')) {
      const id = Number(data.id);
      if (!Number.isInteger(id)) return undefined;
      if (e.type === 'incident.opened' && !this.cfg.notify_on_open) return undefined;
      let status: string;
      let message: string | null = null;
      if (e.type === 'incident.update') {
        status = typeof data.status === 'string' ? data.status : 'investigating';
        message = typeof data.message === 'string' ? data.message : null;
      } else if (e.type === 'incident.resolved') {
        status = 'resolved';
        // posting a "resolved" update resolves the incident first: that update tells subscribers (with its text), not this
        await this.d.incidents().idle();
        const detail = await this.d.incidents().get(id).catch(() => undefined);
        if (detail?.updates.some((u) => u.kind === 'update' && u.status === 'resolved' && Date.parse(u.at) >= Date.parse(e.at))) return undefined;
      } else if (e.type === 'incident.reopened') {
        // subscribers were told it was resolved: they hear it is back (the re-opening's note is internal)
        status = 'investigating';
        message = 'This incident was re-opened: the problem is back and being investigated.';
      } else {
        status = 'investigating';
      }
      const pi = await this.d.statuspage().publicIncident(p.key, id, pageUrl);
      if (!pi) return undefined;
      const services = Array.isArray(data.services) ? (data.services as string[]) : [];
      return { ...base, kind: 'incident', id: String(id), name: pi.incident.name, status, message, services, components: this.componentNames(p, services), link: pi.incident.shortlink, webhook: pi };
    }
    if (e.type === 'service.state') {
      // { service, from, to }: the page's component of that service changed status
      const service = typeof data.service === 'string' ? data.service : '';
      const c = p.components.find((x) => x.service === service);
      if (!c || c.pin) return undefined;
      // a service going to or from `unknown` (no result yet) is not a status change a page shows
      if (!['up', 'degraded', 'down'].includes(String(data.to))) return undefined;
      const to = componentStatusOf(String(data.to));
      const from = componentStatusOf(String(data.from));
      if (to === from) return undefined;
      const st = (await this.d.statuspage().pageStatus(p.key)) ?? { indicator: 'none', description: '' };
      return {
        ...base,
        kind: 'component',
        id: c.id,
        name: c.name,
        status: to,
        message: null,
        services: [service],
        components: [c.name],
        link: pageUrl,
        webhook: {
          page: { id: p.key, status_indicator: st.indicator, status_description: st.description },
          component_update: { id: `${c.id}-${e.id}`, component_id: c.id, created_at: e.at, old_status: from, new_status: to },
          component: { id: c.id, name: c.name, status: to, page_id: p.key, group_id: null, created_at: e.at, updated_at: e.at },
        },
      };
    }
    // maintenance.*: { id, title, message?, services, starts_at, ends_at, status }
    if (data.missed === true) return undefined; // a window that came and went while Shipshape was down: nobody saw it start
    const services = Array.isArray(data.services) ? (data.services as unknown[]).filter((s): s is string => typeof s === 'string') : [];
    const mine = new Set(p.components.map((c) => c.service));
    if (services.length > 0 && !services.some((s) => mine.has(s))) return undefined;
    const status = MAINTENANCE_STATUS[e.type] as string;
    const name = typeof data.title === 'string' ? data.title : 'Maintenance';
    const message = typeof data.message === 'string' && data.message ? data.message : null;
    const startsAt = typeof data.starts_at === 'string' ? data.starts_at : undefined;
    const endsAt = typeof data.ends_at === 'string' ? data.ends_at : undefined;
    const id = String(data.id ?? '');
    const st = (await this.d.statuspage().pageStatus(p.key)) ?? { indicator: 'none', description: '' };
    const comps = p.components.filter((c) => services.length === 0 || services.includes(c.service));
    const incident = {
      id,
      name,
      status,
      created_at: e.at,
      updated_at: e.at,
      monitoring_at: null,
      resolved_at: status === 'completed' ? e.at : null,
      impact: 'maintenance',
      shortlink: pageUrl,
      started_at: startsAt ?? e.at,
      page_id: p.key,
      scheduled_for: startsAt ?? null,
      scheduled_until: endsAt ?? null,
      incident_updates: [{ id: `${id}-${e.id}`, status, body: message ?? '', incident_id: id, created_at: e.at, updated_at: e.at, display_at: e.at, affected_components: null, deliver_notifications: true, custom_tweet: null, tweet_id: null }],
      components: comps.map((c) => ({ id: c.id, name: c.name, page_id: p.key })),
    };
    return { ...base, kind: 'maintenance', id, name, status, message, services, components: this.componentNames(p, services), link: pageUrl, starts_at: startsAt, ends_at: endsAt, webhook: { page: { id: p.key, status_indicator: st.indicator, status_description: st.description }, incident } };
  }

  private async enqueue(key: string, subscriber: number, kind: string, e: EventRecord | null, payload: unknown): Promise<void> {
    const now = this.d.now();
    await this.db
      .insertInto('subscription_deliveries')
      .values({ key, subscriber_id: subscriber, kind, event_id: e?.id ?? null, event_type: e?.type ?? null, payload: JSON.stringify(payload), status: 'pending', attempts: 0, next_attempt_at: now, last_error: null, created_at: now, updated_at: now, sent_at: null })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }

  // ---------------------------------------------------------------------------------------------
  // deliveries

  /**
   * The periodic round: like runDue, but without asking the store when the last round found
   * nothing due before `nextDueAt` (every new delivery is enqueued by this process, which runs a
   * round at once; `maxIdleMs` bounds how long the store goes unasked anyway).
   */
  runDueIfAny(maxIdleMs = 60_000): Promise<void> {
    const now = this.d.now();
    if (now < this.nextDueAt && now - this.lastLook < maxIdleMs) return Promise.resolve();
    this.lastLook = now;
    return this.runDue();
  }

  /** Send every due delivery (a few at a time); resolves when this round is done. */
  runDue(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const rows = await this.db.selectFrom('subscription_deliveries').selectAll().where('status', '=', 'pending').where('next_attempt_at', '<=', this.d.now()).orderBy('id').limit(200).execute();
          for (let i = 0; i < rows.length && !this.stopping; i += CONCURRENCY) {
            await Promise.all(
              rows.slice(i, i + CONCURRENCY).map((r) => {
                const p = this.attempt({ ...r, id: Number(r.id), subscriber_id: Number(r.subscriber_id), attempts: Number(r.attempts), created_at: Number(r.created_at) }).catch((err) => this.d.logger.error({ err, delivery: r.id }, 'subscriptions: delivery bookkeeping failed'));
                this.inFlight.add(p);
                return p.finally(() => this.inFlight.delete(p));
              }),
            );
          }
          if (rows.length === 200) this.again = true;
          if (!this.again) {
            // what is left waits for a retry: the periodic round need not look before then
            const next = await this.db.selectFrom('subscription_deliveries').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('status', '=', 'pending').executeTakeFirst();
            this.nextDueAt = next?.at === null || next?.at === undefined ? Infinity : Number(next.at);
          }
        } while (this.again && !this.stopping);
      } catch (e) {
        this.nextDueAt = 0;
        throw e;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async attempt(r: { id: number; subscriber_id: number; kind: string; event_type: string | null; payload: string; attempts: number; created_at: number }): Promise<void> {
    const sub = (await this.db.selectFrom('subscribers').selectAll().where('id', '=', r.subscriber_id).executeTakeFirst()) as Row | undefined;
    const page = sub ? this.offered().find((p) => p.key === sub.page) : undefined;
    const now = this.d.now();
    if (!sub || !page || (r.kind === 'notice' && sub.state !== 'confirmed')) {
      await this.db.updateTable('subscription_deliveries').set({ status: 'dropped', updated_at: now, last_error: !sub ? 'the subscriber is gone' : !page ? `the status page "${sub.page}" no longer offers subscriptions` : 'not confirmed' }).where('id', '=', r.id).execute();
      return;
    }
    const attempts = r.attempts + 1;
    let error: SendError | undefined;
    try {
      if (sub.kind === 'email') await this.sendEmail(r, sub, page);
      else await this.sendWebhook(r, sub, page);
    } catch (e) {
      error = e instanceof SendError ? e : new SendError(e instanceof Error ? e.message : String(e));
    }
    if (this.stopping && error) return; // stopped mid-send: the row stays pending for the next start
    const at = this.d.now();
    if (!error) {
      await this.db.updateTable('subscription_deliveries').set({ status: 'sent', attempts, sent_at: at, updated_at: at, last_error: null }).where('id', '=', r.id).execute();
      return;
    }
    const giveUp = error.permanent || attempts >= MAX_ATTEMPTS || at - r.created_at >= GIVE_UP_AFTER_MS;
    if (giveUp) {
      await this.db.updateTable('subscription_deliveries').set({ status: 'failed', attempts, updated_at: at, last_error: error.message }).where('id', '=', r.id).execute();
      this.d.logger.error({ delivery: r.id, subscriber: sub.id, attempts }, `subscriptions: delivery failed for good: ${error.message}`);
      await this.d.events.append({ type: 'subscription.delivery_failed', actor: 'system', subject: `subscription:${sub.id}`, data: { delivery: r.id, subscriber: Number(sub.id), page: sub.page, kind: sub.kind, event_type: r.event_type, attempts, error: error.message } });
      return;
    }
    const delay = Math.max(backoff(attempts, this.d.random), error.retryAfterMs ?? 0);
    await this.db.updateTable('subscription_deliveries').set({ attempts, next_attempt_at: at + delay, updated_at: at, last_error: error.message }).where('id', '=', r.id).execute();
    this.d.logger.warn({ delivery: r.id, subscriber: sub.id, attempts, retry_in_ms: delay }, `subscriptions: delivery failed, will retry: ${error.message}`);
  }

  private async sendEmail(r: { kind: string; payload: string; created_at: number }, sub: Row, page: ResolvedPage): Promise<void> {
    const channel = this.cfg.email_channel;
    if (!channel) throw new SendError('subscriptions.email_channel is not set: email subscribers cannot be reached');
    const unsubscribe = this.link(page, sub, 'unsubscribe', 0);
    const scope = this.componentNames(page, parseList(sub.services));
    const pageUrl = this.pageUrl(page);
    let mail;
    if (r.kind === 'confirm') {
      if (sub.state === 'confirmed') return; // confirmed in the meantime (an earlier mail's link)
      const expiresAt = r.created_at + this.cfg.confirm_ttl;
      mail = confirmMail({ to: sub.address, pageTitle: page.title, pageUrl, scope, confirm: this.link(page, sub, 'confirm', expiresAt), unsubscribe, expiresAt });
    } else if (r.kind === 'already') {
      mail = alreadyMail({ to: sub.address, pageTitle: page.title, pageUrl, scope, unsubscribe });
    } else {
      mail = noticeMail(JSON.parse(r.payload) as Notice, sub.address, scope, unsubscribe);
    }
    await this.d.notify().sendMail(channel, mail);
  }

  private async sendWebhook(r: { id: number; event_type: string | null; payload: string }, sub: Row, page: ResolvedPage): Promise<void> {
    const n = JSON.parse(r.payload) as Notice;
    const body = webhookBody(n, this.link(page, sub, 'unsubscribe', 0), this.d.now());
    const label = `webhook ${safeUrl(sub.address)}`;
    let secret: string;
    try {
      secret = sub.secret === null ? '' : this.d.atRest.open(subscriberSecret(Number(sub.id)), sub.secret).value;
    } catch (e) {
      throw new SendError(`${label}: ${(e as Error).message}`);
    }
    const signature = createHmac('sha256', secret).update(body).digest('hex');
    let host = '';
    try {
      host = new URL(sub.address).hostname.replace(/^\[|\]$/g, '');
    } catch {
      throw new SendError(`${label}: invalid URL`, true);
    }
    const denied = egressCheck(host);
    if (denied) throw new SendError(`${label}: ${denied}`, true);
    const timeout = this.cfg.webhook_timeout;
    let res: Awaited<ReturnType<typeof egressFetch>>;
    try {
      res = await egressFetch(sub.address, {
        method: 'POST',
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeout),
        headers: { 'content-type': 'application/json', 'user-agent': 'Shipshape', 'x-shipshape-signature': `sha256=${signature}`, 'x-shipshape-event': n.event.type, 'x-shipshape-delivery': String(r.id) },
      });
      await res.text().catch(() => '');
    } catch (e) {
      const egress = egressDenial(e);
      if (egress) throw new SendError(`${label}: ${egress.message}`, true);
      const err = e as Error & { cause?: Error & { code?: string } };
      const why = err.name === 'TimeoutError' ? `timed out after ${timeout}ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new SendError(`${label}: ${why}`);
    }
    if (res.ok) return;
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new SendError(`${label} answered ${res.status}`, permanent);
  }

  /** Forget unconfirmed addresses whose last confirmation mail expired, and old finished deliveries. */
  async prune(): Promise<void> {
    const now = this.d.now();
    await this.serial(async () => {
      const stale = await this.db
        .selectFrom('subscribers')
        .select('id')
        .where('state', '=', 'pending')
        .where((eb) => eb.or([eb('last_mail_at', '<', now - this.cfg.confirm_ttl), eb.and([eb('last_mail_at', 'is', null), eb('created_at', '<', now - this.cfg.confirm_ttl)])]))
        .limit(5000)
        .execute();
      for (const s of stale) await this.drop(Number(s.id));
      await this.db.deleteFrom('subscription_deliveries').where('status', '!=', 'pending').where('updated_at', '<', now - 30 * 86_400_000).execute();
    });
  }

  /** Wait until every fan-out asked for so far is done and nothing is being sent. */
  async idle(): Promise<void> {
    await this.work.idle();
    while (this.running || this.inFlight.size) {
      await this.running;
      await Promise.all([...this.inFlight]);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.work.idle();
    await this.running;
  }
}

const gone = () => new LinkError(410, 'This link is no longer valid', 'The subscription it was for has been removed (unsubscribed, or not confirmed in time). Subscribe again on the status page.');
