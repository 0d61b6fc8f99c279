/**
 * The `shipshape` command line: a thin adapter over the domains.
 */
import { Command, Option } from 'commander';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';
import { startShipshape, VERSION } from '../app.js';
import { checkDefs } from '../checks/index.js';
import type { Scope } from '../core/api-types.js';
import { CliError, defaultConfig, defaultDataDir, env, fail, json, makeLogger, out } from '../core/cli.js';
import { ConfigError } from '../core/config/load.js';
import { registerImportCli } from '../import/index.js';
import type { Store } from '../core/store/db.js';
import { SCOPES, Tokens } from '../core/tokens.js';
import { cliContext as ctx, loadConfig, modules, openStore } from '../modules.js';

async function withStore<T>(dataDir: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The first admin token, for a server whose stdout is not a terminal: `<data dir>/first-admin-token`, mode 0600. */
function writeFirstAdminToken(dataDir: string, secret: string): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'first-admin-token');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

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
    const defs = checkDefs(running.config() as never);
    logger.info({ url: running.url, services: defs.services.length, checks: defs.checks.size, store: running.store.location }, `shipshape ${VERSION} listening on ${running.url}`);
    if (running.firstAdminToken) {
      if (process.stdout.isTTY) {
        process.stdout.write(`\n  First start: an admin API token was created. It is shown only this once:\n\n    ${running.firstAdminToken}\n\n  Sign in to the dashboard at ${running.url} with it. Make more with \`shipshape token create\`.\n\n`);
      } else {
        // stdout is a log file or a pipe: the secret goes to a file only this user can read
        try {
          const file = writeFirstAdminToken(o.dataDir, running.firstAdminToken);
          logger.warn({ file }, `first start: an admin API token was created and written to ${file} (mode 0600); sign in at ${running.url} with it, then delete the file`);
        } catch (e) {
          logger.error({ err: e }, 'first start: an admin API token was created but could not be written to the data directory; make one with `shipshape token create --scope admin`');
        }
      }
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
      const defs = checkDefs(cfg as never);
      if (o.json) json({ ok: true, file: o.config, services: defs.services.length, checks: defs.checks.size, warnings: cfg.warnings });
      else {
        for (const w of cfg.warnings) process.stderr.write(`warning: ${w}\n`);
        out(`${o.config}: ok (${defs.services.length} services, ${defs.checks.size} checks)`);
      }
    } catch (e) {
      if (o.json && e instanceof ConfigError) {
        json({ ok: false, file: o.config, errors: e.issues });
        process.exit(1);
      }
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

// each module's commands (check, status, alerts, notify, silence, …)
for (const m of modules) m.cli?.(program, ctx);
registerImportCli(program, ctx);

program.parseAsync(process.argv).catch(fail);
