/**
 * `shipshape secrets install-hook`: a git pre-commit hook that runs `shipshape secrets scan
 * --staged` and so refuses a commit that adds a secret. An existing hook of someone else's is kept:
 * without --force the command refuses; with --force it is moved aside to `pre-commit.local` and the
 * new hook runs it first.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ScanError } from './scan.js';

export const HOOK_MARKER = '# shipshape secrets pre-commit hook';
export const CHAINED = 'pre-commit.local';

export interface HookResult {
  file: string;
  /** the hook that was there before, now run first from this file */
  chained?: string;
  replaced: boolean;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function hookScript(node: string, script: string | undefined): string {
  const run = script
    ? `if [ -f ${sh(script)} ]; then
  ${sh(node)} ${sh(script)} secrets scan --staged || exit $?
else
  shipshape secrets scan --staged || exit $?
fi`
    : 'shipshape secrets scan --staged || exit $?';
  return `#!/bin/sh
${HOOK_MARKER} (installed by \`shipshape secrets install-hook\`)
# A commit that adds a secret is refused; accept a false positive with a \`shipshape:allow\`
# comment on its line or an entry in .shipshape-secrets-allow (docs/secrets.md).
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/${CHAINED}" ]; then
  "$hooks_dir/${CHAINED}" "$@" || exit $?
fi
${run}
`;
}

/** Install the hook in the repository at `dir` (its hooks directory, honouring core.hooksPath). */
export function installHook(dir: string, opts: { force?: boolean; cli?: { node: string; script?: string } } = {}): HookResult {
  let hooksDir: string;
  try {
    hooksDir = execFileSync('git', ['rev-parse', '--git-path', 'hooks'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    throw new ScanError(`${dir} is not inside a git repository`);
  }
  if (!isAbsolute(hooksDir)) hooksDir = resolve(dir, hooksDir);
  mkdirSync(hooksDir, { recursive: true });
  const file = join(hooksDir, 'pre-commit');
  const cli = opts.cli ?? { node: process.execPath, script: process.argv[1] ? resolve(process.argv[1]) : undefined };
  const script = hookScript(cli.node, cli.script);
  let chained: string | undefined;
  let replaced = false;
  if (existsSync(file)) {
    const current = readFileSync(file, 'utf8');
    if (current.includes(HOOK_MARKER)) replaced = true;
    else {
      if (!opts.force) throw new ScanError(`a pre-commit hook already exists at ${file}; run with --force to keep it (moved to ${CHAINED}, run first) and add the secret scan after it`);
      chained = join(hooksDir, CHAINED);
      if (existsSync(chained)) throw new ScanError(`${chained} already exists: merge it with ${file} by hand, then run again`);
      renameSync(file, chained);
      chmodSync(chained, 0o755);
    }
  }
  writeFileSync(file, script, { mode: 0o755 });
  chmodSync(file, 0o755);
  return { file, ...(chained ? { chained } : {}), replaced };
}
