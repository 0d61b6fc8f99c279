/** The `headers` check kind against real loopback sites: up at or above min_grade, down below it with the grade and failed tests in the message. */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kindByName } from '../../src/checks/kinds/index.js';
import { headers } from '../../src/checks/kinds/headers.js';
import { closeHeaderConnections } from '../../src/websec/headers.js';
import { runKind } from '../helpers/run-kind.js';
import { site, type Site } from './sites.js';

const FULL = {
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

let bare: Site;
let good: Site;
let silent: Server;
let silentPort = 0;
const silentSockets = new Set<Socket>();

beforeAll(async () => {
  bare = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'), { tls: false });
  good = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html', ...FULL }).end('<p>hi</p>'), { tls: false });
  silent = createServer((s) => silentSockets.add(s)); // accepts, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  await closeHeaderConnections();
  for (const s of silentSockets) s.destroy();
  await Promise.all([bare.close(), good.close(), new Promise((r) => silent.close(r))]);
});

describe('headers check kind', () => {
  it('is registered, with min_grade defaulting to B and a bad grade refused', () => {
    expect(kindByName('headers')).toBe(headers);
    expect(headers.spec.parse({ url: 'https://example.com' })).toEqual({ url: 'https://example.com', min_grade: 'B' });
    expect(() => headers.spec.parse({ url: 'https://example.com', min_grade: 'E' })).toThrow();
    expect(() => headers.spec.parse({ url: 'ftp://example.com' })).toThrow(/http/);
    expect(() => headers.spec.parse({ url: 'https://user:pw@example.com/' })).toThrow(/leave credentials out/);
  });

  it('is down below min_grade, naming the grade, score and failed tests', async () => {
    const obs = await runKind(headers, { url: `http://127.0.0.1:${bare.port}/`, min_grade: 'B' }, { timeoutMs: 10_000 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('grade F (10/100): csp-not-implemented, redirection-missing, hsts-not-implemented-no-https, x-frame-options-not-implemented, …; at least B expected');
    expect(obs.values).toMatchObject({ grade: 'F', score: 10, status: 200 });
    expect((obs.values.tests as Record<string, { result: string }>)['x-content-type-options']?.result).toBe('x-content-type-options-not-implemented');
  });

  it('is up at or above min_grade (plain HTTP with the other headers right is C+)', async () => {
    const obs = await runKind(headers, { url: `http://127.0.0.1:${good.port}/`, min_grade: 'C' }, { timeoutMs: 10_000 });
    expect(obs.error).toBeUndefined();
    expect(obs.ok).toBe(true);
    expect(obs.values).toMatchObject({ grade: 'C+', score: 60, failing: ['redirection-missing', 'hsts-not-implemented-no-https'] });
    const b = await runKind(headers, { url: `http://127.0.0.1:${good.port}/`, min_grade: 'B' }, { timeoutMs: 10_000 });
    expect(b.ok).toBe(false);
    expect(b.error).toMatch(/^grade C\+ \(60\/100\): redirection-missing, hsts-not-implemented-no-https; at least B expected$/);
  });

  it('reports a site that never answers as a timeout, not a hang', async () => {
    const obs = await runKind(headers, { url: `http://127.0.0.1:${silentPort}/` }, { timeoutMs: 1500 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(`no response from http://127.0.0.1:${silentPort}/ within 1.5s`);
  });

  it('reports a refused connection', async () => {
    const obs = await runKind(headers, { url: 'http://127.0.0.1:1/' }, { timeoutMs: 5000 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toMatch(/^no response from http:\/\/127\.0\.0\.1:1\/: connection refused/);
  });
});
