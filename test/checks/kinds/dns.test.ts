import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dns } from '../../../src/checks/kinds/dns.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = dns as unknown as CheckKind;
let server: TestDnsServer;

beforeAll(async () => {
  server = await startDnsServer(
    {
      'app.test': {
        A: ['10.0.0.1', '10.0.0.2'],
        TXT: ['v=spf1 -all', 'site-verification=abc'],
        MX: [
          { preference: 20, exchange: 'mx2.app.test' },
          { preference: 10, exchange: 'mx1.app.test' },
        ],
      },
      'www.app.test': { CNAME: 'app.test' },
      'empty.app.test': {},
    },
    { silent: ['slow.app.test'], servfail: ['broken.app.test'] },
  );
});

afterAll(async () => {
  await server.close();
});

describe('dns check', () => {
  it('resolves A records and checks expected answers', async () => {
    const input = { name: 'app.test', server: server.address, expect: '10.0.0.2' };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values.rcode).toBe('NOERROR');
    expect([...(obs.values.answers as string[])].sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(judge(kind, input, obs).ok).toBe(true);
    const wrong = { ...input, expect: ['10.0.0.1', '10.9.9.9'] };
    const verdict = judge(kind, wrong, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes.filter((o) => !o.ok).map((o) => o.condition)).toEqual(['answers contains "10.9.9.9"']);
  });

  it('reports MX as "priority host", sorted by priority', async () => {
    const input = { name: 'app.test', type: 'MX', server: server.address, expect: '10 mx1.app.test.' };
    const obs = await runKind(kind, input);
    expect(obs.values.answers).toEqual(['10 mx1.app.test', '20 mx2.app.test']);
    expect(judge(kind, input, obs).ok).toBe(true);
  });

  it('reports TXT records joined', async () => {
    const obs = await runKind(kind, { name: 'app.test', type: 'TXT', server: server.address });
    expect([...(obs.values.answers as string[])].sort()).toEqual(['site-verification=abc', 'v=spf1 -all']);
  });

  it('reports CNAME targets', async () => {
    const obs = await runKind(kind, { name: 'www.app.test', type: 'CNAME', server: server.address });
    expect(obs.values.answers).toEqual(['app.test']);
  });

  it('reports NXDOMAIN as an answer whose implied condition fails', async () => {
    const input = { name: 'missing.app.test', server: server.address };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values).toEqual({ answers: [], rcode: 'NXDOMAIN' });
    const verdict = judge(kind, input, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]).toMatchObject({ condition: 'len(answers) > 0', ok: false });
    expect(judge(kind, input, obs, ['rcode == "NXDOMAIN"']).outcomes[1]?.ok).toBe(true);
  });

  it('reports a name without records of the type as NOERROR with no answers', async () => {
    const obs = await runKind(kind, { name: 'empty.app.test', server: server.address });
    expect(obs.ok).toBe(true);
    expect(obs.values).toEqual({ answers: [], rcode: 'NOERROR' });
  });

  it('reports SERVFAIL', async () => {
    const obs = await runKind(kind, { name: 'broken.app.test', server: server.address });
    expect(obs.values.rcode).toBe('SERVFAIL');
    expect(obs.values.answers).toEqual([]);
  });

  it('fails with a timeout when the server never answers', async () => {
    const asked = () => server.queries.filter((q) => q === 'A slow.app.test').length;
    const before = asked();
    const obs = await runKind(kind, { name: 'slow.app.test', server: server.address }, { timeoutMs: 400 });
    expect(obs.ok).toBe(false);
    // the check's deadline, or the resolver giving up on its own retries, whichever comes first
    expect(obs.error).toMatch(/^(timed out after 400ms|DNS query for slow\.app\.test timed out \(server 127\.0\.0\.1:\d+\))$/);
    // the query did reach the server, which never answered it
    expect(asked()).toBeGreaterThan(before);
  });

  it('describes the query and validates the type', () => {
    expect(dns.describe(dns.spec.parse({ name: 'app.test', type: 'MX', server: '10.0.0.53' }))).toBe('MX app.test @10.0.0.53');
    expect(dns.spec.safeParse({ name: 'app.test', type: 'PTRX' }).success).toBe(false);
  });
});
