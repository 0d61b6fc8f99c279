/** The egress policy applied by the check kinds: refused targets fail with the reason, and nothing reaches them. */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net, { createServer, type AddressInfo, type Server } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dns } from '../../src/checks/kinds/dns.js';
import { closeHttpAgents, http } from '../../src/checks/kinds/http.js';
import { postgres } from '../../src/checks/kinds/postgres.js';
import { redis } from '../../src/checks/kinds/redis.js';
import { tcp } from '../../src/checks/kinds/tcp.js';
import { tls as tlsKind } from '../../src/checks/kinds/tls.js';
import type { CheckKind } from '../../src/checks/types.js';
import { setEgressPolicy } from '../../src/core/egress.js';
import { runKind } from '../helpers/run-kind.js';
import { startTarget, type Target } from '../helpers/target.js';

const PG_URL = process.env.SHIPSHAPE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.SHIPSHAPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const METADATA_DENIED = 'egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)';
const k = (kind: unknown) => kind as CheckKind;

let target: Target;
/** a TCP listener that counts the connections it accepts */
let counter: Server;
let counterPort: number;
let accepted = 0;

beforeAll(async () => {
  target = await startTarget();
  counter = createServer((s) => {
    accepted++;
    s.on('error', () => undefined).destroy();
  });
  await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
  counterPort = (counter.address() as AddressInfo).port;
});

afterEach(async () => {
  vi.restoreAllMocks();
  setEgressPolicy(undefined);
  await closeHttpAgents();
});

afterAll(async () => {
  await target.close();
  await new Promise<void>((resolve) => counter.close(() => resolve()));
});

/** Postgres / Redis URLs with the host swapped for `host`. */
function withHost(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.toString();
}

describe('egress policy in the checks', () => {
  it('an http check to the metadata address is denied with the reason, without opening a socket', async () => {
    const netConnect = vi.spyOn(net, 'connect');
    const tlsConnect = vi.spyOn(tls, 'connect');
    const obs = await runKind(k(http), { url: 'http://169.254.169.254/latest/meta-data/' }, { timeoutMs: 2000 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe(METADATA_DENIED);
    expect(netConnect).not.toHaveBeenCalled();
    expect(tlsConnect).not.toHaveBeenCalled();
    const https = await runKind(k(http), { url: 'https://[::ffff:169.254.169.254]:8443/' }, { timeoutMs: 2000 });
    expect(https.error).toBe(METADATA_DENIED);
    expect(tlsConnect).not.toHaveBeenCalled();
  });

  it('tcp, tls and dns (its server) checks to the metadata address are denied too', async () => {
    expect((await runKind(k(tcp), { host: '169.254.169.254', port: 80 }, { timeoutMs: 2000 })).error).toBe(METADATA_DENIED);
    expect((await runKind(k(tlsKind), { host: '169.254.169.254', port: 443 }, { timeoutMs: 2000 })).error).toBe(METADATA_DENIED);
    expect((await runKind(k(dns), { name: 'example.com', server: '169.254.169.254' }, { timeoutMs: 2000 })).error).toBe(METADATA_DENIED);
    expect((await runKind(k(tcp), { host: 'metadata.google.internal', port: 80 }, { timeoutMs: 2000 })).error).toBe('egress denied: metadata.google.internal is in egress.deny');
  });

  it('checks the address a name resolves to: localhost is refused when loopback is denied', async () => {
    setEgressPolicy({ deny: ['link-local', 'metadata', 'loopback'] });
    const resolvedDenied = /^egress denied: localhost \((127\.0\.0\.1|::1)\) is in (127\.0\.0\.0\/8|::1) \(egress\.deny\)$/;
    const hits = target.hits();
    const n = accepted;
    const obs = await runKind(k(http), { url: `http://localhost:${target.port}/` });
    expect(obs.error).toMatch(resolvedDenied);
    expect((await runKind(k(tcp), { host: 'localhost', port: counterPort })).error).toMatch(resolvedDenied);
    expect((await runKind(k(tlsKind), { host: 'localhost', port: counterPort })).error).toMatch(resolvedDenied);
    expect((await runKind(k(postgres), { url: withHost(PG_URL, 'localhost') })).error).toMatch(resolvedDenied);
    expect((await runKind(k(redis), { url: withHost(REDIS_URL, 'localhost') })).error).toMatch(resolvedDenied);
    expect(target.hits()).toBe(hits);
    expect(accepted).toBe(n);
  });

  it('an allow list without loopback denies http, tcp, postgres and redis checks to 127.0.0.1; the default policy allows them', async () => {
    const targets = {
      http: () => runKind(k(http), { url: `${target.url}/` }),
      tcp: () => runKind(k(tcp), { host: '127.0.0.1', port: counterPort }),
      postgres: () => runKind(k(postgres), { url: withHost(PG_URL, '127.0.0.1') }),
      redis: () => runKind(k(redis), { url: withHost(REDIS_URL, '127.0.0.1') }),
      // a postgres client pointed at the counting listener: proves no connection is made
      postgresCounted: () => runKind(k(postgres), { url: `postgres://u:secret@127.0.0.1:${counterPort}/db` }, { timeoutMs: 2000 }),
    };
    setEgressPolicy({ allow: ['10.0.0.0/8', 'db.internal'] });
    const hits = target.hits();
    const n = accepted;
    for (const [name, run] of Object.entries(targets)) {
      const obs = await run();
      expect({ name, error: obs.error }).toEqual({ name, error: 'egress denied: 127.0.0.1 is not in egress.allow' });
    }
    expect(target.hits()).toBe(hits);
    expect(accepted).toBe(n);

    setEgressPolicy(undefined); // the built-in default: loopback is allowed
    for (const name of ['http', 'tcp', 'postgres', 'redis'] as const) {
      const obs = await targets[name]();
      expect({ name, ok: obs.ok, error: obs.error }).toEqual({ name, ok: true, error: undefined });
    }
    expect(target.hits()).toBe(hits + 1);
  });

  it('a redirect to a denied address is refused and never requested', async () => {
    // the redirect target listens on 127.0.0.2 (loopback, so reachable) which the policy denies
    let deniedHits = 0;
    const denied: HttpServer = createHttpServer((_req, res) => {
      deniedHits++;
      res.end('secret');
    });
    await new Promise<void>((resolve) => denied.listen(0, '127.0.0.2', resolve));
    const deniedPort = (denied.address() as AddressInfo).port;
    let next = '';
    const redirector: HttpServer = createHttpServer((_req, res) => {
      res.writeHead(302, { location: next });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const from = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/`;
    try {
      setEgressPolicy({ deny: ['link-local', 'metadata', '127.0.0.2'] });
      next = `http://127.0.0.2:${deniedPort}/`;
      expect((await runKind(k(http), { url: from })).error).toBe('egress denied: 127.0.0.2 is in 127.0.0.2 (egress.deny)');
      next = 'http://169.254.169.254/latest/meta-data/iam/';
      expect((await runKind(k(http), { url: from }, { timeoutMs: 2000 })).error).toBe(METADATA_DENIED);
      expect(deniedHits).toBe(0);
      // the same redirect under a policy that allows it is followed
      setEgressPolicy({ deny: [] });
      next = `http://127.0.0.2:${deniedPort}/`;
      const ok = await runKind(k(http), { url: from });
      expect(ok.error).toBeUndefined();
      expect(ok.values.redirects).toBe(1);
      expect(deniedHits).toBe(1);
    } finally {
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
      denied.closeAllConnections();
      await new Promise<void>((resolve) => denied.close(() => resolve()));
    }
  });
});
