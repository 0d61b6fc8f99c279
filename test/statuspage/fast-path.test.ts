/**
 * The status page's answers before routing (core/http/fast-path): once a page is rendered, later
 * requests for it are answered without the router, with exactly the status, headers and bytes the
 * route sends; anything the fast path cannot judge alike goes to the route.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipshape, type Running } from '../../src/app.js';
import { ADMIN } from '../helpers/server.js';

const CONFIG = `
services:
  web: {}
  db: {}
status_pages:
  public:
    title: Acme status
    components:
      - { name: Website, service: web }
      - { name: Database, service: db }
  internal:
    private: true
    path: /status/internal
`;

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One raw HTTP request (node:http, so the headers are exactly what was sent). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((done, fail) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** One request written byte for byte on a socket (header names and repeats as given); the raw answer's head. */
function rawGet(lines: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const port = Number(/Host: [^:]+:(\d+)/i.exec(lines.join('\n'))?.[1]);
    const sock = connect(port, '127.0.0.1', () => sock.write(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`));
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
    sock.on('end', () => done(got.split('\r\n\r\n')[0] ?? ''));
    sock.on('error', fail);
  });
}

/** A response without the header that differs between any two answers (the clock). */
const comparable = (g: Got) => {
  const { date: _date, ...headers } = g.headers;
  return { status: g.status, headers, body: g.body.toString('base64') };
};

describe('status page answers before routing', () => {
  let s: Running;
  let dir: string;
  /** requests that reached the router (a hook the test adds) */
  const routed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-fast-'));
    writeFileSync(join(dir, 'shipshape.yaml'), CONFIG);
    s = await startShipshape({
      configPath: join(dir, 'shipshape.yaml'),
      dataDir: join(dir, 'data'),
      port: 0,
      watchConfig: false,
      logger: pino({ level: 'silent' }),
      adminToken: ADMIN,
      server: {
        extend: (app) =>
          app.addHook('onRequest', (req, _reply, done) => {
            routed.push(`${req.method} ${req.url}`);
            done();
          }),
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a rendered page, feed or API document with the bytes and headers the route sends, for every encoding, HEAD and a revalidation', async () => {
    for (const path of ['/status', '/status/api/v2/summary.json', '/api/v2/components.json', '/api/v2/incidents/unresolved.json', '/status/api/v2/scheduled-maintenances/upcoming.json', '/history.atom']) {
      routed.length = 0;
      const first = await get(`${s.url}${path}`, { 'accept-encoding': 'br, gzip' });
      expect(first.status, path).toBe(200);
      expect(routed, `${path}: the first request renders through the route`).toEqual([`GET ${path}`]);
      for (const enc of ['br, gzip', 'gzip', 'br', '']) {
        const headers: Record<string, string> = enc ? { 'accept-encoding': enc } : {};
        routed.length = 0;
        const fast = await get(`${s.url}${path}`, headers);
        // a query string always goes to the route, and does not change the answer
        const viaRoute = await get(`${s.url}${path}?via=route`, headers);
        expect(routed, `${path} (${enc}): only the request with a query string was routed`).toEqual([`GET ${path}?via=route`]);
        expect(comparable(fast), `${path} (${enc})`).toEqual(comparable(viaRoute));
        expect(fast.headers).toMatchObject({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', etag: first.headers.etag, 'content-length': String(fast.body.length) });
        if (path === '/status') expect(fast.headers['content-encoding']).toBe(enc ? enc.split(',')[0] : undefined); // (small documents go uncompressed)

        // HEAD: the same headers, no body
        const head = await get(`${s.url}${path}`, headers, 'HEAD');
        const headRouted = await get(`${s.url}${path}?via=route`, headers, 'HEAD');
        expect(head.body.length).toBe(0);
        expect(comparable(head)).toEqual(comparable(headRouted));

        // a revalidation: 304 with the validators and no body, as the route answers it
        const revalidate = { ...headers, 'if-none-match': String(first.headers.etag) };
        const fast304 = await get(`${s.url}${path}`, revalidate);
        expect(fast304.status).toBe(304);
        expect(fast304.body.length).toBe(0);
        expect(comparable(fast304)).toEqual(comparable(await get(`${s.url}${path}?via=route`, revalidate)));
        expect(routed.filter((r) => !r.endsWith('?via=route'))).toEqual([]);
      }
    }
    expect((await get(`${s.url}/status`)).body.toString()).toContain('Acme status');
  });

  it('leaves to the route what it cannot judge alike: forwarded headers, a body, a private page, another path', async () => {
    await get(`${s.url}/status`); // rendered
    routed.length = 0;
    // a proxy's X-Forwarded-Proto changes the links in the page (the route decides whether to trust it)
    await get(`${s.url}/status`, { 'x-forwarded-proto': 'https' });
    await get(`${s.url}/status/`);
    await get(`${s.url}/status/history`);
    expect(routed).toEqual(['GET /status', 'GET /status/', 'GET /status/history']);

    // headers are read from the raw list: any case is the same header; a repeated one goes to the route
    routed.length = 0;
    const upper = await rawGet(['GET /status HTTP/1.1', `HOST: ${new URL(s.url).host}`, 'ACCEPT-ENCODING: gzip']);
    expect(upper).toMatch(/^HTTP\/1\.1 200/);
    expect(upper).toMatch(/\r\ncontent-encoding: gzip\r\n/i);
    expect(routed).toEqual([]);
    await rawGet(['GET /status HTTP/1.1', `Host: ${new URL(s.url).host}`, 'Accept-Encoding: gzip', 'Accept-Encoding: br']);
    await rawGet(['GET /status HTTP/1.1', `Host: ${new URL(s.url).host}`, 'X-Forwarded-Host: status.example.com']);
    await rawGet(['GET /status HTTP/1.1', `Host: ${new URL(s.url).host}`, 'If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT', 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT']);
    expect(routed).toEqual(['GET /status', 'GET /status', 'GET /status']);

    const denied = await get(`${s.url}/status/internal`);
    expect(denied.status).toBe(401);
    const allowed = await get(`${s.url}/status/internal`, { authorization: `Bearer ${ADMIN}` });
    expect(allowed.status).toBe(200);
    expect(allowed.body.toString()).toContain('internal status');
    const again = await get(`${s.url}/status/internal`);
    expect(again.status).toBe(401); // a private page is never answered from what a reader saw

    routed.length = 0;
    const withBody = await new Promise<number>((done, fail) => {
      const req = request(`${s.url}/status`, { method: 'GET', headers: { 'content-length': '2' } }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      });
      req.on('error', fail);
      req.end('{}');
    });
    expect(withBody).toBe(200);
    expect(routed).toEqual(['GET /status']);
  });
});
