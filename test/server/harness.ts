/**
 * A real Shipshape HTTP server assembled the way src/app.ts does it (store, event log, tokens,
 * every module), but with buildServer options a test chooses (short timeouts, low connection caps,
 * extra routes). startShipshape does not take server options; this is for the HTTP limits tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Config } from '../../src/core/config/load.js';
import { EventLog } from '../../src/core/events.js';
import { IngestGuard } from '../../src/core/http/ingest.js';
import { createMetrics } from '../../src/core/metrics.js';
import type { AnyModule, ModuleContext, ModuleDefinition, ModuleLifecycle } from '../../src/core/module.js';
import { Tokens } from '../../src/core/tokens.js';
import { loadConfig, modules as allModules, openStore, type RawConfig, type RootStore } from '../../src/modules.js';
import { buildServer, type ServerDeps } from '../../src/server/app.js';

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

type Instance = ModuleLifecycle<never> & Record<string, unknown>;

export async function startHarness(
  yaml: string,
  opts: { server?: Partial<ServerDeps>; before?: (app: FastifyInstance) => void; modules?: readonly AnyModule[] } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'shipshape-http-'));
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(configPath, yaml);
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const config: Config<RawConfig> = loadConfig(configPath);
  const store = await openStore({ dataDir: join(dir, 'data') });
  const events = new EventLog(store);
  const tokens = new Tokens(store, events);
  await tokens.ensure(HARNESS_ADMIN, 'admin');
  const metrics = createMetrics();
  const ingest = new IngestGuard(() => config.raw.ingest);
  const created = new Map<AnyModule, Instance>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const use = <A>(def: ModuleDefinition<A, any, any>): A => created.get(def as AnyModule) as A;
  for (const def of opts.modules ?? allModules) {
    const ctx: ModuleContext<unknown, never> = { store, events, logger: log, metrics, ingest, config: () => config as Config<never>, now: Date.now, version: 'test', use };
    created.set(def, (await def.create(ctx as never)) as Instance);
  }
  const instances = [...created.entries()].map(([def, instance]) => ({ name: def.name, instance }));
  const server = await buildServer({ modules: instances, tokens, events, metrics, version: 'test', logger: log, ...opts.server });
  opts.before?.(server);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    store,
    events,
    tokens,
    logs,
    async close() {
      await server.close();
      for (const m of instances.reverse()) await m.instance.stop?.().catch(() => undefined);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
