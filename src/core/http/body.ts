/**
 * Raw ingest bodies: read as bytes with the configured limit (checked again after
 * decompression), gzip / deflate / br accepted. Anything over the limit is a 413 problem.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.js';

const unzip: Record<string, (buf: InputType, opts: ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  // `deflate` is zlib-wrapped by the spec but raw in some clients: a zlib stream starts with CMF 0x?8, (CMF*256+FLG) % 31 == 0
  deflate: (buf, opts) => {
    const b = buf as Buffer;
    const zlib = b.length >= 2 && ((b[0] as number) & 0x0f) === 8 && (((b[0] as number) << 8) | (b[1] as number)) % 31 === 0;
    return (zlib ? promisify(inflate) : promisify(inflateRaw))(b, opts);
  },
  br: promisify(brotliDecompress) as (buf: InputType, opts: ZlibOptions) => Promise<Buffer>,
};

const tooLarge = (limit: number, what: string) => new HttpProblem(413, 'Content Too Large', `the ${what} is larger than ingest.max_body (${limit} bytes)`);

/**
 * Make every route of this (encapsulated) Fastify scope receive its body as a Buffer, read with
 * the limit `maxBody()` returns at the time of the request.
 */
export function rawBodies(scope: FastifyInstance, maxBody: () => number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (req, payload, done) => {
    const limit = maxBody();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      payload.resume();
      done(tooLarge(limit, 'request body'), undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    payload.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        done(tooLarge(limit, 'request body'), undefined);
        return;
      }
      chunks.push(c);
    });
    payload.on('end', () => {
      if (!failed) done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    payload.on('error', (e) => {
      if (failed) return;
      failed = true;
      done(e, undefined);
    });
  });
}

/** The request body, decompressed per Content-Encoding, within `limit` bytes. */
export async function bodyBytes(req: FastifyRequest, limit: number): Promise<Buffer> {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return raw;
  const fn = unzip[enc];
  if (!fn) throw new HttpProblem(415, 'Unsupported Media Type', `content-encoding "${enc}" is not supported; send gzip, deflate, br or none`);
  try {
    return await fn(raw, { maxOutputLength: limit });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(limit, 'decompressed request body');
    throw new HttpProblem(400, 'Bad Request', `the body is not valid ${enc} data: ${err.message}`);
  }
}

/** The media type of a request, lower-case, without parameters. */
export function mediaType(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}
