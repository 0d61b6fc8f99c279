import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeHttpAgents, http } from '../../../src/checks/kinds/http.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { expiredCert, selfSignedCert } from '../../helpers/certs.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = http as unknown as CheckKind;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** requests to /hang that arrived, and those whose connection the client has since closed */
const hanging = { arrived: 0, closed: 0 };

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const routes: Record<string, Handler> = {
  '/health': (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-build', 'abc123');
    res.end(JSON.stringify({ status: 'healthy', db: { ok: true }, items: [1, 2, 3] }));
  },
  '/text': (_req, res) => res.end('all systems go'),
  '/boom': (_req, res) => {
    res.statusCode = 500;
    res.end('internal error');
  },
  '/created': (_req, res) => {
    res.statusCode = 201;
    res.end('made');
  },
  '/hang': (req) => {
    /* never answers */
    hanging.arrived++;
    req.socket.once('close', () => hanging.closed++);
  },
  '/big': (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    res.setHeader('content-length', String(3 * 1024 * 1024));
    let sent = 0;
    const write = (): void => {
      while (sent < 3 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', write);
          return;
        }
      }
      res.end();
    };
    write();
  },
  '/echo': (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, body, contentType: req.headers['content-type'] ?? null, auth: req.headers.authorization ?? null, token: req.headers['x-token'] ?? null }));
    });
  },
  '/loop': (_req, res) => {
    res.statusCode = 302;
    res.setHeader('location', '/loop');
    res.end();
  },
  '/post-redirect': (_req, res) => {
    res.statusCode = 303;
    res.setHeader('location', '/echo');
    res.end();
  },
};

let server: Server;
let base: string;
let httpsServer: Server;
let httpsBase: string;
let expiredServer: Server;
let expiredBase: string;
let closedPort: number;

beforeAll(async () => {
  server = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const hop = /^\/r\/(\d+)$/.exec(path);
    if (hop) {
      const n = Number(hop[1]);
      res.statusCode = 301;
      res.setHeader('location', n > 1 ? `/r/${n - 1}` : '/health');
      res.end();
      return;
    }
    const handler = routes[path];
    if (handler) handler(req, res);
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  base = `http://127.0.0.1:${await listen(server)}`;

  const cert = selfSignedCert({ days: 30 });
  httpsServer = createHttpsServer(cert, (_req, res) => res.end('secure hello'));
  httpsBase = `https://localhost:${await listen(httpsServer)}`;

  const old = expiredCert();
  expiredServer = createHttpsServer(old, (_req, res) => res.end('old'));
  expiredBase = `https://127.0.0.1:${await listen(expiredServer)}`;

  const tmp = createHttpServer();
  closedPort = await listen(tmp);
  await close(tmp);
});

afterAll(async () => {
  await closeHttpAgents();
  await Promise.all([close(server), close(httpsServer), close(expiredServer)]);
});

describe('http check', () => {
  it('reports status, parsed JSON body, headers and size for a healthy endpoint', async () => {
    const input = { url: `${base}/health` };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.error).toBeUndefined();
    expect(obs.values.status).toBe(200);
    expect(obs.values.body).toEqual({ status: 'healthy', db: { ok: true }, items: [1, 2, 3] });
    expect((obs.values.headers as Record<string, string>)['x-build']).toBe('abc123');
    expect(obs.values.body_size).toBe(JSON.stringify({ status: 'healthy', db: { ok: true }, items: [1, 2, 3] }).length);
    expect(obs.values.redirects).toBe(0);
    expect(obs.values.body_truncated).toBe(false);
    const verdict = judge(kind, input, obs, ['body.status == "healthy"', 'body.db.ok == true', 'len(body.items) == 3', 'latency < 5s']);
    expect(verdict.outcomes.map((o) => o.condition)).toContain('status == 2xx');
    expect(verdict.ok).toBe(true);
    expect(judge(kind, input, obs, ['body.status == "degraded"']).ok).toBe(false);
  });

  it('fails the default status condition on a 500', async () => {
    const input = { url: `${base}/boom` };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values.status).toBe(500);
    expect(obs.values.body).toBe('internal error');
    const verdict = judge(kind, input, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]).toMatchObject({ condition: 'status == 2xx', ok: false, actual: 'status = 500' });
  });

  it('uses expect_status instead of 2xx, and no default when the user writes a status condition', async () => {
    const created = await runKind(kind, { url: `${base}/created` });
    expect(judge(kind, { url: `${base}/created`, expect_status: 201 }, created).ok).toBe(true);
    expect(judge(kind, { url: `${base}/created`, expect_status: [200, 204] }, created).ok).toBe(false);
    expect(judge(kind, { url: `${base}/created`, expect_status: ['2xx', 404] }, created).ok).toBe(true);
    expect(http.impliedConditions(http.spec.parse({ url: base, expect_status: [200, '3xx'] }), [])).toContain('status in [200, 3xx]');

    const boom = await runKind(kind, { url: `${base}/boom` });
    const userWantsError = judge(kind, { url: `${base}/boom` }, boom, ['status == 500']);
    expect(userWantsError.outcomes.map((o) => o.condition)).not.toContain('status == 2xx');
    expect(userWantsError.ok).toBe(true);
    // a condition on body.status is not a condition on the HTTP status
    expect(http.impliedConditions(http.spec.parse({ url: base }), ['body.status == "ok"'])).toContain('status == 2xx');
    expect(http.impliedConditions(http.spec.parse({ url: base }), ['[STATUS] == 503'])).not.toContain('status == 2xx');
  });

  it('follows a redirect chain and reports the final URL and the hop count', async () => {
    const obs = await runKind(kind, { url: `${base}/r/3` });
    expect(obs.ok).toBe(true);
    expect(obs.values.status).toBe(200);
    expect(obs.values.redirects).toBe(3);
    expect(obs.values.url).toBe(`${base}/health`);
    expect((obs.values.body as { status: string }).status).toBe('healthy');
  });

  it('reports the redirect itself when follow_redirects is false', async () => {
    const obs = await runKind(kind, { url: `${base}/r/1`, follow_redirects: false });
    expect(obs.values.status).toBe(301);
    expect((obs.values.headers as Record<string, string>).location).toBe('/health');
    expect(judge(kind, { url: `${base}/r/1`, follow_redirects: false, expect_status: 301 }, obs).ok).toBe(true);
  });

  it('gives up on a redirect loop after 10 hops', async () => {
    const obs = await runKind(kind, { url: `${base}/loop` });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('too many redirects (more than 10)');
  });

  it('checks a keyword in the body', async () => {
    const input = { url: `${base}/text`, keyword: 'systems go' };
    const obs = await runKind(kind, input);
    expect(obs.values.body).toBe('all systems go');
    expect(judge(kind, input, obs).ok).toBe(true);
    const missing = { url: `${base}/text`, keyword: 'on fire' };
    const verdict = judge(kind, missing, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes.find((o) => !o.ok)?.condition).toBe('body contains "on fire"');
    // keywords also match inside JSON bodies
    const json = await runKind(kind, { url: `${base}/health`, keyword: 'healthy' });
    expect(judge(kind, { url: `${base}/health`, keyword: 'healthy' }, json).ok).toBe(true);
  });

  it('turns max_latency into a latency condition', async () => {
    const input = { url: `${base}/text`, max_latency: '2s' };
    expect(http.impliedConditions(http.spec.parse(input), [])).toContain('latency < 2000ms');
    const obs = await runKind(kind, input);
    expect(judge(kind, input, obs).ok).toBe(true);
    expect(judge(kind, input, { ...obs, latencyMs: 2500 }).ok).toBe(false);
  });

  it('sends method, headers, JSON bodies and URL credentials as Basic auth; POST->303 becomes GET', async () => {
    const url = new URL(`${base}/echo`);
    url.username = 'bob';
    url.password = 's3cret';
    const obs = await runKind(kind, { url: url.toString(), method: 'POST', headers: { 'X-Token': 't1' }, body: { hello: 'world' } });
    expect(obs.values.body).toEqual({
      method: 'POST',
      body: '{"hello":"world"}',
      contentType: 'application/json',
      auth: `Basic ${Buffer.from('bob:s3cret').toString('base64')}`,
      token: 't1',
    });
    expect(JSON.stringify(obs.values.url)).not.toContain('s3cret');
    const redirected = await runKind(kind, { url: `${base}/post-redirect`, method: 'POST', body: 'x=1' });
    expect(redirected.values.body).toMatchObject({ method: 'GET', body: '' });
  });

  it('caps the body read at 1 MB and says so', async () => {
    const obs = await runKind(kind, { url: `${base}/big` });
    expect(obs.ok).toBe(true);
    expect(obs.values.body_truncated).toBe(true);
    expect((obs.values.body as string).length).toBe(1024 * 1024);
    expect(obs.values.body_size).toBe(3 * 1024 * 1024);
  });

  it('times out on a server that never answers', async () => {
    const before = { ...hanging };
    const obs = await runKind(kind, { url: `${base}/hang` }, { timeoutMs: 300 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('timed out after 300ms');
    expect(judge(kind, { url: `${base}/hang` }, obs).ok).toBe(false);
    // the request reached the server and the timed-out check hung up instead of leaving it open
    await expect.poll(() => hanging.arrived, { timeout: 5000, interval: 10 }).toBe(before.arrived + 1);
    await expect.poll(() => hanging.closed, { timeout: 5000, interval: 20 }).toBe(before.closed + 1);
  });

  it('honours the abort signal even without its own timeout firing', async () => {
    const controller = new AbortController();
    // the check's own timeout (1h) is far beyond the test timeout: only the abort can end this run
    const spec = { ...http.spec.parse({ url: `${base}/hang` }), every: 3_600_000, timeout: 3_600_000 };
    const before = { ...hanging };
    const pending = http.run(spec, { signal: controller.signal, timeoutMs: 3_600_000, now: Date.now, heartbeats: { lastPing: () => undefined, watchingSince: () => 0 } });
    // abort once the request is in flight at the server
    await expect.poll(() => hanging.arrived, { timeout: 5000, interval: 10 }).toBe(before.arrived + 1);
    controller.abort(new DOMException('timeout', 'TimeoutError'));
    const obs = await pending;
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('timed out after 1h');
    await expect.poll(() => hanging.closed, { timeout: 5000, interval: 20 }).toBe(before.closed + 1);
  });

  it('reports connection refused with the address', async () => {
    const obs = await runKind(kind, { url: `http://127.0.0.1:${closedPort}/` });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(`connection refused (127.0.0.1:${closedPort})`);
  });

  it('reports a DNS failure for an unknown host', async () => {
    const obs = await runKind(kind, { url: 'http://nope.invalid/' });
    expect(obs.ok).toBe(false);
    expect(obs.error).toMatch(/^DNS lookup failed for nope\.invalid \((ENOTFOUND|EAI_AGAIN)\)$/);
  });

  it('reports cert.days for https with insecure, and a TLS error without it', async () => {
    const input = { url: `${httpsBase}/`, insecure: true, cert_min_days: 7 };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values.body).toBe('secure hello');
    const cert = obs.values.cert as { days: number; expires_at: string };
    expect(cert.days).toBeGreaterThan(29);
    expect(cert.days).toBeLessThanOrEqual(30);
    expect(Date.parse(cert.expires_at)).toBeGreaterThan(Date.now());
    expect(judge(kind, input, obs).ok).toBe(true);
    expect(judge(kind, { ...input, cert_min_days: 60 }, obs).ok).toBe(false);

    const strict = await runKind(kind, { url: `${httpsBase}/` });
    expect(strict.ok).toBe(false);
    expect(strict.error).toBe('TLS error: self-signed certificate');
  });

  it('reports an expired certificate', async () => {
    const strict = await runKind(kind, { url: `${expiredBase}/` });
    expect(strict.ok).toBe(false);
    expect(strict.error).toBe('TLS error: certificate has expired');
    const input = { url: `${expiredBase}/`, insecure: true, cert_min_days: 1 };
    const loose = await runKind(kind, input);
    expect(loose.ok).toBe(true);
    expect((loose.values.cert as { days: number }).days).toBeLessThan(0);
    expect(judge(kind, input, loose).ok).toBe(false);
  });

  it('describes the target without credentials or secret query values', () => {
    const d = http.describe(http.spec.parse({ url: 'https://admin:hunter2@example.com/api/health?token=abc123&region=eu' }));
    expect(d).toBe('GET https://example.com/api/health?token=***&region=eu');
    expect(http.describe(http.spec.parse({ url: 'http://example.com/', method: 'POST' }))).toBe('POST http://example.com/');
  });

  it('rejects bad specs with a message', () => {
    expect(http.spec.safeParse({ url: 'ftp://x' }).success).toBe(false);
    expect(http.spec.safeParse({ url: 'http://x', bogus: 1 }).success).toBe(false);
    expect(http.spec.safeParse({ url: 'http://x', expect_status: '2xy' }).success).toBe(false);
    expect(http.spec.safeParse({ url: 'http://x', max_latency: 'fast' }).success).toBe(false);
  });
});
