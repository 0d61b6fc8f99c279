/**
 * Child processes, temp dirs and /proc sampling for the benchmarks. Every child is registered so it
 * is stopped (SIGTERM, then SIGKILL after 10s) even when a scenario throws or the bench is interrupted.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Pids of the children started, so a run that was killed outright can be cleaned up by the next. */
const PIDFILE = join(import.meta.dirname, '..', 'results', '.children');

/** Each line: the child's pid and the pid of the bench run that started it. */
function recordPid(pid: number): void {
  mkdirSync(dirname(PIDFILE), { recursive: true });
  appendFileSync(PIDFILE, `${pid} ${process.pid}\n`);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stop children a previous run left behind: by pid, only when the pid is still one of ours and
 * the run that started it is gone (another bench running at the same time keeps its children).
 */
export function reapLeftovers(log: (s: string) => void): void {
  let entries: { pid: number; owner: number }[];
  try {
    entries = readFileSync(PIDFILE, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [pid, owner] = l.split(' ').map(Number);
        return { pid: pid as number, owner: owner ?? 0 };
      });
  } catch {
    return;
  }
  const kept: string[] = [];
  for (const { pid, owner } of entries) {
    if (owner && owner !== process.pid && alive(owner)) {
      kept.push(`${pid} ${owner}`);
      continue;
    }
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // gone
    }
    if (!cmd.includes('shipshape-bench-') && !cmd.includes('bench/target.ts')) continue; // pid reused by something else
    log(`stopping pid ${pid} left over by an earlier run: ${cmd.slice(0, 120)}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  writeFileSync(PIDFILE, kept.map((l) => `${l}\n`).join(''));
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `shipshape-bench-${prefix}-`));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  logFile: string;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
  output(): string;
}

/** Start a child whose stdout/stderr go to `logFile` (and are kept in memory, last 64 KB). */
export function startChild(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string }): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`);
  children.add(proc);
  recordPid(proc.pid);
  const log = createWriteStream(opts.logFile);
  let tail = '';
  const keep = (b: Buffer) => {
    log.write(b);
    tail = (tail + b.toString('utf8')).slice(-65536);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, sig) => {
      children.delete(proc);
      log.end();
      resolve(code ?? sig ?? 'unknown');
    });
  });
  return { proc, pid: proc.pid, logFile: opts.logFile, exited, output: () => tail };
}

/** SIGTERM, then SIGKILL when it has not exited after `graceMs`. */
export async function stopChild(c: Child, graceMs = 10_000): Promise<number | string> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.exited;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
  try {
    return await c.exited;
  } finally {
    clearTimeout(t);
  }
}

/** Last-resort cleanup: kill every child still registered and remove temp dirs (sync, for exit paths). */
export function killAllSync(): void {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** Graceful cleanup of whatever is still registered. */
export async function cleanupAll(): Promise<void> {
  await Promise.all(
    [...children].map(async (p) => {
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await new Promise((r) => p.once('exit', r));
      clearTimeout(t);
    }),
  );
  for (const d of [...tempDirs]) removeTempDir(d);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `url` until it answers 2xx (or the child dies, or `timeoutMs` passes). */
export async function waitForHttp(url: string, child: Child, timeoutMs = 120_000): Promise<number> {
  const start = performance.now();
  let dead = false;
  void child.exited.then(() => (dead = true));
  while (performance.now() - start < timeoutMs) {
    if (dead) throw new Error(`the process exited before ${url} answered; its output:\n${child.output().slice(-4000)}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.ok) return performance.now() - start;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s; output:\n${child.output().slice(-4000)}`);
}

let clkTck: number | undefined;
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may contain spaces and parentheses: fields start after the last ')'
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // after the name: state(3) ppid(4) … utime is field 14, stime 15 → index 11, 12 here
  return Number(f[11]) + Number(f[12]);
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface ProcSample {
  /** CPU time used in the window as a percentage of one core */
  cpuPct: number;
  /** the busiest 5-second stretch, % of one core */
  cpuPctMax5s: number;
  rssMax: number;
  rssEnd: number;
  seconds: number;
  /** the window on the monotonic clock (µs), comparable with V8 .cpuprofile timestamps */
  windowUs: [number, number];
  /** per second: CPU % of one core and RSS in MB */
  timeline: { cpu: number; rssMb: number }[];
  /** CPU used meanwhile by every other process on the machine (except `companions`), % of one core */
  othersPct: number;
  /** CPU of the companion processes (e.g. the check target), % of one core */
  companionsPct: number;
}

/** Sample a process for `seconds`: CPU from utime+stime deltas, RSS every second. */
export async function sampleProcess(pid: number, seconds: number, onTick?: (elapsed: number) => void, companions: number[] = []): Promise<ProcSample> {
  const hz = clockTicks();
  const comp = () => companions.reduce((a, p) => a + cpuTicks(p), 0);
  const t0 = performance.now();
  const hr0 = Number(process.hrtime.bigint() / 1000n);
  const m0 = machineTicks();
  const k0 = comp();
  const c0 = cpuTicks(pid);
  let rssMax = rssBytes(pid);
  let rssEnd = rssMax;
  const marks: { t: number; c: number }[] = [{ t: t0, c: c0 }];
  const rssAt: number[] = [rssMax];
  for (let i = 1; i <= seconds; i++) {
    const wait = t0 + i * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const c = cpuTicks(pid);
    marks.push({ t: performance.now(), c });
    rssEnd = rssBytes(pid);
    rssAt.push(rssEnd);
    rssMax = Math.max(rssMax, rssEnd);
    onTick?.(i);
  }
  const last = marks[marks.length - 1] as { t: number; c: number };
  const pct = (a: { t: number; c: number }, b: { t: number; c: number }) => ((b.c - a.c) / hz / ((b.t - a.t) / 1000)) * 100;
  let max5 = 0;
  for (let i = 5; i < marks.length; i++) max5 = Math.max(max5, pct(marks[i - 5] as { t: number; c: number }, marks[i] as { t: number; c: number }));
  const timeline = marks.slice(1).map((m, i) => ({ cpu: Math.round(pct(marks[i] as { t: number; c: number }, m) * 10) / 10, rssMb: Math.round(((rssAt[i + 1] ?? 0) / 1048576) * 10) / 10 }));
  const hr1 = Number(process.hrtime.bigint() / 1000n);
  const m1 = machineTicks();
  const k1 = comp();
  const secs = (last.t - t0) / 1000;
  const companionsPct = ((k1 - k0) / hz / secs) * 100;
  const othersPct = Math.max(0, ((m1.busy - m0.busy - (k1 - k0) - (last.c - c0)) / hz / secs) * 100);
  return { cpuPct: pct(marks[0] as { t: number; c: number }, last), cpuPctMax5s: max5, rssMax, rssEnd, seconds: secs, windowUs: [hr0, hr1], timeline, othersPct, companionsPct };
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Start measuring the CPU other processes use (all but `exclude`); `stop()` gives % of one core. */
export function loadMeter(exclude: number[]): { stop(): number } {
  const own = () => exclude.reduce((a, pid) => a + (() => { try { return cpuTicks(pid); } catch { return 0; } })(), 0);
  const m0 = machineTicks();
  const o0 = own();
  const t0 = performance.now();
  return {
    stop() {
      const m1 = machineTicks();
      const o1 = own();
      return Math.max(0, ((m1.busy - m0.busy - (o1 - o0)) / clockTicks() / ((performance.now() - t0) / 1000)) * 100);
    },
  };
}

/** CPU used on the machine during `ms` by processes other than `exclude`, in % of one core. */
export async function othersLoad(ms: number, exclude: number[] = []): Promise<number> {
  const own = () => exclude.reduce((a, pid) => a + (() => { try { return cpuTicks(pid); } catch { return 0; } })(), 0);
  const m0 = machineTicks();
  const o0 = own();
  await sleep(ms);
  const m1 = machineTicks();
  const o1 = own();
  const hz = clockTicks();
  return Math.max(0, ((m1.busy - m0.busy - (o1 - o0)) / hz / (ms / 1000)) * 100);
}

/**
 * Wait (up to `maxS`) until other processes use less than `thresholdPct` of one core, so the
 * measurement is not shared with a test suite someone else is running. Returns the last reading.
 */
export async function waitForQuiet(log: (s: string) => void, what: string, thresholdPct = 25, maxS = 120): Promise<number> {
  const start = performance.now();
  let load = await othersLoad(3000);
  let told = false;
  while (load > thresholdPct && performance.now() - start < maxS * 1000) {
    if (!told) log(`${what}: other processes use ${load.toFixed(0)}% of a core; waiting up to ${maxS}s for a quieter machine…`);
    told = true;
    load = await othersLoad(5000);
  }
  if (load > thresholdPct) log(`${what}: the machine is still busy (${load.toFixed(0)}% of a core used by others): results will be noisy`);
  return load;
}
