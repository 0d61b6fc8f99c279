/**
 * `shipshape secrets scan [path] [--format text|json|sarif] [--git-history] [--staged]
 * [--allowlist FILE] [--output FILE] [--max-size SIZE]` and `shipshape secrets install-hook [--force]`.
 *
 * Exit codes: 0 no findings, 1 findings, 2 bad usage or a path, git or allowlist error.
 * Works without a server or a config file.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, out } from '../core/cli.js';
import { parseSize } from '../core/config/units.js';
import { installHook } from './hook.js';
import { FORMATS, render, type Format } from './report.js';
import { ScanError, scanSecrets } from './scan.js';

interface ScanOpts {
  format: string;
  gitHistory?: boolean;
  staged?: boolean;
  allowlist?: string;
  output?: string;
  maxSize?: string;
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('secret scanning: find credentials in a tree, the staged changes or the git history (docs/secrets.md)')
    // bad usage exits 2 (1 means "found secrets")
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

  secrets
    .command('scan')
    .description('scan a path (default .) for secrets; exit 1 when any is found, 0 when none, 2 on a usage or I/O error')
    .argument('[path]', 'file or directory; in a git work tree, the files git would commit (.gitignore is respected)', '.')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--git-history', 'scan every added line of every commit (git log -p --all) instead of the files')
    .option('--staged', 'scan only the staged changes (git diff --cached): what the next commit adds')
    .option('--allowlist <file>', 'allowlist file (default <path>/.shipshape-secrets-allow when there is one)')
    .option('--output <file>', 'write the report to a file (mode 0600) instead of standard output')
    .option('--max-size <size>', 'skip files larger than this, with a note (e.g. 10MB, 0 for no limit)', '10MB')
    .addHelpText(
      'after',
      `
Examples:
  $ shipshape secrets scan                          the work tree here
  $ shipshape secrets scan --git-history --format sarif --output secrets.sarif
  $ shipshape secrets scan --staged                 what the pre-commit hook runs
Accept a false positive with a "shipshape:allow" comment on its line, or in .shipshape-secrets-allow:
  path: test/fixtures/**      fingerprint: src/a.ts:stripe-secret-key:12      regex: ^sk_test_      rule: jwt`,
    )
    .action(async (path: string, o: ScanOpts) => {
      if (!(FORMATS as readonly string[]).includes(o.format)) throw new CliError(`--format: expected one of ${FORMATS.join(', ')}, got "${o.format}"`, 2);
      if (o.gitHistory && o.staged) throw new CliError('choose one of --git-history and --staged', 2);
      const maxFileSize = o.maxSize === '0' ? 0 : parseSize(o.maxSize ?? '10MB');
      if (maxFileSize === undefined) throw new CliError(`--max-size: expected a size like 10MB or 512KB (0: no limit), got "${o.maxSize}"`, 2);
      let report;
      try {
        report = await scanSecrets({ path, gitHistory: o.gitHistory, staged: o.staged, allowlist: o.allowlist, maxFileSize });
      } catch (e) {
        if (e instanceof ScanError) throw new CliError(e.message, 2);
        throw e;
      }
      const text = render(report, o.format as Format);
      if (o.output) {
        try {
          writeFileSync(o.output, text, { mode: 0o600 });
        } catch (e) {
          throw new CliError(`cannot write ${o.output}: ${(e as Error).message}`, 2);
        }
        process.stderr.write(`${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}${report.skipped.length ? `, ${report.skipped.length} skipped` : ''}; report written to ${o.output}\n`);
      } else process.stdout.write(text);
      if (report.findings.length > 0) {
        if (o.staged) process.stderr.write('shipshape: the staged changes add secrets (above): the commit is refused. Remove them, or accept a false positive with a `shipshape:allow` comment or an allowlist entry (docs/secrets.md).\n');
        process.exitCode = 1;
      }
    });

  secrets
    .command('install-hook')
    .description('install a git pre-commit hook that runs `shipshape secrets scan --staged` (refuses commits that add secrets)')
    .option('--force', 'when another pre-commit hook exists, keep it as pre-commit.local (run first) and install this one')
    .action((o: { force?: boolean }) => {
      try {
        const r = installHook(process.cwd(), { force: o.force });
        out(`${r.replaced ? 'updated' : 'installed'} ${r.file}${r.chained ? ` (the previous hook is now ${r.chained} and runs first)` : ''}`);
      } catch (e) {
        if (e instanceof ScanError) throw new CliError(e.message, 2);
        throw e;
      }
    });
}
