/**
 * The condition language, read like Gatus': `status == 200`, `latency < 300ms`,
 * `body.status == "healthy"`, `cert.days > 14`, `connections_used < 80%`, `len(body.items) > 0`,
 * `body contains "ok"`, `status in [200, 204]`, `status == 2xx`. Gatus' placeholders
 * (`[STATUS]`, `[RESPONSE_TIME]`, `[BODY].x`, `[CERTIFICATE_EXPIRATION]`) are accepted too.
 */
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
  | { type: 'string'; value: string; text: string }
  | { type: 'bool'; value: boolean; text: string }
  | { type: 'null'; text: string }
  | { type: 'class'; value: number; text: string } // 2xx
  | { type: 'regex'; value: RegExp; text: string }
  | { type: 'list'; items: Literal[]; text: string };

type Op = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | '!contains' | 'in' | 'matches';

interface Subject {
  path: string[];
  fn?: 'len' | 'has';
  text: string;
}

export interface CompiledCondition {
  text: string;
  subject: Subject;
  op?: Op;
  value?: Literal;
}

const PLACEHOLDERS: Record<string, string> = {
  STATUS: 'status',
  RESPONSE_TIME: 'latency',
  BODY: 'body',
  CONNECTED: 'connected',
  CERTIFICATE_EXPIRATION: 'cert.expires_in',
  IP: 'ip',
  DNS_RCODE: 'rcode',
};

class Reader {
  pos = 0;
  constructor(readonly src: string) {}
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
  }
  peek(n = 1): string {
    return this.src.slice(this.pos, this.pos + n);
  }
  eof(): boolean {
    this.ws();
    return this.pos >= this.src.length;
  }
  fail(msg: string, at = this.pos): never {
    throw new ConditionSyntaxError(msg, at + 1);
  }
}

function readSubject(r: Reader): Subject {
  r.ws();
  const start = r.pos;
  const fn = /^(len|has)\s*\(/.exec(r.src.slice(r.pos));
  if (fn) {
    r.pos += fn[0].length;
    const inner = readPath(r);
    r.ws();
    if (r.peek() !== ')') r.fail(`expected ")" to close ${fn[1]}(`);
    r.pos++;
    return { path: inner, fn: fn[1] as 'len' | 'has', text: r.src.slice(start, r.pos) };
  }
  const path = readPath(r);
  return { path, text: r.src.slice(start, r.pos) };
}

function readPath(r: Reader): string[] {
  r.ws();
  const parts: string[] = [];
  const start = r.pos;
  if (r.peek() === '[') {
    const m = /^\[([A-Z_]+)\]/.exec(r.src.slice(r.pos));
    if (!m) r.fail('expected a placeholder like [STATUS] or a value name like status');
    const mapped = PLACEHOLDERS[m[1] as string];
    if (!mapped) r.fail(`unknown placeholder [${m[1]}]`);
    parts.push(...mapped.split('.'));
    r.pos += m[0].length;
  } else {
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(r.src.slice(r.pos));
    if (!m) r.fail('expected a value name such as status, latency or body.status');
    parts.push(m[0]);
    r.pos += m[0].length;
  }
  for (;;) {
    if (r.peek() === '.') {
      r.pos++;
      const m = /^[A-Za-z0-9_$-]+/.exec(r.src.slice(r.pos));
      if (!m) r.fail('expected a field name after "."');
      parts.push(m[0]);
      r.pos += m[0].length;
    } else if (r.peek() === '[') {
      const m = /^\[(\d+)\]/.exec(r.src.slice(r.pos));
      if (!m) r.fail('expected an index like [0]');
      parts.push(m[1] as string);
      r.pos += m[0].length;
    } else break;
  }
  if (parts.length === 0) r.fail('expected a value name', start);
  return parts;
}

const OPS: Op[] = ['==', '!=', '<=', '>=', '<', '>', '!contains', 'contains', 'in', 'matches'];

function readOp(r: Reader): Op | undefined {
  r.ws();
  if (r.pos >= r.src.length) return undefined;
  const rest = r.src.slice(r.pos);
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

function readLiteral(r: Reader): Literal {
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
  if (c === '/') {
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
  if (c === '[') {
    r.pos++;
    const items: Literal[] = [];
    r.ws();
    while (r.peek() !== ']') {
      items.push(readLiteral(r));
      r.ws();
      if (r.peek() === ',') {
        r.pos++;
        r.ws();
      } else if (r.peek() !== ']') r.fail('expected "," or "]" in list');
    }
    r.pos++;
    return { type: 'list', items, text: r.src.slice(start, r.pos) };
  }
  const m = /^[^\s,\]]+/.exec(r.src.slice(r.pos));
  if (!m) r.fail('expected a value');
  const word = m[0];
  r.pos += word.length;
  if (word === 'true' || word === 'false') return { type: 'bool', value: word === 'true', text: word };
  if (word === 'null') return { type: 'null', text: word };
  const cls = /^([1-5])xx$/i.exec(word);
  if (cls) return { type: 'class', value: Number(cls[1]), text: word };
  if (/^-?\d+(\.\d+)?$/.test(word)) return { type: 'number', value: Number(word), unit: 'plain', text: word };
  const pct = parsePercent(word);
  if (pct !== undefined) return { type: 'number', value: pct, unit: 'percent', text: word };
  const dur = parseDuration(word);
  if (dur !== undefined) return { type: 'number', value: dur, unit: 'duration', text: word };
  const size = parseSize(word);
  if (size !== undefined) return { type: 'number', value: size, unit: 'size', text: word };
  return r.fail(`"${word}" is not a number, duration (500ms), percentage (80%), size (100KB), status class (2xx), quoted string, true/false or null`, start);
}

/** Parse a condition once (at config load) so syntax errors point at the config line and column. */
export function compileCondition(text: string): CompiledCondition {
  const r = new Reader(text);
  const subject = readSubject(r);
  if (r.eof()) return { text, subject };
  const op = readOp(r) as Op;
  const value = readLiteral(r);
  if (!r.eof()) r.fail(`unexpected "${r.src.slice(r.pos)}" after the condition`);
  if (op === 'in' && value.type !== 'list') r.fail('"in" needs a list like [200, 204]', r.pos - value.text.length);
  if (op === 'matches' && value.type !== 'regex' && value.type !== 'string') r.fail('"matches" needs a /regex/ or a string');
  return { text, subject, op, value };
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

/** Judge one compiled condition against an observation. */
export function evaluate(cond: CompiledCondition, obs: Observation): ConditionOutcome {
  const values = { ...obs.values, latency: obs.latencyMs };
  let actual = lookup(values, cond.subject.path);
  if (cond.subject.fn === 'len') {
    actual = Array.isArray(actual) || typeof actual === 'string' ? actual.length : actual && typeof actual === 'object' ? Object.keys(actual).length : undefined;
  } else if (cond.subject.fn === 'has') {
    actual = actual !== undefined && actual !== null;
  }
  const unit = unitOf(cond.value);
  const shown = `${cond.subject.text} = ${formatActual(actual, unit)}`;
  if (!obs.ok && actual === undefined) {
    return { condition: cond.text, ok: false, actual: obs.error ?? 'no answer' };
  }
  if (!cond.op || !cond.value) {
    return { condition: cond.text, ok: Boolean(actual), actual: shown };
  }
  const lit = cond.value;
  let ok: boolean;
  switch (cond.op) {
    case '==':
      ok = equals(actual, lit);
      break;
    case '!=':
      ok = !equals(actual, lit);
      break;
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const a = toNumber(actual);
      const b = lit.type === 'number' ? lit.value : toNumber(lit.type === 'string' ? lit.value : undefined);
      if (a === undefined || b === undefined) {
        ok = false;
        break;
      }
      ok = cond.op === '<' ? a < b : cond.op === '<=' ? a <= b : cond.op === '>' ? a > b : a >= b;
      break;
    }
    case 'contains':
    case '!contains': {
      let has: boolean;
      const needle = lit.type === 'string' ? lit.value : lit.text;
      if (typeof actual === 'string') has = actual.includes(needle);
      else if (Array.isArray(actual)) has = actual.some((x) => equals(x, lit));
      else if (actual && typeof actual === 'object') has = JSON.stringify(actual).includes(needle);
      else has = false;
      ok = cond.op === 'contains' ? has : !has;
      break;
    }
    case 'in':
      ok = equals(actual, lit);
      break;
    case 'matches':
      ok = typeof actual === 'string' && (lit.type === 'regex' ? lit.value : new RegExp(lit.type === 'string' ? lit.value : '')).test(actual);
      break;
  }
  return { condition: cond.text, ok, actual: shown };
}
