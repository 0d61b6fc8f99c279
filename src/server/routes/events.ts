/** The event log, and a Server-Sent Events stream of it for live views. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EventRecord } from '../../core/api-types.js';
import type { EventLog } from '../../core/events.js';
import { presentedToken } from '../../core/http/auth.js';
import { decodeCursor, encodeCursor, parse } from '../../core/http/problem.js';
import type { Tokens } from '../../core/tokens.js';

export interface EventRouteDeps {
  events: EventLog;
  /** open streams re-verify their token every `recheckMs` and end once it is revoked or expired */
  tokens: Tokens;
  recheckMs: number;
  onClose: (fn: () => void) => void;
}

export function eventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const read = { config: { scope: 'read' as const } };
  app.get('/api/v1/events', read, async (req) => {
    const q = parse(z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional(), type: z.string().max(100).optional(), subject: z.string().max(200).optional() }).strict(), req.query, 'query');
    const items = await deps.events.list({ limit: q.limit, before: decodeCursor<number>(q.cursor, 'number'), type: q.type, subject: q.subject });
    return { items, next_cursor: items.length === q.limit ? encodeCursor((items[items.length - 1] as EventRecord).id) : null };
  });

  /** open streams: how to end each, and the token it was opened with */
  const streams = new Map<() => void, { tokenId: string | undefined; secret: string | undefined }>();
  deps.onClose(() => {
    for (const end of streams.keys()) end();
  });
  // a revocation through this server ends its streams at once
  const offRevoked = deps.events.onEvent((e) => {
    if (e.type !== 'token.revoked') return;
    for (const [end, s] of streams) if (s.tokenId !== undefined && e.subject === `token:${s.tokenId}`) end();
  });
  // one revoked elsewhere (the CLI, another server), or expired, is found by re-verifying
  let checking = false;
  const recheck = setInterval(() => {
    if (checking || streams.size === 0) return;
    checking = true;
    void (async () => {
      for (const [end, s] of [...streams]) {
        const ok = s.secret !== undefined && (await deps.tokens.verify(s.secret).catch(() => 'keep' as const));
        if (!ok) end();
      }
    })().finally(() => {
      checking = false;
    });
  }, deps.recheckMs);
  recheck.unref();
  deps.onClose(() => {
    clearInterval(recheck);
    offRevoked();
  });

  app.get('/api/v1/events/stream', read, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const send = (type: string, data: unknown, id?: number) => {
      if (res.writableEnded || res.destroyed) return; // ended while this event was being delivered
      if (res.writableLength > 1_000_000) return; // a slow client misses notices rather than growing memory
      res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const offEvent = deps.events.onEvent((e) => send(e.type, { ...e.data, at: e.at, subject: e.subject }, e.id));
    const offNotice = deps.events.onNotice((n) => send(n.type, n.data));
    const ping = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const end = () => {
      if (!streams.has(end)) return;
      clearInterval(ping);
      offEvent();
      offNotice();
      streams.delete(end);
      res.end();
    };
    streams.set(end, { tokenId: req.token?.id, secret: presentedToken(req) });
    req.raw.on('close', end);
  });
}
