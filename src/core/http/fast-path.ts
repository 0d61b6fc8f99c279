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
 * What a fast path needs of a request, read from `rawHeaders` in one pass (Node builds
 * `req.headers` lazily; under load that object is most of what a fast answer would allocate).
 */
export interface FastRequest {
  /** `http://host`: the request's own origin */
  origin: string;
  host: string;
  acceptEncoding: string;
  /** If-None-Match or If-Modified-Since is present: a revalidation, answered by the slower path */
  conditional: boolean;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}

/**
 * A GET or HEAD without a body, over plain HTTP, with one Host header and no proxy's
 * X-Forwarded-Proto / -Host (whose trust the router decides): its headers as a fast path needs
 * them. Undefined for anything else (or anything unusual, such as a repeated header a fast path
 * reads): the router then answers.
 */
export function fastRead(req: IncomingMessage): FastRequest | undefined {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || (req.socket as { encrypted?: boolean }).encrypted) return undefined;
  const raw = req.rawHeaders;
  let host: string | undefined;
  let acceptEncoding: string | undefined;
  let ifNoneMatch: string | undefined;
  let ifModifiedSince: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    // compare by length first: most headers need no lower-casing at all
    switch (name.length) {
      case 4:
        if (name.toLowerCase() !== 'host') break;
        if (host !== undefined) return undefined;
        host = value;
        break;
      case 13:
        if (name.toLowerCase() !== 'if-none-match') break;
        if (ifNoneMatch !== undefined) return undefined;
        ifNoneMatch = value;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length' && value !== '0') return undefined;
        break;
      case 15:
        if (name.toLowerCase() !== 'accept-encoding') break;
        if (acceptEncoding !== undefined) return undefined;
        acceptEncoding = value;
        break;
      case 16:
        if (name.toLowerCase() === 'x-forwarded-host') return undefined;
        break;
      case 17: {
        const n = name.toLowerCase();
        if (n === 'x-forwarded-proto' || n === 'transfer-encoding') return undefined;
        if (n !== 'if-modified-since') break;
        if (ifModifiedSince !== undefined) return undefined;
        ifModifiedSince = value;
        break;
      }
    }
  }
  if (host === undefined) return undefined;
  return { origin: `http://${host}`, host, acceptEncoding: acceptEncoding ?? '', conditional: ifNoneMatch !== undefined || ifModifiedSince !== undefined, ifNoneMatch, ifModifiedSince };
}
