/** A raw TCP client for HTTP tests that need to send what fetch will not (stalled bodies, bad headers). */
import { connect, type Socket } from 'node:net';

export interface RawConn {
  socket: Socket;
  /** everything the server sent so far */
  received(): string;
  closed(): boolean;
  /** the status code of the first response, once its status line arrived */
  status(): number | undefined;
  send(text: string | Buffer): void;
}

export function rawConnect(port: number, first?: string | Buffer): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
    });
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first);
      resolve({
        socket,
        received: () => data,
        closed: () => closed,
        status: () => {
          const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
          return m ? Number(m[1]) : undefined;
        },
        send: (t) => socket.write(t),
      });
    });
    socket.once('error', reject);
  });
}

/** The JSON body of a complete response in `raw` (Content-Length framed). */
export function rawBody(raw: string): unknown {
  const at = raw.indexOf('\r\n\r\n');
  return JSON.parse(raw.slice(at + 4));
}

/** A response header of `raw`, lower-cased name. */
export function rawHeader(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head);
  return m?.[1]?.trim();
}
