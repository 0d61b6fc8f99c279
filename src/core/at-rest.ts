/**
 * Secrets at rest. The AES-256-GCM pieces (seal, open, the key from SHIPSHAPE_SECRET_KEY and its
 * id) that the env store's envelope encryption builds on, and `AtRest`: small secrets the server
 * makes and keeps in its store — link signing keys, webhook subscribers' signing secrets — sealed
 * so that a copy of the store (a pg_dump, a backup, a read-only database role) does not hand out
 * the power to forge an ack link or a subscriber signature.
 *
 * AtRest's key is SHIPSHAPE_SECRET_KEY when it is set (set the same one on every server sharing a
 * PostgreSQL store), else a random key made once in `<data dir>/secret.key` (0600, outside the
 * store). A sealed value is `s1.<key id>.<base64url(iv 12 | ciphertext | tag 16)>`, authenticated
 * with what it is for, so a value copied into another row does not open. Values stored before
 * sealing existed (plain hex) are read as they are and sealed by their owner at the next start.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ServiceError } from './errors.js';

export const KEY_ENV = 'SHIPSHAPE_SECRET_KEY';
export const PREVIOUS_KEY_ENV = 'SHIPSHAPE_SECRET_KEY_PREVIOUS';
export const MAKE_KEY = '`openssl rand -hex 32`';

/** A 32-byte key written as 64 hex characters or base64; `name` says where it came from, for the error. */
export function parseKey(raw: string, name: string): Buffer {
  const s = raw.trim();
  const key = /^[0-9a-f]{64}$/i.test(s) ? Buffer.from(s, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) throw new ServiceError('invalid', `${name} must be 32 bytes, as 64 hex characters or base64 (make one with ${MAKE_KEY})`);
  return key;
}

/** The master key from SHIPSHAPE_SECRET_KEY, or undefined when unset. */
export function masterKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const raw = env[KEY_ENV];
  return raw?.trim() ? parseKey(raw, KEY_ENV) : undefined;
}

/** The key a store is being moved away from (SHIPSHAPE_SECRET_KEY_PREVIOUS), same format. */
export function previousKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const raw = env[PREVIOUS_KEY_ENV];
  if (!raw?.trim()) return undefined;
  try {
    return parseKey(raw, PREVIOUS_KEY_ENV);
  } catch {
    throw new ServiceError('invalid', `${PREVIOUS_KEY_ENV} must be 32 bytes, as 64 hex characters or base64 (the key the store was encrypted with)`);
  }
}

/** Names a key without revealing it: the start of its SHA-256. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** AES-256-GCM with associated data: base64url(iv 12 | ciphertext | tag 16). */
export function sealBytes(key: Buffer, plain: Buffer, ad: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(ad);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url');
}

/** Open what sealBytes made; undefined when it does not authenticate (wrong key, changed byte, other associated data). */
export function openBytes(key: Buffer, sealed: string, ad: Buffer): Buffer | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < 12 + 16) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(ad);
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

const PREFIX = 's1.';
const adOf = (purpose: string) => Buffer.from(`shipshape-at-rest\n1\n${purpose}`, 'utf8');

/** What opening a stored secret gave: its value, and whether its owner should store it again (plain, or sealed with the previous key). */
export interface Opened {
  value: string;
  reseal: boolean;
}

export class AtRest {
  readonly keyId: string;
  private readonly previous?: Buffer;

  constructor(
    private readonly key: Buffer,
    /** where the key came from, for messages */
    readonly source: string,
    previous?: Buffer,
  ) {
    this.keyId = keyId(key);
    if (previous && keyId(previous) !== this.keyId) this.previous = previous;
  }

  /**
   * The key: SHIPSHAPE_SECRET_KEY when set, else `<dataDir>/secret.key`, made on first use
   * (readable by the service user only). SHIPSHAPE_SECRET_KEY_PREVIOUS still opens values sealed
   * with it, so a key change re-seals them at the next start.
   */
  static forServer(dataDir: string, env: NodeJS.ProcessEnv = process.env): AtRest {
    const fromEnv = masterKey(env);
    if (fromEnv) return new AtRest(fromEnv, KEY_ENV, previousKey(env));
    const file = join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // written aside, then linked into place: a process starting beside this one never reads half a key
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first: use theirs
      } finally {
        unlinkSync(tmp);
      }
    }
    chmodSync(file, 0o600);
    return new AtRest(parseKey(readFileSync(file, 'utf8'), file), file, previousKey(env));
  }

  /**
   * Seal a secret for storing; `purpose` names what it is ("the on-call link key"). The purpose is
   * authenticated with the value, so it is part of the stored format: never change one in use.
   */
  seal(purpose: string, value: string): string {
    return `${PREFIX}${this.keyId}.${sealBytes(this.key, Buffer.from(value, 'utf8'), adOf(purpose))}`;
  }

  isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  /**
   * Open a stored secret. A value stored before sealing existed is returned as it is (reseal:
   * true). Throws a conflict naming the key when it was sealed with another key, or when it does
   * not authenticate (changed in the store, or copied from another row).
   */
  open(purpose: string, stored: string): Opened {
    if (!this.isSealed(stored)) return { value: stored, reseal: true };
    const dot = stored.indexOf('.', PREFIX.length);
    const id = stored.slice(PREFIX.length, dot);
    const body = stored.slice(dot + 1);
    const key = id === this.keyId ? this.key : this.previous && id === keyId(this.previous) ? this.previous : undefined;
    if (!key) throw new ServiceError('conflict', `${purpose} was sealed with another key (key id ${id}; the key in use, from ${this.source}, has id ${this.keyId}): set ${KEY_ENV} to the key it was sealed with (and the same key on every server sharing the store), or ${PREVIOUS_KEY_ENV} to it while moving to a new one`);
    const plain = openBytes(key, body, adOf(purpose));
    if (!plain) throw new ServiceError('conflict', `${purpose} failed its integrity check: it was changed in the store or copied from another row`);
    return { value: plain.toString('utf8'), reseal: key !== this.key };
  }
}

/** How a module keeps one key in its own table. */
export interface KeyRow {
  read(): Promise<string | undefined>;
  /** store it unless a row is there already (another process made one first) */
  insert(stored: string): Promise<void>;
  /** store it in place of `old`, only if the row still holds `old` */
  replace(old: string, stored: string): Promise<void>;
}

/**
 * Load a random key a module keeps in its store (sealed), or make it once. A key stored in plain
 * text by an earlier release, or sealed with SHIPSHAPE_SECRET_KEY_PREVIOUS, is sealed again with
 * the key in use. One that cannot be opened (the data directory's key was lost, or another server
 * shares the store with another key) is replaced with a new one, with a warning: what it signed
 * (links already sent) stops working, nothing else is lost.
 */
export async function loadKey(atRest: AtRest, purpose: string, row: KeyRow, warn: (msg: string) => void): Promise<string> {
  let stored = await row.read();
  if (stored === undefined) {
    await row.insert(atRest.seal(purpose, randomBytes(32).toString('hex')));
    stored = await row.read();
    if (stored === undefined) throw new Error(`${purpose}: the key row is missing right after it was written`);
  }
  try {
    const o = atRest.open(purpose, stored);
    if (o.reseal) await row.replace(stored, atRest.seal(purpose, o.value));
    return o.value;
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    warn(`${e.message}; it was replaced with a new key, so links signed with the old one no longer work`);
    const value = randomBytes(32).toString('hex');
    await row.replace(stored, atRest.seal(purpose, value));
    const now = await row.read();
    return now === undefined ? value : atRest.open(purpose, now).value;
  }
}
