/**
 * Signed ack / resolve links: `<nonce>.<signature>`, both base64url. The nonce's row in the store
 * holds the link's incident, person, action and expiry; the signature is an HMAC-SHA256 over all
 * of them with a key made once and kept in the store, so a link is bound to them, and the row's
 * `used_at` makes it work once.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type LinkAction = 'ack' | 'resolve';

export interface LinkClaims {
  /** nonce */
  n: string;
  /** incident id */
  i: number;
  /** person */
  p: string;
  a: LinkAction;
  /** expires at, ms */
  e: number;
}

/** Why a link was refused; the route turns it into a problem with this status. */
export class LinkError extends Error {
  constructor(
    readonly status: 403 | 404 | 409 | 410,
    readonly title: string,
    message: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export const newNonce = () => randomBytes(18).toString('base64url');

const mac = (key: string, payload: string) => createHmac('sha256', Buffer.from(key, 'hex')).update(`shipshape-oncall-link\n${payload}`).digest();

const canonical = (c: LinkClaims) => [c.n, c.i, c.p, c.a, c.e].join('\n');

/** `<nonce>.<hmac>`: short enough for any mail client and URL limit; the claims live in the store under the nonce. */
export function signLink(key: string, c: LinkClaims): string {
  return `${c.n}.${mac(key, canonical(c)).toString('base64url')}`;
}

export const badLink = () => new LinkError(403, 'Forbidden', 'this link is not valid (it was changed or is not a Shipshape link)');

/** The nonce a well-formed link names (its signature is checked against the stored claims by `verifyLink`). */
export function linkNonce(token: string): string {
  const m = /^([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw badLink();
  return m[1]!;
}

/** Check a link's signature against the claims stored under its nonce (constant time). */
export function verifyLink(key: string, token: string, c: LinkClaims): void {
  const sig = Buffer.from(token.slice(token.indexOf('.') + 1), 'base64url');
  const want = mac(key, canonical(c));
  if (sig.length !== want.length || !timingSafeEqual(sig, want)) throw badLink();
}

/**
 * Calendar subscription feeds: `<nonce>.<signature>` like links, signed with the same key under a
 * different label (a link token is never a feed token and vice versa), over the feed's nonce,
 * kind and target. The row under the nonce holds kind, target and `revoked_at`.
 */
export interface FeedClaims {
  n: string;
  kind: 'schedule' | 'person';
  target: string;
}

const feedMac = (key: string, c: FeedClaims) => createHmac('sha256', Buffer.from(key, 'hex')).update(`shipshape-oncall-feed\n${c.n}\n${c.kind}\n${c.target}`).digest();

export function signFeed(key: string, c: FeedClaims): string {
  return `${c.n}.${feedMac(key, c).toString('base64url')}`;
}

/** The nonce a well-formed feed token names, or null (the route answers 404 either way). */
export function feedNonce(token: string): string | null {
  const m = /^([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? m[1]! : null;
}

/** Whether a feed token's signature matches the claims stored under its nonce (constant time). */
export function feedSignatureOk(key: string, token: string, c: FeedClaims): boolean {
  const sig = Buffer.from(token.slice(token.indexOf('.') + 1), 'base64url');
  const want = feedMac(key, c);
  return sig.length === want.length && timingSafeEqual(sig, want);
}
