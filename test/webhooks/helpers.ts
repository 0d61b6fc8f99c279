/** A real app server on loopback that records what the inbox forwards, with a switchable behaviour. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const stripe = new Stripe('sk_test_shipshape_webhooks');

export interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Mode = 'ok' | 'error' | 'hang' | 'redirect';

export interface App {
  server: Server;
  port: number;
  url(path: string): string;
  seen: Seen[];
  mode: Mode;
  /** per path: a mode that overrides `mode` */
  modes: Map<string, Mode>;
  close(): Promise<void>;
}

export async function startApp(port = 0): Promise<App> {
  const app: App = {
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0] as string;
        app.seen.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
        const mode = app.modes.get(path) ?? app.mode;
        if (mode === 'hang') return; // never answers
        if (mode === 'redirect') {
          res.writeHead(302, { location: req.url });
          res.end();
          return;
        }
        if (mode === 'error') {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('the app is broken: ' + 'x'.repeat(3000));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"received":true}');
      });
    }),
    port: 0,
    url: (p) => `http://127.0.0.1:${app.port}${p}`,
    seen: [],
    mode: 'ok',
    modes: new Map(),
    async close() {
      app.server.closeAllConnections();
      await new Promise<void>((r) => app.server.close(() => r()));
    },
  };
  await new Promise<void>((r) => app.server.listen(port, '127.0.0.1', () => r()));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

export async function until<T>(what: string, f: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Stripe event body as Stripe sends it. */
export function stripeEvent(id: string, type = 'payment_intent.succeeded'): string {
  return JSON.stringify({ id, object: 'event', type, api_version: '2024-06-20', created: Math.floor(Date.now() / 1000), data: { object: { id: `pi_${id}`, amount: 4200, currency: 'eur' } } }, null, 2);
}

export function stripeHeader(payload: string, secret: string, timestamp?: number): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
}
