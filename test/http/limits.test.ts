/**
 * Holding up under abuse at the HTTP layer (issue 7): every request has a deadline (headers and
 * body), ingest credentials are checked before a body is read, each client address has a
 * connection cap, and the live event stream (a long response, not a slow request) is unaffected.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS_ADMIN, startHarness, type Harness } from '../server/harness.js';
import { rawBody, rawConnect, rawHeader, type RawConn } from '../server/raw.js';

const KEY = 'ingestkey_limits_0123456789';
const yaml = `ingest:
  tokens: ["${KEY}"]
services:
  web:
    sentry: { project: 1 }
`;
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const chunkedPost = (path: string, extra = '') => `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-sentry-envelope\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`;

describe('request deadlines and connection caps', () => {
  let h: Harness;
  const open: RawConn[] = [];
  const conn = async (first?: string) => {
    const c = await rawConnect(h.port, first);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await startHarness(yaml, { server: { limits: { requestTimeoutMs: 400, maxConnectionsPerClient: 8 } } });
  });
  afterAll(async () => {
    for (const c of open) c.socket.destroy();
    await h.close();
  });

  it('closes a request whose chunked body stalls after one chunk, with a 408 problem', async () => {
    const c = await conn(chunkedPost(`/api/1/envelope/?sentry_key=${KEY}`) + chunk('{"event_id":"'));
    await expect.poll(() => c.closed(), { timeout: 10_000 }).toBe(true);
    expect(c.status()).toBe(408);
    expect(rawHeader(c.received(), 'content-type')).toMatch(/application\/problem\+json/);
    expect(rawBody(c.received())).toMatchObject({ status: 408, title: 'Request Timeout' });
  });

  it('closes a request whose headers never finish', async () => {
    const c = await conn('GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    await expect.poll(() => c.closed(), { timeout: 10_000 }).toBe(true);
  });

  it('answers 401 before reading the body when an envelope has no valid key (in the URL, headers or envelope header)', async () => {
    // no key in the URL or headers, and the envelope header's DSN has the wrong key: refused at the first line
    const wrong = await conn(chunkedPost('/api/1/envelope/') + chunk('{"dsn":"http://wrongkey@localhost/1"}\n{"type":"event"}\n{"mess'));
    await expect.poll(() => wrong.status(), { timeout: 10_000 }).toBe(401);
    expect(rawBody(wrong.received())).toMatchObject({ status: 401 });
    // the rest of that body never comes: the deadline closes the socket, without a second response
    await expect.poll(() => wrong.closed(), { timeout: 10_000 }).toBe(true);
    expect(wrong.received().match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 401']);
    // an envelope header without a dsn
    const none = await conn(chunkedPost('/api/1/envelope/') + chunk('{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"ev'));
    await expect.poll(() => none.status(), { timeout: 10_000 }).toBe(401);
    // a wrong key in the URL
    const url = await conn(chunkedPost('/api/1/envelope/?sentry_key=wrongkey') + chunk('{"dsn":"'));
    await expect.poll(() => url.status(), { timeout: 10_000 }).toBe(401);
    // /store/ bodies never carry the key
    const store = await conn(chunkedPost('/api/1/store/') + chunk('{"message":'));
    await expect.poll(() => store.status(), { timeout: 10_000 }).toBe(401);
  });

  it('still takes an envelope whose only key is in its header, sent in pieces', async () => {
    const c = await conn(chunkedPost('/api/1/envelope/') + chunk(`{"dsn":"http://${KEY}@localhost/1"}`));
    c.send(chunk(`\n{"type":"event"}\n{"message":"split envelope","level":"error"}\n`));
    c.send('0\r\n\r\n');
    await expect.poll(() => c.status(), { timeout: 10_000 }).toBe(200);
  });

  it('reads the key from the header of a compressed envelope (gzip, zlib and raw deflate, br)', async () => {
    const body = Buffer.from(`{"dsn":"http://${KEY}@localhost/1"}\n{"type":"event"}\n{"message":"compressed keyless","level":"error"}\n`);
    for (const [enc, data] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)], ['deflate', deflateRawSync(body)], ['br', brotliCompressSync(body)]] as const) {
      const ok = await fetch(`${h.url}/api/1/envelope/`, { method: 'POST', body: data, headers: { 'content-encoding': enc } });
      expect(ok.status, enc).toBe(200);
    }
    const bad = await fetch(`${h.url}/api/1/envelope/`, { method: 'POST', body: gzipSync(Buffer.from(body.toString().replace(KEY, 'wrongkey'))), headers: { 'content-encoding': 'gzip' } });
    expect(bad.status).toBe(401);
  });

  it('caps the connections one client address holds open', async () => {
    const first: RawConn[] = [];
    for (let i = 0; i < 8; i++) first.push(await conn());
    const extra = await conn();
    await expect.poll(() => extra.closed(), { timeout: 10_000 }).toBe(true);
    for (const c of first) c.socket.destroy();
    await expect.poll(async () => (await fetch(`${h.url}/health`)).status, { timeout: 10_000 }).toBe(200);
  });

  it('keeps the live event stream open past the request deadline (it is a long response, not a slow request)', async () => {
    const res = await fetch(`${h.url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${HARNESS_ADMIN}` } });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    // wait out several request deadlines, then an event must still arrive on the same stream
    await new Promise((r) => setTimeout(r, 1500));
    await h.events.append({ type: 'test.ping', actor: 'test', subject: 'test:1', data: {} });
    while (!text.includes('event: test.ping')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('event: test.ping');
    await reader.cancel();
  });
});
