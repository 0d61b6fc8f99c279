/**
 * Authentication: `Authorization: Bearer <token>` or the dashboard's HttpOnly session cookie
 * (which holds the token; revoking the token ends the session). Routes declare the scope they
 * need with `config: { scope }`; routes without one are public and say so with `scope: 'public'`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { presentedToken } from '../core/http/auth.js';
import type { Scope } from '../core/api-types.js';
import { allows, type Tokens } from '../core/tokens.js';
import { HttpProblem } from '../core/http/problem.js';

export function registerAuth(app: FastifyInstance, tokens: Tokens): void {
  // callback style: public pages (the status page under load) pay no promise for it
  app.addHook('onRequest', (req, _reply, done) => {
    const scope = req.routeOptions.config?.scope;
    if (scope === 'public' || !req.routeOptions.url) return done(); // public, or the 404 handler
    authorize(req, scope).then(() => done(), done);
  });

  async function authorize(req: FastifyRequest, scope: Scope | undefined): Promise<void> {
    // routes that forgot to declare a scope are private (admin) by default
    const need: Scope = scope ?? 'admin';
    const secret = presentedToken(req);
    if (!secret) throw new HttpProblem(401, 'Unauthorized', 'this endpoint needs an API token: send "Authorization: Bearer <token>"', undefined, { 'www-authenticate': 'Bearer realm="shipshape"' });
    const tok = await tokens.verify(secret);
    if (!tok) throw new HttpProblem(401, 'Unauthorized', 'the API token is not valid (unknown or revoked)', undefined, { 'www-authenticate': 'Bearer realm="shipshape", error="invalid_token"' });
    if (!allows(tok.scopes, need)) throw new HttpProblem(403, 'Forbidden', `this needs the "${need}" scope; the token "${tok.name}" has ${tok.scopes.join(', ')}`);
    req.token = tok;
  }
}
