import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tls } from '../../../src/checks/kinds/tls.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { expiredCert, selfSignedCert } from '../../helpers/certs.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = tls as unknown as CheckKind;
let fresh: Server;
let freshPort: number;
let shortLived: Server;
let shortPort: number;
let expired: Server;
let expiredPort: number;

async function serve(opts: { key: string; cert: string }): Promise<[Server, number]> {
  const s = createServer(opts, (socket) => socket.end());
  s.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return [s, (s.address() as AddressInfo).port];
}

beforeAll(async () => {
  [fresh, freshPort] = await serve(selfSignedCert({ days: 90, cn: 'localhost' }));
  [shortLived, shortPort] = await serve(selfSignedCert({ days: 1 }));
  [expired, expiredPort] = await serve(expiredCert());
});

afterAll(async () => {
  for (const s of [fresh, shortLived, expired]) await new Promise<void>((resolve) => s.close(() => resolve()));
});

describe('tls check', () => {
  it('reports days left, issuer, subject and a host name match for localhost', async () => {
    const input = { host: 'localhost', port: freshPort, allow_self_signed: true };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    const cert = obs.values.cert as Record<string, unknown>;
    expect(cert.days).toBeGreaterThan(89);
    expect(cert.days).toBeLessThanOrEqual(90);
    expect(Date.parse(cert.expires_at as string)).toBeGreaterThan(Date.now() + 89 * 86_400_000);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.issuer).toBe('CN=localhost');
    expect(cert.authorized).toBe(false);
    expect(cert.authorization_error).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(obs.values.hostname_match).toBe(true);
    // allow_self_signed drops the chain condition; days and host name still judged
    const verdict = judge(kind, input, obs);
    expect(verdict.outcomes.map((o) => o.condition)).toEqual(['cert.days > 14', 'hostname_match == true']);
    expect(verdict.ok).toBe(true);
    // without allow_self_signed the untrusted chain fails the check
    const strict = judge(kind, { host: 'localhost', port: freshPort }, obs);
    expect(strict.ok).toBe(false);
    expect(strict.outcomes.find((o) => !o.ok)?.condition).toBe('cert.authorized == true');
  });

  it('reports a host name mismatch for another name', async () => {
    const obs = await runKind(kind, { host: '127.0.0.1', port: freshPort, servername: 'shop.example.com' });
    expect(obs.ok).toBe(true);
    expect(obs.values.hostname_match).toBe(false);
    expect(judge(kind, { host: '127.0.0.1', port: freshPort, servername: 'shop.example.com', allow_self_signed: true }, obs).ok).toBe(false);
  });

  it('judges days left against min_days', async () => {
    const input = { host: 'localhost', port: shortPort, allow_self_signed: true };
    const obs = await runKind(kind, input);
    const days = (obs.values.cert as { days: number }).days;
    expect(days).toBeLessThan(2);
    expect(days).toBeGreaterThan(0);
    const verdict = judge(kind, input, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]).toMatchObject({ condition: 'cert.days > 14', ok: false });
    expect(judge(kind, { ...input, min_days: 0.5 }, obs).ok).toBe(true);
    // a user's own cert.days condition replaces the default 14
    expect(judge(kind, input, obs, ['cert.days > 0.5']).ok).toBe(true);
  });

  it('reports an expired certificate with negative days', async () => {
    const input = { host: 'localhost', port: expiredPort };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    const cert = obs.values.cert as Record<string, unknown>;
    expect(cert.days).toBeLessThan(0);
    expect(cert.expires_at).toBe('2020-02-01T00:00:00.000Z');
    expect(cert.authorized).toBe(false);
    expect(judge(kind, input, obs).ok).toBe(false);
  });

  it('fails with a clear error when nothing listens or the server does not speak TLS', async () => {
    const refused = await runKind(kind, { host: '127.0.0.1', port: 1 });
    expect(refused.ok).toBe(false);
    expect(refused.error).toBe('connection refused (127.0.0.1:1)');

    const { createServer: createHttp } = await import('node:http');
    const httpServer = createHttp((_req, res) => res.end('plain'));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const port = (httpServer.address() as AddressInfo).port;
    const obs = await runKind(kind, { host: '127.0.0.1', port });
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    expect(obs.ok).toBe(false);
    expect(obs.error).toMatch(/^TLS error: /);
  });

  it('times out when the server accepts but never handshakes', async () => {
    const { createServer: createTcp } = await import('node:net');
    let accepted = 0;
    const silent = createTcp((socket) => {
      accepted++;
      socket.on('error', () => undefined).resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const obs = await runKind(kind, { host: '127.0.0.1', port }, { timeoutMs: 300 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('timed out after 300ms');
    // the check did connect, and hung up when it timed out instead of leaving the socket open
    expect(accepted).toBe(1);
    const open = () => new Promise<number>((resolve) => silent.getConnections((_e, n) => resolve(n)));
    await expect.poll(open, { timeout: 5000, interval: 20 }).toBe(0);
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('describes the target', () => {
    expect(tls.describe(tls.spec.parse({ host: 'example.com' }))).toBe('tls example.com:443');
    expect(tls.describe(tls.spec.parse({ host: '10.0.0.1', port: 8443, servername: 'api.example.com' }))).toBe('tls 10.0.0.1:8443 (api.example.com)');
  });
});
