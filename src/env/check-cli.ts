/**
 * `shipshape env check [--file .env] [--example .env.example] [--env production] [--service web]
 * [--config shipshape.yaml] [--json] [--strict]`
 *
 * Works in any project directory without a config file (`--file` defaults to .env, `--example` to
 * the .env.example next to it when there is one). With `--service`, the defaults come from
 * `services.<name>.env` of the config (paths relative to the config file's directory); flags win.
 * Exit codes: 0 no errors (warnings allowed unless --strict), 1 errors, 2 bad input.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { CliError, defaultConfig, fail, json, out, red, yellow } from '../core/cli.js';
import type { CliContext } from '../core/module.js';
import { checkEnv, EnvFileError, resolveServiceEnv, type EnvCheckReport, type EnvFinding } from './check.js';
import type { EnvRaw, EnvVarConfig } from './config.js';

interface CheckOpts {
  file?: string;
  example?: string;
  env?: string;
  service?: string;
  config: string;
  json?: boolean;
  strict?: boolean;
}

/** A path as the user would type it from here. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

export function registerEnvCheck(env: Command, ctx: CliContext): void {
  env
    .command('check')
    .description('check a .env file: syntax (like dotenv-linter), required/format/prefix rules from an annotated .env.example and the config, Stripe test keys in production, secrets behind public prefixes (NEXT_PUBLIC_, VITE_…); exits 1 on errors')
    .option('--file <path>', '.env file to check (default: the --service\'s env.file, else .env)')
    .option('--example <path>', 'annotated .env.example: the schema (default: the --service\'s env.example, else the .env.example next to --file if there is one)')
    .option('--env <name>', 'the environment the file is for (production…): rules with @env apply only there, and production flags Stripe test keys')
    .option('--service <name>', 'a service with an env: section in the config file: its file, example and vars')
    .option('-c, --config <file>', 'config file, for --service', defaultConfig())
    .option('--json', 'print { ok, errors, warnings, findings } as JSON')
    .option('--strict', 'exit 1 on warnings too')
    .action(async (o: CheckOpts) => {
      try {
        let file = o.file;
        let example = o.example;
        let vars: Record<string, EnvVarConfig> | undefined;
        if (o.service !== undefined) {
          if (!existsSync(o.config)) throw new CliError(`--service ${o.service}: config file ${o.config} not found (pass --config, or check a file with --file and --example alone)`, 2);
          const cfg = ctx.loadConfig<EnvRaw>(o.config);
          const svc = cfg.raw.services[o.service];
          if (!svc) throw new CliError(`no service "${o.service}" in ${o.config} (services: ${Object.keys(cfg.raw.services).join(', ') || 'none'})`, 2);
          if (!svc.env) throw new CliError(`service "${o.service}" in ${o.config} has no env: section (add env: { example: .env.example, file: .env })`, 2);
          const s = resolveServiceEnv(cfg.file, svc.env);
          file ??= s.file;
          example ??= s.example;
          vars = s.vars;
          if (file === undefined) file = join(dirname(cfg.file), '.env');
        }
        file ??= '.env';
        if (example === undefined && o.example === undefined) {
          const next = join(dirname(file), '.env.example');
          if (existsSync(next) && next !== file) example = next;
        }
        if (o.env !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(o.env)) throw new CliError(`--env: expected an environment name like production, got "${o.env}"`, 2);
        let report: EnvCheckReport;
        try {
          report = await checkEnv({ file: shown(file), ...(example !== undefined ? { example: shown(example) } : {}), ...(o.env !== undefined ? { env: o.env } : {}), ...(vars ? { vars } : {}) });
        } catch (e) {
          if (e instanceof EnvFileError) {
            const flag = example !== undefined && e.message.startsWith(`${shown(example)}:`) ? '--example' : '--file';
            const from = o.service !== undefined && (flag === '--file' ? o.file : o.example) === undefined ? ` (services.${o.service}.env in ${o.config})` : '';
            throw new CliError(`${flag} ${e.message}${from}`, 2);
          }
          throw e;
        }
        const failed = report.errors > 0 || (o.strict === true && report.warnings > 0);
        if (o.json) json(report);
        else out(render(report, example !== undefined ? shown(example) : undefined));
        process.exitCode = failed ? 1 : 0;
      } catch (e) {
        fail(e);
      }
    });
}

/** `file:line  severity  NAME  message`, grouped by file, then "2 errors, 1 warning". */
export function render(report: EnvCheckReport, example?: string): string {
  const lines: string[] = [];
  const byFile = new Map<string, EnvFinding[]>();
  for (const f of report.findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  for (const [file, list] of byFile) {
    const rows = list.map((f) => [f.line !== undefined ? `${file}:${f.line}` : file, f.severity, f.name ?? '-', f.message] as const);
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w2 = Math.max(...rows.map((r) => r[2].length));
    for (const [where, sev, name, message] of rows) {
      const s = sev === 'error' ? red('error  ') : yellow('warning');
      lines.push(`${where.padEnd(w0)}  ${s}  ${name.padEnd(w2)}  ${message}`);
    }
    lines.push('');
  }
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  if (report.findings.length === 0) lines.push(`no problems${example ? ` (schema: ${example})` : ''}`);
  else lines.push(`${n(report.errors, 'error')}, ${n(report.warnings, 'warning')}`);
  return lines.join('\n');
}
