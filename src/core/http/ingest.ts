/**
 * Ingest authentication and quotas, shared by every telemetry endpoint (OTLP, Sentry envelopes,
 * the SDK, alert pushes): a token from `ingest.tokens`, compared in constant time, and a
 * per-token request budget (429 with Retry-After past it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.js';

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
    private readonly settings: () => { tokens: string[]; rate_limit: { requests: number; per: number } },
    private readonly now: () => number = Date.now,
  ) {}

  /** true when the token is one of the configured ingest tokens (constant-time compare). */
  valid(token: string | undefined): boolean {
    if (!token || token.length > 512) return false;
    const d = digest(token);
    let ok = false;
    for (const t of this.settings().tokens) if (timingSafeEqual(d, digest(t))) ok = true;
    return ok;
  }

  /**
   * Throw 401 for a missing or wrong token and 429 (with Retry-After) when the token's budget for
   * the current window is spent. Call once per request.
   */
  check(token: string | undefined): void {
    if (this.settings().tokens.length === 0) throw new HttpProblem(401, 'Unauthorized', 'ingest is disabled: no ingest.tokens are configured');
    if (!this.valid(token)) throw new HttpProblem(401, 'Unauthorized', 'a valid ingest token is required (ingest.tokens in shipshape.yaml)', undefined, { 'www-authenticate': 'Bearer realm="shipshape-ingest"' });
    const { requests, per } = this.settings().rate_limit;
    const key = digest(token as string).toString('hex');
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
  }
}
