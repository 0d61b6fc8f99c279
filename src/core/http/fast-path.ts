/**
 * Answers given before routing. A module whose public responses are rendered once and reused (the
 * status page under load) may register a fast path: for a request it can answer from what is
 * already rendered, it writes the very status, headers and bytes its route would, and says so;
 * anything else (not rendered yet, stale, a query string, a proxy's forwarded headers, a body)
 * goes on to the router as usual. The server adds `COMMON_HEADERS` to routed replies as well, so
 * both paths answer alike.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers every answer of the server carries. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Answer `req` and return true, or return false (having written nothing) to leave it to the router. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

declare module 'fastify' {
  interface FastifyInstance {
    /** fast paths tried, in order, before the router (the server decorates this; routes push to it) */
    shipshapeFastPaths?: FastPath[];
  }
}

/**
 * `scheme://host` a request was made to, when that is plain from the request itself: no proxy's
 * X-Forwarded-Proto / -Host (whose trust the router decides), a Host header, plain HTTP (TLS ends
 * at a proxy in front). Undefined otherwise: the router then answers.
 */
export function plainOrigin(req: IncomingMessage): string | undefined {
  const h = req.headers;
  if (h.host === undefined || h['x-forwarded-proto'] !== undefined || h['x-forwarded-host'] !== undefined || (req.socket as { encrypted?: boolean }).encrypted) return undefined;
  return `http://${h.host}`;
}

/** A GET or HEAD without a body: the only requests a fast path may answer. */
export function bodilessRead(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
}
