/**
 * `gradeHeaders` against the real MDN HTTP Observatory scanner (@mdn/mdn-http-observatory 1.4.8):
 * the same loopback sites scanned by both, each in a child process that trusts the test
 * certificate through NODE_EXTRA_CA_CERTS; every site must get the same score, grade and per-test
 * results.
 *
 * The scanner is installed from the registry into a cache directory when first needed, with
 * --ignore-scripts: as a devDependency its install scripts (and its dependency
 * node_extra_ca_certs_mozilla_bundle's) download from the internet and fail `npm ci` offline.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_FILE, site, type Handler, type Site } from './sites.js';

const FULL: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const html = (body = '<p>hi</p>', head = '') => `<!doctype html><html><head>${head}</head><body>${body}</body></html>`;

/** http → https on the same host, https answers with `headers` and `body`. */
function secure(headers: Record<string, string | string[]>, body = html()): Handler {
  return (proto, req, res, port) => {
    if (proto === 'http') {
      res.writeHead(301, { location: `https://localhost:${port}${req.url ?? '/'}` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(body);
  };
}

const scenarios: [string, Handler, { tls?: boolean }?][] = [
  ['no headers at all', (_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html())],
  ['the full A+ set', secure({ ...FULL, 'set-cookie': 'sessionid=abc; Path=/; Secure; HttpOnly; SameSite=Lax' })],
  ["unsafe-inline in script-src", secure({ ...FULL, 'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'" })],
  ["unsafe-eval", secure({ ...FULL, 'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-eval'; object-src 'none'" })],
  ['HSTS max-age one hour', secure({ ...FULL, 'strict-transport-security': 'max-age=3600' })],
  ['HSTS sent twice', secure({ ...FULL, 'strict-transport-security': ['max-age=63072000', 'max-age=3600'] })],
  ['session cookie without Secure, HttpOnly or SameSite', secure({ 'x-content-type-options': 'nosniff', 'set-cookie': ['sessionid=abc; Path=/', 'theme=dark; Path=/'] })],
  ['csrf cookie without SameSite, SameSite=None without Secure', secure({ ...FULL, 'set-cookie': ['csrftoken=x; Path=/; Secure', 'pref=1; Path=/; SameSite=None'] })],
  ['invalid SameSite value', secure({ ...FULL, 'set-cookie': 'a=1; Path=/; Secure; SameSite=Sideways' })],
  ['Access-Control-Allow-Origin: *', secure({ ...FULL, 'access-control-allow-origin': '*' })],
  [
    'reflected Origin with credentials',
    (proto, req, res, port) => {
      if (proto === 'http') return void res.writeHead(301, { location: `https://localhost:${port}/` }).end();
      res.writeHead(200, { 'content-type': 'text/html', ...FULL, ...(req.headers.origin ? { 'access-control-allow-origin': req.headers.origin, 'access-control-allow-credentials': 'true' } : {}) }).end(html());
    },
  ],
  ['no redirect from http (both answer 200)', (_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html', ...FULL }).end(html())],
  [
    'http → http → https (initial redirect not to https)',
    (proto, req, res, port) => {
      if (proto === 'http' && req.url === '/') return void res.writeHead(302, { location: `http://localhost:${port}/step` }).end();
      if (proto === 'http') return void res.writeHead(301, { location: `https://localhost:${port}/` }).end();
      res.writeHead(200, { 'content-type': 'text/html', ...FULL }).end(html());
    },
  ],
  [
    'http → https → http (ends on http)',
    (proto, req, res, port) => {
      if (proto === 'http' && req.url === '/') return void res.writeHead(301, { location: `https://localhost:${port}/x` }).end();
      if (proto === 'https' && req.url === '/x') return void res.writeHead(302, { location: `http://localhost:${port}/final` }).end();
      res.writeHead(200, { 'content-type': 'text/html', ...FULL }).end(html());
    },
  ],
  ['plain HTTP only, with headers', (_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html', ...FULL, 'set-cookie': 'sid=1; Path=/; HttpOnly' }).end(html()), { tls: false }],
  ['CSP and referrer in meta tags', secure({ 'x-content-type-options': 'nosniff' }, html('<p>x</p>', `<meta http-equiv="Content-Security-Policy" content="default-src 'self'; object-src 'none'"><meta name="referrer" content="unsafe-url">`))],
  ['CSP report-only', secure({ 'content-security-policy-report-only': "default-src 'self'", 'x-frame-options': 'SAMEORIGIN', 'x-content-type-options': 'nosniff' })],
  ['strict-dynamic with a nonce', secure({ ...FULL, 'content-security-policy': "script-src 'nonce-abc123' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'" })],
  ['two CSP headers', secure({ ...FULL, 'content-security-policy': ["default-src 'self'", "script-src 'self' https://cdn.example.com"] })],
  ['invalid X-Content-Type-Options, ALLOW-FROM, unsafe-url, invalid CORP', secure({ 'x-content-type-options': 'sniff-please', 'x-frame-options': 'ALLOW-FROM https://a.example', 'referrer-policy': 'unsafe-url', 'cross-origin-resource-policy': 'everyone' })],
  ['external scripts with and without SRI', secure(FULL, html('<script src="https://cdn.example.com/a.js" integrity="sha384-abc" crossorigin="anonymous"></script><script src="https://cdn.other.org/b.js"></script><script>inline()</script>'))],
  ['external script over http with SRI, protocol-relative without', secure(FULL, html('<script src="http://cdn.example.com/a.js" integrity="sha384-abc"></script><script src="//cdn.example.com/b.js"></script>'))],
  ['same-origin scripts with SRI', secure(FULL, html('<script src="/app.js" integrity="sha384-abc"></script>'))],
  ['JSON API, not HTML', (proto, _q, res) => res.writeHead(200, { 'content-type': 'application/json', ...(proto === 'https' ? { 'strict-transport-security': 'max-age=31536000' } : {}) }).end('{"ok":true}')],
  ['401 with headers', (_p, _q, res) => res.writeHead(401, { 'content-type': 'text/html', ...FULL }).end(html('denied'))],
];

interface Line {
  host?: string;
  url?: string;
  grade?: string;
  score?: number;
  results?: Record<string, string>;
  error?: string;
}

function runNode(script: string, args: string[]): Promise<Line[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, NODE_EXTRA_CA_CERTS: CA_FILE } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`${script} exited ${code}: ${err}`));
      done(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line));
    });
  });
}

/** the Observatory release this file compares with (its algorithm version 4) */
const OBSERVATORY = '1.4.8';
let scanner = '';
const sites: Site[] = [];
let theirs: Line[] = [];
let ours: Line[] = [];

beforeAll(async () => {
  const home = join(tmpdir(), `shipshape-observatory-${OBSERVATORY}`);
  const pkg = join(home, 'node_modules', '@mdn', 'mdn-http-observatory');
  if (!existsSync(join(pkg, 'package.json'))) {
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'package.json'), '{ "private": true }');
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `@mdn/mdn-http-observatory@${OBSERVATORY}`], { cwd: home, stdio: 'pipe', timeout: 180_000 });
  }
  // Its skipped install script downloads Chromium's HSTS preload list; an empty list is what it
  // would hold for localhost anyway.
  const preload = join(pkg, 'conf', 'hsts-preload.json');
  if (!existsSync(preload)) writeFileSync(preload, '{}');
  copyFileSync(resolve('test/websec/observatory-scan.mjs'), join(home, 'observatory-scan.mjs'));
  scanner = join(home, 'observatory-scan.mjs');
  for (const [, handler, opts] of scenarios) sites.push(await site(handler, opts));
  [theirs, ours] = await Promise.all([
    runNode(scanner, sites.map((s) => s.host)),
    runNode(resolve('test/websec/grade-scan.mjs'), sites.map((s) => `https://${s.host}/`)),
  ]);
}, 240_000);

afterAll(async () => {
  await Promise.all(sites.map((s) => s.close()));
});

describe('grades equal the MDN HTTP Observatory on the same responses', () => {
  it('covers at least 15 sites, and the Observatory graded each of them', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(15);
    expect(theirs.filter((t) => t.error)).toEqual([]);
    // the table spans the grade range, so equality is not trivially all-F
    expect(new Set(theirs.map((t) => t.grade)).size).toBeGreaterThanOrEqual(5);
  });
  scenarios.forEach(([name], i) => {
    it(name, () => {
      const t = theirs[i] as Line;
      const o = ours[i] as Line;
      expect(o.error).toBeUndefined();
      expect({ grade: o.grade, score: o.score, results: o.results }).toEqual({ grade: t.grade, score: t.score, results: t.results });
    });
  });
});
