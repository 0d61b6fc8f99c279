/**
 * The condition language, read like Gatus': `status == 200`, `latency < 300ms`,
 * `body.status == "healthy"`, `cert.days > 14`, `connections_used < 80%`, `len(body.items) > 0`,
 * `body contains "ok"`, `status in [200, 204]`, `status == 2xx`.
 *
 * Gatus' own conditions are accepted as Gatus writes them and judged as Gatus judges them: a
 * condition that names a Gatus placeholder (`[STATUS]`, `[BODY].user.name`, `[IP]`,
 * `[CONNECTED]`, `[RESPONSE_TIME]`, `[CERTIFICATE_EXPIRATION]`, `[DOMAIN_EXPIRATION]`,
 * `[DNS_RCODE]`) or a Gatus function (`pat(…)`, `any(…)`), or that comes from a Gatus
 * `endpoints:` entry, resolves each side to text the way Gatus does (its JSON path walk, `len` and
 * `has`), compares `==`/`!=` as integers when both sides read as one (`0x1 == 1`) and as text
 * otherwise, and `<`/`>` as numbers (durations in milliseconds, anything else 0). Unquoted words
 * are text (`[BODY].status == UP`, `[IP] == 127.0.0.1`), either side may be a placeholder or a
 * literal (`[STATUS] == [BODY].status`, `1 == 1`). Shipshape's own forms (quoted strings, units,
 * status classes, `in`, `contains`, `matches`, `null`) work inside them too.
 */
import { isIP } from 'node:net';
import { formatDuration, formatPercent, formatSize, parseDuration, parsePercent, parseSize } from '../core/config/units.js';
import type { ConditionOutcome, Observation } from './types.js';

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

type Unit = 'duration' | 'percent' | 'size' | 'plain';

type Literal =
  | { type: 'number'; value: number; unit: Unit; text: string }
  /** `bare`: an unquoted word (`UP`, `127.0.0.1`, `0x1`) */
  | { type: 'string'; value: string; text: string; bare?: boolean }
  | { type: 'bool'; value: boolean; text: string }
  | { type: 'null'; text: string }
  | { type: 'class'; value: number; text: string } // 2xx
  | { type: 'regex'; value: RegExp; text: string }
  | { type: 'list'; items: Literal[]; text: string };

type Op = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | '!contains' | 'in' | 'matches';

/** Gatus' placeholders. */
const GATUS_NAMES = ['STATUS', 'RESPONSE_TIME', 'BODY', 'CONNECTED', 'CERTIFICATE_EXPIRATION', 'DOMAIN_EXPIRATION', 'IP', 'DNS_RCODE'] as const;
type GatusName = (typeof GATUS_NAMES)[number];

/** Where a placeholder reads from among a kind's observed values. */
const PLACEHOLDERS: Record<GatusName, string> = {
  STATUS: 'status',
  RESPONSE_TIME: 'latency',
  BODY: 'body',
  CONNECTED: 'connected',
  CERTIFICATE_EXPIRATION: 'cert.expires_in',
  DOMAIN_EXPIRATION: 'domain.expires_in',
  IP: 'ip',
  DNS_RCODE: 'rcode',
};

/** What a condition reads: its first value (compatible with the alert rules' `check_value`). */
interface Subject {
  path: string[];
  fn?: 'len' | 'has';
  text: string;
}

/** One side of a condition. */
type Operand =
  | {
      k: 'value';
      path: string[];
      fn?: 'len' | 'has';
      text: string;
      /** a Gatus placeholder; `jsonPath` is what follows `[BODY]` (`data[0].id`), '' for the whole body */
      gatus?: { name: GatusName; jsonPath?: string };
    }
  /** len()/has() of something that is not a placeholder (Gatus: has → false, len → invalid) */
  | { k: 'fnLiteral'; fn: 'len' | 'has'; text: string }
  | { k: 'literal'; lit: Literal; text: string }
  | { k: 'pat'; pattern: string; text: string }
  | { k: 'any'; options: string[]; text: string };

export interface CompiledCondition {
  text: string;
  /** the first value the condition reads (the left side, or the right one when the left is a literal) */
  subject: Subject;
  op?: Op;
  /** the right side when it is a literal */
  value?: Literal;
  left: Operand;
  right?: Operand;
  /** judged as Gatus judges it (a Gatus placeholder or function, or a Gatus endpoint's condition) */
  gatus: boolean;
  /** the first segment of every value either side reads (`status`, `body`, `body_text`, `domain`…) */
  roots: string[];
}

const GATUS_HINT = new RegExp(`\\[(${GATUS_NAMES.join('|')})\\]|(^|[\\s(])(pat|any)\\(`, 'i');

class Reader {
  pos = 0;
  constructor(
    readonly src: string,
    readonly gatus: boolean,
  ) {}
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
  }
  peek(n = 1): string {
    return this.src.slice(this.pos, this.pos + n);
  }
  rest(): string {
    return this.src.slice(this.pos);
  }
  eof(): boolean {
    this.ws();
    return this.pos >= this.src.length;
  }
  fail(msg: string, at = this.pos): never {
    throw new ConditionSyntaxError(msg, at + 1);
  }
}

/** `[STATUS]`, `[BODY].user.name`, `[BODY][0].id` (names are case-insensitive, as in Gatus). */
function readPlaceholder(r: Reader): Extract<Operand, { k: 'value' }> | undefined {
  const m = /^\[([A-Za-z_]+)\]/.exec(r.rest());
  if (!m) return undefined;
  const start = r.pos;
  const upper = (m[1] as string).toUpperCase();
  if (upper === 'CONTEXT') r.fail('[CONTEXT] belongs to Gatus suites, which Shipshape does not run');
  if (!(GATUS_NAMES as readonly string[]).includes(upper)) r.fail(`unknown placeholder [${m[1]}] (known: ${GATUS_NAMES.map((n) => `[${n}]`).join(' ')})`);
  const name = upper as GatusName;
  r.pos += m[0].length;
  const path = PLACEHOLDERS[name].split('.');
  if (name !== 'BODY') {
    if (/^[.[]/.test(r.peek())) r.fail(`[${name}] has no fields; only [BODY] takes a path like [BODY].status`);
    return { k: 'value', path, text: r.src.slice(start, r.pos), gatus: { name } };
  }
  // a JSON path as Gatus reads it: keys split on ".", indexes in brackets; a key is anything else
  const pathStart = r.pos;
  for (;;) {
    if (r.peek() === '.') {
      r.pos++;
      const k = /^[^\s.[\]()]+/.exec(r.rest());
      if (!k) r.fail('expected a field name after "."');
      path.push(k[0]);
      r.pos += k[0].length;
    } else if (r.peek() === '[') {
      const k = /^\[(\d+)\]/.exec(r.rest());
      if (!k) r.fail('expected an index like [0]');
      path.push(k[1] as string);
      r.pos += k[0].length;
    } else break;
  }
  const jsonPath = r.src.slice(pathStart, r.pos).replace(/^\./, '');
  return { k: 'value', path, text: r.src.slice(start, r.pos), gatus: { name, jsonPath } };
}

/** A Shipshape value name: `status`, `body.checks.db.status`, `body.items[0]`. */
function readName(r: Reader): string[] {
  const parts: string[] = [];
  const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(r.rest());
  if (!m) r.fail('expected a value name such as status, latency or body.status');
  parts.push(m[0]);
  r.pos += m[0].length;
  for (;;) {
    if (r.peek() === '.') {
      r.pos++;
      const k = /^[A-Za-z0-9_$-]+/.exec(r.rest());
      if (!k) r.fail('expected a field name after "."');
      parts.push(k[0]);
      r.pos += k[0].length;
    } else if (r.peek() === '[') {
      const k = /^\[(\d+)\]/.exec(r.rest());
      if (!k) r.fail('expected an index like [0]');
      parts.push(k[1] as string);
      r.pos += k[0].length;
    } else break;
  }
  return parts;
}

const OPS: Op[] = ['==', '!=', '<=', '>=', '<', '>', '!contains', 'contains', 'in', 'matches'];
/** Gatus' operators, in the order Gatus looks for them. */
const GATUS_OPS = [' == ', ' != ', ' <= ', ' >= ', ' > ', ' < '];

/** `pat(…)` / `any(…)`: on the right they run to the end; on the left, to the operator (as Gatus splits). */
function readGatusFunction(r: Reader, side: 'left' | 'right'): Operand | undefined {
  const m = /^(pat|any)\(/.exec(r.rest());
  if (!m) return undefined;
  const start = r.pos;
  let end: number;
  if (side === 'right') {
    end = r.src.trimEnd().length;
  } else {
    const rest = r.rest();
    const at = GATUS_OPS.map((op) => rest.indexOf(op)).find((i) => i >= 0);
    if (at === undefined) r.fail(`${m[1]}(…) needs an operator after it, like ${m[1]}(…) == [STATUS]`);
    end = r.pos + at;
  }
  const text = r.src.slice(start, end).trim();
  if (!text.endsWith(')')) r.fail(`expected ")" to close ${m[1]}(`, end);
  const inner = text.slice(4, -1);
  r.pos = start + text.length;
  if (m[1] === 'pat') return { k: 'pat', pattern: inner, text };
  return { k: 'any', options: inner.split(',').map((o) => o.trim()), text };
}

function readOperand(r: Reader, side: 'left' | 'right'): Operand {
  r.ws();
  const start = r.pos;
  if (r.gatus) {
    const f = readGatusFunction(r, side);
    if (f) return f;
  }
  const fn = /^(len|has)\s*\(/.exec(r.rest());
  if (fn) {
    r.pos += fn[0].length;
    r.ws();
    const name = fn[1] as 'len' | 'has';
    let inner: Extract<Operand, { k: 'value' }> | undefined = readPlaceholder(r);
    if (!inner && !r.gatus) inner = { k: 'value', path: readName(r), text: '' };
    if (!inner) {
      // Gatus: has() of something that is not a placeholder is false, len() of it invalid
      const close = r.src.indexOf(')', r.pos);
      if (close < 0) r.fail(`expected ")" to close ${name}(`);
      r.pos = close + 1;
      return { k: 'fnLiteral', fn: name, text: r.src.slice(start, r.pos) };
    }
    r.ws();
    if (r.peek() !== ')') r.fail(`expected ")" to close ${name}(`);
    r.pos++;
    return { ...inner, fn: name, text: r.src.slice(start, r.pos) };
  }
  const ph = readPlaceholder(r);
  if (ph) return ph;
  // a value name on the left (Shipshape); in Gatus' language every unbracketed word is a literal
  if (side === 'left' && !r.gatus && /^[A-Za-z_]/.test(r.peek())) {
    const path = readName(r);
    return { k: 'value', path, text: r.src.slice(start, r.pos) };
  }
  if (side === 'left' && !r.gatus && !/^(["'/]|-?\d)/.test(r.peek())) r.fail('expected a value name such as status, latency or body.status');
  const lit = readLiteral(r, side);
  return { k: 'literal', lit, text: lit.text };
}

function readOp(r: Reader): Op | undefined {
  r.ws();
  if (r.pos >= r.src.length) return undefined;
  const rest = r.rest();
  if (/^not\s+contains\b/.test(rest)) {
    r.pos += (/^not\s+contains/.exec(rest) as RegExpExecArray)[0].length;
    return '!contains';
  }
  for (const op of OPS) {
    if (rest.startsWith(op)) {
      const word = /^[a-z!]/.test(op);
      if (word && /[A-Za-z0-9_]/.test(rest[op.length] ?? '')) continue;
      r.pos += op.length;
      return op;
    }
  }
  return r.fail(`expected an operator (${OPS.join(' ')})`);
}

/** A typed reading of one word: true/false/null, 2xx, numbers (also 0x1, 0o7, 0b1), 500ms, 80%, 100KB. */
function typedWord(word: string): Literal | undefined {
  if (word === 'true' || word === 'false') return { type: 'bool', value: word === 'true', text: word };
  if (word === 'null') return { type: 'null', text: word };
  const cls = /^([1-5])xx$/i.exec(word);
  if (cls) return { type: 'class', value: Number(cls[1]), text: word };
  if (/^-?\d+(\.\d+)?$/.test(word)) return { type: 'number', value: Number(word), unit: 'plain', text: word };
  if (/^0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)$/.test(word)) return { type: 'number', value: Number(word), unit: 'plain', text: word };
  const pct = parsePercent(word);
  if (pct !== undefined) return { type: 'number', value: pct, unit: 'percent', text: word };
  const dur = parseDuration(word);
  if (dur !== undefined) return { type: 'number', value: dur, unit: 'duration', text: word };
  const size = parseSize(word);
  if (size !== undefined) return { type: 'number', value: size, unit: 'size', text: word };
  return undefined;
}

function readLiteral(r: Reader, side: 'left' | 'right' | 'list'): Literal {
  r.ws();
  const start = r.pos;
  const c = r.peek();
  if (c === '"' || c === "'") {
    let out = '';
    r.pos++;
    while (r.pos < r.src.length && r.peek() !== c) {
      if (r.peek() === '\\') {
        r.pos++;
      }
      out += r.peek();
      r.pos++;
    }
    if (r.peek() !== c) r.fail('unterminated string', start);
    r.pos++;
    return { type: 'string', value: out, text: r.src.slice(start, r.pos) };
  }
  if (c === '/' && !r.gatus) {
    const end = r.src.indexOf('/', r.pos + 1);
    if (end < 0) r.fail('unterminated regular expression', start);
    const body = r.src.slice(r.pos + 1, end);
    r.pos = end + 1;
    try {
      return { type: 'regex', value: new RegExp(body), text: r.src.slice(start, r.pos) };
    } catch (e) {
      return r.fail(`invalid regular expression: ${(e as Error).message}`, start);
    }
  }
  if (c === '/' && r.gatus && /^\/.*\/$/.test(r.rest().trim()) && side === 'right') {
    const text = r.rest().trim();
    r.pos = start + text.length;
    try {
      return { type: 'regex', value: new RegExp(text.slice(1, -1)), text };
    } catch (e) {
      return r.fail(`invalid regular expression: ${(e as Error).message}`, start);
    }
  }
  if (c === '[') {
    r.pos++;
    const items: Literal[] = [];
    r.ws();
    while (r.peek() !== ']') {
      if (r.pos >= r.src.length) r.fail('expected "]" to close the list', start);
      items.push(readLiteral(r, 'list'));
      r.ws();
      if (r.peek() === ',') {
        r.pos++;
        r.ws();
      } else if (r.peek() !== ']') r.fail('expected "," or "]" in list');
    }
    r.pos++;
    return { type: 'list', items, text: r.src.slice(start, r.pos) };
  }
  if (r.gatus && side === 'right') {
    // Gatus: the right side is everything after the operator (`[BODY].name == john doe`)
    const text = r.rest().trim();
    if (text === '') r.fail('expected a value');
    r.pos = start + text.length;
    return typedWord(text) ?? { type: 'string', value: text, text, bare: true };
  }
  const m = /^[^\s,\]]+/.exec(r.rest());
  if (!m) r.fail('expected a value');
  const word = m[0];
  r.pos += word.length;
  const typed = typedWord(word);
  if (typed) return typed;
  // an unquoted word is text: `UP`, `healthy`, `127.0.0.1`, `::1` (not `2OO` or `5parsecs`: likely typos)
  if (r.gatus || /^[A-Za-z_]/.test(word) || isIP(word) !== 0) return { type: 'string', value: word, text: word, bare: true };
  return r.fail(`"${word}" is not a number, duration (500ms), percentage (80%), size (100KB), status class (2xx), quoted string, true/false or null`, start);
}

function rootsOf(o: Operand | undefined): string[] {
  if (!o || o.k !== 'value') return [];
  const roots = [o.path[0] as string];
  // the whole body as text (Gatus' `[BODY]`, `len([BODY])`, `has([BODY])`) is the raw text
  if (o.gatus?.name === 'BODY' && o.gatus.jsonPath === '') roots.push('body_text');
  return roots;
}

export interface CompileOptions {
  /** judge it as Gatus does even without a placeholder (a condition of a Gatus `endpoints:` entry) */
  gatus?: boolean;
}

/** Parse a condition once (at config load) so syntax errors point at the config line and column. */
export function compileCondition(text: string, opts: CompileOptions = {}): CompiledCondition {
  const gatus = opts.gatus === true || GATUS_HINT.test(text);
  const r = new Reader(text, gatus);
  const left = readOperand(r, 'left');
  const first = left.k === 'value' ? left : undefined;
  if (r.eof()) {
    if (!first) return r.fail('a condition compares two values, like [STATUS] == 200');
    return { text, subject: { path: first.path, fn: first.fn, text: first.text }, left, gatus, roots: rootsOf(left) };
  }
  const op = readOp(r) as Op;
  const right = readOperand(r, 'right');
  if (!r.eof()) r.fail(`unexpected "${r.rest()}" after the condition`);
  const value = right.k === 'literal' ? right.lit : undefined;
  if (op === 'in' && value?.type !== 'list') r.fail('"in" needs a list like [200, 204]', r.pos - right.text.length);
  if (op === 'matches' && value?.type !== 'regex' && value?.type !== 'string') r.fail('"matches" needs a /regex/ or a string');
  const subjectOperand = first ?? (right.k === 'value' ? right : undefined);
  const subject: Subject = subjectOperand ? { path: subjectOperand.path, fn: subjectOperand.fn, text: subjectOperand.text } : { path: [], text: left.text };
  const roots = [...new Set([...rootsOf(left), ...rootsOf(right)])];
  return { text, subject, op, value, left, right, gatus, roots };
}

function lookup(values: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = values;
  for (const p of path) {
    if (cur === null || cur === undefined) return undefined;
    if (typeof cur === 'string' && path[0] === 'body') {
      // a JSON path into a body that was not JSON
      return undefined;
    }
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

function formatActual(v: unknown, unit: Unit): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') {
    if (unit === 'duration') return formatDuration(v);
    if (unit === 'percent') return formatPercent(v);
    if (unit === 'size') return formatSize(v);
    return String(Number.isInteger(v) ? v : Number(v.toFixed(3)));
  }
  if (typeof v === 'string') {
    const s = v.length > 80 ? `${v.slice(0, 77)}...` : v;
    return JSON.stringify(s);
  }
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
}

function equals(actual: unknown, lit: Literal): boolean {
  switch (lit.type) {
    case 'null':
      return actual === null || actual === undefined;
    case 'bool':
      return actual === lit.value;
    case 'class': {
      const n = toNumber(actual);
      return n !== undefined && Math.floor(n / 100) === lit.value;
    }
    case 'number': {
      const n = toNumber(actual);
      return n !== undefined && n === lit.value;
    }
    case 'string':
      return actual !== undefined && actual !== null && String(actual) === lit.value;
    case 'regex':
      return typeof actual === 'string' && lit.value.test(actual);
    case 'list':
      return lit.items.some((i) => equals(actual, i));
  }
}

function unitOf(lit: Literal | undefined): Unit {
  if (!lit) return 'plain';
  if (lit.type === 'number') return lit.unit;
  if (lit.type === 'list') return unitOf(lit.items[0]);
  return 'plain';
}

function literalValue(lit: Literal): unknown {
  switch (lit.type) {
    case 'null':
      return null;
    case 'list':
      return lit.items.map(literalValue);
    case 'class':
    case 'regex':
      return lit.text;
    default:
      return lit.value;
  }
}

/** Shipshape's typed comparison of a value with a literal (also used for Shipshape's operators inside Gatus conditions). */
function compareTyped(op: Op, actual: unknown, lit: Literal): boolean {
  switch (op) {
    case '==':
      return equals(actual, lit);
    case '!=':
      return !equals(actual, lit);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const a = toNumber(actual);
      const b = lit.type === 'number' ? lit.value : toNumber(lit.type === 'string' ? lit.value : undefined);
      if (a === undefined || b === undefined) return false;
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    case 'contains':
    case '!contains': {
      let has: boolean;
      const needle = lit.type === 'string' ? lit.value : lit.text;
      if (typeof actual === 'string') has = actual.includes(needle);
      else if (Array.isArray(actual)) has = actual.some((x) => equals(x, lit));
      else if (actual && typeof actual === 'object') has = JSON.stringify(actual).includes(needle);
      else has = false;
      return op === 'contains' ? has : !has;
    }
    case 'in':
      return equals(actual, lit);
    case 'matches':
      return typeof actual === 'string' && (lit.type === 'regex' ? lit.value : new RegExp(lit.type === 'string' ? lit.value : '')).test(actual);
  }
}

/** Judge one compiled condition against an observation. */
export function evaluate(cond: CompiledCondition, obs: Observation): ConditionOutcome {
  if (cond.gatus) return evaluateGatus(cond, obs);
  const values = { ...obs.values, latency: obs.latencyMs };
  const read = (o: Operand): unknown => {
    if (o.k === 'literal') return literalValue(o.lit);
    if (o.k !== 'value') return undefined;
    let v = lookup(values, o.path);
    if (o.fn === 'len') v = Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : undefined;
    else if (o.fn === 'has') v = v !== undefined && v !== null;
    return v;
  };
  // a literal on the left (`1 == 2`) is compared like a value
  const leftIsValue = cond.left.k === 'value';
  const actual = read(cond.left);
  const unit = unitOf(cond.value);
  const shown = leftIsValue ? `${cond.subject.text} = ${formatActual(actual, unit)}` : undefined;
  if (!obs.ok && leftIsValue && actual === undefined) {
    return { condition: cond.text, ok: false, actual: obs.error ?? 'no answer' };
  }
  if (!cond.op || !cond.value) {
    return { condition: cond.text, ok: Boolean(actual), actual: shown };
  }
  return { condition: cond.text, ok: compareTyped(cond.op, actual, cond.value), ...(shown ? { actual: shown } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Gatus' semantics: every side resolves to text, as Gatus resolves it

/** One side of a Gatus condition, resolved. */
interface Resolved {
  /** the text Gatus would compare */
  s: string;
  /** a JSON path that leads nowhere, len() of it, len() of a literal (Gatus' "(INVALID)") */
  invalid: boolean;
  /** the value as a typed value, for Shipshape's operators (`in`, `contains`, `2xx`…) */
  typed: unknown;
  /** a number of milliseconds (response time, certificate and domain expiration) */
  ms?: number;
}

const parsedBodies = new WeakMap<object, { ok: boolean; v?: unknown }>();

/** The body as JSON (parsed once per observation); not ok when it is not JSON. */
function bodyJson(values: Record<string, unknown>): { ok: boolean; v?: unknown } {
  const known = parsedBodies.get(values);
  if (known) return known;
  let out: { ok: boolean; v?: unknown };
  const body = values.body;
  const text = typeof values.body_text === 'string' ? values.body_text : typeof body === 'string' ? body : undefined;
  if (body !== undefined && typeof body !== 'string') out = { ok: true, v: body };
  else if (text === undefined) out = { ok: false };
  else {
    try {
      out = { ok: true, v: JSON.parse(text) as unknown };
    } catch {
      out = { ok: false };
    }
  }
  parsedBodies.set(values, out);
  return out;
}

/** The body as text, as received (Gatus reads the raw bytes). */
function bodyText(values: Record<string, unknown>): string {
  if (typeof values.body_text === 'string') return values.body_text;
  const body = values.body;
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  return JSON.stringify(body);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON as Go's encoding/json writes a decoded value: keys sorted, <, > and & escaped. */
function goJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (isObject(x)) return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])]));
    return x;
  };
  return JSON.stringify(sort(v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A decoded JSON value as Go's `%v` prints it (`[a b]`, `map[k:v]`, `<nil>`). */
function goText(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goText).join(' ')}]`;
  if (isObject(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goText(v[k])}`).join(' ')}]`;
  return String(v);
}

/** One key of a Gatus JSON path applied to a value (`name`, `data[0]`, `[0]`, `[0][1]`). */
function extract(key: string, value: unknown): unknown {
  const open = key.indexOf('[');
  if (open >= 0 && key.endsWith(']')) {
    const close = key.indexOf(']', open);
    const index = key.slice(open + 1, close);
    if (!/^\d+$/.test(index)) return undefined;
    const i = Number(index);
    const name = key.slice(0, open);
    let arr: unknown;
    if (name === '') arr = value;
    else {
      if (!isObject(value) || value[name] === null || value[name] === undefined) return undefined;
      arr = value[name];
    }
    if (!Array.isArray(arr) || i >= arr.length) return undefined;
    const rest = key.slice(close + 1);
    return rest.startsWith('[') ? extract(rest, arr[i]) : (arr[i] as unknown);
  }
  // a key applied to a list is the list itself; to a number, text or null, that value (Gatus' walk)
  if (Array.isArray(value)) return value;
  if (isObject(value)) return value[key];
  return value;
}

/** Gatus' JSON path walk: the value as text and its length, or undefined when the path leads nowhere. */
function walk(path: string, root: unknown): { s: string; len: number; v: unknown } | undefined {
  const keys: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < path.length; i++) {
    if (path[i] === '[') depth++;
    else if (path[i] === ']') depth--;
    else if (path[i] === '.' && depth === 0) {
      keys.push(path.slice(from, i));
      from = i + 1;
    }
  }
  keys.push(path.slice(from));
  let cur = root;
  for (let i = 0; i < keys.length; i++) {
    const v = extract(keys[i] as string, cur);
    const last = i === keys.length - 1;
    if (isObject(v)) {
      if (!last) {
        cur = v;
        continue;
      }
      const s = goJson(v);
      return { s, len: s.length, v };
    }
    if (typeof v === 'string') return last ? { s: v, len: v.length, v } : undefined;
    if (Array.isArray(v)) return { s: goText(v), len: v.length, v };
    if (v === null || v === undefined) return undefined;
    const s = goText(v);
    return { s, len: s.length, v };
  }
  return undefined;
}

const INVALID: Resolved = { s: '', invalid: true, typed: undefined };

function msOf(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0;
}

function resolveGatus(o: Operand, values: Record<string, unknown>, obs: Observation): Resolved {
  switch (o.k) {
    case 'literal': {
      const lit = o.lit;
      const s = lit.type === 'string' ? lit.value : lit.text;
      return { s, invalid: false, typed: literalValue(lit), ...(lit.type === 'number' && lit.unit === 'duration' ? { ms: lit.value } : {}) };
    }
    case 'pat':
    case 'any':
      return { s: o.text, invalid: false, typed: o.text };
    case 'fnLiteral':
      return o.fn === 'has' ? { s: 'false', invalid: false, typed: false } : INVALID;
    case 'value':
      break;
  }
  if (!o.gatus) {
    const v = o.path[0] === 'latency' ? obs.latencyMs : lookup(values, o.path);
    return v === undefined ? INVALID : { s: typeof v === 'string' ? v : isObject(v) || Array.isArray(v) ? goJson(v) : String(v), invalid: false, typed: v };
  }
  const { name, jsonPath } = o.gatus;
  if (name === 'BODY') {
    const raw = bodyText(values);
    if (jsonPath === '' || jsonPath === undefined) {
      const trimmed = raw.trim();
      if (o.fn === 'has') return { s: String(trimmed.length > 0), invalid: false, typed: trimmed.length > 0 };
      if (o.fn === 'len') {
        let n = raw.length;
        if (raw.startsWith('[') && raw.endsWith(']')) {
          const j = bodyJson(values);
          n = j.ok && Array.isArray(j.v) ? j.v.length : trimmed.length;
        }
        return { s: String(n), invalid: false, typed: n };
      }
      const j = bodyJson(values);
      return { s: trimmed, invalid: false, typed: j.ok ? j.v : trimmed };
    }
    const j = bodyJson(values);
    const found = j.ok ? walk(jsonPath, j.v) : undefined;
    if (o.fn === 'has') return { s: String(found !== undefined), invalid: false, typed: found !== undefined };
    if (!found) return INVALID;
    if (o.fn === 'len') return { s: String(found.len), invalid: false, typed: found.len };
    return { s: found.s, invalid: false, typed: found.v };
  }
  let s: string;
  let typed: unknown;
  let ms: number | undefined;
  switch (name) {
    case 'STATUS':
      typed = typeof values.status === 'number' ? values.status : 0;
      s = String(typed);
      break;
    case 'IP':
      s = typeof values.ip === 'string' ? values.ip : '';
      typed = s;
      break;
    case 'RESPONSE_TIME':
      ms = msOf(obs.latencyMs);
      s = String(ms);
      typed = ms;
      break;
    case 'DNS_RCODE':
      s = typeof values.rcode === 'string' ? values.rcode : '';
      typed = s;
      break;
    case 'CONNECTED':
      typed = typeof values.connected === 'boolean' ? values.connected : obs.ok;
      s = String(typed);
      break;
    case 'CERTIFICATE_EXPIRATION':
      ms = msOf((values.cert as { expires_in?: unknown } | undefined)?.expires_in);
      s = String(ms);
      typed = ms;
      break;
    case 'DOMAIN_EXPIRATION':
      ms = msOf((values.domain as { expires_in?: unknown } | undefined)?.expires_in);
      s = String(ms);
      typed = ms;
      break;
  }
  if (o.fn === 'has') return { s: String(s !== ''), invalid: false, typed: s !== '' };
  if (o.fn === 'len') return { s: String(s.length), invalid: false, typed: s.length };
  return { s, invalid: false, typed, ...(ms !== undefined ? { ms } : {}) };
}

/** Go's strconv.ParseInt(s, 0, 64): 42, -7, 0x1F, 0o17, 017, 0b101, 1_000. */
function goInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(s);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  const body = (m[2] as string).replace(/_/g, '');
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (body.length > 1 && body.startsWith('0')) n = parseInt(body.slice(1), 8);
  else n = Number(body);
  return sign * n;
}

/** Go's strconv.ParseFloat for plain decimal numbers (`123.4`, `1e3`). */
function goFloat(s: string): number | undefined {
  if (!/^[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s.replace(/_/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration in milliseconds (`1h30m`, `500ms`, `1.5s`); no days, as in Go. */
function goDurationMs(s: string): number | undefined {
  const m = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of (m[2] as string).matchAll(/(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(part[1]) * (GO_UNITS[part[2] as string] as number);
  return Math.trunc((m[1] === '-' ? -1 : 1) * total);
}

/** A side of `<`, `<=`, `>`, `>=` as Gatus reads it: a duration in ms, an integer, a float cut to an integer, else 0. */
function gatusNumber(o: Operand, r: Resolved): number {
  if (r.ms !== undefined) return r.ms;
  if (o.k === 'literal' && o.lit.type === 'number' && o.lit.unit !== 'plain') return o.lit.value;
  const d = goDurationMs(r.s);
  if (d !== undefined && d !== 0) return d;
  const i = goInt(r.s);
  if (i !== undefined) return i;
  const f = goFloat(r.s);
  if (f !== undefined) return Math.trunc(f);
  return 0;
}

/** Go's filepath.Match (as Gatus uses it, with "/" removed from both sides): `*`, `?`, `[a-z]`, `[^0-9]`, `\*`. */
export function patternMatch(pattern: string, text: string): boolean {
  if (pattern === '*') return true;
  let re = patterns.get(pattern);
  if (re === undefined) {
    re = compilePattern(pattern);
    if (patterns.size > 1000) patterns.clear();
    patterns.set(pattern, re);
  }
  return re !== null && re.test(text.replace(/\//g, ''));
}

/** pat() patterns compiled once (null: a malformed pattern, which matches nothing, as in Gatus) */
const patterns = new Map<string, RegExp | null>();

function compilePattern(pattern: string): RegExp | null {
  const p = pattern.replace(/\//g, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\') {
      if (i + 1 >= p.length) return null;
      re += (p[++i] as string).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (p[j] === '^') {
        cls += '^';
        j++;
      }
      let n = 0;
      for (; j < p.length && !(p[j] === ']' && n > 0); j++, n++) {
        let ch = p[j] as string;
        if (ch === ']' || (ch === '-' && n === 0)) return null;
        if (ch === '\\') {
          if (j + 1 >= p.length) return null;
          ch = p[++j] as string;
        }
        if (ch !== '-' || n === 0) cls += ch.replace(/[\]\\^-]/g, '\\$&');
        else cls += '-';
      }
      if (j >= p.length) return null;
      re += `[${cls}]`;
      i = j;
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`, 'su');
  } catch {
    return null;
  }
}

/** Gatus' `==`: pat() and any() on either side, integers by value (`0x1 == 1`), else the text. */
function gatusEqual(lo: Operand, l: Resolved, ro: Operand, r: Resolved): boolean {
  const ls = l.invalid ? `${lo.text} (INVALID)` : l.s;
  const rs = r.invalid ? `${ro.text} (INVALID)` : r.s;
  if (lo.k === 'pat' && ro.k !== 'pat') return patternMatch(lo.pattern, rs);
  if (ro.k === 'pat' && lo.k !== 'pat') return patternMatch(ro.pattern, ls);
  if (lo.k === 'any' && ro.k !== 'any') return lo.options.includes(rs);
  if (ro.k === 'any' && lo.k !== 'any') return ro.options.includes(ls);
  const a = goInt(ls);
  const b = goInt(rs);
  if (a !== undefined && b !== undefined) return a === b;
  return ls === rs;
}

function shownOf(o: Operand, r: Resolved): string {
  if (r.invalid) return `${o.text} = missing`;
  if (r.ms !== undefined) return `${o.text} = ${formatDuration(r.ms)}`;
  if (o.k === 'value' && o.fn) return `${o.text} = ${r.s}`;
  return `${o.text} = ${formatActual(typeof r.typed === 'number' || typeof r.typed === 'boolean' ? r.typed : r.s, 'plain')}`;
}

function evaluateGatus(cond: CompiledCondition, obs: Observation): ConditionOutcome {
  // without an answer only [CONNECTED] has a value (false)
  if (!obs.ok && !cond.roots.every((r) => r === 'connected')) return { condition: cond.text, ok: false, actual: obs.error ?? 'no answer' };
  // the kind's values as they are (a parsed body is remembered per observation)
  const l = resolveGatus(cond.left, obs.values, obs);
  const r = cond.right ? resolveGatus(cond.right, obs.values, obs) : undefined;
  // the value of each side that reads something: `[STATUS] = 503, [BODY].status = 200`
  const shown: string[] = [];
  if (cond.left.k === 'value') shown.push(shownOf(cond.left, l));
  if (cond.right?.k === 'value' && r) shown.push(shownOf(cond.right, r));
  const actual = shown.length > 0 ? shown.join(', ') : undefined;
  const out = (ok: boolean): ConditionOutcome => ({ condition: cond.text, ok, ...(actual ? { actual } : {}) });
  if (!cond.op || !cond.right || !r) return out(!l.invalid && (l.typed === true || l.s === 'true' || (l.typed !== false && l.s !== '' && l.s !== 'false' && l.s !== '0')));
  const lit = cond.value;
  switch (cond.op) {
    case '==':
    case '!=': {
      let eq: boolean;
      if (lit && (lit.type === 'class' || lit.type === 'regex' || lit.type === 'null' || lit.type === 'list')) eq = equals(l.invalid ? undefined : l.typed, lit);
      else eq = gatusEqual(cond.left, l, cond.right, r);
      return out(cond.op === '==' ? eq : !eq);
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const a = gatusNumber(cond.left, l);
      const b = gatusNumber(cond.right, r);
      const op = cond.op;
      return out(op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b);
    }
    default:
      if (!lit || l.invalid) return out(false);
      return out(compareTyped(cond.op, l.typed, lit));
  }
}
