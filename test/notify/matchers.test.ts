/**
 * Alertmanager's matcher syntax (cases of matcher/parse/parse_test.go and pkg/labels) and Go (RE2)
 * regular expressions translated to JavaScript, anchored like Alertmanager.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { anchoredGoRegex } from '../../src/notify/go-regex.js';
import { allMatch, matcherMatches, parseMatcher, parseMatchers, type Matcher } from '../../src/notify/match.js';

const eq = (name: string, value: string): Matcher => ({ name, value, isRegex: false, isEqual: true });
const ne = (name: string, value: string): Matcher => ({ name, value, isRegex: false, isEqual: false });
const re = (name: string, value: string): Matcher => ({ name, value, isRegex: true, isEqual: true });
const nre = (name: string, value: string): Matcher => ({ name, value, isRegex: true, isEqual: false });

describe('matcher lists (one config matchers: entry)', () => {
  const ok: [string, Matcher[]][] = [
    ['', []],
    ['{}', []],
    ['{foo=bar}', [eq('foo', 'bar')]],
    ['{foo=bar,}', [eq('foo', 'bar')]],
    ['{foo!=bar}', [ne('foo', 'bar')]],
    ['{foo=~[a-z]+}', [re('foo', '[a-z]+')]],
    ['{foo!~[a-z]+}', [nre('foo', '[a-z]+')]],
    ['{foo=🙂}', [eq('foo', '🙂')]],
    ['foo=🙂bar', [eq('foo', '🙂bar')]],
    ['foo=bar,', [eq('foo', 'bar')]],
    ['{"foo"="bar"}', [eq('foo', 'bar')]],
    ['{"foo"=~"\\\\d+"}', [re('foo', '\\d+')]],
    ['{"foo"="\\xf0\\x9f\\x99\\x82"}', [eq('foo', '🙂')]],
    ['{"foo"="\\U0001f642"}', [eq('foo', '🙂')]],
    ['{"foo"="bar\\n"}', [eq('foo', 'bar\n')]],
    ['{"foo"="bar\\t"}', [eq('foo', 'bar\t')]],
    ['{"foo"="\\"bar\\""}', [eq('foo', '"bar"')]],
    ['{"foo"="bar\\\\"}', [eq('foo', 'bar\\')]],
    ['{"odd name 🙂"="x"}', [eq('odd name 🙂', 'x')]],
    ['{foo=bar,bar!=baz}', [eq('foo', 'bar'), ne('bar', 'baz')]],
    ['foo="bar", bar!="baz"', [eq('foo', 'bar'), ne('bar', 'baz')]],
    ['severity=~"P0|P1"', [re('severity', 'P0|P1')]],
    // only the classic parser takes these (Alertmanager falls back to it)
    ['instance=~.+\\.example\\.com', [re('instance', '.+\\.example\\.com')]],
    ['foo=', [eq('foo', '')]],
  ];
  for (const [input, want] of ok) it(`parses ${JSON.stringify(input)}`, () => expect(parseMatchers(input)).toEqual(want));

  const bad: [string, RegExp][] = [
    [',', /unexpected "," at column 1: expected a label name/],
    ['{foo=:"bar"}', /unexpected "\\"bar\\"" at column 7: expected a comma or a closing brace/],
    ['{"foo"="\\xf0\\x9f"}', /not valid UTF-8/],
    ['foo!bar', /expected "=" or "~" after "!"/],
    ['foo=~"(unclosed"', /invalid regular expression/],
    ['team!="db', /missing closing "/],
  ];
  for (const [input, want] of bad) it(`refuses ${JSON.stringify(input)}`, () => expect(() => parseMatchers(input)).toThrow(want));
});

describe('one matcher (silences)', () => {
  it('parses what the old parser took, and quoted names and escapes', () => {
    expect(parseMatcher('alertname=high-error-rate')).toEqual(eq('alertname', 'high-error-rate'));
    expect(parseMatcher('service!=db')).toEqual(ne('service', 'db'));
    expect(parseMatcher('severity=~"P0|P1"')).toEqual(re('severity', 'P0|P1'));
    expect(parseMatcher('env!~staging.*')).toEqual(nre('env', 'staging.*'));
    expect(parseMatcher('"foo"="\\"bar\\""')).toEqual(eq('foo', '"bar"'));
  });
  it('foo=bar,bar=baz is two matchers: an error, not a value "bar,bar=baz"', () => {
    expect(() => parseMatcher('foo=bar,bar=baz')).toThrow(/expected 1 matcher, found 2/);
    expect(() => parseMatcher('{foo=bar}')).toThrow(/without braces/);
    expect(() => parseMatcher('')).toThrow(/empty/);
  });
});

describe('matching', () => {
  it('a missing label is the empty value; regexes match the whole value', () => {
    expect(matcherMatches(re('env', 'prod'), { env: 'production' })).toBe(false);
    expect(matcherMatches(re('env', 'prod.*'), { env: 'production' })).toBe(true);
    expect(matcherMatches(ne('team', 'db'), {})).toBe(true);
    expect(matcherMatches(re('team', '.*'), {})).toBe(true);
    expect(allMatch(parseMatchers('{owner="team-A",level!="critical"}'), { owner: 'team-A', level: 'critical' })).toBe(false);
  });
});

describe('Go regular expressions', () => {
  const cases: [string, string[], string[]][] = [
    ['(?i)error', ['ERROR', 'Error'], ['errors']],
    ['(?s)a.b', ['a\nb'], []],
    ['a.b', ['a\rb', 'aéb'], ['a\nb']],
    ['(?m)^b$', [], ['a\nb']], // the outer anchors still mean the whole value
    ['(?U)a+', ['aaa'], []],
    ['foo\\z', ['foo'], ['foo\n']],
    ['\\Afoo', ['foo'], []],
    ['\\Qa.b*\\E', ['a.b*'], ['axb']],
    ['\\x{1F642}', ['🙂'], []],
    ['\\x41\\101', ['AA'], []],
    ['[[:alpha:]]+', ['abcXYZ'], ['ab1']],
    ['[[:^digit:]]+', ['abc'], ['a1']],
    ['[^[:space:]x]+', ['abc'], ['a b', 'axb']],
    ['\\pL+', ['héllo'], ['h3']],
    ['\\p{Greek}+', ['αβγ'], ['abc']],
    ['\\s', [' ', '\t'], ['\v', '\u00a0']],
    ['a{2}', ['aa'], ['a', 'aaa']],
    ['a{', ['a{'], []],
    ['x]', ['x]'], []],
    ['(?P<name>a)b', ['ab'], []],
    ['.', ['🙂'], ['ab']],
    ['\\-\\#', ['-#'], []],
    ['[]a]+', [']a]'], ['b']],
  ];
  for (const [src, yes, no] of cases)
    it(`${src}`, () => {
      const r = anchoredGoRegex(src);
      for (const y of yes) expect(r.test(y), `${src} ~ ${JSON.stringify(y)}`).toBe(true);
      for (const n of no) expect(r.test(n), `${src} !~ ${JSON.stringify(n)}`).toBe(false);
    });

  const refused: [string, RegExp][] = [
    ['a(?i)b', /only supported at the very start/],
    ['a(?=b)', /lookahead and lookbehind/],
    ['(a)\\1', /backreferences are not supported/],
    ['\\C', /\\C \(any byte\)/],
    ['a*+', /possessive or repeated quantifiers/],
    ['a{1001}', /over 1000/],
    ['\\e', /invalid escape \\e/],
    ['[[:^alpha:]x]', /no JavaScript translation/],
    ['(', /./],
  ];
  for (const [src, want] of refused) it(`refuses ${src}`, () => expect(() => anchoredGoRegex(src)).toThrow(want));

  it('match_re in the config is Go syntax too: refused with the key named', () => {
    expect(() => parseConfig('notify:\n  channels:\n    a: { webhook: { url: "http://x/" } }\n  routes:\n    - channels: [a]\n      match_re: { service: "a(?i)b" }\n', 'f.yaml', { env: {} })).toThrow(/f\.yaml:6:\d+: notify\.routes\[0\]\.match_re\.service: invalid regular expression: inline flags/);
  });
});
