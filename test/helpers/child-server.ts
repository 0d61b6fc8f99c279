/** `shipshape up` from the built package in a child process (for kill -9 and restart tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { killUnder } from './procs.js';

const BIN = resolve('bin/shipshape.js');

export interface ChildServer {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

export class ChildServers {
  private readonly children: ChildProcess[] = [];
  constructor(
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Start a server on a free port and wait until it listens. */
  async up(config: string, data: string): Promise<ChildServer> {
    const child = spawn(process.execPath, [BIN, 'up', '--config', config, '--port', '0', '--data-dir', data], {
      cwd: this.cwd,
      env: { ...process.env, SHIPSHAPE_LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    const end = Date.now() + 20_000;
    let m: RegExpExecArray | null = null;
    while (!(m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out))) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`the server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { child, url: m[1] as string, exited };
  }

  /** Kill what is still running (afterAll). */
  killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  /** killAll, and what the servers left running under the directory: the deploy proxy daemon and releases (they outlive a server on purpose). */
  async killAllUnder(): Promise<void> {
    this.killAll();
    await killUnder(resolve(this.cwd));
  }
}
