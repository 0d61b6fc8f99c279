/**
 * Fetching a site the way the MDN HTTP Observatory does before grading it: GET over HTTPS and over
 * HTTP (same host, port and path) at once, each following up to 10 redirects by hand so the chain
 * is recorded, cookies kept in a jar as a browser would (tough-cookie, as the Observatory), a
 * certificate that does not verify retried without verification (and marked so), then a CORS
 * preflight to the final URL. Connections go through the core egress policy (the same connector
 * the http check kind uses). Bodies are read up to BODY_CAP; every request shares one deadline.
 */
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import type { CookieJar } from 'tough-cookie';
import { egressConnector } from '../core/egress-http.js';
import { egressLookup, egressPolicy, type EgressPolicy } from '../core/egress.js';
import type { CookieInfo, FetchedResponse, Headers, Retrieval, SessionResult } from './observatory.js';

/** the largest body read (the rest is discarded) */
export const BODY_CAP = 2 * 1024 * 1024;
export const MAX_REDIRECTS = 10;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** the Origin sent with the CORS preflight */
export const PROBE_ORIGIN = 'https://observatory.shipshape.invalid';

export const BROWSER_HEADERS: Readonly<Record<string, string>> = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-language': 'en-US,en;q=0.5',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0 Shipshape/headers',
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The verify codes after which the Observatory retries without verification. */
const CERT_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Headers Node keeps only the first of when repeated (the rest are joined with ", "; set-cookie stays a list). */
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

export function normalizeHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    const list = Array.isArray(v) ? v : [v];
    if (name === 'set-cookie') out[name] = list;
    else if (SINGLE.has(name)) out[name] = list[0] ?? '';
    else out[name] = list.join(', ');
  }
  return out;
}

function makeAgent(verify: boolean): Agent {
  return new Agent({ connect: egressConnector(buildConnector({ timeout: 10_000, rejectUnauthorized: verify, lookup: egressLookup } as buildConnector.BuildOptions)), keepAliveTimeout: 5_000 });
}
let agents: { policy: EgressPolicy; verify: Agent; noVerify: Agent } | undefined;

export function agentFor(verify: boolean): Dispatcher {
  const policy = egressPolicy();
  if (agents && agents.policy !== policy) {
    void agents.verify.close().catch(() => undefined);
    void agents.noVerify.close().catch(() => undefined);
    agents = undefined;
  }
  agents ??= { policy, verify: makeAgent(true), noVerify: makeAgent(false) };
  return verify ? agents.verify : agents.noVerify;
}

/** Close the connection pools (tests, Shipshape stopping). */
export async function closeAgents(): Promise<void> {
  const a = agents;
  agents = undefined;
  await Promise.all([a?.verify.destroy().catch(() => undefined), a?.noVerify.destroy().catch(() => undefined)]);
}

/** The innermost error code (undici wraps socket and TLS errors). */
export function errorCode(e: unknown): string | undefined {
  let cur = e as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; i < 6 && cur && typeof cur === 'object'; i++) {
    if (typeof cur.code === 'string' && !cur.code.startsWith('UND_ERR')) return cur.code;
    cur = cur.cause as typeof cur;
  }
  return undefined;
}

/** Read a body as text up to `cap` bytes; the rest is discarded. */
export async function readCapped(body: Dispatcher.ResponseData['body'], cap = BODY_CAP): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (size < cap) {
      const part = b.length > cap - size ? b.subarray(0, cap - size) : b;
      chunks.push(part);
      size += part.length;
    }
    if (size >= cap) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function cookiesOf(jar: CookieJar): CookieInfo[] {
  return (jar.serializeSync()?.cookies ?? []).map((c) => ({
    key: String(c.key ?? ''),
    secure: c.secure === true,
    httpOnly: c.httpOnly === true,
    ...(typeof c.sameSite === 'string' ? { sameSite: c.sameSite } : {}),
  }));
}

interface Attempt {
  session: SessionResult;
  error?: unknown;
}

async function followChain(start: URL, verify: boolean, signal: AbortSignal, jar: CookieJar): Promise<Attempt> {
  const history: { url: string; status: number }[] = [];
  let current = start;
  let hops = 0;
  for (;;) {
    const cookie = jar.getCookieStringSync(current.href);
    const res = await request(current, { method: 'GET', headers: { ...BROWSER_HEADERS, ...(cookie ? { cookie } : {}) }, dispatcher: agentFor(verify), signal });
    const headers = normalizeHeaders(res.headers as Record<string, string | string[] | undefined>);
    for (const c of (headers['set-cookie'] as string[] | undefined) ?? []) jar.setCookieSync(c, current.href, { ignoreError: true });
    history.push({ url: current.href, status: res.statusCode });
    const location = headers.location;
    if (hops < MAX_REDIRECTS && REDIRECTS.has(res.statusCode) && typeof location === 'string' && location) {
      await res.body.dump().catch(() => undefined);
      current = new URL(location, current);
      hops++;
      continue;
    }
    const body = await readCapped(res.body);
    const response: FetchedResponse = { url: current.href, status: res.statusCode, headers, body };
    return { session: { url: start.href, response, verified: verify, history, cookies: cookiesOf(jar) } };
  }
}

async function session(start: URL, signal: AbortSignal): Promise<Attempt> {
  // loaded on the first header check, not at start (tough-cookie with its public-suffix list is ~2 MB of heap)
  const { CookieJar } = await import('tough-cookie');
  const jar = new CookieJar();
  try {
    return await followChain(start, true, signal, jar);
  } catch (e) {
    const code = errorCode(e);
    if (!signal.aborted && code && CERT_ERRORS.has(code)) {
      try {
        return await followChain(start, false, signal, jar);
      } catch (e2) {
        return { session: { url: start.href, response: null, verified: false, history: [], cookies: [] }, error: e2 };
      }
    }
    return { session: { url: start.href, response: null, verified: true, history: [], cookies: [] }, error: e };
  }
}

async function preflight(url: string, verify: boolean, signal: AbortSignal): Promise<Headers | null> {
  let current = new URL(url);
  try {
    for (let hops = 0; ; hops++) {
      const res = await request(current, { method: 'OPTIONS', headers: { ...BROWSER_HEADERS, origin: PROBE_ORIGIN, 'access-control-request-method': 'GET' }, dispatcher: agentFor(verify), signal });
      const headers = normalizeHeaders(res.headers as Record<string, string | string[] | undefined>);
      await res.body.dump().catch(() => undefined);
      const location = headers.location;
      if (hops < MAX_REDIRECTS && REDIRECTS.has(res.statusCode) && typeof location === 'string' && location) {
        current = new URL(location, current);
        continue;
      }
      return headers;
    }
  } catch {
    return null;
  }
}

export interface Target {
  /** host[:port] as the Observatory would be given it */
  hostname: string;
  http: URL;
  https: URL;
}

/** `example.com`, `https://example.com/app` or `http://localhost:3000/` → the two URLs scanned (same host, port and path). */
export function targetOf(input: string): Target {
  const raw = input.trim();
  if (!raw) throw new Error('a URL is required, like https://example.com');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`"${input}" is not a URL (expected something like https://example.com)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${input}": only http:// and https:// URLs can be graded`);
  if (u.username || u.password) throw new Error(`"${input}": leave credentials out of the URL`);
  const path = `${u.pathname}${u.search}`;
  const host = u.port ? `${u.hostname}:${u.port}` : u.hostname;
  return { hostname: host, http: new URL(`http://${host}${path}`), https: new URL(`https://${host}${path}`) };
}

export interface Retrieved {
  retrieval: Retrieval;
  /** why each session got no response (for the error message when neither did) */
  errors: { http?: unknown; https?: unknown };
}

/** Fetch both sessions and the preflight. `signal` bounds everything (the caller's deadline). */
export async function retrieve(t: Target, signal: AbortSignal): Promise<Retrieved> {
  const [http, https] = await Promise.all([session(t.http, signal), session(t.https, signal)]);
  const auto = https.session.response ? https.session : http.session;
  let cors: Retrieval['cors'] = null;
  if (auto.response) {
    const headers = await preflight(auto.history[auto.history.length - 1]?.url ?? auto.url, auto.verified, signal);
    if (headers) cors = { headers, origin: PROBE_ORIGIN };
  }
  return { retrieval: { hostname: t.hostname, http: http.session, https: https.session, cors }, errors: { http: http.error, https: https.error } };
}
