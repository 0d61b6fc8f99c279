/** Shared HTTP plumbing for routes: problem+json errors, input parsing with zod, cursors. */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { Problem } from '../api-types.js';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: Problem['errors'],
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what: string) => new HttpProblem(404, 'Not Found', what);

export function sendProblem(reply: FastifyReply, p: Problem, headers?: Record<string, string>): FastifyReply {
  if (headers) for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(p.status).type('application/problem+json').send(p);
}

export function problemType(status: number): string {
  return `https://shipshape.dev/problems/${status}`;
}

/** Validate query/params/body with a zod schema; 400 problem listing each bad field otherwise. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, where: 'query' | 'body' | 'params'): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new HttpProblem(400, 'Bad Request', `invalid ${where}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

export function encodeCursor(v: number | string): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

export function decodeCursor<T extends number | string>(c: string | undefined, type: 'number' | 'string'): T | undefined {
  if (!c) return undefined;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (typeof v === type) return v as T;
  } catch {
    /* fall through */
  }
  throw new HttpProblem(400, 'Bad Request', 'invalid cursor: pass the next_cursor value of a previous page', [{ path: 'query.cursor', message: 'invalid cursor' }]);
}
