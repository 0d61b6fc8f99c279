/**
 * Alertmanager's matcher syntax: `severity=~"P0|P1"`, `team!="db"`, `{foo="bar",baz=~"x"}`,
 * quoted names and values with Go escapes (`{"foo"="\"bar\""}`), any UTF-8. Parsed as Alertmanager
 * does by default: its UTF-8 matchers parser first, its classic parser as the fallback for input
 * only that one accepts (unquoted regexes with backslashes, `foo=` for an empty value).
 */
import type { Matcher } from './api-types.js';
import { anchoredGoRegex } from './go-regex.js';

export class MatcherSyntaxError extends Error {}

type Kind = 'open' | 'close' | 'comma' | 'eq' | 'neq' | 're' | 'nre' | 'quoted' | 'unquoted' | 'eof';
interface Token {
  kind: Kind;
  value: string;
  /** column (code points) where the token starts, 0-based */
  col: number;
}

const RESERVED = new Set(['{', '}', '!', '=', '~', ',', '\\', '"', "'", '`']);
const isSpace = (c: string) => /^\s$/u.test(c);
const isReserved = (c: string) => isSpace(c) || RESERVED.has(c);

function lex(input: string): Token[] {
  const cs = Array.from(input);
  const out: Token[] = [];
  let i = 0;
  const err = (col: number, msg: string): never => {
    throw new MatcherSyntaxError(`${msg} at column ${col + 1}`);
  };
  while (i < cs.length) {
    const c = cs[i] as string;
    const start = i;
    if (c === '{') out.push({ kind: 'open', value: c, col: i++ });
    else if (c === '}') out.push({ kind: 'close', value: c, col: i++ });
    else if (c === ',') out.push({ kind: 'comma', value: c, col: i++ });
    else if (c === '!') {
      const n = cs[i + 1];
      if (n === '=') out.push({ kind: 'neq', value: '!=', col: i });
      else if (n === '~') out.push({ kind: 'nre', value: '!~', col: i });
      else err(i + 1, `expected "=" or "~" after "!"`);
      i += 2;
    } else if (c === '=') {
      if (cs[i + 1] === '~') {
        out.push({ kind: 're', value: '=~', col: i });
        i += 2;
      } else out.push({ kind: 'eq', value: '=', col: i++ });
    } else if (c === '"') {
      i++;
      let escaped = false;
      let closed = false;
      while (i < cs.length) {
        const d = cs[i++] as string;
        if (escaped) escaped = false;
        else if (d === '\\') escaped = true;
        else if (d === '"') {
          closed = true;
          break;
        }
      }
      if (!closed) err(start, `${cs.slice(start).join('')}: missing closing "`);
      out.push({ kind: 'quoted', value: cs.slice(start, i).join(''), col: start });
    } else if (isSpace(c)) i++;
    else if (!isReserved(c)) {
      while (i < cs.length && !isReserved(cs[i] as string)) i++;
      out.push({ kind: 'unquoted', value: cs.slice(start, i).join(''), col: start });
    } else err(i, `unexpected ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', value: '', col: cs.length });
  return out;
}

/** Go's strconv.Unquote of a double-quoted string; the result must be valid UTF-8. */
export function goUnquote(q: string): string {
  const s = q.slice(1, -1);
  const bytes: number[] = [];
  const enc = new TextEncoder();
  const cs = Array.from(s);
  const bad = (what: string): never => {
    throw new MatcherSyntaxError(`${q}: ${what}`);
  };
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i] as string;
    if (c === '\n') bad('a quoted string cannot hold a line break (write \\n)');
    if (c !== '\\') {
      bytes.push(...enc.encode(c));
      continue;
    }
    const e = cs[++i];
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
    if (e !== undefined && simple[e] !== undefined) {
      bytes.push(simple[e]);
      continue;
    }
    const hexDigits = (n: number) => {
      const h = cs.slice(i + 1, i + 1 + n).join('');
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(h)) bad(`invalid escape \\${e}${h}`);
      i += n;
      return parseInt(h, 16);
    };
    if (e === 'x') bytes.push(hexDigits(2));
    else if (e === 'u' || e === 'U') {
      const cp = hexDigits(e === 'u' ? 4 : 8);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) bad(`invalid code point \\${e}${cp.toString(16)}`);
      bytes.push(...enc.encode(String.fromCodePoint(cp)));
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const o = cs.slice(i, i + 3).join('');
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) bad(`invalid octal escape \\${o}`);
      bytes.push(parseInt(o, 8));
      i += 2;
    } else bad(`invalid escape \\${e ?? ''} (Go's escapes: \\" \\\\ \\n \\t \\r \\xHH \\uHHHH …)`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return bad('the quoted string is not valid UTF-8');
  }
}

function newMatcher(op: string, name: string, value: string): Matcher {
  if (name === '') throw new MatcherSyntaxError('a label name cannot be empty');
  const m: Matcher = { name, value, isRegex: op.includes('~'), isEqual: !op.startsWith('!') };
  if (m.isRegex) {
    try {
      anchoredGoRegex(value);
    } catch (e) {
      throw new MatcherSyntaxError(`${name}${op}${JSON.stringify(value)}: invalid regular expression: ${(e as Error).message}`);
    }
  }
  return m;
}

/** Alertmanager's UTF-8 matchers parser (matcher/parse). */
function parseUtf8(input: string): Matcher[] {
  const ts = lex(input);
  let p = 0;
  const at = (t: Token) => (t.kind === 'eof' ? 'unexpected end of input' : `unexpected ${JSON.stringify(t.value)} at column ${t.col + 1}`);
  const out: Matcher[] = [];
  const open = ts[p]?.kind === 'open';
  if (open) p++;
  const unq = (t: Token) => (t.kind === 'quoted' ? goUnquote(t.value) : t.value);
  for (;;) {
    const t = ts[p] as Token;
    if (t.kind === 'eof' || t.kind === 'close') break;
    const nameT = t;
    if (nameT.kind !== 'quoted' && nameT.kind !== 'unquoted') throw new MatcherSyntaxError(`${at(nameT)}: expected a label name`);
    const opT = ts[++p] as Token;
    if (!['eq', 'neq', 're', 'nre'].includes(opT.kind)) throw new MatcherSyntaxError(`${at(opT)}: expected an operator such as =, !=, =~ or !~`);
    const valT = ts[++p] as Token;
    if (valT.kind !== 'quoted' && valT.kind !== 'unquoted') throw new MatcherSyntaxError(`${at(valT)}: expected a label value`);
    out.push(newMatcher(opT.value, unq(nameT), unq(valT)));
    const end = ts[++p] as Token;
    if (end.kind === 'comma') {
      p++;
      continue;
    }
    if (end.kind !== 'eof' && end.kind !== 'close') throw new MatcherSyntaxError(`${at(end)}: expected a comma${open ? ' or a closing brace' : ''} (quote values holding spaces or reserved characters: label="a b")`);
  }
  const t = ts[p] as Token;
  if (open && t.kind !== 'close') throw new MatcherSyntaxError(`${at(t)}: expected a closing brace "}"`);
  if (!open && t.kind === 'close') throw new MatcherSyntaxError(`unexpected "}" at column ${t.col + 1}: there is no opening brace`);
  if (t.kind === 'close') p++;
  const rest = ts[p] as Token;
  if (rest.kind !== 'eof') throw new MatcherSyntaxError(`${at(rest)}: expected the end of the input`);
  return out;
}

const CLASSIC = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*?)\s*$/;

/** Alertmanager's classic parser (pkg/labels), for one matcher. */
function parseClassicOne(s: string): Matcher {
  const m = CLASSIC.exec(s);
  if (!m) throw new MatcherSyntaxError(`bad matcher format: ${s}`);
  let raw = m[3] as string;
  let expectQuote = false;
  if (raw.startsWith('"')) {
    raw = raw.slice(1);
    expectQuote = true;
  }
  let value = '';
  let escaped = false;
  const cs = Array.from(raw);
  for (let i = 0; i < cs.length; i++) {
    const r = cs[i] as string;
    if (escaped) {
      escaped = false;
      value += r === 'n' ? '\n' : r === '"' || r === '\\' ? r : `\\${r}`;
      continue;
    }
    if (r === '\\') {
      if (i < cs.length - 1) escaped = true;
      else value += '\\';
    } else if (r === '"') {
      if (!expectQuote || i < cs.length - 1) throw new MatcherSyntaxError(`matcher value contains unescaped double quote: ${m[3]}`);
      expectQuote = false;
    } else value += r;
  }
  if (expectQuote) throw new MatcherSyntaxError(`matcher value contains unescaped double quote: ${m[3]}`);
  return newMatcher(m[2] as string, m[1] as string, value);
}

/** Alertmanager's classic parser (pkg/labels), for a list. */
function parseClassic(s: string): Matcher[] {
  const body = s.replace(/^\{/, '').replace(/\}$/, '');
  const tokens: string[] = [];
  let inside = false;
  let escaped = false;
  let tok = '';
  for (const r of body) {
    if (r === ',' && !inside) {
      tokens.push(tok);
      tok = '';
      continue;
    }
    if (r === '"') {
      if (!escaped) inside = !inside;
      else escaped = false;
    } else if (r === '\\') escaped = !escaped;
    else escaped = false;
    tok += r;
  }
  if (tok.trim() !== '') tokens.push(tok.trim());
  return tokens.map(parseClassicOne);
}

/**
 * Matchers from one line: `a="1"`, `a="1",b!~"x.*"`, `{a="1", b="2"}`. Used for each entry of a
 * config `matchers:` list (Alertmanager accepts several per entry). Throws MatcherSyntaxError.
 */
export function parseMatchers(input: string): Matcher[] {
  try {
    return parseUtf8(input);
  } catch (e) {
    if (!(e instanceof MatcherSyntaxError)) throw e;
    try {
      return parseClassic(input);
    } catch {
      throw e; // the UTF-8 parser's message says where
    }
  }
}

/**
 * Exactly one matcher (silences: `--match`, the API's string form). `foo=bar,bar=baz` is two
 * matchers, so an error here, as Alertmanager's UTF-8 parser says.
 */
export function parseOneMatcher(input: string): Matcher {
  const trimmed = input.trim();
  if (trimmed.startsWith('{') || trimmed.endsWith('}')) throw new MatcherSyntaxError(`"${input}": write one matcher without braces`);
  let ms: Matcher[];
  try {
    ms = parseUtf8(input);
  } catch (e) {
    if (!(e instanceof MatcherSyntaxError)) throw e;
    try {
      return parseClassicOne(input);
    } catch {
      throw new MatcherSyntaxError(`"${input}" is not a matcher (${e.message}): write label=value, label!=value, label=~regex or label!~regex`);
    }
  }
  if (ms.length === 1) return ms[0] as Matcher;
  throw new MatcherSyntaxError(ms.length === 0 ? `"${input}" is not a matcher: it is empty` : `"${input}": expected 1 matcher, found ${ms.length} (give each matcher on its own)`);
}

const AM_RESERVED = /[\s{}!=~,\\"'`]/u;
const goQuote = (s: string) => JSON.stringify(s);

/** Alertmanager's String() of a matcher: `name="value"`, `"odd name"=~"x"`. */
export function matcherString(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  if (AM_RESERVED.test(m.name)) return `${goQuote(m.name)}${op}${goQuote(m.value)}`;
  return `${m.name}${op}"${m.value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`;
}

/** Alertmanager's matcher order (by name, then value, then type) and `{a="1",b!="2"}` form. */
export function matchersString(ms: Matcher[]): string {
  return `{${sortMatchers(ms).map(matcherString).join(',')}}`;
}

const typeOrder = (m: Matcher) => (m.isRegex ? 2 : 0) + (m.isEqual ? 0 : 1);
export function sortMatchers(ms: Matcher[]): Matcher[] {
  return [...ms].sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : a.value !== b.value ? (a.value < b.value ? -1 : 1) : typeOrder(a) - typeOrder(b)));
}
