/**
 * Loads shipshape.yaml: `${VAR}` / `${VAR:-default}` / `${VAR:?message}` interpolation from the
 * environment, YAML parsing that keeps positions, zod validation, and errors that name the file,
 * line, column and key path and say what was expected.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { ConfigFinding } from '../module.js';
import { isSecretName, redactUrlCredentials } from '../redact.js';
import type { CoreConfig } from './schema.js';

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** key path like services.web.checks[0].http.every */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** A loaded, validated config. `raw` is the schema's output; modules read their own sections. */
export interface Config<Raw = CoreConfig> {
  file: string;
  raw: Raw;
  /** things worth a log line that are not errors (unset variables…) */
  warnings: string[];
}

const VAR_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-|:\?)([^}]*))?\}/g;

/** Replace `${VAR}` forms in one string. Unset variables without a default become "" (with a warning), like docker compose. */
export function interpolate(text: string, env: NodeJS.ProcessEnv, onUnset: (name: string) => void, onRequired: (name: string, msg: string) => void): string {
  return text.replace(VAR_RE, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name as string];
    if (op === ':-' || op === '-') {
      if (value === undefined || (op === ':-' && value === '')) return arg ?? '';
      return value;
    }
    if (op === ':?') {
      if (value === undefined || value === '') {
        onRequired(name as string, arg || `${name} must be set`);
        return '';
      }
      return value;
    }
    if (value === undefined) {
      onUnset(name as string);
      return '';
    }
    return value;
  });
}

function pathToString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function positionOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[], atKey = false): { line: number; column: number } {
  // walk down as far as the path exists; report the deepest node found
  let node: unknown = doc.contents;
  let best: Node | null = (doc.contents as Node | null) ?? null;
  let keyNode: Node | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
      best = (pair.value as Node | null) ?? keyNode;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) break;
      best = node as Node;
      keyNode = null;
    } else break;
  }
  const target = (atKey ? keyNode : null) ?? best ?? keyNode;
  const offset = target?.range?.[0] ?? 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** A key path whose values may be secrets: `…password`, `…token`, `headers.*`, `env.*`, `…dsn`… */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((seg) => typeof seg === 'string' && (isSecretName(seg) || seg === 'headers' || seg === 'env' || seg === 'tokens'));
}

/** A message about a value that must not show it: secret paths hide the value, URLs lose their passwords. */
function maskMessage(message: string, path: readonly PropertyKey[], at: unknown): string {
  let out = message;
  if (isSecretPath(path) && (typeof at === 'string' || typeof at === 'number') && String(at).length >= 3) {
    out = out.split(JSON.stringify(at)).join('"***"').split(String(at)).join('***');
  }
  return redactUrlCredentials(out);
}

function zodMessage(issue: z.core.$ZodIssue, raw: unknown, hints: LoadOptions['hints']): string {
  const at = issue.path.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<PropertyKey, unknown>)[k] : undefined), raw);
  return maskMessage(zodText(issue, at, hints), issue.path, at);
}

function zodText(issue: z.core.$ZodIssue, at: unknown, hints: LoadOptions['hints']): string {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys;
      const hint = hints?.unknownKey?.(issue.path);
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}${hint ? `: ${hint}` : ''}`;
    }
    case 'invalid_type': {
      const shown = isSecretPath(issue.path) ? '(value hidden)' : JSON.stringify(at);
      const got = at === undefined ? 'nothing' : at === null ? 'null' : Array.isArray(at) ? 'a list' : typeof at === 'object' ? 'a mapping' : `${typeof at} ${shown}`;
      if (at === undefined) return `is required (expected ${issue.expected})`;
      return `expected ${issue.expected}, got ${got}`;
    }
    default:
      // an empty value usually comes from an unset ${VAR}: say so rather than only "too small"
      return at === '' ? `${issue.message} (the value is empty: is the variable it comes from set?)` : issue.message;
  }
}

export interface LoadOptions {
  /** the whole schema (core + modules), see buildConfigSchema */
  schema: z.ZodType;
  /** cross-key checks that run once the schema passed (the modules' `config.validate`) */
  validate?: (raw: never) => ConfigFinding[];
  /** extra words for messages, e.g. what a check may contain when it has an unknown key */
  hints?: { unknownKey?(path: readonly PropertyKey[]): string | undefined };
  env?: NodeJS.ProcessEnv;
}

/** Parse and validate config text. Throws ConfigError. */
export function parseConfig<Raw = CoreConfig>(text: string, file: string, opts: LoadOptions): Config<Raw> {
  const env = opts.env ?? process.env;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  for (const err of doc.errors) {
    const pos = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
    issues.push({ file, line: pos.line, column: pos.col, path: '', message: `invalid YAML: ${err.message.split('\n')[0]}` });
  }
  if (issues.length) throw new ConfigError(issues);

  const warnings = new Set<string>();
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.includes('$')) {
        node.value = interpolate(
          node.value,
          env,
          (n) => warnings.add(`${file}: variable \${${n}} is not set; using an empty value`),
          (n, msg) => {
            const p = lc.linePos(node.range?.[0] ?? 0);
            issues.push({ file, line: p.line, column: p.col, path: '', message: `\${${n}}: ${msg}` });
          },
        );
      }
    },
  });
  if (issues.length) throw new ConfigError(issues);

  let raw: unknown;
  try {
    // an alias bomb (a billion laughs) stops here instead of eating memory
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (e) {
    let offset = 0;
    visit(doc, {
      Alias(_k, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const p = lc.linePos(offset);
    const why = /alias/i.test((e as Error).message) ? 'too many aliases (a YAML alias bomb?); expand the aliases or use fewer' : (e as Error).message;
    throw new ConfigError([{ file, line: p.line, column: p.col, path: '', message: `invalid YAML: ${why}` }]);
  }
  const parsed = opts.schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // an unknown key is reported at the key itself, not at the mapping that holds it
      const path = issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...issue.path, issue.keys[0] as string] : issue.path;
      const pos = positionOf(doc, lc, path, issue.code === 'unrecognized_keys');
      issues.push({ file, line: pos.line, column: pos.column, path: pathToString(issue.path), message: zodMessage(issue, raw, opts.hints) });
    }
    throw new ConfigError(issues);
  }
  const out = [...warnings];
  for (const f of opts.validate?.(parsed.data as never) ?? []) {
    if (f.warning) {
      out.push(`${file}: ${pathToString(f.path)}: ${f.message}`);
      continue;
    }
    const pos = positionOf(doc, lc, f.path);
    issues.push({ file, line: pos.line, column: pos.column, path: pathToString(f.path), message: redactUrlCredentials(f.message) });
  }
  if (issues.length) throw new ConfigError(issues);
  return { file, raw: parsed.data as Raw, warnings: out };
}

export function loadConfig<Raw = CoreConfig>(file: string, opts: LoadOptions): Config<Raw> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read config: ${why}` }]);
  }
  return parseConfig<Raw>(text, file, opts);
}
