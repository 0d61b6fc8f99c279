/**
 * The Node SDK client against real HTTP receivers on loopback: what it sends, how it batches,
 * and that an app whose Shipshape is away, slow, refusing or overloaded keeps running.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createShipshape, type Shipshape } from '../../src/sdk/node/index.js';
import { allEvents, allRequests, closedPort, startRecorder, watchProcessErrors, type Recorder } from './recorder.js';

const TOKEN = 'sdk-test-ingest-token';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function recorder(port?: number): Promise<Recorder> {
  const r = await startRecorder(port);
  cleanup.push(() => r.close());
  return r;
}

function client(url: string, opts: Partial<Parameters<typeof createShipshape>[0]> = {}): Shipshape & { errors: Error[] } {
  const errors: Error[] = [];
  const c = createShipshape({ url, token: TOKEN, service: 'web', flushIntervalMs: 60_000, onError: (e) => errors.push(e), ...opts });
  cleanup.push(() => c.close());
  return Object.assign(c, { errors });
}

describe('Node SDK client', () => {
  it('sends requests and business events in one authenticated JSON batch to /api/v1/ingest', async () => {
    const r = await recorder();
    const c = client(r.url);
    c.recordRequest({ route: '/items/:id', method: 'get', status: 200, durationMs: 12.5, at: 1_700_000_000_000 });
    c.recordRequest({ route: '/checkout', method: 'POST', status: 502, durationMs: 480 });
    c.track('purchase_completed', { value: 49.9 });
    c.track('signup_completed');
    c.track('emails_sent', { count: 3 });
    expect(r.received).toHaveLength(0); // batched, not one request each
    expect(await c.flush()).toBe(true);

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.url).toBe('/api/v1/ingest');
    expect(got.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.json.service).toBe('web');
    expect(got.json.requests).toEqual([
      { route: '/items/:id', method: 'GET', status: 200, duration_ms: 12.5, at: 1_700_000_000_000 },
      { route: '/checkout', method: 'POST', status: 502, duration_ms: 480, at: expect.any(Number) },
    ]);
    expect(got.json.events).toEqual([
      { name: 'purchase_completed', value: 49.9, at: expect.any(Number) },
      { name: 'signup_completed', at: expect.any(Number) },
      { name: 'emails_sent', count: 3, at: expect.any(Number) },
    ]);
    expect(Math.abs(got.json.events![0]!.at - Date.now())).toBeLessThan(60_000);
    expect(c.stats()).toMatchObject({ queued: 0, sent: 5, dropped: 0, failures: 0 });
  });

  it('sends on its own every flushIntervalMs, and when a batch is full', async () => {
    const r = await recorder();
    const timed = client(r.url, { flushIntervalMs: 30 });
    timed.track('tick');
    await r.waitFor((rs) => allEvents(rs.map((x) => x.json)).some((e) => e.name === 'tick'));

    const full = client(r.url, { maxBatch: 50 });
    for (let i = 0; i < 50; i++) full.recordRequest({ route: '/', method: 'GET', status: 200, durationMs: i });
    await r.waitFor((rs) => rs.some((x) => x.json.requests?.length === 50));
  });

  it('ignores bad input instead of throwing, and counts it', async () => {
    const r = await recorder();
    const c = client(r.url);
    expect(() => {
      c.track('has spaces and ünïcode');
      c.track('', { value: 1 });
      c.track('nan_value', { value: Number.NaN });
      c.track('bad_count', { count: -1 });
      c.track(undefined as unknown as string);
      c.recordRequest({ route: '/x', method: 'GET', status: 9000, durationMs: 1 });
      c.recordRequest({ route: '/x', method: 'GET', status: 200, durationMs: -5 });
      c.recordRequest(null as unknown as Parameters<typeof c.recordRequest>[0]);
    }).not.toThrow();
    c.recordRequest({ route: '', method: '', status: 404, durationMs: 1 });
    await c.flush();
    expect(c.stats().ignored).toBe(8);
    expect(allEvents(r.payloads())).toEqual([]);
    expect(allRequests(r.payloads())).toEqual([{ route: 'unmatched', method: 'GET', status: 404, duration_ms: 1, at: expect.any(Number) }]);
  });

  it('rejects bad options with a message naming the option', () => {
    expect(() => createShipshape({ url: '', token: TOKEN, service: 'web' })).toThrow(/`url` is required/);
    expect(() => createShipshape({ url: 'http://127.0.0.1:1', token: '', service: 'web' })).toThrow(/`token` is required/);
    expect(() => createShipshape({ url: 'http://127.0.0.1:1', token: TOKEN, service: 'bad name!' })).toThrow(/`service`/);
    expect(() => createShipshape({ url: 'ftp://127.0.0.1:1', token: TOKEN, service: 'web' })).toThrow(/http:\/\/ or https:\/\//);
  });

  it('gzips large batches', async () => {
    const r = await recorder();
    const c = client(r.url, { gzipAbove: 1024 });
    for (let i = 0; i < 500; i++) c.recordRequest({ route: `/api/items/:id`, method: 'GET', status: 200, durationMs: i });
    await c.flush();
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.headers['content-encoding']).toBe('gzip');
    expect(r.received[0]!.raw.length).toBeLessThan(r.received[0]!.text.length / 4);
    expect(r.received[0]!.json.requests).toHaveLength(500);

    const small = client(r.url, { gzipAbove: 1024 });
    small.track('one');
    await small.flush();
    expect(r.received[1]!.headers['content-encoding']).toBeUndefined();
  });

  it('keeps the app running when Shipshape is away: bounded queue, oldest dropped, no unhandled rejection; delivers once it is back', async () => {
    const port = await closedPort();
    const watch = watchProcessErrors();
    cleanup.push(() => watch.stop());
    const c = client(`http://127.0.0.1:${port}`, { maxQueue: 100, flushIntervalMs: 10, maxBackoffMs: 20 });
    for (let i = 0; i < 250; i++) c.track('order', { value: i });
    expect(await c.flush()).toBe(false);
    // the timer keeps retrying in the background without any rejection escaping
    await expect.poll(() => c.stats().failures, { timeout: 5000, interval: 10 }).toBeGreaterThan(1);
    const s = c.stats();
    expect(s.queued + s.inFlight).toBe(100); // waiting, or in the retry being tried right now
    expect(s).toMatchObject({ dropped: 150, sent: 0 });
    expect(c.stats().failures).toBeGreaterThan(1);
    expect(c.stats().lastError).toMatch(/ECONNREFUSED/);
    expect(c.errors.length).toBeGreaterThan(0);

    const r = await recorder(port);
    await r.waitFor(() => c.stats().queued === 0 && c.stats().sent === 100);
    // the newest 100 survived, in order
    expect(allEvents(r.payloads()).map((e) => e.value)).toEqual(Array.from({ length: 100 }, (_, i) => 150 + i));
    expect(watch.errors).toEqual([]);
  });

  it('gives up on a server that never answers after timeoutMs, and keeps the data for a retry', async () => {
    const r = await recorder();
    r.respond = () => undefined; // hang
    const c = client(r.url, { timeoutMs: 100 });
    c.track('slow');
    expect(await c.flush()).toBe(false);
    expect(c.stats()).toMatchObject({ queued: 1, sent: 0 });
    expect(c.stats().lastError).toMatch(/no answer within 100ms/);
  });

  it('retries 5xx and 429 (honouring Retry-After) and drops what the server refuses with 4xx', async () => {
    const r = await recorder();
    const answers = [503, 429, 202, 400, 202];
    r.respond = (_req, res, n) => {
      const status = answers[n] ?? 202;
      res.writeHead(status, { 'content-type': 'application/problem+json', ...(status === 429 ? { 'retry-after': '1' } : {}) });
      res.end(JSON.stringify({ title: 'x', detail: status === 400 ? 'requests[0].status: expected a number' : 'busy' }));
    };
    const c = client(r.url);
    c.track('a');
    expect(await c.flush()).toBe(false); // 503
    expect(c.errors.at(-1)?.message).toBe('shipshape ingest answered 503: busy');
    expect(await c.flush()).toBe(false); // 429
    expect(await c.flush()).toBe(true); // 202
    expect(c.stats()).toMatchObject({ sent: 1, dropped: 0, queued: 0 });
    expect(allEvents(r.payloads()).filter((e) => e.name === 'a')).toHaveLength(3); // the same event, retried

    c.track('b');
    expect(await c.flush()).toBe(false); // 400: not retried
    expect(c.errors.at(-1)?.message).toBe('shipshape ingest answered 400: requests[0].status: expected a number');
    expect(c.stats()).toMatchObject({ dropped: 1, queued: 0 });
  });

  it('waits out Retry-After before the timer tries again', async () => {
    const r = await recorder();
    r.respond = (_req, res) => {
      res.writeHead(429, { 'retry-after': '30' });
      res.end();
    };
    const c = client(r.url, { flushIntervalMs: 10, maxBackoffMs: 10 });
    c.track('a');
    await r.waitFor((rs) => rs.length >= 1);
    // deliberately let time pass: proves that nothing is sent while Retry-After (30s) holds
    await new Promise((res) => setTimeout(res, 200));
    expect(r.received).toHaveLength(1); // 20 timer ticks, no new attempt
  });

  it('halves its batches when the server says 413, losing nothing', async () => {
    const r = await recorder();
    r.respond = (req, res) => {
      const n = Number(req.headers['content-length']);
      res.writeHead(n > 2000 ? 413 : 202);
      res.end();
    };
    const c = client(r.url, { gzipAbove: false });
    for (let i = 0; i < 64; i++) c.track('bulk_event_with_a_long_name', { value: i });
    await c.flush();
    const accepted = r.received.filter((x) => Number(x.headers['content-length']) <= 2000);
    expect(accepted.flatMap((x) => x.json.events ?? []).map((e) => e.value)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(c.stats()).toMatchObject({ sent: 64, dropped: 0 });
  });

  it('close() sends what is left; afterwards recording is a no-op', async () => {
    const r = await recorder();
    const c = client(r.url);
    c.track('last_words');
    await c.close();
    expect(allEvents(r.payloads()).map((e) => e.name)).toEqual(['last_words']);
    c.track('after_close');
    await c.flush();
    expect(r.received).toHaveLength(1);
  });

  it('enabled: false records nothing', async () => {
    const r = await recorder();
    const c = client(r.url, { enabled: false });
    c.track('x');
    c.recordRequest({ route: '/', method: 'GET', status: 200, durationMs: 1 });
    expect(await c.flush()).toBe(true);
    expect(r.received).toHaveLength(0);
  });
});

describe('Node SDK in a real process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-sdk-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sdk = resolve('src/sdk/node/index.ts');

  function run(script: string): Promise<{ code: number | null; stderr: string; ms: number }> {
    const file = join(dir, `app-${Math.random().toString(36).slice(2)}.ts`);
    writeFileSync(file, script);
    const started = Date.now();
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'ignore', 'pipe'], cwd: process.cwd() });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', fail);
      child.on('exit', (code) => {
        clearTimeout(kill);
        done({ code, stderr, ms: Date.now() - started });
      });
    });
  }

  it('does not keep a finished app alive, and sends what was queued before it exits', async () => {
    const r = await recorder();
    const res = await run(`
      import { createShipshape } from ${JSON.stringify(sdk)};
      const s = createShipshape({ url: ${JSON.stringify(r.url)}, token: 'x', service: 'worker', flushIntervalMs: 3_600_000 });
      s.track('job_finished', { value: 7 });
      console.error('done');
    `);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('done');
    expect(r.payloads()).toEqual([{ service: 'worker', events: [{ name: 'job_finished', value: 7, at: expect.any(Number) }] }]);
  });

  it('exits normally when Shipshape is away, with one warning and no crash', async () => {
    const port = await closedPort();
    const res = await run(`
      import { createShipshape } from ${JSON.stringify(sdk)};
      const s = createShipshape({ url: 'http://127.0.0.1:${port}', token: 'secret-ingest-token-123', service: 'worker', flushIntervalMs: 3_600_000 });
      for (let i = 0; i < 1000; i++) s.track('job', { value: i });
      console.error('still running');
    `);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('still running');
    expect(res.stderr.match(/ShipshapeWarning/g)).toHaveLength(1);
    expect(res.stderr).toMatch(/not delivered to http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(res.stderr).not.toContain('secret-ingest-token-123');
  });
});
