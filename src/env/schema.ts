/**
 * The schema of a service's environment variables: the names an annotated `.env.example` lists,
 * with the rules written in comments directly above a line, and `services.<name>.env.vars` from
 * shipshape.yaml over them (config wins, key by key).
 *
 * ```sh
 * # The Stripe secret key (server only).
 * # @required @prefix sk_live_ @env production
 * # @secret @rotate 90d
 * STRIPE_SECRET_KEY=
 * # @format enum(development,preview,production)
 * APP_ENV=development
 * ```
 */
import { parseDuration } from '../core/config/units.js';
import type { EnvFinding } from './check.js';
import { FORMAT_RE, type EnvVarConfig } from './config.js';
import { parseDotenv } from './dotenv.js';

/** One variable's rules, and where they were declared. */
export interface EnvVarRule extends EnvVarConfig {
  /** where the variable is declared (the example's line), if it is */
  declared?: { file: string; line: number };
}

/** Variable name → its rules. */
export type EnvSchema = Record<string, EnvVarRule>;

const TAGS = ['required', 'optional', 'format', 'prefix', 'env', 'secret', 'rotate', 'description'] as const;
const TAG_SPLIT = new RegExp(`\\s+(?=@(?:${TAGS.join('|')})\\b)`);

/** Why a `format` is not one we know, or undefined when it is fine (a regex must compile). */
export function formatProblem(format: string): string | undefined {
  if (!FORMAT_RE.test(format)) return `unknown format "${format}": expected url, email, port, json, int, number, boolean, enum(a,b,…) or regex(…)`;
  const re = /^regex\((.+)\)$/.exec(format);
  if (re) {
    try {
      new RegExp(re[1] as string, 'u');
    } catch (e) {
      return `regex(${re[1]}) does not compile: ${(e as Error).message}`;
    }
  }
  return undefined;
}

/** What a value must look like, for messages: `a URL (https://…)`. */
export function formatText(format: string): string {
  switch (format) {
    case 'url':
      return 'a URL like https://example.com';
    case 'email':
      return 'an email address like team@example.com (or "Name <team@example.com>")';
    case 'port':
      return 'a port number from 1 to 65535';
    case 'json':
      return 'valid JSON';
    case 'int':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false (or 1/0, yes/no)';
    default: {
      const en = /^enum\((.+)\)$/.exec(format);
      if (en) return `one of ${enumValues(format).join(', ')}`;
      const re = /^regex\((.+)\)$/.exec(format);
      return re ? `a value matching /${re[1]}/` : format;
    }
  }
}

function enumValues(format: string): string[] {
  const en = /^enum\((.+)\)$/.exec(format);
  return en ? (en[1] as string).split(',').map((s) => s.trim()).filter(Boolean) : [];
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** Whether `value` has the format. */
export function matchesFormat(format: string, value: string): boolean {
  switch (format) {
    case 'url': {
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return false;
      try {
        const u = new URL(value);
        return !/^https?:$/.test(u.protocol) || u.hostname !== '';
      } catch {
        return false;
      }
    }
    case 'email': {
      const named = /^[^<>]*<([^<>]+)>$/.exec(value.trim());
      return EMAIL.test(named ? (named[1] as string) : value);
    }
    case 'port':
      return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;
    case 'json':
      try {
        JSON.parse(value);
        return true;
      } catch {
        return false;
      }
    case 'int':
      return /^[-+]?\d+$/.test(value);
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value));
    case 'boolean':
      return /^(true|false|1|0|yes|no|on|off)$/i.test(value);
    default: {
      if (format.startsWith('enum(')) return enumValues(format).includes(value);
      const re = /^regex\((.+)\)$/.exec(format);
      if (!re) return true;
      try {
        return new RegExp(re[1] as string, 'u').test(value);
      } catch {
        return true; // reported where the schema was read
      }
    }
  }
}

/**
 * The schema an annotated `.env.example` declares: every name it lists, with the `@…` rules in
 * the comment lines directly above it (other comment text becomes the description). Bad
 * annotations are findings against the example's lines; its own syntax problems are not
 * reported (it is a template).
 */
export function schemaFromExample(text: string, file: string): { schema: EnvSchema; findings: EnvFinding[] } {
  const parsed = parseDotenv(text, file);
  const schema: EnvSchema = {};
  const findings: EnvFinding[] = [];
  parsed.entries.forEach((entry, i) => {
    const rule: EnvVarRule = { declared: { file, line: entry.line } };
    const words: string[] = [];
    const comments = parsed.comments[i] ?? [];
    comments.forEach((comment, j) => {
      const line = entry.line - comments.length + j;
      if (!comment.startsWith('@')) {
        // a section heading (`--- Stripe ---`) is not the variable's description
        if (comment && !/^[-=*#~]{3,}|[-=*#~]{3,}$/.test(comment)) words.push(comment);
        return;
      }
      for (const part of comment.split(TAG_SPLIT)) {
        const m = /^@([A-Za-z_-]+)(?:\s+(.*))?$/.exec(part.trim());
        const bad = (message: string) => findings.push({ file, line, name: entry.key, code: 'bad-annotation', severity: 'error', message });
        if (!m) {
          bad(`cannot read "${part.trim()}": expected @required, @format …, @prefix …, @env …, @secret or @rotate …`);
          continue;
        }
        const tag = m[1] as string;
        const arg = (m[2] ?? '').trim();
        switch (tag) {
          case 'required':
            rule.required = true;
            break;
          case 'optional':
            rule.required = false;
            break;
          case 'secret':
            rule.secret = true;
            break;
          case 'description':
            if (arg) words.push(arg);
            break;
          case 'format': {
            const problem = arg ? formatProblem(arg) : 'expected a format after @format';
            if (problem) bad(`@format: ${problem}`);
            else rule.format = arg;
            break;
          }
          case 'prefix':
            if (!arg || /\s/.test(arg)) bad('@prefix: expected one prefix, e.g. @prefix sk_live_');
            else rule.prefix = arg;
            break;
          case 'env': {
            const envs = arg.split(/[\s,]+/).filter(Boolean);
            if (envs.length === 0) bad('@env: expected environment names, e.g. @env production or @env production,staging');
            else rule.env = envs;
            break;
          }
          case 'rotate': {
            const ms = parseDuration(arg);
            if (ms === undefined || ms <= 0) bad(`@rotate: expected a duration like 30d or 12w, got "${arg}"`);
            else rule.rotate = ms;
            break;
          }
          default:
            bad(`unknown annotation @${tag}: expected @required, @optional, @format, @prefix, @env, @secret, @rotate or @description`);
        }
      }
    });
    if (words.length) rule.description = words.join(' ').slice(0, 1000);
    // a name listed twice: the later declaration's rules add to the earlier's
    schema[entry.key] = { ...schema[entry.key], ...rule };
  });
  return { schema, findings };
}

/** The example's schema with the config's `vars` over it (config wins, rule by rule). */
export function mergeSchema(example: EnvSchema, vars: Record<string, EnvVarConfig> = {}): EnvSchema {
  const out: EnvSchema = { ...example };
  for (const [name, rule] of Object.entries(vars)) {
    const defined = Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined)) as EnvVarConfig;
    out[name] = { ...out[name], ...defined };
  }
  return out;
}

/** Whether a variable's rules (required, format, prefix) apply in `env`: everywhere when it names none. */
export function appliesIn(rule: EnvVarConfig, env: string | undefined): boolean {
  if (!rule.env || rule.env.length === 0) return true;
  return env !== undefined && rule.env.includes(env);
}

/** Optimal-string-alignment (Damerau–Levenshtein) distance, for "did you mean …". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The closest of `names` to `name` when it is close enough to be a typo (case-insensitive). */
export function closest(name: string, names: Iterable<string>): string | undefined {
  const upper = name.toUpperCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(upper, n.toUpperCase());
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 4)));
  return best !== undefined && bestD <= limit ? best : undefined;
}
