/**
 * A `.env` reader that keeps line numbers, and a linter in the spirit of dotenv-linter.
 *
 * Values are read exactly as the `dotenv` package reads them (v16/v17 `parse`): the same line
 * pattern, the same quote stripping, `\n` / `\r` expanded in double-quoted values only, the last
 * of a duplicated key wins. The lint pass then looks at the raw lines for what dotenv silently
 * accepts or skips: duplicated keys, unterminated or mismatched quotes, spaces around `=`,
 * lower-case keys, leading characters, `export `, lines that are not KEY=VALUE, a missing final
 * newline. Findings name the file, the 1-based line and the key, never the value.
 */
import type { EnvFinding } from './check.js';

/** dotenv's LINE pattern (lib/main.js), with `d` for group positions. */
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;

export interface DotenvEntry {
  key: string;
  /** the value as dotenv reads it */
  value: string;
  /** 1-based line of the key */
  line: number;
  /** 1-based line where the value ends (a multi-line quoted value ends later) */
  endLine: number;
  /** the value's quote: `"`, `'`, `` ` `` or none */
  quote?: '"' | "'" | '`';
}

export interface ParsedDotenv {
  file: string;
  /** every assignment in file order (duplicates included) */
  entries: DotenvEntry[];
  /** what dotenv.parse returns: the last assignment of each key */
  values: Record<string, string>;
  /** the comment lines (`#` stripped, trimmed) directly above each entry, in order, by entry index */
  comments: string[][];
  findings: EnvFinding[];
  /** the text, line breaks normalised to \n, split into lines */
  lines: string[];
}

/** dotenv's value cleaning: trim, strip matching quotes, expand \n and \r in double quotes. */
function cleanValue(raw: string | undefined): { value: string; quote?: DotenvEntry['quote'] } {
  let value = (raw ?? '').trim();
  const maybeQuote = value[0];
  value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
  if (maybeQuote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
  const quoted = raw !== undefined && (maybeQuote === '"' || maybeQuote === "'" || maybeQuote === '`') && raw.trim().length >= 2 && raw.trim().endsWith(maybeQuote);
  return quoted ? { value, quote: maybeQuote } : { value };
}

const QUOTES = new Set(['"', "'", '`']);

/** Where the first unescaped `q` after position `from` is in `s`, or -1. */
function closingQuote(s: string, q: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === q) return i;
  }
  return -1;
}

/** Parse `.env` text; `file` names it in findings. Never throws. */
export function parseDotenv(text: string, file: string): ParsedDotenv {
  const src = text.replace(/\r\n?/g, '\n');
  const lines = src.split('\n');
  // the start offset of each line, to turn offsets into 1-based line numbers
  const starts: number[] = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') starts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  const entries: DotenvEntry[] = [];
  const values: Record<string, string> = {};
  const covered = new Set<number>();
  const findings: EnvFinding[] = [];
  const add = (line: number, name: string | undefined, code: string, severity: EnvFinding['severity'], message: string): void => {
    findings.push({ file, line, ...(name !== undefined ? { name } : {}), code, severity, message });
  };

  const re = new RegExp(LINE.source, LINE.flags);
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) !== null) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    const key = m[1] as string;
    const idx = m.indices as RegExpIndicesArray;
    const keyAt = (idx[1] as [number, number])[0];
    const line = lineOf(keyAt);
    const valueEnd = idx[2] ? (idx[2] as [number, number])[1] : (idx[1] as [number, number])[1];
    // a value ending with its line's \n (`\s*` in the quoted forms never ends there) stays on its line
    const endLine = Math.max(line, lineOf(Math.max(keyAt, valueEnd - 1)));
    const { value, quote } = cleanValue(m[2]);
    entries.push({ key, value, line, endLine, ...(quote ? { quote } : {}) });
    values[key] = value;
    for (let l = line; l <= endLine; l++) covered.add(l);
  }

  // comments directly above each entry (no blank line in between)
  const comments = entries.map((e) => {
    const out: string[] = [];
    for (let l = e.line - 1; l >= 1; l--) {
      const t = (lines[l - 1] as string).trim();
      if (!t.startsWith('#') || covered.has(l)) break;
      out.unshift(t.replace(/^#+\s?/, '').trim());
    }
    return out;
  });

  // keys: duplicates name both lines
  const byKey = new Map<string, DotenvEntry[]>();
  for (const e of entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  for (const [key, list] of byKey) {
    if (list.length < 2) continue;
    const at = list.map((e) => e.line).join(', ');
    for (const e of list) add(e.line, key, 'duplicate-key', 'error', `${key} is set ${list.length} times (lines ${at}); dotenv keeps the last one, other loaders the first`);
  }

  // a byte-order mark: dotenv reads past it (it is whitespace to a regex), other loaders make it part of the first key
  if (src.startsWith('\uFEFF')) add(1, entries[0]?.line === 1 ? entries[0].key : undefined, 'bom', 'warning', 'the file starts with a byte-order mark (BOM): save it as UTF-8 without BOM');
  for (const e of entries) lintEntry(e, e.line === 1 ? (lines[0] as string).replace(/^\uFEFF/, '') : (lines[e.line - 1] as string), add);

  // a multi-line quoted value that swallowed KEY=VALUE lines is most likely a missing closing quote
  for (const e of entries) {
    if (e.endLine === e.line) continue;
    const swallowed: string[] = [];
    for (let l = e.line + 1; l <= e.endLine; l++) {
      const k = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(lines[l - 1] as string);
      if (k) swallowed.push(`${k[1]} (line ${l})`);
    }
    if (swallowed.length) add(e.line, e.key, 'quote-spans-keys', 'warning', `the quoted value runs to line ${e.endLine} and takes in ${swallowed.join(', ')}: a missing closing quote?`);
  }

  // lines dotenv skips
  lines.forEach((raw, i) => {
    const l = i + 1;
    if (covered.has(l)) return;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const name = /^\s*(?:export\s+)?([^\s=:#]+)/.exec(raw)?.[1];
    const looksKey = name !== undefined && t.includes('=') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
    const why = !t.includes('=') ? 'a line without "=": expected KEY=VALUE' : /^\s*[^\s=]+\s+[^\s=]/.test(raw) && !/^\s*export\s+/.test(raw) ? 'the key has a space in it: expected KEY=VALUE' : 'not a KEY=VALUE line (a key is letters, digits and _)';
    add(l, looksKey ? name : undefined, 'invalid-line', 'error', `${why}; dotenv ignores this line`);
  });

  if (src.length > 0 && !src.endsWith('\n')) add(lines.length, undefined, 'no-final-newline', 'warning', 'no newline at the end of the file');

  findings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { file, entries, values, comments, findings, lines };
}

type Add = (line: number, name: string | undefined, code: string, severity: EnvFinding['severity'], message: string) => void;

/** What dotenv accepts on the key line but other loaders (shells, docker --env-file, compose) read differently. */
function lintEntry(e: DotenvEntry, raw: string, add: Add): void {
  const { key, line } = e;
  const lead = /^(\s*)(export\s+)?/.exec(raw) as RegExpExecArray;
  if ((lead[1] as string).length > 0) add(line, key, 'leading-character', 'error', `leading whitespace before ${key}`);
  if (lead[2]) add(line, key, 'export-prefix', 'warning', `"export ${key}=…": drop "export" (docker and compose env files do not accept it)`);
  if (/^[^A-Za-z_]/.test(key)) add(line, key, 'leading-character', 'error', `${key} starts with "${key[0]}": a key starts with a letter or _`);
  else if (/[.-]/.test(key)) add(line, key, 'invalid-key', 'error', `${key} has "${/[.-]/.exec(key)?.[0]}" in it: a key is letters, digits and _`);
  if (/[a-z]/.test(key)) add(line, key, 'lowercase-key', 'error', `${key} has lower-case letters: expected ${key.toUpperCase()}`);
  const afterKey = raw.slice((lead[0] as string).length + key.length);
  const delim = /^(\s*)(=|:)(\s*)/.exec(afterKey);
  if (!delim) return;
  if (delim[2] === ':') {
    add(line, key, 'incorrect-delimiter', 'error', `"${key}: …": expected ${key}=…`);
    return;
  }
  if ((delim[1] as string).length > 0 || ((delim[3] as string).length > 0 && afterKey.slice(delim[0].length) !== '')) {
    add(line, key, 'space-character', 'error', `spaces around "=": write ${key}=… (shells and docker read the spaces as part of the key or the value)`);
  }
  const rest = afterKey.slice(delim[0].length);
  if (e.endLine === line && /[ \t]$/.test(raw)) add(line, key, 'trailing-whitespace', 'warning', 'trailing whitespace');
  const q = rest[0];
  if (q === undefined || !QUOTES.has(q)) {
    const value = rest.replace(/\s+#.*$/, '').trim();
    if (/#/.test(value) && !rest.startsWith('#')) add(line, key, 'unquoted-hash', 'warning', `"#" in an unquoted value: dotenv cuts the value there; quote it`);
    else if (/\s/.test(value)) add(line, key, 'unquoted-space', 'warning', 'the value has spaces but no quotes: `source .env` in a shell splits it; quote it');
    return;
  }
  if (e.endLine > line && e.quote) return; // a multi-line quoted value
  const close = closingQuote(rest, q, 1);
  if (close === -1) {
    const last = rest.trimEnd().slice(-1);
    if (rest.trimEnd().length > 1 && QUOTES.has(last) && last !== q) add(line, key, 'mismatched-quotes', 'error', `the value opens with ${q} and ends with ${last}`);
    else add(line, key, 'unterminated-quote', 'error', `the value opens with ${q} and never closes it on this line or below: dotenv reads the quote as part of the value`);
    return;
  }
  const tail = rest.slice(close + 1).trim();
  if (tail !== '' && !tail.startsWith('#')) add(line, key, 'text-after-quote', 'error', `text after the closing ${q}: dotenv keeps the quotes as part of the value; quote the whole value`);
}

/** A value shown without showing it: `eyJh…(214 chars)`, short ones only by length. */
export function maskValue(value: string): string {
  if (value.length === 0) return '(empty)';
  if (value.length < 12) return `…(${value.length} chars)`;
  return `${value.slice(0, 4)}…(${value.length} chars)`;
}
