/** GET /api/v1/websec/headers on a running Shipshape: the grade of each configured `headers` check, cached, read scope. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { site, type Site } from './sites.js';

let good: Site;
let bare: Site;
let srv: TestServer;
let hits = 0;

beforeAll(async () => {
  good = await site((_p, _q, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }).end('<p>ok</p>');
  }, { tls: false });
  bare = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'), { tls: false });
  srv = await startTestServer(`services:
  web:
    checks:
      - name: sec
        headers: { url: "http://127.0.0.1:${good.port}/", min_grade: C, every: 1h }
  old:
    checks:
      - headers: { url: "http://127.0.0.1:${bare.port}/", every: 1h }
`);
}, 60_000);

afterAll(async () => {
  await srv?.close();
  await Promise.all([good.close(), bare.close()]);
});

describe('GET /api/v1/websec/headers', () => {
  it('grades each headers check with its tests and fixes, and needs a token', async () => {
    expect((await srv.api('/api/v1/websec/headers', { token: null })).status).toBe(401);
    const res = await srv.api('/api/v1/websec/headers');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { service: string; check: string | null; ok: boolean; min_grade: string; report: { grade: string; score: number; tests: { name: string; result: string; fix: string }[] } | null; error: string | null }[] };
    expect(items.map((i) => [i.service, i.check, i.min_grade, i.report?.grade, i.report?.score, i.ok])).toEqual([
      ['web', 'sec', 'C', 'C+', 60, true],
      ['old', null, 'B', 'F', 10, false],
    ]);
    expect(items[1]?.report?.tests.find((t) => t.name === 'content-security-policy')).toMatchObject({ result: 'csp-not-implemented' });
    expect(items[1]?.report?.tests.find((t) => t.name === 'content-security-policy')?.fix).toMatch(/Content-Security-Policy/);
  });

  it('answers from its cache until asked to refresh', async () => {
    const before = hits;
    await srv.api('/api/v1/websec/headers');
    expect(hits).toBe(before);
    await srv.api('/api/v1/websec/headers?refresh=true');
    expect(hits).toBeGreaterThan(before);
    expect((await srv.api('/api/v1/websec/headers?refresh=yes')).status).toBe(400);
  });
});
