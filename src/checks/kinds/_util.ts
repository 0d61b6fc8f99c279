/**
 * Helpers shared by the check kinds: one deadline per run (the check's timeout and Shipshape's
 * own stop signal), turning socket/TLS/DNS errors into short human text, and keeping passwords
 * out of anything a user sees.
 */
import { isIP } from 'node:net';
import { formatDuration } from '../../core/config/units.js';
import { egressDenial } from '../../core/egress.js';
import { compileCondition } from '../conditions.js';
import type { Observation, RunContext } from '../types.js';

/** A run's deadline: aborts at `timeoutMs` or when the scheduler's signal aborts, whichever comes first. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** resolves (never rejects) when the deadline passes; use in Promise.race so a stuck library can't hold a run. */
  readonly aborted: Promise<void>;
  /** the error text for an aborted run: `timed out after 5s` (or `cancelled` when Shipshape is stopping). */
  reason(): string;
  /** clears the timer and the listener; call in `finally`. */
  dispose(): void;
}

export function deadline(ctx: RunContext, timeoutMs: number): Deadline {
  const timeout = timeoutMs > 0 ? timeoutMs : ctx.timeoutMs;
  // ctx.signal aborts at ctx.timeoutMs (see RunContext): with the same timeout, it is the deadline
  // as it is, and a run needs no controller or timer of its own
  if (timeout === ctx.timeoutMs) return parentDeadline(ctx, timeout);
  const controller = new AbortController();
  let byTimer = false;
  let resolveAborted!: () => void;
  const aborted = new Promise<void>((resolve) => (resolveAborted = resolve));
  const onAbort = (): void => {
    controller.abort(ctx.signal.reason);
  };
  controller.signal.addEventListener('abort', () => resolveAborted(), { once: true });
  const timer = setTimeout(() => {
    byTimer = true;
    controller.abort(new DOMException(`timed out after ${formatDuration(timeout)}`, 'TimeoutError'));
  }, timeout);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    aborted,
    reason: () => reasonText(ctx, byTimer, timeout),
    dispose() {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    },
  };
}

function parentDeadline(ctx: RunContext, timeout: number): Deadline {
  const signal = ctx.signal;
  let onAbort: (() => void) | undefined;
  const aborted = signal.aborted
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
      });
  return {
    signal,
    aborted,
    reason: () => reasonText(ctx, false, timeout),
    dispose() {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    },
  };
}

/** The error text of an aborted run: `timed out after 5s`, or why the scheduler's signal aborted (Shipshape stopping). */
function reasonText(ctx: RunContext, byTimer: boolean, timeout: number): string {
  const r: unknown = ctx.signal.reason;
  const parentTimeout = ctx.signal.aborted && r instanceof Error && r.name === 'TimeoutError';
  // the scheduler aborts for the check's timeout (reason TimeoutError, or a plain abort at the deadline)
  if (byTimer || parentTimeout || !ctx.signal.aborted) return `timed out after ${formatDuration(timeout)}`;
  if (typeof r === 'string' && r) return r;
  if (r instanceof Error && r.name !== 'AbortError' && r.message) return r.message;
  return `timed out after ${formatDuration(timeout)}`;
}

/** Milliseconds since `start` from a monotonic clock. */
export function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 100) / 100;
}

export function failed(start: number, error: string, values: Record<string, unknown> = {}): Observation {
  return { ok: false, latencyMs: elapsed(start), error, values };
}

/** `host:port`, bracketing IPv6 addresses. */
export function hostPort(host: string, port: number | string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** Human text for the verify codes OpenSSL reports (`socket.authorizationError`). */
export function tlsCodeText(code: string): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'certificate is not yet valid';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'self-signed certificate';
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'self-signed certificate in certificate chain';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'certificate is not signed by a trusted authority (incomplete chain or unknown CA)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return 'certificate does not match the host name';
    case 'CERT_REVOKED':
      return 'certificate has been revoked';
    default:
      return code.toLowerCase().replace(/_/g, ' ');
  }
}

interface ErrnoLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  hostname?: unknown;
  errors?: unknown;
}

/** The innermost error carrying a system/TLS code (undici and pg wrap socket errors). */
function rootError(err: unknown): ErrnoLike {
  let cur = err as ErrnoLike;
  for (let i = 0; i < 5 && cur; i++) {
    if (typeof cur.code === 'string' && !String(cur.code).startsWith('UND_ERR')) return cur;
    // AggregateError from happy-eyeballs / multiple addresses
    if (Array.isArray(cur.errors) && cur.errors.length > 0) {
      cur = cur.errors[0] as ErrnoLike;
      continue;
    }
    if (!cur.cause) break;
    cur = cur.cause as ErrnoLike;
  }
  return cur ?? (err as ErrnoLike);
}

/**
 * Short human text for a network error while reaching `host:port`:
 * `connection refused (127.0.0.1:6379)`, `DNS lookup failed for nope.invalid (ENOTFOUND)`,
 * `TLS error: certificate has expired`.
 */
export function networkErrorText(err: unknown, host: string, port?: number | string): string {
  const denied = egressDenial(err);
  if (denied) return denied.message; // `egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)`
  const e = rootError(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const where = port === undefined || port === '' ? host : hostPort(host, port);
  const message = typeof e.message === 'string' ? e.message : String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (${where})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
      return `DNS lookup failed for ${host} (${code})`;
    case 'ECONNRESET':
      return `connection reset by ${where}`;
    case 'EPIPE':
      return `connection closed by ${where}`;
    case 'EHOSTUNREACH':
      return `host unreachable (${where})`;
    case 'ENETUNREACH':
      return `network unreachable (${where})`;
    case 'ETIMEDOUT':
      return `connection timed out (${where})`;
    case 'EADDRNOTAVAIL':
      return `address not available (${where})`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS error: ${/wrong version number/i.test(message) ? 'the server did not answer TLS (is it plain HTTP?)' : firstLine(message)}`;
    default:
      break;
  }
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return `TLS error: ${TLS_CODES.has(code) ? tlsCodeText(code) : firstLine(message)}`;
  }
  const top = err as ErrnoLike;
  const topCode = typeof top?.code === 'string' ? top.code : undefined;
  if (topCode === 'UND_ERR_CONNECT_TIMEOUT') return `connection timed out (${where})`;
  if (topCode === 'UND_ERR_SOCKET' || topCode === 'UND_ERR_CLOSED') return `connection closed by ${where}`;
  return firstLine(message) || 'unknown error';
}

export function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export { redactUrlCredentials, scrub, urlPassword } from '../../core/redact.js';

/** Whether any user condition reads one of these values (`status`, `cert.days`…). */
export function mentions(userConditions: readonly string[], ...paths: string[]): boolean {
  return userConditions.some((c) => {
    try {
      const path = compileCondition(c).subject.path.join('.');
      return paths.some((p) => path === p || path.startsWith(`${p}.`));
    } catch {
      return paths.some((p) => new RegExp(`(^|[^.\\w])${p.replace(/\./g, '\\.')}\\b`).test(c));
    }
  });
}

/** A string literal in the condition language. */
export function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Certificate validity as reported by the http and tls kinds. */
export function certValues(validTo: string, now: number): { days: number; expires_in: number; expires_at: string } | undefined {
  const notAfter = Date.parse(validTo);
  if (Number.isNaN(notAfter)) return undefined;
  const ms = notAfter - now;
  return { days: Math.round((ms / 86_400_000) * 1000) / 1000, expires_in: ms, expires_at: new Date(notAfter).toISOString() };
}
