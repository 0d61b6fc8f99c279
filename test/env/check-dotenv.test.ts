/** The .env reader reads values as the dotenv package does, and the lint names file:line and key for what dotenv silently accepts or skips. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { maskValue, parseDotenv } from '../../src/env/dotenv.js';

const FIX = join(import.meta.dirname, 'fixtures-check');

/** `code@line:name` of each finding, for compact assertions. */
const codes = (text: string) => parseDotenv(text, '.env').findings.map((f) => `${f.code}@${f.line}${f.name ? `:${f.name}` : ''}`);

describe('reading values like dotenv', () => {
  const samples: Record<string, string> = {
    plain: 'A=1\nB=two words\nC=\nD=  padded  \n',
    quotes: `S='single $HOME \\n kept'\nD="double \\n expanded"\nB=\`back tick\`\nE="has # hash"\nU=value # comment\nH=abc#def\n`,
    multiline: 'KEY="-----BEGIN KEY-----\nMIIB\nabc\n-----END KEY-----"\nNEXT=1\nSQ=\'one\ntwo\'\n',
    messy: ' LEAD=1\nexport EXP=2\nSP = 3\nlow=4\nDUP=first\nDUP=second\nnot a line\nCOLON: yaml\nUNCLOSED="abc\nAFTER=ok\nMIS=\'x"\n',
    crlf: 'A=1\r\nB="x\r\ny"\r\nC=3',
    dots: 'my.key=1\nmy-key=2\n1ABC=3\n',
  };
  for (const [name, text] of Object.entries(samples)) {
    it(`gives the same values as dotenv.parse: ${name}`, () => {
      expect(parseDotenv(text, '.env').values).toEqual(dotenv.parse(text));
    });
  }

  it('gives the same values as dotenv.parse on the example and production fixtures', () => {
    for (const f of ['.env.example', 'production.env']) {
      const text = readFileSync(join(FIX, f), 'utf8');
      const parsed = parseDotenv(text, f).values;
      expect(parsed).toEqual(dotenv.parse(text));
      expect(Object.keys(parsed).length).toBeGreaterThan(15);
    }
  });

  it('knows the line of each key and where a multi-line value ends', () => {
    const p = parseDotenv(samples.multiline as string, '.env');
    expect(p.entries.map((e) => [e.key, e.line, e.endLine, e.quote])).toEqual([
      ['KEY', 1, 4, '"'],
      ['NEXT', 5, 5, undefined],
      ['SQ', 6, 7, "'"],
    ]);
    expect(p.findings).toEqual([]);
  });

  it('keeps the comment lines directly above each entry', () => {
    const p = parseDotenv('# lone\n\n# one\n# @required\nA=1\nB=2\n', '.env');
    expect(p.comments).toEqual([['one', '@required'], []]);
  });
});

describe('lint', () => {
  it('a clean file has no findings', () => {
    expect(codes('# comment\n\nA=1\nB="two words"\nC=\n')).toEqual([]);
    expect(parseDotenv(readFileSync(join(FIX, 'production.env'), 'utf8'), 'production.env').findings).toEqual([]);
  });

  it('names both lines of a duplicated key, as errors', () => {
    const p = parseDotenv('DUP=1\nOTHER=2\nDUP=3\n', '.env');
    expect(p.findings).toEqual([
      { file: '.env', line: 1, name: 'DUP', code: 'duplicate-key', severity: 'error', message: 'DUP is set 2 times (lines 1, 3); dotenv keeps the last one, other loaders the first' },
      { file: '.env', line: 3, name: 'DUP', code: 'duplicate-key', severity: 'error', message: 'DUP is set 2 times (lines 1, 3); dotenv keeps the last one, other loaders the first' },
    ]);
  });

  it('finds unterminated, mismatched and trailing-text quotes', () => {
    expect(codes('A="abc\nB=ok\n')).toEqual(['unterminated-quote@1:A']);
    expect(codes("A='abc\"\n")).toEqual(['mismatched-quotes@1:A']);
    expect(codes('A="abc"def\n')).toEqual(['text-after-quote@1:A']);
    expect(codes('A="abc" # a comment\n')).toEqual([]);
  });

  it('warns when a quoted value runs over KEY=VALUE lines (a missing closing quote)', () => {
    const p = parseDotenv('A="abc\nB=1\nC=2"\nD=3\n', '.env');
    expect(p.values.A).toBe('abc\nB=1\nC=2');
    expect(p.findings.map((f) => [f.code, f.line, f.severity])).toEqual([['quote-spans-keys', 1, 'warning']]);
    expect(p.findings[0]?.message).toContain('B (line 2), C (line 3)');
  });

  it('finds spaces around =, lower-case keys, leading characters, export, a bad delimiter', () => {
    expect(codes('A = 1\nB =2\nC= 3\n')).toEqual(['space-character@1:A', 'space-character@2:B', 'space-character@3:C']);
    expect(codes('api_key=1\n')).toEqual(['lowercase-key@1:api_key']);
    expect(codes('  A=1\n')).toEqual(['leading-character@1:A']);
    expect(codes('1A=1\n-B=2\n')).toEqual(['leading-character@1:1A', 'leading-character@2:-B']);
    expect(codes('A.B=1\n')).toEqual(['invalid-key@1:A.B']);
    expect(codes('export A=1\n')).toEqual(['export-prefix@1:A']);
    expect(codes('A: 1\n')).toEqual(['incorrect-delimiter@1:A']);
    const p = parseDotenv('export A=1\n', '.env');
    expect(p.findings[0]?.severity).toBe('warning');
  });

  it('flags lines that are not KEY=VALUE (dotenv skips them) and a missing final newline', () => {
    expect(codes('A=1\njust text\nB C=2\nD=4')).toEqual(['invalid-line@2', 'invalid-line@3:B', 'no-final-newline@4']);
    expect(parseDotenv('B C=2\n', '.env').findings[0]?.message).toBe('the key has a space in it: expected KEY=VALUE; dotenv ignores this line');
    const p = parseDotenv('A=1\nB', '.env');
    expect(p.findings.map((f) => [f.code, f.severity])).toEqual([
      ['invalid-line', 'error'],
      ['no-final-newline', 'warning'],
    ]);
  });

  it('warns about a # in an unquoted value, which dotenv cuts there', () => {
    const p = parseDotenv('PASS=abc#def\n', '.env');
    expect(p.values.PASS).toBe('abc');
    expect(p.findings.map((f) => [f.code, f.line])).toEqual([['unquoted-hash', 1]]);
  });

  it('warns about trailing whitespace and unquoted values with spaces', () => {
    expect(codes('A=1 \nB=two words\nC="two words"\nD=one # comment\n')).toEqual(['trailing-whitespace@1:A', 'unquoted-space@2:B']);
  });

  it('warns about a byte-order mark, once, not as leading whitespace', () => {
    const p = parseDotenv('\uFEFFA=1\nB=2\n', '.env');
    expect(p.values).toEqual(dotenv.parse('\uFEFFA=1\nB=2\n'));
    expect(p.findings.map((f) => `${f.code}@${f.line}:${f.name}:${f.severity}`)).toEqual(['bom@1:A:warning']);
  });

  it('counts lines from 1 over CRLF files and multi-line values', () => {
    expect(codes('A=1\r\nB="x\r\ny"\r\nlow=3\r\n')).toEqual(['lowercase-key@4:low']);
  });

  it('never puts a value in a finding', () => {
    const secret = 'sk_live_51Nz-DoNotPrintThis-0000000000';
    const text = `S=${secret}\nS=${secret}\n  T="${secret}\nexport U='${secret}"\nlow=${secret}\nV=${secret}#x\n`;
    const out = JSON.stringify(parseDotenv(text, '.env').findings);
    expect(out).not.toContain('DoNotPrint');
    expect(parseDotenv(text, '.env').findings.length).toBeGreaterThan(5);
  });
});

describe('maskValue', () => {
  it('shows four characters and the length of long values, only the length of short ones', () => {
    expect(maskValue('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.payload.signature')).toBe('eyJh…(54 chars)');
    expect(maskValue('hunter2')).toBe('…(7 chars)');
    expect(maskValue('')).toBe('(empty)');
  });
});
