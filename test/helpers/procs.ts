/**
 * Processes a test left running under its temporary directory: the deploy proxy daemon (its
 * working directory is the data directory) and release apps (theirs is the release directory).
 * Deploys' processes outlive Shipshape on purpose, so tests take them down with `killUnder` in
 * afterAll (the test helpers do it by default) — CI runs many test files on one machine.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Live (not zombie) processes whose working directory or command line lies under `dir`. */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') continue;
      const cwd = readlinkSync(`/proc/${d}/cwd`);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmd.includes(dir)) out.push(Number(d));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
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
