/**
 * The reverse proxy in front of an environment: it listens on the environment's port and forwards
 * every request (HTTP/1.1 keep-alive to the client and, pooled, to the release; WebSocket
 * upgrades) to the release that is live, or — during a canary — to the canary for the clients
 * whose bucket cookie is under its weight. Switching is one assignment, so each request goes wholly
 * to the old or wholly to the new release; requests already in flight finish where they started,
 * and `drain` waits for them (bounded) before a release is stopped.
 *
 * Requests are forwarded with undici (Node's own HTTP client: a connection pool per release,
 * streaming both ways), WebSocket upgrades with http-proxy-3 (a maintained rewrite of
 * node-http-proxy). http-proxy-3 did the requests too until the bench measured it: on loopback it
 * forwarded half of what the same pool does with undici (bench scenario `deploy`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type * as HttpProxy from 'http-proxy-3';
import { Pool } from 'undici';
import { ReleaseStats } from './stats.js';

export interface ProxyTarget {
  release: number;
  port: number;
}

/** Headers of one hop only (RFC 9110 §7.6.1): never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

interface TargetState {
  pool: Pool;
  inflight: number;
  sockets: Set<Socket>;
  waiters: (() => void)[];
}

/** The cookie that keeps a client on one side of a canary: a random bucket 0–99, kept for a day. */
export const BUCKET_COOKIE = 'shipshape_bucket';
const BUCKET_RE = new RegExp(`(?:^|;\\s*)${BUCKET_COOKIE}=(\\d{1,2})(?:;|$)`);

/** A canary: `weight` % of clients (by their bucket) go to `target`, the rest to the stable release. */
export interface Canary {
  target: ProxyTarget;
  weight: number;
}

export class EnvProxy {
  private server: Server | null = null;
  private target: ProxyTarget | null = null;
  private canaryRoute: Canary | null = null;
  private readonly targets = new Map<number, TargetState>();
  private readonly clients = new Set<Socket>();
  /** WebSocket upgrades only */
  private readonly proxy = (createRequire(import.meta.url)('http-proxy-3') as typeof HttpProxy).createProxyServer({ xfwd: true, ws: true });
  /** per release: requests, failed requests and latency, since this proxy started (in the daemon: since the daemon started) */
  readonly stats = new Map<number, ReleaseStats>();

  constructor(
    readonly name: string,
    private host: string,
    private port: number,
  ) {
    // an upgrade the release did not take: the client's socket is closed
    this.proxy.on('error', (_err, _req, res) => (res as Socket | undefined)?.destroy());
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  current(): ProxyTarget | null {
    return this.target;
  }

  /** Route every new request to `t` (null: answer 503); a canary in progress ends. */
  switchTo(t: ProxyTarget | null): void {
    if (t) this.state(t.port);
    this.target = t;
    this.canaryRoute = null;
  }

  /** Send `weight` % of clients to `c.target` (sticky by the bucket cookie); null ends the canary. */
  setCanary(c: Canary | null): void {
    if (c) this.state(c.target.port);
    this.canaryRoute = c && c.weight > 0 ? { target: c.target, weight: Math.min(100, c.weight) } : null;
  }

  canary(): Canary | null {
    return this.canaryRoute;
  }

  /** The release's counters (made on first use). */
  statsOf(release: number): ReleaseStats {
    let st = this.stats.get(release);
    if (!st) this.stats.set(release, (st = new ReleaseStats()));
    return st;
  }

  private state(port: number): TargetState {
    let s = this.targets.get(port);
    if (!s) {
      // no timeouts: a release may stream (SSE) or think as long as it likes; drain bounds the end
      s = { pool: new Pool(`http://127.0.0.1:${port}`, { connections: 512, pipelining: 1, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4000 }), inflight: 0, sockets: new Set(), waiters: [] };
      this.targets.set(port, s);
    }
    return s;
  }

  private done(s: TargetState): void {
    s.inflight--;
    if (s.inflight <= 0 && s.sockets.size === 0) for (const w of s.waiters.splice(0)) w();
  }

  /** Where a request goes: the canary for clients whose bucket is under its weight, else the stable release. */
  private route(req: IncomingMessage, res: ServerResponse): ProxyTarget | null {
    const c = this.canaryRoute;
    if (!c) return this.target;
    const m = BUCKET_RE.exec(String(req.headers.cookie ?? ''));
    let bucket: number;
    if (m) bucket = Number(m[1]);
    else {
      bucket = Math.floor(Math.random() * 100);
      res.setHeader('set-cookie', `${BUCKET_COOKIE}=${bucket}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`);
    }
    return bucket < c.weight ? c.target : this.target;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // handing over to another daemon: each connection ends after its current answer
    if (this.handingOver) res.shouldKeepAlive = false;
    const t = this.route(req, res);
    if (!t) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end(`503 Service Unavailable: no release of ${this.name} is live yet (shipshape deploy)\n`);
      return;
    }
    const s = this.state(t.port);
    s.inflight++;
    const started = performance.now();
    res.once('close', () => {
      this.statsOf(t.release).record(performance.now() - started, res.statusCode >= 500 || !res.writableFinished);
      this.done(s);
    });
    if (!req.headers['x-request-id']) req.headers['x-request-id'] = randomUUID();
    res.setHeader('x-request-id', req.headers['x-request-id'] as string);
    res.setHeader('x-shipshape-release', String(t.release));
    this.forward(req, res, s);
  }

  /** One request to the release's pool and its answer back, both streamed. */
  private forward(req: IncomingMessage, res: ServerResponse, s: TargetState): void {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    // `Connection: x-foo` makes x-foo hop-by-hop too
    for (const name of String(req.headers.connection ?? '').split(',')) if (name.trim()) delete headers[name.trim().toLowerCase()];
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-host'] ??= req.headers.host ?? '';
    headers['x-forwarded-port'] ??= String(this.port);
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    // a client that goes away destroys `res`, and undici then aborts the request to the release
    s.pool.stream(
      { path: req.url ?? '/', method: req.method as 'GET', headers, body: hasBody ? req : null },
      ({ statusCode, headers: answer }) => {
        const out: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(answer)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(statusCode, out);
        return res;
      },
      (err) => {
        if (!err) return;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
          res.end(`502 Bad Gateway: the live release of ${this.name} did not answer (${err.message})\n`);
        } else res.destroy();
      },
    );
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const m = this.canaryRoute ? BUCKET_RE.exec(String(req.headers.cookie ?? '')) : null;
    const t = m && this.canaryRoute && Number(m[1]) < this.canaryRoute.weight ? this.canaryRoute.target : this.target;
    if (!t) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const s = this.state(t.port);
    s.sockets.add(socket);
    socket.once('close', () => {
      s.sockets.delete(socket);
      if (s.inflight <= 0 && s.sockets.size === 0) for (const w of s.waiters.splice(0)) w();
    });
    if (!req.headers['x-request-id']) req.headers['x-request-id'] = randomUUID();
    this.proxy.ws(req, socket, head, { target: { host: '127.0.0.1', port: t.port } });
  }

  /** Listen on the environment's address, or on `handle` (a listening socket handed over by another daemon). */
  async listen(handle?: NetServer): Promise<void> {
    if (this.server?.listening) return;
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.onRequest(req, res));
    // every client connection, upgraded ones included (closeAllConnections does not see those)
    server.on('connection', (socket: Socket) => {
      this.clients.add(socket);
      socket.once('close', () => this.clients.delete(socket));
    });
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      const ready = () => {
        server.off('error', fail);
        done();
      };
      if (handle) server.listen(handle, ready);
      else server.listen(this.port, this.host, ready);
    });
    this.server = server;
  }

  private handingOver = false;

  /** The listening socket (to hand over to another daemon, which then accepts on it too). */
  get listener(): Server | null {
    return this.server;
  }

  /**
   * Another daemon accepts on the same socket now: stop accepting, answer each open connection's
   * next request with `Connection: close`, close the idle ones after `idleMs`, and cut what is
   * left after `timeoutMs`.
   */
  async handOver(idleMs: number, timeoutMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.handingOver = true;
    // stop accepting without http.Server#close, which also closes idle keep-alive connections at
    // once: a client sending its next request on one just then would see it reset
    const closed = new Promise<void>((done) => NetServer.prototype.close.call(server, () => done()));
    const started = Date.now();
    while (this.clients.size > 0 && Date.now() - started < timeoutMs) {
      if (Date.now() - started >= idleMs) server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.close();
    await closed;
  }

  /** Requests and WebSockets still on `port`: wait for them, at most `timeoutMs`, then cut them. */
  async drain(port: number, timeoutMs: number): Promise<{ drained: boolean }> {
    const s = this.targets.get(port);
    if (!s) return { drained: true };
    let drained = true;
    if (s.inflight > 0 || s.sockets.size > 0) {
      drained = await new Promise<boolean>((done) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        s.waiters.push(() => {
          clearTimeout(timer);
          done(true);
        });
      });
    }
    for (const sock of s.sockets) sock.destroy();
    void s.pool.destroy().catch(() => undefined);
    if (this.target?.port !== port && this.canaryRoute?.target.port !== port) this.targets.delete(port);
    return { drained };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      for (const c of this.clients) c.destroy();
      this.clients.clear();
      await new Promise<void>((done) => server.close(() => done()));
    }
    await Promise.all(
      [...this.targets.values()].map((s) => {
        for (const sock of s.sockets) sock.destroy();
        return s.pool.destroy().catch(() => undefined);
      }),
    );
    this.targets.clear();
  }
}
