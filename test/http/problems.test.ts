/**
 * Every error is problem+json with the right status (issue 7): malformed URLs and framing,
 * absurdly nested JSON, malformed envelopes that did present a key, and a full disk (503 with
 * Retry-After and a log line naming the cause).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, messageEvent } from '../errors/envelopes.js';
import { startHarness, type Harness } from '../server/harness.js';
import { rawBody, rawConnect, rawHeader } from '../server/raw.js';

const KEY = 'ingestkey_problems_0123456789';
const yaml = `ingest:
  tokens: ["${KEY}"]
services:
  web:
    sentry: { project: 1 }
`;

const full = (code: string | number, wrap: boolean) => {
  const cause = Object.assign(new Error(code === 53100 ? 'could not extend file: No space left on device' : `${code}: database or disk is full`), { code: String(code) });
  return wrap ? new Error('cannot rollback - no transaction is active', { cause }) : cause;
};

describe('problem+json for malformed and failing requests', () => {
  let h: Harness;
  const problemOf = async (res: Response) => {
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    return (await res.json()) as { status: number; title: string; detail: string };
  };

  beforeAll(async () => {
    h = await startHarness(yaml, {
      before: (app) => {
        app.get<{ Params: { code: string }; Querystring: { wrap?: string } }>('/test/full/:code', { config: { scope: 'public' } }, async (req) => {
          throw full(req.params.code === '53100' ? 53100 : req.params.code, req.query.wrap === '1');
        });
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers a bad percent-encoding in the path with a 400 problem', async () => {
    const c = await rawConnect(h.port, 'GET /api/v1/issues/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await expect.poll(() => c.closed(), { timeout: 10_000 }).toBe(true);
    expect(c.status()).toBe(400);
    expect(rawHeader(c.received(), 'content-type')).toMatch(/application\/problem\+json/);
    expect(rawBody(c.received())).toMatchObject({ status: 400, title: 'Bad Request', detail: expect.stringMatching(/percent|encod|URL/i) });
  });

  it('answers a bad Content-Length with a 400 problem naming it', async () => {
    const c = await rawConnect(h.port, 'POST /api/v2/alerts HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n');
    await expect.poll(() => c.closed(), { timeout: 10_000 }).toBe(true);
    expect(c.status()).toBe(400);
    expect(rawHeader(c.received(), 'content-type')).toMatch(/application\/problem\+json/);
    expect(rawBody(c.received())).toMatchObject({ status: 400, detail: expect.stringMatching(/content-length/i) });
  });

  it('refuses JSON nested too deep with a 400 (PagerDuty custom_details 20k deep)', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const body = `{"routing_key":"${KEY}","event_action":"trigger","payload":{"summary":"deep","severity":"error","source":"test","custom_details":${deep}}}`;
    const res = await fetch(`${h.url}/v2/enqueue`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toMatch(/nest/i);
  });

  it('refuses a Sentry event nested too deep with a 400', async () => {
    const ev = `{"message":"deep","extra":{"x":${'['.repeat(20_000) + ']'.repeat(20_000)}}}`;
    const res = await fetch(`${h.url}/api/1/envelope/?sentry_key=${KEY}`, { method: 'POST', body: envelope({}, [[{ type: 'event' }, ev]]) });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toMatch(/nest/i);
  });

  it('names the problem (400) of a malformed envelope whose key is only in its header', async () => {
    const body = Buffer.concat([Buffer.from(`{"dsn":"http://${KEY}@localhost/1"}\n{"type":"event","length":999}\n`), Buffer.from(JSON.stringify(messageEvent('short')))]);
    const res = await fetch(`${h.url}/api/1/envelope/`, { method: 'POST', body });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toMatch(/malformed envelope: item 1 \(event\) declares length 999/);
  });

  it('answers a full disk (SQLITE_FULL, ENOSPC, PostgreSQL 53100, also wrapped) with 503, Retry-After and a log line naming it', async () => {
    for (const [code, wrap] of [['SQLITE_FULL', false], ['ENOSPC', true], ['53100', false], ['SQLITE_FULL', true]] as const) {
      const res = await fetch(`${h.url}/test/full/${code}${wrap ? '?wrap=1' : ''}`);
      expect(res.status, code).toBe(503);
      expect(Number(res.headers.get('retry-after')), code).toBeGreaterThan(0);
      expect((await problemOf(res)).detail, code).toMatch(/disk|storage|space/i);
      expect(h.logs.some((l) => String(l.msg).includes(code === '53100' ? '53100' : code)), code).toBe(true);
    }
  });

  // On SQLITE_FULL SQLite rolls the transaction back itself; the store's driver ignores Kysely's
  // failing ROLLBACK so SQLITE_FULL, not "no transaction is active" (the bare 500 of the issue), arrives.
  it('answers Sentry events on a really full SQLite store with 503 and Retry-After', async () => {
    const pages = Number(((await sql`pragma page_count`.execute(h.store.db)).rows[0] as { page_count: number }).page_count);
    await sql.raw(`pragma max_page_count = ${pages + 2}`).execute(h.store.db);
    let res: Response | undefined;
    for (let i = 0; i < 300; i++) {
      const ev = messageEvent(`filler ${i} ${'x'.repeat(2000)}`);
      res = await fetch(`${h.url}/api/1/envelope/?sentry_key=${KEY}`, { method: 'POST', body: envelope({}, [[{ type: 'event' }, JSON.stringify(ev)]]) });
      if (res.status !== 200) break;
    }
    expect(res?.status).toBe(503);
    expect(res?.headers.get('retry-after')).toBeTruthy();
    expect(h.logs.some((l) => /SQLITE_FULL/.test(String(l.msg)))).toBe(true);

    // Shipshape's own health says so, by name, until space is back; then it recovers by itself
    const health = await fetch(`${h.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', storage: { full: true, cause: 'SQLITE_FULL' } });
    await sql.raw('pragma max_page_count = 1073741823').execute(h.store.db);
    await expect.poll(async () => (await fetch(`${h.url}/health`)).status, { timeout: 20_000, interval: 250 }).toBe(200);
    const types = (await h.events.list({ limit: 50 })).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['shipshape.storage_full', 'shipshape.storage_recovered']));
  });
});
