/**
 * The deploy proxy daemon: its own Node process (its own process group, output to
 * `<data dir>/proxyd.log`), started by Shipshape and left running when Shipshape stops or
 * restarts, so the environments' proxies keep serving meanwhile (like kamal-proxy). It hosts one
 * `EnvProxy` per environment and takes orders over the Unix socket `<data dir>/proxyd.sock`
 * (proxyd-protocol.ts). Its routing table (address, live release, canary per environment) is
 * written to `<data dir>/proxyd.json` (0600) after every change, so a restarted daemon serves the
 * same routes. It exits by itself when its last environment is closed (or, when started with none,
 * if none comes within a minute).
 *
 *     node dist/deploy/proxyd.js --data-dir <dir>
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EnvProxy } from './proxy.js';
import { logFile, MAX_LINE, PROXYD_PROTOCOL, requestSchema, socketPath, stateFile, type Answer, type Hello, type ProxydRequest, type RouteState, type StateFile, type StatsJson, type TakeoverMessage, type TakeoverReply } from './proxyd-protocol.js';
import { ReleaseStats } from './stats.js';

/** The protocol version this daemon announces: SHIPSHAPE_PROXYD_PROTOCOL makes it pretend to be another version (tests of the upgrade handover). */
const ANNOUNCED = Number(process.env.SHIPSHAPE_PROXYD_PROTOCOL ?? PROXYD_PROTOCOL);

const log = (msg: string, extra: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, msg, ...extra })}\n`);

/** Is something answering on the socket already (another daemon)? */
function answering(path: string): Promise<boolean> {
  return new Promise((done) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });
}

export class ProxyDaemon {
  private readonly envs = new Map<string, EnvProxy>();
  private server: Server | null = null;
  private readonly conns = new Set<Socket>();
  private readonly started = new Date().toISOString();
  private restored: string[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private exiting = false;

  constructor(private readonly dataDir: string) {}

  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const sock = socketPath(this.dataDir);
    if (existsSync(sock)) {
      if (await answering(sock)) throw new Error(`a proxy daemon already answers on ${sock}`);
      rmSync(sock, { force: true });
    }
    await this.restore();
    await this.bindControl();
    log('proxy daemon listening', { socket: sock, protocol: ANNOUNCED, restored: this.restored });
    if (this.envs.size === 0) this.armIdle();
  }

  /** The control socket, 0600 (umask, and chmod'ed again in case the file system ignores it). */
  private async bindControl(): Promise<void> {
    const sock = socketPath(this.dataDir);
    const umask = process.umask(0o177);
    try {
      const server = createServer((c) => this.onConnection(c));
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(sock, () => {
          server.off('error', fail);
          done();
        });
      });
      this.server = server;
    } finally {
      process.umask(umask);
    }
    chmodSync(sock, 0o600);
  }

  /**
   * Started by an older daemon with `--takeover`: take each route with its listening socket over
   * the IPC channel, accept on those sockets, bind the control socket, say `ready`.
   */
  async takeover(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const send = (m: TakeoverReply) => new Promise<void>((done) => (process.send ? process.send(m, undefined, {}, () => done()) : done()));
    let chain = Promise.resolve();
    process.on('message', (m: TakeoverMessage, handle?: Server) => {
      chain = chain
        .then(async () => {
          if (m.type === 'route') {
            const r = m.route;
            const p = new EnvProxy(r.env, r.host, r.port);
            p.switchTo(r.target);
            p.setCanary(r.canary);
            for (const x of m.releases) p.stats.set(x.release, ReleaseStats.from(x));
            this.envs.set(r.env, p);
            if (handle) await p.listen(handle);
            else await this.listenRetrying(p).catch((e: Error) => log('a route handed over cannot listen', { env: r.env, error: e.message }));
            this.restored.push(r.env);
            return;
          }
          await this.bindControl();
          this.persist();
          log('took over from the previous daemon', { routes: this.restored, protocol: ANNOUNCED });
          await send({ type: 'ready', pid: process.pid });
          process.disconnect?.();
        })
        .catch(async (e: Error) => {
          log('taking over failed', { error: e.message });
          await send({ type: 'failed', error: e.message });
          process.exit(1);
        });
    });
    await send({ type: 'listening' });
  }

  /** Hand the routes and their listening sockets to the daemon at `entry` (an upgrade), then go. */
  private async handover(entry: string): Promise<{ pid: number }> {
    if (this.exiting) throw new Error('this daemon is stopping');
    const out = openSync(logFile(this.dataDir), 'a', 0o600);
    const env = { ...process.env };
    delete env.SHIPSHAPE_PROXYD_PROTOCOL;
    const child = spawn(process.execPath, [entry, '--data-dir', this.dataDir, '--takeover'], { cwd: this.dataDir, env, detached: true, stdio: ['ignore', out, out, 'ipc'] });
    closeSync(out);
    const replies: TakeoverReply[] = [];
    let wake: (() => void) | null = null;
    child.on('message', (m: TakeoverReply) => {
      replies.push(m);
      wake?.();
    });
    child.once('exit', () => wake?.());
    const next = async (ms: number): Promise<TakeoverReply> => {
      const end = Date.now() + ms;
      while (replies.length === 0) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > end) throw new Error(`the new daemon (${entry}) did not answer the handover`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      return replies.shift() as TakeoverReply;
    };
    try {
      const first = await next(15_000);
      if (first.type !== 'listening') throw new Error(`the new daemon said ${first.type}`);
      // the control socket goes to the successor
      // (close() stops accepting at once; its callback would wait for this very connection)
      this.server?.close();
      this.server = null;
      rmSync(socketPath(this.dataDir), { force: true });
      for (const p of this.envs.values()) {
        const route = { env: p.name, ...p.address, target: p.current(), canary: p.canary() };
        const releases: StatsJson[] = [...p.stats].map(([release, st]) => ({ release, requests: st.requests, errors: st.errors, buckets: [...st.snapshot().buckets] }));
        const msg: TakeoverMessage = { type: 'route', route, releases };
        await new Promise<void>((done, fail) => child.send(msg, p.listener ?? undefined, {}, (e) => (e ? fail(e) : done())));
      }
      await new Promise<void>((done, fail) => child.send({ type: 'done' } satisfies TakeoverMessage, undefined, {}, (e) => (e ? fail(e) : done())));
      const r = await next(15_000);
      if (r.type !== 'ready') throw new Error(r.type === 'failed' ? r.error : `the new daemon said ${r.type}`);
      child.disconnect();
      child.unref();
      log('handed over', { to: r.pid, entry });
      // this daemon stops accepting once the answer went out; open connections end after their current answer
      setTimeout(() => void this.retire(), 50);
      return { pid: r.pid };
    } catch (e) {
      child.kill('SIGKILL');
      if (!this.server) {
        rmSync(socketPath(this.dataDir), { force: true });
        await this.bindControl();
      }
      throw e;
    }
  }

  /** After a handover: stop accepting, let open connections finish (bounded), exit. */
  private async retire(): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    for (const c of this.conns) c.destroy();
    await Promise.all([...this.envs.values()].map((p) => p.handOver(2000, 10_000)));
    log('exiting after the handover');
    process.exit(0);
  }

  /** Serve the routes of the state file again (a restart of the daemon itself). */
  private async restore(): Promise<void> {
    const file = stateFile(this.dataDir);
    if (!existsSync(file)) return;
    let st: StateFile;
    try {
      st = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    } catch (e) {
      log('the state file is unreadable: starting with no routes', { error: (e as Error).message });
      return;
    }
    for (const r of st.routes ?? []) {
      const p = new EnvProxy(r.env, r.host, r.port);
      p.switchTo(r.target);
      p.setCanary(r.canary);
      this.envs.set(r.env, p);
      try {
        await this.listenRetrying(p);
        this.restored.push(r.env);
      } catch (e) {
        log('a restored route cannot listen', { env: r.env, host: r.host, port: r.port, error: (e as Error).message });
      }
    }
  }

  /** Listen, retrying a port still held for a moment (a daemon being replaced is letting it go). */
  private async listenRetrying(p: EnvProxy, attempts = 40): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await p.listen();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i >= attempts) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private persist(): void {
    const st: StateFile = {
      protocol: PROXYD_PROTOCOL,
      routes: [...this.envs.values()].map((p) => ({ env: p.name, ...p.address, target: p.current(), canary: p.canary() })),
    };
    const file = stateFile(this.dataDir);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(st), { mode: 0o600 });
    renameSync(tmp, file);
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.envs.size === 0) {
        log('no environment to serve: exiting');
        void this.shutdown(true);
      }
    }, 60_000);
  }

  private onConnection(c: Socket): void {
    this.conns.add(c);
    c.once('close', () => this.conns.delete(c));
    c.on('error', () => undefined);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) void this.onLine(c, line);
      }
      if (buf.length > MAX_LINE) {
        this.answer(c, { id: null, ok: false, error: `message longer than ${MAX_LINE} bytes: closing the connection` });
        buf = '';
        c.end();
      }
    });
  }

  private answer(c: Socket, a: Answer): void {
    if (!c.destroyed) c.write(`${JSON.stringify(a)}\n`);
  }

  private async onLine(c: Socket, line: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.answer(c, { id: null, ok: false, error: 'malformed message: not JSON (one JSON object a line: {"id":1,"op":"hello"})' });
      return;
    }
    const parsed = requestSchema.safeParse(raw);
    const rid = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : null;
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
      this.answer(c, { id: rid, ok: false, error: `invalid message: ${why}` });
      return;
    }
    const req = parsed.data;
    try {
      const result = await this.handle(req);
      this.answer(c, { id: req.id, ok: true, result });
    } catch (e) {
      this.answer(c, { id: req.id, ok: false, error: (e as Error).message });
    }
  }

  private env(name: string): EnvProxy {
    const p = this.envs.get(name);
    if (!p) throw new Error(`no environment ${name} on this proxy daemon (listen first)`);
    return p;
  }

  private route(p: EnvProxy): RouteState {
    return { env: p.name, ...p.address, listening: p.listening, target: p.current(), canary: p.canary() };
  }

  private async handle(req: ProxydRequest): Promise<unknown> {
    switch (req.op) {
      case 'hello':
        return { protocol: ANNOUNCED, pid: process.pid, started_at: this.started, restored: this.restored, envs: [...this.envs.values()].map((p) => this.route(p)) } satisfies Hello;
      case 'state':
        return { envs: [...this.envs.values()].map((p) => this.route(p)) };
      case 'listen': {
        if (this.idleTimer) clearTimeout(this.idleTimer);
        const old = this.envs.get(req.env);
        if (old && old.address.host === req.host && old.address.port === req.port) {
          if (!old.listening) await this.listenRetrying(old, 1);
          return this.route(old);
        }
        // new, or moved to another address: the new listener takes the same routes and figures
        const p = new EnvProxy(req.env, req.host, req.port);
        if (old) {
          p.switchTo(old.current());
          p.setCanary(old.canary());
          for (const [k, v] of old.stats) p.stats.set(k, v);
        }
        await p.listen();
        this.envs.set(req.env, p);
        if (old) await old.close();
        this.persist();
        log('listening', { env: req.env, host: req.host, port: req.port, moved: Boolean(old) });
        return this.route(p);
      }
      case 'close': {
        const p = this.envs.get(req.env);
        if (p) {
          this.envs.delete(req.env);
          await p.close();
          this.persist();
          log('closed', { env: req.env });
        }
        const exiting = this.envs.size === 0;
        // the answer goes out first
        if (exiting) setTimeout(() => void this.shutdown(true), 50);
        return { closed: Boolean(p), exiting };
      }
      case 'switch': {
        const p = this.env(req.env);
        p.switchTo(req.target);
        this.persist();
        return this.route(p);
      }
      case 'canary': {
        const p = this.env(req.env);
        p.setCanary(req.canary);
        this.persist();
        return this.route(p);
      }
      case 'drain':
        return this.env(req.env).drain(req.port, req.timeout_ms);
      case 'stats': {
        const p = this.env(req.env);
        const releases: StatsJson[] = [...p.stats].map(([release, st]) => {
          const s = st.snapshot();
          return { release, requests: s.requests, errors: s.errors, buckets: [...s.buckets] };
        });
        return { ...this.route(p), releases };
      }
      case 'shutdown':
        setTimeout(() => void this.shutdown(false), 50);
        return { exiting: true };
      case 'handover':
        return this.handover(req.entry);
    }
  }

  /**
   * Stop listening and exit. `forget`: no route is left to serve (the state file goes too);
   * otherwise (SIGTERM, `shutdown`) the state file stays, and the next daemon serves the same routes.
   */
  async shutdown(forget: boolean): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    log('stopping', { forget });
    this.server?.close();
    this.server = null;
    for (const c of this.conns) c.destroy();
    await Promise.all([...this.envs.values()].map((p) => p.close()));
    if (forget) rmSync(stateFile(this.dataDir), { force: true });
    rmSync(socketPath(this.dataDir), { force: true });
    process.exit(0);
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--data-dir');
  const dir = i > 0 ? process.argv[i + 1] : undefined;
  if (!dir) {
    process.stderr.write('usage: proxyd.js --data-dir <dir>\n');
    process.exit(2);
  }
  const d = new ProxyDaemon(resolve(dir));
  process.on('SIGTERM', () => void d.shutdown(false));
  process.on('SIGINT', () => void d.shutdown(false));
  process.on('SIGHUP', () => undefined);
  process.on('uncaughtException', (e) => log('uncaught exception', { error: e.stack ?? e.message }));
  try {
    if (process.argv.includes('--takeover')) await d.takeover();
    else await d.start();
  } catch (e) {
    log('cannot start', { error: (e as Error).message });
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) void main();
