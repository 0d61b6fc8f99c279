/** The pure parts: release order, message and file-name normalisation, event bounds and scrubbing. */
import { describe, expect, it } from 'vitest';
import { deflateRawSync, deflateSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { parseEnvelope } from '../../src/errors/envelope.js';
import { bodyBytes } from '../../src/core/http/body.js';
import { normalizeEvent } from '../../src/errors/event.js';
import { groupEvent, normalizeFilename, normalizeMessage } from '../../src/errors/grouping.js';
import { compareReleases, regresses } from '../../src/errors/releases.js';

describe('releases', () => {
  it('orders semver (with v and package@ prefixes and pre-releases) and leaves other strings unordered', () => {
    expect(compareReleases('1.0.1', '1.0.0')).toBeGreaterThan(0);
    expect(compareReleases('v1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareReleases('shop@2.0.0', 'shop@2.0.0-rc.2')).toBeGreaterThan(0);
    expect(compareReleases('2.0.0-rc.10', '2.0.0-rc.2')).toBeGreaterThan(0);
    expect(compareReleases('2.0.0-alpha', '2.0.0-alpha.1')).toBeLessThan(0);
    expect(compareReleases('1.0.0+build.5', '1.0.0')).toBe(0);
    expect(compareReleases('shop@1.0.0', 'admin@2.0.0')).toBeUndefined();
    expect(compareReleases('3f2a9c1', '1.0.0')).toBeUndefined();
  });

  it('regresses on a newer semver, a different other release, or when a release is missing', () => {
    expect(regresses('1.0.1', '1.0.0')).toBe(true);
    expect(regresses('1.0.0', '1.0.0')).toBe(false);
    expect(regresses('0.9.0', '1.0.0')).toBe(false);
    expect(regresses('abc', 'def')).toBe(true);
    expect(regresses('abc', 'abc')).toBe(false);
    expect(regresses(undefined, '1.0.0')).toBe(true);
    expect(regresses('1.0.0', null)).toBe(true);
  });
});

describe('normalisation for grouping', () => {
  it('replaces the variable parts of messages', () => {
    expect(normalizeMessage('User ada@example.com (id 42) hit 0xdeadbeef01 at 2026-11-22T10:00:00Z from 192.168.1.10\nsecond line')).toBe('User <email> (id <n>) hit <hex> at <date> from <ip>');
    expect(normalizeMessage('order 5f8d0d55b54764421b7156c5 missing')).toBe('order <hex> missing');
    expect(normalizeMessage('Cannot read properties of undefined')).toBe('Cannot read properties of undefined');
  });

  it('strips origins, queries and bundle hashes from file names but keeps real names', () => {
    expect(normalizeFilename('https://cdn.example.com/assets/index-Bx3f9aQ1.js?v=3')).toBe('/assets/index.js');
    expect(normalizeFilename('app:///static/js/main.3f2ab9c1.chunk.js')).toBe('/static/js/main.chunk.js');
    expect(normalizeFilename('/app/src/checkout-service.js')).toBe('/app/src/checkout-service.js');
  });
});

describe('events', () => {
  it('bounds deep stacks (keeping both ends) and still groups them by their frames', () => {
    const frames = Array.from({ length: 300 }, (_, i) => ({ function: `f${i}`, filename: '/app/a.js', lineno: i, in_app: true }));
    const ev = normalizeEvent({ exception: { values: [{ type: 'RangeError', value: 'Maximum call stack size exceeded', stacktrace: { frames } }] } }, Date.now());
    const exc = ev.exceptions[0];
    expect(exc?.frames).toHaveLength(100);
    expect(exc?.frames_omitted).toBe(200);
    expect(exc?.frames[0]?.function).toBe('f0');
    expect(exc?.frames.at(-1)?.function).toBe('f299');
    expect(ev.event_id).toMatch(/^[0-9a-f]{32}$/);
    expect(groupEvent(ev).method).toBe('exception');
  });

  it('reads timestamps in seconds, ms or RFC 3339, tags as objects or pairs, and breadcrumbs as {values}', () => {
    const a = normalizeEvent({ timestamp: 1_700_000_000.5, tags: [['a', 'b'], ['n', 1]], breadcrumbs: { values: [{ message: 'hi', timestamp: 1_700_000_000 }] } }, 0);
    expect(a.timestamp).toBe('2023-11-14T22:13:20.500Z');
    expect(a.tags).toEqual({ a: 'b', n: '1' });
    expect(a.breadcrumbs).toEqual([{ message: 'hi', timestamp: '2023-11-14T22:13:20.000Z' }]);
    expect(normalizeEvent({ timestamp: '2024-01-02T03:04:05.000' }, 0).timestamp).toBe('2024-01-02T03:04:05.000Z');
    expect(normalizeEvent({ timestamp: 'yesterday' }, 5000).timestamp).toBe('1970-01-01T00:00:05.000Z');
  });

  it('groups message events by their template when params were sent', () => {
    const a = normalizeEvent({ logentry: { message: 'payment %s failed', params: ['pi_1'], formatted: 'payment pi_1 failed' } }, 0);
    const b = normalizeEvent({ logentry: { message: 'payment %s failed', params: ['pi_2'], formatted: 'payment pi_2 failed' } }, 0);
    expect(a.message).toBe('payment pi_1 failed');
    expect(groupEvent(a).hash).toBe(groupEvent(b).hash);
  });
});

describe('envelope parsing', () => {
  it('reads CRLF line ends and binary payloads with a length', () => {
    const bin = Buffer.from([0, 10, 13, 10, 255]);
    const env = parseEnvelope(Buffer.concat([Buffer.from('{"event_id":"x"}\r\n{"type":"attachment","length":5}\r\n'), bin, Buffer.from('\r\n{"type":"event"}\r\n{"a":1}\r\n')]));
    expect(env.header).toEqual({ event_id: 'x' });
    expect(env.items.map((i) => i.header.type)).toEqual(['attachment', 'event']);
    expect(env.items[0]?.payload.equals(bin)).toBe(true);
    expect(env.items[1]?.payload.toString()).toBe('{"a":1}');
  });

  it('accepts an envelope with only a header', () => {
    expect(parseEnvelope(Buffer.from('{}\n')).items).toEqual([]);
    expect(parseEnvelope(Buffer.from('{}')).items).toEqual([]);
  });
});

describe('request bodies (the shared ingest reader)', () => {
  const req = (body: Buffer, headers: Record<string, string> = {}) => ({ body, headers }) as unknown as FastifyRequest;
  it('inflates deflate bodies, zlib-wrapped or raw', async () => {
    const text = Buffer.from('{"hello":"world"}\n'.repeat(20));
    expect((await bodyBytes(req(deflateSync(text), { 'content-encoding': 'deflate' }), 1 << 20)).equals(text)).toBe(true);
    expect((await bodyBytes(req(deflateRawSync(text), { 'content-encoding': 'deflate' }), 1 << 20)).equals(text)).toBe(true);
  });

  it('refuses unknown encodings (415) and bodies that inflate past the limit (413)', async () => {
    await expect(bodyBytes(req(Buffer.from('x'), { 'content-encoding': 'zstd' }), 10)).rejects.toMatchObject({ status: 415 });
    await expect(bodyBytes(req(deflateSync(Buffer.alloc(100)), { 'content-encoding': 'deflate' }), 10)).rejects.toMatchObject({ status: 413 });
  });
});
