/**
 * Signature verification on the raw body bytes, before anything parses them: Stripe
 * (`Stripe-Signature: t=…,v1=…`), GitHub (`X-Hub-Signature-256: sha256=…`), Svix / Standard
 * Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`, or the same
 * with `svix-` names) and a generic HMAC header. Every comparison is constant-time; any of the
 * configured secrets (a rotation) may match. Messages never contain a secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { schemeOf, type VerifyConfig } from './config.js';

export type Scheme = ReturnType<typeof schemeOf>;

export interface Verified {
  ok: true;
  /** the sender's delivery id, for duplicates (Stripe event id, GitHub delivery, Svix message id) */
  dedupKey: string | null;
  /** what kind of event it is, for listing (Stripe `type`, GitHub event, …) */
  eventType: string | null;
}

export interface Refused {
  ok: false;
  /** why, in words a sender's developer recognises (Stripe's own messages for Stripe) */
  reason: string;
  /** short machine name: missing_header, bad_signature, timestamp */
  code: 'missing_header' | 'bad_signature' | 'timestamp';
}

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
};

/** Equal digests, in constant time for equal lengths (a length mismatch is no match). */
function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function anyMatch(candidates: Buffer[], expected: Buffer[]): boolean {
  let ok = false;
  // no early exit: every pair is compared
  for (const c of candidates) for (const e of expected) ok = same(c, e) || ok;
  return ok;
}

const hmac = (alg: string, key: string | Buffer, ...parts: (string | Buffer)[]) => {
  const m = createHmac(alg, key);
  for (const p of parts) m.update(p);
  return m.digest();
};

/** The string fields `id` and `type` of a JSON object body (each null when absent, too long or not JSON). */
function idAndType(body: Buffer): { id: string | null; type: string | null } {
  try {
    const o = JSON.parse(body.toString('utf8')) as Record<string, unknown> | null;
    const str = (v: unknown) => (typeof v === 'string' && v.length <= 200 ? v : null);
    return { id: str(o?.id), type: str(o?.type) };
  } catch {
    return { id: null, type: null };
  }
}

function stripe(body: Buffer, h: IncomingHttpHeaders, secrets: string[], toleranceMs: number, now: number): Verified | Refused {
  const sig = header(h, 'stripe-signature');
  if (!sig) return { ok: false, code: 'missing_header', reason: 'No stripe-signature header value was provided.' };
  let t: number | undefined;
  const v1: Buffer[] = [];
  for (const part of sig.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === 't') t = /^\d{1,12}$/.test(v) ? Number(v) : undefined;
    else if (k === 'v1' && /^[0-9a-f]{64}$/i.test(v)) v1.push(Buffer.from(v, 'hex'));
  }
  if (t === undefined || v1.length === 0) return { ok: false, code: 'missing_header', reason: 'Unable to extract timestamp and signatures from header' };
  const expected = secrets.map((s) => hmac('sha256', s, `${t}.`, body));
  if (!anyMatch(v1, expected)) return { ok: false, code: 'bad_signature', reason: 'No signatures found matching the expected signature for payload. Are you passing the raw request body you received from Stripe?' };
  if (Math.abs(now / 1000 - t) > toleranceMs / 1000) return { ok: false, code: 'timestamp', reason: 'Timestamp outside the tolerance zone' };
  const f = idAndType(body);
  return { ok: true, dedupKey: f.id, eventType: f.type };
}

function github(body: Buffer, h: IncomingHttpHeaders, secrets: string[]): Verified | Refused {
  const sig = header(h, 'x-hub-signature-256');
  if (!sig) return { ok: false, code: 'missing_header', reason: 'No X-Hub-Signature-256 header was provided (is the webhook\'s secret set on GitHub?)' };
  const m = /^sha256=([0-9a-f]{64})$/i.exec(sig.trim());
  const got = m ? [Buffer.from(m[1] as string, 'hex')] : [];
  if (!anyMatch(got, secrets.map((s) => hmac('sha256', s, body)))) return { ok: false, code: 'bad_signature', reason: 'The X-Hub-Signature-256 header does not match the payload signed with the webhook\'s secret' };
  const delivery = header(h, 'x-github-delivery');
  return { ok: true, dedupKey: delivery && delivery.length <= 200 ? delivery : null, eventType: header(h, 'x-github-event')?.slice(0, 100) ?? null };
}

/** A Standard Webhooks secret: `whsec_` + base64 of the key. */
export function svixKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

function svix(body: Buffer, h: IncomingHttpHeaders, secrets: string[], toleranceMs: number, now: number): Verified | Refused {
  const id = header(h, 'webhook-id') ?? header(h, 'svix-id');
  const ts = header(h, 'webhook-timestamp') ?? header(h, 'svix-timestamp');
  const sig = header(h, 'webhook-signature') ?? header(h, 'svix-signature');
  if (!id || !ts || !sig) return { ok: false, code: 'missing_header', reason: 'Missing required headers: webhook-id, webhook-timestamp and webhook-signature (or svix-id, svix-timestamp and svix-signature)' };
  if (!/^\d{1,12}$/.test(ts.trim())) return { ok: false, code: 'missing_header', reason: 'Invalid webhook-timestamp header' };
  const t = Number(ts.trim());
  const got = sig
    .split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  const expected = secrets.map((s) => hmac('sha256', svixKey(s), `${id}.${t}.`, body));
  if (!anyMatch(got, expected)) return { ok: false, code: 'bad_signature', reason: 'No matching signature found' };
  if (Math.abs(now / 1000 - t) > toleranceMs / 1000) return { ok: false, code: 'timestamp', reason: now / 1000 > t ? 'Message timestamp too old' : 'Message timestamp too new' };
  return { ok: true, dedupKey: id.length <= 200 ? id : null, eventType: idAndType(body).type };
}

function generic(body: Buffer, h: IncomingHttpHeaders, c: Extract<VerifyConfig, { hmac: unknown }>['hmac']): Verified | Refused {
  const sig = header(h, c.header);
  if (!sig) return { ok: false, code: 'missing_header', reason: `No ${c.header} header was provided` };
  const v = sig.trim();
  if (c.prefix && !v.startsWith(c.prefix)) return { ok: false, code: 'bad_signature', reason: `The ${c.header} header does not start with "${c.prefix}"` };
  const digest = v.slice(c.prefix.length);
  const got = c.encoding === 'hex' ? (/^[0-9a-f]+$/i.test(digest) ? Buffer.from(digest, 'hex') : Buffer.alloc(0)) : Buffer.from(digest, 'base64');
  if (!anyMatch([got], c.secret.map((s) => hmac(c.algorithm, s, body)))) return { ok: false, code: 'bad_signature', reason: `The ${c.header} header does not match the payload signed with the hook's secret` };
  const id = c.id_header ? header(h, c.id_header) : undefined;
  return { ok: true, dedupKey: id && id.length <= 200 ? id : null, eventType: null };
}

/** Verify one delivery against its hook's scheme. */
export function verify(v: VerifyConfig, body: Buffer, headers: IncomingHttpHeaders, now: number): Verified | Refused {
  if ('stripe' in v) return stripe(body, headers, v.stripe.secret, v.stripe.tolerance, now);
  if ('github' in v) return github(body, headers, v.github.secret);
  if ('svix' in v) return svix(body, headers, v.svix.secret, v.svix.tolerance, now);
  return generic(body, headers, v.hmac);
}

/** The headers each scheme signs with or describes the delivery by: kept and forwarded. */
export function schemeHeaders(v: VerifyConfig): string[] {
  switch (schemeOf(v)) {
    case 'stripe':
      return ['stripe-signature'];
    case 'github':
      return ['x-hub-signature-256', 'x-hub-signature', 'x-github-event', 'x-github-delivery', 'x-github-hook-id', 'x-github-hook-installation-target-id', 'x-github-hook-installation-target-type'];
    case 'svix':
      return ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature'];
    default: {
      const c = (v as Extract<VerifyConfig, { hmac: unknown }>).hmac;
      return [c.header.toLowerCase(), ...(c.id_header ? [c.id_header.toLowerCase()] : [])];
    }
  }
}
