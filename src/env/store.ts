/**
 * The encrypted env store: values per service and environment, every version kept encrypted
 * (crypto.ts), the current one listed masked; rotation tracked against each variable's policy;
 * snapshots that pin the exact (name, version) set a release was made with. Every change is an
 * event (`env.set`, `env.unset`, `env.rotated`, `env.rotation_overdue`) naming its actor, the
 * service, environment, name and version — never the value.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config/load.js';
import { ServiceError } from '../core/errors.js';
import type { EventLog, NewEvent } from '../core/events.js';
import { Serial } from '../core/serial.js';
import type { Store } from '../core/store/db.js';
import { checkValues, envSchemaOf } from './check.js';
import type { EnvRaw } from './config.js';
import { decryptValue, describeSlot, encryptValue, keyId, masked, maskOf, masterKey, noKey, previousKey, rewrap, wrongKey, type Slot } from './crypto.js';
import type { EnvTables, EnvVarsTable } from './migrations.js';
import type { EnvKeyStatus, EnvSetResult, EnvSnapshot, EnvSnapshotRef, EnvVarView } from './types.js';

export const VAR_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,199}$/;
export const ENV_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;
/** the largest value the store takes (a PEM bundle fits) */
export const MAX_VALUE = 64 * 1024;
export const MAX_VARS = 200;
const DAY = 86_400_000;

const PUBLIC_PREFIX = /^(NEXT_PUBLIC_|NUXT_PUBLIC_|EXPO_PUBLIC_|REACT_APP_|GATSBY_|PUBLIC_|VITE_)/;
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY($|_)|(^|_)DSN$)/i;

/** A variable treated as a secret when the config does not say: by its name, and never one the framework makes public. */
export function secretByName(name: string): boolean {
  return !PUBLIC_PREFIX.test(name) && SECRET_NAME.test(name);
}

export interface MetricSampleLike {
  service: string;
  name: string;
  labels: Record<string, string>;
  type: 'gauge' | 'counter';
  value: number;
  at: number;
}

export interface EnvStoreDeps {
  store: Store<EnvTables>;
  events: EventLog;
  logger: Logger;
  now(): number;
  config(): Config<EnvRaw>;
  /** where metrics go (telemetry's sink); optional in tests */
  metrics?(samples: MetricSampleLike[]): void;
  /** the environment SHIPSHAPE_SECRET_KEY is read from (default process.env, read at each use) */
  env?: NodeJS.ProcessEnv;
}

export class EnvStore {
  private readonly serial = new Serial();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: EnvStoreDeps) {}

  // ── keys ─────────────────────────────────────────────────────────────

  /** The master key, checked against the store's: refuses (before touching anything) when unset or different. */
  private async key(what: string): Promise<Buffer> {
    const key = masterKey(this.d.env ?? process.env);
    if (!key) throw noKey(what);
    const stored = await this.storeKeyId();
    if (stored && stored !== keyId(key)) throw wrongKey(stored, keyId(key));
    return key;
  }

  private async storeKeyId(): Promise<string | null> {
    const row = await this.d.store.db.selectFrom('env_keys').select('key_id').orderBy('created_at', 'asc').executeTakeFirst();
    return row?.key_id ?? null;
  }

  async keyStatus(): Promise<EnvKeyStatus> {
    const stored = await this.storeKeyId();
    let key: Buffer | undefined;
    try {
      key = masterKey(this.d.env ?? process.env);
    } catch (e) {
      return { configured: false, store_key_id: stored, matches: false, problem: (e as Error).message };
    }
    if (!key) return { configured: false, store_key_id: stored, matches: false, problem: noKey('the env store').message };
    const matches = !stored || stored === keyId(key);
    return { configured: true, store_key_id: stored, matches, problem: matches ? null : wrongKey(stored ?? '', keyId(key)).message };
  }

  /**
   * Move the store to a new master key: when SHIPSHAPE_SECRET_KEY_PREVIOUS is the key the store
   * is encrypted with and SHIPSHAPE_SECRET_KEY another one, re-wrap every data key (the values'
   * ciphertexts stay as they are) in one transaction and record `env.rekeyed`. Runs at start;
   * returns how many values were re-wrapped (0 when there was nothing to do).
   */
  rekey(actor = 'system'): Promise<number> {
    return this.serial.run(async () => {
      const env = this.d.env ?? process.env;
      const prev = previousKey(env);
      const next = masterKey(env);
      if (!prev || !next) return 0;
      const stored = await this.storeKeyId();
      const from = keyId(prev);
      const to = keyId(next);
      if (stored === null || stored === to || from === to) return 0;
      if (stored !== from) throw new ServiceError('conflict', `SHIPSHAPE_SECRET_KEY_PREVIOUS (key id ${from}) is not the key this store was encrypted with either (key id ${stored}): nothing was changed`);
      const now = this.d.now();
      let count = 0;
      await this.d.store.db.transaction().execute(async (trx) => {
        const rows = await trx.selectFrom('env_values').select(['service', 'env', 'name', 'version', 'ciphertext', 'data_key', 'key_id']).execute();
        for (const r of rows) {
          const slot: Slot = { service: r.service, env: r.env, name: r.name, version: Number(r.version) };
          const sealed = rewrap(prev, next, slot, r);
          await trx.updateTable('env_values').set({ data_key: sealed.data_key, key_id: sealed.key_id }).where('service', '=', r.service).where('env', '=', r.env).where('name', '=', r.name).where('version', '=', slot.version).execute();
          count++;
        }
        await trx.deleteFrom('env_keys').execute();
        await trx.insertInto('env_keys').values({ key_id: to, created_at: now }).execute();
      });
      await this.d.events.append({ type: 'env.rekeyed', actor, subject: 'env:store', data: { from_key_id: from, to_key_id: to, values: count } });
      this.d.logger.info({ from, to, values: count }, 'env: the store was moved to the new SHIPSHAPE_SECRET_KEY; SHIPSHAPE_SECRET_KEY_PREVIOUS can be removed');
      return count;
    });
  }

  // ── validation ───────────────────────────────────────────────────────

  private checkTarget(service: string, env: string): void {
    if (!Object.hasOwn(this.d.config().raw.services, service)) throw new ServiceError('not_found', `no service "${service.slice(0, 100)}" in ${this.d.config().file}`);
    if (!ENV_NAME_RE.test(env)) throw new ServiceError('invalid', `"${env.slice(0, 100)}" is not an environment name: expected lower-case letters, digits, "-" or "_" like production or staging`);
  }

  private checkName(name: string): void {
    if (!VAR_NAME_RE.test(name)) throw new ServiceError('invalid', `"${name.slice(0, 100)}" is not an environment variable name: expected letters, digits and "_", not starting with a digit`);
  }

  /**
   * The rotation policy (ms) of a variable: its own `rotate`, else the service's `rotate` when
   * it is a secret (`secret: true`, or a name like *_SECRET*, *_KEY, *TOKEN*, *PASSWORD*).
   */
  policyOf(service: string, name: string): number | null {
    const e = this.d.config().raw.services[service]?.env;
    const v = e?.vars[name];
    if (v?.rotate !== undefined) return v.rotate;
    return (v?.secret ?? secretByName(name)) ? (e?.rotate ?? null) : null;
  }

  // ── reads (no key needed) ────────────────────────────────────────────

  private view(r: EnvVarsTable, now: number): EnvVarView {
    const policy = this.policyOf(r.service, r.name);
    const due = policy === null ? null : Number(r.rotated_at) + policy;
    const overdue = due !== null && now > due;
    return {
      service: r.service,
      env: r.env,
      name: r.name,
      masked: masked(r.hint, Number(r.length)),
      version: Number(r.version),
      updated_at: new Date(Number(r.updated_at)).toISOString(),
      updated_by: r.updated_by,
      rotated_at: new Date(Number(r.rotated_at)).toISOString(),
      rotated_by: r.rotated_by,
      rotate_every_ms: policy,
      rotation_due_at: due === null ? null : new Date(due).toISOString(),
      overdue,
      overdue_by_ms: overdue ? now - (due as number) : null,
      age_days: Math.floor((now - Number(r.rotated_at)) / DAY),
    };
  }

  /** Variables, masked, by service, environment and name. */
  async list(filter: { service?: string; env?: string } = {}): Promise<EnvVarView[]> {
    if (filter.service !== undefined && !Object.hasOwn(this.d.config().raw.services, filter.service)) throw new ServiceError('not_found', `no service "${filter.service.slice(0, 100)}" in ${this.d.config().file}`);
    let q = this.d.store.db.selectFrom('env_vars').selectAll();
    if (filter.service !== undefined) q = q.where('service', '=', filter.service);
    if (filter.env !== undefined) q = q.where('env', '=', filter.env);
    const rows = await q.orderBy('service').orderBy('env').orderBy('name').execute();
    const now = this.d.now();
    return rows.map((r) => this.view(r, now));
  }

  /** The configured services, by name (the dashboard lists them even before anything is stored). */
  serviceNames(): string[] {
    return Object.keys(this.d.config().raw.services).sort();
  }

  /** Variables past their rotation policy, most overdue first. */
  async overdue(filter: { service?: string; env?: string } = {}): Promise<EnvVarView[]> {
    return (await this.list(filter)).filter((v) => v.overdue).sort((a, b) => (b.overdue_by_ms ?? 0) - (a.overdue_by_ms ?? 0));
  }

  // ── changes ──────────────────────────────────────────────────────────

  /**
   * Check values against the service's env schema (`env.example` and `env.vars`: format, prefix,
   * a Stripe test key in production, a secret behind a public prefix) for this environment. The
   * errors, which name the variable and never its value; empty when the service has no schema.
   */
  schemaErrors(service: string, env: string, vars: Record<string, string>): string[] {
    const cfg = this.d.config();
    const e = cfg.raw.services[service]?.env;
    let example: { text: string; file: string } | undefined;
    if (e?.example) {
      const file = resolve(dirname(cfg.file), e.example);
      try {
        example = { text: readFileSync(file, 'utf8'), file };
      } catch {
        // an unreadable example is `env check`'s finding; the config's own rules still apply
      }
    }
    const { schema } = envSchemaOf({ example, vars: e?.vars ?? {} });
    const report = checkValues(vars, schema, env, { unknown: false });
    return report.findings.filter((f) => f.severity === 'error' && f.name !== undefined && Object.hasOwn(vars, f.name)).map((f) => f.message);
  }

  /**
   * Set one or more variables; a value equal to the current one is left as it is. Values the
   * service's env schema rejects are refused (all of them, nothing stored) unless `force`.
   */
  set(service: string, env: string, vars: Record<string, string>, actor: string, opts: { force?: boolean } = {}): Promise<EnvSetResult[]> {
    this.checkTarget(service, env);
    const names = Object.keys(vars);
    if (names.length === 0) throw new ServiceError('invalid', 'nothing to set: give at least one NAME=value');
    if (names.length > MAX_VARS) throw new ServiceError('invalid', `at most ${MAX_VARS} variables at once`);
    for (const n of names) {
      this.checkName(n);
      const v = vars[n] as string;
      if (typeof v !== 'string') throw new ServiceError('invalid', `the value of ${n} must be a string`);
      if (Buffer.byteLength(v, 'utf8') > MAX_VALUE) throw new ServiceError('invalid', `the value of ${n} is larger than ${MAX_VALUE / 1024} KB`);
      if (v.includes('\0')) throw new ServiceError('invalid', `the value of ${n} contains a NUL character, which no environment variable can hold`);
    }
    if (!opts.force) {
      const errors = this.schemaErrors(service, env, vars);
      if (errors.length) throw new ServiceError('invalid', `refused by the env schema of ${service} for ${env} (nothing was stored; force to store anyway): ${errors.join('; ')}`);
    }
    return this.serial.run(async () => {
      const key = await this.key('setting a variable');
      const now = this.d.now();
      const results: EnvSetResult[] = [];
      const events: { name: string; version: number; rotated: boolean }[] = [];
      await this.d.store.db.transaction().execute(async (trx) => {
        const kid = keyId(key);
        if (!(await trx.selectFrom('env_keys').select('key_id').executeTakeFirst())) await trx.insertInto('env_keys').values({ key_id: kid, created_at: now }).execute();
        for (const name of names.sort()) {
          const value = vars[name] as string;
          const cur = await trx.selectFrom('env_vars').selectAll().where('service', '=', service).where('env', '=', env).where('name', '=', name).executeTakeFirst();
          if (cur) {
            const slot: Slot = { service, env, name, version: Number(cur.version) };
            const sealed = await trx.selectFrom('env_values').select(['ciphertext', 'data_key', 'key_id']).where('service', '=', service).where('env', '=', env).where('name', '=', name).where('version', '=', slot.version).executeTakeFirstOrThrow();
            let same = false;
            try {
              same = decryptValue(key, slot, sealed) === value;
            } catch {
              // a current value that fails its integrity check is replaced by the new one
            }
            if (same) {
              results.push({ service, env, name, version: slot.version, changed: false });
              continue;
            }
          }
          const last = await trx.selectFrom('env_values').select((eb) => eb.fn.max('version').as('v')).where('service', '=', service).where('env', '=', env).where('name', '=', name).executeTakeFirst();
          const version = Number(last?.v ?? 0) + 1;
          const sealed = encryptValue(key, { service, env, name, version }, value);
          await trx.insertInto('env_values').values({ service, env, name, version, ...sealed, created_at: now, created_by: actor }).execute();
          const { hint, length } = maskOf(value);
          const row = { version, hint, length, updated_at: now, updated_by: actor, rotated_at: now, rotated_by: actor, overdue_notified_for: null };
          if (cur) await trx.updateTable('env_vars').set(row).where('service', '=', service).where('env', '=', env).where('name', '=', name).execute();
          else await trx.insertInto('env_vars').values({ service, env, name, ...row }).execute();
          results.push({ service, env, name, version, changed: true });
          events.push({ name, version, rotated: cur !== undefined });
        }
      });
      for (const e of events) await this.d.events.append({ type: 'env.set', actor, subject: `service:${service}`, data: { service, env, name: e.name, version: e.version, rotated: e.rotated } });
      if (events.length) this.pushMetrics();
      return results;
    });
  }

  /** Remove a variable from the environment (its old versions stay, encrypted, for the snapshots that name them). */
  unset(service: string, env: string, name: string, actor: string): Promise<{ service: string; env: string; name: string; version: number }> {
    this.checkTarget(service, env);
    this.checkName(name);
    return this.serial.run(async () => {
      const cur = await this.current(service, env, name);
      await this.d.store.db.deleteFrom('env_vars').where('service', '=', service).where('env', '=', env).where('name', '=', name).execute();
      const version = Number(cur.version);
      await this.d.events.append({ type: 'env.unset', actor, subject: `service:${service}`, data: { service, env, name, version } });
      // a removed secret is not overdue any more: say so once, so an alert on it resolves
      if (this.d.metrics && this.policyOf(service, name) !== null) this.d.metrics([{ service, name: 'shipshape_secret_rotation_overdue', labels: { env, name }, type: 'gauge', value: 0, at: this.d.now() }]);
      this.pushMetrics();
      return { service, env, name, version };
    });
  }

  /** Record that a secret was rotated where it lives (the value here unchanged, e.g. rotated upstream and re-set elsewhere). */
  markRotated(service: string, env: string, name: string, actor: string): Promise<EnvVarView> {
    this.checkTarget(service, env);
    this.checkName(name);
    return this.serial.run(async () => {
      const cur = await this.current(service, env, name);
      const now = this.d.now();
      await this.d.store.db.updateTable('env_vars').set({ rotated_at: now, rotated_by: actor, overdue_notified_for: null }).where('service', '=', service).where('env', '=', env).where('name', '=', name).execute();
      await this.d.events.append({ type: 'env.rotated', actor, subject: `service:${service}`, data: { service, env, name, version: Number(cur.version) } });
      this.pushMetrics();
      return this.view({ ...cur, rotated_at: now, rotated_by: actor, overdue_notified_for: null }, now);
    });
  }

  private async current(service: string, env: string, name: string): Promise<EnvVarsTable> {
    const cur = await this.d.store.db.selectFrom('env_vars').selectAll().where('service', '=', service).where('env', '=', env).where('name', '=', name).executeTakeFirst();
    if (!cur) throw new ServiceError('not_found', `${name} is not set for ${service}/${env}`);
    return cur;
  }

  // ── values (key needed) ──────────────────────────────────────────────

  private async decryptVersions(key: Buffer, service: string, env: string, vars: { name: string; version: number }[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    if (vars.length === 0) return out;
    const rows = await this.d.store.db
      .selectFrom('env_values')
      .select(['name', 'version', 'ciphertext', 'data_key', 'key_id'])
      .where('service', '=', service)
      .where('env', '=', env)
      .where('name', 'in', vars.map((v) => v.name))
      .execute();
    for (const v of vars) {
      const row = rows.find((r) => r.name === v.name && Number(r.version) === v.version);
      if (!row) throw new ServiceError('not_found', `the stored value of ${describeSlot({ service, env, ...v })} is missing from the store`);
      out[v.name] = decryptValue(key, { service, env, name: v.name, version: v.version }, row);
    }
    return out;
  }

  /** Every current value of an environment, decrypted. */
  async pull(service: string, env: string): Promise<Record<string, string>> {
    this.checkTarget(service, env);
    const key = await this.key('pulling values');
    const cur = await this.d.store.db.selectFrom('env_vars').select(['name', 'version']).where('service', '=', service).where('env', '=', env).orderBy('name').execute();
    return this.decryptVersions(
      key,
      service,
      env,
      cur.map((c) => ({ name: c.name, version: Number(c.version) })),
    );
  }

  /** Every current value of an environment with its version, decrypted (what `env push` sends). */
  async pullVersions(service: string, env: string): Promise<{ name: string; version: number; value: string }[]> {
    this.checkTarget(service, env);
    const key = await this.key('pushing values');
    const cur = (await this.d.store.db.selectFrom('env_vars').select(['name', 'version']).where('service', '=', service).where('env', '=', env).orderBy('name').execute()).map((c) => ({ name: c.name, version: Number(c.version) }));
    const values = await this.decryptVersions(key, service, env, cur);
    return cur.map((c) => ({ ...c, value: values[c.name] as string }));
  }

  /** The store version of each variable `env push` last sent to a platform for service/env. */
  async pushedVersions(service: string, env: string, platform: string): Promise<Map<string, number>> {
    const rows = await this.d.store.db.selectFrom('env_pushes').select(['name', 'version']).where('service', '=', service).where('env', '=', env).where('platform', '=', platform).execute();
    return new Map(rows.map((r) => [r.name, Number(r.version)]));
  }

  /** Remember that `name` at `version` is now on the platform (version null: it was removed from it). */
  async recordPushed(service: string, env: string, platform: string, name: string, version: number | null, actor: string): Promise<void> {
    const db = this.d.store.db;
    await db.deleteFrom('env_pushes').where('service', '=', service).where('env', '=', env).where('platform', '=', platform).where('name', '=', name).execute();
    if (version !== null) await db.insertInto('env_pushes').values({ service, env, platform, name, version, pushed_at: this.d.now(), pushed_by: actor }).execute();
  }

  /** Append an event (the push writes `env.pushed`). */
  appendEvent(e: NewEvent): Promise<unknown> {
    return this.d.events.append(e);
  }

  /** The config file (platform CLIs run next to it) and the service's env config. */
  configOf(service: string): { file: string; env: EnvRaw['services'][string]['env'] } {
    const cfg = this.d.config();
    return { file: cfg.file, env: cfg.raw.services[service]?.env };
  }

  /** Refuse an unknown service or a malformed environment name (ServiceError). */
  target(service: string, env: string): void {
    this.checkTarget(service, env);
  }

  /** One current value, decrypted. */
  async reveal(service: string, env: string, name: string): Promise<string> {
    this.checkTarget(service, env);
    this.checkName(name);
    const key = await this.key('revealing a value');
    const cur = await this.current(service, env, name);
    return (await this.decryptVersions(key, service, env, [{ name, version: Number(cur.version) }]))[name] as string;
  }

  // ── snapshots ────────────────────────────────────────────────────────

  /**
   * Pin the current variables of an environment for a release: the same (name, version) set
   * always gives the same id, recorded once. Returns the values too (the release starts with them).
   */
  async snapshot(service: string, env: string): Promise<EnvSnapshot> {
    this.checkTarget(service, env);
    const cur = await this.d.store.db.selectFrom('env_vars').select(['name', 'version']).where('service', '=', service).where('env', '=', env).orderBy('name').execute();
    const vars = cur.map((c) => ({ name: c.name, version: Number(c.version) })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // an environment with nothing stored needs no key: a service that does not use the store deploys without one
    const values = vars.length === 0 ? {} : await this.decryptVersions(await this.key('a release snapshot of the env store'), service, env, vars);
    const pairs = vars.map((v) => [v.name, v.version] as const);
    const id = createHash('sha256').update(JSON.stringify([service, env, pairs])).digest('hex').slice(0, 24);
    await this.d.store.db
      .insertInto('env_snapshots')
      .values({ id, service, env, vars: JSON.stringify(pairs), created_at: this.d.now() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return { id, names: vars.map((v) => v.name), values };
  }

  /** Which names and versions a snapshot pinned. */
  async snapshotRef(id: string): Promise<EnvSnapshotRef> {
    const row = /^[0-9a-f]{24}$/.test(id) ? await this.d.store.db.selectFrom('env_snapshots').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
    if (!row) throw new ServiceError('not_found', `no env snapshot "${id.slice(0, 100)}"`);
    const pairs = JSON.parse(row.vars) as [string, number][];
    return { id: row.id, service: row.service, env: row.env, vars: pairs.map(([name, version]) => ({ name, version })), created_at: new Date(Number(row.created_at)).toISOString() };
  }

  /** The values a snapshot pinned, decrypted from their versions (what a rollback to that release starts with). */
  async snapshotValues(id: string): Promise<Record<string, string>> {
    const ref = await this.snapshotRef(id);
    if (ref.vars.length === 0) return {};
    return this.decryptVersions(await this.key('the values of an env snapshot'), ref.service, ref.env, ref.vars);
  }

  // ── rotation: the timer ──────────────────────────────────────────────

  /**
   * Write `env.rotation_overdue` once for each variable that went past its policy since it was
   * last rotated (remembered in the store, so a restart does not repeat it), then push the
   * rotation metrics. The timer calls this every minute.
   */
  tick(): Promise<void> {
    return this.serial.run(async () => {
      const now = this.d.now();
      const rows = await this.d.store.db.selectFrom('env_vars').selectAll().execute();
      for (const r of rows) {
        if (!Object.hasOwn(this.d.config().raw.services, r.service)) continue;
        const v = this.view(r, now);
        if (!v.overdue || (r.overdue_notified_for !== null && Number(r.overdue_notified_for) === Number(r.rotated_at))) continue;
        const done = await this.d.store.db
          .updateTable('env_vars')
          .set({ overdue_notified_for: r.rotated_at })
          .where('service', '=', r.service)
          .where('env', '=', r.env)
          .where('name', '=', r.name)
          .where('rotated_at', '=', r.rotated_at)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) === 0) continue;
        await this.d.events.append({
          type: 'env.rotation_overdue',
          actor: 'schedule',
          subject: `service:${r.service}`,
          data: { service: r.service, env: r.env, name: r.name, version: v.version, rotated_at: v.rotated_at, due_at: v.rotation_due_at, rotate_every_ms: v.rotate_every_ms },
        });
      }
      await this.pushMetricsNow(rows, now);
    });
  }

  private pushMetrics(): void {
    if (!this.d.metrics) return;
    void this.d.store.db
      .selectFrom('env_vars')
      .selectAll()
      .execute()
      .then((rows) => this.pushMetricsNow(rows, this.d.now()))
      .catch((e: unknown) => this.d.logger.warn({ err: (e as Error).message }, 'env: pushing rotation metrics failed'));
  }

  /** `shipshape_secret_rotation_overdue` (1/0, for variables with a policy) and `shipshape_secret_age_days`, labels { env, name }, per service. */
  private async pushMetricsNow(rows: EnvVarsTable[], now: number): Promise<void> {
    if (!this.d.metrics) return;
    const samples: MetricSampleLike[] = [];
    const services = this.d.config().raw.services;
    for (const r of rows) {
      if (!Object.hasOwn(services, r.service)) continue;
      const v = this.view(r, now);
      const labels = { env: r.env, name: r.name };
      samples.push({ service: r.service, name: 'shipshape_secret_age_days', labels, type: 'gauge', value: (now - Number(r.rotated_at)) / DAY, at: now });
      if (v.rotate_every_ms !== null) samples.push({ service: r.service, name: 'shipshape_secret_rotation_overdue', labels, type: 'gauge', value: v.overdue ? 1 : 0, at: now });
    }
    if (samples.length) this.d.metrics(samples);
  }

  async start(everyMs = 60_000): Promise<void> {
    try {
      await this.rekey();
    } catch (e) {
      // the store keeps its key; reads and writes say what is wrong
      this.d.logger.error({ err: (e as Error).message }, 'env: moving the store to the new key failed');
    }
    const run = () =>
      this.tick().catch((e: unknown) => {
        this.d.logger.warn({ err: (e as Error).message }, 'env: rotation check failed');
      });
    void run();
    this.timer = setInterval(run, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.serial.idle();
  }
}
