/**
 * The Sentry ingest endpoints at the byte level: envelope items with and without `length`,
 * gzip/deflate/br and chunked bodies, the three ways a key is presented, and every refusal a
 * client can see (401, 400 with the reason, 413, 429 with Retry-After), plus `/store/` and CORS.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from '../../src/core/api-types.js';
import type { IssueDetail, IssueSummary } from '../../src/errors/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { envelope, eventId, exceptionEvent, messageEvent } from './envelopes.js';

const KEY = 'ingestkey_0123456789';

describe('Sentry ingest endpoints', () => {
  let s: TestServer;
  let port: string;

  beforeAll(async () => {
    s = await startTestServer(`ingest:
  tokens: ["${KEY}"]
  max_body: 64KB
services:
  web:
    sentry: { project: 1 }
`);
    port = new URL(s.url).port;
  });
  afterAll(async () => {
    await s.close();
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${s.url}${path}`, { method: 'POST', body: body as RequestInit['body'], headers: { 'content-type': 'application/x-sentry-envelope', ...headers } });
  const auth = `?sentry_key=${KEY}&sentry_version=7`;
  const issueOf = async (title: string) => {
    const page = (await (await s.api('/api/v1/issues?limit=200')).json()) as Page<IssueSummary>;
    return page.items.find((i) => i.title === title);
  };

  it('keeps event items from envelopes whose items have a length or run to the newline, and drops the rest', async () => {
    const ev = exceptionEvent('Error', 'with and without length', [{ fn: 'handler' }]);
    const attachment = Buffer.from('binary\nwith\nnewlines\n\u0000');
    const body = envelope({ event_id: ev.event_id, sent_at: new Date().toISOString() }, [
      [{ type: 'session' }, JSON.stringify({ sid: eventId(), status: 'ok' })],
      [{ type: 'attachment', length: attachment.length, filename: 'dump.bin' }, attachment],
      [{ type: 'event', length: Buffer.byteLength(JSON.stringify(ev)) }, JSON.stringify(ev)],
      [{ type: 'client_report' }, JSON.stringify({ discarded_events: [] })],
      [{ type: 'transaction' }, JSON.stringify({ type: 'transaction', spans: [] })],
    ]);
    const res = await post(`/api/1/envelope/${auth}`, Buffer.concat([body, Buffer.from('\n')]));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: ev.event_id });
    const issue = await issueOf('Error: with and without length');
    expect(issue).toMatchObject({ service: 'web', count: 1 });

    // the same event in an item without length, the last item without a trailing newline
    const ev2 = { ...exceptionEvent('Error', 'with and without length', [{ fn: 'handler' }]) };
    const res2 = await post(`/api/1/envelope${auth}`, envelope({}, [[{ type: 'event' }, JSON.stringify(ev2)]]));
    expect(res2.status).toBe(200);
    expect((await issueOf('Error: with and without length'))?.count).toBe(2);
  });

  it('authenticates by ?sentry_key, by X-Sentry-Auth and by the envelope header dsn', async () => {
    const send = async (how: 'query' | 'header' | 'dsn', key: string) => {
      const ev = messageEvent(`auth by ${how}`);
      const head = how === 'dsn' ? { dsn: `http://${key}@127.0.0.1:${port}/1` } : {};
      const body = envelope(head, [[{ type: 'event' }, JSON.stringify(ev)]]);
      const path = how === 'query' ? `/api/1/envelope/?sentry_key=${key}&sentry_version=7` : '/api/1/envelope/';
      const headers: Record<string, string> = how === 'header' ? { 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=raw/1.0, sentry_key=${key}` } : {};
      return post(path, body, headers);
    };
    for (const how of ['query', 'header', 'dsn'] as const) {
      const ok = await send(how, KEY);
      expect(ok.status, how).toBe(200);
      expect(await issueOf(`auth by ${how}`), how).toBeDefined();
      const bad = await send(how, 'wrongkey');
      expect(bad.status, how).toBe(401);
      expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    }
    const none = await post('/api/1/envelope/', envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('no key'))]]));
    expect(none.status).toBe(401);
    expect(((await none.json()) as { detail: string }).detail).toMatch(/ingest token/);
    expect(await issueOf('no key')).toBeUndefined();
  });

  it('accepts gzip, deflate (zlib and raw) and br bodies', async () => {
    const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
    for (const [enc, fn] of Object.entries(encoders)) {
      const res = await post(`/api/1/envelope/${auth}`, fn(envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent(`compressed ${enc}`))]])), { 'content-encoding': enc });
      expect(res.status, enc).toBe(200);
      expect(await issueOf(`compressed ${enc}`), enc).toBeDefined();
    }
    const raw = await post(`/api/1/envelope/${auth}`, deflateRawSync(envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('compressed raw deflate'))]])), { 'content-encoding': 'deflate' });
    expect(raw.status).toBe(200);
    expect(await issueOf('compressed raw deflate')).toBeDefined();

    const broken = await post(`/api/1/envelope/${auth}`, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { detail: string }).detail).toMatch(/not valid gzip/);
  });

  it('reads chunked bodies (no content-length), gzip-compressed on the fly like the Node SDK', async () => {
    const body = gzipSync(envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('chunked and gzipped'))]]));
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${s.url}/api/1/envelope/${auth}`, { method: 'POST', headers: { 'content-encoding': 'gzip' } }, (res) => {
        res.resume();
        resolve(res.statusCode as number);
      });
      req.on('error', reject);
      // several small writes, sent with transfer-encoding: chunked
      Readable.from([body.subarray(0, 10), body.subarray(10, 30), body.subarray(30)]).pipe(req);
    });
    expect(status).toBe(200);
    expect(await issueOf('chunked and gzipped')).toBeDefined();
  });

  it('answers 400 with the reason for malformed envelopes, and keeps serving', async () => {
    const cases: [string, Buffer | string, RegExp][] = [
      ['empty body', '', /empty/],
      ['header not JSON', '{"event_id":\n', /envelope header \(line 1\) is not valid JSON/],
      ['item header not an object', '{}\n[1,2]\n{}', /header of item 1.*JSON object/],
      ['item without type', '{}\n{"length":2}\n{}', /item 1.*no "type"/],
      ['length past the end', '{}\n{"type":"event","length":500}\n{"message":"x"}', /item 1 \(event\) declares length 500 but only 15 bytes follow/],
      ['no newline after a length', '{}\n{"type":"attachment","length":2}\nabcdef', /expected a newline after its 2-byte payload/],
      ['bad length', '{}\n{"type":"event","length":-3}\n{}', /"length" must be a non-negative integer/],
      ['event not JSON', '{}\n{"type":"session"}\n{}\n{"type":"event"}\n{"message": oops}', /item 2 \(event\) is not valid JSON/],
      ['event not an object', '{}\n{"type":"event"}\n"just a string"', /item 1 \(event\) must be a JSON object/],
    ];
    for (const [name, body, reason] of cases) {
      const res = await post(`/api/1/envelope/${auth}`, Buffer.from(body));
      expect(res.status, name).toBe(400);
      const p = (await res.json()) as { detail: string; status: number };
      expect(p.detail, name).toMatch(reason);
    }
    const bad = await post(`/api/web/envelope/${auth}`, envelope({}, []));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/not a project id/);
    // still up
    const ok = await post(`/api/1/envelope/${auth}`, envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('after the bad ones'))]]));
    expect(ok.status).toBe(200);
  });

  it('refuses bodies over ingest.max_body with 413, also when they only grow that big decompressed', async () => {
    const big = JSON.stringify(messageEvent('too big', { extra: { blob: 'x'.repeat(70 * 1024) } }));
    let res = await post(`/api/1/envelope/${auth}`, envelope({}, [[{ type: 'event' }, big]]));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/larger than ingest.max_body \(65536 bytes\)/);
    const bomb = gzipSync(envelope({}, [[{ type: 'event' }, big]]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    res = await post(`/api/1/envelope/${auth}`, bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(await issueOf('too big')).toBeUndefined();
  });

  it('takes a JSON event on /store/ (and a base64-deflated one from old clients), with X-Sentry-Auth', async () => {
    const ev = exceptionEvent('ValueError', 'from the store endpoint', [{ fn: 'legacy' }]);
    const headers = { 'content-type': 'application/json', 'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${KEY}` };
    let res = await post('/api/1/store/', JSON.stringify(ev), headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: ev.event_id });
    const legacy = { ...ev, event_id: eventId() };
    res = await post('/api/1/store', deflateSync(JSON.stringify(legacy)).toString('base64'), headers);
    expect(res.status).toBe(200);
    expect((await issueOf('ValueError: from the store endpoint'))?.count).toBe(2);
    res = await post('/api/1/store/', '{"nope"', headers);
    expect(res.status).toBe(400);
    res = await post('/api/1/store/', JSON.stringify(ev), { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
  });

  it('does not count an event twice when an SDK retries it', async () => {
    const ev = exceptionEvent('Error', 'retried', [{ fn: 'retry' }]);
    for (let i = 0; i < 3; i++) expect((await post(`/api/1/envelope/${auth}`, envelope({ event_id: ev.event_id }, [[{ type: 'event' }, JSON.stringify(ev)]]))).status).toBe(200);
    expect((await issueOf('Error: retried'))?.count).toBe(1);
  });

  it('lets browser SDKs post from any origin (preflight and text/plain), only on the ingest routes', async () => {
    const pre = await fetch(`${s.url}/api/1/envelope/?sentry_key=${KEY}`, { method: 'OPTIONS', headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/content-type/);

    const ev = exceptionEvent('TypeError', "Cannot read properties of undefined (reading 'price')", [{ fn: 'renderCart', file: 'https://shop.example.com/assets/index-Bx3f9aQ1.js' }], { platform: 'javascript' });
    const res = await post(`/api/1/envelope/?sentry_key=${KEY}&sentry_version=7&sentry_client=sentry.javascript.browser%2F10.0.0`, envelope({ event_id: ev.event_id }, [[{ type: 'event' }, JSON.stringify(ev)]]), { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://shop.example.com' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const denied = await post('/api/1/envelope/?sentry_key=nope', envelope({}, []), { origin: 'https://shop.example.com' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('*'); // so the browser SDK can read the refusal

    const api = await s.api('/api/v1/issues', { headers: { origin: 'https://evil.example.com' } });
    expect(api.headers.get('access-control-allow-origin')).toBeNull();
    const apiPre = await fetch(`${s.url}/api/v1/issues`, { method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' } });
    expect(apiPre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps events of a project no service claims, labelled by the project', async () => {
    const res = await post(`/api/77/envelope/${auth}`, envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('from an unmapped project'))]]));
    expect(res.status).toBe(200);
    const page = (await (await s.api('/api/v1/issues?project=77')).json()) as Page<IssueSummary>;
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ service: null, project: 77, title: 'from an unmapped project', level: 'warning' });
    const web = (await (await s.api('/api/v1/issues?service=web&limit=200')).json()) as Page<IssueSummary>;
    expect(web.items.some((i) => i.project === 77)).toBe(false);
    const unknown = await s.api('/api/v1/issues?service=nope');
    expect(unknown.status).toBe(404);
  });

  it('never returns secrets sent in events (auth headers, cookies, password fields)', async () => {
    const ev = exceptionEvent('Error', 'with secrets', [{ fn: 'login' }], {
      request: { url: 'https://shop.example.com/login?next=/&token=abc123secret', method: 'POST', headers: { Authorization: 'Bearer abc123secret', Cookie: 'sid=abc123secret', 'User-Agent': 'curl' }, cookies: { sid: 'abc123secret' }, data: { user: 'ada', password: 'abc123secret' } },
      extra: { api_key: 'abc123secret', note: 'fine' },
      user: { id: '7', email: 'ada@example.com' },
    });
    expect((await post(`/api/1/envelope/${auth}`, envelope({}, [[{ type: 'event' }, JSON.stringify(ev)]]))).status).toBe(200);
    const issue = (await issueOf('Error: with secrets')) as IssueSummary;
    const text = await (await s.api(`/api/v1/issues/${issue.id}`)).text();
    expect(text).not.toContain('abc123secret');
    const detail = JSON.parse(text) as IssueDetail;
    expect(detail.latest_event?.request).toMatchObject({ method: 'POST', headers: { 'User-Agent': 'curl', Authorization: '[Filtered]' }, data: { user: 'ada', password: '[Filtered]' } });
    expect(detail.latest_event?.extra).toEqual({ api_key: '[Filtered]', note: 'fine' });
    expect(detail.latest_event?.user).toEqual({ id: '7', email: 'ada@example.com' });
  });
});

describe('Sentry ingest quota', () => {
  it('answers 429 with Retry-After past the per-token budget', async () => {
    const s = await startTestServer(`ingest:
  tokens: ["${KEY}"]
  rate_limit: { requests: 2, per: 1m }
`);
    try {
      const body = envelope({}, [[{ type: 'event' }, JSON.stringify(messageEvent('quota'))]]);
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 3; i++) {
        last = await fetch(`${s.url}/api/1/envelope/?sentry_key=${KEY}`, { method: 'POST', body });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
