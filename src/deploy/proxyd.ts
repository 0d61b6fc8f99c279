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
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EnvProxy } from './proxy.js';
import { MAX_LINE, PROXYD_PROTOCOL, requestSchema, socketPath, stateFile, type Answer, type Hello, type ProxydRequest, type RouteState, type StateFile, type StatsJson } from './proxyd-protocol.js';

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
    // the socket is made 0600 (umask), and chmod'ed again in case the file system ignores it
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
    log('proxy daemon listening', { socket: sock, protocol: PROXYD_PROTOCOL, restored: this.restored });
    if (this.envs.size === 0) this.armIdle();
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
        return { protocol: PROXYD_PROTOCOL, pid: process.pid, started_at: this.started, restored: this.restored, envs: [...this.envs.values()].map((p) => this.route(p)) } satisfies Hello;
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
    await d.start();
  } catch (e) {
    log('cannot start', { error: (e as Error).message });
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) void main();
