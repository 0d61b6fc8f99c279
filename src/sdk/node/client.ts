/**
 * The Shipshape client for Node apps: queues request timings and business events in memory and
 * posts them in batches to `POST /api/v1/ingest`. It never blocks or crashes the app: recording is
 * a push onto a bounded queue (the oldest items are dropped, and counted, when Shipshape is away
 * for long), sending happens on an unref'd timer, failures are retried with exponential backoff
 * (honouring Retry-After), and no promise it makes ever rejects.
 *
 * Only Node built-ins here: this runs inside users' apps.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { LIMITS, eventName, ingestUrl, type IngestEvent, type IngestPayload, type IngestRequest } from '../shared.js';
import { Ring } from './ring.js';

const gzip = promisify(gzipCb);

export interface ShipshapeOptions {
  /** the Shipshape server, e.g. `http://127.0.0.1:4600` (the ingest path is appended) */
  url: string;
  /** an ingest token (`ingest.tokens` in shipshape.yaml) */
  token: string;
  /** the service this app is (`services.<name>` in shipshape.yaml) */
  service: string;
  /** how often queued data is sent (default 5000 ms) */
  flushIntervalMs?: number;
  /** most items held while Shipshape is away; beyond it the oldest are dropped (default 10 000) */
  maxQueue?: number;
  /** give up on one send after this long (default 5000 ms) */
  timeoutMs?: number;
  /** most items per request (default 2000) */
  maxBatch?: number;
  /** gzip request bodies larger than this many bytes; false: never (default 16 KB) */
  gzipAbove?: number | false;
  /** longest wait between retries (default 60 000 ms) */
  maxBackoffMs?: number;
  /**
   * Told when sending fails (and the data is kept for a retry, or dropped when the server refused
   * it). Default: one process warning per outage.
   */
  onError?: (error: Error) => void;
  /** false: record nothing, send nothing (local development, tests of the app) */
  enabled?: boolean;
  /** send what is queued when the process is about to exit normally (default true) */
  flushOnExit?: boolean;
}

export interface RequestRecord {
  /** the route template (`/items/:id`), never the raw URL */
  route: string;
  method: string;
  status: number;
  durationMs: number;
  /** epoch ms (default now) */
  at?: number;
}

export interface ClientStats {
  /** items waiting to be sent */
  queued: number;
  /** items in the request being sent now (back in the queue if it fails) */
  inFlight: number;
  /** items the server accepted */
  sent: number;
  /** items dropped: queue overflow while the server was away, or refused by the server (4xx) */
  dropped: number;
  /** invalid calls ignored (bad event names, non-finite values) */
  ignored: number;
  /** failed send attempts */
  failures: number;
  /** the last failure, without secrets */
  lastError?: string;
  /** epoch ms of the last accepted batch */
  lastSentAt?: number;
}

type Item = IngestRequest | IngestEvent;
const isRequest = (i: Item): i is IngestRequest => (i as IngestRequest).route !== undefined;

interface SendResult {
  ok: boolean;
  /** retry later (network error, timeout, 5xx, 429) rather than drop */
  retry: boolean;
  status?: number;
  retryAfterMs?: number;
  error?: Error;
}

export class ShipshapeClient {
  readonly service: string;
  private readonly endpoint: URL;
  private readonly token: string;
  private readonly queue: Ring<Item>;
  private readonly flushIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly gzipAbove: number | false;
  private readonly maxBackoffMs: number;
  private readonly onError?: (error: Error) => void;
  private readonly enabled: boolean;
  private readonly agent: HttpAgent;
  private batchSize: number;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private consecutiveFailures = 0;
  private nextAttemptAt = 0;
  private warned = false;
  private closed = false;
  private exitFlushed = false;
  private readonly onBeforeExit?: () => void;
  private counters = { sent: 0, dropped: 0, ignored: 0, failures: 0 };
  private lastError?: string;
  private lastSentAt?: number;
  private inFlight = 0;

  constructor(opts: ShipshapeOptions) {
    if (!opts || typeof opts.url !== 'string' || !opts.url) throw new TypeError('createShipshape: `url` is required (the Shipshape server, e.g. http://127.0.0.1:4600)');
    if (typeof opts.token !== 'string' || !opts.token) throw new TypeError('createShipshape: `token` is required (one of ingest.tokens in shipshape.yaml)');
    if (typeof opts.service !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(opts.service)) throw new TypeError('createShipshape: `service` is required: a service name from shipshape.yaml (letters, digits, "_", "-", ".")');
    this.endpoint = new URL(ingestUrl(opts.url));
    if (this.endpoint.protocol !== 'http:' && this.endpoint.protocol !== 'https:') throw new TypeError(`createShipshape: \`url\` must be http:// or https://, got ${this.endpoint.protocol}`);
    this.token = opts.token;
    this.service = opts.service;
    this.flushIntervalMs = positive(opts.flushIntervalMs, 5_000);
    this.timeoutMs = positive(opts.timeoutMs, 5_000);
    this.maxBackoffMs = positive(opts.maxBackoffMs, 60_000);
    this.batchSize = Math.max(1, Math.floor(positive(opts.maxBatch, 2_000)));
    this.gzipAbove = opts.gzipAbove === false ? false : Math.max(0, opts.gzipAbove ?? 16 * 1024);
    this.queue = new Ring<Item>(Math.max(1, Math.floor(positive(opts.maxQueue, 10_000))));
    this.onError = opts.onError;
    this.enabled = opts.enabled !== false;
    const Agent = this.endpoint.protocol === 'https:' ? HttpsAgent : HttpAgent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 2 });
    if (!this.enabled) return;
    this.timer = setInterval(() => this.tick(), this.flushIntervalMs);
    this.timer.unref();
    if (opts.flushOnExit !== false) {
      // the timer is unref'd, so an app that finishes its work exits; send the rest first, once
      this.onBeforeExit = () => {
        if (this.exitFlushed || this.queue.length === 0) return;
        this.exitFlushed = true;
        void this.flush();
      };
      process.on('beforeExit', this.onBeforeExit);
    }
  }

  /** Count a business event (`purchase_completed`), optionally with an amount. Never throws. */
  track(name: string, opts: { value?: number; count?: number; at?: number } = {}): void {
    if (!this.enabled || this.closed) return;
    try {
      const n = eventName(name);
      const value = opts?.value;
      const count = opts?.count;
      if (!n || (value !== undefined && !Number.isFinite(value)) || (count !== undefined && !(Number.isInteger(count) && count > 0))) {
        this.counters.ignored++;
        return;
      }
      const e: IngestEvent = { name: n, at: finiteOr(opts?.at, Date.now()) };
      if (value !== undefined) e.value = value;
      if (count !== undefined && count !== 1) e.count = count;
      this.enqueue(e);
    } catch {
      this.counters.ignored++;
    }
  }

  /** Record one finished HTTP request. The integrations call this; call it yourself elsewhere. */
  recordRequest(r: RequestRecord): void {
    if (!this.enabled || this.closed) return;
    try {
      const status = Math.trunc(Number(r.status));
      const duration = Number(r.durationMs);
      if (!(status >= 100 && status <= 599) || !Number.isFinite(duration) || duration < 0) {
        this.counters.ignored++;
        return;
      }
      const route = typeof r.route === 'string' && r.route ? r.route.slice(0, LIMITS.route) : 'unmatched';
      const method = typeof r.method === 'string' && r.method ? r.method.toUpperCase().slice(0, 16) : 'GET';
      // hours-long requests (streams, long polls) are capped rather than refused by the server
      const ms = Math.min(LIMITS.durationMs, Math.round(duration * 1000) / 1000);
      this.enqueue({ route, method, status, duration_ms: ms, at: finiteOr(r.at, Date.now()) });
    } catch {
      this.counters.ignored++;
    }
  }

  /**
   * Send everything queued now (ignoring any backoff). Resolves when done or when a send failed
   * (the data stays queued for a retry); never rejects. Resolves to true when all was delivered.
   */
  flush(): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(true);
    const run = this.chain.then(() => this.drain());
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run.catch(() => false);
  }

  /** Stop the timer, send what is left (one attempt, bounded by timeoutMs) and release sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.onBeforeExit) process.off('beforeExit', this.onBeforeExit);
    await this.flush();
    this.agent.destroy();
    if (getDefaultClient() === this) setDefaultClient(undefined);
  }

  stats(): ClientStats {
    return { queued: this.queue.length, inFlight: this.inFlight, ...this.counters, lastError: this.lastError, lastSentAt: this.lastSentAt };
  }

  private enqueue(item: Item): void {
    this.counters.dropped += this.queue.push(item);
    // a full batch: send soon instead of waiting for the timer (unless backing off)
    if (this.queue.length === this.batchSize && Date.now() >= this.nextAttemptAt && this.consecutiveFailures === 0) setImmediate(() => this.tick()).unref();
  }

  private tick(): void {
    if (this.queue.length === 0 || Date.now() < this.nextAttemptAt) return;
    void this.flush();
  }

  private async drain(): Promise<boolean> {
    // send what was queued when the flush started; newer items wait for the next one
    let budget = this.queue.length;
    while (budget > 0 && this.queue.length > 0) {
      const batch = this.queue.shift(Math.min(this.batchSize, budget));
      budget -= batch.length;
      this.inFlight = batch.length;
      const result = await this.send(batch).finally(() => (this.inFlight = 0));
      if (result.ok) {
        this.counters.sent += batch.length;
        this.consecutiveFailures = 0;
        this.nextAttemptAt = 0;
        this.lastSentAt = Date.now();
        this.warned = false;
        continue;
      }
      this.counters.failures++;
      const error = result.error ?? new Error(`shipshape ingest answered ${result.status}`);
      this.lastError = error.message;
      if (result.status === 413 && batch.length > 1) {
        // too big for the server's body limit: smaller batches from now on, retry at once
        this.batchSize = Math.max(1, Math.floor(batch.length / 2));
        this.counters.dropped += this.queue.unshift(batch);
        budget += batch.length;
        continue;
      }
      if (result.retry) this.counters.dropped += this.queue.unshift(batch);
      else this.counters.dropped += batch.length;
      this.consecutiveFailures++;
      const backoff = Math.min(this.maxBackoffMs, 1000 * 2 ** Math.min(this.consecutiveFailures - 1, 16));
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      this.nextAttemptAt = Date.now() + Math.max(jittered, Math.min(result.retryAfterMs ?? 0, 600_000));
      this.report(error);
      return false;
    }
    return true;
  }

  private report(error: Error): void {
    try {
      if (this.onError) this.onError(error);
      else if (!this.warned) {
        this.warned = true;
        process.emitWarning(`telemetry for service "${this.service}" not delivered to ${this.endpoint.origin}: ${error.message}; retrying with backoff (older data is dropped past maxQueue)`, 'ShipshapeWarning');
      }
    } catch {
      // a throwing onError must not break the client
    }
  }

  private async send(batch: Item[]): Promise<SendResult> {
    const payload: IngestPayload = { service: this.service };
    const requests: IngestRequest[] = [];
    const events: IngestEvent[] = [];
    for (const i of batch) {
      if (isRequest(i)) requests.push(i);
      else events.push(i);
    }
    if (requests.length) payload.requests = requests;
    if (events.length) payload.events = events;
    let body: Buffer = Buffer.from(JSON.stringify(payload));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${this.token}`,
      'user-agent': 'shipshape-sdk-node',
    };
    try {
      if (this.gzipAbove !== false && body.length > this.gzipAbove) {
        body = await gzip(body);
        headers['content-encoding'] = 'gzip';
      }
    } catch (e) {
      return { ok: false, retry: true, error: e as Error };
    }
    headers['content-length'] = String(body.length);
    return this.post(body, headers);
  }

  private post(body: Buffer, headers: Record<string, string>): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (r: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(r);
      };
      const request = this.endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
      let req: ReturnType<typeof httpRequest>;
      try {
        req = request(this.endpoint, { method: 'POST', headers, agent: this.agent });
      } catch (e) {
        resolve({ ok: false, retry: true, error: e as Error });
        return;
      }
      const deadline = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.timeoutMs}ms`));
      }, this.timeoutMs);
      deadline.unref();
      req.on('error', (e) => done({ ok: false, retry: true, error: new Error(describe(e)) }));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 2048) chunks.push(c);
          size += c.length;
        });
        res.on('error', () => undefined);
        res.on('end', () => {
          if (status >= 200 && status < 300) return done({ ok: true, retry: false, status });
          const detail = problemDetail(Buffer.concat(chunks).toString('utf8', 0, 2048));
          const retryAfter = retryAfterMs(res.headers['retry-after']);
          done({
            ok: false,
            retry: status === 408 || status === 429 || status >= 500,
            status,
            retryAfterMs: retryAfter,
            error: new Error(`shipshape ingest answered ${status}${detail ? `: ${detail}` : ''}`),
          });
        });
      });
      req.end(body);
    });
  }
}

function positive(v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

function finiteOr(v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function describe(e: Error & { code?: string }): string {
  return e.code ? `${e.code} ${e.message.includes(e.code) ? '' : e.message}`.trim() : e.message;
}

function problemDetail(text: string): string {
  try {
    const j = JSON.parse(text) as { detail?: unknown; title?: unknown };
    if (typeof j.detail === 'string') return j.detail;
    if (typeof j.title === 'string') return j.title;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

// The client `withShipshape(handler)` and the SvelteKit hook use when none is passed: the last one
// created. Kept on globalThis so that Next.js dev reloads (several module copies) share it.
const KEY = Symbol.for('shipshape.sdk.node.client');

export function setDefaultClient(c: ShipshapeClient | undefined): void {
  (globalThis as Record<symbol, unknown>)[KEY] = c;
}

export function getDefaultClient(): ShipshapeClient | undefined {
  return (globalThis as Record<symbol, unknown>)[KEY] as ShipshapeClient | undefined;
}
