/** Real local receivers (HTTP and SMTP) and a notify domain on a store with a clock the test turns. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { AlertInstance } from '../../src/alerts/types.js';
import { type Config } from '../../src/core/config/load.js';
import { openStore, parseConfig } from '../../src/modules.js';
import { moduleContext } from '../helpers/module-context.js';
import { EventLog } from '../../src/core/events.js';
import { createNotify, type NotifyDomain } from '../../src/notify/index.js';
import type { InhibitRule } from '../../src/notify/config.js';
import { InhibitIndex, type Labels } from '../../src/notify/match.js';
import type { RootStore as Store } from '../../src/modules.js';

export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
  at: number;
}

export type Behaviour = 'ok' | 'hang' | { status: number; body?: string; headers?: Record<string, string> };

export interface Receiver {
  url: string;
  requests: Recorded[];
  /** decide per request (default: 200 ok; Telegram-like `{"ok":true}` body) */
  behave: (req: Recorded, n: number) => Behaviour;
  waitFor(count: number, timeoutMs?: number, filter?: (r: Recorded) => boolean): Promise<Recorded[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const r: Receiver = {
    url: '',
    requests: [],
    behave: () => 'ok',
    async waitFor(count, timeoutMs = 5000, filter = () => true) {
      const until = Date.now() + timeoutMs;
      while (r.requests.filter(filter).length < count) {
        if (Date.now() > until) throw new Error(`receiver got ${r.requests.filter(filter).length} of ${count} requests: ${r.requests.map((q) => q.path).join(', ')}`);
        await new Promise((res) => setTimeout(res, 10));
      }
      return r.requests.filter(filter);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const rec: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json: () => JSON.parse(body) as Record<string, unknown>, at: Date.now() };
      r.requests.push(rec);
      const b = r.behave(rec, r.requests.length);
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      if (b === 'ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"status":"success"}');
        return;
      }
      res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers }).end(b.body ?? '');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

export interface SmtpReceiver {
  port: number;
  mails: Mail[];
  waitFor(count: number, timeoutMs?: number): Promise<Mail[]>;
  close(): Promise<void>;
}

/** A real SMTP server on loopback (smtp-server), with AUTH PLAIN/LOGIN over plain text. */
export async function startSmtp(opts: { user?: string; pass?: string } = {}): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !opts.user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((t) => t.address), raw: Buffer.concat(chunks).toString('utf8'), user: session.user as string | undefined });
        cb();
      });
    },
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    async waitFor(count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (mails.length < count) {
        if (Date.now() > until) throw new Error(`SMTP server got ${mails.length} of ${count} mails`);
        await new Promise((res) => setTimeout(res, 10));
      }
      return mails;
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

export const T0 = Date.parse('2025-03-01T12:00:00Z');

let seq = 0;
/** An alert instance like the alerts domain publishes. */
export function alert(name: string, labels: Record<string, string> = {}, extra: Partial<AlertInstance> = {}): AlertInstance {
  const all = { alertname: name, severity: 'P1', service: 'web', ...labels };
  const fp = createHash('sha256')
    .update(JSON.stringify(Object.entries(all).sort()))
    .digest('hex')
    .slice(0, 16);
  const at = new Date(extra.firedAt ? Date.parse(extra.firedAt) : T0).toISOString();
  seq++;
  return { fingerprint: fp, labels: all, annotations: { summary: `${all.service} ${name} #${seq}` }, state: 'firing', value: 0.032, valueText: '3.2%', activeAt: at, firedAt: at, resolvedAt: null, source: `rule:${name}`, ...extra };
}

export interface Harness {
  store: Store;
  events: EventLog;
  notify: NotifyDomain;
  clock: { t: number };
  config: Config;
  advance(ms: number): Promise<void>;
  fire(a: AlertInstance): Promise<void>;
  resolve(a: AlertInstance): Promise<void>;
  /** handle what came in, flush due groups, and wait for the sends */
  step(): Promise<void>;
  stop(): Promise<void>;
}

/** A notify domain on `store` whose clock only moves when the test says so. */
export async function harness(store: Store, yaml: string, opts: { t?: number; start?: boolean } = {}): Promise<Harness> {
  const clock = { t: opts.t ?? T0 };
  const events = new EventLog(store, () => clock.t);
  const config = parseConfig(yaml, 'test.yaml', { env: {} });
  const ctx = moduleContext({ store, events, config: () => config, now: () => clock.t });
  const notify = createNotify(ctx, { tickMs: 0, random: () => 0.5 });
  if (opts.start !== false) await notify.start!();
  const h: Harness = {
    store,
    events,
    notify,
    clock,
    config,
    async advance(ms) {
      clock.t += ms;
      await h.step();
    },
    async fire(a) {
      await events.append({ type: 'alert.firing', actor: `rule:${a.labels.alertname}`, subject: `alert:${a.fingerprint}`, data: { ...a, state: 'firing' } as unknown as Record<string, unknown> });
      await h.step();
    },
    async resolve(a) {
      const r = { ...a, state: 'resolved' as const, resolvedAt: new Date(clock.t).toISOString() };
      await events.append({ type: 'alert.resolved', actor: `rule:${a.labels.alertname}`, subject: `alert:${a.fingerprint}`, data: r as unknown as Record<string, unknown> });
      await h.step();
    },
    async step() {
      await notify.settled();
      await notify.tick();
      await notify.queue.idle();
    },
    async stop() {
      await notify.stop!();
    },
  };
  return h;
}

/** A header of a raw mail, unfolded and with RFC 2047 encoded words decoded. */
export function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (!line) return undefined;
  const value = line.slice(name.length + 1).trim();
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, text: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
      const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    });
}

/**
 * The fixture a file's dispatching tests share: one receiver for the file, a fresh store per
 * test, and the test's harness (set `f.h`) stopped after it.
 */
export function useNotifyFixture(prefix: string): { rx: Receiver; store: Store; h: Harness } {
  const f = {} as { rx: Receiver; store: Store; h: Harness; dir: string };
  beforeAll(async () => {
    f.rx = await startReceiver();
  });
  afterAll(() => f.rx.close());
  beforeEach(async () => {
    f.dir = mkdtempSync(join(tmpdir(), prefix));
    f.store = await openStore({ dataDir: f.dir });
    f.rx.requests.length = 0;
    f.rx.behave = () => 'ok';
  });
  afterEach(async () => {
    await (f.h as Harness | undefined)?.stop();
    f.h = undefined as unknown as Harness;
    await f.store.close();
    rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}

/**
 * The alerts among `sources` that inhibit `target`, through the index the dispatcher keeps; a
 * resolved source inhibits nothing (the dispatcher indexes firing alerts only).
 */
export function inhibitedBy(target: { fingerprint: string; labels: Labels }, sources: { fingerprint: string; labels: Labels; state?: string }[], rules: InhibitRule[]): string[] {
  const index = new InhibitIndex();
  for (const s of sources) if (s.state !== 'resolved') index.set(s);
  return index.inhibitedBy(target, rules);
}

