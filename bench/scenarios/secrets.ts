/**
 * secrets: `shipshape secrets scan` against `secretlint` (with @secretlint/secretlint-rule-preset-recommend)
 * on the same generated tree in the same run.
 *
 * The tree: BENCH_SECRETS_MB (default 200) MB of source-like files (.ts, .js, .py, .go, .yaml,
 * .json, .md, .env; 2-200 KB each) built from code-like lines, many of them with secret-ish words
 * that are not secrets (`const token = await getToken(req)`), and one seeded credential (the
 * test seeds, test/secrets/seeds.ts, fresh values per copy) about every 512 KB at a known file and
 * line. Both tools run as CLI processes with JSON output written to a file: wall time → MB/s,
 * peak RSS, recall on the seeded set (a seeded spot counts as found when a finding is reported on
 * its file and line) and other findings (on the generated code: false positives).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { makeSeeds, prng, type Seed } from '../../test/secrets/seeds.js';
import { removeTempDir, tempDir } from '../lib/proc.js';
import { row, type Row } from '../lib/report.js';
import { ROOT } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

const MB = Number(process.env.BENCH_SECRETS_MB ?? 200);

const WORDS = ['user', 'order', 'invoice', 'session', 'payment', 'account', 'config', 'request', 'response', 'handler', 'service', 'cache', 'queue', 'event', 'report', 'item', 'customer', 'product', 'price', 'status'];
const TEMPLATES: ((w: () => string, n: () => number) => string)[] = [
  (w) => `import { ${w()}Service } from '../${w()}/${w()}.js';`,
  (w, n) => `  const ${w()}Id = await db.${w()}.findFirst({ where: { id: ${n()} } });`,
  (w) => `  if (!${w()}) throw new NotFoundError('${w()} not found');`,
  () => `  const token = await getToken(req.headers.authorization);`,
  (w) => `  const password = process.env.${w().toUpperCase()}_PASSWORD;`,
  (w) => `  // the secret is read from the vault at start; never log the ${w()}`,
  (w, n) => `  return res.status(${200 + (n() % 3)}).json({ ${w()}: ${w()}.map((x) => x.${w()}) });`,
  (w) => `export async function handle${w()}(${w()}: ${w()}Input): Promise<${w()}Result> {`,
  (w, n) => `    total += ${w()}.price * ${n()} / 100;`,
  (w) => `def ${w()}_${w()}(self, ${w()}, token=None):`,
  (w) => `        self.${w()} = ${w()}.strip().lower()`,
  (w, n) => `  ${w()}_timeout: ${n() % 60}s`,
  (w) => `  api_key_env: ${w().toUpperCase()}_API_KEY`,
  (w) => `func (s *${w()}Store) Get(ctx context.Context, id string) (*${w()}, error) {`,
  (w, n) => `    "${w()}": { "enabled": true, "retries": ${n() % 9}, "secretRef": "${w()}-secret" },`,
  (w) => `The ${w()} endpoint returns a signed token valid for one hour; rotate the ${w()} key monthly.`,
  (w, n) => `const hash = createHash('sha256').update(\`\${${w()}}:${n()}\`).digest('hex');`,
  () => '}',
  () => '',
  (w) => `  logger.info({ ${w()} }, 'processed ${w()}');`,
];
const EXTS = ['ts', 'js', 'py', 'go', 'yaml', 'json', 'md', 'env'];

interface Placed {
  file: string;
  line: number;
  rule: string;
}

/** Write the tree; return the seeded spots and the bytes written. */
export function generate(dir: string, bytes: number): { placed: Placed[]; bytes: number; files: number } {
  const r = prng(42);
  const n = () => Math.floor(r() * 100000);
  const w = () => WORDS[Math.floor(r() * WORDS.length)] as string;
  // a pool of lines to draw from: generating every line afresh would make the generator the benchmark
  const pool = Array.from({ length: 20000 }, () => (TEMPLATES[Math.floor(r() * TEMPLATES.length)] as (w: () => string, n: () => number) => string)(w, n));
  const placed: Placed[] = [];
  let written = 0;
  let files = 0;
  let nextSeedAt = 256 * 1024;
  let seedRound = 0;
  let seedQueue: Seed[] = [];
  while (written < bytes) {
    const sub = `pkg${files % 40}/mod${Math.floor(files / 40) % 25}`;
    mkdirSync(join(dir, sub), { recursive: true });
    const ext = EXTS[files % EXTS.length] as string;
    const file = `${sub}/file${files}.${ext}`;
    const target = 2048 + Math.floor(r() * r() * 200 * 1024);
    const lines: string[] = [];
    let size = 0;
    while (size < target) {
      if (written + size >= nextSeedAt) {
        if (seedQueue.length === 0) seedQueue = makeSeeds(1000 + seedRound++);
        const s = seedQueue.shift() as Seed;
        placed.push({ file, line: lines.length + 1, rule: s.rule });
        for (const l of s.text.split('\n')) {
          lines.push(l);
          size += l.length + 1;
        }
        nextSeedAt += 512 * 1024;
        continue;
      }
      const l = pool[Math.floor(r() * pool.length)] as string;
      lines.push(l);
      size += l.length + 1;
    }
    const text = `${lines.join('\n')}\n`;
    writeFileSync(join(dir, file), text);
    written += Buffer.byteLength(text);
    files++;
  }
  return { placed, bytes: written, files };
}

/** Run a command: wall time, CPU time (user + system, from /proc; robust to other load on the machine) and peak RSS. */
function timed(cmd: string, args: string[], cwd: string): Promise<{ ms: number; cpuMs: number; peakKb: number; code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peak = 0;
    let cpuMs = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
        // fields after the command name: utime and stime are the 12th and 13th (clock ticks, 100/s)
        const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuMs = Math.max(cpuMs, (Number(f[11]) + Number(f[12])) * 10);
      } catch {
        /* exited */
      }
    }, 20);
    p.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString();
    });
    p.on('error', fail);
    p.on('close', (code) => {
      clearInterval(poll);
      done({ ms: performance.now() - t0, cpuMs, peakKb: peak, code, stderr });
    });
  });
}

function recall(placed: Placed[], found: { file: string; line: number }[]): { found: number; other: number } {
  const spots = new Set(placed.map((p) => `${p.file}:${p.line}`));
  const hits = new Set<string>();
  let other = 0;
  for (const f of found) {
    const k = `${f.file}:${f.line}`;
    if (spots.has(k)) hits.add(k);
    else other++;
  }
  return { found: hits.size, other };
}

export async function runSecrets(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: unknown }> {
  const dir = tempDir('secrets');
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  try {
    ctx.log(`generating a ${MB} MB tree…`);
    const gen = generate(tree, MB * 1024 * 1024);
    const mb = gen.bytes / 1024 / 1024;
    ctx.log(`${gen.files} files, ${mb.toFixed(0)} MB, ${gen.placed.length} seeded credentials`);
    // secretlint resolves its rule preset from the scanned directory's node_modules (both tools skip node_modules)
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    writeFileSync(join(tree, '.secretlintrc.json'), JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));

    const shipOut = join(dir, 'shipshape.json');
    ctx.log('shipshape secrets scan…');
    const ship = await timed(process.execPath, ['--max-semi-space-size=2', '--heap-growing-percent=30', join(ROOT, 'bin/shipshape.js'), 'secrets', 'scan', tree, '--format', 'json', '--output', shipOut], tree);
    if (ship.code !== 0 && ship.code !== 1) throw new Error(`shipshape secrets scan exited ${ship.code}: ${ship.stderr}`);
    const shipReport = JSON.parse(readFileSync(shipOut, 'utf8')) as { findings: { file: string; line: number }[]; files: number };
    const shipRecall = recall(gen.placed, shipReport.findings);

    const slOut = join(dir, 'secretlint.json');
    ctx.log('secretlint…');
    const sl = await timed(join(ROOT, 'node_modules/.bin/secretlint'), ['**/*', '--format', 'json', '--output', slOut, '--secretlintrc', join(tree, '.secretlintrc.json')], tree);
    if (sl.code !== 0 && sl.code !== 1) throw new Error(`secretlint exited ${sl.code}: ${sl.stderr}`);
    const slResults = JSON.parse(readFileSync(slOut, 'utf8')) as { filePath: string; messages: { loc: { start: { line: number } } }[] }[];
    const slFound = slResults.flatMap((res) => res.messages.map((m) => ({ file: relative(tree, res.filePath), line: m.loc.start.line })));
    const slRecall = recall(gen.placed, slFound);

    const shipMbs = mb / (ship.ms / 1000);
    const slMbs = mb / (sl.ms / 1000);
    const missedBy = (found: { file: string; line: number }[]) => {
      const got = new Set(found.map((f) => `${f.file}:${f.line}`));
      const missed = new Map<string, number>();
      for (const p of gen.placed) if (!got.has(`${p.file}:${p.line}`)) missed.set(p.rule, (missed.get(p.rule) ?? 0) + 1);
      return Object.fromEntries(missed);
    };
    const shipCpuMbs = mb / (ship.cpuMs / 1000);
    const slCpuMbs = mb / (sl.cpuMs / 1000);
    const rows: Row[] = [
      row({ scenario: 'secrets', metric: `scan throughput, ${mb.toFixed(0)} MB in ${gen.files} files (CLI wall time)`, goal: '>= 1x secretlint', value: shipMbs, unit: 'MB/s', pass: shipMbs >= slMbs, reference: { name: 'secretlint + preset-recommend', value: slMbs }, note: `${(ship.ms / 1000).toFixed(1)} s vs ${(sl.ms / 1000).toFixed(1)} s; peak RSS ${Math.round(ship.peakKb / 1024)} MB vs ${Math.round(sl.peakKb / 1024)} MB` }),
      row({ scenario: 'secrets', metric: 'scan throughput per CPU second (user + system time of the process)', goal: '>= 1x secretlint', value: shipCpuMbs, unit: 'MB/s', pass: shipCpuMbs >= slCpuMbs, reference: { name: 'secretlint + preset-recommend', value: slCpuMbs }, note: `${(ship.cpuMs / 1000).toFixed(1)} s vs ${(sl.cpuMs / 1000).toFixed(1)} s of CPU` }),
      row({ scenario: 'secrets', metric: `recall on ${gen.placed.length} seeded credentials (${new Set(gen.placed.map((p) => p.rule)).size} kinds)`, goal: '100 %', value: (100 * shipRecall.found) / gen.placed.length, unit: '%', pass: shipRecall.found === gen.placed.length, reference: { name: 'secretlint + preset-recommend', value: (100 * slRecall.found) / gen.placed.length }, note: `found ${shipRecall.found} vs ${slRecall.found}` }),
      row({ scenario: 'secrets', metric: 'findings off the seeded spots (false positives on generated code)', goal: '0', value: shipRecall.other, unit: '', pass: shipRecall.other === 0, reference: { name: 'secretlint + preset-recommend', value: slRecall.other } }),
    ];
    return {
      rows,
      raw: {
        mb,
        files: gen.files,
        seeded: gen.placed.length,
        shipshape: { ms: ship.ms, cpuMs: ship.cpuMs, peakKb: ship.peakKb, mbPerS: shipMbs, found: shipRecall.found, other: shipRecall.other, missed: missedBy(shipReport.findings) },
        secretlint: { ms: sl.ms, cpuMs: sl.cpuMs, peakKb: sl.peakKb, mbPerS: slMbs, found: slRecall.found, other: slRecall.other, missed: missedBy(slFound) },
      },
    };
  } finally {
    removeTempDir(dir);
  }
}
