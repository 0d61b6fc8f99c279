/** Dashboard sign-in (token -> HttpOnly cookie) and API token management. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Me } from '../../core/api-types.js';
import { SCOPES, type Tokens } from '../../core/tokens.js';
import { actorOf, COOKIE } from '../../core/http/auth.js';
import { HttpProblem, notFound, parse } from '../../core/http/problem.js';

export function authRoutes(app: FastifyInstance, deps: { tokens: Tokens; secureCookies: boolean }): void {
  const { tokens } = deps;
  app.post(
    '/api/v1/auth/login',
    { config: { scope: 'public', rateLimit: { max: 20, timeWindow: '1 minute' } }, bodyLimit: 4096 },
    async (req, reply): Promise<Me> => {
      const body = parse(z.object({ token: z.string().min(1).max(200) }).strict(), req.body, 'body');
      const tok = await tokens.verify(body.token.trim());
      if (!tok) throw new HttpProblem(401, 'Unauthorized', 'that token is not valid (unknown or revoked)');
      // Secure when forced, or when the request came over HTTPS (directly, or per X-Forwarded-Proto from a trusted proxy)
      const secure = deps.secureCookies || req.protocol === 'https';
      reply.setCookie(COOKIE, body.token.trim(), { path: '/', httpOnly: true, sameSite: 'strict', secure, maxAge: 30 * 86400 });
      return { token: tok.name, scopes: tok.scopes };
    },
  );
  app.post('/api/v1/auth/logout', { config: { scope: 'public' } }, async (req, reply) => {
    reply.clearCookie(COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: deps.secureCookies || req.protocol === 'https' });
    return reply.code(204).send();
  });
  app.get('/api/v1/auth/me', { config: { scope: 'read' } }, async (req): Promise<Me> => ({ token: req.token?.name ?? '', scopes: req.token?.scopes ?? [] }));

  const admin = { config: { scope: 'admin' as const } };
  app.get('/api/v1/tokens', admin, async () => ({ items: await tokens.list(), next_cursor: null }));
  app.post('/api/v1/tokens', { ...admin, bodyLimit: 4096 }, async (req, reply) => {
    const body = parse(z.object({ name: z.string().min(1).max(100), scopes: z.array(z.enum(SCOPES as [string, ...string[]])).min(1).max(3) }).strict(), req.body, 'body');
    const { token, info } = await tokens.create(body.name, body.scopes as typeof SCOPES, actorOf(req));
    return reply.code(201).send({ ...info, token });
  });
  app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', admin, async (req) => {
    const info = await tokens.revoke(req.params.id, actorOf(req));
    if (!info) throw notFound(`no active token "${req.params.id}"`);
    return info;
  });
}
