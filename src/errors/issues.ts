/**
 * Issues: events grouped by fingerprint, with counts, first/last seen, releases, a status that a
 * person changes (unresolved, resolved, ignored) and regressions when a resolved issue comes back
 * in a newer release. The latest events of each issue are kept with their stack traces.
 *
 * Writes go through one queue, so concurrent events of the same issue neither race on its row nor
 * lose a status change made at the same moment.
 */
import { sql } from 'kysely';
import type { ModuleContext } from '../core/module.js';
import type { ErrorsRaw } from './config.js';
import { ServiceError } from '../core/errors.js';
import { projectServices } from './config.js';
import { normalizeEvent, type StoredEvent } from './event.js';
import { groupEvent, issueCulprit, issueTitle, issueType, type GroupingMethod } from './grouping.js';
import type { ErrorEventsTable, ErrorIssuesTable, ErrorsTables } from './migrations.js';
import { regresses } from './releases.js';
import { ErrorStats, STATS_HORIZON } from './stats.js';
import type { IssueDetail, IssueEvent, IssueStatus, IssueSummary } from './types.js';

type IssueRow = Omit<ErrorIssuesTable, 'id'> & { id: number };
type EventRow = Omit<ErrorEventsTable, 'id'> & { id: number };

export interface IngestResult {
  event_id: string;
  issue_id: number;
  created: boolean;
  regressed: boolean;
  /** the same event id was received a moment ago (an SDK retry): not counted again */
  duplicate: boolean;
}

export interface ListOptions {
  /** only these projects (a service's) */
  projects?: number[];
  status?: IssueStatus;
  limit: number;
  /** from the previous page: the last item's last_seen and id */
  after?: { last_seen: number; id: number };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const RECENT_IDS = 10_000;

export class Issues {
  readonly stats: ErrorStats;
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private readonly recent = new Map<string, number>();

  constructor(private readonly ctx: ModuleContext<ErrorsTables, ErrorsRaw>) {
    this.stats = new ErrorStats(() => ctx.now());
  }

  private get db() {
    return this.ctx.store.db;
  }

  serviceOf(project: number): string | null {
    return projectServices(this.ctx.config()).get(project) ?? null;
  }

  /** The projects a service claims; undefined when the service is not in the config. */
  projectsOf(service: string): number[] | undefined {
    if (!(service in this.ctx.config().raw.services)) return undefined;
    return [...projectServices(this.ctx.config())].filter(([, s]) => s === service).map(([p]) => p);
  }

  /** Run writes one at a time (see the file comment). */
  private serial<T>(fn: () => Promise<T>, bounded: boolean): Promise<T> {
    if (bounded && this.pending >= this.ctx.config().raw.errors.max_pending) {
      return Promise.reject(new ServiceError('busy', 'too many error events are waiting to be stored; retry shortly', 5));
    }
    this.pending++;
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run.finally(() => this.pending--);
  }

  /** Store one Sentry event payload (parsed JSON) of a project. */
  ingest(project: number, payload: Record<string, unknown>): Promise<IngestResult> {
    const receivedAt = this.ctx.now();
    const ev = normalizeEvent(payload, receivedAt);
    return this.serial(() => this.store(project, ev, receivedAt), true);
  }

  private async store(project: number, ev: StoredEvent, receivedAt: number): Promise<IngestResult> {
    const key = `${project}:${ev.event_id}`;
    const seen = this.recent.get(key);
    if (seen !== undefined) return { event_id: ev.event_id, issue_id: seen, created: false, regressed: false, duplicate: true };

    const g = groupEvent(ev);
    const title = issueTitle(ev);
    const culprit = issueCulprit(ev);
    const release = ev.release ?? null;
    const keep = this.ctx.config().raw.errors.events_per_issue;
    let created = false;
    let regressed = false;
    let resolvedRelease: string | null = null;

    const issue = await this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('error_issues').selectAll().where('project', '=', project).where('hash', '=', g.hash).executeTakeFirst();
      let row: IssueRow;
      if (!existing) {
        created = true;
        const values = {
          project,
          hash: g.hash,
          grouping: g.method,
          components: JSON.stringify(g.components),
          title,
          culprit,
          type: issueType(ev),
          level: ev.level,
          status: 'unresolved',
          first_seen: receivedAt,
          last_seen: receivedAt,
          count: 1,
          first_release: release,
          last_release: release,
          resolved_at: null,
          resolved_release: null,
          status_changed_at: receivedAt,
        };
        const { id } = await trx.insertInto('error_issues').values(values).returning('id').executeTakeFirstOrThrow();
        row = { ...values, id: Number(id) };
      } else {
        let status = existing.status;
        if (status === 'resolved' && regresses(release, existing.resolved_release)) {
          status = 'unresolved';
          regressed = true;
          resolvedRelease = existing.resolved_release;
        }
        const changes = {
          title,
          culprit,
          type: issueType(ev),
          level: ev.level,
          last_seen: Math.max(Number(existing.last_seen), receivedAt),
          last_release: release ?? existing.last_release,
          first_release: existing.first_release ?? release,
          status,
          status_changed_at: regressed ? receivedAt : Number(existing.status_changed_at),
        };
        await trx
          .updateTable('error_issues')
          .set({ ...changes, count: sql<number>`count + 1` })
          .where('id', '=', existing.id)
          .execute();
        row = { ...existing, ...changes, id: Number(existing.id), count: Number(existing.count) + 1 };
      }
      await trx
        .insertInto('error_events')
        .values({ issue_id: row.id, project, event_id: ev.event_id, received_at: receivedAt, release, environment: ev.environment ?? null, level: ev.level, data: JSON.stringify(ev) })
        .execute();
      // keep the latest `events_per_issue` events of the issue
      const edge = await trx.selectFrom('error_events').select('id').where('issue_id', '=', row.id).orderBy('id', 'desc').limit(1).offset(keep).executeTakeFirst();
      if (edge) await trx.deleteFrom('error_events').where('issue_id', '=', row.id).where('id', '<=', edge.id).execute();
      return row;
    });

    this.recent.set(key, issue.id);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.keys().next().value as string);
    this.stats.record(project, issue.id, receivedAt, created);

    const service = this.serviceOf(project);
    const subject = `issue:${issue.id}`;
    if (created) {
      await this.ctx.events.append({ type: 'issue.created', actor: 'ingest', subject, data: { issue_id: issue.id, service, project, title, culprit, level: ev.level, release, environment: ev.environment ?? null } });
    } else if (regressed) {
      await this.ctx.events.append({ type: 'issue.regressed', actor: 'ingest', subject, data: { issue_id: issue.id, service, project, title, release, resolved_in_release: resolvedRelease, count: issue.count } });
    }
    this.ctx.events.notify({
      type: 'issue.event',
      data: { issue_id: issue.id, event_id: ev.event_id, service, project, title, level: ev.level, status: issue.status, count: issue.count, release, environment: ev.environment ?? null, at: new Date(receivedAt).toISOString(), created, regressed },
    });
    return { event_id: ev.event_id, issue_id: issue.id, created, regressed, duplicate: false };
  }

  /** Change an issue's status by a person or token; undefined when there is no such issue. */
  setStatus(id: number, status: IssueStatus, actor: string): Promise<IssueSummary | undefined> {
    return this.serial(async () => {
      const row = await this.db.selectFrom('error_issues').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      if (row.status === status) return this.summary(row);
      const now = this.ctx.now();
      const changes =
        status === 'resolved'
          ? { status, status_changed_at: now, resolved_at: now, resolved_release: row.last_release }
          : { status, status_changed_at: now };
      await this.db.updateTable('error_issues').set(changes).where('id', '=', id).execute();
      const next = { ...row, ...changes };
      await this.ctx.events.append({
        type: `issue.${status}`,
        actor,
        subject: `issue:${id}`,
        data: { issue_id: Number(id), service: this.serviceOf(Number(row.project)), project: Number(row.project), title: row.title, from: row.status, to: status, ...(status === 'resolved' ? { resolved_in_release: row.last_release } : {}) },
      });
      return this.summary(next);
    }, false);
  }

  summary(r: Omit<IssueRow, 'id'> & { id: number | bigint }): IssueSummary {
    return {
      id: Number(r.id),
      service: this.serviceOf(Number(r.project)),
      project: Number(r.project),
      title: r.title,
      culprit: r.culprit,
      type: r.type,
      level: r.level,
      status: r.status as IssueStatus,
      first_seen: iso(Number(r.first_seen)) as string,
      last_seen: iso(Number(r.last_seen)) as string,
      count: Number(r.count),
      first_release: r.first_release,
      last_release: r.last_release,
      resolved_at: iso(r.resolved_at === null ? null : Number(r.resolved_at)),
      resolved_in_release: r.resolved_release,
      grouping: r.grouping as GroupingMethod,
    };
  }

  /** Newest last_seen first. */
  async list(opts: ListOptions): Promise<IssueSummary[]> {
    if (opts.projects && opts.projects.length === 0) return [];
    let q = this.db.selectFrom('error_issues').selectAll().orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(opts.limit);
    if (opts.projects) q = q.where('project', 'in', opts.projects);
    if (opts.status) q = q.where('status', '=', opts.status);
    const after = opts.after;
    if (after) q = q.where((eb) => eb.or([eb('last_seen', '<', after.last_seen), eb.and([eb('last_seen', '=', after.last_seen), eb('id', '<', after.id)])]));
    const rows = await q.execute();
    return rows.map((r) => this.summary(r));
  }

  async get(id: number): Promise<IssueDetail | undefined> {
    const row = await this.db.selectFrom('error_issues').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const latest = await this.db.selectFrom('error_events').selectAll().where('issue_id', '=', id).orderBy('id', 'desc').limit(1).executeTakeFirst();
    return { ...this.summary(row), grouping_components: JSON.parse(row.components) as string[], latest_event: latest ? toEvent(latest) : null };
  }

  /** The kept events of an issue, newest first; `before` is the previous page's last cursor. */
  async events(id: number, limit: number, before?: number): Promise<{ items: (IssueEvent & { cursor: number })[] } | undefined> {
    const exists = await this.db.selectFrom('error_issues').select('id').where('id', '=', id).executeTakeFirst();
    if (!exists) return undefined;
    let q = this.db.selectFrom('error_events').selectAll().where('issue_id', '=', id).orderBy('id', 'desc').limit(limit);
    if (before !== undefined) q = q.where('id', '<', before);
    const rows = await q.execute();
    return { items: rows.map((r) => ({ ...toEvent(r), cursor: Number(r.id) })) };
  }

  /** Rebuild the in-memory counts from the events kept in the store. */
  async load(): Promise<void> {
    const since = this.ctx.now() - STATS_HORIZON;
    const fresh = new Set(
      (await this.db.selectFrom('error_issues').select('id').where('first_seen', '>=', since).execute()).map((r) => Number(r.id)),
    );
    const rows = await this.db.selectFrom('error_events').select(['project', 'issue_id', 'received_at']).where('received_at', '>=', since).orderBy('id').execute();
    for (const r of rows) {
      const issue = Number(r.issue_id);
      const isNew = fresh.delete(issue);
      this.stats.record(Number(r.project), issue, Number(r.received_at), isNew);
    }
  }

  /** Resolve when the queue is empty (graceful stop). */
  async drain(): Promise<void> {
    while (this.pending > 0) await this.chain;
  }
}

function toEvent(r: EventRow | (Omit<EventRow, 'id'> & { id: number | bigint })): IssueEvent {
  const ev = JSON.parse(r.data) as StoredEvent;
  return {
    id: ev.event_id,
    received_at: iso(Number(r.received_at)) as string,
    timestamp: ev.timestamp,
    level: ev.level,
    platform: ev.platform ?? null,
    message: ev.message ?? null,
    exceptions: ev.exceptions,
    tags: ev.tags,
    release: ev.release ?? null,
    environment: ev.environment ?? null,
    transaction: ev.transaction ?? null,
    server_name: ev.server_name ?? null,
    user: ev.user ?? null,
    request: ev.request ?? null,
    contexts: ev.contexts ?? null,
    extra: ev.extra ?? null,
    breadcrumbs: ev.breadcrumbs,
    fingerprint: ev.fingerprint ?? null,
    sdk: ev.sdk ?? null,
  };
}
