/**
 * `http`: request a URL and report status, body, headers, redirects and (for https) the
 * certificate's days left. One keep-alive undici Agent per TLS mode is shared by every http check,
 * so a probe of a keep-alive target costs one request on an open connection.
 */
import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { duration } from '../../core/config/zod-units.js';
import { egressConnector } from '../../core/egress-http.js';
import { assertEgressHost, egressLookup, egressPolicy, type EgressPolicy } from '../../core/egress.js';
import type { CheckKind, CommonSpec, Observation, RunContext } from '../types.js';
import { certValues, deadline, elapsed, failed, mentions, networkErrorText, quote, redactUrlCredentials } from './_util.js';

/** Bodies are read up to this many bytes; the rest is discarded and `body_truncated` is set. */
export const BODY_CAP = 1024 * 1024;
const MAX_REDIRECTS = 10;
const CONNECT_TIMEOUT = 30_000;

const statusItem = z.union([
  z.number().int().min(100).max(599),
  z
    .string()
    .regex(/^([1-5]xx|[1-5]\d\d)$/i, 'expected a status code like 200 or a class like 2xx'),
]);

const spec = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+/i, 'expected an http:// or https:// URL')
      .meta({ description: 'the URL to request (http:// or https://); user:password@ in it is sent as Basic auth' }),
    method: z
      .enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      .default('GET')
      .meta({ description: 'HTTP method (default GET)' }),
    headers: z.record(z.string(), z.string()).optional().meta({ description: 'request headers' }),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown())])
      .optional()
      .meta({ description: 'request body: a string, or an object sent as JSON' }),
    expect_status: z
      .union([statusItem, z.array(statusItem).min(1)])
      .optional()
      .meta({ description: 'expected status: 200, [200, 204], "2xx" or ["2xx", 404]; default 2xx unless a condition reads status' }),
    keyword: z.string().min(1).optional().meta({ description: 'text the response body must contain' }),
    max_latency: duration().optional().meta({ description: 'slowest acceptable response, e.g. 500ms' }),
    follow_redirects: z.boolean().default(true).meta({ description: 'follow up to 10 redirects (default true)' }),
    insecure: z.boolean().default(false).meta({ description: 'skip TLS certificate verification (default false)' }),
    cert_min_days: z
      .number()
      .positive()
      .optional()
      .meta({ description: 'for https: fail when the certificate expires in fewer days than this' }),
    rdap_url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+/i, 'expected an http:// or https:// URL')
      .default('https://rdap.org')
      .meta({ description: 'RDAP service asked for the domain registration expiry when a condition reads [DOMAIN_EXPIRATION] or domain.expires_in (default https://rdap.org)' }),
  })
  .strict();

export type HttpSpec = z.infer<typeof spec>;

interface ConnInfo {
  ip?: string;
  validTo?: string;
}

/** What the last connection to each origin saw (peer address, certificate expiry), keyed by `host:port`. */
const connections = new Map<string, ConnInfo>();

function originKey(hostname: string, port: string, protocol: string): string {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const p = port || (protocol === 'https:' ? '443' : '80');
  return `${protocol}//${host}:${p}`;
}

function makeAgent(rejectUnauthorized: boolean): Agent {
  // the egress policy is applied at connect time: literal IPs and denied names before any socket,
  // every resolved address by the lookup (so a re-bound name cannot reach a denied address)
  const base = egressConnector(buildConnector({ timeout: CONNECT_TIMEOUT, rejectUnauthorized, keepAlive: true, lookup: egressLookup } as buildConnector.BuildOptions));
  const connect: buildConnector.connector = (opts, cb) => {
    base(opts, (...args) => {
      const [err, socket] = args;
      if (!err && socket) {
        const info: ConnInfo = { ip: socket.remoteAddress };
        if (socket instanceof TLSSocket) {
          const cert = socket.getPeerCertificate();
          if (cert && cert.valid_to) info.validTo = cert.valid_to;
        }
        if (connections.size > 10_000) connections.clear();
        connections.set(originKey(opts.hostname, opts.port, opts.protocol), info);
      }
      cb(...args);
    });
  };
  return new Agent({ connect, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
}

let secureAgent: Agent | undefined;
let insecureAgent: Agent | undefined;
/** the egress policy the pooled connections were checked against */
let agentsPolicy: EgressPolicy | undefined;

function agentFor(insecure: boolean): Agent {
  const policy = egressPolicy();
  if (agentsPolicy !== policy) {
    // a new policy (config reload): pooled connections were checked against the old one
    const old = [secureAgent, insecureAgent];
    secureAgent = undefined;
    insecureAgent = undefined;
    agentsPolicy = policy;
    for (const a of old) void a?.close().catch(() => undefined);
  }
  if (insecure) return (insecureAgent ??= makeAgent(false));
  return (secureAgent ??= makeAgent(true));
}

/** Close the shared connection pools (Shipshape stopping, tests). */
export async function closeHttpAgents(): Promise<void> {
  const agents = [secureAgent, insecureAgent];
  secureAgent = undefined;
  insecureAgent = undefined;
  connections.clear();
  rdapCache.clear();
  await Promise.all(agents.map((a) => a?.close().catch(() => undefined)));
}

const SECRET_PARAM = /pass|secret|token|key|auth|sig|credential|session|code/i;

/** The URL with userinfo removed and secret-looking query values replaced by `***`. */
const safeUrls = new Map<string, string>();

/** safeUrl, remembered: checks hit the same URLs every run. */
function safeUrlCached(raw: string): string {
  let v = safeUrls.get(raw);
  if (v === undefined) {
    v = safeUrl(raw);
    if (safeUrls.size > 20_000) safeUrls.clear();
    safeUrls.set(raw, v);
  }
  return v;
}

export function safeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw.replace(/\/\/[^/?#@\s]*@/, '//').replace(/\?.*$/, '');
  }
  u.username = '';
  u.password = '';
  if (u.search) {
    const parts: string[] = [];
    for (const [k, v] of u.searchParams) parts.push(`${encodeURIComponent(k)}=${SECRET_PARAM.test(k) ? '***' : encodeURIComponent(v)}`);
    u.search = parts.length > 0 ? `?${parts.join('&')}` : '';
  }
  return u.toString();
}

function statusLiteral(s: number | string): string {
  return typeof s === 'number' || /^\d+$/.test(s) ? String(Number(s)) : s.toLowerCase();
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

function isStaleConnection(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    if (e.code === 'UND_ERR_SOCKET' || e.code === 'ECONNRESET' || e.code === 'EPIPE') return true;
  }
  return false;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function headerRecord(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

async function readBody(body: Dispatcher.ResponseData['body'], contentType: string): Promise<{ body: unknown; text: string; size: number; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > BODY_CAP) {
      chunks.push(chunk.subarray(0, BODY_CAP - size));
      size = BODY_CAP;
      truncated = true;
      break; // leaving the loop destroys the stream; undici closes that connection
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  let parsed: unknown = text;
  if (!truncated && text.length > 0) {
    const first = text.trimStart()[0];
    if (/json/i.test(contentType) || first === '{' || first === '[') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
  }
  return { body: parsed, text, size, truncated };
}

async function probe(s: HttpSpec & CommonSpec, signal: AbortSignal, start: number, now: number, at: { url?: URL }, uses?: ReadonlySet<string>): Promise<Observation> {
  let url = new URL(s.url);
  at.url = url;
  const headers: Record<string, string> = { 'user-agent': 'Shipshape-check/1' };
  for (const [k, v] of Object.entries(s.headers ?? {})) headers[k.toLowerCase()] = v;
  if (url.username || url.password) {
    if (!headers.authorization) {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    }
    url.username = '';
    url.password = '';
  }
  let method: string = s.method;
  let body: string | undefined;
  if (typeof s.body === 'string') body = s.body;
  else if (s.body !== undefined) {
    body = JSON.stringify(s.body);
    headers['content-type'] ??= 'application/json';
  }
  const agent = agentFor(s.insecure);
  let redirects = 0;
  for (;;) {
    // each hop (redirects included) is checked before it is requested; the connector checks again at connect time
    assertEgressHost(url.hostname);
    const send = (): Promise<Dispatcher.ResponseData> =>
      request(url, { method: method as Dispatcher.HttpMethod, headers, body, signal, dispatcher: agent, headersTimeout: null, bodyTimeout: null });
    let res: Dispatcher.ResponseData;
    try {
      res = await send();
    } catch (e) {
      // a kept-alive connection the server closed while idle: try once more on a fresh one
      if (signal.aborted || !IDEMPOTENT.has(method) || !isStaleConnection(e)) throw e;
      res = await send();
    }
    const location = res.headers.location;
    if (s.follow_redirects && isRedirect(res.statusCode) && typeof location === 'string' && location !== '') {
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return failed(start, `redirect to an invalid location (${location.slice(0, 100)})`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') return failed(start, `redirect to an unsupported URL scheme (${next.protocol})`);
      if (redirects >= MAX_REDIRECTS) return failed(start, `too many redirects (more than ${MAX_REDIRECTS})`, { redirects, url: safeUrl(url.toString()) });
      redirects++;
      if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        delete headers['content-type'];
        delete headers['content-length'];
      }
      if (next.origin !== url.origin) {
        // like browsers drop Authorization: no credential of this check goes to another origin
        // (X-Api-Key and every other header the check sets, and Basic auth from the URL)
        for (const k of Object.keys(headers)) if (k !== 'user-agent' && k !== 'content-type' && k !== 'accept') delete headers[k];
      }
      if (next.username || next.password) {
        next.username = '';
        next.password = '';
      }
      url = next;
      at.url = url;
      continue;
    }
    const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : '';
    // a body no condition reads is discarded unread (cheaper; the connection is still reused)
    const skip = method === 'HEAD' || (uses !== undefined && !uses.has('body') && !uses.has('body_size') && !uses.has('body_text'));
    const read = skip ? { body: undefined, text: '', size: Number(res.headers['content-length']) || 0, truncated: false } : await readBody(res.body, contentType);
    if (skip) await res.body.dump().catch(() => undefined);
    const lengthHeader = Number(res.headers['content-length']);
    const values: Record<string, unknown> = {
      status: res.statusCode,
      body: read.body,
      body_size: read.truncated && Number.isFinite(lengthHeader) ? lengthHeader : read.size,
      body_truncated: read.truncated,
      // the body as received, for Gatus' [BODY] (compared as text) and len([BODY])
      body_text: uses !== undefined && uses.has('body_text') ? read.text : undefined,
      headers: uses === undefined || uses.has('headers') ? headerRecord(res.headers) : undefined,
      redirects,
      url: safeUrlCached(url.href),
    };
    const info = connections.get(originKey(url.hostname, url.port, url.protocol));
    if (info?.ip) values.ip = info.ip;
    if (url.protocol === 'https:' && info?.validTo) {
      const cert = certValues(info.validTo, now);
      if (cert) values.cert = cert;
    }
    if (uses?.has('domain')) {
      // Gatus' [DOMAIN_EXPIRATION]: the registration of the domain the check asked (not where it was redirected)
      const host = new URL(s.url).hostname.replace(/^\[|\]$/g, '');
      const domain = await domainExpiry(s.rdap_url, host, signal, now);
      if ('error' in domain) return failed(start, domain.error, values);
      values.domain = domain;
    }
    return { ok: true, latencyMs: elapsed(start), values };
  }
}

/** RDAP answers kept per service and domain: registrations change rarely and RDAP services limit rates. */
const RDAP_TTL = 6 * 3_600_000;
const rdapCache = new Map<string, { at: number; expiresAt: number; domain: string }>();

interface RdapDomain {
  events?: { eventAction?: unknown; eventDate?: unknown }[];
}

/**
 * When the registration of `host`'s domain expires, from RDAP (`GET <base>/domain/<name>`, the
 * `expiration` event). A host that is not itself registered (`api.example.com`) is asked again
 * without its first label until a registry knows it.
 */
export async function domainExpiry(base: string, host: string, signal: AbortSignal, now: number): Promise<DomainExpiry | { error: string }> {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (isIP(name) !== 0) return { error: `[DOMAIN_EXPIRATION] needs a domain name, not an IP address (${name})` };
  const root = base.replace(/\/+$/, '');
  const key = `${root} ${name}`;
  const cached = rdapCache.get(key);
  if (cached && now - cached.at < RDAP_TTL) return { expires_in: cached.expiresAt - now, expires_at: new Date(cached.expiresAt).toISOString(), name: cached.domain };
  // checks of the same domain that run at once share one question
  let pending = rdapInflight.get(key);
  if (!pending) {
    pending = askRdap(root, name, signal, now).finally(() => rdapInflight.delete(key));
    rdapInflight.set(key, pending);
  }
  const out = await pending;
  return 'error' in out ? out : { ...out, expires_in: Date.parse(out.expires_at) - now };
}

interface DomainExpiry {
  expires_in: number;
  expires_at: string;
  name: string;
}

const rdapInflight = new Map<string, Promise<DomainExpiry | { error: string }>>();

async function askRdap(root: string, name: string, signal: AbortSignal, now: number): Promise<DomainExpiry | { error: string }> {
  const labels = name.split('.');
  const agent = agentFor(false);
  // api.example.co.uk → api.example.co.uk, example.co.uk, co.uk (a single-label name is asked as it is)
  const candidates = labels.length === 1 ? [name] : labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
  for (const candidate of candidates) {
    let url = new URL(`${root}/domain/${encodeURIComponent(candidate)}`);
    let res: Awaited<ReturnType<typeof request>>;
    try {
      // rdap.org answers with a redirect to the registry's own RDAP service
      for (let hops = 0; ; hops++) {
        assertEgressHost(url.hostname);
        res = await request(url, { method: 'GET', headers: { accept: 'application/rdap+json, application/json', 'user-agent': 'Shipshape-check/1' }, signal, dispatcher: agent });
        const location = res.headers.location;
        if (!isRedirect(res.statusCode) || typeof location !== 'string' || location === '') break;
        await res.body.dump().catch(() => undefined);
        const next = new URL(location, url);
        if (hops >= 5 || (next.protocol !== 'http:' && next.protocol !== 'https:')) return { error: `domain expiration lookup for ${candidate} failed: too many or invalid redirects` };
        url = next;
      }
    } catch (e) {
      return { error: `domain expiration lookup for ${candidate} failed: ${redactUrlCredentials(networkErrorText(e, url.hostname, url.port || (url.protocol === 'https:' ? '443' : '80')))}` };
    }
    if (res.statusCode === 404) {
      await res.body.dump().catch(() => undefined);
      continue;
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      return { error: `domain expiration lookup for ${candidate} failed: RDAP answered ${res.statusCode}` };
    }
    let doc: RdapDomain;
    try {
      doc = (await res.body.json()) as RdapDomain;
    } catch {
      return { error: `domain expiration lookup for ${candidate} failed: the RDAP answer is not JSON` };
    }
    const event = (doc.events ?? []).find((e) => typeof e?.eventAction === 'string' && e.eventAction.toLowerCase() === 'expiration');
    const at = typeof event?.eventDate === 'string' ? Date.parse(event.eventDate) : NaN;
    if (Number.isNaN(at)) return { error: `domain expiration lookup for ${candidate}: the registry publishes no expiration date` };
    if (rdapCache.size > 1000) rdapCache.clear();
    rdapCache.set(`${root} ${name}`, { at: now, expiresAt: at, domain: candidate });
    return { expires_in: at - now, expires_at: new Date(at).toISOString(), name: candidate };
  }
  return { error: `domain expiration lookup for ${name} failed: no RDAP record for it or its parent domains` };
}

const TIMEOUT = Symbol('timeout');

export const http: CheckKind<typeof spec> = {
  name: 'http',
  spec,
  impliedConditions(s, userConditions) {
    const out: string[] = [];
    if (s.expect_status !== undefined) {
      const items = (Array.isArray(s.expect_status) ? s.expect_status : [s.expect_status]).map(statusLiteral);
      out.push(items.length === 1 ? `status == ${items[0]}` : `status in [${items.join(', ')}]`);
    } else if (!mentions(userConditions, 'status')) {
      out.push('status == 2xx');
    }
    if (s.keyword !== undefined) out.push(`body contains ${quote(s.keyword)}`);
    if (s.max_latency !== undefined) out.push(`latency < ${s.max_latency}ms`);
    if (s.cert_min_days !== undefined) out.push(`cert.days > ${s.cert_min_days}`);
    return out;
  },
  describe(s) {
    return `${s.method ?? 'GET'} ${safeUrl(s.url)}`;
  },
  close: closeHttpAgents,
  async run(s, ctx: RunContext) {
    const start = performance.now();
    const dl = deadline(ctx, s.timeout);
    const at: { url?: URL } = {};
    try {
      const p = probe(s, dl.signal, start, ctx.now(), at, ctx.uses);
      p.catch(() => undefined);
      const result = await Promise.race([p, dl.aborted.then((): typeof TIMEOUT => TIMEOUT)]);
      return result === TIMEOUT ? failed(start, dl.reason()) : result;
    } catch (e) {
      if (dl.signal.aborted) return failed(start, dl.reason());
      const u = at.url;
      if (!u) return failed(start, 'invalid URL');
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const port = u.port || (u.protocol === 'https:' ? '443' : '80');
      return failed(start, redactUrlCredentials(networkErrorText(e, host, port)));
    } finally {
      dl.dispose();
    }
  },
};
