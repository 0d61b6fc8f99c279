/**
 * Go (RE2) regular expressions, as Alertmanager writes them in `match_re`, `=~` and `!~`,
 * translated to JavaScript: leading inline flags (`(?i)`, `(?s)`, `(?m)`, `(?U)`) become RegExp
 * flags, `\z` `\A` `\Q…\E` `\x{…}` `\pL` `[[:alpha:]]` and the rest get their JavaScript spelling,
 * `.` and `\s` keep Go's meaning, and what has no translation (or what Go itself refuses, such as
 * lookarounds and backreferences) is an error that says so. Always compiled with the `u` flag, so
 * `.` is one code point as in Go.
 */

/** Unicode general categories JavaScript's `\p{…}` takes as is; any other name is a script. */
const CATEGORIES = new Set(['C', 'Cc', 'Cf', 'Co', 'Cs', 'L', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn', 'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps', 'S', 'Sc', 'Sk', 'Sm', 'So', 'Z', 'Zl', 'Zp', 'Zs']);

/** Go's ASCII classes `[[:name:]]` as class contents. */
const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Go's `\s` is ASCII only (no \v, no Unicode spaces). */
const GO_SPACE = '\\t\\n\\f\\r ';
const GO_NOT_SPACE = '\\0-\\x08\\x0B\\x0E-\\x1F\\x21-\\u{10FFFF}';
/** characters JavaScript's `u` mode lets (and needs) a backslash before */
const JS_SYNTAX = '^$\\.*+?()[]{}|/';

export class GoRegexError extends Error {}

export interface TranslatedRegex {
  source: string;
  flags: string;
}

const hex = (cp: number) => `\\u{${cp.toString(16).toUpperCase()}}`;

/** A literal code point, escaped as a JavaScript `u`-mode pattern needs it (in or out of a class). */
function literal(ch: string, inClass: boolean): string {
  if (JS_SYNTAX.includes(ch) || (inClass && ch === '-')) return `\\${ch}`;
  const cp = ch.codePointAt(0) as number;
  if (cp < 0x20 || cp === 0x7f) return hex(cp);
  return ch;
}

/** Translate a Go regular expression; throws GoRegexError with what cannot be translated. */
export function translateGoRegex(re: string): TranslatedRegex {
  const chars = Array.from(re);
  let i = 0;
  const flags = new Set<string>();
  // leading flag groups: (?i) (?is) (?i-s) …
  for (;;) {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(chars.slice(i).join(''));
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) break;
    for (const f of m[1] ?? '') flags.add(f);
    for (const f of m[2] ?? '') flags.delete(f);
    i += Array.from(m[0]).length;
  }
  const ungreedy = flags.has('U');
  const dotAll = flags.has('s');
  let out = '';
  const fail = (msg: string): never => {
    throw new GoRegexError(msg);
  };
  const peek = (k = 0) => chars[i + k];

  /** after an atom's quantifier: laziness (swapped under (?U)), and no stacked quantifiers */
  const quantifierTail = (q: string) => {
    let lazy = false;
    if (peek() === '?') {
      lazy = true;
      i++;
    }
    if (ungreedy) lazy = !lazy;
    out += q + (lazy ? '?' : '');
    const n = peek();
    if (n === '*' || n === '+' || n === '?' || (n === '{' && /^\{\d+(?:,\d*)?\}/.test(chars.slice(i).join('')))) fail(`"${q}${n}" at position ${i}: possessive or repeated quantifiers are not supported (Go's regular expressions refuse them as well)`);
  };

  /** an escape after `\` at chars[i] (i points past the backslash); returns the JavaScript text */
  const escape = (inClass: boolean): string => {
    const c = chars[i++];
    if (c === undefined) return fail('trailing backslash at the end of the regular expression');
    if (/[0-7]/.test(c)) {
      if (c !== '0' && !/[0-7]/.test(peek() ?? '')) return fail(`backreference \\${c} at position ${i - 2}: backreferences are not supported by Go's regular expressions (RE2)`);
      let digits = c;
      while (digits.length < 3 && /[0-7]/.test(peek() ?? '')) digits += chars[i++];
      return hex(parseInt(digits, 8));
    }
    if (c === '8' || c === '9') return fail(`backreference \\${c} at position ${i - 2}: backreferences are not supported by Go's regular expressions (RE2)`);
    switch (c) {
      case 'x': {
        if (peek() === '{') {
          const end = chars.indexOf('}', i);
          const h = end < 0 ? '' : chars.slice(i + 1, end).join('');
          if (!/^[0-9A-Fa-f]{1,6}$/.test(h) || parseInt(h, 16) > 0x10ffff) return fail(`invalid escape \\x{${h}} at position ${i - 2}`);
          i = end + 1;
          return hex(parseInt(h, 16));
        }
        const h = chars.slice(i, i + 2).join('');
        if (!/^[0-9A-Fa-f]{2}$/.test(h)) return fail(`invalid escape \\x${h} at position ${i - 2}: write \\xHH or \\x{HHHH}`);
        i += 2;
        return hex(parseInt(h, 16));
      }
      case 'a':
        return '\\x07';
      case 'f':
      case 't':
      case 'n':
      case 'r':
      case 'v':
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        return `\\${c}`;
      case 's':
        return inClass ? GO_SPACE : `[${GO_SPACE}]`;
      case 'S':
        return inClass ? GO_NOT_SPACE : `[^${GO_SPACE}]`;
      case 'b':
      case 'B':
        return inClass ? fail(`\\${c} inside a character class at position ${i - 2}: Go's regular expressions do not allow it`) : `\\${c}`;
      case 'A':
        return inClass ? fail(`\\A inside a character class at position ${i - 2}`) : '(?<![\\s\\S])';
      case 'z':
        return inClass ? fail(`\\z inside a character class at position ${i - 2}`) : '(?![\\s\\S])';
      case 'p':
      case 'P': {
        let name: string;
        if (peek() === '{') {
          const end = chars.indexOf('}', i);
          if (end < 0) return fail(`unterminated \\${c}{ at position ${i - 2}`);
          name = chars.slice(i + 1, end).join('');
          i = end + 1;
        } else {
          name = chars[i++] ?? '';
        }
        let negate = c === 'P';
        if (name.startsWith('^')) {
          negate = !negate;
          name = name.slice(1);
        }
        if (name === 'Any') {
          if (negate) return fail(`\\P{Any} at position ${i}: matches nothing`);
          return inClass ? '\\0-\\u{10FFFF}' : '[\\0-\\u{10FFFF}]';
        }
        const prop = CATEGORIES.has(name) ? name : `Script=${name}`;
        try {
          new RegExp(`\\p{${prop}}`, 'u');
        } catch {
          return fail(`unknown Unicode class \\${c}{${name}}`);
        }
        return `\\${negate ? 'P' : 'p'}{${prop}}`;
      }
      case 'C':
        return fail(`\\C (any byte) at position ${i - 2} is not supported`);
      case 'Q': {
        let text = '';
        while (i < chars.length && !(chars[i] === '\\' && chars[i + 1] === 'E')) text += literal(chars[i++] as string, inClass);
        if (i < chars.length) i += 2;
        return text;
      }
      default:
        if (/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(c)) return literal(c, inClass);
        return fail(`invalid escape \\${c} at position ${i - 2}: Go's regular expressions do not support it`);
    }
  };

  const charClass = () => {
    // chars[i] is just past '['
    let body = '';
    let negated = false;
    if (peek() === '^') {
      negated = true;
      i++;
    }
    const rest = chars.slice(i).join('');
    const onlyPosix = /^\[:(\^?)([a-z]+):\]\]/.exec(rest);
    if (onlyPosix && POSIX[onlyPosix[2] as string] !== undefined) {
      // [[:^alpha:]] and [^[:^alpha:]]: the negation folds into the class
      const neg = negated !== (onlyPosix[1] === '^');
      out += `[${neg ? '^' : ''}${POSIX[onlyPosix[2] as string]}]`;
      i += Array.from(onlyPosix[0]).length;
      return;
    }
    let first = true;
    for (;;) {
      const c = chars[i];
      if (c === undefined) return fail('missing closing ] of a character class');
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(chars.slice(i).join(''));
        if (m) {
          const set = POSIX[m[2] as string];
          if (set === undefined) fail(`unknown class [:${m[2]}:]`);
          if (m[1] === '^') fail(`a negated class [:^${m[2]}:] together with other characters in one [...] has no JavaScript translation`);
          body += set;
          i += Array.from(m[0]).length;
          continue;
        }
        body += '\\[';
        i++;
        continue;
      }
      if (c === '\\') {
        i++;
        body += escape(true);
        continue;
      }
      i++;
      body += c === '-' ? '-' : literal(c, true);
    }
    out += `[${negated ? '^' : ''}${body}]`;
  };

  while (i < chars.length) {
    const c = chars[i] as string;
    switch (c) {
      case '\\':
        i++;
        out += escape(false);
        break;
      case '[':
        i++;
        charClass();
        break;
      case '(': {
        i++;
        if (peek() !== '?') {
          out += '(';
          break;
        }
        const rest = chars.slice(i).join('');
        if (rest.startsWith('?:')) {
          out += '(?:';
          i += 2;
        } else if (/^\?P?<[A-Za-z0-9_]+>/.test(rest)) {
          out += '('; // a named group: the name is dropped, the group still captures
          i += Array.from((/^\?P?<[A-Za-z0-9_]+>/.exec(rest) as RegExpExecArray)[0]).length;
        } else if (/^\?(=|!|<=|<!)/.test(rest)) {
          fail(`lookahead and lookbehind ("(${rest.slice(0, 3)}…") are not supported by Go's regular expressions (RE2)`);
        } else if (/^\?[imsU-]+[:)]/.test(rest)) {
          fail(`inline flags "(${/^\?[imsU-]+[:)]/.exec(rest)?.[0]}" at position ${i - 1} are only supported at the very start of the regular expression (write "(?i)abc", not "a(?i)bc")`);
        } else {
          fail(`unsupported group "(${rest.slice(0, 3)}…" at position ${i - 1}`);
        }
        break;
      }
      case '*':
      case '+':
      case '?':
        i++;
        quantifierTail(c);
        break;
      case '{': {
        const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(chars.slice(i).join(''));
        if (!m) {
          out += '\\{';
          i++;
          break;
        }
        const min = Number(m[1]);
        const max = m[3] ? Number(m[3]) : m[2] ? -1 : min;
        if (min > 1000 || max > 1000) fail(`repeat count ${m[0]} is over 1000, the most Go allows`);
        if (max !== -1 && max < min) fail(`repeat count ${m[0]}: the maximum is below the minimum`);
        i += m[0].length;
        quantifierTail(m[0]);
        break;
      }
      case '}':
      case ']':
        out += `\\${c}`;
        i++;
        break;
      case '.':
        out += dotAll ? '[\\s\\S]' : '[^\\n]';
        i++;
        break;
      default:
        out += c === '^' || c === '$' || c === '|' || c === ')' ? c : literal(c, false);
        i++;
    }
  }
  let jsFlags = 'u';
  if (flags.has('i')) jsFlags += 'i';
  if (flags.has('m')) jsFlags += 'm';
  try {
    new RegExp(out, jsFlags);
  } catch (e) {
    throw new GoRegexError((e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, ''));
  }
  return { source: out, flags: jsFlags };
}

const cache = new Map<string, RegExp>();

/**
 * The Go regular expression `re` anchored as Alertmanager anchors it (`^(?:re)$`: the whole value
 * must match), as a JavaScript RegExp. Throws GoRegexError.
 */
export function anchoredGoRegex(re: string): RegExp {
  let r = cache.get(re);
  if (!r) {
    const t = translateGoRegex(re);
    // with (?m) the outer anchors must still mean the whole value, as they do in Go
    r = t.flags.includes('m') ? new RegExp(`(?<![\\s\\S])(?:${t.source})(?![\\s\\S])`, t.flags) : new RegExp(`^(?:${t.source})$`, t.flags);
    if (cache.size > 10_000) cache.clear();
    cache.set(re, r);
  }
  return r;
}
