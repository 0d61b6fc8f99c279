/**
 * The telemetry write-ahead log (src/telemetry/wal.ts): group commit, checkpoints that delete the
 * rows they cover, and a replay that counts each acknowledged request exactly once, through
 * kill -9 between an answer and the next checkpoint and again right after the replay.
 */
import { ChildServers } from '../helpers/child-server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RootStore } from '../../src/modules.js';
import type { Store } from '../../src/core/store/db.js';
import type { TelemetryTables } from '../../src/telemetry/migrations.js';
import { Rollup, type Series } from '../../src/telemetry/rollup.js';

/** What a rollup holds for some series (their open buckets): counts, sums, extremes, newest values. */
function totals(list: Series[]) {
  const o = { series: list.length, count: 0, errors: 0, sum: 0, min: Infinity, max: -Infinity, last: [] as number[] };
  for (const s of list)
    for (const b of s.open10) {
      o.count += b.count;
      o.errors += b.errors;
      o.sum += b.sum;
      o.min = Math.min(o.min, b.min);
      o.max = Math.max(o.max, b.max);
      o.last.push(b.last);
    }
  return o;
}
import { parseBatch, ingestBatch } from '../../src/telemetry/sdk.js';
import { encodeSdkBatch, Journal, replayJournal, replaySdkBatch, Wal } from '../../src/telemetry/wal.js';
import { storeTargets } from '../helpers/stores.js';

const TOKEN = 'wal-test-ingest-token-3b9f1c';
const ADMIN = 'wal-test-admin-token-0123456789';
let dir: string;
let servers: ChildServers;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-wal-'));
  servers = new ChildServers(dir, { SHIPSHAPE_ADMIN_TOKEN: ADMIN });
});
afterAll(() => {
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

const up = (config: string, data: string) => servers.up(config, data);

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });

const sdkBatch = (n: number, at: number) => ({ service: 'web', requests: Array.from({ length: n }, (_, i) => ({ route: '/pay', status: i % 10 === 0 ? 500 : 200, duration_ms: 20 + i, at })), events: [{ name: 'signup', count: n }] });

/** `n` SERVER spans of service `api` (they become requests: no request metrics from `api`) */
function traces(n: number, at: number, salt: number) {
  const ns = BigInt(at) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: `c7ad6b716920${String(salt).padStart(2, '0')}${String(i).padStart(2, '0')}`, name: 'GET /items', kind: 2, startTimeUnixNano: String(ns), endTimeUnixNano: String(ns + 25_000_000n), attributes: [{ key: 'http.route', value: { stringValue: '/items' } }, { key: 'http.response.status_code', value: { intValue: '200' } }], status: {} }));
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] }, scopeSpans: [{ spans }] }] };
}

/** one delta `http.server.request.duration` histogram point of service `mx`: 5 requests to /m */
function metrics(at: number) {
  const ns = BigInt(at) * 1_000_000n;
  const point = { attributes: [{ key: 'http.route', value: { stringValue: '/m' } }, { key: 'http.response.status_code', value: { intValue: '200' } }], startTimeUnixNano: String(ns - 1_000_000_000n), timeUnixNano: String(ns), count: '5', sum: 0.6, bucketCounts: ['2', '3', '0'], explicitBounds: [0.1, 0.5] };
  return { resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mx' } }] }, scopeMetrics: [{ metrics: [{ name: 'http.server.request.duration', unit: 's', histogram: { aggregationTemporality: 1, dataPoints: [point] } }] }] }] };
}

describe('the write-ahead log through kill -9', () => {
  it('replays what was answered after the last checkpoint exactly once (SDK, OTLP metrics and traces)', async () => {
    const config = join(dir, 'shipshape.yaml');
    writeFileSync(config, `services:\n  web: {}\n  api: {}\n  mx: {}\ningest:\n  tokens: ["${TOKEN}"]\n`);
    const data = join(dir, 'data');
    const first = await up(config, data);
    const now = Date.now();
    // A: answered, then covered by a checkpoint (every 2s) before the crash
    expect((await post(first.url, '/api/v1/ingest', sdkBatch(30, now))).status).toBe(202);
    expect((await post(first.url, '/v1/traces', traces(4, now, 1))).status).toBe(200);
    expect((await post(first.url, '/v1/metrics', metrics(now))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 4_500));
    // B: answered, then kill -9 before the next checkpoint: only in the log
    const b = await Promise.all([post(first.url, '/api/v1/ingest', sdkBatch(20, now)), post(first.url, '/v1/traces', traces(3, now, 2)), post(first.url, '/v1/metrics', metrics(now))]);
    expect(b.map((r) => r.status)).toEqual([202, 200, 200]);
    first.child.kill('SIGKILL');
    await first.exited;

    const counts = async (url: string) => {
      const chart = async (service: string) => {
        const r = await fetch(`${url}/api/v1/services/${service}/telemetry`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(r.status).toBe(200);
        const c = (await r.json()) as { routes: { route: string; requests: number }[] };
        return Object.fromEntries(c.routes.map((x) => [x.route, x.requests]));
      };
      return { web: await chart('web'), api: await chart('api'), mx: await chart('mx') };
    };
    const sent = { web: { '/pay': 50 }, api: { '/items': 7 }, mx: { '/m': 10 } };

    // the replay is checkpointed before the server listens: a second kill -9 right away must not count it again
    const second = await up(config, data);
    expect(await counts(second.url)).toEqual(sent);
    second.child.kill('SIGKILL');
    await second.exited;

    const third = await up(config, data);
    try {
      expect(await counts(third.url)).toEqual(sent);
    } finally {
      third.child.kill('SIGTERM');
      await third.exited;
    }
    const db = new Database(join(data, 'shipshape.db'), { readonly: true });
    try {
      expect(db.prepare('select count(*) as n from tel_wal').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});

describe('the samples of an SDK batch', () => {
  it('replay to what ingestBatch took (clock skew, counts, errors, vitals, events)', () => {
    const now = Date.UTC(2025, 0, 6, 12, 0, 7);
    const batch = parseBatch(
      JSON.stringify({
        service: 'shop',
        requests: [
          { route: '/a', status: 200, duration_ms: 12.345 },
          { route: '/a', status: 503, duration_ms: 900, at: now - 25_000 },
          { route: '/b', status: 200, duration_ms: 0.1, error: true, count: 7, at: now + 30_000 },
          { route: '/ü', status: 200, duration_ms: 3, at: now - 3_600_000 },
        ],
        vitals: [{ page: '/', name: 'LCP', value: 1800, at: now - 11_000 }, { page: '/p', name: 'CLS', value: 0.05 }],
        events: [{ name: 'signup', value: 3, count: 2 }, { name: 'paid', at: now - 1 }],
      }),
    );
    const a = new Rollup({ maxSeries: () => 1000, collect: false });
    ingestBatch(a, batch, now);
    const b = new Rollup({ maxSeries: () => 1000, collect: false });
    const enc = encodeSdkBatch(batch, now);
    replaySdkBatch(b, new Uint8Array(enc), now);
    for (const kind of ['requests', 'vitals', 'events'] as const) {
      const x = totals(a.match(kind, 'shop', undefined));
      const y = totals(b.match(kind, 'shop', undefined));
      expect({ ...y, sketch: null }).toEqual({ ...x, sketch: null });
      for (const s of a.match(kind, 'shop', undefined)) expect(b.find(kind, 'shop', s.def.name, s.def.sub)?.open10.map((o) => [o.t, o.count, o.errors, o.sum])).toEqual(s.open10.map((o) => [o.t, o.count, o.errors, o.sum]));
    }
    expect(enc.length).toBeLessThan(JSON.stringify(batch).length);
  });
});

describe('the journal of an OTLP request', () => {
  it('replays to the same samples (non-finite numbers included)', () => {
    const now = Date.UTC(2025, 0, 6, 12, 0, 0);
    const a = new Rollup({ maxSeries: () => 1000, collect: false });
    const j = new Journal();
    a.tap = j;
    a.request('svc', '/r', 12.5, true, now - 1000, 3, now);
    a.request('svc', '/r', Number.NaN, false, Number.NaN, 1, now);
    a.vital('svc', '/', 'LCP', 1800, now, now);
    a.event('svc', 'signup', 4, 2, now, now);
    a.metric('svc', 'queue_depth', { queue: 'mail' }, 'gauge', 7, now, now);
    a.metric('svc', 'jobs_total', {}, 'counter', 10, now, now);
    a.metric('svc', 'jobs_total', {}, 'counter', 15, now + 1, now);
    a.tap = undefined;
    const b = new Rollup({ maxSeries: () => 1000, collect: false });
    replayJournal(b, j.encode(), now);
    for (const kind of ['requests', 'vitals', 'events', 'metrics'] as const) {
      const x = totals(a.match(kind, 'svc', undefined));
      const y = totals(b.match(kind, 'svc', undefined));
      expect({ ...y, sketch: null }).toEqual({ ...x, sketch: null });
    }
  });
});

for (const target of storeTargets) {
  describe(`the write-ahead log on ${target.name}`, () => {
    let made: Awaited<ReturnType<typeof target.make>>;
    let root: RootStore;
    let store: Store<TelemetryTables>;
    beforeEach(async () => {
      made = await target.make();
      root = await made.open();
      store = root as unknown as Store<TelemetryTables>;
    });
    afterEach(async () => {
      vi.restoreAllMocks();
      await root.close();
      await made.cleanup();
    });
    const ids = async () => (await store.db.selectFrom('tel_wal').select('id').orderBy('id').execute()).map((r) => Number(r.id));

    it('group-commits the requests that arrive together in one INSERT', async () => {
      const wal = new Wal(store);
      const insert = vi.spyOn(store.db, 'insertInto');
      await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append('sdk', 1000 + i, 0, Buffer.from(`{"i":${i}}`))));
      expect(insert.mock.calls.filter((c) => c[0] === 'tel_wal')).toHaveLength(1);
      expect(await ids()).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('a checkpoint deletes the rows it covers and takes the ones not yet written; a failed one gives them back', async () => {
      const wal = new Wal(store);
      await Promise.all([wal.append('sdk', 1, 0, Buffer.from('a')), wal.append('sdk', 2, 0, Buffer.from('b'))]);
      // appended but not written yet when the checkpoint snapshots: covered by it, never written
      const late = wal.append('otlp_traces', 3, 0, Buffer.from('c'));
      let upTo: number | undefined;
      await wal.checkpoint(async (u) => {
        upTo = u;
        await store.db.deleteFrom('tel_wal').where('id', '<=', u as number).execute();
      });
      await late;
      expect(upTo).toBe(3);
      expect(await ids()).toEqual([]);
      // nothing stored since: the next checkpoint has nothing to delete
      await wal.checkpoint(async (u) => {
        upTo = u;
      });
      expect(upTo).toBeUndefined();
      // a failed checkpoint: the rows it took are appended after all
      const after = wal.append('sdk', 4, 0, Buffer.from('d'));
      await expect(wal.checkpoint(() => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
      await after;
      expect(await ids()).toEqual([4]);
    });

    it('replays the rows left in order and continues their ids', async () => {
      const now = Date.UTC(2025, 0, 6, 12, 0, 5);
      const first = new Wal(store);
      const batch = (n: number) => encodeSdkBatch({ service: 'web', requests: Array.from({ length: n }, () => ({ route: '/', status: 200, duration_ms: 5 })) }, now);
      await Promise.all([first.append('sdk', now, now - 10_000, batch(3)), first.append('sdk', now, now - 10_000, batch(4))]);
      const rollup = new Rollup({ maxSeries: () => 1000, collect: true });
      const second = new Wal(store);
      const log = { error: vi.fn() } as unknown as Logger;
      expect(await second.replay(rollup, log)).toEqual({ rows: 2, failed: 0 });
      expect(rollup.openFrom).toBe(now - 10_000);
      expect(totals(rollup.match('requests', 'web', undefined)).count).toBe(7);
      await second.append('sdk', now, 0, batch(1));
      expect(await ids()).toEqual([1, 2, 3]);
    });
  });
}
