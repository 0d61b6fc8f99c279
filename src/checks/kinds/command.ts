/**
 * `command`: run a program and report its exit code and output. Runs in its own process group so
 * a timeout kills the command and everything it started.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { CheckKind, Observation } from '../types.js';
import { maskAssignments, scrub, secretEnvValues } from '../../core/redact.js';
import { deadline, elapsed, failed } from './_util.js';

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
    env: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: 'environment variables for the command; it otherwise gets only PATH, HOME, LANG, TZ and the like, never SHIPSHAPE_*' }),
    public_output: z
      .boolean()
      .default(false)
      .meta({ description: "show the command's output in the public /api/health (default false: only authenticated API users see it)" }),
    expect_exit: z.number().int().min(0).max(255).default(0).meta({ description: 'expected exit code (default 0)' }),
  })
  .strict()
  .refine((s) => (s.run === undefined) !== (s.argv === undefined), { message: 'set either run (a shell command) or argv (a list), not both' });

/** The variables a command inherits from Shipshape's environment; everything else must be named in `env:`. */
export const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'TMPDIR', 'TERM'];

/** A minimal environment plus the check's `env:`; Shipshape's own variables never pass. */
export function commandEnv(extra: Record<string, string> | undefined, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of INHERITED_ENV) if (from[k] !== undefined) out[k] = from[k];
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  for (const [k, v] of Object.entries(extra ?? {})) out[k] = v;
  return out;
}

/** Values a command's output must not show: secret variables of Shipshape and the check's secret-named `env:` values. */
export function commandSecrets(extra: Record<string, string> | undefined): string[] {
  return [...secretEnvValues(process.env), ...secretEnvValues(extra ?? {})];
}

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
    const clean = maskAssignments(text).replace(/\s+/g, ' ').trim();
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
          env: commandEnv(s.env),
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (e) {
        dl.dispose();
        resolve(failed(start, `could not start ${file}: ${(e as Error).message}`));
        return;
      }
      const secrets = commandSecrets(s.env);
      const clean = (t: string): string => scrub(t, secrets);
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
            stdout: clean(stdout.text()),
            stderr: clean(stderr.text()),
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
        finish(failed(start, dl.reason(), { stdout: clean(stdout.text()), stderr: clean(stderr.text()) }));
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
