/** `probeCors` and `probeRateLimit` against real loopback servers (Fastify with @fastify/rate-limit for the limits). */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCors } from '../../src/websec/cors.js';
import { configHosts, isLoopback, probeRateLimit, refusal } from '../../src/websec/ratelimit.js';
import { closeAgents } from '../../src/websec/retrieve.js';

const apps: FastifyInstance[] = [];

async function app(setup: (f: FastifyInstance) => Promise<void> | void): Promise<string> {
  const f = Fastify();
  await setup(f);
  await f.listen({ port: 0, host: '127.0.0.1' });
  apps.push(f);
  return `http://127.0.0.1:${(f.server.address() as { port: number }).port}/`;
}

let reflecting: string;
let strict: string;
let sloppy: string;
let wildcard: string;
let limited: string;
let unlimited: string;

beforeAll(async () => {
  // echoes any Origin with credentials, answers preflights for anything
  reflecting = await app((f) => {
    f.addHook('onRequest', async (req, reply) => {
      if (req.headers.origin) reply.header('access-control-allow-origin', req.headers.origin).header('access-control-allow-credentials', 'true').header('access-control-allow-methods', 'GET, PUT');
    });
    f.get('/', async () => ({ ok: true }));
    f.options('/', async (_q, reply) => reply.code(204).send());
  });
  // an exact allow-list
  strict = await app((f) => {
    f.addHook('onRequest', async (req, reply) => {
      if (req.headers.origin === 'https://app.example.com') reply.header('access-control-allow-origin', req.headers.origin).header('access-control-allow-credentials', 'true').header('vary', 'Origin');
    });
    f.get('/', async () => ({ ok: true }));
    f.options('/', async (_q, reply) => reply.code(204).send());
  });
  // trusts anything that starts with its host name, and null
  sloppy = await app((f) => {
    f.addHook('onRequest', async (req, reply) => {
      const o = req.headers.origin;
      if (o === 'null' || (o && /^https?:\/\/127\.0\.0\.1/.test(o))) reply.header('access-control-allow-origin', o).header('access-control-allow-credentials', 'true');
    });
    f.get('/', async () => ({ ok: true }));
    f.options('/', async (_q, reply) => reply.code(204).send());
  });
  wildcard = await app((f) => {
    f.get('/', async (_q, reply) => reply.header('access-control-allow-origin', '*').header('access-control-allow-credentials', 'true').send({ ok: true }));
    f.options('/', async (_q, reply) => reply.code(204).send());
  });
  limited = await app(async (f) => {
    await f.register(rateLimit, { max: 20, timeWindow: '1 minute' });
    f.get('/', async () => ({ ok: true }));
  });
  unlimited = await app((f) => {
    f.get('/', async () => ({ ok: true }));
  });
});

afterAll(async () => {
  await closeAgents();
  await Promise.all(apps.map((a) => a.close()));
});

describe('probe cors', () => {
  it('flags a server that reflects any Origin with credentials as high, with a fix', async () => {
    const r = await probeCors(reflecting);
    const f = r.findings.find((x) => x.id === 'reflects-arbitrary-origin');
    expect(f).toMatchObject({ severity: 'high', origin: 'https://evil.example' });
    expect(f?.detail).toBe('Origin: https://evil.example → Access-Control-Allow-Origin: https://evil.example, Access-Control-Allow-Credentials: true');
    expect(f?.fix).toMatch(/exact list of trusted origins/);
    expect(r.probes).toHaveLength(6);
    expect(r.probes.find((p) => p.method === 'OPTIONS')?.allowMethods).toBe('GET, PUT');
  });

  it('finds nothing on an exact allow-list', async () => {
    const r = await probeCors(strict);
    expect(r.findings).toEqual([]);
    expect(r.probes.every((p) => p.allowOrigin === null)).toBe(true);
  });

  it('catches the null origin and a prefix-matching check', async () => {
    const r = await probeCors(sloppy);
    expect(r.findings.map((f) => [f.id, f.severity])).toEqual([
      ['suffix-match', 'high'],
      ['null-origin-allowed', 'high'],
    ]);
    expect(r.findings[0]?.origin).toBe('http://127.0.0.1.evil.example');
  });

  it('reports * with credentials as low (browsers refuse the pair)', async () => {
    const r = await probeCors(wildcard);
    expect(r.findings.map((f) => [f.id, f.severity])).toEqual([['wildcard-with-credentials', 'low']]);
  });

  it('says clearly when nothing answers', async () => {
    await expect(probeCors('http://127.0.0.1:1/')).rejects.toThrow(/^cannot reach http:\/\/127\.0\.0\.1:1\//);
  });
});

describe('probe ratelimit', () => {
  it('finds where @fastify/rate-limit starts answering 429, with its headers', async () => {
    const r = await probeRateLimit(limited, { rps: 50, durationMs: 1000 });
    expect(r.sent).toBe(50);
    expect(r.statuses).toEqual({ 200: 20, 429: 30 });
    expect(r.firstLimited?.status).toBe(429);
    // requests overlap, so the server may count them in another order than they were sent
    expect(r.firstLimited?.request).toBeLessThanOrEqual(21);
    expect(r.headers['x-ratelimit-limit']).toBe('20');
    expect(r.headers['retry-after']).toMatch(/^\d+$/);
    expect(r.verdict).toMatch(/^limits kick in at ~\d+ req\/s: first 429 after \d+ answered requests, \d+ ms in \(sending 50 req\/s\)$/);
  });

  it('says no limit was seen when there is none', async () => {
    const r = await probeRateLimit(unlimited, { rps: 40, durationMs: 500 });
    expect(r.sent).toBe(20);
    expect(r.statuses).toEqual({ 200: 20 });
    expect(r.firstLimited).toBeNull();
    expect(r.verdict).toBe('no limit seen at 40 req/s for 1s (20 requests)');
  });

  it('refuses rates, durations and hosts outside its bounds', async () => {
    await expect(probeRateLimit(unlimited, { rps: 500, durationMs: 1000 })).rejects.toThrow('--rps: at most 200 requests per second, got 500');
    await expect(probeRateLimit(unlimited, { rps: 10, durationMs: 120_000 })).rejects.toThrow('--for: at most 60s');
    expect(isLoopback('127.0.0.1') && isLoopback('localhost') && isLoopback('[::1]')).toBe(true);
    expect(isLoopback('example.com')).toBe(false);
    expect(refusal(new URL('https://example.com/'), new Set(), undefined)).toBe('refusing to load-test example.com: without a config file only loopback (localhost, 127.0.0.1, ::1) may be probed');
    const hosts = configHosts({ services: { web: { checks: [{ http: { url: 'https://App.example.com/health' } }], deploy: { url: 'https://staging.example.com' }, database: { url: 'postgres://db.internal/x' } } } });
    expect([...hosts].sort()).toEqual(['app.example.com', 'staging.example.com']);
    expect(refusal(new URL('https://app.example.com/login'), hosts, 'shipshape.yaml')).toBeUndefined();
    expect(refusal(new URL('https://other.example.com/'), hosts, 'shipshape.yaml')).toMatch(/only loopback and hosts named in shipshape.yaml/);
  });
});
