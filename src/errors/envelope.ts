/**
 * The Sentry wire protocol, as the official SDKs speak it (bodies are read by src/server/body.ts):
 * the envelope format (a header line, then items whose payload is
 * `length` bytes or runs to the next newline), and the public key a request presents.
 * https://develop.sentry.dev/sdk/data-model/envelopes/
 */
import { inflateSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from '../core/http/problem.js';
import { presentedIngestToken } from '../core/http/ingest.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../core/http/json.js';

const tooLarge = (limit: number) => new HttpProblem(413, 'Content Too Large', `the body is larger than ${limit} bytes after decompression (ingest.max_body)`);

export interface EnvelopeItem {
  header: Record<string, unknown> & { type: string };
  payload: Buffer;
}

export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

export class EnvelopeError extends Error {}

const MAX_ITEMS = 1000;

function jsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new EnvelopeError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new EnvelopeError(`${what} must be a JSON object`);
  if (jsonDepth(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new EnvelopeError(`${what} is nested more than ${MAX_JSON_DEPTH} levels deep`);
  return v as Record<string, unknown>;
}

/** Parse an envelope; EnvelopeError says what is wrong and where (item number, byte offset). */
export function parseEnvelope(buf: Buffer): Envelope {
  const NL = 0x0a;
  let pos = 0;
  const line = (): string => {
    const end = buf.indexOf(NL, pos);
    const stop = end === -1 ? buf.length : end;
    const s = buf.toString('utf8', pos, stop);
    pos = end === -1 ? buf.length : end + 1;
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  if (buf.length === 0) throw new EnvelopeError('the envelope is empty: expected a JSON header line');
  const header = jsonObject(line(), 'the envelope header (line 1)');
  const items: EnvelopeItem[] = [];
  while (pos < buf.length) {
    const at = pos;
    const text = line();
    if (text.trim() === '') continue; // blank lines between items (and a trailing newline)
    const n = items.length + 1;
    if (n > MAX_ITEMS) throw new EnvelopeError(`the envelope has more than ${MAX_ITEMS} items`);
    const h = jsonObject(text, `the header of item ${n} (byte ${at})`);
    if (typeof h.type !== 'string' || !h.type) throw new EnvelopeError(`the header of item ${n} (byte ${at}) has no "type"`);
    let payload: Buffer;
    if (h.length !== undefined && h.length !== null) {
      const len = h.length;
      if (typeof len !== 'number' || !Number.isInteger(len) || len < 0) throw new EnvelopeError(`item ${n} (${h.type}): "length" must be a non-negative integer`);
      if (pos + len > buf.length) throw new EnvelopeError(`item ${n} (${h.type}) declares length ${len} but only ${buf.length - pos} bytes follow`);
      payload = buf.subarray(pos, pos + len);
      pos += len;
      if (pos < buf.length) {
        if (buf[pos] === NL) pos++;
        else if (buf[pos] === 0x0d && buf[pos + 1] === NL) pos += 2;
        else throw new EnvelopeError(`item ${n} (${h.type}): expected a newline after its ${len}-byte payload at byte ${pos}`);
      }
    } else {
      const end = buf.indexOf(NL, pos);
      const stop = end === -1 ? buf.length : end;
      payload = buf.subarray(pos, stop > pos && buf[stop - 1] === 0x0d ? stop - 1 : stop);
      pos = end === -1 ? buf.length : end + 1;
    }
    items.push({ header: h as EnvelopeItem['header'], payload });
  }
  return { header, items };
}

/** The public key from `?sentry_key=`, `X-Sentry-Auth`/`Authorization: Sentry …`, or the ingest token forms. */
export function presentedSentryKey(req: FastifyRequest): string | undefined {
  const q = (req.query as Record<string, unknown> | undefined)?.sentry_key;
  if (typeof q === 'string' && q) return q;
  for (const h of [req.headers['x-sentry-auth'], req.headers.authorization]) {
    if (typeof h !== 'string') continue;
    const m = /^\s*Sentry\s+(.*)$/i.exec(h);
    if (!m) continue;
    const k = /(?:^|[\s,])sentry_key\s*=\s*([^,\s]+)/i.exec(m[1] as string);
    if (k) return k[1];
  }
  return presentedIngestToken(req);
}

/** The public key in an envelope header's `dsn` (`http://<key>@host/<project>`). */
export function keyFromDsn(dsn: unknown): string | undefined {
  if (typeof dsn !== 'string' || dsn.length > 2000) return undefined;
  try {
    const u = new URL(dsn);
    return u.username ? decodeURIComponent(u.username) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A `/store/` body: a JSON event, or (old raven clients) base64 of a zlib-deflated JSON event.
 */
export function parseStoreBody(buf: Buffer, limit: number): Record<string, unknown> {
  const text = buf.toString('utf8').trim();
  if (!text) throw new EnvelopeError('the body is empty: expected a JSON event');
  if (text.startsWith('{')) return jsonObject(text, 'the event');
  let inflated: Buffer;
  try {
    inflated = inflateSync(Buffer.from(text, 'base64'), { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new EnvelopeError('the body is neither a JSON event nor base64 of a deflated JSON event');
  }
  return jsonObject(inflated.toString('utf8'), 'the event');
}

/**
 * The error events an envelope carries, each with the envelope's event_id when it has none of its
 * own; other items (transactions, sessions, client reports, attachments…) are counted as dropped.
 */
export function envelopeEvents(env: ReturnType<typeof parseEnvelope>): { events: Record<string, unknown>[]; dropped: number } {
  const events: Record<string, unknown>[] = [];
  let dropped = 0;
  env.items.forEach((item, i) => {
    if (item.header.type !== 'event') {
      dropped++;
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(item.payload.toString('utf8'));
    } catch (e) {
      throw new EnvelopeError(`item ${i + 1} (event) is not valid JSON: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new EnvelopeError(`item ${i + 1} (event) must be a JSON object`);
    if (jsonDepth(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new EnvelopeError(`item ${i + 1} (event) is nested more than ${MAX_JSON_DEPTH} levels deep`);
    const ev = v as Record<string, unknown>;
    if (ev.event_id === undefined && typeof env.header.event_id === 'string') ev.event_id = env.header.event_id;
    events.push(ev);
  });
  return { events, dropped };
}
