/**
 * The `shipshape` command line: a thin adapter over the domains.
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';
import { CliError, defaultConfig, defaultDataDir, env, fail, green, json, makeLogger, out, paint, red, withStore } from './util.js';
import type { Page, Scope, ServiceSummary } from '../api/types.js';
import { runCheck } from '../checks/runner.js';
import type { HeartbeatSource } from '../checks/types.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { formatDuration, formatPercent } from '../config/units.js';
import { openStore, type Store } from '../store/db.js';
import { SCOPES, Tokens } from '../tokens/tokens.js';
import { startShipshape, VERSION } from '../app.js';
import { registerAlertsCommands } from './commands/alerts.js';
import { registerNotifyCommands } from './commands/notify.js';

const program = new Command();
program
  .name('shipshape')
  .description('Your operations runbook, running: checks, health endpoints and more from one shipshape.yaml.')
  .version(VERSION)
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Examples:
  $ shipshape up --config examples/shipshape.yaml      run the server on http://127.0.0.1:4600
  $ shipshape validate                                  check shipshape.yaml without starting
  $ shipshape check web db                              run the checks of web and db once (CI smoke test)
  $ shipshape status --url http://127.0.0.1:4600        what a running server sees
  $ shipshape token create --name ci --scope read       make a read-only API token

Environment: SHIPSHAPE_CONFIG, SHIPSHAPE_HOST, SHIPSHAPE_PORT, SHIPSHAPE_DATA_DIR,
SHIPSHAPE_DATABASE_URL (postgres://… instead of the embedded SQLite), SHIPSHAPE_ADMIN_TOKEN,
SHIPSHAPE_URL and SHIPSHAPE_TOKEN (for status), SHIPSHAPE_LOG_LEVEL.`,
  );

program
  .command('up')
  .description('run the server: checks on schedule, health endpoints, API and dashboard')
  .option('-c, --config <file>', 'config file (env SHIPSHAPE_CONFIG)', defaultConfig())
  .option('--host <host>', 'listen address (env SHIPSHAPE_HOST)', env.SHIPSHAPE_HOST)
  .option('-p, --port <port>', 'listen port, 0 for any free one (env SHIPSHAPE_PORT)', env.SHIPSHAPE_PORT)
  .option('--data-dir <dir>', 'where the embedded store lives (env SHIPSHAPE_DATA_DIR)', defaultDataDir())
  .addHelpText('after', '\nExample:\n  $ SHIPSHAPE_ADMIN_TOKEN=secret shipshape up --config shipshape.yaml --port 4600')
  .action(async (o: { config: string; host?: string; port?: string; dataDir: string }) => {
    const logger = makeLogger();
    const port = o.port === undefined ? undefined : Number(o.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) fail(new CliError(`--port must be a number from 0 to 65535, got "${o.port}"`));
    let running: Awaited<ReturnType<typeof startShipshape>>;
    try {
      running = await startShipshape({ configPath: resolve(o.config), dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL, host: o.host, port, logger, adminToken: env.SHIPSHAPE_ADMIN_TOKEN });
    } catch (e) {
      fail(e);
    }
    const cfg = running.config();
    logger.info({ url: running.url, services: cfg.services.length, checks: cfg.checks.size, store: running.store.location }, `shipshape ${VERSION} listening on ${running.url}`);
    if (running.firstAdminToken) {
      process.stdout.write(`\n  First start: an admin API token was created. It is shown only this once:\n\n    ${running.firstAdminToken}\n\n  Sign in to the dashboard at ${running.url} with it. Make more with \`shipshape token create\`.\n\n`);
    }
    let signals = 0;
    const shutdown = (sig: string) => {
      signals++;
      if (signals > 1) process.exit(130);
      logger.info(`${sig}: stopping (finishing writes)…`);
      running
        .stop()
        .then(() => process.exit(0))
        .catch((e) => {
          logger.error({ err: e }, 'stop failed');
          process.exit(1);
        });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('validate')
  .description('check a config file; exits 1 and names file, line and key on error')
  .option('-c, --config <file>', 'config file', defaultConfig())
  .option('--json', 'print the result as JSON')
  .action((o: { config: string; json?: boolean }) => {
    try {
      const cfg = loadConfig(o.config);
      if (o.json) json({ ok: true, file: o.config, services: cfg.services.length, checks: cfg.checks.size, warnings: cfg.warnings });
      else {
        for (const w of cfg.warnings) process.stderr.write(`warning: ${w}\n`);
        out(`${o.config}: ok (${cfg.services.length} services, ${cfg.checks.size} checks)`);
      }
    } catch (e) {
      if (o.json && e instanceof ConfigError) {
        json({ ok: false, file: o.config, errors: e.issues });
        process.exit(1);
      }
      fail(e);
    }
  });

program
  .command('check')
  .description('run checks once and print a table; exits 1 if any fails (a CI smoke test)')
  .argument('[service...]', 'only these services')
  .option('-c, --config <file>', 'config file', defaultConfig())
  .option('--data-dir <dir>', 'store to read heartbeat pings from, when it exists', defaultDataDir())
  .option('--json', 'print results as JSON')
  .addHelpText('after', '\nExample:\n  $ SITE_URL=https://staging.example.com shipshape check web   # after a deploy, in CI')
  .action(async (services: string[], o: { config: string; dataDir: string; json?: boolean }) => {
    try {
      const cfg = loadConfig(o.config);
      for (const s of services) if (!cfg.services.some((x) => x.name === s)) throw new CliError(`no service "${s}" in ${o.config}; services: ${cfg.services.map((x) => x.name).join(', ')}`, 2);
      const defs = [...cfg.checks.values()].filter((d) => services.length === 0 || services.includes(d.service));
      let store: Store | undefined;
      const hasStore = env.SHIPSHAPE_DATABASE_URL || existsSync(join(o.dataDir, 'shipshape.db'));
      const pings = new Map<string, { last: number | null; since: number }>();
      if (hasStore && defs.some((d) => d.kind === 'heartbeat')) {
        store = await openStore({ dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL, migrate: false });
        for (const r of await store.db.selectFrom('heartbeats').selectAll().execute()) pings.set(r.token, { last: r.last_ping === null ? null : Number(r.last_ping), since: Number(r.since) });
        await store.close();
      }
      const heartbeats: HeartbeatSource = { lastPing: (t) => pings.get(t)?.last ?? undefined, watchingSince: (t) => pings.get(t)?.since ?? Date.now() };
      const results = await Promise.all(defs.map(async (d) => ({ def: d, result: await runCheck(d, { heartbeats }) })));
      const failed = results.filter((r) => !r.result.ok);
      if (o.json) {
        json({ ok: failed.length === 0, results: results.map(({ def, result }) => ({ id: def.id, service: def.service, check: def.name, kind: def.kind, target: def.target, ok: result.ok, latency_ms: result.latencyMs, message: result.message, conditions: result.conditions })) });
      } else {
        const table = new Table({ head: ['service', 'check', 'kind', 'result', 'latency', 'details'], style: { head: [], border: [] }, wordWrap: true, colWidths: [null, null, null, null, null, 60] as unknown as number[] });
        for (const { def, result } of results) table.push([def.service, def.name, def.kind, paint(result.ok ? 'ok' : 'FAIL'), formatDuration(result.latencyMs), result.ok ? def.target : result.message]);
        out(table.toString());
        out(failed.length === 0 ? green(`all ${results.length} checks passed`) : red(`${failed.length} of ${results.length} checks failed`));
      }
      void store;
      process.exit(failed.length === 0 ? 0 : 1);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('status')
  .description('show what a running server sees (needs a read token)')
  .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
  .option('--token <token>', 'API token (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN)
  .option('--json', 'print the services as JSON')
  .action(async (o: { url: string; token?: string; json?: boolean }) => {
    try {
      if (!o.token) throw new CliError('status needs an API token: pass --token or set SHIPSHAPE_TOKEN (make one with `shipshape token create --scope read`)', 2);
      const items: ServiceSummary[] = [];
      let cursor: string | null = null;
      do {
        const u = new URL('/api/v1/services', o.url);
        u.searchParams.set('limit', '500');
        if (cursor) u.searchParams.set('cursor', cursor);
        let res: Response;
        try {
          res = await fetch(u, { headers: { authorization: `Bearer ${o.token}` }, signal: AbortSignal.timeout(10_000) });
        } catch (e) {
          throw new CliError(`cannot reach ${o.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message} (is \`shipshape up\` running?)`);
        }
        if (!res.ok) {
          const p = (await res.json().catch(() => ({}))) as { detail?: string };
          throw new CliError(`${o.url} answered ${res.status}: ${p.detail ?? res.statusText}`);
        }
        const page = (await res.json()) as Page<ServiceSummary>;
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      if (o.json) {
        json(items);
        return;
      }
      const pct = (v: number | null) => (v === null ? '–' : formatPercent(v, 2));
      const table = new Table({ head: ['service', 'state', 'since', 'checks', 'uptime 24h', '30d', '90d'], style: { head: [], border: [] } });
      for (const s of items) {
        const up = s.checks.filter((c) => c.state === 'up').length;
        table.push([s.name, paint(s.state), s.since ? `${formatDuration(Date.now() - Date.parse(s.since))} ago` : '–', `${up}/${s.checks.length} up`, pct(s.uptime['24h']), pct(s.uptime['30d']), pct(s.uptime['90d'])]);
      }
      out(table.toString());
    } catch (e) {
      fail(e);
    }
  });

const token = program.command('token').description('manage API tokens (works on the store directly)');
token
  .command('create')
  .description('make an API token; it is printed once')
  .option('--name <name>', 'a name to recognise it by', 'cli')
  .addOption(new Option('--scope <scope...>', 'read, write or admin (repeatable)').choices(SCOPES).default(['read']))
  .option('--data-dir <dir>', 'store location (env SHIPSHAPE_DATA_DIR)', defaultDataDir())
  .option('--json', 'print as JSON')
  .addHelpText('after', '\nExample:\n  $ shipshape token create --name grafana --scope read')
  .action(async (o: { name: string; scope: Scope[]; dataDir: string; json?: boolean }) => {
    try {
      await withStore(o.dataDir, async (store) => {
        const { token: secret, info } = await new Tokens(store).create(o.name, o.scope, 'cli');
        if (o.json) json({ ...info, token: secret });
        else out(`${secret}\n\ntoken "${info.name}" (${info.id}) with scope ${info.scopes.join(', ')}: copy it now, it is not shown again`);
      });
    } catch (e) {
      fail(e);
    }
  });
token
  .command('list')
  .description('list API tokens (never their secrets)')
  .option('--data-dir <dir>', 'store location', defaultDataDir())
  .option('--json', 'print as JSON')
  .action(async (o: { dataDir: string; json?: boolean }) => {
    try {
      await withStore(o.dataDir, async (store) => {
        const list = await new Tokens(store).list();
        if (o.json) {
          json(list);
          return;
        }
        const table = new Table({ head: ['id', 'name', 'scopes', 'created', 'last used', 'revoked'], style: { head: [], border: [] } });
        for (const t of list) table.push([t.id, t.name, t.scopes.join(','), t.created_at, t.last_used_at ?? '–', t.revoked_at ?? '–']);
        out(table.toString());
      });
    } catch (e) {
      fail(e);
    }
  });
token
  .command('revoke')
  .description('revoke a token by id or name')
  .argument('<id>', 'token id or name')
  .option('--data-dir <dir>', 'store location', defaultDataDir())
  .action(async (id: string, o: { dataDir: string }) => {
    try {
      await withStore(o.dataDir, async (store) => {
        const info = await new Tokens(store).revoke(id, 'cli');
        if (!info) throw new CliError(`no active token "${id}"`);
        out(`revoked token "${info.name}" (${info.id})`);
      });
    } catch (e) {
      fail(e);
    }
  });

registerAlertsCommands(program);
registerNotifyCommands(program);

program.parseAsync(process.argv).catch(fail);
