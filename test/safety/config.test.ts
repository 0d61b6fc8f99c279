/** Issue 7: secrets in config errors, weak ingest tokens, alias bombs. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { parseConfig } from '../../src/modules.js';

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'shipshape.yaml', { env: {} });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config errors keep secrets out (item 3)', () => {
  it('does not echo a webhook header value', () => {
    const e = errorOf('notify:\n  channels:\n    hook:\n      webhook:\n        url: "https://hooks.example.com/x"\n        headers: "Authorization: Bearer sk_live_abcdef123456"\n');
    expect(e.message).toMatch(/shipshape\.yaml:6:\d+: notify\.channels\.hook\.webhook\.headers: /);
    expect(e.message).not.toContain('sk_live_abcdef123456');
    expect(JSON.stringify(e.issues)).not.toContain('sk_live_abcdef123456');
  });
  it('does not echo values under secret-looking keys', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - http: { url: "http://x", headers: { X-Api-Key: 12345678901234 } }\n');
    expect(e.message).toMatch(/headers\.X-Api-Key: expected string/);
    expect(e.message).not.toContain('12345678901234');
  });
  it('masks URL credentials in messages', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - http: { url: 5, every: "postgres://u:hunter2pw@h/db" }\n');
    expect(e.message).not.toContain('hunter2pw');
  });
});

describe('ingest tokens (item 6)', () => {
  it('rejects short or weak ingest tokens with file:line, without echoing them', () => {
    for (const weak of ['abc123', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'changeme-changeme']) {
      const e = errorOf(`services: {}\ningest:\n  tokens:\n    - "${weak}"\n`);
      expect(e.message).toMatch(/shipshape\.yaml:4:\d+: ingest\.tokens\[0\]: /);
      expect(e.message).not.toContain(weak);
    }
    expect(parseConfig('ingest:\n  tokens: ["sdk-ingest-token-0123", ""]\n', 'shipshape.yaml', { env: {} }).raw.ingest.tokens).toEqual([{ token: 'sdk-ingest-token-0123' }]);
  });
});

describe('YAML alias bombs (item 17)', () => {
  it('are rejected as a config error with file:line', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const e = errorOf(`${lines.join('\n')}\n`);
    expect(e.message).toMatch(/^shipshape\.yaml:\d+:\d+: .*alias/i);
  });
});
