/** Secrets at rest: sealed with SHIPSHAPE_SECRET_KEY or the data directory's key, refused (with the fix) under another key, re-sealed when they were plain or under the previous key. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtRest, keyId, loadKey, type KeyRow } from '../../src/core/at-rest.js';
import { ServiceError } from '../../src/core/errors.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'shipshape-at-rest-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('AtRest', () => {
  it('seals a value that only the same key and purpose open, and never holds it in clear', () => {
    const a = new AtRest(randomBytes(32), 'test');
    const secret = randomBytes(32).toString('hex');
    const sealed = a.seal('the on-call link key', secret);
    expect(sealed).toMatch(new RegExp(`^s1\\.${a.keyId}\\.[A-Za-z0-9_-]+$`));
    expect(sealed).not.toContain(secret);
    expect(a.seal('the on-call link key', secret)).not.toBe(sealed); // a fresh IV each time
    expect(a.open('the on-call link key', sealed)).toEqual({ value: secret, reseal: false });
    // another row's purpose (a sealed value copied across rows) does not open
    expect(() => a.open('the subscription link key', sealed)).toThrow(/the subscription link key failed its integrity check/);
    // a changed byte does not open
    // (a byte of the payload, not a base64 character: replacing a character with itself, or one
    // whose bits are padding, changed nothing one run in 64)
    const dot = sealed.lastIndexOf('.') + 1;
    const bytes = Buffer.from(sealed.slice(dot), 'base64url');
    bytes[20] = (bytes[20] as number) ^ 0x01;
    const flipped = sealed.slice(0, dot) + bytes.toString('base64url');
    expect(flipped).not.toBe(sealed);
    expect(() => a.open('the on-call link key', flipped)).toThrow(ServiceError);
  });

  it('names both keys and the fix when a value was sealed with another key; the previous key opens it and asks for a re-seal', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const sealed = new AtRest(oldKey, 'SHIPSHAPE_SECRET_KEY').seal('the on-call link key', 'abc123');
    const other = new AtRest(newKey, 'SHIPSHAPE_SECRET_KEY');
    expect(() => other.open('the on-call link key', sealed)).toThrow(
      new RegExp(`the on-call link key was sealed with another key \\(key id ${keyId(oldKey)}; the key in use, from SHIPSHAPE_SECRET_KEY, has id ${keyId(newKey)}\\): set SHIPSHAPE_SECRET_KEY to the key it was sealed with`),
    );
    const moving = new AtRest(newKey, 'SHIPSHAPE_SECRET_KEY', oldKey);
    expect(moving.open('the on-call link key', sealed)).toEqual({ value: 'abc123', reseal: true });
    // what an earlier release stored in plain text is read as it is, to be sealed by its owner
    expect(moving.open('the on-call link key', 'deadbeef')).toEqual({ value: 'deadbeef', reseal: true });
  });

  it('takes SHIPSHAPE_SECRET_KEY when set, else makes one key file in the data directory, private to the service user', () => {
    const dir = tmp();
    const env = { SHIPSHAPE_SECRET_KEY: randomBytes(32).toString('hex') };
    const fromEnv = AtRest.forServer(join(dir, 'a'), env);
    expect(fromEnv).toMatchObject({ source: 'SHIPSHAPE_SECRET_KEY', keyId: keyId(Buffer.from(env.SHIPSHAPE_SECRET_KEY, 'hex')) });

    const first = AtRest.forServer(join(dir, 'b'), {});
    const file = join(dir, 'b', 'secret.key');
    expect(first.source).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    // the next start reads the same key: what it sealed opens
    const sealed = first.seal('x', 'y');
    expect(AtRest.forServer(join(dir, 'b'), {}).open('x', sealed).value).toBe('y');
    expect(() => AtRest.forServer(join(dir, 'c'), { SHIPSHAPE_SECRET_KEY: 'short' })).toThrow(/SHIPSHAPE_SECRET_KEY must be 32 bytes/);
  });
});

describe('loadKey', () => {
  function memoryRow(initial?: string): KeyRow & { value?: string } {
    const row: KeyRow & { value?: string } = {
      value: initial,
      read: async () => row.value,
      insert: async (v) => {
        row.value ??= v;
      },
      replace: async (old, v) => {
        if (row.value === old) row.value = v;
      },
    };
    return row;
  }

  it('makes a key once and stores it sealed; a plain one from an earlier release keeps its value and is sealed; an unreadable one is replaced with a warning', async () => {
    const a = new AtRest(randomBytes(32), 'test');
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);

    const fresh = memoryRow();
    const made = await loadKey(a, 'the on-call link key', fresh, warn);
    expect(made).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh.value).toMatch(/^s1\./);
    expect(fresh.value).not.toContain(made);
    expect(await loadKey(a, 'the on-call link key', fresh, warn)).toBe(made);

    const plain = memoryRow('ab'.repeat(32));
    expect(await loadKey(a, 'the on-call link key', plain, warn)).toBe('ab'.repeat(32)); // links signed before still verify
    expect(plain.value).toMatch(/^s1\./);
    expect(warnings).toEqual([]);

    const foreign = memoryRow(new AtRest(randomBytes(32), 'elsewhere').seal('the on-call link key', 'cd'.repeat(32)));
    const replaced = await loadKey(a, 'the on-call link key', foreign, warn);
    expect(replaced).not.toBe('cd'.repeat(32));
    expect(a.open('the on-call link key', foreign.value!).value).toBe(replaced);
    expect(warnings).toEqual([expect.stringMatching(/sealed with another key .*; it was replaced with a new key, so links signed with the old one no longer work/)]);
  });
});
