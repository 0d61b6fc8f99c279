/**
 * What keeps one client from holding the server: a deadline on every request (headers and body,
 * enforced by Node's HTTP server), a cap on the connections one address holds open, and
 * problem+json answers for requests too malformed to reach a route (bad framing, bad URLs).
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Problem } from '../core/api-types.js';
import { problemType, sendProblem } from '../core/http/problem.js';

export interface HttpLimits {
  /**
   * The most a client may take to send a whole request, headers and body (ms, default 30 s).
   * A response may last longer (the event stream does): this bounds the request only.
   */
  requestTimeoutMs: number;
  /** how long an idle keep-alive connection stays open between requests (ms, default 72 s) */
  keepAliveTimeoutMs: number;
  /** open connections one remote address may hold (default 256, loopback included; 0 = no cap) */
  maxConnectionsPerClient: number;
  /** how often open event streams re-check their token (ms, default 5 s) */
  streamRecheckMs: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnectionsPerClient: 256,
  streamRecheckMs: 5_000,
};

/** The Fastify / Node HTTP server options that enforce the limits. */
export function serverTimeouts(l: HttpLimits) {
  return {
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    http: {
      requestTimeout: l.requestTimeoutMs,
      // the headers are part of the request: the same deadline (Node needs headersTimeout <= requestTimeout)
      headersTimeout: l.requestTimeoutMs,
      // Node checks the deadlines on this period (default 30 s, which would double a 30 s deadline)
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(l.requestTimeoutMs / 4))),
    },
  };
}

/** Strip the IPv4-mapped prefix so ::ffff:10.0.0.1 and 10.0.0.1 count as one client. */
const clientOf = (s: Socket) => (s.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');

/**
 * Count open connections per remote address and destroy any beyond `max()`. Returns the live
 * counts (for tests and metrics).
 */
export function capConnectionsPerClient(server: Server, max: () => number, log: FastifyBaseLogger): Map<string, number> {
  const open = new Map<string, number>();
  const warned = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const limit = max();
    const client = clientOf(socket);
    const n = (open.get(client) ?? 0) + 1;
    if (limit > 0 && n > limit) {
      const now = Date.now();
      if (now - (warned.get(client) ?? 0) > 60_000) {
        warned.set(client, now);
        if (warned.size > 10_000) warned.clear();
        log.warn({ client, limit }, `refusing connections from ${client}: it already holds ${limit} open (the per-client connection cap)`);
      }
      socket.destroy();
      return;
    }
    open.set(client, n);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left <= 0) open.delete(client);
      else open.set(client, left);
    });
  });
  return open;
}

/** The detail a malformed request's problem gives, from Node's HTTP parser error. */
function clientErrorDetail(err: NodeJS.ErrnoException & { reason?: string }): { status: number; detail: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, detail: 'the request (headers and body) did not arrive within the time allowed' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, detail: 'the request headers are larger than the server accepts' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, detail: 'invalid Content-Length header: it must be one non-negative integer, and not be sent with Transfer-Encoding' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, detail: 'invalid chunked body: the Transfer-Encoding framing is malformed' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, detail: 'invalid HTTP method' };
    case 'HPE_INVALID_URL':
      return { status: 400, detail: 'invalid request target (URL)' };
    default:
      return { status: 400, detail: `malformed HTTP request${err.reason ? `: ${err.reason}` : ''}` };
  }
}

/**
 * Fastify's clientErrorHandler: a problem+json answer to a request Node's parser refused or timed
 * out, then the connection closes. Nothing is written when a response is already under way on
 * the socket (that would corrupt it).
 */
export function clientErrorHandler(log: () => FastifyBaseLogger, answered: WeakSet<Socket>) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, detail } = clientErrorDetail(err);
    log().debug({ err, client: socket.remoteAddress }, `client error: ${detail}`);
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent && !answered.has(socket)) {
      const title = STATUS_CODES[status] ?? 'Bad Request';
      const body = JSON.stringify({ type: problemType(status), title, status, detail } satisfies Problem);
      socket.write(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroySoon();
    // a client that does not read its answer does not keep the socket
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

/**
 * Remember sockets whose response went out before their request's body finished (a 401 before the
 * body): when that body then stalls, the deadline closes the socket without a second response.
 */
export function trackEarlyAnswers(app: FastifyInstance, answered: WeakSet<Socket>): void {
  app.addHook('onResponse', (req, _reply, done) => {
    const raw = req.raw;
    if (!raw.complete && raw.socket) {
      const socket = raw.socket;
      answered.add(socket);
      raw.once('end', () => answered.delete(socket));
    }
    done();
  });
}

/** Fastify's frameworkErrors: errors raised before a route runs (a bad percent-encoding in the URL). */
export function frameworkErrors(err: Error & { code?: string; statusCode?: number }, req: FastifyRequest, reply: FastifyReply): void {
  const path = (req.raw.url ?? '').split('?')[0] ?? '';
  let status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 400;
  let detail = err.message;
  if (err.code === 'FST_ERR_BAD_URL') detail = 'the URL is not valid: it has a malformed percent-encoding (%XX) or is not valid UTF-8';
  else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    status = 414;
    detail = 'a part of the URL path is too long';
  } else if (status >= 500) {
    req.log.error({ err }, 'request failed before routing');
    detail = 'something went wrong on the server; it was logged';
  }
  void sendProblem(reply, { type: problemType(status), title: STATUS_CODES[status] ?? 'Error', status, detail, instance: safeInstance(path) });
}

/** The request path as a problem's `instance`, kept short and printable. */
export function safeInstance(path: string): string {
  return path.slice(0, 200).replace(/[^\x21-\x7e]/g, '');
}
