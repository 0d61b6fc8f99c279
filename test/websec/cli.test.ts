/** `shipshape headers | probe cors | probe ratelimit | audit deps` as real processes from the built CLI: output and exit codes. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_FILE, site, type Site } from './sites.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const base: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: CA_FILE, ...env };
    delete base.SHIPSHAPE_CONFIG;
    const child = spawn(process.execPath, [BIN, ...args], { env: base, ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const FULL = {
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), geolocation=(self)',
};

let good: Site;
let bare: Site;
let silent: Server;
let silentPort = 0;
const silentSockets = new Set<Socket>();
let api: FastifyInstance;
let apiUrl = '';
let limited: FastifyInstance;
let limitedUrl = '';
let work = '';

beforeAll(async () => {
  good = await site((proto, req, res, port) => {
    if (proto === 'http') return void res.writeHead(301, { location: `https://localhost:${port}${req.url ?? '/'}` }).end();
    res.writeHead(200, { 'content-type': 'text/html', ...FULL }).end('<p>ok</p>');
  });
  bare = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'), { tls: false });
  silent = createServer((s) => silentSockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
  limited = Fastify({ forceCloseConnections: true });
  await limited.register(rateLimit, { max: 10, timeWindow: '1 minute' });
  limited.get('/', async () => ({ ok: true }));
  await limited.listen({ port: 0, host: '127.0.0.1' });
  limitedUrl = `http://127.0.0.1:${(limited.server.address() as { port: number }).port}/`;
  api = Fastify({ forceCloseConnections: true });
  api.addHook('onRequest', async (req, reply) => {
    if (req.headers.origin) reply.header('access-control-allow-origin', req.headers.origin).header('access-control-allow-credentials', 'true');
  });
  api.get('/', async () => ({ ok: true }));
  await api.listen({ port: 0, host: '127.0.0.1' });
  apiUrl = `http://127.0.0.1:${(api.server.address() as { port: number }).port}/`;
  work = mkdtempSync(join(tmpdir(), 'shipshape-websec-cli-'));
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  for (const s of silentSockets) s.destroy();
  await Promise.all([good.close(), bare.close(), new Promise((r) => silent.close(r)), api.close(), limited.close()]);
});

describe('shipshape headers', { timeout: 120_000 }, () => {
  it('prints each test with its fix and the grade; exits 0 at or above --min-grade', async () => {
    const r = await cli(['headers', `https://localhost:${good.port}/`, '--min-grade', 'A']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('csp-implemented-with-no-unsafe-default-src-none');
    expect(r.stdout).toContain('permissions-policy-implemented');
    expect(r.stdout).toMatch(/grade A\+ {2}score 120\/100/);
  });

  it('--json gives the report, and the chain from http', async () => {
    const r = await cli(['headers', `http://localhost:${good.port}/`, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { grade: string; score: number; finalUrl: string; httpRedirects: string[]; tests: { name: string; result: string; scoreModifier: number; fix: string; informational?: boolean }[] };
    expect(j.grade).toBe('A+');
    expect(j.finalUrl).toBe(`https://localhost:${good.port}/`);
    expect(j.httpRedirects).toEqual([`http://localhost:${good.port}/`, `https://localhost:${good.port}/`]);
    expect(j.tests.find((t) => t.name === 'redirection')).toMatchObject({ result: 'redirection-to-https', scoreModifier: 0 });
    expect(j.tests.find((t) => t.name === 'cross-origin-resource-policy')?.fix).toMatch(/Cross-Origin-Resource-Policy: same-origin/);
    expect(j.tests.find((t) => t.name === 'permissions-policy')).toMatchObject({ informational: true, scoreModifier: 0 });
  });

  it('exits 1 below --min-grade, naming what failed', async () => {
    const r = await cli(['headers', `http://127.0.0.1:${bare.port}/`, '--min-grade', 'B']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('grade F  score 10/100  (csp-not-implemented, redirection-missing, hsts-not-implemented-no-https)');
    expect(r.stdout).toContain('below --min-grade B');
    expect(r.stdout).toContain("add frame-ancestors 'none' to the CSP");
  });

  it('gives up on a silent server with a clear message, and refuses bad input with 2', async () => {
    const t = await cli(['headers', `http://127.0.0.1:${silentPort}/`, '--timeout', '1s']);
    expect(t.status).toBe(1);
    expect(t.stderr).toBe(`shipshape: no response from http://127.0.0.1:${silentPort}/ within 1s\n`);
    const g = await cli(['headers', 'https://example.com', '--min-grade', 'E']);
    expect(g.status).toBe(2);
    expect(g.stderr).toContain('--min-grade: expected one of A+, A, A-, B+, B, B-, C+, C, C-, D+, D, D-, F, got "E"');
    const u = await cli(['headers', 'ftp://example.com']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('only http:// and https:// URLs can be graded');
  });
});

describe('shipshape probe', { timeout: 120_000 }, () => {
  it('probe cors exits 1 on a reflected Origin with credentials', async () => {
    const r = await cli(['probe', 'cors', apiUrl]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('HIGH  reflects-arbitrary-origin: any origin may read responses with the user\'s cookies');
    const ok = await cli(['probe', 'cors', `http://127.0.0.1:${bare.port}/`, '--json']);
    expect(ok.status).toBe(0);
    expect((JSON.parse(ok.stdout) as { findings: unknown[] }).findings).toEqual([]);
  });

  it('probe ratelimit reports where the limit starts', async () => {
    const r = await cli(['probe', 'ratelimit', limitedUrl, '--rps', '40', '--for', '1s', '--json'], {}, work);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { sent: number; statuses: Record<string, number>; firstLimited: { request: number }; verdict: string };
    expect(j.sent).toBe(40);
    expect(j.statuses).toEqual({ 200: 10, 429: 30 });
    // requests overlap, so the server may count them in another order than they were sent
    expect(j.firstLimited.request).toBeLessThanOrEqual(11);
    expect(j.verdict).toMatch(/^limits kick in at ~\d+ req\/s: first 429 after \d+ answered requests/);
  });

  it('probe ratelimit refuses hosts outside loopback and the config, and rates above 200', async () => {
    const r = await cli(['probe', 'ratelimit', 'https://example.com/', '--rps', '5', '--for', '1s'], {}, work);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('shipshape: refusing to load-test example.com: without a config file only loopback (localhost, 127.0.0.1, ::1) may be probed\n');
    writeFileSync(join(work, 'shipshape.yaml'), 'services:\n  web:\n    checks:\n      - http: { url: "https://app.example.com/health" }\n');
    const c = await cli(['probe', 'ratelimit', 'https://other.example.com/', '--rps', '5', '--for', '1s'], {}, work);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain('only loopback and hosts named in shipshape.yaml (check and deploy URLs) may be probed');
    const fast = await cli(['probe', 'ratelimit', apiUrl, '--rps', '1000'], {}, work);
    expect(fast.status).toBe(2);
    expect(fast.stderr).toContain('--rps: expected a number from 1 to 200, got "1000"');
  });
});

describe('shipshape audit deps', { timeout: 120_000 }, () => {
  it('exits 2 without a lockfile and says why', async () => {
    const r = await cli(['audit', 'deps', work]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no lockfile (package-lock.json, pnpm-lock.yaml or yarn.lock)');
  });
});
