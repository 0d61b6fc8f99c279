/** Cutting a release from a git repository with the real `git`: resolve the ref, export the tree. */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { ServiceError } from '../core/errors.js';

function git(repo: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile('git', ['-C', repo, ...args], { maxBuffer: 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error((stderr || err.message).trim()));
      else done(stdout.trim());
    });
  });
}

export interface Commit {
  sha: string;
  version: string;
  author: string;
  message: string;
}

/** The commit a ref names in `repo`; a clear error when the repo or the ref is not there. */
export async function resolveRef(repo: string, ref: string): Promise<Commit> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/@{}~^-]{0,199}$/.test(ref) || ref.includes('..')) throw new ServiceError('invalid', `"${ref}" is not a git ref (a branch, tag or commit like main, v1.2.0 or 3f2a9c1)`);
  try {
    await git(repo, ['rev-parse', '--git-dir']);
  } catch (e) {
    throw new ServiceError('invalid', `${repo} is not a git repository (deploy.repo): ${(e as Error).message}`);
  }
  let sha: string;
  try {
    sha = await git(repo, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`]);
  } catch {
    throw new ServiceError('invalid', `no commit "${ref}" in ${repo}`);
  }
  const [version, author, message] = await Promise.all([
    git(repo, ['describe', '--tags', '--always', sha]).catch(() => sha.slice(0, 7)),
    git(repo, ['log', '-1', '--format=%an <%ae>', sha]),
    git(repo, ['log', '-1', '--format=%s', sha]),
  ]);
  return { sha, version, author, message: message.slice(0, 500) };
}

/** Export the commit's tree into `dir` (`git archive | tar -x`): no .git, nothing untracked. */
export function exportTree(repo: string, sha: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  return new Promise((done, fail) => {
    const archive = spawn('git', ['-C', repo, 'archive', '--format=tar', sha], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    archive.stderr.on('data', (d: Buffer) => (err += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    archive.stdout.pipe(tar.stdin);
    let left = 2;
    let failed = false;
    const end = (code: number | null) => {
      if (code !== 0) failed = true;
      if (--left === 0) {
        if (failed) fail(new Error(`exporting ${sha.slice(0, 12)} failed: ${err.trim() || 'git archive or tar exited non-zero'}`));
        else done();
      }
    };
    archive.on('error', (e) => fail(e));
    tar.on('error', (e) => fail(e));
    archive.on('close', end);
    tar.on('close', end);
  });
}
