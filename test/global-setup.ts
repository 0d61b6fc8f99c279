/**
 * Before the suite: make sure the real PostgreSQL and Redis the integration tests talk to are
 * running (start them when they are not, or fail with a clear message), and that the server and
 * dashboard are built (the CLI and browser tests run the built package).
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

export default async function setup(): Promise<void> {
  await ensure('PostgreSQL', 5432, 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -1) main start');
  await ensure('Redis', 6379, 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no');
  // the CLI tests run the built package, as users do: compile what changed (incremental)
  execSync('npx tsc -p tsconfig.json', { stdio: 'inherit', timeout: 300_000 });
  if (!existsSync('dist/web/index.html')) execSync('npx vite build --config web/vite.config.ts --logLevel warn', { stdio: 'inherit', timeout: 300_000 });
}
