/**
 * Signed confirm and unsubscribe links: `<claims>.<signature>`, both base64url. The claims name
 * the action, the subscriber, the subscriber's nonce and an expiry (0: never, for unsubscribe
 * links, which must keep working in old mails); the signature is an HMAC-SHA256 over them with a
 * key made once and kept in the store. A removed subscriber's links stop working (its row and
 * nonce are gone), so a replayed confirm link cannot re-subscribe someone who left.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type LinkAction = 'confirm' | 'unsubscribe';

export interface LinkClaims {
  a: LinkAction;
  /** subscriber id */
  s: number;
  /** the subscriber's nonce */
  n: string;
  /** expires at, ms (0: never) */
  e: number;
}

/** Why a link was refused: the route shows a page with this status, heading and text. */
export class LinkError extends Error {
  constructor(
    readonly status: 400 | 404 | 410,
    readonly heading: string,
    message: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export const newNonce = () => randomBytes(12).toString('base64url');

const mac = (key: string, payload: string) => createHmac('sha256', Buffer.from(key, 'hex')).update(`shipshape-subscription-link\n${payload}`).digest();

const ACTION: Record<LinkAction, string> = { confirm: 'c', unsubscribe: 'u' };

export function signLink(key: string, c: LinkClaims): string {
  const payload = `${ACTION[c.a]}.${c.s}.${c.n}.${c.e}`;
  return `${Buffer.from(payload).toString('base64url')}.${mac(key, payload).toString('base64url')}`;
}

const invalid = () => new LinkError(400, 'This link is not valid', 'It was changed or cut short, or it is not a link from this status page. Copy the whole link from the email, or subscribe again.');

/** Check a link (constant-time signature check) and return its claims; refuses changed, foreign and expired links. */
export function verifyLink(key: string, token: string, want: LinkAction, now: number): LinkClaims {
  const m = /^([A-Za-z0-9_-]{8,200})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw invalid();
  const payload = Buffer.from(m[1] as string, 'base64url').toString('utf8');
  const sig = Buffer.from(m[2] as string, 'base64url');
  const good = mac(key, payload);
  if (sig.length !== good.length || !timingSafeEqual(sig, good)) throw invalid();
  const p = /^([cu])\.([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{16})\.([0-9]{1,16})$/.exec(payload);
  if (!p) throw invalid();
  const a: LinkAction = p[1] === 'c' ? 'confirm' : 'unsubscribe';
  if (a !== want) throw invalid();
  const c: LinkClaims = { a, s: Number(p[2]), n: p[3] as string, e: Number(p[4]) };
  if (c.e !== 0 && now > c.e) throw new LinkError(410, 'This link has expired', 'Confirmation links work for a limited time. Subscribe again on the status page to get a new one.');
  return c;
}
