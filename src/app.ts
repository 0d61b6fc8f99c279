/**
 * The composition root: opens the store, loads the config, starts the checks and the HTTP server,
 * watches the config for changes, and stops everything gracefully.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AtRest } from './core/at-rest.js';
import { packageVersion } from './core/package-root.js';
import { ConfigError, type Config } from './core/config/load.js';
import { EventLog } from './core/events.js';
import { useEgressConfig } from './core/egress.js';
import { closeEgressAgent } from './core/egress-http.js';
import { IngestGuard } from './core/http/ingest.js';
import { StorageHealth } from './core/storage-health.js';
import { createMetrics } from './core/metrics.js';
import type { AnyModule, ModuleContext, ModuleDefinition, ModuleLifecycle } from './core/module.js';
import { StoreError, type Store } from './core/store/db.js';
import { Tokens, WeakSecretError, weakSecretReason } from './core/tokens.js';
import { loadConfig, modules as allModules, openStore, type RootStore } from './modules.js';
import { buildServer, type ServerDeps } from './server/app.js';

export const VERSION: string = packageVersion();

export interface StartOptions {
  configPath: string;
  dataDir?: string;
  databaseUrl?: string;
  host?: string;
  port?: number;
  logger: Logger;
  /** SHIPSHAPE_ADMIN_TOKEN: make sure this secret is an admin token */
  adminToken?: string;
  /** watch the config file and apply changes (default true) */
  watchConfig?: boolean;
  webRoot?: string;
  /** the modules to run (default: every module in src/modules.ts) */
  modules?: readonly AnyModule[];
  /** HTTP server settings over the config's `server:` keys, and routes to add before listening (tests) */
  server?: Pick<ServerDeps, 'limits' | 'trustedProxies' | 'secureCookies'> & { extend?: (app: FastifyInstance) => void };
}

export interface Running {
  url: string;
  server: FastifyInstance;
  /** a module's service API */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  use<A>(module: ModuleDefinition<A, any, any>): A;
  store: RootStore;
  events: EventLog;
  tokens: Tokens;
  config(): Config;
  /** a new admin token made on first start (shown once), if any */
  firstAdminToken?: string;
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * One server per embedded store: a second `shipshape up` on the same data dir would run every
 * check twice. The lock is SQLite's own (an exclusive transaction held on `server.lock` for the
 * life of the process), which the OS releases when the process ends however it ends, so a
 * restart right after `kill -9` is never refused. `server.pid` only names the holder in the
 * message. (The CLI's token commands may still open the store next to a running server.)
 */
async function lockDataDir(dataDir: string): Promise<() => void> {
  const readOnly = () => new StoreError(`the store ${resolve(dataDir)} is read-only: Shipshape needs to write to it (check the file and directory permissions, or pick another --data-dir)`);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StoreError(`cannot create the data directory ${resolve(dataDir)}: ${(e as Error).message}`);
  }
  const file = join(dataDir, 'server.lock');
  const pidFile = join(dataDir, 'server.pid');
  const { default: Database } = await import('better-sqlite3');
  let lock: SqliteDatabase | undefined;
  try {
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    lock = new Database(file, { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.prepare('BEGIN EXCLUSIVE').run();
  } catch (e) {
    try {
      lock?.close();
    } catch {
      /* failing already */
    }
    const err = e as { code?: string; message?: string };
    if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') {
      let pid = '?';
      try {
        pid = readFileSync(pidFile, 'utf8').trim() || '?';
      } catch {
        /* no pid file: the holder is starting */
      }
      throw new StoreError(`another shipshape (pid ${pid}) is already running on ${resolve(dataDir)}; stop it or pick another --data-dir`);
    }
    if (err.code === 'EACCES' || err.code === 'EROFS' || err.code === 'EPERM' || err.code === 'SQLITE_READONLY' || err.code === 'SQLITE_CANTOPEN' || /readonly/i.test(err.message ?? '')) throw readOnly();
    throw e;
  }
  try {
    writeFileSync(pidFile, String(process.pid), { mode: 0o600 });
  } catch (e) {
    lock.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw readOnly();
    throw e;
  }
  const held = lock;
  return () => {
    try {
      if (readFileSync(pidFile, 'utf8') === String(process.pid)) unlinkSync(pidFile);
    } catch {
      /* gone already */
    }
    try {
      held.close();
    } catch {
      /* closed already */
    }
  };
}

/** What a config keeps running: services, ingest tokens and notification channels. */
function holdings(c: Config): number {
  const channels = (c.raw as { notify?: { channels?: Record<string, unknown> } }).notify?.channels ?? {};
  return Object.keys(c.raw.services).length + c.raw.ingest.tokens.length + Object.keys(channels).length;
}

type Instance = ModuleLifecycle<never> & Record<string, unknown>;

export async function startShipshape(opts: StartOptions): Promise<Running> {
  const log = opts.logger;
  const list = opts.modules ?? allModules;
  if (opts.adminToken !== undefined) {
    const why = weakSecretReason(opts.adminToken);
    if (why) throw new WeakSecretError(`SHIPSHAPE_ADMIN_TOKEN ${why}`);
  }
  let config = loadConfig(opts.configPath);
  // outbound connections (checks, channels, scrapes) follow the egress policy of the config in force
  useEgressConfig(() => config.raw.egress);
  for (const w of config.warnings) log.warn(w);
  const unlock = opts.databaseUrl ? () => undefined : await lockDataDir(opts.dataDir ?? '.shipshape');
  let store: RootStore;
  try {
    store = await openStore({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl });
  } catch (e) {
    unlock();
    throw e;
  }
  const dataDir = resolve(opts.dataDir ?? '.shipshape');
  let atRest: AtRest;
  try {
    // secrets kept in the store are sealed with SHIPSHAPE_SECRET_KEY, or a key made in the data directory
    atRest = AtRest.forServer(dataDir);
  } catch (e) {
    await store.close();
    unlock();
    throw e;
  }
  const events = new EventLog(store);
  const tokens = new Tokens(store, events);
  const metrics = createMetrics();
  const storage = new StorageHealth(store, events, log.child({ component: 'storage' }));
  const ingest = new IngestGuard(() => config.raw.ingest);

  let firstAdminToken: string | undefined;
  if (opts.adminToken) await tokens.ensure(opts.adminToken, 'admin (SHIPSHAPE_ADMIN_TOKEN)');
  else if ((await tokens.count()) === 0) firstAdminToken = (await tokens.create('admin', ['admin'], 'system')).token;

  // create every module in list order; a module may use the ones before it
  const created = new Map<AnyModule, Instance>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const use = <A>(def: ModuleDefinition<A, any, any>): A => {
    const m = created.get(def as AnyModule);
    if (!m) throw new Error(`module ${def.name} is not created yet: list it before the modules that use it in src/modules.ts`);
    return m as A;
  };
  for (const def of list) {
    const ctx: ModuleContext<unknown, never> = {
      store: store as Store<unknown>,
      events,
      logger: log,
      metrics,
      ingest,
      storage,
      config: () => config as Config<never>,
      now: Date.now,
      version: VERSION,
      dataDir,
      atRest,
      use,
    };
    created.set(def, (await def.create(ctx as never)) as Instance);
  }
  const instances = [...created.entries()].map(([def, instance]) => ({ name: def.name, instance }));

  const started: typeof instances = [];
  try {
    for (const m of instances) {
      await m.instance.start?.();
      started.push(m);
    }
  } catch (e) {
    for (const m of started.reverse()) await m.instance.stop?.().catch(() => undefined);
    await store.close();
    unlock();
    throw e;
  }

  const server = await buildServer({
    modules: instances,
    tokens,
    events,
    metrics,
    version: VERSION,
    logger: log,
    webRoot: opts.webRoot,
    onStorageFull: (_cause, err) => storage.report(err),
    selfHealth: () => storage.state(),
    limits: {
      requestTimeoutMs: config.raw.server.request_timeout,
      keepAliveTimeoutMs: config.raw.server.keep_alive_timeout,
      maxConnectionsPerClient: config.raw.server.max_connections_per_client,
      ...opts.server?.limits,
    },
    trustedProxies: opts.server?.trustedProxies ?? config.raw.server.trusted_proxies,
    secureCookies: opts.server?.secureCookies ?? config.raw.server.secure_cookies,
  });
  opts.server?.extend?.(server);
  const host = opts.host ?? config.raw.server.host ?? '127.0.0.1';
  const port = opts.port ?? config.raw.server.port ?? 4600;
  try {
    await server.listen({ host, port });
  } catch (e) {
    for (const m of [...instances].reverse()) await m.instance.stop?.().catch(() => undefined);
    await store.close();
    unlock();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`cannot listen on ${host}:${port}: the port is in use (another shipshape? pick one with --port)`);
    throw e;
  }
  const addr = server.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  await events.append({ type: 'shipshape.started', actor: 'system', subject: 'shipshape', data: { version: VERSION, url, services: Object.keys(config.raw.services).length, modules: instances.map((m) => m.name) } });

  const tokenRefresh = setInterval(() => tokens.refresh(), 10_000);
  tokenRefresh.unref();

  let reloading: Promise<boolean> | null = null;
  const reload = async (): Promise<boolean> => {
    if (reloading) return reloading;
    reloading = (async () => {
      try {
        const next = loadConfig(opts.configPath);
        for (const w of next.warnings) log.warn(w);
        // an editor that truncates before it writes must not silently drop every check, token and channel
        if (holdings(next) === 0 && holdings(config) > 0 && next.raw.empty !== true) {
          throw new ConfigError([
            { file: opts.configPath, line: 0, column: 0, path: '', message: 'the new config removes every service, ingest token and channel (a truncated file?); add "empty: true" to it to apply an empty config' },
          ]);
        }
        const previous = config;
        config = next;
        try {
          for (const m of instances) await m.instance.apply?.(next as Config<never>);
        } catch (e) {
          config = previous;
          for (const m of instances) await m.instance.apply?.(previous as Config<never>).catch(() => undefined);
          throw e;
        }
        await events.append({ type: 'config.reloaded', actor: 'config', subject: `config:${basename(opts.configPath)}`, data: { services: Object.keys(next.raw.services).length } });
        log.info({ services: Object.keys(next.raw.services).length }, 'config reloaded');
        return true;
      } catch (e) {
        if (e instanceof ConfigError) log.error(`config not reloaded, the last good config keeps running:\n${e.message}`);
        else log.error({ err: e }, 'config reload failed; the last good config keeps running');
        await events.append({ type: 'config.rejected', actor: 'config', subject: `config:${basename(opts.configPath)}`, data: { error: (e as Error).message.slice(0, 2000) } }).catch(() => undefined);
        return false;
      } finally {
        reloading = null;
      }
    })();
    return reloading;
  };

  let watcher: FSWatcher | undefined;
  if (opts.watchConfig !== false) {
    // watch the directory: editors replace files rather than write them in place
    let debounce: NodeJS.Timeout | undefined;
    const file = basename(opts.configPath);
    try {
      watcher = watch(dirname(opts.configPath), (_ev, name) => {
        if (name && name !== file) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload(), 250);
      });
      watcher.on('error', (e) => log.warn({ err: e }, 'config watching stopped'));
    } catch (e) {
      log.warn({ err: e }, 'cannot watch the config file; restart to apply changes');
    }
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      watcher?.close();
      clearInterval(tokenRefresh);
      await server.close();
      storage.stop();
      for (const m of [...instances].reverse()) await m.instance.stop?.().catch((e) => log.error({ err: e, module: m.name }, 'stopping failed'));
      await closeEgressAgent();
      await events.append({ type: 'shipshape.stopped', actor: 'system', subject: 'shipshape', data: {} }).catch(() => undefined);
      await store.close();
      unlock();
    })();
    return stopping;
  };

  return { url, server, use, store, events, tokens, config: () => config, firstAdminToken, reload, stop };
}
