/**
 * Is the store writable? When a write fails because the disk (or the database) is full, whoever
 * saw it reports it here: Shipshape's own health turns degraded and names the cause, an event
 * records it, and a small probe write every few seconds notices when space is back, after which
 * health recovers by itself and a second event says how long it lasted.
 */
import type { Logger } from 'pino';
import { storageFullCause } from './errors.js';
import type { EventLog } from './events.js';
import type { Store } from './store/db.js';

export interface StorageState {
  full: boolean;
  cause?: string;
  since?: string;
}

export class StorageHealth {
  private full: { cause: string; since: number; eventWritten: boolean } | undefined;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly store: Store,
    private readonly events: EventLog,
    private readonly logger: Logger,
    private readonly opts: { probeMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Tell it about a failed write; true when the failure was a full disk (it is then handled). */
  report(err: unknown): boolean {
    const cause = storageFullCause(err);
    if (!cause) return false;
    if (this.full) return true;
    this.full = { cause, since: this.now(), eventWritten: false };
    this.logger.error({ cause }, `storage full (${cause}): Shipshape cannot store what it receives; free space in the data directory or database, it recovers by itself`);
    void this.writeFullEvent();
    this.probe = setInterval(() => void this.tryRecover(), this.opts.probeMs ?? 5000);
    this.probe.unref();
    return true;
  }

  state(): StorageState {
    return this.full ? { full: true, cause: this.full.cause, since: new Date(this.full.since).toISOString() } : { full: false };
  }

  private async writeFullEvent(): Promise<void> {
    const f = this.full;
    if (!f || f.eventWritten) return;
    try {
      await this.events.append({ type: 'shipshape.storage_full', actor: 'system', subject: 'shipshape', data: { cause: f.cause, since: new Date(f.since).toISOString() } });
      f.eventWritten = true;
    } catch {
      /* the disk is full: written once space is back */
    }
  }

  /** A tiny write: when it goes through, space is back. */
  private async tryRecover(): Promise<void> {
    const f = this.full;
    if (!f || this.probing) return;
    this.probing = true;
    try {
      const value = String(this.now());
      await this.store.db
        .insertInto('meta')
        .values({ key: 'storage_probe', value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
    } catch (e) {
      if (!storageFullCause(e)) this.logger.warn({ err: e }, 'storage probe failed');
      return;
    } finally {
      this.probing = false;
    }
    clearInterval(this.probe);
    this.probe = undefined;
    const until = this.now();
    await this.writeFullEvent();
    this.full = undefined;
    this.logger.info({ cause: f.cause, down_s: Math.round((until - f.since) / 1000) }, 'storage writable again');
    await this.events
      .append({ type: 'shipshape.storage_recovered', actor: 'system', subject: 'shipshape', data: { cause: f.cause, since: new Date(f.since).toISOString(), until: new Date(until).toISOString() } })
      .catch(() => undefined);
  }

  stop(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }
}
