/** Start a real Shipshape (HTTP server, store, checks) on an ephemeral loopback port. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startShipshape, type Running } from '../../src/app.js';
import { checks, type Monitor } from '../../src/checks/index.js';
import { deploy } from '../../src/deploy/index.js';
import { createTestDatabase } from './pg.js';
import { killUnder } from './procs.js';

export const ADMIN = 'test-admin-token-0123456789';

export interface TestServer extends Running {
  dir: string;
  configPath: string;
  /** the checks module's monitor */
  monitor: Monitor;
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestServer(yaml: string, opts: { databaseUrl?: string; adminToken?: string | null } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-srv-'));
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(configPath, yaml);
  const running = await startShipshape({
    configPath,
    dataDir: join(dir, 'data'),
    databaseUrl: opts.databaseUrl,
    port: 0,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    adminToken: opts.adminToken === null ? undefined : (opts.adminToken ?? ADMIN),
  });
  return Object.assign(running, {
    dir,
    configPath,
    monitor: running.use(checks).monitor,
    api(path: string, init: RequestInit & { token?: string | null } = {}) {
      const headers = new Headers(init.headers);
      const token = init.token === undefined ? ADMIN : init.token;
      if (token) headers.set('authorization', `Bearer ${token}`);
      if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return fetch(`${running.url}${path}`, { ...init, headers });
    },
    async close() {
      // releases and the proxy daemon outlive a stop on purpose: a test takes them down
      await running.use(deploy).service.downAll().catch(() => undefined);
      await running.stop();
      await killUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * A test server on the embedded store, or on a fresh PostgreSQL database named after `prefix`;
 * close() stops it and drops that database.
 */
export async function startTestServerOn(backend: 'sqlite' | 'postgres', yaml: string, prefix = 'shipshape_test'): Promise<TestServer> {
  if (backend === 'sqlite') return startTestServer(yaml);
  const db = await createTestDatabase(prefix);
  let s: TestServer;
  try {
    s = await startTestServer(yaml, { databaseUrl: db.url });
  } catch (e) {
    await db.drop();
    throw e;
  }
  const close = s.close.bind(s);
  s.close = async () => {
    try {
      await close();
    } finally {
      await db.drop();
    }
  };
  return s;
}
