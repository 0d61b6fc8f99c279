/**
 * The alert rule language: one line per rule.
 *
 *   error_rate(web) > 1% for 5m                 p95(web.latency) > 1000ms for 5m
 *   request_rate(web) < 1 for 10m               check(db).connections_used > 80%
 *   vitals(web).lcp.p75 > 2.5s                  rate(events.payment_failed) / rate(events.payment_attempted) > 5%
 *   down(web) for 1m                            absent(heartbeat.nightly-backup) for 26h
 *   absent(web) for 10m                         metric(pg_stat_activity_count{state="active"}) > 50
 *   absent(backup.web) for 26h                  (no good backup of web's database for 26h, or its last scheduled run failed)
 *   overdue_action_items() > 0                  overdue_action_items(web) >= 3   (open post-mortem action items past their due date)
 *
 * Functions over telemetry take an optional window (`error_rate(web, 10m)`, default 5m) and, for
 * request functions, a route (`error_rate(web{route="/api/pay"})`); terms combine with + - * /.
 * `for` is how long the condition must hold before the alert fires, except for `absent(…)`, where
 * it is how long the thing must have been silent. Syntax errors carry the 1-based column.
 */
import { formatDuration, formatPercent, parseDuration, parsePercent } from '../core/config/units.js';
import type { VitalName } from '../telemetry/index.js';

export class RuleSyntaxError extends Error {
  constructor(
    message: string,
    /** 1-based column inside the rule text */
    readonly column: number,
  ) {
    super(message);
    this.name = 'RuleSyntaxError';
  }
}

/** What a value measures, for formatting and for catching `error_rate(web) > 500ms`. */
export type ValueUnit = 'percent' | 'duration' | 'rate' | 'plain';

export const DEFAULT_WINDOW = 5 * 60_000;

export type Expr =
  | { k: 'num'; value: number; unit: ValueUnit | null; text: string }
  | { k: 'neg'; e: Expr }
  | { k: 'bin'; op: '+' | '-' | '*' | '/'; l: Expr; r: Expr }
  | { k: 'error_rate' | 'request_rate'; service: string; route?: string; window: number; text: string }
  | { k: 'latency'; service: string; q: number; route?: string; window: number; text: string }
  | { k: 'vital'; service: string; name: VitalName; q: number; page?: string; window: number; text: string }
  | { k: 'event_rate'; name: string; service?: string; window: number; text: string }
  | { k: 'check'; service: string; check?: string; path: string[]; text: string }
  | { k: 'metric'; name: string; labels: Record<string, string>; window: number; text: string }
  /** open post-mortem action items past their due date, of every incident or of a service's (the incidents module's store) */
  | { k: 'overdue_action_items'; service?: string; text: string };

export type Condition =
  | { k: 'compare'; expr: Expr; exprText: string; op: CompareOp; threshold: { value: number; unit: ValueUnit | null; text: string } }
  | { k: 'down'; service: string; check?: string; text: string }
  | { k: 'absent'; target: AbsentTarget; window: number | null; text: string };

/** What `absent(…)` watches: a heartbeat's pings, a service's telemetry, or a service database's backups. */
export type AbsentTarget = { kind: 'heartbeat'; token: string } | { kind: 'service'; service: string } | { kind: 'backup'; service: string };

export type CompareOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

export interface ParsedRule {
  text: string;
  condition: Condition;
  /** pending duration in ms (0: fire at once); for absent() it is folded into the silence length */
  forMs: number;
  /** services the expression names, in order (the first becomes the `service` label) */
  services: string[];
  /** the unit values are shown in: the threshold's when it has one, else the expression's */
  unit: ValueUnit;
  /** true when the rule reads rates or quantiles that need a minimum number of samples */
  guarded: boolean;
}

const FUNCTIONS = ['error_rate', 'request_rate', 'p50', 'p75', 'p90', 'p95', 'p99', 'vitals', 'rate', 'check', 'metric', 'overdue_action_items', 'down', 'absent'];
const VITALS: Record<string, VitalName> = { lcp: 'LCP', inp: 'INP', cls: 'CLS', fcp: 'FCP', ttfb: 'TTFB' };
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*/;

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

class Reader {
  pos = 0;
  constructor(readonly src: string) {}
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
  /** what is at the cursor, for messages */
  here(): string {
    this.ws();
    if (this.pos >= this.src.length) return 'the end of the rule';
    const m = /^(\S+?)(?=[\s(),{}]|$)/.exec(this.rest());
    const word = m?.[1] || this.peek();
    return `"${word.length > 20 ? `${word.slice(0, 20)}…` : word}"`;
  }
  fail(msg: string, at = this.pos): never {
    throw new RuleSyntaxError(msg, at + 1);
  }
  expect(ch: string, what: string): void {
    this.ws();
    if (this.peek(ch.length) !== ch) this.fail(`expected ${what}, found ${this.here()}`);
    this.pos += ch.length;
  }
  accept(ch: string): boolean {
    this.ws();
    if (this.peek(ch.length) === ch) {
      this.pos += ch.length;
      return true;
    }
    return false;
  }
  word(re: RegExp): string | undefined {
    this.ws();
    const m = re.exec(this.rest());
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }
}

const DUR_RE = /^\d+(?:\.\d+)?(?:ms|s|m|h|d|w)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*(?![A-Za-z0-9_%])/;

/** A duration; `allowZero` for `for 0s`, which (as in Prometheus) means "no wait". */
function readDuration(r: Reader, what: string, allowZero = false): number {
  r.ws();
  const start = r.pos;
  const text = r.word(DUR_RE);
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined) r.fail(`expected ${what} like 30s, 5m or 1h, found ${r.here()}`, start);
  if (ms < 0 || (ms === 0 && !allowZero)) r.fail(`${what} must be longer than 0`, start);
  return ms;
}

function readString(r: Reader): string {
  r.ws();
  const q = r.peek();
  if (q !== '"' && q !== "'") r.fail(`expected a quoted value like "/api/items", found ${r.here()}`);
  const start = r.pos;
  r.pos++;
  let out = '';
  while (r.pos < r.src.length && r.peek() !== q) {
    if (r.peek() === '\\') r.pos++;
    out += r.peek();
    r.pos++;
  }
  if (r.peek() !== q) r.fail('unterminated string: expected a closing quote', start);
  r.pos++;
  return out;
}

/** `{k="v", …}` */
function readLabels(r: Reader, allowed?: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  r.expect('{', '"{"');
  if (r.accept('}')) return out;
  for (;;) {
    r.ws();
    const at = r.pos;
    const key = r.word(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (!key) r.fail(`expected a label name, found ${r.here()}`);
    if (allowed && !allowed.includes(key)) r.fail(`unknown selector "${key}": expected ${allowed.map((a) => `${a}="…"`).join(' or ')}`, at);
    r.expect('=', `"=" after ${key}`);
    out[key] = readString(r);
    if (r.accept('}')) return out;
    r.expect(',', '"," or "}"');
  }
}

function readName(r: Reader, what: string): string {
  r.ws();
  const name = r.word(NAME_RE);
  if (!name) r.fail(`expected ${what}, found ${r.here()}`);
  return name;
}

/** `, 10m` then `)` */
function readWindowAndClose(r: Reader, fn: string): number {
  let window = DEFAULT_WINDOW;
  if (r.accept(',')) window = readDuration(r, 'a window');
  r.ws();
  if (r.peek() !== ')') r.fail(`expected ")" to close ${fn}(${window === DEFAULT_WINDOW ? ' or ", <window>" like ", 10m"' : ''}, found ${r.here()}`);
  r.pos++;
  return window;
}

function readCall(r: Reader): Expr {
  r.ws();
  const start = r.pos;
  const fn = r.word(/^[A-Za-z_][A-Za-z0-9_]*/);
  if (!fn) r.fail(`expected a number or a function such as error_rate(web), p95(web.latency), rate(events.x), check(db).value; found ${r.here()}`);
  const lower = fn.toLowerCase();
  if (!FUNCTIONS.includes(lower) && !/^p\d{2,3}$/.test(lower)) {
    const near = FUNCTIONS.filter((f) => editDistance(f, lower) <= 2);
    r.fail(`unknown function "${fn}"${near.length ? ` (did you mean ${near[0]}?)` : ''}: expected one of error_rate, request_rate, p50/p90/p95/p99, vitals, rate, check, metric, overdue_action_items, down, absent`, start);
  }
  if (lower === 'down' || lower === 'absent') r.fail(`${lower}(…) is a whole condition: write it alone, like "${lower === 'down' ? 'down(web) for 1m' : 'absent(heartbeat.backup) for 26h'}"`, start);
  r.expect('(', `"(" after ${fn}`);
  const text = () => r.src.slice(start, r.pos);
  switch (lower) {
    case 'error_rate':
    case 'request_rate': {
      const service = readName(r, 'a service name');
      let route: string | undefined;
      r.ws();
      if (r.peek() === '{') route = readLabels(r, ['route']).route;
      const window = readWindowAndClose(r, fn);
      return { k: lower, service, route, window, text: text() };
    }
    case 'vitals': {
      const service = readName(r, 'a service name');
      let page: string | undefined;
      r.ws();
      if (r.peek() === '{') page = readLabels(r, ['page']).page;
      const window = readWindowAndClose(r, fn);
      r.expect('.', 'a web vital after vitals(…), like .lcp.p75');
      r.ws();
      const vAt = r.pos;
      const v = r.word(/^[A-Za-z]+/)?.toLowerCase();
      const name = v ? VITALS[v] : undefined;
      if (!name) r.fail(`expected a web vital (lcp, inp, cls, fcp, ttfb), found ${v ? `"${v}"` : r.here()}`, vAt);
      let q = 0.75;
      if (r.peek() === '.') {
        r.pos++;
        const qAt = r.pos;
        const p = r.word(/^p\d{2,3}/);
        if (!p) r.fail(`expected a quantile like p75 after .${v}, found ${r.here()}`, qAt);
        q = quantileOf(p, r, qAt);
      }
      return { k: 'vital', service, name, q, page, window, text: text() };
    }
    case 'rate': {
      r.ws();
      const at = r.pos;
      const ref = readName(r, 'events.<name>, like events.payment_failed');
      const m = /^(?:(.+)\.)?events\.(.+)$/.exec(ref);
      if (!m) r.fail(`expected events.<name> (or <service>.events.<name>), found "${ref}"`, at);
      const window = readWindowAndClose(r, fn);
      return { k: 'event_rate', name: m[2] as string, service: m[1], window, text: text() };
    }
    case 'check': {
      const service = readName(r, 'a service name, like check(db) or check(db/postgres)');
      let check: string | undefined;
      if (r.accept('/')) check = readName(r, 'a check name after "/"');
      r.expect(')', `")" to close check(`);
      r.expect('.', 'a value after check(…), like .connections_used or .latency');
      const path: string[] = [];
      do {
        r.ws();
        const seg = r.word(/^[A-Za-z0-9_$-]+/);
        if (!seg) r.fail(`expected a value name, found ${r.here()}`);
        path.push(seg);
      } while (r.peek() === '.' && r.pos++ >= 0);
      return { k: 'check', service, check, path, text: text() };
    }
    case 'metric': {
      r.ws();
      const at = r.pos;
      const name = r.word(/^[A-Za-z_:][A-Za-z0-9_:.]*/);
      if (!name) r.fail(`expected a metric name like pg_stat_activity_count, found ${r.here()}`, at);
      let labels: Record<string, string> = {};
      r.ws();
      if (r.peek() === '{') labels = readLabels(r);
      const window = readWindowAndClose(r, fn);
      return { k: 'metric', name, labels, window, text: text() };
    }
    case 'overdue_action_items': {
      r.ws();
      if (r.accept(')')) return { k: 'overdue_action_items', text: text() };
      const service = readName(r, 'a service name or nothing, like overdue_action_items() or overdue_action_items(web)');
      r.expect(')', '")" to close overdue_action_items(');
      return { k: 'overdue_action_items', service, text: text() };
    }
    default: {
      // p50, p90, p95, p99…
      const q = quantileOf(lower, r, start);
      r.ws();
      const at = r.pos;
      let ref = readName(r, 'a service, like web or web.latency');
      if (ref.endsWith('.latency')) ref = ref.slice(0, -'.latency'.length);
      if (!ref) r.fail('expected a service name before .latency', at);
      let route: string | undefined;
      r.ws();
      if (r.peek() === '{') route = readLabels(r, ['route']).route;
      const window = readWindowAndClose(r, fn);
      return { k: 'latency', service: ref, q, route, window, text: text() };
    }
  }
}

function quantileOf(p: string, r: Reader, at: number): number {
  const digits = p.slice(1);
  const q = Number(digits) / 10 ** digits.length;
  if (!(q > 0 && q < 1)) r.fail(`"${p}" is not a quantile: expected p50, p90, p95 or p99`, at);
  return q;
}

const NUM_RE = /^\d+(?:\.\d+)?(?:ms|s|m|h|d|w|%)?(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*(?![A-Za-z0-9_.])/;

function readNumber(r: Reader): { value: number; unit: ValueUnit | null; text: string } | undefined {
  r.ws();
  const start = r.pos;
  if (!/^\d/.test(r.peek())) return undefined;
  const text = r.word(NUM_RE);
  if (!text) {
    const m = /^\S+/.exec(r.rest());
    r.fail(`"${m?.[0] ?? ''}" is not a number: expected a plain number (50), a percentage (1%) or a duration (500ms, 2.5s)`, start);
  }
  if (/^\d+(\.\d+)?$/.test(text)) return { value: Number(text), unit: null, text };
  const pct = parsePercent(text);
  if (pct !== undefined) return { value: pct, unit: 'percent', text };
  const ms = parseDuration(text);
  if (ms !== undefined) return { value: ms, unit: 'duration', text };
  return r.fail(`"${text}" is not a number`, start);
}

function readPrimary(r: Reader): Expr {
  r.ws();
  if (r.pos >= r.src.length) r.fail('expected a number or a function such as error_rate(web), found the end of the rule');
  if (r.accept('(')) {
    const e = readSum(r);
    r.expect(')', '")"');
    return e;
  }
  if (r.accept('-')) return { k: 'neg', e: readPrimary(r) };
  const n = readNumber(r);
  if (n) return { k: 'num', ...n };
  return readCall(r);
}

function readProduct(r: Reader): Expr {
  let l = readPrimary(r);
  for (;;) {
    r.ws();
    const c = r.peek();
    if (c !== '*' && c !== '/') return l;
    r.pos++;
    l = { k: 'bin', op: c, l, r: readPrimary(r) };
  }
}

function readSum(r: Reader): Expr {
  let l = readProduct(r);
  for (;;) {
    r.ws();
    const c = r.peek();
    if (c !== '+' && c !== '-') return l;
    r.pos++;
    l = { k: 'bin', op: c, l, r: readProduct(r) };
  }
}

const CMP_OPS: CompareOp[] = ['>=', '<=', '==', '!=', '>', '<'];

function readCompare(r: Reader): CompareOp | undefined {
  r.ws();
  for (const op of CMP_OPS) {
    if (r.peek(op.length) === op) {
      r.pos += op.length;
      return op;
    }
  }
  return undefined;
}

/** Natural unit of an expression (null: unknown, e.g. a check value or a metric). */
export function unitOfExpr(e: Expr): ValueUnit | null {
  switch (e.k) {
    case 'num':
      return e.unit;
    case 'neg':
      return unitOfExpr(e.e);
    case 'error_rate':
      return 'percent';
    case 'request_rate':
    case 'event_rate':
      return 'rate';
    case 'latency':
      return 'duration';
    case 'vital':
      return e.name === 'CLS' ? 'plain' : 'duration';
    case 'check':
    case 'metric':
      return null;
    case 'overdue_action_items':
      return 'plain';
    case 'bin': {
      const l = unitOfExpr(e.l);
      const r = unitOfExpr(e.r);
      if (e.op === '/') return l !== null && l === r ? 'plain' : l === 'duration' && r === null ? 'duration' : null;
      if (e.op === '*') return l === null ? r : r === null ? l : null;
      return l ?? r;
    }
  }
}

function walk(e: Expr, fn: (e: Expr) => void): void {
  fn(e);
  if (e.k === 'neg') walk(e.e, fn);
  if (e.k === 'bin') {
    walk(e.l, fn);
    walk(e.r, fn);
  }
}

/** Parse one rule. Throws RuleSyntaxError with the column. */
export function parseRule(text: string): ParsedRule {
  const r: Reader = new Reader(text);
  r.ws();
  if (r.eof()) r.fail('the rule is empty: expected a condition like "error_rate(web) > 1% for 5m"');
  let condition: Condition;
  const head = /^(down|absent)\s*\(/i.exec(r.rest());
  if (head) {
    const start = r.pos;
    const fn = (head[1] as string).toLowerCase();
    r.pos += head[0].length;
    if (fn === 'down') {
      const service = readName(r, 'a service name, like down(web) or down(web/api-health)');
      let check: string | undefined;
      if (r.accept('/')) check = readName(r, 'a check name after "/"');
      r.expect(')', '")" to close down(');
      condition = { k: 'down', service, check, text: r.src.slice(start, r.pos) };
    } else {
      r.ws();
      const at = r.pos;
      const ref = readName(r, 'heartbeat.<token>, backup.<service> or a service name, like absent(heartbeat.nightly-backup), absent(backup.web) or absent(web)');
      let target: AbsentTarget;
      if (ref.startsWith('backup.')) {
        const service = ref.slice('backup.'.length);
        if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(service)) r.fail('expected a service name after "backup.", like absent(backup.web)', at + 'backup.'.length);
        target = { kind: 'backup', service };
      } else if (ref.startsWith('heartbeat.')) {
        const token = ref.slice('heartbeat.'.length);
        if (!/^[A-Za-z0-9._-]{1,128}$/.test(token)) r.fail('expected a heartbeat token (letters, digits, . _ -) after "heartbeat."', at + 'heartbeat.'.length);
        target = { kind: 'heartbeat', token };
      } else target = { kind: 'service', service: ref };
      let window: number | null = null;
      if (r.accept(',')) window = readDuration(r, 'a window');
      r.expect(')', '")" to close absent(');
      condition = { k: 'absent', target, window, text: r.src.slice(start, r.pos) };
    }
    r.ws();
    if (!r.eof() && !/^for\b/.test(r.rest())) {
      const c = readCompare(r);
      if (c) r.fail(`${fn}(…) is true or false on its own: drop "${c} …" (write "${fn}(…) for 5m")`, r.pos - c.length);
    }
  } else {
    r.ws();
    const exprStart = r.pos;
    const expr = readSum(r);
    r.ws();
    const opAt = r.pos;
    const exprText = r.src.slice(exprStart, opAt).trim();
    const op = readCompare(r);
    if (!op) {
      if (r.eof()) r.fail('expected a comparison (> >= < <= == !=) and a threshold, like "> 1%", found the end of the rule');
      r.fail(`expected an operator (+ - * /) or a comparison (> >= < <= == !=), found ${r.here()}`, opAt);
    }
    r.ws();
    const thAt = r.pos;
    let neg = false;
    if (r.accept('-')) neg = true;
    const th = readNumber(r);
    if (!th) r.fail(`expected a threshold after ${op}: a number (50), a percentage (1%) or a duration (500ms), found ${r.here()}`, thAt);
    if (neg) th.value = -th.value;
    const natural = unitOfExpr(expr);
    if (th.unit && natural && natural !== th.unit && !(natural === 'plain' && th.unit === 'percent')) {
      const want = natural === 'percent' ? 'a percentage like 1%' : natural === 'duration' ? 'a duration like 500ms or 2.5s' : 'a plain number (per second)';
      r.fail(`the threshold "${th.text}" does not fit ${expr.k === 'bin' ? 'the expression' : (expr as { text?: string }).text ?? 'the expression'}: expected ${want}`, thAt);
    }
    condition = { k: 'compare', expr, exprText, op, threshold: { ...th, text: (neg ? '-' : '') + th.text } };
  }
  let forMs = 0;
  r.ws();
  if (!r.eof()) {
    const at = r.pos;
    if (!r.word(/^for\b/)) r.fail(`expected "for <duration>" or the end of the rule, found ${r.here()}`, at);
    r.ws();
    forMs = readDuration(r, 'a duration after "for"', true);
    if (!r.eof()) r.fail(`unexpected ${r.here()} after the rule`);
  }
  const services: string[] = [];
  let guarded = false;
  const addService = (s: string | undefined) => {
    if (s && !services.includes(s)) services.push(s);
  };
  let unit: ValueUnit;
  if (condition.k === 'compare') {
    walk(condition.expr, (e) => {
      if (e.k === 'error_rate' || e.k === 'latency' || e.k === 'vital' || (e.k === 'bin' && e.op === '/')) guarded = true;
      if (e.k === 'error_rate' || e.k === 'request_rate' || e.k === 'latency' || e.k === 'vital' || e.k === 'check') addService(e.service);
      if (e.k === 'event_rate' || e.k === 'overdue_action_items') addService(e.service);
    });
    unit = condition.threshold.unit ?? unitOfExpr(condition.expr) ?? 'plain';
  } else {
    if (condition.k === 'down') addService(condition.service);
    if (condition.k === 'absent' && condition.target.kind !== 'heartbeat') addService(condition.target.service);
    unit = 'duration';
  }
  return { text, condition, forMs, services, unit, guarded };
}

/** Format a value in a unit: `3.2%`, `1.2s`, `850ms`, `4.5/s`, `42`. */
export function formatValue(v: number | null, unit: ValueUnit): string {
  if (v === null || !Number.isFinite(v)) return 'no data';
  switch (unit) {
    case 'percent':
      return formatPercent(v, Math.abs(v) < 0.001 && v !== 0 ? 3 : Math.abs(v) < 0.1 ? 2 : 1).replace(/(\.\d*?)0+%$/, '$1%').replace(/\.%$/, '%');
    case 'duration': {
      if (Math.abs(v) < 1000) return `${Number(v.toFixed(v < 10 ? 2 : 0))}ms`;
      if (Math.abs(v) < 60_000) return `${Number((v / 1000).toFixed(2))}s`;
      return formatDuration(v);
    }
    case 'rate':
      return `${Number(v.toFixed(v < 10 ? 3 : 1))}/s`;
    case 'plain':
      return String(Number.isInteger(v) ? v : Number(v.toFixed(4)));
  }
}
