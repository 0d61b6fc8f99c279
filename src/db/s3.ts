/**
 * Backups kept in S3-compatible storage (AWS S3, Cloudflare R2, MinIO, Backblaze B2, Ceph…), with
 * the AWS SDK v3. A location is `s3://bucket/prefix`; a backup is the objects
 * `<prefix>/<id>/<file>` of its local directory, `manifest.json` uploaded last, so a listing (which
 * reads manifests) never shows a backup whose upload did not finish. Dumps go up in parts
 * (`@aws-sdk/lib-storage`), so a dump of any size streams from disk with bounded memory.
 *
 * Where to connect comes from the environment the SDK reads (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), and
 * `AWS_S3_FORCE_PATH_STYLE`; a service's `database.backups.s3:` settings win over it. The SDK is
 * loaded only when an s3:// location is used.
 */
import { createReadStream, createWriteStream, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { ServiceError } from '../core/errors.js';

export interface S3Location {
  bucket: string;
  /** '' or ending in '/' */
  prefix: string;
  /** `s3://bucket/prefix` as given, normalised (no trailing slash) */
  url: string;
}

/** How to reach the storage; unset fields come from the environment. */
export interface S3Settings {
  /** e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000 */
  endpoint?: string;
  region?: string;
  /** bucket in the path (https://host/bucket/key) rather than the host name; the default when an endpoint is set */
  path_style?: boolean;
}

export const isS3 = (dest: string): boolean => /^s3:\/\//i.test(dest);

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parse `s3://bucket[/prefix]`, naming what is wrong. */
export function parseS3(dest: string): S3Location {
  const m = /^s3:\/\/([^/?#]*)\/?([^?#]*)$/i.exec(dest.trim());
  if (!m) throw new ServiceError('invalid', `"${dest}" is not an S3 location: write s3://<bucket>/<prefix>`);
  const bucket = m[1] ?? '';
  // never echoed: it may hold a secret
  if (bucket.includes('@') || bucket.includes(':')) throw new ServiceError('invalid', 'an s3:// location holds no credentials or port: write s3://<bucket>/<prefix>, give the endpoint in backups.s3.endpoint or AWS_ENDPOINT_URL_S3 and the keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw new ServiceError('invalid', `"${bucket}" in ${dest} is not a valid bucket name (3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)`);
  const parts = (m[2] ?? '').split('/').filter(Boolean);
  if (parts.some((p) => p === '.' || p === '..')) throw new ServiceError('invalid', `the prefix of ${dest} may not hold "." or ".." segments`);
  const prefix = parts.length ? `${parts.join('/')}/` : '';
  return { bucket, prefix, url: `s3://${bucket}${prefix ? `/${prefix.slice(0, -1)}` : ''}` };
}

/** The S3 URL of a backup `id` in `loc`. */
export const s3Path = (loc: S3Location, id: string): string => `${loc.url}/${id}`;

/** Split the URL of one backup (`s3://bucket/prefix/<id>`) into its location and id. */
export function splitS3Backup(url: string): { loc: S3Location; id: string } {
  const loc = parseS3(url);
  const parts = loc.prefix.split('/').filter(Boolean);
  const id = parts.pop();
  if (!id) throw new ServiceError('invalid', `${url} names a bucket, not a backup: write s3://<bucket>/<prefix>/<backup id>`);
  return { loc: { bucket: loc.bucket, prefix: parts.length ? `${parts.join('/')}/` : '', url: `s3://${loc.bucket}${parts.length ? `/${parts.join('/')}` : ''}` }, id };
}

/** Settings from the environment, overridden by `over`'s fields. */
export function s3SettingsFrom(env: NodeJS.ProcessEnv, over: S3Settings = {}): S3Settings {
  const endpoint = over.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  const region = over.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
  const ps = env.AWS_S3_FORCE_PATH_STYLE?.toLowerCase();
  const path_style = over.path_style ?? (ps === 'true' || ps === '1' ? true : ps === 'false' || ps === '0' ? false : undefined);
  return { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(path_style !== undefined ? { path_style } : {}) };
}

/** One object the listing found. */
interface Listed {
  key: string;
  etag: string;
  size: number;
}

const PART_SIZE = 16 * 1024 * 1024;

/** A backup location in S3: upload, list, read, download and delete backups by id. */
export class S3Store {
  private constructor(
    readonly loc: S3Location,
    private readonly client: S3Client,
    private readonly sdk: typeof S3Sdk,
  ) {}

  static async open(dest: string | S3Location, settings: S3Settings = {}): Promise<S3Store> {
    const loc = typeof dest === 'string' ? parseS3(dest) : dest;
    // the warning is about SDK releases this project's lockfile does not take (they need Node 22); on a CLI's stderr it is noise
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({
      region: settings.region ?? 'us-east-1',
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.path_style ?? Boolean(settings.endpoint),
      // only the checksums S3 requires: S3-compatible servers (R2, MinIO, Ceph…) differ on the newer optional ones
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 4,
    });
    return new S3Store(loc, client, sdk);
  }

  close(): void {
    this.client.destroy();
  }

  key(id: string, file = ''): string {
    return `${this.loc.prefix}${id}/${file}`;
  }

  /** An SDK failure as a sentence naming the location and what to check. */
  explain(e: unknown, what: string): ServiceError {
    if (e instanceof ServiceError) return e;
    const err = e as Error & { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    const code = err.Code ?? (err.name && err.name !== 'Unknown' ? err.name : undefined) ?? (err.$metadata?.httpStatusCode ? `HTTP ${err.$metadata.httpStatusCode}` : 'Error');
    const status = err.$metadata?.httpStatusCode;
    const hint =
      code === 'NoSuchBucket'
        ? `: the bucket ${this.loc.bucket} does not exist`
        : code === 'CredentialsProviderError' || /credential/i.test(err.message ?? '')
          ? ': no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)'
          : code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'AccessDenied' || status === 403
            ? `: the storage refused the credentials (${code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy`
            : /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT/.test(`${code} ${err.message ?? ''}`)
              ? `: cannot reach the storage (${err.message}); check AWS_ENDPOINT_URL_S3 or the service's backups.s3.endpoint`
              : `: ${code}${status && !code.startsWith('HTTP') ? ` (HTTP ${status})` : ''}${err.message && err.message !== code && err.message !== 'UnknownError' ? ` — ${err.message}` : ''}`;
    return new ServiceError('invalid', `${what} ${this.loc.url} failed${hint}`);
  }

  /** True when `<id>/manifest.json` exists (a listing, not a HEAD: its errors carry S3's code). */
  async has(id: string): Promise<boolean> {
    try {
      const key = this.key(id, 'manifest.json');
      const r = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: key, MaxKeys: 1 }));
      return (r.Contents ?? []).some((o) => o.Key === key);
    } catch (e) {
      throw this.explain(e, 'reading');
    }
  }

  /**
   * Upload the files of a local backup directory as `<id>/…`, `manifest.json` last; on failure
   * the objects already uploaded are deleted, so no half backup stays behind.
   */
  async put(dir: string, id: string, signal?: AbortSignal): Promise<void> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    const files = walk(dir).sort((a, b) => Number(a.endsWith('manifest.json')) - Number(b.endsWith('manifest.json')));
    try {
      for (const file of files) {
        if (signal?.aborted) throw new ServiceError('conflict', 'the upload was stopped');
        const rel = relative(dir, file).split(sep).join('/');
        const up = new Upload({
          client: this.client,
          params: { Bucket: this.loc.bucket, Key: this.key(id, rel), Body: createReadStream(file), ContentLength: statSync(file).size, ContentType: rel.endsWith('.json') ? 'application/json' : 'application/octet-stream' },
          partSize: PART_SIZE,
          queueSize: 4,
          leavePartsOnError: false,
        });
        const stop = () => void up.abort().catch(() => undefined);
        signal?.addEventListener('abort', stop, { once: true });
        try {
          await up.done();
        } finally {
          signal?.removeEventListener('abort', stop);
        }
      }
    } catch (e) {
      await this.remove(id).catch(() => undefined);
      throw this.explain(e, `uploading backup ${id} to`);
    }
  }

  /** Every object under the location (or under one backup), page by page (1,000 keys each). */
  private async *objects(under = ''): AsyncGenerator<Listed> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: `${this.loc.prefix}${under}`, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw this.explain(e, 'listing');
      }
      // only keys under the prefix count, whatever a server sends
      for (const o of page.Contents ?? []) if (o.Key?.startsWith(`${this.loc.prefix}${under}`)) yield { key: o.Key, etag: o.ETag ?? '', size: o.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The backups' `manifest.json` and `verification.json` objects, by id. */
  async index(): Promise<Map<string, { manifest?: Listed; verification?: Listed }>> {
    const out = new Map<string, { manifest?: Listed; verification?: Listed }>();
    for await (const o of this.objects()) {
      const rest = o.key.slice(this.loc.prefix.length);
      const m = /^([^/]+)\/(manifest|verification)\.json$/.exec(rest);
      if (!m) continue;
      const id = m[1] as string;
      const e = out.get(id) ?? {};
      e[m[2] as 'manifest' | 'verification'] = o;
      out.set(id, e);
    }
    return out;
  }

  /** A small JSON object (a manifest), or null when it is missing or not JSON. */
  async getJson<T>(key: string): Promise<T | null> {
    try {
      const r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.loc.bucket, Key: key }));
      const text = (await r.Body?.transformToString('utf8')) ?? '';
      if (text.length > 64 * 1024 * 1024) return null;
      return JSON.parse(text) as T;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || e instanceof SyntaxError) return null;
      throw this.explain(e, 'reading');
    }
  }

  async putJson(key: string, v: unknown): Promise<void> {
    try {
      await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.loc.bucket, Key: key, Body: `${JSON.stringify(v, null, 2)}\n`, ContentType: 'application/json' }));
    } catch (e) {
      throw this.explain(e, 'writing to');
    }
  }

  /** Download every object of backup `id` into `dir` (streamed to disk). */
  async download(id: string, dir: string, signal?: AbortSignal): Promise<void> {
    const base = this.key(id);
    for await (const o of this.objects(`${id}/`)) {
      const rel = o.key.slice(base.length);
      if (!rel || rel.split('/').some((p) => p === '..' || p === '.' || p === '')) continue;
      const to = join(dir, ...rel.split('/'));
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      try {
        const r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.loc.bucket, Key: o.key }), signal ? { abortSignal: signal } : {});
        await pipeline(r.Body as Readable, createWriteStream(to, { mode: 0o600 }), signal ? { signal } : {});
      } catch (e) {
        throw this.explain(e, `downloading backup ${id} from`);
      }
    }
  }

  /** Delete every object of backup `id` (1,000 per request). */
  async remove(id: string): Promise<void> {
    let batch: { Key: string }[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const r = await this.client.send(new this.sdk.DeleteObjectsCommand({ Bucket: this.loc.bucket, Delete: { Objects: batch, Quiet: true } }));
      batch = [];
      if (r.Errors?.length) throw new ServiceError('invalid', `deleting backup ${id} from ${this.loc.url} failed: ${r.Errors[0]?.Key}: ${r.Errors[0]?.Code} ${r.Errors[0]?.Message ?? ''}`);
    };
    try {
      // the manifest first, on its own: a listing stops showing the backup before its dump goes
      const manifest = this.key(id, 'manifest.json');
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.loc.bucket, Key: manifest }));
      for await (const o of this.objects(`${id}/`)) {
        if (o.key === manifest) continue;
        batch.push({ Key: o.key });
        if (batch.length === 1000) await flush();
      }
      await flush();
    } catch (e) {
      throw this.explain(e, `deleting backup ${id} from`);
    }
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() && e.name !== '.busy') out.push(p);
  }
  return out;
}
