/**
 * Running the shell commands of a deploy (gates, builds): each in its own process group, so a
 * timeout kills the command and everything it started (an `npm run` that spawned a hung server),
 * with its output streamed to the caller and its tail kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Output kept per step (the tail, where the errors are). */
export const OUTPUT_LIMIT = 256 * 1024;

export class Tail {
  private text = '';
  private dropped = 0;
  constructor(private readonly limit = OUTPUT_LIMIT) {}
  push(s: string): void {
    this.text += s;
    if (this.text.length > this.limit * 2) this.trim();
  }
  private trim(): void {
    const cut = this.text.length - this.limit;
    if (cut > 0) {
      this.dropped += cut;
      this.text = this.text.slice(cut);
    }
  }
  toString(): string {
    this.trim();
    return this.dropped > 0 ? `[… ${this.dropped} earlier characters not kept]\n${this.text}` : this.text;
  }
}

/** Kill a process group: SIGTERM, then SIGKILL after `graceMs` if it is still there. */
export function killGroup(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      // the leader is gone; its group may not be
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      done();
      return;
    }
    const pid = child.pid;
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      // children of the leader that ignored SIGTERM
      signalGroup(pid, 'SIGKILL');
      done();
    });
    signalGroup(pid, 'SIGTERM');
  });
}

export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* gone already */
  }
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  output: string;
  /** what the command wrote to stdout alone (its tail), for commands whose stdout is parsed */
  stdout: string;
  durationMs: number;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  onOutput?: (text: string) => void;
  /** told the process group's id once it runs (recorded so a restart can kill what a dead Shipshape left) */
  onSpawn?: (pid: number) => void;
  /** stop early (Shipshape is stopping) */
  signal?: AbortSignal;
}

/** Run `command` with /bin/sh in its own process group; never throws for a failing command. */
export function runCommand(command: string, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((done) => {
    const tail = new Tail();
    const stdout = new Tail();
    const child = spawn('/bin/sh', ['-c', command], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const onData = (d: Buffer) => {
      const s = d.toString('utf8');
      tail.push(s);
      opts.onOutput?.(s);
    };
    child.stdout?.on('data', (d: Buffer) => {
      stdout.push(d.toString('utf8'));
      onData(d);
    });
    child.stderr?.on('data', onData);
    const stop = () => void killGroup(child, 2000);
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', stop, { once: true });
    let finished = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      // whatever the command left behind in its group goes with it
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      done({ exitCode: code, signal: sig, timedOut, output: tail.toString(), stdout: stdout.toString(), durationMs: Date.now() - started });
    };
    child.on('error', (e) => {
      tail.push(`${e.message}\n`);
      finish(null, null);
    });
    child.on('close', (code, sig) => finish(code, sig));
  });
}
