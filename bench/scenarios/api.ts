/**
 * api: GET /api/v1/services with 1,000 services and 90 days of history. The store is seeded before
 * the server starts (service and check state, service-level and check-level state changes with a
 * few outages per service, minute/hour/day aggregates); then sequential requests over one
 * keep-alive connection measure the latency of what the dashboard asks for.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { seedHistory } from '../lib/history.js';
import { loadMeter, removeTempDir, rssBytes, stopChild, tempDir, waitForQuiet, type Child } from '../lib/proc.js';
import { MB, percentile, row, type Row } from '../lib/report.js';
import { httpConfig, startServer, startTarget, TOKEN } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

const SERVICES = 1000;
const WARMUP = 20;
const MEASURED = 300;

interface Timing {
  path: string;
  ms: number[];
  bytes: number;
  items: number;
  status: number;
}

async function measure(client: Client, path: string): Promise<Timing> {
  const ms: number[] = [];
  let bytes = 0;
  let items = 0;
  let status = 0;
  for (let i = 0; i < WARMUP + MEASURED; i++) {
    const t = performance.now();
    const res = await client.request({ method: 'GET', path, headers: { authorization: `Bearer ${TOKEN}` } });
    const body = Buffer.from(await res.body.arrayBuffer());
    const dt = performance.now() - t;
    status = res.statusCode;
    if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}: ${body.toString('utf8').slice(0, 300)}`);
    if (i >= WARMUP) ms.push(dt);
    if (i === 0) {
      bytes = body.length;
      items = (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items.length;
    }
  }
  return { path, ms: ms.sort((a, b) => a - b), bytes, items, status };
}

export async function runApi(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('api');
  const dataDir = join(dir, 'data');
  let target: { child: Child; port: number } | undefined;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let client: Client | undefined;
  try {
    const minuteHours = Number(process.env.BENCH_API_MINUTE_HOURS ?? 48);
    ctx.log(`api: seeding ${SERVICES} services with 90 days of history (${minuteHours}h of minute aggregates)…`);
    const seedStart = performance.now();
    const counts = await seedHistory(dataDir, Date.now(), { services: SERVICES, minuteHours });
    const seedS = (performance.now() - seedStart) / 1000;
    ctx.log(`api: seeded in ${seedS.toFixed(1)}s: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);

    target = await startTarget(dir);
    // the checks run once at start (within 5s) and then not again during the bench
    const configYaml = httpConfig({ services: SERVICES, perService: 1, url: `http://127.0.0.1:${target.port}/ok`, every: '24h' });
    server = await startServer({ dir, configYaml, dataDir });
    ctx.log(`api: server up in ${(server.startupMs / 1000).toFixed(1)}s; letting the first runs finish…`);
    await sleep(7000);
    client = new Client(server.url, { keepAliveTimeout: 60_000, pipelining: 1 });
    await waitForQuiet(ctx.log, 'api', 25, 60);
    const meter = loadMeter([server.child.pid, process.pid, target.child.pid]);

    const paths = ['/api/v1/services', '/api/v1/services?include=days,sparkline', '/api/v1/services?limit=500&include=days'];
    const results: Timing[] = [];
    for (const p of paths) {
      results.push(await measure(client, p));
      ctx.log(`api: ${p}: p95 ${percentile((results[results.length - 1] as Timing).ms, 0.95)?.toFixed(1)} ms`);
    }
    const rss = rssBytes(server.child.pid);
    const othersPct = meter.stop();
    if (othersPct > 25) ctx.log(`api: other processes used ${othersPct.toFixed(0)}% of a core meanwhile: the latencies are noisy`);

    const rows: Row[] = [];
    const n = 'api';
    results.forEach((r, i) => {
      const label = `GET ${r.path.replace('/api/v1', '')}`;
      const p50 = percentile(r.ms, 0.5);
      const p95 = percentile(r.ms, 0.95);
      const p99 = percentile(r.ms, 0.99);
      rows.push(row({ scenario: n, metric: `${label} p50`, goal: '', value: p50, unit: 'ms', pass: null }));
      rows.push(row({ scenario: n, metric: `${label} p95`, goal: i === 0 ? '< 50 ms' : '', value: p95, unit: 'ms', pass: i === 0 ? p95 !== null && p95 < 50 : null }));
      rows.push(row({ scenario: n, metric: `${label} p99`, goal: '', value: p99, unit: 'ms', pass: null }));
      rows.push(row({ scenario: n, metric: `${label} response size`, goal: '', value: r.bytes / 1024, unit: 'KB', pass: null, note: `${r.items} items` }));
    });
    rows.push(row({ scenario: n, metric: "other processes' CPU meanwhile", goal: '< 25 % (quiet machine)', value: othersPct, unit: '%', pass: null }));
    rows.push(row({ scenario: n, metric: 'start-up with 90 days of history', goal: '', value: server.startupMs / 1000, unit: 's', pass: null }));
    rows.push(row({ scenario: n, metric: 'server RSS after the requests', goal: '', value: rss / MB, unit: 'MB', pass: null }));
    return {
      rows,
      raw: { others_cpu_pct: othersPct, seeded: counts, seed_s: seedS, startup_ms: server.startupMs, rss_bytes: rss, requests: results.map((r) => ({ path: r.path, n: r.ms.length, p50: percentile(r.ms, 0.5), p95: percentile(r.ms, 0.95), p99: percentile(r.ms, 0.99), max: r.ms[r.ms.length - 1], bytes: r.bytes, items: r.items })) },
    };
  } finally {
    await client?.close().catch(() => undefined);
    if (server) {
      const code = await stopChild(server.child);
      if (code !== 0) ctx.log(`api: shipshape exited with ${code}; last output:\n${server.child.output().slice(-2000)}`);
    }
    if (target) await stopChild(target.child);
    removeTempDir(dir);
  }
}
