/** A tiny authoritative DNS server on 127.0.0.1 (UDP, ephemeral port) for tests, built with dns-packet. */
import { createSocket, type RemoteInfo } from 'node:dgram';
import * as packet from 'dns-packet';

export interface ZoneRecord {
  A?: string[];
  AAAA?: string[];
  TXT?: string[];
  MX?: { preference: number; exchange: string }[];
  CNAME?: string;
}

export interface TestDnsServer {
  /** "127.0.0.1:<port>" — pass as the dns kind's `server` */
  address: string;
  port: number;
  /** queries received, as "TYPE name" */
  queries: string[];
  close(): Promise<void>;
}

/**
 * Answers from `zone` (names lower-case, no trailing dot). Unknown names get NXDOMAIN; a known
 * name without records of the asked type gets NOERROR with no answers. Names in `silent` are
 * never answered (for timeouts); names in `servfail` get SERVFAIL.
 */
export async function startDnsServer(
  zone: Record<string, ZoneRecord>,
  opts: { silent?: string[]; servfail?: string[] } = {},
): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    queries.push(`${q.type} ${name}`);
    if (opts.silent?.includes(name)) return;
    const records = zone[name];
    const answers: packet.Answer[] = [];
    let rcode = 0; // NOERROR
    if (opts.servfail?.includes(name)) rcode = 2; // SERVFAIL
    else if (!records) rcode = 3; // NXDOMAIN
    else if (q.type === 'A') for (const a of records.A ?? []) answers.push({ type: 'A', name: q.name, ttl: 60, data: a });
    else if (q.type === 'AAAA') for (const a of records.AAAA ?? []) answers.push({ type: 'AAAA', name: q.name, ttl: 60, data: a });
    else if (q.type === 'TXT') for (const t of records.TXT ?? []) answers.push({ type: 'TXT', name: q.name, ttl: 60, data: t });
    else if (q.type === 'MX') for (const m of records.MX ?? []) answers.push({ type: 'MX', name: q.name, ttl: 60, data: m });
    else if (q.type === 'CNAME' && records.CNAME) answers.push({ type: 'CNAME', name: q.name, ttl: 60, data: records.CNAME });
    // the response code travels in the low 4 bits of the flags
    const flags = packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED) | rcode;
    const reply = packet.encode({ id: query.id, type: 'response', flags, questions: [q], answers });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
