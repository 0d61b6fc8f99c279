/**
 * `shipshape probe cors <url>`: ask a URL, as a hostile page would, whether it shares its answers
 * cross-origin: an arbitrary origin, `null`, look-alike origins that defeat a prefix or suffix
 * match, with and without credentials, and a preflight for a write with an Authorization header.
 */
import { request } from 'undici';
import { agentFor, BROWSER_HEADERS, normalizeHeaders } from './retrieve.js';

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface CorsFinding {
  id: 'reflects-arbitrary-origin' | 'null-origin-allowed' | 'suffix-match' | 'prefix-match' | 'wildcard-with-credentials' | 'wildcard' | 'preflight-allows-arbitrary-origin';
  severity: Severity;
  title: string;
  /** the request that showed it */
  origin: string;
  detail: string;
  fix: string;
}

export interface CorsProbe {
  method: 'GET' | 'OPTIONS';
  origin: string;
  credentials: boolean;
  status: number;
  allowOrigin: string | null;
  allowCredentials: boolean;
  allowMethods?: string | null;
  allowHeaders?: string | null;
}

export interface CorsReport {
  url: string;
  probes: CorsProbe[];
  findings: CorsFinding[];
}

const EVIL = 'https://evil.example';

async function probe(url: URL, method: 'GET' | 'OPTIONS', origin: string, credentials: boolean, signal: AbortSignal): Promise<CorsProbe> {
  const headers: Record<string, string> = { ...BROWSER_HEADERS, origin };
  if (credentials) headers.cookie = 'shipshape_cors_probe=1';
  if (method === 'OPTIONS') {
    headers['access-control-request-method'] = 'PUT';
    headers['access-control-request-headers'] = 'authorization, content-type';
  }
  const res = await request(url, { method, headers, dispatcher: agentFor(true), signal });
  await res.body.dump().catch(() => undefined);
  const h = normalizeHeaders(res.headers as Record<string, string | string[] | undefined>);
  const one = (n: string) => (typeof h[n] === 'string' ? (h[n] as string) : null);
  return {
    method,
    origin,
    credentials,
    status: res.statusCode,
    allowOrigin: one('access-control-allow-origin'),
    allowCredentials: one('access-control-allow-credentials')?.trim().toLowerCase() === 'true',
    ...(method === 'OPTIONS' ? { allowMethods: one('access-control-allow-methods'), allowHeaders: one('access-control-allow-headers') } : {}),
  };
}

const FIX_LIST = 'compare the Origin with an exact list of trusted origins (scheme, host and port), and send Vary: Origin';

/** Probe `url` (timeoutMs bounds everything, default 10s). */
export async function probeCors(url: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CorsReport> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${url}": only http:// and https:// URLs can be probed`);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const timer = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timer, opts.signal]) : timer;
  const host = u.hostname;
  const suffix = `${u.protocol}//${host}.evil.example`;
  const prefix = `${u.protocol}//evil${host.replace(/^www\./, '')}`;
  let probes: CorsProbe[];
  try {
    probes = [];
    for (const [method, origin, creds] of [
      ['GET', EVIL, false],
      ['GET', EVIL, true],
      ['GET', 'null', true],
      ['GET', suffix, true],
      ['GET', prefix, true],
      ['OPTIONS', EVIL, true],
    ] as const) {
      probes.push(await probe(u, method, origin, creds, signal));
    }
  } catch (e) {
    if (timer.aborted) throw new Error(`no response from ${url} within ${Math.round(timeoutMs / 1000)}s`);
    throw new Error(`cannot reach ${url}: ${(e as Error).message}`);
  }
  const findings: CorsFinding[] = [];
  const reflected = (p: CorsProbe) => p.allowOrigin !== null && p.allowOrigin === p.origin;
  const [plain, withCreds, nul, suf, pre, pf] = probes as [CorsProbe, CorsProbe, CorsProbe, CorsProbe, CorsProbe, CorsProbe];
  if (reflected(plain) || reflected(withCreds)) {
    const creds = withCreds.allowCredentials && reflected(withCreds);
    findings.push({
      id: 'reflects-arbitrary-origin',
      severity: creds ? 'high' : 'medium',
      title: creds ? 'any origin may read responses with the user\'s cookies' : 'any origin is echoed back in Access-Control-Allow-Origin',
      origin: EVIL,
      detail: `Origin: ${EVIL} → Access-Control-Allow-Origin: ${withCreds.allowOrigin ?? plain.allowOrigin}${creds ? ', Access-Control-Allow-Credentials: true' : ''}`,
      fix: creds ? `stop reflecting the Origin; ${FIX_LIST}` : `use * for public data, otherwise ${FIX_LIST}`,
    });
  } else {
    if (reflected(suf)) findings.push({ id: 'suffix-match', severity: suf.allowCredentials ? 'high' : 'medium', title: 'origins that merely start with the site\'s host are trusted', origin: suffix, detail: `Origin: ${suffix} → Access-Control-Allow-Origin: ${suf.allowOrigin}${suf.allowCredentials ? ' (with credentials)' : ''}`, fix: `the check matches a prefix of the host; ${FIX_LIST}` });
    if (reflected(pre)) findings.push({ id: 'prefix-match', severity: pre.allowCredentials ? 'high' : 'medium', title: 'origins that merely end with the site\'s domain are trusted', origin: prefix, detail: `Origin: ${prefix} → Access-Control-Allow-Origin: ${pre.allowOrigin}${pre.allowCredentials ? ' (with credentials)' : ''}`, fix: `the check matches a suffix of the domain without a dot boundary; ${FIX_LIST}` });
  }
  if (nul.allowOrigin === 'null') findings.push({ id: 'null-origin-allowed', severity: nul.allowCredentials ? 'high' : 'medium', title: 'the null origin (sandboxed iframes, data: URLs, local files) is trusted', origin: 'null', detail: `Origin: null → Access-Control-Allow-Origin: null${nul.allowCredentials ? ', Access-Control-Allow-Credentials: true' : ''}`, fix: 'never allow the origin "null": remove it from the allowed list' });
  const wild = probes.find((p) => p.allowOrigin?.trim() === '*');
  if (wild && probes.some((p) => p.allowOrigin?.trim() === '*' && p.allowCredentials)) findings.push({ id: 'wildcard-with-credentials', severity: 'low', title: 'Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true', origin: wild.origin, detail: 'browsers refuse this pair, so credentialed calls fail; it often means the server was meant to reflect origins', fix: 'for public data drop Access-Control-Allow-Credentials; for private data allow an exact list of origins' });
  else if (wild) findings.push({ id: 'wildcard', severity: 'info', title: 'public: Access-Control-Allow-Origin: *', origin: wild.origin, detail: 'any site may read responses sent without cookies', fix: 'fine for public data; make sure nothing private is served here' });
  if (reflected(pf) && !findings.some((f) => f.id === 'reflects-arbitrary-origin')) findings.push({ id: 'preflight-allows-arbitrary-origin', severity: pf.allowCredentials ? 'high' : 'medium', title: 'preflights from any origin are approved', origin: EVIL, detail: `OPTIONS from ${EVIL} for PUT with Authorization → allowed (methods: ${pf.allowMethods ?? '-'}; headers: ${pf.allowHeaders ?? '-'})`, fix: `answer preflights only for trusted origins; ${FIX_LIST}` });
  return { url: u.href, probes, findings };
}
