/**
 * Rendered responses, kept for a few seconds: the bytes, their gzip and brotli forms (compressed
 * once per render, on libuv's thread pool so the event loop keeps answering), an ETag and
 * Last-Modified. Concurrent requests for a cold entry share one render. Past the TTL an entry is
 * served stale for one more TTL while a single refresh runs in the background, so requests under
 * load never wait for a render; older than that, a request waits for a fresh one. Any incident or
 * service state change drops everything, so changes show at once; otherwise a page is never older
 * than twice the TTL.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastRequest } from '../core/http/fast-path.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export interface Rendered {
  /** fast-path answers to unconditional requests, by Accept-Encoding header: headers built once per render */
  prebuilt?: Map<string, { headers: Record<string, string | number>; body: Buffer }>;
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  etag: string;
  lastModified: string;
  type: string;
  at: number;
}

export async function prepare(text: string, type: string, at: number): Promise<Rendered> {
  const body = Buffer.from(text, 'utf8');
  const out: Rendered = { body, type, at, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`, lastModified: new Date(Math.floor(at / 1000) * 1000).toUTCString() };
  if (body.length >= 1024) {
    [out.gzip, out.br] = await Promise.all([
      gzipAsync(body, { level: 6 }),
      brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
    ]);
  }
  return out;
}

interface Entry {
  /** when the value in use was asked for */
  at: number;
  value: Promise<Rendered>;
  /** the value, once it is there */
  settled?: Rendered;
  /** a background refresh under way */
  refreshing?: Promise<Rendered>;
}

export class RenderCache {
  private entries = new Map<string, Entry>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 500,
  ) {}

  clear(): void {
    this.entries.clear();
  }

  /** A fresh answer that is already rendered, or undefined (then ask `get`). */
  ready(key: string): Rendered | undefined {
    const hit = this.entries.get(key);
    return hit?.settled && this.now() - hit.at < this.ttlMs ? hit.settled : undefined;
  }

  get(key: string, make: () => Promise<Rendered>): Promise<Rendered> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    if (hit && now - hit.at < 2 * this.ttlMs) {
      // stale: answer with it and refresh once in the background
      if (!hit.refreshing) {
        const next = make();
        hit.refreshing = next;
        next.then(
          (r) => {
            if (this.entries.get(key) === hit) this.entries.set(key, { at: now, value: next, settled: r });
          },
          () => {
            if (this.entries.get(key) === hit) hit.refreshing = undefined;
          },
        );
      }
      return hit.value;
    }
    if (this.entries.size >= this.max) this.entries.clear();
    const value = make();
    const entry: Entry = { at: now, value };
    this.entries.set(key, entry);
    value.then(
      (r) => {
        entry.settled = r;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return value;
  }
}

/** What a cached response is answered with: the same for the route and the fast path. */
export interface Answer {
  status: 200 | 304;
  headers: Record<string, string>;
  /** absent for a 304 */
  body?: Buffer;
}

/** 304 on a matching validator, else the best encoding the client takes. */
export function answer(headers: IncomingHttpHeaders, r: Rendered, opts: { private: boolean; maxAgeS: number }): Answer {
  const out: Record<string, string> = {
    etag: r.etag,
    'last-modified': r.lastModified,
    vary: 'accept-encoding',
    'cache-control': opts.private ? 'private, no-cache' : `public, max-age=${opts.maxAgeS}`,
  };
  const inm = headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === r.etag)) return { status: 304, headers: out };
  if (!inm && headers['if-modified-since'] && Date.parse(headers['if-modified-since']) >= Date.parse(r.lastModified)) return { status: 304, headers: out };
  out['content-type'] = r.type;
  const accept = accepted(String(headers['accept-encoding'] ?? ''));
  if (r.br && accept.has('br')) {
    out['content-encoding'] = 'br';
    return { status: 200, headers: out, body: r.br };
  }
  if (r.gzip && accept.has('gzip')) {
    out['content-encoding'] = 'gzip';
    return { status: 200, headers: out, body: r.gzip };
  }
  return { status: 200, headers: out, body: r.body };
}

/** Answer a routed request with the cached bytes. */
export function send(req: FastifyRequest, reply: FastifyReply, r: Rendered, opts: { private: boolean; maxAgeS: number }): FastifyReply {
  const a = answer(req.headers, r, opts);
  reply.code(a.status).headers(a.headers);
  return a.body ? reply.send(a.body) : reply.send();
}

/**
 * Answer before routing (core/http/fast-path): the same status, headers and bytes as `send`, plus
 * the server's common headers. An unconditional request — nearly all of them under load — gets
 * headers built once per render and Accept-Encoding value.
 */
export function write(req: IncomingMessage, f: FastRequest, res: ServerResponse, r: Rendered, opts: { private: boolean; maxAgeS: number }, common: Readonly<Record<string, string>>): void {
  const enc = f.acceptEncoding;
  let a = f.conditional ? undefined : r.prebuilt?.get(enc);
  if (!a) {
    const built = answer({ 'if-none-match': f.ifNoneMatch, 'if-modified-since': f.ifModifiedSince, 'accept-encoding': enc }, r, opts);
    const headers: Record<string, string | number> = { ...built.headers, ...common };
    if (built.body) headers['content-length'] = built.body.length;
    if (!built.body || f.conditional) {
      res.writeHead(built.status, headers);
      res.end(built.body && req.method !== 'HEAD' ? built.body : undefined);
      return;
    }
    a = { headers, body: built.body };
    r.prebuilt ??= new Map();
    if (r.prebuilt.size < 16) r.prebuilt.set(enc, a);
  }
  res.writeHead(200, a.headers);
  res.end(req.method === 'HEAD' ? undefined : a.body);
}

/** Clients send a handful of distinct Accept-Encoding values: parse each once. */
const acceptedCache = new Map<string, Set<string>>();

function accepted(header: string): Set<string> {
  let out = acceptedCache.get(header);
  if (out) return out;
  out = parseAccepted(header);
  if (acceptedCache.size >= 64) acceptedCache.clear();
  acceptedCache.set(header, out);
  return out;
}

function parseAccepted(header: string): Set<string> {
  const out = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    out.add(name === 'x-gzip' ? 'gzip' : name);
  }
  return out;
}
