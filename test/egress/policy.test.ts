/** The egress policy itself: entries, defaults, allow/deny precedence, the config section, and the connect-time lookup. */
import type { LookupAddress } from 'node:dns';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { compileEgressPolicy, egressCheck, egressPolicy, EgressDeniedError, egressResolve, makeEgressLookup, setEgressPolicy, useEgressConfig, type Resolve } from '../../src/core/egress.js';
import { parseConfig } from '../../src/modules.js';

afterEach(() => setEgressPolicy(undefined));

describe('egress policy', () => {
  it('denies link-local and cloud metadata by default, and allows loopback and private ranges', () => {
    const p = compileEgressPolicy();
    expect(p.check('169.254.169.254')).toBe('egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)');
    expect(p.check('fe80::1')).toBe('egress denied: fe80::1 is in fe80::/10 (egress.deny)');
    expect(p.check('[fe80::1%25eth0]')).toMatch(/^egress denied: fe80::1 is in fe80::\/10/);
    expect(p.check('fd00:ec2::254')).toBe('egress denied: fd00:ec2::254 is in fd00:ec2::254 (egress.deny)');
    expect(p.check('metadata.google.internal')).toBe('egress denied: metadata.google.internal is in egress.deny');
    expect(p.check('Metadata.Google.Internal.')).toBe('egress denied: metadata.google.internal is in egress.deny');
    // IPv4-mapped IPv6, as the URL parser writes it
    expect(p.check(new URL('http://[::ffff:169.254.169.254]/').hostname)).toBe('egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)');
    // a name is judged by the address it resolves to
    expect(p.check('instance-data.example', '169.254.169.254')).toBe('egress denied: instance-data.example (169.254.169.254) is in 169.254.0.0/16 (egress.deny)');
    for (const ok of ['127.0.0.1', '::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '93.184.216.34', '2606:4700::1']) expect(p.check(ok)).toBeUndefined();
    expect(p.check('example.com')).toBeUndefined(); // not resolved yet: the lookup checks its addresses
  });

  it('a non-empty allow list admits only its entries (loopback too), and deny wins over allow', () => {
    const p = compileEgressPolicy({ allow: ['10.0.0.0/8', 'db.internal', '*.svc.local'] });
    expect(p.check('10.2.3.4')).toBeUndefined();
    expect(p.check('db.internal', '192.168.9.9')).toBeUndefined(); // allowed by name
    expect(p.check('a.b.svc.local', '192.168.9.9')).toBeUndefined();
    expect(p.check('svc.local', '192.168.9.9')).toBe('egress denied: svc.local (192.168.9.9) is not in egress.allow');
    expect(p.check('127.0.0.1')).toBe('egress denied: 127.0.0.1 is not in egress.allow');
    expect(p.check('0.0.0.0')).toBe('egress denied: 0.0.0.0 is not in egress.allow');
    // the default deny still applies: an allowed name that resolves to a metadata address is refused
    expect(p.check('db.internal', '169.254.169.254')).toBe('egress denied: db.internal (169.254.169.254) is in 169.254.0.0/16 (egress.deny)');
    const q = compileEgressPolicy({ deny: ['link-local', 'metadata', 'private', 'loopback'], allow: ['10.0.0.5'] });
    expect(q.check('10.0.0.5')).toBe('egress denied: 10.0.0.5 is in 10.0.0.0/8 (egress.deny)');
    expect(q.check('0.0.0.0')).toBe('egress denied: 0.0.0.0 is in 127.0.0.0/8 (egress.deny)'); // 0.0.0.0 reaches this host
    // setting deny replaces the default
    expect(compileEgressPolicy({ deny: [] }).check('169.254.169.254')).toBeUndefined();
  });

  it('is a core config section: defaults, validation, and the policy follows the config in force', () => {
    const plain = parseConfig('services: {}\n', 'shipshape.yaml');
    expect(plain.raw.egress).toEqual({ deny: ['link-local', 'metadata'], allow: [] });
    const custom = parseConfig('egress:\n  deny: [link-local, metadata, 192.168.0.0/16]\n  allow: [loopback, 192.168.0.0/16, db.internal]\n', 'shipshape.yaml');
    expect(custom.raw.egress.allow).toEqual(['loopback', '192.168.0.0/16', 'db.internal']);
    expect(() => parseConfig('egress:\n  deny: [10.0.0.0/33]\n', 'shipshape.yaml')).toThrow(ConfigError);
    expect(() => parseConfig('egress:\n  allow: ["not a host"]\n', 'shipshape.yaml')).toThrow(/not an IP address, a CIDR block, a host name/);

    let config = plain;
    useEgressConfig(() => config.raw.egress);
    expect(egressCheck('192.168.1.1')).toBeUndefined();
    const before = egressPolicy();
    config = custom; // a hot reload
    expect(egressCheck('192.168.1.1')).toBe('egress denied: 192.168.1.1 is in 192.168.0.0/16 (egress.deny)');
    expect(egressPolicy()).not.toBe(before);
    const after = egressPolicy();
    expect(egressPolicy()).toBe(after); // compiled once per config
    config = parseConfig('egress:\n  deny: [link-local, metadata, 192.168.0.0/16]\n  allow: [loopback, 192.168.0.0/16, db.internal]\n', 'shipshape.yaml');
    expect(egressPolicy()).toBe(after); // a reload that left egress alone keeps the policy (and the pools checked against it)
  });
});

describe('connect-time lookup', () => {
  let server: Server;
  let port: number;
  let accepted = 0;
  beforeAll(async () => {
    server = createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A resolver the test controls: answers `rebind.test` with the next address in `answers`. */
  function resolver(answers: string[][]): Resolve {
    let i = 0;
    return (_host, _opts, cb) => {
      const list = answers[Math.min(i++, answers.length - 1)] ?? [];
      setImmediate(() => cb(null, list.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }))));
    };
  }

  function connectWith(lookup: ReturnType<typeof makeEgressLookup>): Promise<Error | undefined> {
    return new Promise((resolve) => {
      const s = connect({ host: 'rebind.test', port, lookup });
      s.once('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', (e) => resolve(e));
    });
  }

  it('checks the address each connection really uses, so DNS rebinding cannot reach a denied address', async () => {
    // first answer: loopback (allowed); the same name then re-binds to the metadata address
    const lookup = makeEgressLookup(resolver([['127.0.0.1'], ['169.254.169.254']]));
    const n = accepted;
    expect(await connectWith(lookup)).toBeUndefined();
    await expect.poll(() => accepted).toBe(n + 1);
    const err = await connectWith(lookup);
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect(err?.message).toBe('egress denied: rebind.test (169.254.169.254) is in 169.254.0.0/16 (egress.deny)');
  });

  it('drops denied addresses from a mixed answer and connects to an allowed one', async () => {
    const lookup = makeEgressLookup(resolver([['169.254.169.254', '127.0.0.1']]));
    const n = accepted;
    expect(await connectWith(lookup)).toBeUndefined();
    await expect.poll(() => accepted).toBe(n + 1);
  });

  it('egressResolve checks literal IPs and resolved names', async () => {
    await expect(egressResolve('169.254.169.254')).rejects.toThrow('egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)');
    await expect(egressResolve('rebind.test', makeEgressLookup(resolver([['fe80::1']])))).rejects.toThrow('egress denied: rebind.test (fe80::1) is in fe80::/10 (egress.deny)');
    await expect(egressResolve('rebind.test', makeEgressLookup(resolver([['10.0.0.1']])))).resolves.toEqual({ address: '10.0.0.1', family: 4 });
  });
});
