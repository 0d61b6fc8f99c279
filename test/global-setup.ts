/**
 * Before the suite: make sure the real PostgreSQL and Redis the integration tests talk to are
 * running (start them when they are not, or fail with a clear message), and that the server and
 * dashboard are built (the CLI and browser tests run the built package).
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { liveProcesses } from './helpers/procs.js';
import { connect } from 'node:net';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function ensure(name: string, port: number, start: string): Promise<void> {
  if (await reachable(port)) return;
  try {
    execSync(start, { stdio: 'pipe', timeout: 60_000, shell: '/bin/bash' });
  } catch (e) {
    throw new Error(`${name} is not running on 127.0.0.1:${port} and starting it failed (${start}): ${(e as Error).message}`);
  }
  for (let i = 0; i < 60; i++) {
    if (await reachable(port)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} did not come up on 127.0.0.1:${port} after: ${start}`);
}

/** Proxy daemons of this checkout still running: a test that did not take them down. */
const leftovers = () => liveProcesses().filter((p) => p.cmd.includes(resolve('dist/deploy/proxyd.js')));

export default async function setup(): Promise<() => void> {
  await ensure('PostgreSQL', 5432, 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -1) main start');
  await ensure('Redis', 6379, 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no');
  // the CLI tests run the built package, as users do: compile what changed (incremental), bundle
  execSync('npx tsc -p tsconfig.json', { stdio: 'inherit', timeout: 300_000 });
  execSync('node scripts/bundle.mjs', { stdio: 'inherit', timeout: 300_000 });
  if (!existsSync('dist/web/index.html')) execSync('npx vite build --config web/vite.config.ts --logLevel warn', { stdio: 'inherit', timeout: 300_000 });
  const before = new Set(leftovers().map((p) => p.pid));
  // deploys' daemons outlive Shipshape on purpose, so every test takes its own down: one left
  // running after the suite is a leak (it would hold a port and a core on a shared CI machine)
  return () => {
    const left = leftovers().filter((p) => !before.has(p.pid));
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!left.length) return;
    // vitest reports an error thrown here but exits 0: fail the run ourselves
    process.exitCode = 1;
    throw new Error(`tests left ${left.length} proxy daemon(s) running (killed now): ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
  };
}
