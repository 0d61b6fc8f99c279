/** A real HTTP server on loopback whose answers a test can change (up, down, slow, hanging). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Target {
  url: string;
  port: number;
  /** what the next requests get */
  set(mode: { status?: number; body?: unknown; delayMs?: number; hang?: boolean }): void;
  hits(): number;
  /** requests held open in hang mode that the client has not closed yet */
  hanging(): number;
  close(): Promise<void>;
}

export async function startTarget(port = 0): Promise<Target> {
  let mode: { status: number; body: unknown; delayMs: number; hang: boolean } = { status: 200, body: { status: 'healthy' }, delayMs: 0, hang: false };
  let hits = 0;
  let hanging = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    if (mode.hang) {
      // never answers
      hanging++;
      res.once('close', () => hanging--);
      return;
    }
    const send = () => {
      res.writeHead(mode.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(mode.body));
    };
    if (mode.delayMs) setTimeout(send, mode.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    set(m) {
      mode = { ...mode, ...m };
    },
    hits: () => hits,
    hanging: () => hanging,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
