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

type Source = { fingerprint: string; labels: Labels };

/**
 * Firing alerts indexed for inhibition (Alertmanager's inhibit.go): per rule, the alerts matching
 * its source side, bucketed by their values of the rule's `equal` labels (a missing label counts
 * as empty, so missing on both is equal). Asking about one target costs its rules and the sources
 * equal to it, not a walk over every firing alert; kept up to date alert by alert.
 */
export class InhibitIndex {
  private rules: InhibitRule[] = [];
  private compiled: CompiledInhibitRule[] = [];
  /** per rule: equal-key → fingerprint → source */
  private buckets: Map<string, Map<string, Source>>[] = [];
  private readonly alerts = new Map<string, Source>();

  /** an alert fires (or its labels changed) */
  set(a: Source): void {
    this.delete(a.fingerprint);
    this.alerts.set(a.fingerprint, a);
    this.add(a);
  }

  /** an alert no longer fires */
  delete(fingerprint: string): void {
    const old = this.alerts.get(fingerprint);
    if (!old) return;
    this.alerts.delete(fingerprint);
    this.compiled.forEach((r, i) => this.buckets[i]?.get(equalKey(r.equal, old.labels))?.delete(fingerprint));
  }

  /**
   * Which firing alerts inhibit `target` (Alertmanager's inhibit.go): a firing source matching the
   * source side, the target matching the target side, equal on the `equal` labels (a label missing
   * on both counts as equal).
   */
  inhibitedBy(target: Source, rules: InhibitRule[]): string[] {
    if (rules !== this.rules) this.reindex(rules);
    const out = new Set<string>();
    this.compiled.forEach((r, i) => {
      if (!allMatch(r.target, target.labels)) return;
      const sources = this.buckets[i]?.get(equalKey(r.equal, target.labels));
      if (!sources) return;
      // a target matching the source side too: sources that also match the target side are
      // disregarded, so an alert never inhibits itself and two such alerts not each other
      const twoSided = allMatch(r.source, target.labels);
      for (const s of sources.values()) {
        if (s.fingerprint === target.fingerprint) continue;
        if (twoSided && allMatch(r.target, s.labels)) continue;
        out.add(s.fingerprint);
      }
    });
    return [...out];
  }

  private add(a: Source): void {
    this.compiled.forEach((r, i) => {
      if (!allMatch(r.source, a.labels)) return;
      const key = equalKey(r.equal, a.labels);
      const m = this.buckets[i] as Map<string, Map<string, Source>>;
      let b = m.get(key);
      if (!b) m.set(key, (b = new Map()));
      b.set(a.fingerprint, a);
    });
  }

  private reindex(rules: InhibitRule[]): void {
    this.rules = rules;
    this.compiled = rules.map(compileInhibitRule);
    this.buckets = rules.map(() => new Map());
    for (const a of this.alerts.values()) this.add(a);
  }
}

const equalKey = (equal: string[], labels: Labels): string => (equal.length === 0 ? '' : JSON.stringify(equal.map((l) => labels[l] ?? '')));
