/**
 * Loopback sites for the websec tests: each answers HTTP and HTTPS on one port (the first byte
 * tells a TLS ClientHello from a plain request), as a public site answers on 80 and 443, so the
 * Observatory's scanner, which takes only `host[:port]`, can be pointed at it.
 */
import { writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createNet, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCert } from '../helpers/certs.js';

export type Handler = (proto: 'http' | 'https', req: IncomingMessage, res: ServerResponse, port: number) => void;

export interface Site {
  port: number;
  host: string;
  close(): Promise<void>;
}

const cert = selfSignedCert();
/** the certificate as a file, for NODE_EXTRA_CA_CERTS in child processes */
export const CA_FILE = join(tmpdir(), `shipshape-websec-ca-${process.pid}.pem`);
writeFileSync(CA_FILE, cert.cert);

/** A site on 127.0.0.1; `tls: false` makes it plain HTTP only (a TLS hello is dropped). */
export async function site(handler: Handler, opts: { tls?: boolean } = {}): Promise<Site> {
  let port = 0;
  const http = createHttp((req, res) => handler('http', req, res, port));
  const https = createHttps({ key: cert.key, cert: cert.cert }, (req, res) => handler('https', req, res, port));
  await Promise.all([new Promise<void>((r) => http.listen(0, '127.0.0.1', r)), new Promise<void>((r) => https.listen(0, '127.0.0.1', r))]);
  const open = new Set<Socket>();
  const front: Server = createNet((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    s.once('data', (b: Buffer) => {
      const tls = b[0] === 0x16;
      if (tls && opts.tls === false) return s.destroy();
      const up = connect({ port: ((tls ? https : http).address() as AddressInfo).port, host: '127.0.0.1' });
      up.on('error', () => s.destroy());
      s.on('close', () => up.destroy());
      up.write(b);
      s.pipe(up).pipe(s);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  port = (front.address() as AddressInfo).port;
  return {
    port,
    host: `localhost:${port}`,
    close: async () => {
      for (const s of open) s.destroy();
      http.closeAllConnections();
      https.closeAllConnections();
      const closing = [http, https, front].map((s) => new Promise((r) => s.close(r)));
      for (const s of open) s.destroy();
      http.closeAllConnections();
      https.closeAllConnections();
      await Promise.all(closing);
    },
  };
}
