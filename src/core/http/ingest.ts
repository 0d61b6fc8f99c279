/**
 * Ingest authentication and quotas, shared by every ingest endpoint (OTLP, the SDK, Sentry
 * envelopes, alert pushes): a token from `ingest.tokens`, compared in constant time, what it may
 * send (its `kinds` and `services`, 403 past them), and a per-token request budget (429 with
 * Retry-After past it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { IngestKind, IngestTokenEntry } from '../config/schema.js';
import { HttpProblem } from './problem.js';

export type { IngestKind, IngestTokenEntry } from '../config/schema.js';

/**
 * What a request sends. `service`: the service the data belongs to; null when it belongs to no
 * configured service (a token restricted to services is refused); omitted when it is not known
 * yet (only the kind is checked). Alerts never belong to a service: a token with `services` may
 * not push them, whatever the alert's labels say.
 */
export interface IngestNeed {
  kind: IngestKind;
  service?: string | null;
}

const list = (xs: readonly string[]) => xs.map((x) => x.slice(0, 100)).join(', ');

/** What a restricted token may send, for a 403 message: "vitals, events for service web". */
function mayOnly(e: IngestTokenEntry): string {
  const kinds = e.kinds ? list(e.kinds) : 'any kind of data';
  return e.services ? `${kinds} for service${e.services.length > 1 ? 's' : ''} ${list(e.services)}` : kinds;
}

/** undefined when the entry allows `need`, else why not (a 403 detail). */
export function ingestRefusal(e: IngestTokenEntry, need: IngestNeed): string | undefined {
  if (e.kinds && !e.kinds.includes(need.kind)) return `this ingest token may not send ${need.kind} (it may send only ${mayOnly(e)})`;
  if (!e.services) return undefined;
  if (need.kind === 'alerts') return `this ingest token may not push alerts: it is restricted to services, and alert pushes need a token without a services restriction (it may send only ${mayOnly(e)})`;
  if (need.service === undefined) return undefined;
  if (need.service === null) return `this ingest token may send only ${mayOnly(e)}, and this data belongs to no configured service`;
  if (!e.services.includes(need.service)) return `this ingest token may not send data for service "${need.service.slice(0, 100)}" (it may send only ${mayOnly(e)})`;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token a request presents: `Authorization: Bearer`, `X-Shipshape-Token`, or `?token=`. */
export function presentedIngestToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (m) return m[1];
  }
  const x = req.headers['x-shipshape-token'];
  if (typeof x === 'string' && x) return x;
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' && q ? q : undefined;
}

export class IngestGuard {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly settings: () => { tokens: readonly IngestTokenEntry[]; rate_limit: { requests: number; per: number } },
    private readonly now: () => number = Date.now,
  ) {}

  /** The configured entry of a token (constant-time compare), or undefined for an unknown one. */
  entry(token: string | undefined): IngestTokenEntry | undefined {
    if (!token || token.length > 512) return undefined;
    const d = digest(token);
    let found: IngestTokenEntry | undefined;
    for (const e of this.settings().tokens) if (timingSafeEqual(d, digest(e.token)) && !found) found = e;
    return found;
  }

  /** true when the token is one of the configured ingest tokens. */
  valid(token: string | undefined): boolean {
    return this.entry(token) !== undefined;
  }

  /**
   * Throw 401 for a missing or wrong token, 403 when the token may not send `need` (its `kinds`
   * and `services`), and 429 (with Retry-After) when the token's budget for the current window is
   * spent. Call once per request; a refused request does not use the budget. Returns the entry.
   */
  check(token: string | undefined, need?: IngestNeed): IngestTokenEntry {
    const e = this.known(token);
    if (need) this.permit(e, need);
    const { requests, per } = this.settings().rate_limit;
    const key = digest(e.token).toString('hex');
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= per) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > requests) {
      const retry = Math.max(1, Math.ceil((w.start + per - now) / 1000));
      throw new HttpProblem(429, 'Too Many Requests', `ingest quota of ${requests} requests per ${Math.round(per / 1000)}s exceeded; retry in ${retry}s`, undefined, { 'retry-after': String(retry) });
    }
    return e;
  }

  /**
   * 401 / 403 as `check`, without counting against the quota: for what a request turns out to send
   * once its body is read (a batch's kinds, each OTLP resource's service), after `check`.
   */
  permit(token: string | undefined | IngestTokenEntry, need: IngestNeed): IngestTokenEntry {
    const e = typeof token === 'object' ? token : this.known(token);
    const why = ingestRefusal(e, need);
    if (why) throw new HttpProblem(403, 'Forbidden', why);
    return e;
  }

  private known(token: string | undefined): IngestTokenEntry {
    if (this.settings().tokens.length === 0) throw new HttpProblem(401, 'Unauthorized', 'ingest is disabled: no ingest.tokens are configured');
    const e = this.entry(token);
    if (!e) throw new HttpProblem(401, 'Unauthorized', 'a valid ingest token is required (ingest.tokens in shipshape.yaml)', undefined, { 'www-authenticate': 'Bearer realm="shipshape-ingest"' });
    return e;
  }
}
