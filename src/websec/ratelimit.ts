/**
 * `shipshape probe ratelimit <url> --rps N --for 10s`: send a steady stream of GETs and report
 * when the server starts refusing (429, or 503). Bounded (at most 200 req/s, 60s and 5000
 * requests) and only to loopback or to hosts the config names (check and deploy URLs), so it
 * cannot be pointed at someone else's site.
 */
import { isIP } from 'node:net';
import { request } from 'undici';
import { agentFor, BROWSER_HEADERS } from './retrieve.js';

export const MAX_RPS = 200;
export const MAX_DURATION_MS = 60_000;
export const MAX_REQUESTS = 5000;

export interface RateLimitReport {
  url: string;
  rps: number;
  durationMs: number;
  sent: number;
  /** status → count; `error` for requests that got no answer */
  statuses: Record<string, number>;
  /** the first 429 (or 503): the number of the request (in sending order) and how long after the start it came */
  firstLimited: { status: number; request: number; atMs: number } | null;
  /** Retry-After and RateLimit-* / X-RateLimit-* headers seen (last value of each) */
  headers: Record<string, string>;
  verdict: string;
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost']);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** Every http(s) URL's host found anywhere in a config object (check urls, deploy urls, gates…). */
export function configHosts(raw: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 12 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (/^https?:\/\//i.test(v)) {
        try {
          out.add(new URL(v).hostname.replace(/^\[|\]$/g, '').toLowerCase());
        } catch {
          // not a URL after all
        }
      }
      return;
    }
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (typeof v === 'object') for (const x of Object.values(v as Record<string, unknown>)) walk(x, depth + 1);
  };
  walk(raw, 0);
  return out;
}

/** Why probing `url` is refused, or undefined. */
export function refusal(url: URL, allowed: ReadonlySet<string>, configFile: string | undefined): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isLoopback(host) || allowed.has(host)) return undefined;
  return configFile
    ? `refusing to load-test ${host}: only loopback and hosts named in ${configFile} (check and deploy URLs) may be probed`
    : `refusing to load-test ${host}: without a config file only loopback (localhost, 127.0.0.1, ::1) may be probed`;
}

export function validateBounds(rps: number, durationMs: number): void {
  if (!Number.isFinite(rps) || rps <= 0) throw new Error(`--rps: expected a positive number of requests per second, got ${rps}`);
  if (rps > MAX_RPS) throw new Error(`--rps: at most ${MAX_RPS} requests per second, got ${rps}`);
  if (!Number.isFinite(durationMs) || durationMs <= 0) throw new Error('--for: expected a duration like 10s');
  if (durationMs > MAX_DURATION_MS) throw new Error(`--for: at most ${MAX_DURATION_MS / 1000}s`);
}

const LIMIT_HEADER = /^(retry-after|ratelimit(-.*)?|x-ratelimit-.*|x-rate-limit-.*)$/;

/** Send `rps` GETs per second for `durationMs` (capped at MAX_REQUESTS in all). Callers check `refusal` first. */
export async function probeRateLimit(url: string, opts: { rps: number; durationMs: number; signal?: AbortSignal; onProgress?: (sent: number, statuses: Record<string, number>) => void }): Promise<RateLimitReport> {
  validateBounds(opts.rps, opts.durationMs);
  const u = new URL(url);
  const total = Math.min(MAX_REQUESTS, Math.max(1, Math.floor((opts.rps * opts.durationMs) / 1000)));
  const interval = 1000 / opts.rps;
  const statuses: Record<string, number> = {};
  const headers: Record<string, string> = {};
  let firstLimited: RateLimitReport['firstLimited'] = null;
  /** answers that were not refused, received before the first refusal arrived */
  let okBefore = 0;
  let refusedYet = false;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  const one = async (n: number): Promise<void> => {
    try {
      const res = await request(u, { method: 'GET', headers: { ...BROWSER_HEADERS, accept: '*/*' }, dispatcher: agentFor(true), signal: AbortSignal.timeout(10_000), headersTimeout: 10_000 });
      const at = Math.round(performance.now() - start);
      await res.body.dump().catch(() => undefined);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      for (const [k, v] of Object.entries(res.headers)) if (LIMIT_HEADER.test(k.toLowerCase()) && v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      const refused = res.statusCode === 429 || res.statusCode === 503;
      if (refused) refusedYet = true;
      else if (!refusedYet) okBefore++;
      if (refused && (!firstLimited || n < firstLimited.request)) firstLimited = { status: res.statusCode, request: n, atMs: at };
    } catch {
      statuses.error = (statuses.error ?? 0) + 1;
    }
  };
  for (let i = 0; i < total; i++) {
    if (opts.signal?.aborted) break;
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sent++;
    inflight.push(one(sent));
    if (sent % Math.max(1, Math.round(opts.rps)) === 0) opts.onProgress?.(sent, statuses);
  }
  await Promise.all(inflight);
  const durationMs = Math.round(performance.now() - start);
  const fl = firstLimited as RateLimitReport['firstLimited'];
  let verdict: string;
  if (fl) {
    const secs = Math.max(fl.atMs / 1000, 1);
    verdict = `limits kick in at ~${Math.round(okBefore / secs)} req/s: first ${fl.status} after ${okBefore} answered requests, ${fl.atMs} ms in (sending ${opts.rps} req/s)`;
  } else verdict = `no limit seen at ${opts.rps} req/s for ${Math.round(opts.durationMs / 1000)}s (${sent} requests)`;
  return { url: u.href, rps: opts.rps, durationMs, sent, statuses, firstLimited: fl, headers, verdict };
}
