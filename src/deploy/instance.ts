/**
 * A release's app, running: the start command in the release directory as a supervised child in
 * its own process group, on a fresh port (PORT), with its output's tail kept. Health is polled
 * over real HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { killGroup, Tail } from './run.js';

/** A free loopback port (the OS picks; the app binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => done(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class AppProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private readonly tail = new Tail(64 * 1024);
  private stopping = false;
  private exit: Exit | null = null;

  constructor(
    readonly release: number,
    readonly port: number,
    opts: { dir: string; command: string; env: NodeJS.ProcessEnv; onOutput?: (s: string) => void; onUnexpectedExit?: (e: Exit) => void },
  ) {
    this.child = spawn('/bin/sh', ['-c', opts.command], {
      cwd: opts.dir,
      env: { ...opts.env, PORT: String(port), SHIPSHAPE_RELEASE: String(release) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (d: Buffer) => {
      const s = d.toString('utf8');
      this.tail.push(s);
      opts.onOutput?.(s);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((done) => {
      this.child.once('error', (e) => {
        this.tail.push(`${e.message}\n`);
        this.exit ??= { code: null, signal: null };
        done(this.exit);
      });
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        if (!this.stopping) opts.onUnexpectedExit?.(this.exit);
        done(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  output(): string {
    return this.tail.toString();
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await killGroup(this.child, graceMs);
  }
}

/** One GET; resolves with the status, or 0 when nothing answered. */
export function probe(port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'shipshape-deploy-health' } }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

export type HealthOutcome = { healthy: true; status: number } | { healthy: false; reason: string };

/** Poll the health path until it answers 2xx, the process exits, or the timeout passes. */
export async function waitHealthy(app: AppProcess, path: string, timeoutMs: number, intervalMs: number, signal?: AbortSignal): Promise<HealthOutcome> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    if (signal?.aborted) return { healthy: false, reason: 'stopped: Shipshape is shutting down' };
    if (!app.alive) {
      const e = await app.exited;
      return { healthy: false, reason: `the app exited during start (${e.code !== null ? `exit code ${e.code}` : `signal ${e.signal ?? '?'}`}) before ${path} answered` };
    }
    last = await probe(app.port, path, Math.max(1000, Math.min(5000, intervalMs * 4)));
    if (last >= 200 && last < 300) return { healthy: true, status: last };
    if (Date.now() >= deadline) {
      return { healthy: false, reason: `not healthy after ${Math.round(timeoutMs / 1000)}s: GET ${path} ${last ? `answered ${last}` : 'got no answer'}` };
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
