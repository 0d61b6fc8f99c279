/** The env store's envelope encryption: roundtrip, wrong key, tampered ciphertext, tag, data key and moved rows. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptValue, encryptValue, keyId, maskOf, masked, masterKey, rewrap, type Sealed } from '../../src/env/crypto.js';
import { formatEnvFile, quoteValue } from '../../src/env/envfile.js';
import { secretByName } from '../../src/env/store.js';

const slot = { service: 'web', env: 'production', name: 'STRIPE_SECRET_KEY', version: 1 };
const SECRET = 'sk_live_51Hxyz_very_secret_value_0123456789';

/** Flip one bit of the byte at `at` (from the end when negative) inside a `v1.<base64url>` blob. */
function flip(sealed: string, at: number): string {
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  const i = at < 0 ? raw.length + at : at;
  raw[i] = (raw[i] as number) ^ 0x01;
  return `v1.${raw.toString('base64url')}`;
}

describe('env store encryption', () => {
  const key = randomBytes(32);

  it('round-trips a value, and never stores it in the clear', () => {
    const s = encryptValue(key, slot, SECRET);
    expect(s.ciphertext).toMatch(/^v1\./);
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(JSON.stringify(s)).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(s.key_id).toBe(keyId(key));
    expect(decryptValue(key, slot, s)).toBe(SECRET);
    // a fresh data key and IV each time: the same value never seals the same way twice
    expect(encryptValue(key, slot, SECRET).ciphertext).not.toBe(s.ciphertext);
    // unicode, empty and multi-line values survive
    for (const v of ['', 'ünïcødé ✓ 🚀', '-----BEGIN KEY-----\nabc\n-----END KEY-----\n']) expect(decryptValue(key, slot, encryptValue(key, slot, v))).toBe(v);
  });

  it('refuses a different master key by its id, naming both ids, before decrypting anything', () => {
    const s = encryptValue(key, slot, SECRET);
    const other = randomBytes(32);
    expect(() => decryptValue(other, slot, s)).toThrow(`SHIPSHAPE_SECRET_KEY does not match the key this store was encrypted with (key id ${keyId(key)}; the key set now has id ${keyId(other)})`);
    // even with a forged key id the seal does not open: an integrity error, not garbage
    expect(() => decryptValue(other, slot, { ...s, key_id: keyId(other) })).toThrow(/web\/production\/STRIPE_SECRET_KEY \(version 1\) failed its integrity check/);
  });

  it('detects a changed ciphertext byte, a changed tag and a changed data key, naming the variable', () => {
    const s = encryptValue(key, slot, SECRET);
    const cases: Sealed[] = [
      { ...s, ciphertext: flip(s.ciphertext, 14) }, // a ciphertext byte (after the 12-byte IV)
      { ...s, ciphertext: flip(s.ciphertext, -1) }, // the GCM tag
      { ...s, ciphertext: flip(s.ciphertext, 0) }, // the IV
      { ...s, data_key: flip(s.data_key, 20) }, // the wrapped data key
      { ...s, ciphertext: 'v1.AAAA' }, // truncated
      { ...s, ciphertext: 'garbage' },
    ];
    for (const c of cases) expect(() => decryptValue(key, slot, c)).toThrow(/^the stored value of web\/production\/STRIPE_SECRET_KEY \(version 1\) failed its integrity check/);
  });

  it('binds a value to its service, environment, name and version: a moved row or swapped data key fails', () => {
    const s = encryptValue(key, slot, SECRET);
    for (const moved of [{ ...slot, service: 'api' }, { ...slot, env: 'staging' }, { ...slot, name: 'OTHER_KEY' }, { ...slot, version: 2 }]) {
      expect(() => decryptValue(key, moved, s)).toThrow(/failed its integrity check/);
    }
    // the data key of one row with the ciphertext of another (same slot name, another version)
    const s2 = encryptValue(key, { ...slot, version: 2 }, 'another');
    expect(() => decryptValue(key, slot, { ...s, data_key: s2.data_key })).toThrow(/its data key does not authenticate/);
    expect(() => decryptValue(key, { ...slot, version: 2 }, { ...s2, ciphertext: s.ciphertext })).toThrow(/its ciphertext does not authenticate/);
  });

  it('re-wraps a data key for a new master key without touching the ciphertext', () => {
    const s = encryptValue(key, slot, SECRET);
    const next = randomBytes(32);
    const moved = rewrap(key, next, slot, s);
    expect(moved.ciphertext).toBe(s.ciphertext);
    expect(moved.key_id).toBe(keyId(next));
    expect(decryptValue(next, slot, moved)).toBe(SECRET);
    expect(() => decryptValue(key, slot, moved)).toThrow(/does not match the key this store was encrypted with/);
    expect(() => rewrap(key, next, { ...slot, version: 9 }, s)).toThrow(/failed its integrity check/);
  });

  it('reads SHIPSHAPE_SECRET_KEY as 64 hex characters or base64 of 32 bytes, and says how to make one otherwise', () => {
    const k = randomBytes(32);
    expect(masterKey({ SHIPSHAPE_SECRET_KEY: k.toString('hex') })?.equals(k)).toBe(true);
    expect(masterKey({ SHIPSHAPE_SECRET_KEY: ` ${k.toString('base64')}\n` })?.equals(k)).toBe(true);
    expect(masterKey({})).toBeUndefined();
    expect(masterKey({ SHIPSHAPE_SECRET_KEY: '' })).toBeUndefined();
    for (const bad of ['abc', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), 'not base64 at all!!'])
      expect(() => masterKey({ SHIPSHAPE_SECRET_KEY: bad })).toThrow('SHIPSHAPE_SECRET_KEY must be 32 bytes, as 64 hex characters or base64 (make one with `openssl rand -hex 32`)');
  });

  it('masks with a 4-character hint only for long values', () => {
    const m = maskOf('sk_live_0123456789abcdef0123456789');
    expect(masked(m.hint, m.length)).toBe('sk_l…(34)');
    const short = maskOf('hunter22');
    expect(masked(short.hint, short.length)).toBe('…(8)');
  });
});

describe('.env files written by pull', () => {
  it('quotes values so a dotenv-style reader gets them back unchanged', () => {
    expect(quoteValue('A', 'plain-value_1.2:3@x/y')).toBe('plain-value_1.2:3@x/y');
    expect(quoteValue('A', 'has space # and $HOME')).toBe("'has space # and $HOME'");
    expect(quoteValue('A', "it's")).toBe('"it\'s"');
    expect(quoteValue('A', 'line1\nline2')).toBe('"line1\nline2"');
    expect(quoteValue('A', 'both \' and " here')).toBe('`both \' and " here`');
    expect(() => quoteValue('WEIRD', 'all \' " ` \\ of them')).toThrow(/the value of WEIRD holds quotes of every kind/);
    expect(formatEnvFile({ A: 'x', B: 'y z' }, 'web/production')).toBe("# web/production\nA=x\nB='y z'\n");
  });
});

describe('secrets by name (the service-wide rotation policy applies to these)', () => {
  it('takes keys, tokens, passwords and secrets, not public or plain settings', () => {
    for (const n of ['STRIPE_SECRET_KEY', 'DATABASE_PASSWORD', 'GITHUB_TOKEN', 'API_KEY', 'KEY', 'JWT_PRIVATE_PEM', 'SENTRY_DSN', 'session_secret']) expect(secretByName(n), n).toBe(true);
    for (const n of ['LOG_LEVEL', 'PORT', 'NEXT_PUBLIC_STRIPE_KEY', 'VITE_API_TOKEN', 'KEYBOARD_LAYOUT', 'MONKEY_MODE', 'SITE_URL']) expect(secretByName(n), n).toBe(false);
  });
});
