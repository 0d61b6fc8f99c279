/**
 * A release's app, running: the start command in the release directory in its own process group,
 * on a fresh port (PORT), its output in a log file; started here (a child) or adopted from an
 * earlier Shipshape (polled by pid). Health is polled over real HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { killGroup, signalGroup } from './run.js';

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

/** The last `bytes` of a release's log file ('' when it has none). */
export function logTail(path: string, bytes = 64 * 1024): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return (size > len ? `[… ${size - len} earlier bytes in ${path}]\n` : '') + buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Is `pid` alive and still the process of `release` (its environment names it)? A recycled pid is not. */
export function isReleaseProcess(pid: number, release: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SHIPSHAPE_RELEASE=${release}`);
  } catch {
    return false;
  }
}

/** A release's app, started by this Shipshape or adopted from an earlier one. */
export interface ReleaseProcess {
  readonly release: number;
  readonly port: number;
  readonly pid: number | undefined;
  readonly exited: Promise<Exit>;
  readonly alive: boolean;
  /** the tail of its output (its log file) */
  output(): string;
  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/**
 * A release started here: its own process group (detached), output appended to its log file (not
 * a pipe), not waited for — so it outlives this Shipshape, and the next one adopts it.
 */
export class AppProcess implements ReleaseProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private stopping = false;
  private exit: Exit | null = null;

  constructor(
    readonly release: number,
    readonly port: number,
    private readonly opts: { dir: string; command: string; env: NodeJS.ProcessEnv; log: string; onUnexpectedExit?: (e: Exit) => void },
  ) {
    mkdirSync(dirname(opts.log), { recursive: true, mode: 0o700 });
    const out = openSync(opts.log, 'a', 0o600);
    try {
      this.child = spawn('/bin/sh', ['-c', opts.command], {
        cwd: opts.dir,
        env: { ...opts.env, PORT: String(port), SHIPSHAPE_RELEASE: String(release) },
        detached: true,
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    this.child.unref();
    this.exited = new Promise((done) => {
      this.child.once('error', (e) => {
        appendFileSync(opts.log, `${e.message}\n`);
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
    return logTail(this.opts.log);
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await killGroup(this.child, graceMs);
  }
}

/**
 * A release an earlier Shipshape started, still running (not our child): its exit is noticed by
 * polling its pid (every `pollMs`), its output read from its log file.
 */
export class AdoptedProcess implements ReleaseProcess {
  readonly exited: Promise<Exit>;
  private stopping = false;
  private gone = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly release: number,
    readonly port: number,
    readonly pid: number,
    private readonly log: string,
    onUnexpectedExit?: (e: Exit) => void,
    pollMs = 500,
  ) {
    let done!: (e: Exit) => void;
    this.exited = new Promise((r) => (done = r));
    this.timer = setInterval(() => {
      if (isReleaseProcess(pid, release)) return;
      clearInterval(this.timer);
      this.gone = true;
      const e = { code: null, signal: null };
      if (!this.stopping) onUnexpectedExit?.(e);
      done(e);
    }, pollMs);
    this.timer.unref();
  }

  get alive(): boolean {
    return !this.gone;
  }

  output(): string {
    return logTail(this.log);
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    signalGroup(this.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isReleaseProcess(this.pid, this.release) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
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
export async function waitHealthy(app: ReleaseProcess, path: string, timeoutMs: number, intervalMs: number, signal?: AbortSignal): Promise<HealthOutcome> {
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
