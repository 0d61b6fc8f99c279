/** The HTTP plumbing webhook-style channels share: POST, status handling, secret-free errors. */
import { egressFetch } from '../../core/egress-http.js';
import { egressCheck, egressDenial } from '../../core/egress.js';
import { urlPassword } from '../../core/redact.js';
import { redact } from '../redact.js';
import { SendError } from '../types.js';

export interface PostOptions {
  signal: AbortSignal;
  headers?: Record<string, string>;
  /** strings to hide from error messages */
  secrets: string[];
  /** shown instead of the URL in errors */
  label: string;
}

function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** POST a body; resolve with the response text on 2xx; throw a SendError otherwise. */
export async function post(url: string, body: string, contentType: string, o: PostOptions): Promise<string> {
  // the egress policy: a literal-IP or denied-name host is refused here, every resolved address at
  // connect time (egressFetch's dispatcher); a refusal is permanent (retrying cannot help)
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    /* fetch reports the invalid URL */
  }
  const denied = host ? egressCheck(host) : undefined;
  if (denied) throw new SendError(redact(`${o.label}: ${denied}`, o.secrets), true);
  let res: Awaited<ReturnType<typeof egressFetch>>;
  try {
    res = await egressFetch(url, { method: 'POST', body, headers: { 'content-type': contentType, 'user-agent': 'Shipshape', ...o.headers }, signal: o.signal, redirect: 'error' });
  } catch (e) {
    const egress = egressDenial(e);
    if (egress) throw new SendError(redact(`${o.label}: ${egress.message}`, o.secrets), true);
    const err = e as Error & { cause?: Error & { code?: string } };
    const why = o.signal.aborted ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message);
    throw new SendError(redact(`${o.label}: ${why}`, o.secrets));
  }
  let text = '';
  try {
    text = await res.text();
  } catch (e) {
    if (o.signal.aborted) throw new SendError(`${o.label}: timed out reading the response`);
    throw new SendError(redact(`${o.label}: ${(e as Error).message}`, o.secrets));
  }
  if (res.ok) return text;
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 300);
  const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
  throw new SendError(redact(`${o.label} answered ${res.status}${snippet ? `: ${snippet}` : ''}`, o.secrets), permanent, retryAfter(res.headers.get('retry-after')));
}

export const postJson = (url: string, body: unknown, o: PostOptions) => post(url, JSON.stringify(body), 'application/json', o);

/** A URL safe to show: scheme, host and port only (webhook paths and queries hold tokens). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : '/…'}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Secret strings in a URL: the whole URL, its path and query, and any password. */
export function urlSecrets(url: string): string[] {
  const out = [url];
  const password = urlPassword(url);
  if (password) out.push(password);
  try {
    const u = new URL(url);
    if (u.pathname.length > 1) out.push(u.pathname + u.search, u.pathname);
    if (u.search.length > 1) out.push(u.search.slice(1));
    for (const seg of u.pathname.split('/')) if (seg.length >= 16) out.push(seg);
  } catch {
    /* not a URL */
  }
  return out;
}
