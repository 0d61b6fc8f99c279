/**
 * `command`: run a program and report its exit code and output. Runs in its own process group so
 * a timeout kills the command and everything it started.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { CheckKind, Observation } from '../types.js';
import { deadline, elapsed, failed, redactUrlCredentials } from './_util.js';

/** stdout and stderr are each kept up to this many bytes. */
export const OUTPUT_CAP = 64 * 1024;
/** after SIGTERM, the group gets this long before SIGKILL. */
const KILL_GRACE = 1000;

const spec = z
  .object({
    run: z.string().min(1).optional().meta({ description: 'shell command, run with /bin/sh -c' }),
    argv: z
      .array(z.string())
      .min(1)
      .optional()
      .meta({ description: 'program and arguments, run without a shell: ["pg_isready", "-h", "db"]' }),
    cwd: z.string().min(1).optional().meta({ description: 'working directory' }),
    env: z.record(z.string(), z.string()).optional().meta({ description: 'extra environment variables' }),
    expect_exit: z.number().int().min(0).max(255).default(0).meta({ description: 'expected exit code (default 0)' }),
  })
  .strict()
  .refine((s) => (s.run === undefined) !== (s.argv === undefined), { message: 'set either run (a shell command) or argv (a list), not both' });

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Collects a stream up to OUTPUT_CAP bytes and drains (discards) the rest. */
class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  push(chunk: Buffer): void {
    if (this.size >= OUTPUT_CAP) {
      this.truncated = true;
      return;
    }
    const room = OUTPUT_CAP - this.size;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (chunk.length > room) this.truncated = true;
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8').replace(/\r?\n$/, '');
  }
}

export const command: CheckKind<typeof spec> = {
  name: 'command',
  spec,
  impliedConditions(s) {
    return [`exit_code == ${s.expect_exit ?? 0}`];
  },
  describe(s) {
    const text = s.run ?? (s.argv ?? []).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
    const clean = redactUrlCredentials(text).replace(/\s+/g, ' ').trim();
    return `$ ${clean.length > 80 ? `${clean.slice(0, 77)}...` : clean}`;
  },
  run(s, ctx) {
    const start = performance.now();
    const dl = deadline(ctx, s.timeout);
    const [file, ...args] = s.run !== undefined ? ['/bin/sh', '-c', s.run] : (s.argv ?? []);
    if (!file) {
      dl.dispose();
      return Promise.resolve(failed(start, 'nothing to run: set run or argv'));
    }
    return new Promise<Observation>((resolve) => {
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(file, args, {
          cwd: s.cwd,
          env: s.env ? { ...process.env, ...s.env } : process.env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (e) {
        dl.dispose();
        resolve(failed(start, `could not start ${file}: ${(e as Error).message}`));
        return;
      }
      const stdout = new Capture();
      const stderr = new Capture();
      child.stdout?.on('data', (c: Buffer) => stdout.push(c));
      child.stderr?.on('data', (c: Buffer) => stderr.push(c));
      let done = false;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let closeTimer: NodeJS.Timeout | undefined;
      const finish = (obs: Observation): void => {
        if (done) return;
        done = true;
        if (closeTimer) clearTimeout(closeTimer);
        dl.signal.removeEventListener('abort', onAbort);
        dl.dispose();
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve(obs);
      };
      const report = (): void => {
        if (!exit) return;
        // a check must not leave processes behind: end whatever the command left running in its group
        if (child.pid !== undefined) killGroup(child.pid, 'SIGTERM');
        finish({
          ok: true,
          latencyMs: elapsed(start),
          values: {
            exit_code: exit.code,
            signal: exit.signal,
            stdout: stdout.text(),
            stderr: stderr.text(),
            ...(stdout.truncated ? { stdout_truncated: true } : {}),
            ...(stderr.truncated ? { stderr_truncated: true } : {}),
          },
        });
      };
      const onAbort = (): void => {
        const pid = child.pid;
        if (pid !== undefined && exit === undefined) {
          killGroup(pid, 'SIGTERM');
          // anything that ignores SIGTERM gets SIGKILL; the check does not wait for it
          setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE).unref();
        }
        finish(failed(start, dl.reason(), { stdout: stdout.text(), stderr: stderr.text() }));
      };
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          if (s.cwd && !existsSync(s.cwd)) finish(failed(start, `working directory not found: ${s.cwd}`));
          else finish(failed(start, `command not found: ${file}`));
        } else if (err.code === 'EACCES') finish(failed(start, `permission denied: ${file}`));
        else finish(failed(start, `could not run ${file}: ${err.message}`));
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // output may still be in the pipes; a background child holding them open must not hang the check
        closeTimer = setTimeout(report, 200);
      });
      child.on('close', () => report());
      if (dl.signal.aborted) onAbort();
      else dl.signal.addEventListener('abort', onAbort, { once: true });
    });
  },
};
