/**
 * Envelope encryption of env values (AES-256-GCM, node:crypto). Each value gets a fresh random
 * 32-byte data key; the value is sealed with it, and the data key is sealed (wrapped) with the
 * master key from SHIPSHAPE_SECRET_KEY. Both seals authenticate the same associated data —
 * service, environment, name and version — so a ciphertext copied onto another row, or a data key
 * swapped between rows, fails to open instead of decrypting to the wrong secret.
 *
 * A sealed blob is `v1.<base64url(iv 12 | ciphertext | tag 16)>`.
 */
import { randomBytes } from 'node:crypto';
import { KEY_ENV, keyId, MAKE_KEY, openBytes, PREVIOUS_KEY_ENV, sealBytes } from '../core/at-rest.js';
import { ServiceError } from '../core/errors.js';

export { KEY_ENV, keyId, MAKE_KEY, masterKey, PREVIOUS_KEY_ENV, previousKey } from '../core/at-rest.js';

/** Where a value belongs; what its seals authenticate. */
export interface Slot {
  service: string;
  env: string;
  name: string;
  version: number;
}

export const describeSlot = (s: Omit<Slot, 'version'> & { version?: number }) => `${s.service}/${s.env}/${s.name}${s.version !== undefined ? ` (version ${s.version})` : ''}`;

function aad(s: Slot, part: 'value' | 'key'): Buffer {
  return Buffer.from(JSON.stringify(['shipshape-env', 1, part, s.service, s.env, s.name, s.version]), 'utf8');
}

const seal = (key: Buffer, plain: Buffer, ad: Buffer): string => `v1.${sealBytes(key, plain, ad)}`;

/** Open a seal; undefined when it does not authenticate (wrong key, changed byte, other row). */
const open = (key: Buffer, sealed: string, ad: Buffer): Buffer | undefined => (sealed.startsWith('v1.') ? openBytes(key, sealed.slice(3), ad) : undefined);

export interface Sealed {
  /** the value sealed with its data key */
  ciphertext: string;
  /** the data key sealed with the master key */
  data_key: string;
  /** the master key's id */
  key_id: string;
}

export function encryptValue(master: Buffer, slot: Slot, value: string): Sealed {
  const dataKey = randomBytes(32);
  try {
    return { ciphertext: seal(dataKey, Buffer.from(value, 'utf8'), aad(slot, 'value')), data_key: seal(master, dataKey, aad(slot, 'key')), key_id: keyId(master) };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypt a stored value. A different master key is refused by its id before anything is tried;
 * a seal that does not authenticate is an error naming the variable, never a garbled value.
 */
export function decryptValue(master: Buffer, slot: Slot, s: Sealed): string {
  const id = keyId(master);
  if (s.key_id !== id) throw wrongKey(s.key_id, id);
  const dataKey = open(master, s.data_key, aad(slot, 'key'));
  if (!dataKey) throw new ServiceError('conflict', `the stored value of ${describeSlot(slot)} failed its integrity check (its data key does not authenticate): it was changed or moved in the store; set it again`);
  try {
    const plain = open(dataKey, s.ciphertext, aad(slot, 'value'));
    if (!plain) throw new ServiceError('conflict', `the stored value of ${describeSlot(slot)} failed its integrity check (its ciphertext does not authenticate): it was changed or moved in the store; set it again`);
    return plain.toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

export function wrongKey(stored: string, given: string): ServiceError {
  return new ServiceError(
    'conflict',
    `${KEY_ENV} does not match the key this store was encrypted with (key id ${stored}; the key set now has id ${given}): nothing was decrypted or changed. To move the store to this key, start the server once with ${PREVIOUS_KEY_ENV} set to the old key`,
  );
}

/**
 * Re-wrap a value's data key from the old master key to the new one: the value's own ciphertext
 * is not touched (and never decrypted). Fails like decryptValue when the seal does not open.
 */
export function rewrap(oldKey: Buffer, newKey: Buffer, slot: Slot, s: Sealed): Sealed {
  if (s.key_id !== keyId(oldKey)) throw wrongKey(s.key_id, keyId(oldKey));
  const dataKey = open(oldKey, s.data_key, aad(slot, 'key'));
  if (!dataKey) throw new ServiceError('conflict', `the stored value of ${describeSlot(slot)} failed its integrity check (its data key does not authenticate): it was changed or moved in the store; set it again`);
  try {
    return { ciphertext: s.ciphertext, data_key: seal(newKey, dataKey, aad(slot, 'key')), key_id: keyId(newKey) };
  } finally {
    dataKey.fill(0);
  }
}

export function noKey(what: string): ServiceError {
  return new ServiceError('invalid', `${what} needs the master key: set ${KEY_ENV} on the server to 32 random bytes (make one with ${MAKE_KEY}) and keep it safe — values stored with it cannot be read without it`);
}

/**
 * How a value is shown without revealing it: its first 4 characters only when it is long enough
 * (16+) that they say little, then its length — `sk_l…(32)`, `…(8)`.
 */
export function maskOf(value: string): { hint: string; length: number } {
  const length = [...value].length;
  return { hint: length >= 16 ? [...value].slice(0, 4).join('') : '', length };
}

export const masked = (hint: string, length: number) => `${hint}…(${length})`;
