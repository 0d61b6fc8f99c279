/**
 * The alert state machine: rules are evaluated on a clock (inactive → pending → firing →
 * resolved), alerts pushed from outside are deduplicated by fingerprint and expire at `endsAt`.
 * Every transition is written to the alerts table first and then to the event log, so a restart
 * picks up firing alerts where they were without firing them again.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import { renderTemplate } from '../core/config/template.js';
import { formatDuration } from '../core/config/units.js';
import type { EventLog } from '../core/events.js';
import type { CoreTables, Store } from '../core/store/db.js';
import type { EventRecord } from '../core/api-types.js';
import type { AlertsTables } from './migrations.js';
import type { TelemetryQuery } from '../telemetry/index.js';
import type { AlertRuleConfig } from './config.js';
import type { BackupSignalReader } from '../db/index.js';
import { evaluateRule, type CheckReader, type OverdueItemsReader, type RuleEvaluation } from './evaluate.js';
import { parseRule, type ParsedRule } from './expr.js';
import { fingerprint } from './fingerprint.js';
import { LEVEL_LABEL, pushedFingerprint, pushedLabels } from './levels.js';
import { ALERT_CANCELLED_EVENT, type AlertInstance, type AlertRuleStatus, type AlertState } from './types.js';
import type { AlertsTable } from './migrations.js';

export interface CompiledRule {
  cfg: AlertRuleConfig;
  parsed: ParsedRule;
  labels: Record<string, string>;
  fingerprint: string;
}

/** Inside the engine: one alert instance with its bookkeeping. */
interface Inst {
  id: number;
  fingerprint: string;
  source: string;
  rule: string | null;
  state: AlertState;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  value: number | null;
  valueText: string;
  threshold: number | null;
  thresholdText: string | null;
  samples: number | null;
  expression: string | null;
  activeAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  endsAt: number | null;
  clearedAt: number | null;
  generatorUrl: string | null;
  updatedAt: number;
}

/** An alert pushed from outside, already validated (see routes.ts). */
export interface InboundAlert {
  /** labels as sent: listed as pushedLabels() makes them, fingerprinted as pushedFingerprint() (unless `key` is given) */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** resolve this alert now (Alertmanager `status: resolved`, PagerDuty `resolve`) */
  resolved?: boolean;
  startsAt?: number;
  /** resolve at this instant unless re-sent; null: never expires by itself */
  endsAt: number | null;
  generatorUrl?: string;
  /** identity other than the labels (PagerDuty's dedup_key) */
  key?: Record<string, string>;
  /** PagerDuty `acknowledge` */
  acknowledge?: boolean;
}

export interface EngineOptions {
  store: Store<AlertsTables>;
  events: EventLog;
  telemetry: TelemetryQuery;
  checks: CheckReader;
  now: () => number;
  logger?: Logger;
  /** services known to the config, and the service a heartbeat token belongs to (for labels) */
  heartbeatService?: (token: string) => string | undefined;
  /** services' backups, for absent(backup.<service>) */
  backups?: BackupSignalReader;
  /** post-mortem action items, for overdue_action_items() */
  overdueItems?: OverdueItemsReader;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function compileRule(cfg: AlertRuleConfig, heartbeatService?: (token: string) => string | undefined): CompiledRule {
  const parsed = parseRule(cfg.when);
  let service = parsed.services[0];
  const c = parsed.condition;
  if (!service && c.k === 'absent' && c.target.kind === 'heartbeat') service = heartbeatService?.(c.target.token);
  const labels: Record<string, string> = { ...cfg.labels };
  if (service && labels.service === undefined) labels.service = service;
  labels.alertname = cfg.name;
  labels.severity = cfg.severity;
  return { cfg, parsed, labels, fingerprint: fingerprint(labels) };
}

export class AlertEngine {
  private rules = new Map<string, CompiledRule>();
  /** active (pending or firing) rule instances by rule name */
  private readonly byRule = new Map<string, Inst>();
  /** active pushed alerts by fingerprint */
  private readonly external = new Map<string, Inst>();
  private readonly status = new Map<string, { ev: RuleEvaluation | null; at: number | null }>();
  private chain: Promise<unknown> = Promise.resolve();
  private loaded = false;
  /** the batch being received: its transaction and the events to publish after the commit */
  private batch: { db: Kysely<AlertsTables>; events: EventRecord[] } | null = null;

  constructor(private readonly opts: EngineOptions) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Load the active alerts from the store (once, before anything else). */
  load(): Promise<void> {
    return this.exclusive(async () => {
      if (this.loaded) return;
      await this.readActive(false);
      this.loaded = true;
    });
  }

  /** Read the active alerts (only the pushed ones with `pushedOnly`) from the store into memory. */
  private async readActive(pushedOnly: boolean): Promise<void> {
    let q = this.opts.store.db.selectFrom('alerts').selectAll().where('state', 'in', ['pending', 'firing']);
    if (pushedOnly) q = q.where('rule', 'is', null);
    for (const r of await q.orderBy('id').execute()) {
      const inst = rowToInst(r);
      if (inst.rule !== null) this.byRule.set(inst.rule, inst);
      else {
        // releases before 0.6 listed pushed alerts with `severity` rewritten (see upgradePushed)
        if (!(LEVEL_LABEL in inst.labels)) {
          const labels = upgradePushed(inst.labels, inst.fingerprint);
          // PagerDuty alerts are keyed by their dedup key, the rest by their labels
          const fp = inst.source === 'pagerduty' ? inst.fingerprint : pushedFingerprint(labels);
          if (fp !== inst.fingerprint || JSON.stringify(labels) !== JSON.stringify(inst.labels)) {
            await this.opts.store.db.updateTable('alerts').set({ fingerprint: fp, labels: JSON.stringify(labels) }).where('id', '=', r.id).execute();
            inst.fingerprint = fp;
            inst.labels = labels;
          }
        }
        this.external.set(inst.fingerprint, inst);
      }
    }
  }

  /** Take a new rule set (start, hot reload). Alerts of rules that are gone are resolved. */
  setRules(cfgs: AlertRuleConfig[]): Promise<void> {
    return this.exclusive(async () => {
      const next = new Map<string, CompiledRule>();
      for (const cfg of cfgs) {
        try {
          next.set(cfg.name, compileRule(cfg, this.opts.heartbeatService));
        } catch (e) {
          // config validation parses rules first; this only guards against a rule built in code
          this.opts.logger?.error({ err: e, rule: cfg.name }, 'alert rule does not parse; skipped');
        }
      }
      this.rules = next;
      for (const name of [...this.status.keys()]) if (!next.has(name)) this.status.delete(name);
      const now = this.opts.now();
      for (const [name, inst] of [...this.byRule]) {
        const rule = next.get(name);
        if (!rule) {
          inst.annotations = { ...inst.annotations, resolved_reason: 'the rule was removed from the config' };
          await this.end(inst, now, now, `rule:${name}`);
          continue;
        }
        if (rule.fingerprint !== inst.fingerprint) {
          // labels or severity changed in the config: the instance carries the new ones from now on
          inst.labels = rule.labels;
          inst.fingerprint = rule.fingerprint;
          await this.save(inst, now);
        }
      }
    });
  }

  /** One evaluation cycle: every rule once, and pushed alerts past their endsAt resolved. */
  evaluate(): Promise<void> {
    return this.exclusive(async () => {
      const now = this.opts.now();
      for (const rule of this.rules.values()) {
        try {
          await this.evaluateOne(rule, now);
        } catch (e) {
          this.opts.logger?.error({ err: e, rule: rule.cfg.name }, 'alert rule evaluation failed');
          this.status.set(rule.cfg.name, { ev: { value: null, valueText: 'error', threshold: null, thresholdText: '', samples: null, met: false, reason: `evaluation failed: ${(e as Error).message}`, error: (e as Error).message }, at: now });
        }
      }
      for (const inst of [...this.external.values()]) {
        if (inst.endsAt !== null && inst.endsAt <= now) await this.end(inst, inst.endsAt, now, inst.source);
      }
    });
  }

  private async evaluateOne(rule: CompiledRule, now: number): Promise<void> {
    const name = rule.cfg.name;
    const ev = await evaluateRule(rule.parsed, { telemetry: this.opts.telemetry, checks: this.opts.checks, now, minSamples: rule.cfg.min_samples, ...(this.opts.backups ? { backups: this.opts.backups } : {}), ...(this.opts.overdueItems ? { overdueItems: this.opts.overdueItems } : {}) });
    this.status.set(name, { ev, at: now });
    const inst = this.byRule.get(name);
    const actor = `rule:${name}`;
    // absent(x) for D: the `for` is the silence length (already judged), not a pending time
    const forMs = rule.parsed.condition.k === 'absent' ? 0 : rule.parsed.forMs;
    if (ev.error) return; // an unknown check or heartbeat: nothing changes until the config is fixed
    if (!inst) {
      if (!ev.met) return;
      const fresh: Inst = {
        id: 0,
        fingerprint: rule.fingerprint,
        source: actor,
        rule: name,
        state: forMs > 0 ? 'pending' : 'firing',
        labels: rule.labels,
        annotations: {},
        ...this.values(rule, ev),
        activeAt: now,
        firedAt: forMs > 0 ? null : now,
        resolvedAt: null,
        endsAt: null,
        clearedAt: null,
        generatorUrl: null,
        updatedAt: now,
      };
      fresh.annotations = this.annotate(rule, fresh, ev);
      await this.insert(fresh);
      this.byRule.set(name, fresh);
      await this.emit(fresh.state === 'pending' ? 'alert.pending' : 'alert.firing', fresh, actor);
      return;
    }
    if (inst.state === 'pending') {
      if (ev.met) {
        Object.assign(inst, this.values(rule, ev));
        if (now - inst.activeAt >= forMs) {
          inst.state = 'firing';
          inst.firedAt = now;
          inst.annotations = this.annotate(rule, inst, ev);
          await this.save(inst, now);
          await this.emit('alert.firing', inst, actor);
        }
        return;
      }
      Object.assign(inst, this.values(rule, ev));
      inst.annotations = { ...this.annotate(rule, inst, ev), resolved_reason: `cleared before ${formatDuration(forMs)}: ${ev.reason}` };
      await this.end(inst, now, now, actor);
      return;
    }
    // firing
    if (ev.met) {
      Object.assign(inst, this.values(rule, ev));
      if (inst.clearedAt !== null) {
        inst.clearedAt = null;
        await this.save(inst, now);
      }
      return;
    }
    const keep = rule.cfg.keep_firing_for;
    if (keep > 0) {
      if (inst.clearedAt === null) {
        inst.clearedAt = now;
        await this.save(inst, now);
      }
      if (now - inst.clearedAt < keep) return;
    }
    Object.assign(inst, this.values(rule, ev));
    inst.annotations = this.annotate(rule, inst, ev);
    await this.end(inst, now, now, actor);
  }

  private values(rule: CompiledRule, ev: RuleEvaluation) {
    return { value: ev.value, valueText: ev.valueText, threshold: ev.threshold, thresholdText: ev.thresholdText, samples: ev.samples, expression: rule.cfg.when };
  }

  private annotate(rule: CompiledRule, inst: Inst, ev: RuleEvaluation): Record<string, string> {
    const view = {
      service: inst.labels.service ?? '',
      value: ev.valueText,
      threshold: ev.thresholdText,
      labels: inst.labels,
      alertname: rule.cfg.name,
      severity: rule.cfg.severity,
      expression: rule.cfg.when,
      samples: ev.samples ?? '',
      reason: ev.reason,
    };
    const out: Record<string, string> = {};
    out.summary = rule.cfg.summary ? renderTemplate(rule.cfg.summary, view) : `${rule.cfg.name}: ${ev.reason}`;
    if (rule.cfg.description) out.description = renderTemplate(rule.cfg.description, view);
    if (rule.cfg.runbook_url) out.runbook_url = rule.cfg.runbook_url;
    out.reason = ev.reason;
    return out;
  }

  /** Resolve (a firing alert) or cancel (a pending one). */
  private async end(inst: Inst, resolvedAt: number, now: number, actor: string): Promise<void> {
    const wasFiring = inst.state === 'firing';
    inst.state = 'resolved';
    inst.resolvedAt = resolvedAt;
    inst.clearedAt = null;
    await this.save(inst, now);
    if (inst.rule !== null) this.byRule.delete(inst.rule);
    else this.external.delete(inst.fingerprint);
    await this.emit(wasFiring ? 'alert.resolved' : ALERT_CANCELLED_EVENT, inst, actor);
  }

  private row(inst: Inst, now: number) {
    return {
      fingerprint: inst.fingerprint,
      source: inst.source,
      rule: inst.rule,
      state: inst.state,
      labels: JSON.stringify(inst.labels),
      annotations: JSON.stringify(inst.annotations),
      value: inst.value !== null && Number.isFinite(inst.value) ? inst.value : null,
      value_text: inst.valueText,
      threshold: inst.threshold,
      threshold_text: inst.thresholdText,
      samples: inst.samples,
      expression: inst.expression,
      active_at: inst.activeAt,
      fired_at: inst.firedAt,
      resolved_at: inst.resolvedAt,
      ends_at: inst.endsAt,
      cleared_at: inst.clearedAt,
      generator_url: inst.generatorUrl,
      updated_at: now,
    };
  }

  /** the store, or the transaction of the batch being received */
  private get db(): Kysely<AlertsTables> {
    return this.batch?.db ?? this.opts.store.db;
  }

  private async insert(inst: Inst): Promise<void> {
    const r = await this.db.insertInto('alerts').values(this.row(inst, inst.updatedAt)).returning('id').executeTakeFirstOrThrow();
    inst.id = Number(r.id);
  }

  private async save(inst: Inst, now: number): Promise<void> {
    inst.updatedAt = now;
    await this.db.updateTable('alerts').set(this.row(inst, now)).where('id', '=', inst.id).execute();
  }

  private async emit(type: string, inst: Inst, actor: string): Promise<void> {
    // a rule's `incident:` setting rides along so the incidents module can open or join one
    const incident = inst.rule !== null ? this.rules.get(inst.rule)?.cfg.incident : undefined;
    const data = { ...toInstance(inst), ...(incident ? { incident } : {}) };
    const e = { type, actor, subject: `alert:${inst.labels.alertname ?? inst.fingerprint}`, data: data as unknown as Record<string, unknown> };
    if (this.batch) this.batch.events.push(await this.opts.events.insert(e, this.batch.db as unknown as Kysely<CoreTables>));
    else await this.opts.events.append(e);
  }

  /**
   * Run `fn` as one transaction (a push of many alerts is one commit, not two per alert); its
   * events are published after the commit. When it fails nothing of it is stored, and the pushed
   * alerts held in memory are read back from the store.
   */
  private async inBatch<T>(fn: () => Promise<T>): Promise<T> {
    const events: EventRecord[] = [];
    try {
      const out = await this.opts.store.db.transaction().execute(async (tx) => {
        this.batch = { db: tx, events };
        try {
          return await fn();
        } finally {
          this.batch = null;
        }
      });
      this.opts.events.publish(...events);
      return out;
    } catch (e) {
      this.external.clear();
      await this.readActive(true);
      throw e;
    }
  }

  /** Alerts pushed from outside (Prometheus, Alertmanager, Grafana, PagerDuty). */
  receive(alerts: InboundAlert[], source: string): Promise<AlertInstance[]> {
    return this.exclusive(() => this.inBatch(async () => {
      const now = this.opts.now();
      const out: AlertInstance[] = [];
      for (const a of alerts) {
        const labels = pushedLabels(a.labels);
        const fp = a.key ? fingerprint(a.key) : pushedFingerprint(labels);
        let inst = this.external.get(fp);
        const expired = a.endsAt !== null && a.endsAt <= now;
        if (a.resolved || expired) {
          if (inst) {
            inst.annotations = { ...inst.annotations, ...a.annotations };
            await this.end(inst, a.endsAt !== null && a.endsAt <= now ? a.endsAt : now, now, source);
            out.push(toInstance(inst));
          }
          continue;
        }
        if (inst) {
          // a re-send: extend it, take the newest annotations; no new event
          inst.endsAt = a.endsAt;
          if (Object.keys(a.labels).length > 0) inst.labels = labels;
          inst.annotations = { ...inst.annotations, ...a.annotations };
          if (a.generatorUrl) inst.generatorUrl = a.generatorUrl;
          if (a.acknowledge && !inst.annotations.acknowledged_at) {
            inst.annotations.acknowledged_at = new Date(now).toISOString();
            await this.save(inst, now);
            await this.emit('alert.acknowledged', inst, source);
          } else await this.save(inst, now);
          out.push(toInstance(inst));
          continue;
        }
        if (a.acknowledge) continue; // acknowledging something never triggered: nothing to do
        inst = {
          id: 0,
          fingerprint: fp,
          source,
          rule: null,
          state: 'firing',
          labels,
          annotations: a.annotations,
          value: null,
          valueText: '',
          threshold: null,
          thresholdText: null,
          samples: null,
          expression: null,
          activeAt: a.startsAt !== undefined && a.startsAt <= now ? a.startsAt : now,
          firedAt: now,
          resolvedAt: null,
          endsAt: a.endsAt,
          clearedAt: null,
          generatorUrl: a.generatorUrl ?? null,
          updatedAt: now,
        };
        await this.insert(inst);
        this.external.set(fp, inst);
        await this.emit('alert.firing', inst, source);
        out.push(toInstance(inst));
      }
      return out;
    }));
  }

  /** Current and recent alerts, newest first. */
  async list(q: { state?: AlertState; limit: number; before?: number; source?: string }): Promise<{ items: AlertInstance[]; nextBefore: number | null }> {
    let query = this.opts.store.db.selectFrom('alerts').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
    if (q.state) query = query.where('state', '=', q.state);
    if (q.before !== undefined) query = query.where('id', '<', q.before);
    if (q.source) query = query.where('source', '=', q.source);
    const rows = await query.execute();
    const live = new Map<number, Inst>();
    for (const i of [...this.byRule.values(), ...this.external.values()]) live.set(i.id, i);
    const items = rows.slice(0, q.limit).map((r) => {
      const l = live.get(Number(r.id));
      return toInstance(l ?? rowToInst(r));
    });
    const last = items[items.length - 1];
    return { items, nextBefore: rows.length > q.limit && last?.id !== undefined ? last.id : null };
  }

  /** Active instances (firing and pending), for tests and in-process readers. */
  active(): AlertInstance[] {
    return [...this.byRule.values(), ...this.external.values()].map(toInstance);
  }

  rulesStatus(): AlertRuleStatus[] {
    return [...this.rules.values()].map((rule) => {
      const s = this.status.get(rule.cfg.name);
      const inst = this.byRule.get(rule.cfg.name);
      const ev = s?.ev ?? null;
      return {
        name: rule.cfg.name,
        when: rule.cfg.when,
        severity: rule.cfg.severity,
        labels: rule.labels,
        state: inst?.state ?? 'inactive',
        value: ev?.value ?? null,
        valueText: ev?.valueText ?? 'not evaluated yet',
        threshold: ev?.threshold ?? null,
        thresholdText: ev?.thresholdText ?? '',
        samples: ev?.samples ?? null,
        conditionMet: ev?.met ?? false,
        reason: ev?.reason ?? 'not evaluated yet',
        lastEvaluation: iso(s?.at ?? null),
        activeAt: iso(inst?.activeAt ?? null),
        firedAt: iso(inst?.firedAt ?? null),
      };
    });
  }

  /** Wait for what is in flight (graceful stop). */
  async idle(): Promise<void> {
    await this.chain;
  }
}

/**
 * A pushed alert as releases before 0.6 stored it (`severity` rewritten to P0–P3, the sender's
 * value as `source_severity`, empty values and an invented `alertname: unnamed` listed), listed as
 * now. Its stored fingerprint, computed from the labels as sent, is kept.
 */
function upgradePushed(labels: Record<string, string>, fp: string): Record<string, string> {
  const l = { ...labels };
  if (l.source_severity !== undefined) {
    l.severity = l.source_severity;
    delete l.source_severity;
  }
  let out = pushedLabels(l);
  if (out.alertname === 'unnamed' && pushedFingerprint(out) !== fp) {
    const { alertname: _invented, ...rest } = out;
    if (pushedFingerprint(rest) === fp) out = rest;
  }
  return out;
}

function toInstance(i: Inst): AlertInstance {
  return {
    id: i.id,
    fingerprint: i.fingerprint,
    labels: i.labels,
    annotations: i.annotations,
    state: i.state,
    value: i.value,
    valueText: i.valueText,
    activeAt: new Date(i.activeAt).toISOString(),
    firedAt: iso(i.firedAt),
    resolvedAt: iso(i.resolvedAt),
    source: i.source,
    ...(i.generatorUrl ? { generatorUrl: i.generatorUrl } : {}),
    ...(i.expression !== null ? { expression: i.expression, threshold: i.threshold, thresholdText: i.thresholdText ?? '', samples: i.samples } : {}),
    endsAt: iso(i.endsAt),
  };
}

/** An alert row as the engine holds it in memory. */
function rowToInst(r: Selectable<AlertsTable>): Inst {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: Number(r.id),
    fingerprint: r.fingerprint,
    source: r.source,
    rule: r.rule,
    state: r.state as AlertState,
    labels: JSON.parse(r.labels) as Record<string, string>,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    value: r.value,
    valueText: r.value_text,
    threshold: r.threshold,
    thresholdText: r.threshold_text,
    samples: n(r.samples),
    expression: r.expression,
    activeAt: Number(r.active_at),
    firedAt: n(r.fired_at),
    resolvedAt: n(r.resolved_at),
    endsAt: n(r.ends_at),
    clearedAt: n(r.cleared_at),
    generatorUrl: r.generator_url,
    updatedAt: Number(r.updated_at),
  };
}
