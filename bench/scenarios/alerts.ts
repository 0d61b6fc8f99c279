/**
 * detection: how long from a local app starting to fail (20 % 5xx) until a webhook receiver gets
 * the firing notification. The app is a node:http server in the bench process that reports its
 * requests with the real Node SDK (dist/sdk/node, flushIntervalMs 1000) to a fresh `shipshape up`
 * per run with one rule `error_rate(app, 1m) > 5%` (min_samples 20, no `for`), evaluate_every 1s,
 * a webhook channel and a route with group_wait 0s. A load loop sends ~50 req/s to the app: a
 * healthy warm-up first (BENCH_DETECTION_WARMUP_S, default 10 s), then failures start.
 *
 * rules: in-process cost of one evaluation cycle of 1,000 rules over 10,000 request series: the
 * built Rollup (dist/telemetry/rollup.js) is fed 3 minutes of data, and each cycle runs
 * evaluateRule (dist/alerts/evaluate.js) over the rollupQuery of it for every parsed rule. The
 * engine's state bookkeeping and store writes (only on transitions) are not included. Then the
 * same rules every 10 simulated seconds while time moves on (10s of samples fed, closed and
 * checkpointed before each cycle, across minute ends): the cost of the steady state, where each
 * cycle reads the periods that closed since the last one; and what the live query keeps of closed
 * periods (closed-cache.ts: estimated heap, lists, parts).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type * as EvaluateNs from '../../src/alerts/evaluate.js';
import type * as ExprNs from '../../src/alerts/expr.js';
import type * as SdkNs from '../../src/sdk/node/index.js';
import type * as QueryNs from '../../src/telemetry/query.js';
import type * as RollupNs from '../../src/telemetry/rollup.js';
import type * as StorageNs from '../../src/telemetry/storage.js';
import { loadDist } from '../lib/dist.js';
import { removeTempDir, stopChild, tempDir, waitForQuiet } from '../lib/proc.js';
import { percentile, row, type Row } from '../lib/report.js';
import { ROOT, startServer, type Server } from '../lib/shipshape.js';
import { INGEST_CONFIG, INGEST_TOKEN } from './ingest.js';
import type { ScenarioContext } from './types.js';

const load = async <T>(rel: string) => (await import(pathToFileURL(join(ROOT, 'dist', rel)).href)) as T;

const RUNS = 3;
const RATE = 50;
const WARMUP_S = Number(process.env.BENCH_DETECTION_WARMUP_S ?? 10);
const DETECT_TIMEOUT_S = 90;

async function listen(server: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

function detectionConfig(hookUrl: string): string {
  return [
    INGEST_CONFIG.trimEnd(),
    'alerting: { evaluate_every: 1s }',
    'alerts:',
    '  - name: app-errors',
    '    when: error_rate(app, 1m) > 5%',
    '    min_samples: 20',
    '    severity: P1',
    'notify:',
    `  channels: { hook: { webhook: { url: "${hookUrl}" } } }`,
    '  routes:',
    '    - { channels: [hook], group_wait: 0s }',
    '',
  ].join('\n');
}

export async function runDetection(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const sdk = await load<typeof SdkNs>('sdk/node/index.js');
  const dir = tempDir('detection');
  // the webhook receiver: arrival time of each firing notification
  let firingAt: number | null = null;
  const received: { at: number; status: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString('utf8')));
    req.on('end', () => {
      const at = performance.now();
      let status = 'unknown';
      try {
        status = String((JSON.parse(body) as { status?: string }).status);
      } catch {
        /* not JSON */
      }
      received.push({ at, status });
      if (status === 'firing' && firingAt === null) firingAt = at;
      res.writeHead(200).end('ok');
    });
  });
  const hookPort = await listen(receiver);
  const runs: { latencyMs: number | null; requests: number; errors: number; notifications: number }[] = [];
  let server: Server | undefined;
  try {
    await waitForQuiet(ctx.log, 'detection');
    for (let run = 1; run <= RUNS; run++) {
      firingAt = null;
      received.length = 0;
      server = await startServer({ dir, configYaml: detectionConfig(`http://127.0.0.1:${hookPort}/hook`), dataDir: join(dir, `data-${run}`) });
      const client = sdk.createShipshape({ url: server.url, token: INGEST_TOKEN, service: 'app', flushIntervalMs: 1000, onError: (e) => ctx.log(`detection: SDK: ${e.message}`) });
      let failing = false;
      let n = 0;
      let errors = 0;
      const app = createServer((_req, res) => {
        const t = performance.now();
        n++;
        const status = failing && n % 5 === 0 ? 500 : 200;
        if (status >= 500) errors++;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'boom');
        client.recordRequest({ route: '/work', method: 'GET', status, durationMs: performance.now() - t + 1 });
      });
      const appPort = await listen(app);
      const agent = new Agent({ connections: 2 });
      let loading = true;
      const loop = (async () => {
        const t0 = performance.now();
        for (let i = 0; loading; i++) {
          const wait = t0 + (i * 1000) / RATE - performance.now();
          if (wait > 0) await sleep(wait);
          try {
            const r = await request(`http://127.0.0.1:${appPort}/work`, { dispatcher: agent });
            await r.body.dump();
          } catch {
            /* counted by the app */
          }
        }
      })();
      try {
        await sleep(WARMUP_S * 1000);
        if (firingAt !== null) throw new Error('the alert fired during the healthy warm-up');
        failing = true;
        const tFail = performance.now();
        ctx.log(`detection: run ${run}: the app fails 20 % of requests now; waiting for the webhook…`);
        while (firingAt === null && performance.now() - tFail < DETECT_TIMEOUT_S * 1000) await sleep(20);
        const latency = firingAt === null ? null : (firingAt as number) - tFail;
        ctx.log(`detection: run ${run}: ${latency === null ? `no notification within ${DETECT_TIMEOUT_S}s` : `${(latency / 1000).toFixed(2)} s`}`);
        runs.push({ latencyMs: latency, requests: n, errors, notifications: received.length });
      } finally {
        loading = false;
        await loop;
        await agent.close();
        await new Promise((r) => app.close(r));
        await client.close();
        const code = await stopChild(server.child);
        if (code !== 0) ctx.log(`detection: shipshape exited with ${code}; last output:\n${server.child.output().slice(-2000)}`);
        server = undefined;
      }
    }
  } finally {
    if (server) await stopChild(server.child);
    await new Promise((r) => receiver.close(r));
    removeTempDir(dir);
  }
  const lat = runs.map((r) => r.latencyMs).filter((x): x is number => x !== null).sort((a, b) => a - b);
  const missed = runs.length - lat.length;
  const median = missed ? null : percentile(lat, 0.5);
  const max = missed ? null : (lat[lat.length - 1] ?? null);
  const s = (v: number | null) => (v === null ? null : v / 1000);
  const ref = { name: 'Prometheus + Alertmanager defaults', value: 30 };
  const note = `${RUNS} runs, fresh server each; ${WARMUP_S}s of healthy traffic at ${RATE} req/s before the failures; runs: ${runs.map((r) => (r.latencyMs === null ? 'none' : (r.latencyMs / 1000).toFixed(2))).join(', ')} s; reference: 30 s to 2.5 min`;
  const rows = [
    row({ scenario: 'detection', metric: '5xx at 20 % → webhook, median', goal: '< 15 s', value: s(median), unit: 's', pass: median !== null && median < 15_000, reference: ref, note }),
    row({ scenario: 'detection', metric: '5xx at 20 % → webhook, max', goal: '< 15 s', value: s(max), unit: 's', pass: max !== null && max < 15_000, reference: ref }),
  ];
  return { rows, raw: { runs, warmup_s: WARMUP_S, rate: RATE } };
}

export async function runRules(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const { Rollup } = await load<typeof RollupNs>('telemetry/rollup.js');
  const { liveSource, telemetryQuery } = await load<typeof QueryNs>('telemetry/query.js');
  const { writeCheckpoint } = await load<typeof StorageNs>('telemetry/storage.js');
  const { openStore } = await loadDist();
  const { parseRule } = await load<typeof ExprNs>('alerts/expr.js');
  const { evaluateRule } = await load<typeof EvaluateNs>('alerts/evaluate.js');
  await waitForQuiet(ctx.log, 'rules');

  const SERVICES = 100;
  const ROUTES = 100;
  const rollup = new Rollup({ maxSeries: () => 20_000, collect: true });
  const dir = tempDir('rules');
  const store = await openStore({ dataDir: dir });
  const T0 = Math.floor(Date.now() / 10_000) * 10_000;
  let fed = 0;
  const tf = performance.now();
  // one 10s step: 3 samples per series (errors on a few services), then what the server's checkpoint
  // does: closed buckets into the store (10s rows, merged into minutes and hours)
  const step = async (t: number) => {
    for (let s = 0; s < SERVICES; s++) {
      const svc = `svc-${String(s).padStart(3, '0')}`;
      for (let r = 0; r < ROUTES; r++) {
        const route = `/r${r}`;
        for (let k = 0; k < 3; k++) {
          rollup.request(svc, route, 5 + ((s * 31 + r * 7 + k * 13 + t / 10_000) % 300), s % 10 === 0 && (r + k) % 12 === 0, t + k * 3000, 2, t + k * 3000);
          fed++;
        }
      }
    }
    rollup.advance(t);
    const rows = rollup.pending;
    rollup.pending = [];
    rollup.takeDirty();
    await writeCheckpoint(store as never, rows, [], [], t);
  };
  // 3 minutes of 10s steps
  for (let t = T0 - 180_000; t <= T0; t += 10_000) await step(t);
  const feedMs = performance.now() - tf;
  const series = rollup.match('requests', undefined, undefined).length;
  ctx.log(`rules: ${series} request series fed (${fed} calls) in ${(feedMs / 1000).toFixed(1)}s`);

  let now = T0 + 1000;
  const source = liveSource(store as never, rollup, () => rollup.pending, (f) => f());
  const telemetry = telemetryQuery(source, () => now);
  const checks: EvaluateNs.CheckReader = { serviceState: () => undefined, checkState: () => undefined, checkValue: () => ({ error: 'no checks' }), heartbeat: () => undefined, heartbeatService: () => undefined };
  const texts: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const svc = `svc-${String(i % SERVICES).padStart(3, '0')}`;
    const kind = i % 3;
    const w = ['1m', '5m', '10m'][Math.floor(i / 3) % 3] as string;
    texts.push(kind === 0 ? `error_rate(${svc}, ${w}) > 5%` : kind === 1 ? `p95(${svc}.latency, ${w}) > 250ms` : `request_rate(${svc}, ${w}) < 1`);
  }
  const rules = texts.map((t) => parseRule(t));
  const CYCLES = 30;
  const WARM = 3;
  const times: number[] = [];
  let met = 0;
  for (let c = 0; c < WARM + CYCLES; c++) {
    const t = performance.now();
    let m = 0;
    for (const r of rules) if ((await evaluateRule(r, { telemetry, checks, now })).met) m++;
    const dt = performance.now() - t;
    if (c >= WARM) times.push(dt);
    met = m;
  }
  times.sort((a, b) => a - b);
  const median = percentile(times, 0.5);
  const p95 = percentile(times, 0.95);
  ctx.log(`rules: ${rules.length} rules, median cycle ${median?.toFixed(1)} ms; ${met} conditions met`);

  // time moves on: 10s of samples closed and checkpointed before each cycle (feeding not timed)
  const SLIDING = 18;
  const sliding: number[] = [];
  for (let c = 1; c <= SLIDING; c++) {
    await step(T0 + c * 10_000);
    now = T0 + c * 10_000 + 1000;
    const t = performance.now();
    for (const r of rules) await evaluateRule(r, { telemetry, checks, now });
    sliding.push(performance.now() - t);
  }
  sliding.sort((a, b) => a - b);
  const slidingMedian = percentile(sliding, 0.5);
  const cache = source.cache.stats();
  ctx.log(`rules: time moving 10s per cycle: median cycle ${slidingMedian?.toFixed(1)} ms; closed periods kept: ${cache.lists} lists, ${cache.parts} parts, ~${(cache.bytes / 1024 / 1024).toFixed(1)} MB (${(cache.bytes / series).toFixed(0)} B per series)`);
  await store.close();
  removeTempDir(dir);
  const note = `in-process: dist/ Rollup + telemetryQuery (open buckets in memory, closed ones read from a SQLite store) + evaluateRule, ${series} series (100 services × 100 routes, 3 min of data), rules: ⅓ error_rate, ⅓ p95, ⅓ request_rate over 100 services with 1m/5m/10m windows; ${CYCLES} cycles after ${WARM} warm-up; ${met} rules met (engine state bookkeeping and store writes not included)`;
  const rows = [
    row({ scenario: 'rules', metric: '1,000 rules over 10k series, ms per cycle (median)', goal: '', value: median, unit: 'ms', pass: null, note }),
    row({ scenario: 'rules', metric: 'ms per cycle (p95 of cycles)', goal: '', value: p95, unit: 'ms', pass: null }),
    row({ scenario: 'rules', metric: 'ms per cycle (max)', goal: '', value: times[times.length - 1] ?? null, unit: 'ms', pass: null }),
    row({ scenario: 'rules', metric: 'ms per cycle, time moving 10s per cycle (median)', goal: '', value: slidingMedian, unit: 'ms', pass: null, note: `${SLIDING} cycles, each after 10s more samples were fed, closed and checkpointed (${(SLIDING * 10) / 60} minutes, across minute ends): each cycle reads the periods closed since the last one` }),
    row({ scenario: 'rules', metric: 'ms per cycle, time moving (max)', goal: '', value: sliding[sliding.length - 1] ?? null, unit: 'ms', pass: null }),
    row({ scenario: 'rules', metric: 'closed periods kept by the live query (estimated heap)', goal: '', value: cache.bytes / 1024, unit: 'KB', pass: null, note: `${cache.lists} series lists, ${cache.parts} periods; ${(cache.bytes / series).toFixed(0)} B per series; budget ${(source.cache.maxBytes / 1024 / 1024).toFixed(0)} MB` }),
  ];
  return { rows, raw: { series, fed, feed_ms: feedMs, rules: rules.length, cycles: CYCLES, times_ms: times, met, sliding_ms: sliding, closed_cache: cache } };
}
