/**
 * ingest: telemetry intake of the real server (`shipshape up`, nothing but `ingest:` configured).
 * (a) SDK batches (`POST /api/v1/ingest`, 1,000 items each, 6 concurrent keep-alive requests) for
 *     20 s: accepted events/s, the server's CPU (% of one core, /proc) and events/s per core.
 * (b) OTLP JSON (`POST /v1/metrics`): delta histogram points of `http.server.request.duration`
 *     over a fixed set of series, 15 s: accepted data points/s.
 * (c) a fresh server fed 10,000 distinct request series (100 services × 100 routes) for 30 s:
 *     RSS (/proc and `shipshape_process_resident_memory_bytes`) and V8 heap used.
 * The request bodies are built before the clock starts (the load generator shares the machine).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { value } from '../lib/prom.js';
import { clockTicks, cpuTicks, removeTempDir, rssBytes, stopChild, tempDir, waitForQuiet } from '../lib/proc.js';
import { MB, row, type Row } from '../lib/report.js';
import { scrape, startServer, type Server } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

export const INGEST_TOKEN = 'bench_ingest_token_5f3a9c1e';
export const INGEST_CONFIG = `ingest: { tokens: ["${INGEST_TOKEN}"], rate_limit: { requests: 1000000, per: 1m }, max_body: 50MB, max_series: 20000 }\n`;

const SDK_S = 20;
const OTLP_S = 15;
const SERIES_S = 30;
const CONCURRENCY = 6;
const BATCH = 1000;

interface LoadResult {
  seconds: number;
  requests: number;
  accepted: number;
  rejected: number;
  failures: number;
  statuses: Record<string, number>;
  cpuPct: number;
}

/** `CONCURRENCY` loops posting `body(i)` for `seconds`; the server's CPU is read from /proc around it. */
async function drive(server: Server, path: string, seconds: number, body: (i: number) => string, count: (status: number, text: string, i: number) => { accepted: number; rejected: number }): Promise<LoadResult> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
  const res: LoadResult = { seconds: 0, requests: 0, accepted: 0, rejected: 0, failures: 0, statuses: {}, cpuPct: 0 };
  let seq = 0;
  const c0 = cpuTicks(server.child.pid);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const i = seq++;
      try {
        const r = await request(`${server.url}${path}`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
          body: body(i),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const text = await r.body.text();
        res.requests++;
        res.statuses[r.statusCode] = (res.statuses[r.statusCode] ?? 0) + 1;
        const c = count(r.statusCode, text, i);
        res.accepted += c.accepted;
        res.rejected += c.rejected;
      } catch {
        res.failures++;
        if (res.failures > 50) throw new Error(`more than 50 failed requests to ${path}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const t1 = performance.now();
  const c1 = cpuTicks(server.child.pid);
  await agent.close();
  res.seconds = (t1 - t0) / 1000;
  res.cpuPct = ((c1 - c0) / clockTicks() / res.seconds) * 100;
  return res;
}

/** SDK batches: half requests, half events, over 20 routes and 5 event names of one of 4 services. */
function sdkBodies(): string[] {
  const out: string[] = [];
  for (let v = 0; v < 8; v++) {
    const requests = [];
    const events = [];
    for (let k = 0; k < BATCH / 2; k++) {
      const n = v * BATCH + k;
      requests.push({ route: `/api/r${n % 20}/:id`, method: n % 3 === 0 ? 'POST' : 'GET', status: n % 50 === 0 ? 500 : 200, duration_ms: 1 + ((n * 7919) % 400) / 3 });
      events.push({ name: `event.${n % 5}`, value: n % 100 });
    }
    out.push(JSON.stringify({ service: `ingest-${v % 4}`, requests, events }));
  }
  return out;
}

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * An ExportMetricsServiceRequest: 4 services × 250 delta histogram points (25 routes × 2 methods
 * × 5 status codes: distinct attribute sets over 100 request series), timestamps of request `i`.
 */
function otlpBody(i: number): { text: string; points: number } {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const start = String(nowNs - 1_000_000_000n);
  const end = String(nowNs);
  let points = 0;
  const resourceMetrics = [];
  for (let s = 0; s < 4; s++) {
    const dataPoints = [];
    for (let r = 0; r < 25; r++)
      for (const method of ['GET', 'POST'])
        for (const status of [200, 201, 404, 500, 503]) {
          const bucketCounts: string[] = BOUNDS.map((_, b) => String((b * 3 + r + i) % 5)).concat(['0']);
          const count = bucketCounts.reduce((a, c) => a + Number(c), 0) || 1;
          if (count === 1 && bucketCounts.every((c) => Number(c) === 0)) bucketCounts[0] = '1';
          dataPoints.push({
            attributes: [
              { key: 'http.route', value: { stringValue: `/otlp/r${r}/:id` } },
              { key: 'http.request.method', value: { stringValue: method } },
              { key: 'http.response.status_code', value: { intValue: String(status) } },
            ],
            startTimeUnixNano: start,
            timeUnixNano: end,
            count: String(count),
            sum: count * 0.08,
            bucketCounts,
            explicitBounds: BOUNDS,
          });
          points++;
        }
    resourceMetrics.push({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `otlp-${s}` } }] },
      scopeMetrics: [{ scope: { name: 'bench' }, metrics: [{ name: 'http.server.request.duration', unit: 's', histogram: { aggregationTemporality: 1, dataPoints } }] }],
    });
  }
  return { text: JSON.stringify({ resourceMetrics }), points };
}

/** 100 services × 100 routes; body `i` is one service's 100 routes, 10 requests each. */
export function seriesBodies(): string[] {
  const out: string[] = [];
  for (let s = 0; s < 100; s++) {
    const requests = [];
    for (let k = 0; k < BATCH; k++) requests.push({ route: `/s${s}/route-${k % 100}`, method: 'GET', status: k % 40 === 0 ? 503 : 200, duration_ms: 2 + (k % 97) });
    out.push(JSON.stringify({ service: `svc-${String(s).padStart(3, '0')}`, requests }));
  }
  return out;
}

/** The server's write-ahead log counters (`shipshape_telemetry_wal_total`), null when it has none. */
async function walStats(server: Server): Promise<{ appends: number; rows: number; bytes: number } | null> {
  const m = await scrape(server.url);
  const get = (what: string) => m.find((s) => s.name === 'shipshape_telemetry_wal_total' && s.labels.what === what)?.value;
  const appends = get('appends');
  const rowsN = get('rows');
  const bytes = get('bytes');
  return appends === undefined || rowsN === undefined || bytes === undefined ? null : { appends, rows: rowsN, bytes };
}

const sdkCount = (status: number, text: string) => {
  if (status !== 202) return { accepted: 0, rejected: BATCH };
  const r = JSON.parse(text) as { accepted: number; dropped: number };
  return { accepted: r.accepted, rejected: r.dropped };
};

export async function runIngest(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('ingest');
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  let server: Server | undefined;
  const stop = async () => {
    if (!server) return;
    const s = server;
    server = undefined;
    const code = await stopChild(s.child);
    if (code !== 0) ctx.log(`ingest: shipshape exited with ${code}; last output:\n${s.child.output().slice(-2000)}`);
  };
  try {
    raw.others_cpu_pct_before = await waitForQuiet(ctx.log, 'ingest');
    server = await startServer({ dir, configYaml: INGEST_CONFIG, dataDir: join(dir, 'data') });
    ctx.log(`ingest: server pid ${server.child.pid} up in ${(server.startupMs / 1000).toFixed(1)}s`);

    // (a) SDK batches
    const bodies = sdkBodies();
    await drive(server, '/api/v1/ingest', 2, (i) => bodies[i % bodies.length] as string, sdkCount); // warm-up
    const walBefore = await walStats(server);
    ctx.log(`ingest: SDK batches of ${BATCH}, ${CONCURRENCY} concurrent, ${SDK_S}s…`);
    const a = await drive(server, '/api/v1/ingest', SDK_S, (i) => bodies[i % bodies.length] as string, sdkCount);
    const eps = a.accepted / a.seconds;
    const perCore = a.cpuPct > 0 ? eps / (a.cpuPct / 100) : null;
    rows.push(row({ scenario: 'ingest', metric: 'SDK batch events/s (accepted)', goal: '>= 200000 /s', value: eps, unit: '/s', pass: eps >= 200_000 && a.rejected === 0, note: a.rejected || a.failures ? `${a.rejected} items not accepted, ${a.failures} failed requests, statuses ${JSON.stringify(a.statuses)}` : undefined }));
    rows.push(row({ scenario: 'ingest', metric: 'server CPU during SDK load (% of one core)', goal: '', value: a.cpuPct, unit: '%', pass: null }));
    rows.push(row({ scenario: 'ingest', metric: 'SDK events/s per core', goal: '>= 1000000 /s', value: perCore, unit: '/s', pass: perCore === null ? null : perCore >= 1_000_000, note: 'accepted events/s ÷ (server CPU / 100 %): the throughput one core of the server sustains; every 202 is answered after the batch\'s row is in the write-ahead log in the store (issue 7, item 11)' }));
    const walAfter = await walStats(server);
    if (walBefore && walAfter && walAfter.appends > walBefore.appends) {
      const rowsPerAppend = (walAfter.rows - walBefore.rows) / (walAfter.appends - walBefore.appends);
      const bytesPerEvent = a.accepted > 0 ? (walAfter.bytes - walBefore.bytes) / a.accepted : null;
      rows.push(row({ scenario: 'ingest', metric: 'WAL rows per INSERT during SDK load (group commit)', goal: '', value: rowsPerAppend, unit: '', pass: null, note: `${walAfter.appends - walBefore.appends} INSERTs for ${walAfter.rows - walBefore.rows} requests; ${bytesPerEvent === null ? '?' : bytesPerEvent.toFixed(1)} WAL bytes per event` }));
      raw.wal = { before: walBefore, after: walAfter, rows_per_append: rowsPerAppend, bytes_per_event: bytesPerEvent };
    }
    raw.sdk = { ...a, events_per_s: eps, events_per_core_s: perCore, batch: BATCH, concurrency: CONCURRENCY };

    // (b) OTLP JSON
    const pre = Array.from({ length: 16 }, (_, i) => otlpBody(i));
    let otlpPoints = 0;
    const otlpCount = (status: number, text: string, i: number) => {
      const n = (pre[i % pre.length] as { points: number }).points;
      if (status !== 200) return { accepted: 0, rejected: n };
      const r = JSON.parse(text || '{}') as { partialSuccess?: { rejectedDataPoints?: number | string } };
      const rej = Number(r.partialSuccess?.rejectedDataPoints ?? 0);
      otlpPoints += n;
      return { accepted: n - rej, rejected: rej };
    };
    // fresh timestamps every round of 16 bodies (delta points: each one counts)
    let round = 0;
    const otlpText = (i: number) => {
      const r = Math.floor(i / pre.length);
      if (r !== round) {
        round = r;
        for (let k = 0; k < pre.length; k++) pre[k] = otlpBody(r * pre.length + k);
      }
      return (pre[i % pre.length] as { text: string }).text;
    };
    ctx.log(`ingest: OTLP JSON, ${(pre[0] as { points: number }).points} histogram points per request, ${OTLP_S}s…`);
    const b = await drive(server, '/v1/metrics', OTLP_S, otlpText, otlpCount);
    const pps = b.accepted / b.seconds;
    rows.push(row({ scenario: 'ingest', metric: 'OTLP JSON histogram points/s (accepted)', goal: '', value: pps, unit: '/s', pass: null, note: b.rejected || b.failures ? `${b.rejected} points rejected, ${b.failures} failed requests, statuses ${JSON.stringify(b.statuses)}` : undefined }));
    rows.push(row({ scenario: 'ingest', metric: 'server CPU during OTLP load (% of one core)', goal: '', value: b.cpuPct, unit: '%', pass: null }));
    raw.otlp = { ...b, points_per_s: pps, points_sent: otlpPoints, body_bytes: (pre[0] as { text: string }).text.length };
    await stop();

    // (c) RSS at 10k series, fresh server
    server = await startServer({ dir, configYaml: INGEST_CONFIG, dataDir: join(dir, 'data-series') });
    const rss0 = rssBytes(server.child.pid);
    const heap0 = value(await scrape(server.url), 'nodejs_heap_size_used_bytes');
    const sb = seriesBodies();
    ctx.log(`ingest: 10,000 series (100 services × 100 routes), ${SERIES_S}s…`);
    const srv = server;
    const c = await drive(
      srv,
      '/api/v1/ingest',
      SERIES_S,
      (i) => sb[i % sb.length] as string,
      (status, text) => sdkCount(status, text),
    );
    // heap used includes garbage not yet collected: the least of 6 readings over 6 s stands for the live heap
    let m = await scrape(srv.url);
    let heap = value(m, 'nodejs_heap_size_used_bytes');
    for (let k = 0; k < 5; k++) {
      await sleep(1000);
      const mk = await scrape(srv.url);
      const hk = value(mk, 'nodejs_heap_size_used_bytes');
      if (hk !== null && (heap === null || hk < heap)) {
        heap = hk;
        m = mk;
      }
    }
    const seriesNames = m.filter((s) => /series/.test(s.name)).map((s) => `${s.name}${JSON.stringify(s.labels)}=${s.value}`);
    const rssProc = rssBytes(srv.child.pid);
    const rssMetric = value(m, 'process_resident_memory_bytes');
    rows.push(row({ scenario: 'ingest', metric: 'RSS at 10k series (/proc VmRSS)', goal: '', value: rssProc / MB, unit: 'MB', pass: null, note: `fed ${c.accepted} requests over ${c.seconds.toFixed(0)}s; ${c.rejected} dropped; RSS at start ${(rss0 / MB).toFixed(0)} MB` }));
    rows.push(row({ scenario: 'ingest', metric: 'RSS at 10k series (process_resident_memory_bytes)', goal: '', value: rssMetric === null ? null : rssMetric / MB, unit: 'MB', pass: null }));
    rows.push(row({ scenario: 'ingest', metric: 'V8 heap used at 10k series', goal: '', value: heap === null ? null : heap / MB, unit: 'MB', pass: null }));
    const seriesNow = value(m, 'shipshape_telemetry_series');
    const perSeries = heap === null || !seriesNow ? null : heap / seriesNow / 1024;
    rows.push(row({ scenario: 'ingest', metric: 'V8 heap per series at 10k series', goal: '<= 4 KB', value: perSeries, unit: 'KB', pass: perSeries === null ? null : perSeries <= 4, note: `least heap used of 6 readings over 6 s after the load ÷ shipshape_telemetry_series (includes the process baseline${heap0 === null ? '' : `, ${(heap0 / MB).toFixed(1)} MB with no series`})` }));
    if (heap !== null && heap0 !== null && seriesNow) rows.push(row({ scenario: 'ingest', metric: 'V8 heap per series at 10k series, above the baseline', goal: '', value: (heap - heap0) / seriesNow / 1024, unit: 'KB', pass: null, note: 'heap used after the load minus heap used at start, ÷ series' }));
    raw.series = { ...c, heap_start: heap0, rss_start: rss0, rss_proc: rssProc, rss_metric: rssMetric, heap_used: heap, series_metrics: seriesNames.slice(0, 20) };
    if (seriesNames.length) ctx.log(`ingest: series metrics: ${seriesNames.slice(0, 6).join(', ')}`);
    return { rows, raw };
  } finally {
    await stop();
    removeTempDir(dir);
  }
}
