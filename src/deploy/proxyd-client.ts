/**
 * Shipshape's side of the proxy daemon (proxyd.ts): connect to the daemon of this data directory,
 * or start it (detached: its own process group, output to proxyd.log, not waited for), check its
 * protocol version (another version is replaced: the brief gap while it restarts is documented in
 * docs/deploy.md), send requests and match their answers, and notice when the daemon goes away
 * (then start it again; it serves the routes of its state file, and `onRestart` is told).
 *
 * `RemoteProxy` is one environment's proxy as the deploy service sees it: the routing calls of
 * `EnvProxy`, made asynchronous, with the live target and canary mirrored for synchronous reads.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../core/package-root.js';
import type { Canary, ProxyTarget } from './proxy.js';
import { logFile, PROXYD_PROTOCOL, socketPath, type Answer, type Hello, type ProxydCall, type RouteState, type StatsJson } from './proxyd-protocol.js';
import type { StatsSnapshot } from './stats.js';

/** The daemon's entry: the built one in dist/ (tsc's output, also when the server runs from the bundle or tests run src/). */
export function daemonEntry(): string {
  return join(packageRoot, 'dist', 'deploy', 'proxyd.js');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function open(path: string): Promise<Socket | null> {
  return new Promise((done) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', fail);
      done(s);
    });
    const fail = () => done(null);
    s.once('error', fail);
  });
}

export class ProxydClient {
  private sock: Socket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | null }>();
  private connecting: Promise<Hello> | null = null;
  private closed = false;
  /** the daemon said it exits (its last environment closed): its going is not a crash */
  private expectExit = false;
  hello: Hello | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    /** the daemon went away while Shipshape ran and was started again (its hello says what it restored) */
    private readonly onRestart: (h: Hello) => void,
  ) {}

  get connected(): boolean {
    return this.sock !== null && !this.sock.destroyed;
  }

  /** Connect to a running daemon only (no start): false when none answers. */
  async attach(): Promise<boolean> {
    if (this.connected) return true;
    if (!existsSync(socketPath(this.dataDir))) return false;
    try {
      await this.connectOnce(false);
      return true;
    } catch {
      return false;
    }
  }

  /** Connected to a daemon of our protocol, starting one when none runs. */
  ensure(): Promise<Hello> {
    if (this.connected && this.hello) return Promise.resolve(this.hello);
    this.closed = false;
    this.connecting ??= this.connectOnce(true).finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connectOnce(spawnIfNone: boolean): Promise<Hello> {
    const path = socketPath(this.dataDir);
    let s = await open(path);
    if (!s && !spawnIfNone) throw new Error('no proxy daemon answers');
    if (!s) {
      this.spawnDaemon();
      for (let i = 0; i < 200 && !s; i++) {
        await sleep(50);
        s = await open(path);
      }
      if (!s) throw new Error(`the proxy daemon did not start (see ${logFile(this.dataDir)})`);
    }
    this.use(s);
    let h = (await this.call({ op: 'hello' })) as Hello;
    if (h.protocol !== PROXYD_PROTOCOL) {
      // another Shipshape version's daemon: it hands its listening sockets and routes to ours, so
      // the ports never stop accepting; if that fails, it stops (keeping its state file) and ours
      // starts from the state file (the ports are closed for that moment)
      this.logger.warn({ theirs: h.protocol, ours: PROXYD_PROTOCOL }, 'the proxy daemon speaks another protocol version: handing over to ours');
      this.expectExit = true;
      const handed = await this.call({ op: 'handover', entry: daemonEntry() }, 60_000).then(
        (r) => r as { pid: number },
        (err: Error) => {
          this.logger.warn({ err }, 'the handover failed: restarting the proxy daemon instead');
          return null;
        },
      );
      if (!handed) {
        await this.call({ op: 'shutdown' }).catch(() => undefined);
        for (let i = 0; i < 100 && existsSync(path); i++) await sleep(50);
      }
      this.drop();
      this.expectExit = false;
      if (!handed) this.spawnDaemon();
      let n: Socket | null = null;
      for (let i = 0; i < 200 && !n; i++) {
        await sleep(50);
        n = await open(path);
      }
      if (!n) throw new Error(`the proxy daemon did not start (see ${logFile(this.dataDir)})`);
      this.use(n);
      h = (await this.call({ op: 'hello' })) as Hello;
    }
    this.hello = h;
    return h;
  }

  private spawnDaemon(): void {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const out = openSync(logFile(this.dataDir), 'a', 0o600);
    try {
      const env: NodeJS.ProcessEnv = {};
      for (const k of ['PATH', 'LANG', 'TZ', 'NODE_EXTRA_CA_CERTS']) if (process.env[k] !== undefined) env[k] = process.env[k];
      const child = spawn(process.execPath, [daemonEntry(), '--data-dir', this.dataDir], { cwd: this.dataDir, env, detached: true, stdio: ['ignore', out, out] });
      child.on('error', (err) => this.logger.error({ err }, 'starting the proxy daemon failed'));
      child.unref();
      this.logger.info({ pid: child.pid }, 'proxy daemon started');
    } finally {
      closeSync(out);
    }
  }

  private use(s: Socket): void {
    this.sock = s;
    s.setEncoding('utf8');
    s.unref();
    let buf = '';
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let a: Answer;
        try {
          a = JSON.parse(line) as Answer;
        } catch {
          continue;
        }
        const p = a.id === null ? undefined : this.pending.get(a.id);
        if (!p) {
          if (!a.ok) this.logger.warn({ error: a.error }, 'the proxy daemon refused a message');
          continue;
        }
        this.pending.delete(a.id as number);
        if (p.timer) clearTimeout(p.timer);
        if (a.ok) p.resolve(a.result);
        else p.reject(new Error(`proxy daemon: ${a.error}`));
      }
    });
    s.on('error', () => undefined);
    s.once('close', () => {
      if (this.sock !== s) return;
      this.sock = null;
      for (const [id, p] of this.pending) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new Error('the proxy daemon went away'));
        this.pending.delete(id);
      }
      if (!this.closed && !this.expectExit) void this.recover();
    });
  }

  private drop(): void {
    const s = this.sock;
    this.sock = null;
    s?.destroy();
  }

  /** The daemon went away while we ran: start it again (it serves its state file's routes). */
  private async recover(): Promise<void> {
    this.logger.warn('the proxy daemon went away: starting it again');
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        const h = await this.ensure();
        this.onRestart(h);
        return;
      } catch (err) {
        this.logger.error({ err, attempt }, 'restarting the proxy daemon failed');
        await sleep(Math.min(5000, 200 * attempt));
      }
    }
  }

  /** One request; `timeoutMs` bounds the wait for its answer. */
  call(req: ProxydCall, timeoutMs = 15_000): Promise<unknown> {
    const s = this.sock;
    if (!s || s.destroyed) return Promise.reject(new Error('not connected to the proxy daemon'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the proxy daemon did not answer ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      s.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** A request once connected (starting the daemon when it is not running). */
  async request(req: ProxydCall, timeoutMs?: number): Promise<unknown> {
    if (!this.connected) await this.ensure();
    if (req.op === 'close') {
      const r = (await this.call(req, timeoutMs)) as { exiting: boolean };
      if (r.exiting) this.expectExit = true;
      return r;
    }
    this.expectExit = false;
    return this.call(req, timeoutMs);
  }

  /** Disconnect, leaving the daemon running. */
  close(): void {
    this.closed = true;
    this.drop();
  }

  /** Tell the daemon to stop (keeping its state file) and disconnect. */
  async shutdown(): Promise<void> {
    if (!(await this.attach())) return;
    this.expectExit = true;
    await this.call({ op: 'shutdown' }).catch(() => undefined);
    for (let i = 0; i < 100 && existsSync(socketPath(this.dataDir)); i++) await sleep(50);
    this.close();
  }
}

/** One environment's proxy in the daemon, as the deploy service drives it. */
export class RemoteProxy {
  private target: ProxyTarget | null = null;
  private canaryRoute: Canary | null = null;
  private isListening = false;

  constructor(
    private readonly client: ProxydClient,
    readonly name: string,
    private host: string,
    private port: number,
  ) {}

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** as last seen (status reads it fresh with `stats`) */
  get listening(): boolean {
    return this.isListening && this.client.connected;
  }

  current(): ProxyTarget | null {
    return this.target;
  }

  canary(): Canary | null {
    return this.canaryRoute;
  }

  private see(r: RouteState): RouteState {
    this.target = r.target;
    this.canaryRoute = r.canary;
    this.isListening = r.listening;
    this.host = r.host;
    this.port = r.port;
    return r;
  }

  /** The daemon has no route for this environment (it restarted without it). */
  forget(): void {
    this.isListening = false;
    this.target = null;
    this.canaryRoute = null;
  }

  /** Take what the daemon has for this environment (after attaching to a running daemon). */
  adopt(r: RouteState): void {
    this.see(r);
  }

  /** Listen at `host:port` (a move when it listened elsewhere: the routes go along). */
  async listen(at: { host: string; port: number } = this.address): Promise<void> {
    this.see((await this.client.request({ op: 'listen', env: this.name, host: at.host, port: at.port })) as RouteState);
  }

  async switchTo(t: ProxyTarget | null): Promise<void> {
    this.see((await this.client.request({ op: 'switch', env: this.name, target: t })) as RouteState);
  }

  async setCanary(c: Canary | null): Promise<void> {
    this.see((await this.client.request({ op: 'canary', env: this.name, canary: c })) as RouteState);
  }

  async drain(port: number, timeoutMs: number): Promise<{ drained: boolean }> {
    return (await this.client.request({ op: 'drain', env: this.name, port, timeout_ms: timeoutMs }, timeoutMs + 15_000)) as { drained: boolean };
  }

  async close(): Promise<{ exiting: boolean }> {
    this.isListening = false;
    if (!this.client.connected && !(await this.client.attach())) return { exiting: false };
    return (await this.client.request({ op: 'close', env: this.name })) as { exiting: boolean };
  }

  /** Every release's counters (since the daemon started), with the route as it is now. */
  async stats(): Promise<{ route: RouteState; releases: Map<number, StatsSnapshot> }> {
    // a read never starts the daemon
    if (!this.client.connected) throw new Error('not connected to the proxy daemon');
    const r = (await this.client.request({ op: 'stats', env: this.name })) as RouteState & { releases: StatsJson[] };
    const { releases, ...route } = r;
    this.see(route);
    return { route, releases: new Map(releases.map((x) => [x.release, { requests: x.requests, errors: x.errors, buckets: Uint32Array.from(x.buckets) }])) };
  }

  /** One release's counters now (zero when it has none yet). */
  async snapshot(release: number): Promise<StatsSnapshot> {
    return (await this.stats()).releases.get(release) ?? { requests: 0, errors: 0, buckets: new Uint32Array(170) };
  }
}
