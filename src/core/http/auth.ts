/**
 * Who is asking: the API token a request presents (`Authorization: Bearer` or the dashboard's
 * HttpOnly session cookie) and the actor name events record. The server's auth hook
 * (src/server/auth.ts) verifies the token against the scope each route declares.
 */
import type { FastifyRequest } from 'fastify';
import type { Scope } from '../api-types.js';
import type { AuthedToken } from '../tokens.js';

export const COOKIE = 'shipshape_session';

declare module 'fastify' {
  interface FastifyRequest {
    token?: AuthedToken;
  }
  interface FastifyContextConfig {
    /** the permission a route needs; every route declares one (`public` says so) */
    scope?: Scope | 'public';
  }
}

export function presentedToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m ? m[1] : undefined;
  }
  const c = req.cookies?.[COOKIE];
  return c || undefined;
}

/** The actor an event names for this request: `token:<name>`. */
export function actorOf(req: FastifyRequest): string {
  return req.token ? `token:${req.token.name}` : 'anonymous';
}
