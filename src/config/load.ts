/**
 * Loads shipshape.yaml: `${VAR}` / `${VAR:-default}` / `${VAR:?message}` interpolation from the
 * environment, YAML parsing that keeps positions, zod validation, and errors that name the file,
 * line, column and key path and say what was expected.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { compileCondition, type CompiledCondition } from '../checks/conditions.js';
import { kindByName } from '../checks/kinds/index.js';
import { configSchema, KIND_NAMES, type RawConfig } from './schema.js';

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

export interface CheckDef {
  /** `service/name` */
  id: string;
  service: string;
  name: string;
  kind: string;
  /** the kind's block with every/timeout resolved (ms) */
  spec: Record<string, unknown> & { every: number; timeout: number };
  every: number;
  timeout: number;
  /** user conditions first, then those implied by the spec */
  conditions: CompiledCondition[];
  downAfter: number;
  upAfter: number;
  target: string;
  /** the first path segment of every value the conditions read (`body`, `status`, `cert`…) */
  uses: ReadonlySet<string>;
}

export interface ServiceDef {
  name: string;
  description?: string;
  checks: CheckDef[];
}

export interface Config {
  file: string;
  raw: RawConfig;
  services: ServiceDef[];
  checks: Map<string, CheckDef>;
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

function positionOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } {
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
  const target = best ?? keyNode;
  const offset = target?.range?.[0] ?? 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function zodMessage(issue: z.core.$ZodIssue, raw: unknown): string {
  const at = issue.path.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<PropertyKey, unknown>)[k] : undefined), raw);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys;
      const parent = issue.path[issue.path.length - 2];
      if (parent === 'checks' || (issue.path.length >= 3 && issue.path[issue.path.length - 2] === 'checks')) {
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}: a check has name, conditions, down_after, up_after and one kind (${KIND_NAMES.join(', ')})`;
      }
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    case 'invalid_type': {
      const got = at === undefined ? 'nothing' : at === null ? 'null' : Array.isArray(at) ? 'a list' : typeof at === 'object' ? 'a mapping' : `${typeof at} ${JSON.stringify(at)}`;
      if (at === undefined) return `is required (expected ${issue.expected})`;
      return `expected ${issue.expected}, got ${got}`;
    }
    default:
      // an empty value usually comes from an unset ${VAR}: say so rather than only "too small"
      return at === '' ? `${issue.message} (the value is empty: is the variable it comes from set?)` : issue.message;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Parse and validate config text. Throws ConfigError. */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
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

  const raw = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const pos = positionOf(doc, lc, issue.path);
      issues.push({ file, line: pos.line, column: pos.column, path: pathToString(issue.path), message: zodMessage(issue, raw) });
    }
    throw new ConfigError(issues);
  }
  return normalize(parsed.data, file, [...warnings]);
}

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read config: ${why}` }]);
  }
  return parseConfig(text, file, opts);
}

function normalize(raw: RawConfig, file: string, warnings: string[]): Config {
  const services: ServiceDef[] = [];
  const checks = new Map<string, CheckDef>();
  const issues: ConfigIssue[] = [];
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    const defs: CheckDef[] = [];
    const used = new Map<string, number>();
    svc.checks.forEach((c, i) => {
      const rec = c as Record<string, unknown>;
      const kindName = KIND_NAMES.find((k) => rec[k] !== undefined) as string;
      const kind = kindByName(kindName);
      if (!kind) return;
      const block = rec[kindName] as Record<string, unknown>;
      let checkName = c.name;
      if (!checkName) {
        const n = (used.get(kindName) ?? 0) + 1;
        used.set(kindName, n);
        checkName = n === 1 ? kindName : `${kindName}-${n}`;
      }
      const id = `${serviceName}/${checkName}`;
      if (checks.has(id)) {
        issues.push({ file, line: 0, column: 0, path: `services.${serviceName}.checks[${i}].name`, message: `duplicate check name "${checkName}" in service ${serviceName}` });
        return;
      }
      const every = (block.every as number | undefined) ?? kind.defaultEvery ?? raw.defaults.every;
      const timeout = Math.min((block.timeout as number | undefined) ?? raw.defaults.timeout, every);
      const spec = { ...block, every, timeout };
      const implied = kind.impliedConditions(spec as never, c.conditions);
      const def: CheckDef = {
        id,
        service: serviceName,
        name: checkName,
        kind: kindName,
        spec,
        every,
        timeout,
        conditions: [...c.conditions, ...implied].map((t) => compileCondition(t)),
        uses: new Set<string>(),
        downAfter: c.down_after ?? raw.defaults.down_after,
        upAfter: c.up_after ?? raw.defaults.up_after,
        target: kind.describe(spec as never),
      };
      def.uses = new Set(def.conditions.map((cond) => cond.subject.path[0] as string));
      defs.push(def);
      checks.set(id, def);
    });
    services.push({ name: serviceName, description: svc.description, checks: defs });
  }
  if (issues.length) throw new ConfigError(issues);
  if (Object.values(raw.services).some((svc) => svc.sentry) && raw.ingest.tokens.some((t) => !/^[A-Za-z0-9_]+$/.test(t))) {
    warnings.push(`${file}: ingest.tokens: Sentry SDKs accept only letters, digits and "_" in a DSN key; a token with other characters cannot be used in a DSN`);
  }
  return { file, raw, services, checks, warnings };
}
