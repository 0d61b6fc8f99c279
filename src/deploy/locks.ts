/**
 * Deploy locks, one per service and environment, in the store (so they hold across processes and
 * restarts): owner, reason, expiry. A running deploy renews its lock; one that died stops renewing
 * and its lock expires. The primary key makes taking a lock atomic on SQLite and PostgreSQL alike.
 */
import { formatDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import type { Store } from '../core/store/db.js';
import type { DeployLocksTable, DeployTables } from './migrations.js';
import type { DeployLock } from './types.js';

export function lockJson(r: DeployLocksTable): DeployLock {
  return {
    service: r.service,
    env: r.env,
    owner: r.owner,
    reason: r.reason,
    release_id: r.release_id === null ? null : Number(r.release_id),
    acquired_at: new Date(Number(r.acquired_at)).toISOString(),
    expires_at: new Date(Number(r.expires_at)).toISOString(),
  };
}

export function lockedMessage(l: DeployLocksTable, now: number): string {
  return `${l.service}/${l.env} is locked by ${l.owner}: ${l.reason} (since ${new Date(Number(l.acquired_at)).toISOString()}, expires in ${formatDuration(Math.max(0, Number(l.expires_at) - now))})`;
}

export class Locks {
  constructor(
    private readonly store: Store<DeployTables>,
    private readonly now: () => number,
  ) {}

  async get(service: string, env: string): Promise<DeployLocksTable | undefined> {
    const row = await this.store.db.selectFrom('deploy_locks').selectAll().where('service', '=', service).where('env', '=', env).executeTakeFirst();
    if (row && Number(row.expires_at) <= this.now()) return undefined;
    return row;
  }

  /** Take the lock or fail with a conflict naming who holds it and why. */
  async acquire(l: { service: string; env: string; owner: string; reason: string; ttlMs: number; releaseId?: number | null }): Promise<DeployLocksTable> {
    const now = this.now();
    const row: DeployLocksTable = { service: l.service, env: l.env, owner: l.owner, reason: l.reason, release_id: l.releaseId ?? null, acquired_at: now, expires_at: now + l.ttlMs };
    // an expired lock is as good as none
    await this.store.db.deleteFrom('deploy_locks').where('service', '=', l.service).where('env', '=', l.env).where('expires_at', '<=', now).execute();
    try {
      await this.store.db.insertInto('deploy_locks').values(row).execute();
      return row;
    } catch (e) {
      const held = await this.get(l.service, l.env);
      if (held) throw new ServiceError('conflict', lockedMessage(held, now));
      throw e;
    }
  }

  /** Keep a running deploy's lock (heartbeat). */
  async renew(held: DeployLocksTable, ttlMs: number): Promise<void> {
    await this.store.db.updateTable('deploy_locks').set({ expires_at: this.now() + ttlMs }).where('service', '=', held.service).where('env', '=', held.env).where('owner', '=', held.owner).where('acquired_at', '=', held.acquired_at).execute();
  }

  async setRelease(service: string, env: string, releaseId: number): Promise<void> {
    await this.store.db.updateTable('deploy_locks').set({ release_id: releaseId }).where('service', '=', service).where('env', '=', env).execute();
  }

  /** Give back a lock this process took (not one taken since by someone else). */
  async release(held: DeployLocksTable): Promise<void> {
    await this.store.db.deleteFrom('deploy_locks').where('service', '=', held.service).where('env', '=', held.env).where('owner', '=', held.owner).where('acquired_at', '=', held.acquired_at).execute();
  }

  async remove(service: string, env: string): Promise<DeployLocksTable | undefined> {
    const row = await this.get(service, env);
    await this.store.db.deleteFrom('deploy_locks').where('service', '=', service).where('env', '=', env).execute();
    return row;
  }

  async removeForReleases(ids: number[]): Promise<void> {
    if (ids.length) await this.store.db.deleteFrom('deploy_locks').where('release_id', 'in', ids).execute();
  }
}
