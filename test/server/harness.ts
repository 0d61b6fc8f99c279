/**
 * A real Shipshape (startShipshape: store, every module started, HTTP server) with HTTP settings a
 * test chooses (short timeouts, low connection caps, which proxies are trusted), routes it adds
 * before the server listens, and the log lines it wrote. For the HTTP limits tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { startShipshape, type StartOptions } from '../../src/app.js';
import type { EventLog } from '../../src/core/events.js';
import type { AnyModule } from '../../src/core/module.js';
import type { Tokens } from '../../src/core/tokens.js';
import type { RootStore } from '../../src/modules.js';

export const HARNESS_ADMIN = 'harness-admin-token-0123456789';

export interface Harness {
  url: string;
  port: number;
  server: FastifyInstance;
  store: RootStore;
  events: EventLog;
  tokens: Tokens;
  /** the log lines the server wrote (JSON objects) */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startHarness(
  yaml: string,
  opts: { server?: Omit<NonNullable<StartOptions['server']>, 'extend'>; before?: (app: FastifyInstance) => void; modules?: readonly AnyModule[] } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-http-'));
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(configPath, yaml);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const running = await startShipshape({
    configPath,
    dataDir: join(dir, 'data'),
    port: 0,
    host: '127.0.0.1',
    logger,
    adminToken: HARNESS_ADMIN,
    watchConfig: false,
    modules: opts.modules,
    server: { ...opts.server, extend: opts.before },
  });
  return {
    url: running.url,
    port: Number(new URL(running.url).port),
    server: running.server,
    store: running.store,
    events: running.events,
    tokens: running.tokens,
    logs,
    async close() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
