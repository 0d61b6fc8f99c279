/** Label matching: routes (matchers, match / match_re), silence matchers (=, !=, =~, !~) and inhibition. */
import type { InhibitRule } from './config.js';
import { anchoredGoRegex } from './go-regex.js';
import { parseMatchers } from './matchers.js';

export type Labels = Record<string, string>;

export type { Matcher } from './api-types.js';
import type { Matcher } from './api-types.js';

/**
 * One matcher, Alertmanager's syntax: `alertname=high-error-rate`, `service!=db`,
 * `severity=~"P0|P1"`, `env!~staging.*`, `"odd name"="a \"quoted\" value"`.
 */
export { parseOneMatcher as parseMatcher, parseMatchers } from './matchers.js';

export function validateMatcher(m: Matcher): void {
  if (m.isRegex) {
    try {
      anchoredGoRegex(m.value);
    } catch (e) {
      throw new Error(`matcher ${formatMatcher(m)}: invalid regular expression: ${(e as Error).message}`);
    }
  }
}

export function formatMatcher(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return `${m.name}${op}${/^[A-Za-z0-9_.:/-]*$/.test(m.value) ? m.value : JSON.stringify(m.value)}`;
}

/**
 * A stored matcher's regex that is not Go syntax (a silence made before regexes were read as Go's)
 * is read as JavaScript; one neither reads matches nothing. Matching never throws.
 */
const legacy = new Map<string, RegExp | null>();
function storedRegex(re: string): RegExp | undefined {
  try {
    return anchoredGoRegex(re);
  } catch {
    let r = legacy.get(re);
    if (r === undefined) {
      try {
        r = new RegExp(`^(?:${re})$`, 'u');
      } catch {
        r = null;
      }
      if (legacy.size > 1000) legacy.clear();
      legacy.set(re, r);
    }
    return r ?? undefined;
  }
}

export function matcherMatches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  const hit = m.isRegex ? (storedRegex(m.value)?.test(v) ?? false) : v === m.value;
  return m.isEqual ? hit : !hit;
}

export const allMatch = (ms: Matcher[], labels: Labels) => ms.every((m) => matcherMatches(m, labels));

/** `match` / `match_re` / `matchers` of a config entry as one list of matchers. */
export function matchersOf(match: Record<string, string | string[]> | undefined, matchRe: Record<string, string> | undefined, lines: string[] | undefined): Matcher[] {
  const out: Matcher[] = [];
  for (const [name, want] of Object.entries(match ?? {})) {
    // Shipshape's list form (label: [a, b]) is one anchored alternation of the literal values
    if (Array.isArray(want)) out.push({ name, value: want.map((w) => w.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')).join('|'), isRegex: true, isEqual: true });
    else out.push({ name, value: want, isRegex: false, isEqual: true });
  }
  for (const [name, re] of Object.entries(matchRe ?? {})) out.push({ name, value: re, isRegex: true, isEqual: true });
  for (const line of lines ?? []) out.push(...parseMatchers(line));
  return out;
}

export interface CompiledInhibitRule {
  source: Matcher[];
  target: Matcher[];
  equal: string[];
}

const compiledRules = new WeakMap<InhibitRule, CompiledInhibitRule>();
function compileInhibitRule(rule: InhibitRule): CompiledInhibitRule {
  let c = compiledRules.get(rule);
  if (!c) {
    c = { source: matchersOf(rule.source_match, rule.source_match_re, rule.source_matchers), target: matchersOf(rule.target_match, rule.target_match_re, rule.target_matchers), equal: rule.equal };
    compiledRules.set(rule, c);
  }
  return c;
}

/**
 * Which firing alerts inhibit `target` (Alertmanager's inhibit.go): a firing source matching the
 * source side, the target matching the target side, equal on the `equal` labels (a label missing
 * on both counts as equal). When the target matches the source side too, sources that also match
 * the target side are disregarded, so an alert never inhibits itself and two alerts matching both
 * sides do not inhibit each other.
 */
export function inhibitedBy(target: { fingerprint: string; labels: Labels }, sources: Iterable<{ fingerprint: string; labels: Labels; state?: string }>, rules: InhibitRule[]): string[] {
  const out = new Set<string>();
  // walked once per rule: an iterator (a Map's values) is read into a list once
  const list = Array.isArray(sources) ? (sources as readonly { fingerprint: string; labels: Labels; state?: string }[]) : [...sources];
  for (const rule of rules) {
    const r = compileInhibitRule(rule);
    if (!allMatch(r.target, target.labels)) continue;
    const twoSided = allMatch(r.source, target.labels);
    for (const s of list) {
      if (s.state === 'resolved' || s.fingerprint === target.fingerprint) continue;
      if (!allMatch(r.source, s.labels)) continue;
      if (twoSided && allMatch(r.target, s.labels)) continue;
      if (r.equal.every((l) => (s.labels[l] ?? '') === (target.labels[l] ?? ''))) out.add(s.fingerprint);
    }
  }
  return [...out];
}
