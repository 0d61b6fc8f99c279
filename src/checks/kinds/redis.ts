/**
 * The URL and options that make ioredis connect to `address` (resolved and checked by the egress
 * policy) rather than resolve the name again itself; TLS still verifies the name.
 */
function pinned(url: string, host: string, address: string): { url: string; options: { host: string; tls?: { servername: string } } } {
  const options: { host: string; tls?: { servername: string } } = { host: address };
  if (/^rediss:/i.test(url) && isIP(host) === 0) options.tls = { servername: host };
  try {
    const u = new URL(url);
    if (u.hostname) u.hostname = isIP(address) === 6 ? `[${address}]` : address;
    return { url: u.toString(), options };
  } catch {
    return { url, options };
  }
}

/** `redis`: PING, then report memory use, version and clients from INFO. One short-lived connection per run. */
import { isIP } from 'node:net';
import { totalmem } from 'node:os';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { egressDenial, egressResolve } from '../../core/egress.js';
import type { CheckKind, Observation } from '../types.js';
import { deadline, elapsed, failed, firstLine, networkErrorText, redactUrlCredentials, scrub, urlPassword } from './_util.js';

const spec = z
  .object({
    url: z
      .string()
      .meta({ description: 'redis://[[user]:password@]host:port[/db] or rediss:// for TLS, e.g. ${REDIS_URL}' }),
  })
  .strict();

function target(url: string): { host: string; port: string } {
  try {
    const u = new URL(url);
    return { host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost', port: u.port || '6379' };
  } catch {
    return { host: 'redis', port: '' };
  }
}

function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return redactUrlCredentials(url).replace(/\?.*$/, '');
  }
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function redisErrorText(err: unknown, host: string, port: string): string {
  const denied = egressDenial(err);
  if (denied) return denied.message;
  const message = typeof (err as Error)?.message === 'string' ? (err as Error).message : String(err);
  if (/^(WRONGPASS|NOAUTH|NOPERM|ERR AUTH|ERR invalid password)/i.test(message)) return `authentication failed: ${firstLine(message)}`;
  if (/connect ETIMEDOUT/i.test(message)) return `connection timed out (${host}:${port})`;
  if (/Connection is closed/i.test(message)) return `connection closed by ${host}:${port}`;
  if (/^[A-Z]+ /.test(message) && !(err as NodeJS.ErrnoException).code) return firstLine(message); // a server error reply
  return networkErrorText(err, host, port);
}

export const redis: CheckKind<typeof spec> = {
  name: 'redis',
  spec,
  impliedConditions() {
    return ['pong == true'];
  },
  describe(s) {
    return s.url.trim() === '' ? 'redis (no url configured)' : safeRedisUrl(s.url.trim());
  },
  async run(s, ctx) {
    const start = performance.now();
    const url = s.url.trim();
    if (url === '') return failed(start, 'no redis url configured');
    if (!/^rediss?:\/\//i.test(url)) return failed(start, 'invalid redis url (expected redis:// or rediss://)');
    const secret = urlPassword(url);
    const { host, port } = target(url);
    const dl = deadline(ctx, s.timeout);
    const timeout = s.timeout > 0 ? s.timeout : ctx.timeoutMs;
    let lastError: unknown;
    // ioredis takes no lookup: resolve the host here through the egress policy (a denied literal
    // IP, name or resolved address fails here) and connect to the address that was checked
    let pin: ReturnType<typeof pinned>;
    try {
      const r = egressResolve(host);
      r.catch(() => undefined);
      const resolved = await Promise.race([r, dl.aborted.then(() => undefined)]);
      if (resolved === undefined) {
        dl.dispose();
        return failed(start, dl.reason());
      }
      pin = pinned(url, host, resolved.address);
    } catch (e) {
      dl.dispose();
      return failed(start, scrub(redisErrorText(e, host, port), [secret]));
    }
    let client: Redis;
    try {
      // loaded on first use: a server without redis checks does not pay for the client
      const { Redis: RedisClient } = await import('ioredis');
      client = new RedisClient(pin.url, {
        ...pin.options,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        retryStrategy: () => null,
        reconnectOnError: () => false,
        connectTimeout: timeout,
        commandTimeout: timeout,
        connectionName: 'shipshape-check',
      });
    } catch (e) {
      dl.dispose();
      return failed(start, scrub(`invalid redis url: ${firstLine((e as Error).message)}`, [secret]));
    }
    // ioredis reports socket errors as events; keep the first one for the message
    client.on('error', (e: unknown) => {
      lastError ??= e;
    });
    const onAbort = (): void => client.disconnect();
    dl.signal.addEventListener('abort', onAbort, { once: true });
    const work = async (): Promise<Observation> => {
      await client.connect();
      const pong = (await client.ping()) === 'PONG';
      const info = parseInfo(await client.info());
      const used = num(info.used_memory);
      const max = num(info.maxmemory) ?? 0;
      const system = num(info.total_system_memory) ?? totalmem();
      const values: Record<string, unknown> = {
        pong,
        used_memory: used,
        maxmemory: max,
        memory_used: used === undefined ? undefined : max > 0 ? used / max : system > 0 ? used / system : undefined,
        version: info.redis_version ?? info.valkey_version,
        connected_clients: num(info.connected_clients),
        role: info.role,
      };
      if (info.evicted_keys !== undefined) values.evicted_keys = num(info.evicted_keys);
      return { ok: true, latencyMs: elapsed(start), values };
    };
    try {
      const p = work();
      p.catch(() => undefined);
      const result = await Promise.race([p, dl.aborted.then(() => undefined)]);
      if (result === undefined) return failed(start, dl.reason());
      return result;
    } catch (e) {
      if (dl.signal.aborted) return failed(start, dl.reason());
      const cause = (e as NodeJS.ErrnoException)?.code || !lastError ? e : lastError;
      return failed(start, scrub(redisErrorText(cause, host, port), [secret]));
    } finally {
      dl.signal.removeEventListener('abort', onAbort);
      dl.dispose();
      client.disconnect();
    }
  },
};
