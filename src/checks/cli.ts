/** CLI commands of the checks module: `check` (run checks once, a CI smoke test) and `status`. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import type { Page } from '../core/api-types.js';
import type { ServiceSummary } from './api-types.js';
import { callServer, CliError, defaultConfig, defaultDataDir, env, fail, green, json, out, paint, red } from '../core/cli.js';
import { formatDuration, formatPercent } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import type { Store } from '../core/store/db.js';
import { checkDefs, type ChecksRaw } from './config.js';
import { runCheck } from './runner.js';
import type { ChecksTables } from './tables.js';
import type { HeartbeatSource } from './types.js';

export function registerChecksCommands(program: Command, ctx: CliContext): void {
  program
    .command('heartbeats')
    .description("list the heartbeat checks' ping URLs (the secret in each is the credential: an admin's view)")
    .option('-c, --config <file>', 'config file', defaultConfig())
    .option('--data-dir <dir>', 'store location (env SHIPSHAPE_DATA_DIR)', defaultDataDir())
    .option('--json', 'print as JSON')
    .action(async (o: { config: string; dataDir: string; json?: boolean }) => {
      try {
        const cfg = ctx.loadConfig<ChecksRaw>(o.config);
        const defs = [...checkDefs(cfg).checks.values()].filter((d) => d.kind === 'heartbeat');
        const store = await ctx.openStore<ChecksTables>({ dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL });
        let rows: { token: string; secret: string | null }[];
        try {
          rows = await store.db.selectFrom('heartbeats').select(['token', 'secret']).execute();
        } finally {
          await store.close();
        }
        const secrets = new Map(rows.map((r) => [r.token, r.secret]));
        const list = defs.map((d) => {
          const name = String(d.spec.token);
          const secret = secrets.get(name) ?? null;
          return { service: d.service, check: d.name, name, path: secret ? `/api/v1/heartbeat/${name}/${secret}` : null };
        });
        if (o.json) json(list);
        else for (const h of list) out(`${h.service}/${h.check}  ${h.path ?? '(no URL yet: start the server once with this config)'}`);
      } catch (e) {
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
        const cfg = ctx.loadConfig<ChecksRaw>(o.config);
        const defsAll = checkDefs(cfg);
        for (const s of services) if (!defsAll.services.some((x) => x.name === s)) throw new CliError(`no service "${s}" in ${o.config}; services: ${defsAll.services.map((x) => x.name).join(', ')}`, 2);
        const defs = [...defsAll.checks.values()].filter((d) => services.length === 0 || services.includes(d.service));
        let store: Store<ChecksTables> | undefined;
        const hasStore = env.SHIPSHAPE_DATABASE_URL || existsSync(join(o.dataDir, 'shipshape.db'));
        const pings = new Map<string, { last: number | null; since: number }>();
        if (hasStore && defs.some((d) => d.kind === 'heartbeat')) {
          store = await ctx.openStore<ChecksTables>({ dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL, migrate: false });
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
        const items: ServiceSummary[] = [];
        let cursor: string | null = null;
        do {
          const q: URLSearchParams = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) });
          const page: Page<ServiceSummary> = await callServer<Page<ServiceSummary>>(o, 'GET', `/api/v1/services?${q}`);
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

}
