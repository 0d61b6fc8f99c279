/**
 * soak: telemetry memory over time (issue 7, item 19). A fresh `shipshape up` (only `ingest:`
 * configured) is fed 10,000 request series (100 services × 100 routes, the bodies of the ingest
 * scenario's part (c)) at a steady rate: every service sends one batch of 1,000 requests (10 per
 * route) every `BENCH_SOAK_EVERY_S` seconds (default 5: 20,000 events/s), for `BENCH_SOAK_MIN`
 * minutes (default 120); at most 8 requests are in flight (a batch due while 8 wait is skipped and
 * counted). The V8 heap used (`nodejs_heap_size_used_bytes`) is read every 10 s. Heap used includes
 * garbage not yet collected, so the least reading of each 2-minute window stands for the live heap
 * of that window (the lows of the GC sawtooth). Reported: heap per series at the end (the least
 * reading of the last 3 minutes), and the growth per hour: the least-squares slope of the 2-minute
 * lows from minute 2 on, extrapolated to an hour (a short run says so).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { value } from '../lib/prom.js';
import { removeTempDir, rssBytes, stopChild, tempDir } from '../lib/proc.js';
import { heapSnapArgs, snapshotProcess } from '../lib/heapsnap.js';
import { MB, row, type Row } from '../lib/report.js';
import { scrape, startServer, type Server } from '../lib/shipshape.js';
import { INGEST_CONFIG, INGEST_TOKEN, seriesBodies } from './ingest.js';
import type { ScenarioContext } from './types.js';

const SAMPLE_S = 10;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number | null {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export async function runSoak(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const minutes = Math.max(3, Number(process.env.BENCH_SOAK_MIN ?? 120));
  const everyS = Math.max(1, Number(process.env.BENCH_SOAK_EVERY_S ?? 5));
  const dir = tempDir('soak');
  let server: Server | undefined;
  const agent = new Agent({ connections: 4, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    server = await startServer({ dir, configYaml: INGEST_CONFIG, dataDir: join(dir, 'data'), nodeArgs: heapSnapArgs() });
    const srv = server;
    // the fresh server's heap (least of 3 readings): what the process holds before any series
    let heap0: number | null = null;
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      const h = value(await scrape(srv.url), 'nodejs_heap_size_used_bytes');
      if (h !== null) heap0 = heap0 === null ? h : Math.min(heap0, h);
    }
    const bodies = seriesBodies();
    ctx.log(`soak: 10,000 series, one batch per service every ${everyS}s (${Math.round((bodies.length * 1000) / everyS)} events/s), ${minutes} min…`);
    const t0 = performance.now();
    const end = t0 + minutes * 60_000;
    let failures = 0;
    let sent = 0;
    let skipped = 0;
    let inFlight = 0;
    let stopping = false;
    // the feeder: each round posts the 100 bodies spread over `everyS` seconds
    const feeder = (async () => {
      let i = 0;
      const gap = (everyS * 1000) / bodies.length;
      let next = performance.now();
      while (!stopping && performance.now() < end) {
        const body = bodies[i++ % bodies.length] as string;
        if (inFlight >= 8) skipped++;
        else {
          inFlight++;
          void request(`${srv.url}/api/v1/ingest`, { method: 'POST', dispatcher: agent, headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' }, body })
          .then(async (r) => {
            await r.body.text();
            if (r.statusCode === 202) sent++;
            else failures++;
          })
          .catch(() => {
            failures++;
          })
          .finally(() => inFlight--);
        }
        next += gap;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
    })();
    const samples: { t: number; heap: number; series: number; rss: number }[] = [];
    while (performance.now() < end) {
      await sleep(SAMPLE_S * 1000);
      const m = await scrape(srv.url);
      const heap = value(m, 'nodejs_heap_size_used_bytes');
      const series = value(m, 'shipshape_telemetry_series');
      if (heap !== null && series !== null) samples.push({ t: (performance.now() - t0) / 60_000, heap, series, rss: rssBytes(srv.child.pid) });
      const last = samples[samples.length - 1];
      if (samples.length % 6 === 0 && last) ctx.log(`soak: ${last.t.toFixed(1)} min, heap ${(last.heap / MB).toFixed(1)} MB, ${last.series} series, RSS ${(last.rss / MB).toFixed(0)} MB`);
      if (failures > 50) throw new Error(`more than 50 failed ingest requests (${failures})`);
    }
    stopping = true;
    await feeder;
    await snapshotProcess(srv.child.pid, 'soak', ctx.log);
    // per-2-minute minima
    const perMin = new Map<number, { heap: number; series: number; rss: number }>();
    for (const s of samples) {
      const k = Math.floor(s.t / 2) * 2;
      const p = perMin.get(k);
      if (!p || s.heap < p.heap) perMin.set(k, { heap: s.heap, series: s.series, rss: s.rss });
    }
    const mins = [...perMin.entries()].sort((a, b) => a[0] - b[0]);
    const tail = samples.filter((x) => x.t >= minutes - 3);
    const heapEnd = Math.min(...tail.map((x) => x.heap));
    const seriesEnd = Math.max(...tail.map((x) => x.series));
    const first = mins.find(([k]) => k >= 2)?.[1];
    const after = mins.filter(([k]) => k >= 2 && k + 2 <= minutes);
    const perMinSlope = slope(
      after.map(([k]) => k + 1),
      after.map(([, v]) => v.heap),
    );
    const perHour = perMinSlope === null ? null : (perMinSlope * 60) / MB;
    const perSeries = seriesEnd > 0 ? heapEnd / seriesEnd / 1024 : null;
    const short = minutes < 120 ? ` (a ${minutes}-minute run: the slope of its 2-minute lows, extrapolated to an hour)` : '';
    const rows: Row[] = [
      row({ scenario: 'soak', metric: `V8 heap per series after ${minutes} min at 10k series`, goal: '<= 4 KB', value: perSeries, unit: 'KB', pass: perSeries === null ? null : perSeries <= 4, note: `least heap used read in the last 3 minutes ÷ ${seriesEnd} series (includes the process baseline)` }),
      row({ scenario: 'soak', metric: `V8 heap per series after ${minutes} min, above the fresh server`, goal: '', value: heap0 === null || seriesEnd === 0 ? null : (heapEnd - heap0) / seriesEnd / 1024, unit: 'KB', pass: null, note: `(least heap used in the last 3 minutes − ${heap0 === null ? '?' : (heap0 / MB).toFixed(1)} MB used by the fresh server) ÷ series` }),
      row({ scenario: 'soak', metric: 'V8 heap growth per hour at 10k series', goal: '~0 (flat)', value: perHour, unit: 'MB/h', pass: perHour === null ? null : perHour <= 5, note: `low of minutes 2–4 ${first ? (first.heap / MB).toFixed(1) : '?'} MB, ${(heapEnd / MB).toFixed(1)} MB at the end${short}; ${sent} batches, ${failures} failed, ${skipped} skipped (8 in flight)` }),
      row({ scenario: 'soak', metric: 'RSS at the end of the soak', goal: '', value: (tail[tail.length - 1]?.rss ?? 0) / MB, unit: 'MB', pass: null }),
    ];
    return { rows, raw: { minutes, heap_start_mb: heap0 === null ? null : heap0 / MB, every_s: everyS, sent, failures, skipped, lows_2min: mins.map(([k, v]) => ({ minute: k, heap_mb: v.heap / MB, series: v.series, rss_mb: v.rss / MB })), samples: samples.map((x) => ({ minute: x.t, heap_mb: x.heap / MB, rss_mb: x.rss / MB })) } };
  } finally {
    await agent.destroy().catch(() => undefined);
    if (server) await stopChild(server.child).catch(() => undefined);
    removeTempDir(dir);
  }
}
