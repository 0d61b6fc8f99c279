/**
 * Finding secrets in one block of text (a chunk of a file, or the added lines of one file in a
 * diff): keyword prefilter, rule regexes, entropy and placeholder filters, inline allow comments,
 * and generic rules yielding to specific ones on the same text.
 */
import { entropy, isPlaceholder, RULES, type Rule, type Severity } from './rules.js';

/** A match in a block: line is 0-based within the block, column 1-based (UTF-16 units, as SARIF counts). */
export interface BlockMatch {
  ruleId: string;
  description: string;
  severity: Severity;
  line: number;
  column: number;
  endColumn: number;
  secret: string;
}

/** Comments that accept a finding on their line. */
const ALLOW_MARKERS = ['shipshape:allow', 'gitleaks:allow'];

interface Raw extends BlockMatch {
  start: number;
  end: number;
  generic: boolean;
}

/** Offsets of each '\n' in `text`, computed once per block and only when something matched. */
class Lines {
  private nl: number[] | undefined;
  constructor(private readonly text: string) {}
  private offsets(): number[] {
    if (!this.nl) {
      const nl: number[] = [];
      let i = this.text.indexOf('\n');
      while (i !== -1) {
        nl.push(i);
        i = this.text.indexOf('\n', i + 1);
      }
      this.nl = nl;
    }
    return this.nl;
  }
  /** 0-based line of offset `pos` */
  lineOf(pos: number): number {
    const nl = this.offsets();
    let lo = 0;
    let hi = nl.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((nl[mid] as number) < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  lineStart(line: number): number {
    return line === 0 ? 0 : (this.offsets()[line - 1] as number) + 1;
  }
  lineEnd(line: number): number {
    const nl = this.offsets();
    return line < nl.length ? (nl[line] as number) : this.text.length;
  }
}

export interface BlockOptions {
  /** rules to run (default all) */
  rules?: readonly Rule[];
}

/** One pass over a block finds where any rule's keywords are: a regex of all keywords, case-insensitive. */
interface Compiled {
  trigger: RegExp;
  /** lower-cased keyword → indexes of the rules it triggers */
  byKeyword: Map<string, number[]>;
  /** per rule: a sticky copy of its regex for anchored rules */
  sticky: (RegExp | undefined)[];
}

const compiled = new WeakMap<readonly Rule[], Compiled>();

function compile(rules: readonly Rule[]): Compiled {
  let c = compiled.get(rules);
  if (c) return c;
  const byKeyword = new Map<string, number[]>();
  rules.forEach((r, i) => {
    for (const k of r.keywords) byKeyword.set(k, [...(byKeyword.get(k) ?? []), i]);
  });
  const esc = (k: string) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // longer keywords first, so `aws_secret` is seen as such and not as `secret` alone
  const kws = [...byKeyword.keys()].sort((a, b) => b.length - a.length);
  c = {
    trigger: new RegExp(kws.map(esc).join('|'), 'gi'),
    byKeyword,
    sticky: rules.map((r) => (r.anchored ? new RegExp(r.regex.source, `${r.regex.flags.replace('g', '')}y`) : undefined)),
  };
  compiled.set(rules, c);
  return c;
}

/** All secrets in `text`. */
export function matchBlock(text: string, opts: BlockOptions = {}): BlockMatch[] {
  const rules = opts.rules ?? RULES;
  const c = compile(rules);
  // which rules to run, and for anchored ones, where
  const places = new Map<number, number[]>();
  const tr = c.trigger;
  tr.lastIndex = 0;
  let t: RegExpExecArray | null;
  while ((t = tr.exec(text)) !== null) {
    for (const i of c.byKeyword.get(t[0].toLowerCase()) ?? []) {
      const list = places.get(i);
      if (list) list.push(t.index);
      else places.set(i, [t.index]);
    }
    tr.lastIndex = t.index + 1; // keywords may overlap (`secret` in `aws_secret`)
  }
  if (places.size === 0) return [];
  const raws: Raw[] = [];
  const seen = new Set<string>();
  let lines: Lines | undefined;
  const consider = (rule: Rule, m: RegExpExecArray) => {
    const secret = m[1] ?? m[0];
    if (rule.entropy !== undefined && entropy(secret) < rule.entropy) return;
    if (isPlaceholder(secret)) return;
    let verdict = rule.check ? rule.check(secret, m) : true;
    if (verdict === false) return;
    if (verdict === true) verdict = {};
    const secretStart = m.index + Math.max(0, m[0].indexOf(secret));
    // an anchored rule tried at two overlapping keywords finds the same secret twice
    const key = `${rule.id}:${secretStart}`;
    if (seen.has(key)) return;
    seen.add(key);
    const at = rule.reportMatch ? m.index : secretStart;
    lines ??= new Lines(text);
    const line = lines.lineOf(at);
    const ls = lines.lineStart(line);
    const lineText = text.slice(ls, lines.lineEnd(line));
    if (ALLOW_MARKERS.some((a) => lineText.includes(a))) return;
    const column = at - ls + 1;
    const reportEnd = rule.reportMatch ? Math.min(m.index + m[0].length, lines.lineEnd(line)) : secretStart + secret.length;
    raws.push({
      ruleId: verdict.id ?? rule.id,
      description: verdict.description ?? rule.description,
      severity: verdict.severity ?? rule.severity,
      line,
      column,
      endColumn: Math.max(column + 1, reportEnd - ls + 1),
      secret,
      start: secretStart,
      end: secretStart + secret.length,
      generic: rule.generic === true,
    });
  };
  for (const [i, at] of [...places].sort((a, b) => a[0] - b[0])) {
    const rule = rules[i] as Rule;
    const sticky = c.sticky[i];
    if (sticky) {
      for (const pos of at) {
        sticky.lastIndex = pos;
        const m = sticky.exec(text);
        if (m) consider(rule, m);
      }
      continue;
    }
    const re = rule.regex;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      consider(rule, m);
    }
  }
  if (raws.length === 0) return [];
  // a generic rule's match yields to any specific rule's match on the same text
  const specific = raws.filter((r) => !r.generic);
  const kept = raws.filter((r) => !r.generic || !specific.some((s) => s.start < r.end && r.start < s.end));
  kept.sort((a, b) => a.start - b.start);
  return kept.map(({ ruleId, description, severity, line, column, endColumn, secret }) => ({ ruleId, description, severity, line, column, endColumn, secret }));
}

/** How a secret appears in any output: its first 4 characters and an ellipsis. */
export function redact(secret: string): string {
  return `${secret.slice(0, 4)}…`;
}
