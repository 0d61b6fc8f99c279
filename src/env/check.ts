/**
 * `shipshape env check`: a `.env` file (or a plain map of values) against its schema — an
 * annotated `.env.example` and/or `services.<name>.env.vars` — plus the syntax lint of the file
 * (dotenv.ts). Findings name the file, the 1-based line and the variable; values are never shown
 * (at most a masked form, `eyJh…(214 chars)`).
 *
 * Findings (`code`):
 * - missing, empty: a required variable absent or `NAME=` (error)
 * - malformed: the value does not have its `format` (error, says what was expected)
 * - prefix: the value does not start with its `prefix` (error)
 * - test-key: a Stripe test key where a live prefix is required (error), or any Stripe test key
 *   in production (warning)
 * - public-secret: a secret behind a prefix that frameworks ship to the browser (error)
 * - unknown: a name the example does not list, with "did you mean …" (warning)
 * - the syntax codes of dotenv.ts (duplicate-key, unterminated-quote, space-character, …)
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { interpolate } from '../core/config/load.js';
import { envSchema, type EnvConfig, type EnvVarConfig } from './config.js';
import { maskValue, parseDotenv } from './dotenv.js';
import { appliesIn, closest, matchesFormat, formatText, mergeSchema, schemaFromExample, type EnvSchema } from './schema.js';

export type { EnvSchema, EnvVarRule } from './schema.js';
export { maskValue } from './dotenv.js';

export interface EnvFinding {
  file: string;
  /** 1-based */
  line?: number;
  /** the variable */
  name?: string;
  code: string;
  severity: 'error' | 'warning';
  /** never contains a value; at most a masked form */
  message: string;
}

export interface EnvCheckReport {
  /** no errors (warnings allowed) */
  ok: boolean;
  errors: number;
  warnings: number;
  findings: EnvFinding[];
}

export interface CheckEnvOptions {
  /** the .env file */
  file: string;
  /** an annotated .env.example: the names it lists and their `# @…` rules */
  example?: string;
  /** the environment the check is for (`production`): rules with `env` apply only there */
  env?: string;
  /** rules from the config (`services.<name>.env.vars`), over the example's */
  vars?: Record<string, EnvVarConfig>;
}

/** A file that cannot be read (missing, a directory, too big): bad input, not a finding. */
export class EnvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvFileError';
  }
}

/** .env files are small; refuse anything bigger than this. */
export const MAX_ENV_FILE = 1024 * 1024;

function readEnvFile(path: string): string {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new EnvFileError(`${path}: is a directory, expected a .env file`);
    if (st.size > MAX_ENV_FILE) throw new EnvFileError(`${path}: ${st.size} bytes, larger than a .env file can be (1 MB)`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof EnvFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new EnvFileError(`${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/** Check a .env file: its syntax, and its values against the example's and the config's rules. Throws EnvFileError when a file cannot be read. */
export async function checkEnv(opts: CheckEnvOptions): Promise<EnvCheckReport> {
  const text = readEnvFile(opts.file);
  const parsed = parseDotenv(text, opts.file);
  const findings = [...parsed.findings];
  let example: EnvSchema = {};
  if (opts.example !== undefined) {
    const fromExample = schemaFromExample(readEnvFile(opts.example), opts.example);
    example = fromExample.schema;
    findings.push(...fromExample.findings);
  }
  const schema = mergeSchema(example, opts.vars);
  const lines: Record<string, number> = {};
  for (const e of parsed.entries) lines[e.key] = e.line;
  const checked = checkValues(parsed.values, schema, opts.env, { file: opts.file, lines, unknown: opts.example !== undefined });
  return reportOf([...findings, ...checked.findings]);
}

/** Build a schema from an example's text and config vars (what the env store checks values against). */
export function envSchemaOf(opts: { example?: { text: string; file: string }; vars?: Record<string, EnvVarConfig> }): { schema: EnvSchema; findings: EnvFinding[] } {
  const ex = opts.example ? schemaFromExample(opts.example.text, opts.example.file) : { schema: {}, findings: [] };
  return { schema: mergeSchema(ex.schema, opts.vars), findings: ex.findings };
}

export interface CheckValuesOptions {
  /** what findings name as their file (default `(values)`) */
  file?: string;
  /** the line of each name, when the values come from a file */
  lines?: Record<string, number>;
  /**
   * report names the schema does not list (default: when some rule comes from an example, which
   * lists every name; rules from config alone may cover only some names)
   */
  unknown?: boolean;
}

/** Public prefixes: frameworks inline these variables into the browser bundle. Longest first. */
export const PUBLIC_PREFIXES = ['NEXT_PUBLIC_', 'NUXT_PUBLIC_', 'EXPO_PUBLIC_', 'REACT_APP_', 'GATSBY_', 'PUBLIC_', 'VITE_'];

const STRIPE_TEST = /^(sk|pk|rk)_test_/;

function isProduction(env: string | undefined): boolean {
  return env !== undefined && /^prod(uction)?$/i.test(env);
}

/** The payload of a JWT, or undefined when the value is not one. */
function jwtPayload(value: string): Record<string, unknown> | undefined {
  const parts = value.split('.');
  if (parts.length !== 3 || !/^eyJ/.test(value)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What secret a value is, by its shape, or undefined. */
function secretValueKind(value: string): string | undefined {
  if (/^(sk|rk)_(live|test)_/.test(value)) return `a secret API key (${value.slice(0, value.indexOf('_', 3) + 1)}…, Stripe or Clerk)`;
  if (/^whsec_/.test(value)) return 'a webhook signing secret (whsec_…)';
  if (/^sb_secret_/.test(value)) return 'a Supabase secret key (sb_secret_…)';
  const jwt = jwtPayload(value);
  if (jwt && jwt.role === 'service_role') return 'a Supabase service-role JWT (its payload says "role": "service_role")';
  if (value.includes('service_role')) return 'a service_role credential';
  return undefined;
}

/** Check a map of values against a schema (no file syntax): required, format, prefix, test keys, public secrets, unknown names. */
export function checkValues(values: Record<string, string>, schema: EnvSchema, env?: string, opts: CheckValuesOptions = {}): EnvCheckReport {
  const file = opts.file ?? '(values)';
  const findings: EnvFinding[] = [];
  const add = (name: string, code: string, severity: EnvFinding['severity'], message: string): void => {
    const line = opts.lines?.[name];
    findings.push({ file, ...(line !== undefined ? { line } : {}), name, code, severity, message });
  };
  const has = (name: string) => Object.prototype.hasOwnProperty.call(values, name);
  const schemaNames = Object.keys(schema);
  const checkUnknown = opts.unknown ?? Object.values(schema).some((r) => r.declared !== undefined);
  const unknownNames = checkUnknown && schemaNames.length > 0 ? Object.keys(values).filter((n) => !Object.prototype.hasOwnProperty.call(schema, n)) : [];
  const where = (name: string) => {
    const d = schema[name]?.declared;
    return d ? ` (declared at ${d.file}:${d.line})` : '';
  };
  for (const [name, rule] of Object.entries(schema)) {
    if (!appliesIn(rule, env)) continue;
    // "in production" when the rule is the environment's own
    const inEnv = rule.env?.length && env !== undefined ? ` in ${env}` : '';
    if (!has(name)) {
      if (rule.required) {
        const typo = unknownNames.find((u) => closest(u, [name]) === name && closest(u, schemaNames) === name);
        const hint = typo ? `; ${typo}${opts.lines?.[typo] !== undefined ? ` (line ${opts.lines[typo]})` : ''} looks like a typo of it` : '';
        add(name, 'missing', 'error', `${name} is required${inEnv} but not set${where(name)}${hint}`);
      }
      continue;
    }
    const value = values[name] as string;
    if (value === '') {
      if (rule.required) add(name, 'empty', 'error', `${name} is required${inEnv} but empty`);
      continue;
    }
    if (rule.format && !matchesFormat(rule.format, value)) add(name, 'malformed', 'error', `${name}: expected ${formatText(rule.format)} (got ${maskValue(value)})`);
    if (rule.prefix && !value.startsWith(rule.prefix)) {
      const test = STRIPE_TEST.exec(value);
      if (test && rule.prefix.includes('_live_')) add(name, 'test-key', 'error', `${name} holds a Stripe test key (${test[0]}…)${env !== undefined ? ` in ${env}` : ''}: expected a key starting with ${rule.prefix}`);
      else add(name, 'prefix', 'error', `${name}: expected a value starting with ${rule.prefix} (got ${maskValue(value)})`);
    }
  }

  for (const [name, value] of Object.entries(values)) {
    const rule = schema[name];
    const prefixApplies = rule?.prefix !== undefined && appliesIn(rule, env);
    const test = STRIPE_TEST.exec(value);
    if (test && isProduction(env) && !prefixApplies) add(name, 'test-key', 'warning', `${name} holds a Stripe test key (${test[0]}…) in ${env}`);

    const pub = PUBLIC_PREFIXES.find((p) => name.startsWith(p));
    if (pub) {
      const kind = value === '' ? undefined : secretValueKind(value);
      const why = kind
        ? `holds ${kind}, ${maskValue(value)}`
        : /SERVICE_ROLE|SECRET/i.test(name)
          ? `is named as a secret (${/SERVICE_ROLE/i.test(name) ? 'SERVICE_ROLE' : 'SECRET'})`
          : rule?.secret
            ? 'is declared @secret'
            : undefined;
      if (why) add(name, 'public-secret', 'error', `${name} ${why}: variables starting with ${pub} are built into the browser bundle, so anyone can read it; keep it server-side under a name without ${pub}`);
    }
  }

  for (const name of unknownNames) {
    const guess = closest(name, schemaNames);
    add(name, 'unknown', 'warning', `${name} is not in the schema${guess ? `: did you mean ${guess}?` : ''}`);
  }
  return reportOf(findings);
}

/** Count and order findings (by file, then line). */
export function reportOf(findings: EnvFinding[]): EnvCheckReport {
  // within a file: by line, then what has no line (a missing variable)
  const sorted = [...findings].sort((a, b) => (a.file === b.file ? (a.line ?? Infinity) - (b.line ?? Infinity) || 0 : a.file < b.file ? -1 : 1));
  const errors = sorted.filter((f) => f.severity === 'error').length;
  return { ok: errors === 0, errors, warnings: sorted.length - errors, findings: sorted };
}

const SHORT: Record<string, string> = {
  missing: 'missing',
  empty: 'empty',
  malformed: 'malformed',
  prefix: 'wrong prefix',
  'test-key': 'test key',
  'public-secret': 'secret behind a public prefix',
  unknown: 'unknown',
  'duplicate-key': 'duplicated',
};

/** `2 errors: STRIPE_SECRET_KEY missing; NEXT_PUBLIC_X secret behind a public prefix` (names only). */
export function summaryOf(report: EnvCheckReport, max = 5): string {
  const count = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const head = report.errors > 0 ? count(report.errors, 'error') : report.warnings > 0 ? count(report.warnings, 'warning') : 'no problems';
  const shown = report.findings.filter((f) => (report.errors > 0 ? f.severity === 'error' : true));
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const f of shown) {
    const text = `${f.name ?? (f.line !== undefined ? `line ${f.line}` : f.file)} ${SHORT[f.code] ?? f.code.replace(/-/g, ' ')}`;
    if (seen.has(text)) continue;
    seen.add(text);
    parts.push(text);
  }
  const more = parts.length > max ? `; and ${parts.length - max} more` : '';
  return parts.length ? `${head}: ${parts.slice(0, max).join('; ')}${more}` : head;
}

/** `services.<name>.env` of a config, with its paths resolved against the config's directory. */
export interface ServiceEnv {
  file?: string;
  example?: string;
  vars: Record<string, EnvVarConfig>;
}

/** The paths of a service's `env:` section resolved against the config file's directory. */
export function resolveServiceEnv(configFile: string, env: EnvConfig): ServiceEnv {
  const dir = dirname(resolve(configFile));
  return { ...(env.file ? { file: resolve(dir, env.file) } : {}), ...(env.example ? { example: resolve(dir, env.example) } : {}), vars: env.vars };
}

/**
 * Read only `services.<service>.env` of a config file (with `${VAR}` interpolation), for the
 * `env` check kind, which runs without the whole loaded config. Throws EnvFileError with the
 * reason when the file, the service or its `env:` section is missing or invalid.
 */
export function readServiceEnv(configFile: string, service: string): ServiceEnv {
  const text = readEnvFile(configFile);
  const doc = parseDocument(text);
  if (doc.errors.length) throw new EnvFileError(`${configFile}: invalid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  const raw = doc.toJS({ maxAliasCount: 1000 }) as { services?: Record<string, { env?: unknown }> } | null;
  const svc = raw?.services?.[service];
  if (!svc) throw new EnvFileError(`${configFile}: no service "${service}" (services: ${Object.keys(raw?.services ?? {}).join(', ') || 'none'})`);
  if (svc.env === undefined) throw new EnvFileError(`${configFile}: service "${service}" has no env: section`);
  const interpolated = JSON.parse(JSON.stringify(svc.env), (_k, v: unknown) =>
    typeof v === 'string' ? interpolate(v, process.env, () => undefined, () => undefined) : v,
  ) as unknown;
  const parsed = envSchema.safeParse(interpolated);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new EnvFileError(`${configFile}: services.${service}.env${i?.path.length ? `.${i.path.join('.')}` : ''}: ${i?.message ?? 'invalid'}`);
  }
  return resolveServiceEnv(configFile, parsed.data);
}
