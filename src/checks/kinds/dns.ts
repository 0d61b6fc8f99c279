/** `dns`: resolve a name and report the answers and the response code. */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { z } from 'zod';
import { egressDenial, egressResolve } from '../../core/egress.js';
import type { CheckKind, Observation } from '../types.js';
import { deadline, elapsed, failed, quote } from './_util.js';

const TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV'] as const;
type RecordType = (typeof TYPES)[number];

const spec = z
  .object({
    name: z.string().min(1).meta({ description: 'the name to resolve, e.g. example.com' }),
    type: z
      .enum(TYPES)
      .default('A')
      .meta({ description: 'record type: A, AAAA, CNAME, MX, TXT, NS or SRV (default A)' }),
    server: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\](:\d+)?|[0-9a-fA-F:]+|[^\s:[\]]+(:\d+)?)$/, 'expected "host" or "host:port"')
      .optional()
      .meta({ description: 'DNS server to ask ("1.1.1.1", "10.0.0.2:5353"); default: the system resolver' }),
    expect: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .meta({ description: 'answer(s) that must be present: an address, a name, "10 mx.example.com" for MX, the text for TXT' }),
  })
  .strict();

/** Node's DNS error codes, as the response code a user would see in `dig`. */
const RCODES: Record<string, string> = {
  ENOTFOUND: 'NXDOMAIN',
  ENODATA: 'NOERROR',
  ESERVFAIL: 'SERVFAIL',
  EREFUSED: 'REFUSED',
  EFORMERR: 'FORMERR',
  ENOTIMP: 'NOTIMP',
};

function stripDot(s: string): string {
  return s.length > 1 && s.endsWith('.') ? s.slice(0, -1) : s;
}

async function resolveAnswers(r: dnsPromises.Resolver, name: string, type: RecordType): Promise<string[]> {
  switch (type) {
    case 'A':
      return r.resolve4(name);
    case 'AAAA':
      return r.resolve6(name);
    case 'CNAME':
      return (await r.resolveCname(name)).map(stripDot);
    case 'NS':
      return (await r.resolveNs(name)).map(stripDot);
    case 'MX':
      return (await r.resolveMx(name)).sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange)).map((m) => `${m.priority} ${stripDot(m.exchange)}`);
    case 'TXT':
      return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
    case 'SRV':
      return (await r.resolveSrv(name)).sort((a, b) => a.priority - b.priority || b.weight - a.weight).map((x) => `${x.priority} ${x.weight} ${x.port} ${stripDot(x.name)}`);
  }
}

/** Split "host", "host:port", "[v6]:port" or a bare IPv6 address. */
function parseServer(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1] as string, port: v6[2] ? Number(v6[2]) : 53 };
  if (isIP(server) === 6) return { host: server, port: 53 };
  const m = /^(.*?)(?::(\d+))?$/.exec(server) as RegExpExecArray;
  return { host: m[1] as string, port: m[2] ? Number(m[2]) : 53 };
}

function serverAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Gatus' [BODY] of a DNS query: the last answer, names fully qualified as Gatus prints them
 * (`mx.example.com.`; MX: its host, SRV: host.:port), TXT answers one per line.
 */
function gatusBody(type: RecordType, answers: string[]): string {
  if (type === 'TXT') return answers.join('\n');
  const last = answers[answers.length - 1];
  if (last === undefined) return '';
  const fq = (n: string) => (n.endsWith('.') ? n : `${n}.`);
  if (type === 'MX') return fq(last.replace(/^\d+ /, ''));
  if (type === 'SRV') {
    const [, , port, target] = last.split(' ');
    return target === undefined ? last : `${fq(target)}:${port}`;
  }
  if (type === 'CNAME' || type === 'NS') return fq(last);
  return last;
}

export const dns: CheckKind<typeof spec> = {
  name: 'dns',
  spec,
  impliedConditions(s) {
    const out = ['len(answers) > 0'];
    const expect = s.expect === undefined ? [] : Array.isArray(s.expect) ? s.expect : [s.expect];
    for (const e of expect) out.push(`answers contains ${quote(s.type === 'TXT' ? e : stripDot(e))}`);
    return out;
  },
  describe(s) {
    return `${s.type ?? 'A'} ${s.name}${s.server ? ` @${s.server}` : ''}`;
  },
  async run(s, ctx) {
    const start = performance.now();
    const dl = deadline(ctx, s.timeout);
    const timeout = s.timeout > 0 ? s.timeout : ctx.timeoutMs;
    // two tries so one lost UDP packet is not an outage; the deadline cancels the rest
    const resolver = new dnsPromises.Resolver({ timeout: Math.max(50, Math.ceil(timeout / 2)), tries: 2 });
    const onAbort = (): void => resolver.cancel();
    dl.signal.addEventListener('abort', onAbort, { once: true });
    const server = s.server ? parseServer(s.server) : undefined;
    try {
      if (server) {
        // the server is an outbound target like any other: a literal IP is checked against the
        // egress policy, a name resolved through it (the resolver then talks to that address)
        let ip: string;
        try {
          ip = (await egressResolve(server.host)).address;
        } catch (e) {
          const denied = egressDenial(e);
          if (denied) return failed(start, denied.message);
          return failed(start, `DNS server ${server.host} not found (${(e as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
        }
        resolver.setServers([serverAddress(ip, server.port)]);
      }
      const name = stripDot(s.name);
      const p = resolveAnswers(resolver, name, s.type);
      p.catch(() => undefined);
      const answers = await Promise.race([p, dl.aborted.then(() => undefined)]);
      if (answers === undefined) return failed(start, dl.reason());
      const values: Record<string, unknown> = { answers, rcode: 'NOERROR', body: gatusBody(s.type, answers) };
      if ((s.type === 'A' || s.type === 'AAAA') && answers[0]) values.ip = answers[0];
      return { ok: true, latencyMs: elapsed(start), values } satisfies Observation;
    } catch (e) {
      if (dl.signal.aborted) return failed(start, dl.reason());
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const rcode = RCODES[code];
      if (rcode) return { ok: true, latencyMs: elapsed(start), values: { answers: [], rcode } };
      const via = server ? ` (server ${s.server})` : '';
      if (code === 'ETIMEOUT') return failed(start, `DNS query for ${s.name} timed out${via}`);
      if (code === 'ECONNREFUSED') return failed(start, `DNS server refused the connection${via}`);
      return failed(start, `DNS query for ${s.name} failed${via}: ${code || (e as Error).message}`);
    } finally {
      dl.signal.removeEventListener('abort', onAbort);
      dl.dispose();
    }
  },
};
