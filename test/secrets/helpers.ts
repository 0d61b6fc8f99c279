/** Temp directories and real git repositories for the secrets tests. */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const BIN = resolve('bin/shipshape.js');

export function tempDir(prefix = 'shipshape-secrets-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An environment where git works the same on any machine: no global or system config, a fixed identity. */
export const GIT_ENV: NodeJS.ProcessEnv = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Ada Tester',
  GIT_AUTHOR_EMAIL: 'ada@example.test',
  GIT_COMMITTER_NAME: 'Ada Tester',
  GIT_COMMITTER_EMAIL: 'ada@example.test',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function gitInit(dir: string): void {
  git(dir, 'init', '-q', '-b', 'main');
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (the built CLI by default). */
export function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; cmd?: string } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = opts.cmd ? spawn(opts.cmd, args, { cwd: opts.cwd, env: { ...process.env, ...GIT_ENV, ...opts.env } }) : spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...GIT_ENV, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
