/**
 * Running another program on the server's behalf (a package manager's audit, a hosted platform's
 * CLI): its own process group, so a kill reaches what it started too; a deadline; bounded output;
 * and an environment without Shipshape's own variables (its tokens, its master key).
 */
import { spawn } from 'node:child_process';

/** The server's environment less SHIPSHAPE_*, with colours off (the output is parsed). */
export function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHIPSHAPE_')) env[k] = v;
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0' };
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** killed at the deadline */
  timedOut: boolean;
}

export interface ToolOptions {
  cwd: string;
  timeoutMs: number;
  /** written to its stdin (which is closed after); none: stdin is /dev/null */
  stdin?: string;
  /** a stop from outside (a check that timed out, a deploy that was stopped) */
  signal?: AbortSignal;
  maxStdout?: number;
  maxStderr?: number;
}

/**
 * Run `bin args…` (no shell) and collect its output. Rejects only when it cannot start (the spawn
 * error, e.g. ENOENT for a program that is not installed) or was stopped before it started.
 */
export function runTool(bin: string, args: string[], o: ToolOptions): Promise<ToolRun> {
  return new Promise((done, reject) => {
    if (o.signal?.aborted) {
      reject(new Error(`${bin} ${args.join(' ')}: stopped before it started`));
      return;
    }
    const child = spawn(bin, args, { cwd: o.cwd, env: toolEnv(), stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    o.signal?.addEventListener('abort', kill, { once: true });
    const maxOut = o.maxStdout ?? 4 * 1024 * 1024;
    const maxErr = o.maxStderr ?? 64 * 1024;
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < maxOut) stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < maxErr) stderr += d.toString();
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', kill);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', kill);
      done({ code, stdout, stderr, timedOut });
    });
    if (child.stdin) {
      // a program that exits before reading its stdin: nothing to do about the EPIPE
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.stdin);
    }
  });
}
