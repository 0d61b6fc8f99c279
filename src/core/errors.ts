/**
 * Errors a module's service raises without knowing about HTTP; the server turns them into
 * problem+json (not_found 404, invalid 400, conflict 409, busy 429 with Retry-After), the CLI into
 * a message and exit code 1.
 */
export type ServiceErrorKind = 'not_found' | 'invalid' | 'conflict' | 'busy';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    /** for busy: when to try again, seconds */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * The storage-full condition behind an error, if any: SQLite's SQLITE_FULL, the OS's ENOSPC (or
 * EDQUOT), PostgreSQL's disk_full (SQLSTATE 53100). Wrapped errors are followed through `cause`
 * (and AggregateError's `errors`), since a failed rollback or a driver may hide the original.
 * Returns a short name for logs and responses, e.g. `SQLITE_FULL`.
 */
export function storageFullCause(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length && seen.size < 20) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown };
    const c = typeof code === 'string' ? code : typeof code === 'number' ? String(code) : '';
    if (c === 'SQLITE_FULL' || c.startsWith('SQLITE_FULL_')) return 'SQLITE_FULL';
    if (c === 'ENOSPC' || c === 'EDQUOT') return c;
    if (c === '53100') return 'PostgreSQL 53100 (disk_full)';
    // drivers that re-throw with the message only
    if (!c && /\bdatabase or disk is full\b/i.test(String((e as Error).message))) return 'SQLITE_FULL';
    if (!c && /\bno space left on device\b/i.test(String((e as Error).message))) return 'ENOSPC';
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  return undefined;
}
