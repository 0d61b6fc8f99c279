/**
 * `shipshape import gatus|alertmanager|uptime-kuma <file> [--out FILE] [--force] [--json] [--service NAME]`
 *
 * Prints the shipshape.yaml sections (or writes them to --out, mode 0600, atomically, never over an
 * existing file without --force) and lists on stderr what had no equivalent. Secrets become
 * `${NAME}` references; with --out their values go to `<out>.env` (mode 0600); they are never
 * printed. Exit codes: 0 imported (even with items that had no equivalent), 1 the output file
 * exists or cannot be written, 2 bad input (the message names the file and, where known, the
 * line and key).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { CliError, json } from '../core/cli.js';
import { FileExistsError, writePrivateFile } from '../core/files.js';
import { formatEnvFile, quoteValue } from '../env/index.js';
import { ConfigError } from '../core/config/load.js';
import { NAME_RE } from '../core/config/schema.js';
import type { CliContext } from '../core/module.js';
import { importAlertmanager } from './alertmanager.js';
import { ImportInputError, type Draft, type EnvVar } from './draft.js';
import { importGatus } from './gatus.js';
import { finalize, type ImportResult, type LoadIssue, type Validate } from './output.js';
import { readSource } from './source.js';
import { importUptimeKuma } from './uptime-kuma.js';

export const SOURCES = ['gatus', 'alertmanager', 'uptime-kuma'] as const;
export type SourceKind = (typeof SOURCES)[number];

interface ImportOpts {
  out?: string;
  force?: boolean;
  json?: boolean;
  service?: string;
}

/** Read and convert one source file (throws ImportInputError on bad input). */
export function draftFrom(kind: SourceKind, file: string, opts: { service?: string } = {}): Draft {
  if (opts.service !== undefined && !NAME_RE.test(opts.service)) throw new ImportInputError('--service', `"${opts.service}" is not a service name (letters, digits, "_", "-" or ".", starting with a letter or digit)`);
  if (kind === 'uptime-kuma') return importUptimeKuma(file, opts);
  const text = readSource(file).toString('utf8');
  return kind === 'gatus' ? importGatus(file, text, opts) : importAlertmanager(file, text);
}

/** Import a file: the converted config, checked with `validate` (the real config loader). */
export function importFile(kind: SourceKind, file: string, opts: { service?: string; validate?: Validate } = {}): ImportResult {
  return finalize(draftFrom(kind, file, opts), `${kind === 'uptime-kuma' ? 'Uptime Kuma' : kind === 'gatus' ? 'Gatus' : 'Alertmanager'} ${basename(file)}`, opts.validate);
}

/** A validator over a config loader that reads files (the CLI's): the text goes through a private temp file. */
export function fileValidator(load: (file: string) => unknown): Validate {
  return (yamlText) => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-'));
    const file = join(dir, 'shipshape.yaml');
    try {
      writeFileSync(file, yamlText, { mode: 0o600 });
      load(file);
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i): LoadIssue => ({ path: i.path, message: i.message }));
      throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** A dotenv file of the secrets taken from the source, quoted as `env pull` quotes; a value no quoting can carry is skipped. */
export function dotenvText(vars: EnvVar[]): { text: string; skipped: string[] } {
  const values: Record<string, string> = {};
  const skipped: string[] = [];
  for (const v of vars) {
    if (v.value === undefined) continue;
    try {
      quoteValue(v.name, v.value);
      values[v.name] = v.value;
    } catch {
      skipped.push(v.name);
    }
  }
  return { text: formatEnvFile(values, 'Secrets taken out of the imported config by `shipshape import`; keep this file private (mode 0600).'), skipped };
}

/** Write a new file (mode 0600) atomically; never over an existing one without --force. */
function writeAtomic(file: string, content: string, force: boolean): void {
  try {
    writePrivateFile(file, content, { replace: force });
  } catch (e) {
    throw new CliError(e instanceof FileExistsError ? `${file} exists; pass --force to replace it` : `cannot write ${file}: ${(e as Error).message}`);
  }
}

function summary(r: ImportResult): string {
  const services = (r.config.services ?? {}) as Record<string, { checks: unknown[] }>;
  const checks = Object.values(services).reduce((n, s) => n + s.checks.length, 0);
  const notify = (r.config.notify ?? {}) as { channels?: object; receivers?: object };
  const parts = [`${checks} check${checks === 1 ? '' : 's'} in ${Object.keys(services).length} service${Object.keys(services).length === 1 ? '' : 's'}`, `${Object.keys(notify.channels ?? {}).length} channel(s)`];
  if (notify.receivers) parts.push(`${Object.keys(notify.receivers).length} receiver(s)`);
  parts.push(`${((r.config.alerts ?? []) as unknown[]).length} alert rule(s)`);
  if (r.config.status_pages) parts.push(`${Object.keys(r.config.status_pages).length} status page(s)`);
  return `imported ${parts.join(', ')}`;
}

async function run(kind: SourceKind, file: string, o: ImportOpts, ctx: CliContext): Promise<void> {
  let result: ImportResult;
  try {
    result = importFile(kind, file, { service: o.service, validate: fileValidator((f) => ctx.loadConfig(f)) });
  } catch (e) {
    if (e instanceof ImportInputError) throw new CliError(e.message, 2);
    throw e;
  }
  const secrets = result.env.filter((v) => v.value !== undefined);
  let envFile: string | undefined;
  let skipped: string[] = [];
  if (o.out) {
    const outFile = o.out;
    envFile = secrets.length > 0 ? `${outFile}.env` : undefined;
    if (!o.force) for (const f of [outFile, envFile]) if (f && existsSync(f)) throw new CliError(`${f} exists; pass --force to replace it`);
    if (envFile) {
      const env = dotenvText(secrets);
      skipped = env.skipped;
      writeAtomic(envFile, env.text, !!o.force);
    }
    writeAtomic(outFile, result.yaml, !!o.force);
  }
  if (o.json) {
    json({
      config: result.config,
      unsupported: result.unsupported,
      env: result.env.map((v) => v.name),
      ...(o.out ? { file: o.out } : {}),
      ...(envFile ? { env_file: envFile } : {}),
      ...(result.invalid.length > 0 ? { invalid: result.invalid } : {}),
    });
  } else if (!o.out) process.stdout.write(result.yaml);
  if (o.json) return;
  const err = (s: string) => process.stderr.write(`${s}\n`);
  err(`${summary(result)}${o.out ? ` into ${o.out}` : ''}`);
  if (result.unsupported.length > 0) {
    err(`no equivalent (${result.unsupported.length}):`);
    for (const u of result.unsupported) err(`  - ${u.what} [${u.where}]: ${u.why}`);
  }
  if (result.env.length > 0) {
    const names = result.env.map((v) => v.name).join(', ');
    if (envFile) err(`the config refers to ${names}; the values taken from the source are in ${envFile} (mode 0600): load it into the environment, e.g. set -a; . ${envFile}; set +a`);
    else if (secrets.length > 0) err(`the config refers to ${names}; set them in the environment (values are not printed; --out FILE writes them to FILE.env)`);
    else err(`the config refers to ${names}; set them in the environment`);
    if (skipped.length > 0) err(`could not write ${skipped.join(', ')} to ${envFile} (the value has every quote character): set them yourself`);
  }
  if (result.invalid.length > 0) {
    err('warning: the output does not load yet:');
    for (const i of result.invalid) err(`  ${i.path}: ${i.message}`);
  }
}

export function registerImportCli(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('import')
    .description('convert a Gatus, Alertmanager or Uptime Kuma config into shipshape.yaml sections')
    .addHelpText(
      'after',
      `
Examples:
  $ shipshape import gatus config/config.yaml --out shipshape.yaml
  $ shipshape import alertmanager alertmanager.yml --json
  $ shipshape import uptime-kuma data/kuma.db --service web --out shipshape.yaml
Exit codes: 0 imported (what had no equivalent is listed on stderr), 1 --out exists or cannot be written, 2 bad input.`,
    );
  const sub = (name: SourceKind, arg: string, what: string, withService: boolean) => {
    const c = cmd
      .command(name)
      .description(what)
      .argument(arg, 'the file to import')
      .option('--out <file>', 'write the YAML to this file (mode 0600) and the secrets to <file>.env, instead of printing it')
      .option('--force', 'replace --out (and its .env) when it exists')
      .option('--json', 'print { config, unsupported: [{ what, where, why }], env: [names] } instead');
    if (withService) c.option('--service <name>', 'the service of checks from a source without groups', 'default');
    c.action(async (file: string, o: ImportOpts) => {
      await run(name, file, o, ctx);
    });
  };
  sub('gatus', '<config.yaml>', 'Gatus endpoints, alerting providers and endpoint alerts -> checks, channels, routes and alert rules', true);
  sub('alertmanager', '<alertmanager.yml>', 'Alertmanager receivers, route tree, inhibit rules and time intervals -> notify:', false);
  sub('uptime-kuma', '<backup.json|kuma.db>', 'Uptime Kuma monitors, notifications and (from kuma.db) status pages -> checks, channels, alert rules and status_pages', true);
}
