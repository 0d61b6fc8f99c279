/**
 * http1k / http10k: Shipshape running N http checks against a local keep-alive target. After a
 * warm-up of at least one full interval, the Shipshape process is sampled from /proc (CPU of one
 * core, RSS) and its /metrics (scheduler lag, runs per second).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ts from 'typescript';
import { histogramQuantileBetween, sum, value } from '../lib/prom.js';
import { removeTempDir, sampleProcess, startChild, stopChild, tempDir, waitForQuiet, type Child, type ProcSample } from '../lib/proc.js';
import { heapSnapArgs, snapshotProcess } from '../lib/heapsnap.js';
import { MB, row, type Row } from '../lib/report.js';
import { binNodeFlags, httpConfig, ROOT, scrape, startServer, startTarget } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

export interface HttpLoad {
  name: string;
  services: number;
  perService: number;
  every: string;
  everyMs: number;
  warmupS: number;
  sampleS: number;
}

export const HTTP1K: HttpLoad = { name: 'http1k', services: 1000, perService: 1, every: '20s', everyMs: 20_000, warmupS: 30, sampleS: 60 };
export const HTTP10K: HttpLoad = { name: 'http10k', services: 1000, perService: 10, every: '30s', everyMs: 30_000, warmupS: 35, sampleS: 60 };

/** Uptime Kuma 2.5.3, measured on this machine with 1,000 http monitors at 20s against the same kind of target. */
const KUMA = { name: 'Uptime Kuma 2.5.3', cpuPct: 21.6, rssMb: 275 };

/** How long each floor process is sampled (http1k only), after one interval of warm-up. */
const FLOOR_S = Number(process.env.BENCH_FLOOR_S ?? 30);

/**
 * bench/floor-checks.ts as plain JavaScript, written next to the results (under the checkout, so
 * `undici` resolves): run by bare `node`, since a TypeScript loader would add its own memory.
 */
function floorScript(): string {
  const out = join(ROOT, 'bench', 'results', 'floor-checks.mjs');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const js = ts.transpileModule(readFileSync(join(ROOT, 'bench', 'floor-checks.ts'), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(out, js);
  return out;
}

/**
 * Sample a floor process (bench/floor-checks.ts) making the same requests on the same schedule:
 * bare undici (`libs: false`), or with the server's libraries loaded first (`libs: true`).
 */
async function sampleFloor(load: HttpLoad, url: string, dir: string, libs: boolean, ctx: ScenarioContext, targetPid: number): Promise<ProcSample> {
  const name = libs ? 'floor-libs' : 'floor';
  // with the node flags of bin/shipshape.js (young generation, heap growth), so the runtime is set up alike
  const child = startChild(process.execPath, [...binNodeFlags(), floorScript()], { cwd: ROOT, env: { URL: url, CHECKS: String(load.services * load.perService), EVERY_MS: String(load.everyMs), LIBS: libs ? '1' : '0' }, logFile: join(dir, `${name}.log`) });
  try {
    const start = performance.now();
    while (!child.output().includes('READY')) {
      if (child.proc.exitCode !== null || performance.now() - start > 30_000) throw new Error(`${name} did not start:\n${child.output()}`);
      await sleep(50);
    }
    // one whole interval, so every job has run once and the connections are open
    await sleep(load.everyMs + 2000);
    ctx.log(`${load.name}: sampling the ${libs ? 'floor with the libraries loaded' : 'floor (bare undici)'} ${FLOOR_S}s…`);
    return await sampleProcess(child.pid, FLOOR_S, undefined, [targetPid]);
  } finally {
    await stopChild(child);
  }
}

export interface HttpRunResult {
  rows: Row[];
  raw: Record<string, unknown>;
  /** the sampling window on the monotonic clock (µs) */
  windowUs: [number, number];
}

export async function runHttp(load: HttpLoad, ctx: ScenarioContext, opts: { profileDir?: string } = {}): Promise<HttpRunResult> {
  const dir = tempDir(load.name);
  const checks = load.services * load.perService;
  let target: { child: Child; port: number } | undefined;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const quietBefore = await waitForQuiet(ctx.log, load.name);
    target = await startTarget(dir);
    const configYaml = httpConfig({ services: load.services, perService: load.perService, url: `http://127.0.0.1:${target.port}/ok`, every: load.every });
    const nodeArgs = [...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []), ...heapSnapArgs()];
    server = await startServer({ dir, configYaml, dataDir: join(dir, 'data'), nodeArgs });
    ctx.log(`${load.name}: ${checks} checks every ${load.every}; server pid ${server.child.pid} up in ${(server.startupMs / 1000).toFixed(1)}s; warming up ${load.warmupS}s…`);
    await sleep(load.warmupS * 1000);

    const before = await scrape(server.url);
    const cpuTicks0 = value(before, 'process_cpu_seconds_total');
    ctx.log(`${load.name}: sampling ${load.sampleS}s…`);
    const s = await sampleProcess(
      server.child.pid,
      load.sampleS,
      (i) => {
        if (i % 15 === 0 && i < load.sampleS) ctx.log(`${load.name}:   ${i}s`);
      },
      [target.child.pid],
    );
    if (s.othersPct > 25) ctx.log(`${load.name}: other processes used ${s.othersPct.toFixed(0)}% of a core during the sample: the figures are noisy`);
    const after = await scrape(server.url);
    await snapshotProcess(server.child.pid, load.name, ctx.log);

    const runsBefore = sum(before, 'check_results_total');
    const runsAfter = sum(after, 'check_results_total');
    const failures = sum(after, 'check_results_total', { result: 'failure' }) - sum(before, 'check_results_total', { result: 'failure' });
    const runsPerS = (runsAfter - runsBefore) / s.seconds;
    const expectedPerS = checks / (load.everyMs / 1000);
    const winP50 = histogramQuantileBetween(before, after, 'scheduler_lag_seconds', 0.5);
    const winP99 = histogramQuantileBetween(before, after, 'scheduler_lag_seconds', 0.99);
    const cpuFromMetrics = cpuTicks0 !== null ? (((value(after, 'process_cpu_seconds_total') ?? 0) - cpuTicks0) / s.seconds) * 100 : null;
    const ms = (v: number | null) => (v === null ? null : v * 1000);

    // the floors, against the same target once Shipshape is stopped (http1k only: ~2 min)
    let floor: ProcSample | undefined;
    let floorLibs: ProcSample | undefined;
    if (load.name === 'http1k' && FLOOR_S > 0) {
      await stopChild(server.child);
      const url = `http://127.0.0.1:${target.port}/ok`;
      floor = await sampleFloor(load, url, dir, false, ctx, target.child.pid);
      floorLibs = await sampleFloor(load, url, dir, true, ctx, target.child.pid);
    }

    const rows: Row[] = [];
    const n = load.name;
    if (load.name === 'http1k') {
      // goals of issue 7 item 18
      rows.push(row({ scenario: n, metric: 'CPU (% of one core)', goal: '<= 3 %', value: s.cpuPct, unit: '%', pass: s.cpuPct <= 3, reference: { name: KUMA.name, value: KUMA.cpuPct } }));
      rows.push(row({ scenario: n, metric: 'RSS max', goal: '<= 100 MB', value: s.rssMax / MB, unit: 'MB', pass: s.rssMax / MB <= 100, reference: { name: KUMA.name, value: KUMA.rssMb } }));
      rows.push(row({ scenario: n, metric: 'RSS at end', goal: '<= 100 MB', value: s.rssEnd / MB, unit: 'MB', pass: s.rssEnd / MB <= 100, reference: { name: KUMA.name, value: KUMA.rssMb } }));
      if (floor && floorLibs) {
        const note = 'the floor: bench/floor-checks.ts, a bare Node process making the same requests on the same schedule and start grid with undici and nothing else (no conditions, history, store or server); "with the libraries" loads fastify, zod, kysely, better-sqlite3, pino, prom-client, yaml and commander first, unused; both run with the node flags of bin/shipshape.js';
        rows.push(row({ scenario: n, metric: 'CPU against the floor', goal: '', value: s.cpuPct, unit: '%', pass: null, reference: { name: 'the floor, bare undici', value: floor.cpuPct }, note }));
        rows.push(row({ scenario: n, metric: 'RSS max against the floor', goal: '', value: s.rssMax / MB, unit: 'MB', pass: null, reference: { name: 'the floor, bare undici', value: floor.rssMax / MB } }));
        rows.push(row({ scenario: n, metric: 'RSS max against the libraries alone', goal: '', value: s.rssMax / MB, unit: 'MB', pass: null, reference: { name: 'the floor with the libraries', value: floorLibs.rssMax / MB } }));
      }
    } else {
      rows.push(row({ scenario: n, metric: 'CPU (% of one core)', goal: '< 100 %', value: s.cpuPct, unit: '%', pass: s.cpuPct < 100 }));
      rows.push(row({ scenario: n, metric: 'RSS max', goal: '', value: s.rssMax / MB, unit: 'MB', pass: null }));
    }
    rows.push(row({ scenario: n, metric: 'CPU, busiest 5 s', goal: '', value: s.cpuPctMax5s, unit: '%', pass: null }));
    rows.push(row({ scenario: n, metric: 'scheduler lag p50 (sample window)', goal: '', value: ms(winP50), unit: 'ms', pass: null }));
    rows.push(
      row({
        scenario: n,
        metric: 'scheduler lag p99 (sample window)',
        goal: load.name === 'http10k' ? '< 1000 ms' : '',
        value: ms(winP99),
        unit: 'ms',
        pass: load.name === 'http10k' ? winP99 !== null && winP99 < 1 : null,
        note: 'steady state: how the lag histogram grew during the sample window, interpolated inside its buckets',
      }),
    );
    rows.push(row({ scenario: n, metric: 'check runs per second', goal: `≈ ${expectedPerS.toFixed(1)}/s`, value: runsPerS, unit: '/s', pass: Math.abs(runsPerS - expectedPerS) / expectedPerS < 0.05 }));
    rows.push(row({ scenario: n, metric: 'failed runs in window', goal: '0', value: failures, unit: '', pass: failures === 0 }));
    rows.push(row({ scenario: n, metric: 'other processes\' CPU meanwhile', goal: '< 25 % (quiet machine)', value: s.othersPct, unit: '%', pass: null, note: s.othersPct > 25 ? 'the machine was busy with other work: CPU and lag figures are noisy; run again on a quiet machine' : undefined }));
    rows.push(row({ scenario: n, metric: 'check target CPU (not counted)', goal: '', value: s.companionsPct, unit: '%', pass: null }));
    rows.push(row({ scenario: n, metric: 'V8 heap used at end', goal: '', value: (value(after, 'nodejs_heap_size_used_bytes') ?? 0) / MB, unit: 'MB', pass: null }));
    rows.push(row({ scenario: n, metric: 'start-up (spawn → /health)', goal: '', value: server.startupMs / 1000, unit: 's', pass: null }));

    const raw = { floor: floor && { cpu_pct: floor.cpuPct, rss_max: floor.rssMax, others_pct: floor.othersPct }, floor_libs: floorLibs && { cpu_pct: floorLibs.cpuPct, rss_max: floorLibs.rssMax, others_pct: floorLibs.othersPct }, checks, others_cpu_pct_before: quietBefore, timeline: s.timeline, every: load.every, warmup_s: load.warmupS, sample: { ...s, timeline: undefined }, runs_per_s: runsPerS, expected_runs_per_s: expectedPerS, failures, lag_window_s: { p50: winP50, p99: winP99 }, cpu_pct_from_metrics: cpuFromMetrics, startup_ms: server.startupMs, profiled: !!opts.profileDir };
    return { rows, raw, windowUs: s.windowUs };
  } finally {
    if (server) {
      const code = await stopChild(server.child);
      if (code !== 0) ctx.log(`${load.name}: shipshape exited with ${code}; last output:\n${server.child.output().slice(-2000)}`);
    }
    if (target) await stopChild(target.child);
    removeTempDir(dir);
  }
}
