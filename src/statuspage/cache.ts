/**
 * Rendered responses, kept for a few seconds: the bytes, their gzip and brotli forms (compressed
 * once per render), an ETag and Last-Modified. Concurrent requests for a cold entry share one
 * render. Any incident or service state change drops everything, so changes show at once and the
 * page is never older than the TTL otherwise.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface Rendered {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  etag: string;
  lastModified: string;
  type: string;
  at: number;
}

export function prepare(text: string, type: string, at: number): Rendered {
  const body = Buffer.from(text, 'utf8');
  const out: Rendered = { body, type, at, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`, lastModified: new Date(Math.floor(at / 1000) * 1000).toUTCString() };
  if (body.length >= 1024) {
    out.gzip = gzipSync(body, { level: 6 });
    out.br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
  }
  return out;
}

export class RenderCache {
  private entries = new Map<string, { at: number; value: Promise<Rendered> }>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 500,
  ) {}

  clear(): void {
    this.entries.clear();
  }

  get(key: string, make: () => Promise<Rendered>): Promise<Rendered> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    if (this.entries.size >= this.max) this.entries.clear();
    const value = make();
    this.entries.set(key, { at: now, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}

/** Answer with the cached bytes: 304 on a matching validator, else the best encoding the client takes. */
export function send(req: FastifyRequest, reply: FastifyReply, r: Rendered, opts: { private: boolean; maxAgeS: number }): FastifyReply {
  reply.header('etag', r.etag);
  reply.header('last-modified', r.lastModified);
  reply.header('vary', 'accept-encoding');
  reply.header('cache-control', opts.private ? 'private, no-cache' : `public, max-age=${opts.maxAgeS}`);
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === r.etag)) return reply.code(304).send();
  if (!inm && req.headers['if-modified-since'] && Date.parse(req.headers['if-modified-since']) >= Date.parse(r.lastModified)) return reply.code(304).send();
  reply.type(r.type);
  const accept = accepted(String(req.headers['accept-encoding'] ?? ''));
  if (r.br && accept.has('br')) return reply.header('content-encoding', 'br').send(r.br);
  if (r.gzip && accept.has('gzip')) return reply.header('content-encoding', 'gzip').send(r.gzip);
  return reply.send(r.body);
}

function accepted(header: string): Set<string> {
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
