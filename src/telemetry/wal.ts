/**
 * The write-ahead log of acknowledged telemetry (`tel_wal`).
 *
 * Every ingest request appends one row before it is answered: the samples it gave the rollup, in
 * a compact form (an SDK batch in binary, `encodeSdkBatch`, about a fifth of its JSON; an OTLP
 * export as the samples its conversion produced, `Journal`: the converter keeps state across
 * requests, so its input would not replay to the same samples). Appends are
 * group-committed: one append is in flight at a time and the rows of everything that arrives
 * meanwhile go into the next one (one INSERT of many rows). A request waits for the append holding
 * its row, or for the checkpoint that covers it, whichever takes it.
 *
 * Row ids are assigned in memory in the order the samples were taken. A checkpoint (index.ts, every
 * 2 s) first lets the append in flight finish and holds new ones, then, synchronously, snapshots the
 * rollup and takes the rows not yet appended (their samples are in its snapshot: they are never
 * written). Its transaction writes the snapshot and deletes the rows up to the last id taken before
 * it, so after a crash `tel_open` holds the state of the last checkpoint and `tel_wal` exactly the
 * requests taken after it: `replayWal` re-ingests those into the restored rollup, nothing twice.
 */
import type { Logger } from 'pino';
import type { Store } from '../core/store/db.js';
import type { TelemetryTables, TelWalTable } from './migrations.js';
import { OtlpConverter, type ConvertResult } from './otlp/convert.js';
import type { Rollup, RollupTap } from './rollup.js';
import { SDK_FUTURE, SDK_PAST, type Batch } from './sdk.js';

export type WalKind = TelWalTable['kind'];

const CHUNK = 400;
const READ_PAGE = 200;

// ---- the samples of an OTLP request ----------------------------------------------------------------

const OP_REQUEST = 0;
const OP_VITAL = 1;
const OP_EVENT = 2;
const OP_METRIC = 3;
/** the record names new strings (else those of the record before, same op) */
const J_KEYS = 4;
/** the record has its own `at` (else that of the record before) */
const J_AT = 8;
const J_ERROR = 16;
/** the record has a count (else 1) */
const J_COUNT = 32;
const J_COUNTER = 64;
const V_JOURNAL = 2;

/**
 * The samples one request gave the rollup, in binary: `u8 version, u32 strings, (u32 bytes,
 * utf-8)…` then records `u8 flags` (op | J_KEYS | J_AT | J_ERROR | J_COUNT | J_COUNTER) followed
 * by, when J_KEYS, the string indexes (u32: requests service route, vitals service page name,
 * events service name, metrics service name labels-JSON), then `f64 value` (duration for
 * requests), `f64 at` when J_AT, `f64 count` when J_COUNT. Little-endian. Consecutive samples of
 * one series (an OTLP histogram point's buckets) cost 9 to 17 bytes each.
 */
export class Journal implements RollupTap {
  private readonly index = new Map<string, number>();
  private readonly strings: string[] = [];
  private buf = Buffer.allocUnsafe(16 * 1024);
  private o = 0;
  private prevOp = -1;
  private prevA: string | undefined;
  private prevB: string | undefined;
  private prevC: string | undefined;
  private prevLabels: Record<string, string> | undefined;
  private prevAt = NaN;
  private records = 0;

  get size(): number {
    return this.records;
  }

  private str(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  /** room for one record; returns the offset of its flags byte */
  private begin(op: number, same: boolean, at: number): number {
    if (this.o + 64 > this.buf.length) {
      const b = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(b, 0, 0, this.o);
      this.buf = b;
    }
    this.records++;
    const at0 = this.o;
    this.buf[this.o++] = op | (same && this.prevOp === op ? 0 : J_KEYS) | (Object.is(at, this.prevAt) ? 0 : J_AT);
    this.prevOp = op;
    return at0;
  }

  private tail(f: number, value: number, at: number, count: number): void {
    const b = this.buf;
    let flags = b[f] as number;
    this.o = b.writeDoubleLE(value, this.o);
    if (flags & J_AT) {
      this.o = b.writeDoubleLE(at, this.o);
      this.prevAt = at;
    }
    if (count !== 1) {
      flags |= J_COUNT;
      this.o = b.writeDoubleLE(count, this.o);
    }
    b[f] = flags;
  }

  request(service: string, route: string, durationMs: number, error: boolean, at: number, count: number): void {
    const f = this.begin(OP_REQUEST, service === this.prevA && route === this.prevB, at);
    if ((this.buf[f] as number) & J_KEYS) {
      this.o = this.buf.writeUInt32LE(this.str(service), this.o);
      this.o = this.buf.writeUInt32LE(this.str(route), this.o);
      this.prevA = service;
      this.prevB = route;
    }
    if (error) this.buf[f] = (this.buf[f] as number) | J_ERROR;
    this.tail(f, durationMs, at, count);
  }

  vital(service: string, page: string, name: string, value: number, at: number): void {
    const f = this.begin(OP_VITAL, service === this.prevA && page === this.prevB && name === this.prevC, at);
    if ((this.buf[f] as number) & J_KEYS) {
      this.o = this.buf.writeUInt32LE(this.str(service), this.o);
      this.o = this.buf.writeUInt32LE(this.str(page), this.o);
      this.o = this.buf.writeUInt32LE(this.str(name), this.o);
      this.prevA = service;
      this.prevB = page;
      this.prevC = name;
    }
    this.tail(f, value, at, 1);
  }

  event(service: string, name: string, value: number, count: number, at: number): void {
    const f = this.begin(OP_EVENT, service === this.prevA && name === this.prevB, at);
    if ((this.buf[f] as number) & J_KEYS) {
      this.o = this.buf.writeUInt32LE(this.str(service), this.o);
      this.o = this.buf.writeUInt32LE(this.str(name), this.o);
      this.prevA = service;
      this.prevB = name;
    }
    this.tail(f, value, at, count);
  }

  metric(service: string, name: string, labels: Record<string, string>, type: 'gauge' | 'counter', value: number, at: number): void {
    const f = this.begin(OP_METRIC, service === this.prevA && name === this.prevB && labels === this.prevLabels, at);
    if ((this.buf[f] as number) & J_KEYS) {
      this.o = this.buf.writeUInt32LE(this.str(service), this.o);
      this.o = this.buf.writeUInt32LE(this.str(name), this.o);
      this.o = this.buf.writeUInt32LE(this.str(JSON.stringify(labels)), this.o);
      this.prevA = service;
      this.prevB = name;
      this.prevLabels = labels;
    }
    if (type === 'counter') this.buf[f] = (this.buf[f] as number) | J_COUNTER;
    this.tail(f, value, at, 1);
  }

  encode(): Buffer {
    const head = this.strings.map((x) => Buffer.from(x, 'utf8'));
    let len = 5 + this.o;
    for (const h of head) len += 4 + h.length;
    const out = Buffer.allocUnsafe(len);
    out[0] = V_JOURNAL;
    let p = out.writeUInt32LE(head.length, 1);
    for (const h of head) {
      p = out.writeUInt32LE(h.length, p);
      p += h.copy(out, p);
    }
    this.buf.copy(out, p, 0, this.o);
    return out;
  }
}

/** Feed the samples of an encoded journal to a rollup again, with the ingest time they were taken at. */
export function replayJournal(rollup: Rollup, body: Uint8Array, now: number): void {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf[0] !== V_JOURNAL) throw new Error(`unknown journal encoding ${String(buf[0])}`);
  const n = buf.readUInt32LE(1);
  const s: string[] = [];
  let o = 5;
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt32LE(o);
    s.push(buf.toString('utf8', o + 4, o + 4 + len));
    o += 4 + len;
  }
  let a = '';
  let b = '';
  let c = '';
  let labels: Record<string, string> = {};
  let at = NaN;
  const u32 = () => {
    o += 4;
    return s[buf.readUInt32LE(o - 4)] as string;
  };
  const f64 = () => {
    o += 8;
    return buf.readDoubleLE(o - 8);
  };
  while (o < buf.length) {
    const flags = buf[o++] as number;
    const op = flags & 3;
    if (flags & J_KEYS) {
      a = u32();
      b = u32();
      if (op === OP_VITAL) c = u32();
      else if (op === OP_METRIC) labels = JSON.parse(u32()) as Record<string, string>;
    }
    const value = f64();
    if (flags & J_AT) at = f64();
    const count = flags & J_COUNT ? f64() : 1;
    if (op === OP_REQUEST) rollup.request(a, b, value, (flags & J_ERROR) !== 0, at, count, now);
    else if (op === OP_VITAL) rollup.vital(a, b, c, value, at, now);
    else if (op === OP_EVENT) rollup.event(a, b, value, count, at, now);
    else rollup.metric(a, b, labels, flags & J_COUNTER ? 'counter' : 'gauge', value, at, now);
  }
}

/** The OTLP converter, journaling the samples each export gives the rollup (`take()` hands them over). */
export class JournaledOtlp extends OtlpConverter {
  private taken: { at: number; journal: Journal } | undefined;

  constructor(
    private readonly target: Rollup,
    countFromNs: number,
  ) {
    super(target, countFromNs);
  }

  private journaled(now: number, convert: () => ConvertResult): ConvertResult {
    const journal = new Journal();
    this.taken = undefined;
    this.target.tap = journal;
    try {
      const r = convert();
      this.taken = { at: now, journal };
      return r;
    } finally {
      this.target.tap = undefined;
    }
  }

  override metrics(body: unknown, now: number): ConvertResult {
    return this.journaled(now, () => super.metrics(body, now));
  }

  override traces(body: unknown, now: number): ConvertResult {
    return this.journaled(now, () => super.traces(body, now));
  }

  /** The samples of the last export converted (once; undefined when it failed or was taken). */
  take(): { at: number; journal: Journal } | undefined {
    const t = this.taken;
    this.taken = undefined;
    return t;
  }
}

// ---- the log -----------------------------------------------------------------------------------------

interface Group {
  rows: TelWalTable[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { rows: [], promise, resolve, reject };
}

async function insertRows(store: Store<TelemetryTables>, rows: TelWalTable[]): Promise<void> {
  if (rows.length <= CHUNK) {
    await store.db.insertInto('tel_wal').values(rows).execute();
    return;
  }
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += CHUNK) await trx.insertInto('tel_wal').values(rows.slice(i, i + CHUNK)).execute();
  });
}

export class Wal {
  private nextId = 1;
  /** rows not written yet (the next append, or the next checkpoint's) */
  private current: Group | null = null;
  private appending: Promise<void> | null = null;
  /** checkpoints waiting for the append in flight: no new append starts */
  private holds = 0;
  private scheduled = false;
  /** highest id known to be in the table, and highest id a committed checkpoint deleted up to */
  private writtenUpTo = 0;
  private deletedUpTo = 0;
  /** appends (INSERTs) made, rows and body bytes they wrote: the group commit at work */
  readonly stats = { appends: 0, rows: 0, bytes: 0 };

  constructor(private readonly store: Store<TelemetryTables>) {}

  /**
   * Log the samples just taken; resolves once they are in the store (their row appended, or a
   * checkpoint covering them committed), rejects when that write failed (the samples stay in memory
   * and the next checkpoint writes them).
   */
  append(kind: WalKind, at: number, openFrom: number, body: Uint8Array): Promise<void> {
    const g = (this.current ??= newGroup());
    g.rows.push({ id: this.nextId++, at, kind, open_from: openFrom, body });
    if (!this.appending && !this.scheduled) {
      // let the requests that arrived in the same turn of the event loop join this append
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.kick();
      });
    }
    return g.promise;
  }

  private kick(): void {
    if (this.appending || this.holds > 0 || !this.current) return;
    const g = this.current;
    this.current = null;
    const upTo = (g.rows[g.rows.length - 1] as TelWalTable).id;
    this.stats.appends++;
    this.stats.rows += g.rows.length;
    for (const r of g.rows) this.stats.bytes += r.body.byteLength;
    this.appending = insertRows(this.store, g.rows)
      .then(
        () => {
          if (upTo > this.writtenUpTo) this.writtenUpTo = upTo;
          g.resolve();
        },
        (e: unknown) => g.reject(e),
      )
      .finally(() => {
        this.appending = null;
        this.kick();
      });
  }

  /**
   * Run a checkpoint: once no append is in flight, `write` is called and must take its snapshot of
   * the rollup synchronously (before its first await); the rows not appended yet are covered by it.
   * `write` gets the id up to which its transaction must delete rows (undefined: none are stored).
   */
  async checkpoint(write: (deleteUpTo: number | undefined) => Promise<void>): Promise<void> {
    this.holds++;
    try {
      while (this.appending) await this.appending;
    } finally {
      this.holds--;
    }
    const covered = this.current;
    this.current = null;
    const upTo = this.nextId - 1;
    try {
      await write(this.writtenUpTo > this.deletedUpTo ? upTo : undefined);
      if (upTo > this.deletedUpTo) this.deletedUpTo = upTo;
      covered?.resolve();
    } catch (e) {
      if (covered) {
        // not covered after all: append them (with the rows that came meanwhile)
        const g = (this.current ??= newGroup());
        g.rows.unshift(...covered.rows);
        g.promise.then(covered.resolve, covered.reject);
      }
      throw e;
    } finally {
      this.kick();
    }
  }

  /** Wait for the append in flight (a stop). */
  async idle(): Promise<void> {
    while (this.appending) await this.appending;
  }

  /**
   * At start, after the open buckets of the last checkpoint were restored: re-ingest the rows left
   * (requests answered after that checkpoint), oldest first. Returns how many rows were replayed.
   */
  async replay(rollup: Rollup, log: Logger): Promise<{ rows: number; failed: number }> {
    let after = 0;
    let rows = 0;
    let failed = 0;
    for (;;) {
      const page = await this.store.db.selectFrom('tel_wal').selectAll().where('id', '>', after).orderBy('id').limit(READ_PAGE).execute();
      if (page.length === 0) break;
      for (const r of page) {
        after = Number(r.id);
        rows++;
        const at = Number(r.at);
        const openFrom = Number(r.open_from);
        if (openFrom > rollup.openFrom) rollup.openFrom = openFrom;
        try {
          if (r.kind === 'sdk') replaySdkBatch(rollup, r.body, at);
          else replayJournal(rollup, r.body, at);
        } catch (e) {
          if (failed++ === 0) log.error({ err: e, id: after, kind: r.kind }, 'a telemetry write-ahead log row could not be replayed; skipping it');
        }
      }
    }
    if (after >= this.nextId) this.nextId = after + 1;
    if (after > this.writtenUpTo) this.writtenUpTo = after;
    return { rows, failed };
  }
}

// ---- the samples of an SDK batch -------------------------------------------------------------------

const V_SDK = 1;
const K_REQUEST = 0;
const K_VITAL = 1;
const K_EVENT = 2;
const F_ERROR = 4;
const F_COUNT = 8;
const F_AT = 16;

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The samples of a validated SDK batch, as `ingestBatch` takes them, in a compact binary form
 * (about 11 bytes a sample instead of the ~55 of its JSON; the WAL's cost is mostly the bytes the
 * store writes): `u8 version, u16 strings, (u16 bytes, utf-8)…, records…`, string 0 the service;
 * a record is `u8 tag` (kind | F_ERROR | F_COUNT | F_AT) then a request's `u16 route, f64
 * duration`, a vital's `u16 page, u16 name, f64 value` or an event's `u16 name, f64 value`, then
 * `u32 count` when F_COUNT and `i32 at - now` when F_AT (else the sample was taken at `now`).
 * Little-endian. `at` is the time the sample was taken at (after `ingestBatch`'s clock-skew rule).
 */
export function encodeSdkBatch(b: Batch, now: number): Buffer {
  const nReq = b.requests?.length ?? 0;
  const nVit = b.vitals?.length ?? 0;
  const nEv = b.events?.length ?? 0;
  const strings = new Map<string, number>();
  const list: string[] = [b.service];
  strings.set(b.service, 0);
  const idx = (s: string) => {
    let i = strings.get(s);
    if (i === undefined) {
      i = list.length;
      list.push(s);
      strings.set(s, i);
    }
    return i;
  };
  // records first (after room for the header's string table, written at the end)
  const recMax = nReq * 19 + nVit * 17 + nEv * 19;
  if (scratch.length < recMax) scratch = Buffer.allocUnsafe(recMax * 2);
  const buf = scratch;
  let o = 0;
  const lo = now - SDK_PAST;
  const hi = now + SDK_FUTURE;
  const tail = (flags: number, count: unknown, at: unknown) => {
    if (flags & F_COUNT) o = buf.writeUInt32LE(count as number, o);
    if (flags & F_AT) o = buf.writeInt32LE((at as number) - now, o);
  };
  const atFlag = (at: unknown) => (typeof at === 'number' && at >= lo && at <= hi && at !== now ? F_AT : 0);
  if (b.requests) {
    for (const x of b.requests as Record<string, unknown>[]) {
      const count = x.count;
      const flags = K_REQUEST | ((x.status as number) >= 500 || x.error === true ? F_ERROR : 0) | (count !== undefined && count !== 1 ? F_COUNT : 0) | atFlag(x.at);
      buf[o++] = flags;
      o = buf.writeUInt16LE(idx(x.route as string), o);
      o = buf.writeDoubleLE(x.duration_ms as number, o);
      tail(flags, count, x.at);
    }
  }
  if (b.vitals) {
    for (const x of b.vitals as Record<string, unknown>[]) {
      const flags = K_VITAL | atFlag(x.at);
      buf[o++] = flags;
      o = buf.writeUInt16LE(idx(x.page as string), o);
      o = buf.writeUInt16LE(idx(x.name as string), o);
      o = buf.writeDoubleLE(x.value as number, o);
      tail(flags, undefined, x.at);
    }
  }
  if (b.events) {
    for (const x of b.events as Record<string, unknown>[]) {
      const count = x.count;
      const flags = K_EVENT | (count !== undefined && count !== 1 ? F_COUNT : 0) | atFlag(x.at);
      buf[o++] = flags;
      o = buf.writeUInt16LE(idx(x.name as string), o);
      o = buf.writeDoubleLE((x.value as number | undefined) ?? 0, o);
      tail(flags, count, x.at);
    }
  }
  const head: Buffer[] = [];
  let headLen = 3;
  for (const s of list) {
    const sb = Buffer.from(s, 'utf8');
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16LE(sb.length, 0);
    head.push(len, sb);
    headLen += 2 + sb.length;
  }
  const out = Buffer.allocUnsafe(headLen + o);
  out[0] = V_SDK;
  out.writeUInt16LE(list.length, 1);
  let p = 3;
  for (const h of head) p += h.copy(out, p);
  buf.copy(out, p, 0, o);
  return out;
}

/** Feed the samples of an encoded SDK batch to a rollup again, with the ingest time they were taken at. */
export function replaySdkBatch(rollup: Rollup, body: Uint8Array, now: number): void {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf[0] !== V_SDK) throw new Error(`unknown SDK batch encoding ${String(buf[0])}`);
  const n = buf.readUInt16LE(1);
  const s: string[] = [];
  let o = 3;
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt16LE(o);
    s.push(buf.toString('utf8', o + 2, o + 2 + len));
    o += 2 + len;
  }
  const service = s[0] as string;
  while (o < buf.length) {
    const flags = buf[o++] as number;
    const kind = flags & 3;
    if (kind === K_REQUEST) {
      const route = s[buf.readUInt16LE(o)] as string;
      const d = buf.readDoubleLE(o + 2);
      o += 10;
      const count = flags & F_COUNT ? buf.readUInt32LE((o += 4) - 4) : 1;
      const at = flags & F_AT ? now + buf.readInt32LE((o += 4) - 4) : now;
      rollup.request(service, route, d, (flags & F_ERROR) !== 0, at, count, now);
    } else if (kind === K_VITAL) {
      const page = s[buf.readUInt16LE(o)] as string;
      const name = s[buf.readUInt16LE(o + 2)] as string;
      const v = buf.readDoubleLE(o + 4);
      o += 12;
      const at = flags & F_AT ? now + buf.readInt32LE((o += 4) - 4) : now;
      rollup.vital(service, page, name, v, at, now);
    } else if (kind === K_EVENT) {
      const name = s[buf.readUInt16LE(o)] as string;
      const v = buf.readDoubleLE(o + 2);
      o += 10;
      const count = flags & F_COUNT ? buf.readUInt32LE((o += 4) - 4) : 1;
      const at = flags & F_AT ? now + buf.readInt32LE((o += 4) - 4) : now;
      rollup.event(service, name, v, count, at, now);
    } else throw new Error(`unknown SDK sample kind ${kind}`);
  }
}
