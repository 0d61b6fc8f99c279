/** Label matching: routes (match / match_re), silence matchers (=, !=, =~, !~) and inhibition. */
import type { InhibitRule, RouteConfig } from './config.js';

export type Labels = Record<string, string>;

const reCache = new Map<string, RegExp>();
/** Anchored like Alertmanager: `=~ "a|b"` matches the whole value. */
export function anchored(re: string): RegExp {
  let r = reCache.get(re);
  if (!r) {
    r = new RegExp(`^(?:${re})$`);
    if (reCache.size > 10_000) reCache.clear();
    reCache.set(re, r);
  }
  return r;
}

/** `match: {label: value | [values]}` and `match_re: {label: regex}`; a missing label is "". */
export function matchesLabels(labels: Labels, match: Record<string, string | string[]>, matchRe: Record<string, string> = {}): boolean {
  for (const [k, want] of Object.entries(match)) {
    const v = labels[k] ?? '';
    if (Array.isArray(want) ? !want.includes(v) : want !== v) return false;
  }
  for (const [k, re] of Object.entries(matchRe)) if (!anchored(re).test(labels[k] ?? '')) return false;
  return true;
}

export function routeMatches(route: RouteConfig, labels: Labels): boolean {
  return matchesLabels(labels, route.match, route.match_re);
}

export type { Matcher } from './api-types.js';
import type { Matcher } from './api-types.js';

/** `alertname=high-error-rate`, `service!=db`, `severity=~"P0|P1"`, `env!~staging.*` */
export function parseMatcher(text: string): Matcher {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a matcher: write label=value, label!=value, label=~regex or label!~regex`);
  let value = m[3] as string;
  if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) value = value.slice(1, -1);
  const op = m[2] as string;
  const matcher = { name: m[1] as string, value, isRegex: op.includes('~'), isEqual: !op.startsWith('!') };
  validateMatcher(matcher);
  return matcher;
}

export function validateMatcher(m: Matcher): void {
  if (m.isRegex) {
    try {
      anchored(m.value);
    } catch (e) {
      throw new Error(`matcher ${formatMatcher(m)}: invalid regular expression: ${(e as Error).message}`);
    }
  }
}

export function formatMatcher(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return `${m.name}${op}${/^[A-Za-z0-9_.:/-]*$/.test(m.value) ? m.value : JSON.stringify(m.value)}`;
}

export function matcherMatches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  const hit = m.isRegex ? anchored(m.value).test(v) : v === m.value;
  return m.isEqual ? hit : !hit;
}

export const allMatch = (ms: Matcher[], labels: Labels) => ms.every((m) => matcherMatches(m, labels));

/**
 * Which firing alerts inhibit `target`: a source matching source_match, the target matching
 * target_match, equal on the `equal` labels, and not the same alert.
 */
export function inhibitedBy(target: { fingerprint: string; labels: Labels }, sources: Iterable<{ fingerprint: string; labels: Labels }>, rules: InhibitRule[]): string[] {
  const out = new Set<string>();
  for (const rule of rules) {
    if (!matchesLabels(target.labels, rule.target_match, rule.target_match_re)) continue;
    for (const s of sources) {
      if (s.fingerprint === target.fingerprint) continue;
      if (!matchesLabels(s.labels, rule.source_match, rule.source_match_re)) continue;
      if (rule.equal.every((l) => (s.labels[l] ?? '') === (target.labels[l] ?? ''))) out.add(s.fingerprint);
    }
  }
  return [...out];
}
