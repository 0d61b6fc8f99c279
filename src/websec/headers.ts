/**
 * `shipshape headers <url>`: fetch a site as a browser would and grade its security headers the
 * way the MDN HTTP Observatory does (observatory.ts), plus Permissions-Policy as an informational
 * test outside the score.
 */
import { formatDuration } from '../core/config/units.js';
import { egressDenial } from '../core/egress.js';
import { grade, GRADES, SCORE_TABLE, unusable, type Grade, type TestName } from './observatory.js';
import { closeAgents, DEFAULT_TIMEOUT_MS, errorCode, retrieve, targetOf } from './retrieve.js';

export interface HeaderTest {
  /** the Observatory's test name (`content-security-policy`, …) or `permissions-policy` */
  name: TestName | 'permissions-policy';
  title: string;
  pass: boolean;
  /** the Observatory's result code, e.g. `csp-implemented-with-no-unsafe`, `hsts-not-implemented` */
  result: string;
  /** what it adds to the score (0 for informational tests) */
  scoreModifier: number;
  /** what was found, in one line */
  description: string;
  /** what to change, in one line (empty when nothing) */
  fix: string;
  /** true for tests outside the Observatory's score (Permissions-Policy) */
  informational?: boolean;
}

export interface HeaderReport {
  /** the URL asked for */
  url: string;
  /** the URL graded: the last of the graded chain (HTTPS when the host answers it) */
  finalUrl: string;
  status: number;
  /** 0–100+, as the Observatory: base 100, bonuses only count when the score without them is ≥ 90 */
  score: number;
  grade: Grade;
  tests: HeaderTest[];
  /** the graded request's chain, first URL first (the final URL last) */
  redirects: string[];
  /** the plain-HTTP request's chain (empty when the host does not answer HTTP) */
  httpRedirects: string[];
}

const TITLES: Record<HeaderTest['name'], string> = {
  'content-security-policy': 'Content Security Policy',
  cookies: 'Cookies',
  'cross-origin-resource-sharing': 'CORS',
  redirection: 'Redirection',
  'referrer-policy': 'Referrer Policy',
  'strict-transport-security': 'Strict Transport Security',
  'subresource-integrity': 'Subresource Integrity',
  'x-content-type-options': 'X-Content-Type-Options',
  'x-frame-options': 'X-Frame-Options',
  'cross-origin-resource-policy': 'Cross-Origin-Resource-Policy',
  'permissions-policy': 'Permissions-Policy (informational)',
};

/** Whether `grade` is at least `min` (A+ best, F worst). Unknown grades throw. */
export function gradeAtLeast(g: string, min: string): boolean {
  const a = GRADES.indexOf(g.trim().toUpperCase() as Grade);
  const b = GRADES.indexOf(min.trim().toUpperCase() as Grade);
  if (a < 0) throw new Error(`"${g}" is not a grade (expected one of ${GRADES.join(', ')})`);
  if (b < 0) throw new Error(`"${min}" is not a grade (expected one of ${GRADES.join(', ')})`);
  return a <= b;
}

export function isGrade(s: string): s is Grade {
  return (GRADES as readonly string[]).includes(s.trim().toUpperCase());
}

const FEATURE = /^[a-z][a-z0-9-]*$/;

/** Permissions-Policy (structured-field dictionary `camera=(), geolocation=(self)`); informational, no score. */
export function permissionsPolicyTest(value: string | undefined): HeaderTest {
  const base = { name: 'permissions-policy' as const, title: TITLES['permissions-policy'], scoreModifier: 0, informational: true };
  if (!value) return { ...base, pass: false, result: 'permissions-policy-not-implemented', description: 'no Permissions-Policy', fix: 'send Permissions-Policy to turn off features the site does not use, e.g. camera=(), microphone=(), geolocation=()' };
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => {
    const [feature = '', allow] = e.split('=');
    if (!FEATURE.test(feature.trim())) return true;
    if (allow === undefined) return false; // a bare key means ?1, tolerated
    const a = allow.trim();
    return !(a === '*' || a === 'self' || /^\((\s*(self|\*|"[^"]*")\s*)*\)$/.test(a) || /^"[^"]*"$/.test(a));
  });
  if (entries.length === 0 || bad.length) return { ...base, pass: false, result: 'permissions-policy-header-invalid', description: `Permissions-Policy cannot be parsed${bad[0] ? ` at "${bad[0].slice(0, 60)}"` : ''} (the old Feature-Policy syntax?)`, fix: 'use the structured syntax: camera=(), geolocation=(self "https://maps.example")' };
  return { ...base, pass: true, result: 'permissions-policy-implemented', description: `Permissions-Policy restricts ${entries.length} feature${entries.length === 1 ? '' : 's'}`, fix: '' };
}

/** `10s`, `1.5s`, `2m` */
const secs = (ms: number): string => (ms < 60_000 ? `${Number((ms / 1000).toFixed(1))}s` : formatDuration(ms));

function errorText(e: unknown, url: string): string {
  const denied = egressDenial(e);
  if (denied) return denied.message;
  const code = errorCode(e);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `DNS lookup failed for ${new URL(url).hostname}`;
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return code ?? ((e as Error)?.message || String(e));
  }
}

/**
 * Grade `url`'s security headers as the MDN HTTP Observatory does. Rejects with a clear message
 * when nothing answers, when the answer is an error status the Observatory refuses to grade, or
 * when the deadline (`timeoutMs`, default 10s) passes: "no response from … within 10s".
 */
export async function gradeHeaders(url: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<HeaderReport> {
  const target = targetOf(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timer, opts.signal]) : timer;
  const shown = url.includes('://') ? url : target.https.href;
  let retrieved: Awaited<ReturnType<typeof retrieve>>;
  try {
    retrieved = await new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      retrieve(target, signal).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  } catch (e) {
    const parentTimeout = (opts.signal?.reason as Error | undefined)?.name === 'TimeoutError';
    if (timer.aborted || parentTimeout) throw new Error(`no response from ${shown} within ${secs(timeoutMs)}`);
    if (opts.signal?.aborted) throw new Error(`grading ${shown} was cancelled`);
    throw e;
  }
  const r = retrieved.retrieval;
  if (timer.aborted && !r.https.response && !r.http.response) throw new Error(`no response from ${shown} within ${secs(timeoutMs)}`);
  const why = unusable(r);
  if (why) {
    if (!r.https.response && !r.http.response) {
      const e = retrieved.errors.https ?? retrieved.errors.http;
      throw new Error(`no response from ${shown}: ${errorText(e, target.https.href)} (tried ${target.https.href} and ${target.http.href})`);
    }
    throw new Error(`${shown}: ${why}`);
  }
  const g = grade(r);
  const tests: HeaderTest[] = g.tests.map((t) => {
    const row = SCORE_TABLE[t.result];
    return { name: t.name, title: TITLES[t.name], pass: t.pass, result: t.result, scoreModifier: t.scoreModifier, description: `${row?.[2] ?? t.result}${t.note ? `; ${t.note}` : ''}`, fix: row?.[1] ?? '' };
  });
  const pp = g.session.response?.headers['permissions-policy'];
  tests.push(permissionsPolicyTest(Array.isArray(pp) ? pp.join(', ') : pp));
  const chain = g.session.history.map((h) => h.url);
  return {
    url: shown,
    finalUrl: chain[chain.length - 1] ?? g.session.url,
    status: g.status,
    score: g.score,
    grade: g.grade,
    tests,
    redirects: chain,
    httpRedirects: r.http.history.map((h) => h.url),
  };
}

/** The failed tests of a report that cost points, worst first: what a `down` message names. */
export function failing(report: HeaderReport): HeaderTest[] {
  return report.tests.filter((t) => !t.informational && (t.scoreModifier < 0 || !t.pass)).sort((a, b) => a.scoreModifier - b.scoreModifier);
}

export { closeAgents as closeHeaderConnections };
