/** A real HTTP receiver on loopback that records what the SDKs send and answers as told. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { IngestPayload } from '../../src/sdk/shared.js';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** the body as sent (maybe gzip) */
  raw: Buffer;
  /** the body decoded */
  text: string;
  json: IngestPayload;
}

export interface Recorder {
  url: string;
  port: number;
  received: Received[];
  /** set how the next requests are answered (default 202 {}) */
  respond: (req: IncomingMessage, res: ServerResponse, n: number) => void;
  payloads(): IngestPayload[];
  waitFor<T>(pick: (r: Received[]) => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export const accept = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(202, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
  res.end('{}');
};

export async function startRecorder(port = 0): Promise<Recorder> {
  const received: Received[] = [];
  let n = 0;
  const rec: Recorder = {
    url: '',
    port: 0,
    received,
    respond: accept,
    payloads: () => received.map((r) => r.json),
    async waitFor(pick, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = pick(received);
        if (v !== undefined && v !== false) return v;
        if (Date.now() > until) throw new Error(`recorder: condition not met within ${timeoutMs}ms; received ${received.length} requests: ${received.map((r) => r.text.slice(0, 300)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let text = '';
      try {
        text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      } catch {
        text = '<undecodable>';
      }
      let json = {} as IngestPayload;
      try {
        json = JSON.parse(text) as IngestPayload;
      } catch {
        // leave empty
      }
      if (req.method === 'POST') received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, text, json });
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'POST' });
        res.end();
        return;
      }
      rec.respond(req, res, n++);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  rec.port = (server.address() as AddressInfo).port;
  rec.url = `http://127.0.0.1:${rec.port}`;
  return rec;
}

/** A loopback port nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Collect unhandled rejections and uncaught exceptions while a test runs. */
export function watchProcessErrors(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onErr = (e: unknown) => errors.push(e);
  process.on('unhandledRejection', onErr);
  process.on('uncaughtException', onErr);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', onErr);
      process.off('uncaughtException', onErr);
    },
  };
}

export function allRequests(payloads: IngestPayload[]) {
  return payloads.flatMap((p) => p.requests ?? []);
}
export function allEvents(payloads: IngestPayload[]) {
  return payloads.flatMap((p) => p.events ?? []);
}
export function allVitals(payloads: IngestPayload[]) {
  return payloads.flatMap((p) => p.vitals ?? []);
}
