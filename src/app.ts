/**
 * The composition root: opens the store, loads the config, starts the checks and the HTTP server,
 * watches the config for changes, and stops everything gracefully.
 */
import { mkdirSync, readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { closeHttpAgents } from './checks/kinds/index.js';
import { Monitor } from './checks/monitor.js';
import { ConfigError, loadConfig, type Config } from './config/load.js';
import { EventLog } from './events/log.js';
import { createMetrics } from './metrics/metrics.js';
import { buildServer } from './server/app.js';
import { openStore, StoreError, type Store } from './store/db.js';
import { Tokens } from './tokens/tokens.js';
import type { Domain, DomainContext } from './domain.js';
import { IngestGuard } from './server/ingest.js';
import { createTelemetry } from './telemetry/index.js';
import { createErrors } from './errors/index.js';
import { createAlerts } from './alerts/index.js';
import { createNotify } from './notify/index.js';

export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
})();

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
}

export interface Running {
  url: string;
  server: FastifyInstance;
  monitor: Monitor;
  domains: Domain[];
  store: Store;
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
 * check twice. (The CLI's token commands may still open the store next to a running server.)
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'server.pid');
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid && pid !== process.pid) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (alive) throw new StoreError(`another shipshape (pid ${pid}) is already running on ${resolve(dataDir)}; stop it or pick another --data-dir`);
    }
  } catch (e) {
    if (e instanceof StoreError) throw e;
  }
  try {
    writeFileSync(file, String(process.pid));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new StoreError(`the store ${resolve(dataDir)} is read-only: Shipshape needs to write to it (check the file and directory permissions, or pick another --data-dir)`);
    throw e;
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
    } catch {
      /* gone already */
    }
  };
}

export async function startShipshape(opts: StartOptions): Promise<Running> {
  const log = opts.logger;
  let config = loadConfig(opts.configPath);
  for (const w of config.warnings) log.warn(w);
  const unlock = opts.databaseUrl ? () => undefined : lockDataDir(opts.dataDir ?? '.shipshape');
  let store: Store;
  try {
    store = await openStore({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl });
  } catch (e) {
    unlock();
    throw e;
  }
  const events = new EventLog(store);
  const tokens = new Tokens(store, events);
  const metrics = createMetrics();
  const monitor = new Monitor({ store, events, logger: log.child({ component: 'checks' }), metrics });

  let firstAdminToken: string | undefined;
  if (opts.adminToken) await tokens.ensure(opts.adminToken, 'admin (SHIPSHAPE_ADMIN_TOKEN)');
  else if ((await tokens.count()) === 0) firstAdminToken = (await tokens.create('admin', ['admin'], 'system')).token;

  await monitor.start(config);

  const ctx: DomainContext = { store, events, logger: log, metrics, monitor, config: () => config, now: Date.now };
  const guard = new IngestGuard(() => config.raw.ingest);
  const telemetry = createTelemetry(ctx, guard);
  const domains: Domain[] = [telemetry, createErrors(ctx, guard), createAlerts(ctx, { telemetry: telemetry.query, guard }), createNotify(ctx)];
  const started: Domain[] = [];
  try {
    for (const d of domains) {
      await d.start?.();
      started.push(d);
    }
  } catch (e) {
    for (const d of started.reverse()) await d.stop?.().catch(() => undefined);
    await monitor.stop().catch(() => undefined);
    await store.close();
    unlock();
    throw e;
  }

  const server = await buildServer({
    domains,
    monitor,
    tokens,
    events,
    metrics,
    version: VERSION,
    logger: log,
    healthDetails: () => config.raw.server.health_details,
    webRoot: opts.webRoot,
  });
  const host = opts.host ?? config.raw.server.host ?? '127.0.0.1';
  const port = opts.port ?? config.raw.server.port ?? 4600;
  try {
    await server.listen({ host, port });
  } catch (e) {
    await monitor.stop().catch(() => undefined);
    await store.close();
    unlock();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`cannot listen on ${host}:${port}: the port is in use (another shipshape? pick one with --port)`);
    throw e;
  }
  const addr = server.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  await events.append({ type: 'shipshape.started', actor: 'system', subject: 'shipshape', data: { version: VERSION, url, services: config.services.length, checks: config.checks.size } });

  const tokenRefresh = setInterval(() => tokens.refresh(), 10_000);
  tokenRefresh.unref();

  let reloading: Promise<boolean> | null = null;
  const reload = async (): Promise<boolean> => {
    if (reloading) return reloading;
    reloading = (async () => {
      try {
        const next = loadConfig(opts.configPath);
        for (const w of next.warnings) log.warn(w);
        await monitor.apply(next);
        config = next;
        for (const d of domains) await d.apply?.(next);
        await events.append({ type: 'config.reloaded', actor: 'config', subject: `config:${basename(opts.configPath)}`, data: { services: next.services.length, checks: next.checks.size } });
        log.info({ services: next.services.length, checks: next.checks.size }, 'config reloaded');
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
      for (const d of [...domains].reverse()) await d.stop?.().catch((e) => log.error({ err: e, domain: d.name }, 'stopping failed'));
      await monitor.stop();
      await closeHttpAgents();
      await events.append({ type: 'shipshape.stopped', actor: 'system', subject: 'shipshape', data: {} }).catch(() => undefined);
      await store.close();
      unlock();
    })();
    return stopping;
  };

  return { url, server, monitor, domains, store, events, tokens, config: () => config, firstAdminToken, reload, stop };
}
