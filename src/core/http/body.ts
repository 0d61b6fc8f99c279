/**
 * Raw ingest bodies: read as bytes with the configured limit (checked again after
 * decompression), gzip / deflate / br accepted. Anything over the limit is a 413 problem.
 */
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { promisify } from 'node:util';
import { brotliDecompress, createBrotliDecompress, createGunzip, createInflate, createInflateRaw, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.js';

const unzip: Record<string, (buf: InputType, opts: ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  // `deflate` is zlib-wrapped by the spec but raw in some clients: a zlib stream starts with CMF 0x?8, (CMF*256+FLG) % 31 == 0
  deflate: (buf, opts) => {
    const b = buf as Buffer;
    return (isZlib(b) ? promisify(inflate) : promisify(inflateRaw))(b, opts);
  },
  br: promisify(brotliDecompress) as (buf: InputType, opts: ZlibOptions) => Promise<Buffer>,
};

function isZlib(b: Buffer): boolean {
  return b.length >= 2 && ((b[0] as number) & 0x0f) === 8 && (((b[0] as number) << 8) | (b[1] as number)) % 31 === 0;
}

const tooLarge = (limit: number, what: string) => new HttpProblem(413, 'Content Too Large', `the ${what} is larger than ingest.max_body (${limit} bytes)`);

/** A body limit with its own 413 problem (e.g. naming the config key that sets it). */
export interface BodyLimit {
  limit: number;
  tooLarge(limit: number): HttpProblem;
}

/**
 * Make every route of this (encapsulated) Fastify scope receive its body as a Buffer, read with
 * the limit `maxBody(req)` returns at the time of the request — or refused before any of it is
 * read when it returns a problem (an unknown webhook, say).
 */
export function rawBodies(scope: FastifyInstance, maxBody: (req: FastifyRequest) => number | BodyLimit | HttpProblem): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (req, payload, done) => {
    const got = maxBody(req);
    if (got instanceof HttpProblem) {
      done(got, undefined);
      return;
    }
    const limit = typeof got === 'number' ? got : got.limit;
    const over = () => (typeof got === 'number' ? tooLarge(limit, 'request body') : got.tooLarge(limit));
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      payload.resume();
      done(over(), undefined);
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
        done(over(), undefined);
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

/** A streaming decoder for a Content-Encoding, given the first bytes (deflate may be raw); undefined for identity. */
function decoderFor(enc: string, first: Buffer): Transform | undefined | null {
  if (enc === '' || enc === 'identity') return undefined;
  if (enc === 'gzip' || enc === 'x-gzip') return createGunzip();
  if (enc === 'deflate') return isZlib(first) ? createInflate() : createInflateRaw();
  if (enc === 'br') return createBrotliDecompress();
  return null;
}

/**
 * Read a request body only as far as its first line (decompressed per Content-Encoding), for
 * formats that carry their credentials there (a Sentry envelope's header). Resolves with the line
 * (without the newline; undefined when it runs past `maxLine` bytes or cannot be decoded) and a
 * stream that yields the whole body as it arrives: what was read, then the rest. The request
 * deadline bounds the wait: a request that stalls first rejects with the socket's error.
 */
export function peekFirstLine(req: FastifyRequest, payload: Readable, maxLine: number): Promise<{ line: string | undefined; body: Readable }> {
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  return new Promise((resolve, reject) => {
    const taken: Buffer[] = [];
    const decoded: Buffer[] = [];
    let decodedLength = 0;
    let decoder: Transform | undefined | null;
    let ended = false;
    let settled = false;

    const cleanup = () => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      payload.off('close', onClose);
      decoder?.destroy();
    };
    const finish = (line: string | undefined) => {
      if (settled) return;
      settled = true;
      payload.pause();
      cleanup();
      const body = new PassThrough();
      for (const c of taken) body.write(c);
      if (ended) body.end();
      else {
        payload.on('error', (e) => body.destroy(e));
        payload.pipe(body);
      }
      resolve({ line, body });
    };
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(e);
    };
    const onDecoded = (c: Buffer) => {
      if (settled) return;
      const nl = c.indexOf(0x0a);
      const part = nl === -1 ? c : c.subarray(0, nl);
      decoded.push(part);
      decodedLength += part.length;
      if (decodedLength > maxLine) return finish(undefined);
      if (nl !== -1) finish(Buffer.concat(decoded).toString('utf8').replace(/\r$/, ''));
    };
    const onData = (c: Buffer) => {
      taken.push(c);
      if (decoder === undefined && taken.length === 1) {
        decoder = decoderFor(enc, c);
        if (decoder === null) return finish(undefined); // unknown encoding: the body reader says so
        decoder?.on('data', onDecoded);
        decoder?.on('error', () => finish(undefined));
        decoder?.on('end', () => finish(Buffer.concat(decoded).toString('utf8')));
      }
      if (decoder) decoder.write(c);
      else onDecoded(c);
    };
    const onEnd = () => {
      ended = true;
      if (decoder) decoder.end();
      else finish(Buffer.concat(decoded).toString('utf8'));
    };
    const onError = (e: Error) => fail(e);
    const onClose = () => {
      if (!ended) fail(Object.assign(new Error('the client closed the connection before the body arrived'), { code: 'ECONNRESET' }));
    };
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', onError);
    payload.once('close', onClose);
  });
}
