/**
 * `npm run bench [-- <scenario>… ] [--profile] [--no-build] [--strict]`
 *
 * Scenarios: http1k, http10k, storage, api, ingest, detection, rules, statuspage, escalation, deploy, db, secrets, webhooks, routing (all when none is named),
 * soak (only when named: telemetry heap over BENCH_SOAK_MIN minutes). Prints a table with each
 * goal, the measured value, pass/fail and, where there is one, the reference of the tool a user
 * would use instead; writes bench/results/latest.json. --profile runs the http1k server under
 * `node --cpu-prof` and prints its hot spots (the CPU figures of a profiled run are inflated).
 * Env: BENCH_STORAGE_BUDGET_S (default 240), BENCH_API_MINUTE_HOURS (default 48), BENCH_DETECTION_WARMUP_S (default 10),
 * BENCH_SOAK_MIN (default 120), BENCH_SOAK_EVERY_S (default 5), BENCH_HEAPSNAP_DIR (heap snapshot of the http and soak servers, summarised), BENCH_DEPLOY_ROUNDS (default 20), BENCH_DEPLOY_S (default 10), BENCH_DB_MB (default 1024), BENCH_PG_URL.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { summarise } from './lib/cpuprofile.js';
import { cleanupAll, killAllSync, reapLeftovers, tempDir } from './lib/proc.js';
import { printTable, row, writeJson, type Row } from './lib/report.js';
import { ensureBuilt, ROOT } from './lib/shipshape.js';
import { runDetection, runRules } from './scenarios/alerts.js';
import { runApi } from './scenarios/api.js';
import { runDb } from './scenarios/db.js';
import { runDeploy } from './scenarios/deploy.js';
import { HTTP10K, HTTP1K, runHttp } from './scenarios/http.js';
import { runIngest } from './scenarios/ingest.js';
import { runEscalation } from './scenarios/escalation.js';
import { runStatuspage } from './scenarios/statuspage.js';
import { runSoak } from './scenarios/soak.js';
import { runSecrets } from './scenarios/secrets.js';
import { runStorage } from './scenarios/storage.js';
import { runWebhooks } from './scenarios/webhooks.js';
import { runRouting } from './scenarios/routing.js';
import type { ScenarioContext } from './scenarios/types.js';

const SCENARIOS = ['http1k', 'http10k', 'api', 'storage', 'ingest', 'detection', 'rules', 'statuspage', 'escalation', 'deploy', 'db', 'secrets', 'webhooks', 'routing', 'soak'] as const;
/** long-running: only when named */
const NAMED_ONLY: readonly string[] = ['soak'];
type Scenario = (typeof SCENARIOS)[number];

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const named = args.filter((a) => !a.startsWith('--'));
for (const f of flags) {
  if (!['--profile', '--no-build', '--strict'].includes(f)) {
    process.stderr.write(`unknown option ${f}; options: --profile --no-build --strict\n`);
    process.exit(2);
  }
}
for (const n of named) {
  if (!(SCENARIOS as readonly string[]).includes(n)) {
    process.stderr.write(`unknown scenario "${n}"; scenarios: ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
}
const selected: Scenario[] = named.length ? SCENARIOS.filter((s) => named.includes(s)) : SCENARIOS.filter((s) => !NAMED_ONLY.includes(s));
if (flags.has('--profile') && !selected.includes('http1k')) selected.unshift('http1k');

const started = performance.now();
const stamp = () => `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s]`;
const ctx: ScenarioContext = { log: (s) => process.stderr.write(`${stamp()} ${s}\n`) };

process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    ctx.log(`${sig}: stopping child processes…`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

function commit(): string | null {
  try {
    const c = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${c}+dirty` : c;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  reapLeftovers(ctx.log);
  if (!flags.has('--no-build')) ensureBuilt(ctx.log);
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  let errors = 0;
  for (const s of selected) {
    ctx.log(`— ${s} —`);
    const t = performance.now();
    try {
      if (s === 'http1k' || s === 'http10k') {
        const load = s === 'http1k' ? HTTP1K : HTTP10K;
        let profileDir: string | undefined;
        if (s === 'http1k' && flags.has('--profile')) profileDir = tempDir('profile');
        const r = await runHttp(load, ctx, { profileDir });
        rows.push(...r.rows);
        const entry: Record<string, unknown> = { rows: r.rows, raw: r.raw };
        if (profileDir) {
          const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
          if (file) {
            const keep = join(ROOT, 'bench', 'results');
            mkdirSync(keep, { recursive: true });
            const dest = join(keep, 'http1k.cpuprofile');
            rmSync(dest, { force: true });
            execFileSync('cp', [join(profileDir, file), dest]);
            const sum = summarise(dest, 25, r.windowUs);
            entry.profile = { file: 'bench/results/http1k.cpuprofile', ...sum };
            process.stdout.write(`\nCPU profile of the http1k server during the sampling window (${(sum.busyMs / 1000).toFixed(1)}s busy of ${(sum.totalMs / 1000).toFixed(1)}s; % of busy time), ${dest}\n`);
            process.stdout.write('  by function (self):\n');
            for (const h of sum.functions) process.stdout.write(`    ${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}\n`);
            process.stdout.write('  by file / package (self):\n');
            for (const h of sum.files.slice(0, 15)) process.stdout.write(`    ${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}\n`);
            process.stdout.write('  Shipshape functions, total (self + callees):\n');
            for (const h of sum.shipshapeTotal.slice(0, 20)) process.stdout.write(`    ${h.selfPct.toFixed(1).padStart(5)}%  ${h.where}\n`);
            process.stdout.write('\n');
          } else ctx.log('no .cpuprofile was written (the server did not exit cleanly?)');
          rmSync(profileDir, { recursive: true, force: true });
        }
        results[s] = entry;
      } else if (s === 'storage') {
        const r = await runStorage(ctx);
        rows.push(...r.rows);
        results[s] = r;
      } else if (s === 'statuspage' || s === 'escalation' || s === 'deploy' || s === 'db') {
        const r = await (s === 'statuspage' ? runStatuspage : s === 'escalation' ? runEscalation : s === 'deploy' ? runDeploy : runDb)(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else if (s === 'secrets') {
        const r = await runSecrets(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else if (s === 'webhooks') {
        const r = await runWebhooks(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else if (s === 'routing') {
        const r = await runRouting(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else if (s === 'soak') {
        const r = await runSoak(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else if (s === 'ingest' || s === 'detection' || s === 'rules') {
        const r = await (s === 'ingest' ? runIngest : s === 'detection' ? runDetection : runRules)(ctx);
        rows.push(...r.rows);
        results[s] = r.raw;
      } else {
        const r = await runApi(ctx);
        rows.push(...r.rows);
        results[s] = r;
      }
    } catch (e) {
      errors++;
      const msg = (e as Error)?.stack ?? String(e);
      ctx.log(`${s} failed: ${msg}`);
      rows.push(row({ scenario: s, metric: 'scenario ran', goal: 'completes', value: null, unit: '', pass: false, note: (e as Error)?.message?.split('\n')[0] }));
      results[s] = { error: msg };
    }
    ctx.log(`${s} took ${((performance.now() - t) / 1000).toFixed(0)}s`);
  }

  process.stdout.write('\n');
  printTable(rows);
  const failed = rows.filter((r) => r.pass === false).length;
  const passed = rows.filter((r) => r.pass === true).length;
  process.stdout.write(`\n${passed} goals met, ${failed} missed${errors ? `, ${errors} scenario(s) failed to run` : ''}; ${((performance.now() - started) / 1000).toFixed(0)}s\n`);
  const file = join(ROOT, 'bench', 'results', 'latest.json');
  writeJson(file, {
    date: new Date().toISOString(),
    commit: commit(),
    node: process.version,
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_bytes: totalmem(), loadavg_at_end: loadavg() },
    scenarios: selected,
    flags: [...flags],
    wall_s: (performance.now() - started) / 1000,
    rows,
    results,
  });
  process.stdout.write(`results: ${file}\n`);
  if (errors) return 1;
  return flags.has('--strict') && failed ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanupAll();
    process.exit(code);
  })
  .catch(async (e) => {
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    await cleanupAll();
    process.exit(1);
  });
