/**
 * Processes a test left running under its temporary directory: the deploy proxy daemon (its
 * working directory is the data directory) and release apps (theirs is the release directory).
 * Deploys' processes outlive Shipshape on purpose, so tests take them down with `killUnder` in
 * afterAll (the test helpers do it by default) — CI runs many test files on one machine.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Every live (not zombie) process but this one: its working directory and command line. */
export function liveProcesses(): { pid: number; cwd: string; cmd: string }[] {
  const out: { pid: number; cwd: string; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') continue;
      out.push({ pid: Number(d), cwd: readlinkSync(`/proc/${d}/cwd`), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** Live processes whose working directory or command line lies under `dir`. */
export function processesUnder(dir: string): number[] {
  return liveProcesses()
    .filter((p) => p.cwd === dir || p.cwd.startsWith(`${dir}/`) || p.cmd.includes(dir))
    .map((p) => p.pid);
}

/** SIGKILL every process (and its group) under `dir`; resolves when none is left (at most ~5 s). */
export async function killUnder(dir: string): Promise<number[]> {
  const killed = processesUnder(dir);
  for (let i = 0; i < 100; i++) {
    const left = processesUnder(dir);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* not a group leader */
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return killed;
}
