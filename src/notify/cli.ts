/** `shipshape notify …` and `shipshape silence …` commands. */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { CliError, defaultConfig, defaultDataDir, fail, green, json, out } from '../core/cli.js';
import { formatDuration, parseDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import type { CliContext } from '../core/module.js';
import type { Store } from '../core/store/db.js';
import type { NotifyRaw } from './config.js';
import { resolveRoutes, routesFor } from './dispatcher.js';
import { parseMatcher, type Matcher } from './match.js';
import type { NotifyTables } from './migrations.js';
import { Silences } from './silences.js';
import { routeRows, routeView, type RouteView } from './tree.js';
import { externalUrlOf, sendTestMessage } from './test-send.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function author(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

export function registerNotifyCommands(program: Command, ctx: CliContext): void {
  const withStore = async <T>(dataDir: string, fn: (s: Store<NotifyTables>) => Promise<T>): Promise<T> => {
    const store = await ctx.openStore<NotifyTables>({ dataDir, databaseUrl: process.env.SHIPSHAPE_DATABASE_URL });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  const notify = program.command('notify').description('notification channels');
  notify
    .command('test')
    .description('send a test message through a channel now (no server needed); exits 1 if it fails')
    .argument('<channel>', 'a channel name from notify.channels')
    .option('-c, --config <file>', 'config file', defaultConfig())
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ SMTP_URL=smtp://user:pass@mail.example.com:587 shipshape notify test ops-email')
    .action(async (name: string, o: { config: string; json?: boolean }) => {
      try {
        const cfg = ctx.loadConfig<NotifyRaw>(o.config);
        const r = await sendTestMessage(cfg.raw.notify, externalUrlOf(cfg), name).catch((e: Error) => {
          throw e instanceof ServiceError && e.kind === 'not_found' ? new CliError(`${e.message} in ${o.config}`, 2) : e;
        });
        if (o.json) {
          json(r);
          if (!r.ok) process.exit(1);
          return;
        }
        if (!r.ok) throw new CliError(`test message to ${name} (${r.target}) failed: ${r.error}`);
        out(green(`sent a test message to ${name} (${r.target}) in ${formatDuration(r.ms)}`));
      } catch (e) {
        fail(e);
      }
    });

  notify
    .command('routes')
    .description("show the routing tree, or where alerts with the given labels go (like amtool config routes test)")
    .argument('[labels...]', 'label=value pairs of an alert, e.g. alertname=HighLoad severity=critical')
    .option('-c, --config <file>', 'config file', defaultConfig())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  $ shipshape notify routes\n  $ shipshape notify routes service=database owner=team-X')
    .action((labels: string[], o: { config: string; json?: boolean }) => {
      try {
        const cfg = ctx.loadConfig<NotifyRaw>(o.config).raw.notify;
        const tree = resolveRoutes(cfg);
        const line = (d: RouteView) => {
          const to = `${d.receiver ? `${d.receiver} → ` : ''}${d.channels.length ? d.channels.join(', ') : '(nothing: drops)'}`;
          const extra = [`group_by [${d.group_by.join(', ')}]`, `wait ${formatDuration(d.group_wait)}`, `interval ${formatDuration(d.group_interval)}`, `repeat ${formatDuration(d.repeat_interval)}`];
          if (d.continue) extra.push('continue');
          if (d.mute_time_intervals.length) extra.push(`muted during ${d.mute_time_intervals.join(', ')}`);
          if (d.active_time_intervals.length) extra.push(`active during ${d.active_time_intervals.join(', ')}`);
          return `${d.matchers}  ${to}  (${extra.join(', ')})`;
        };
        if (labels.length === 0) {
          const rows = routeRows(tree);
          if (o.json) {
            json(rows);
            return;
          }
          if (rows.length === 0) {
            out('no routes: no channels are configured');
            return;
          }
          out(rows.map((d) => `${'  '.repeat(d.depth)}${line(d)}`).join('\n'));
          return;
        }
        const set: Record<string, string> = {};
        for (const l of labels) {
          const i = l.indexOf('=');
          if (i <= 0) throw new CliError(`"${l}": give labels as name=value`, 2);
          set[l.slice(0, i)] = l.slice(i + 1).replace(/^"(.*)"$/, '$1');
        }
        const hits = routesFor(tree, set).map(routeView);
        if (o.json) {
          json(hits);
          return;
        }
        if (hits.length === 0) {
          out('no route takes these labels: the alert is not sent anywhere');
          return;
        }
        out(hits.map((d) => `${d.path}: ${line(d)}`).join('\n'));
      } catch (e) {
        fail(e);
      }
    });

  const silence = program.command('silence').description('mute alerts matching labels for a while (works on the store directly)');
  silence
    .command('add')
    .description('add a silence')
    .requiredOption('-m, --match <matcher>', 'label=value, label!=value, label=~regex or label!~regex, Alertmanager syntax (repeatable, one matcher each)', collect, [])
    .option('--for <duration>', 'how long: 30m, 2h, 1d', '1h')
    .requiredOption('--comment <text>', 'why')
    .option('--author <name>', 'who (default: your user name)')
    .option('--data-dir <dir>', 'store location (env SHIPSHAPE_DATA_DIR)', defaultDataDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ shipshape silence add --match alertname=high-error-rate --match service=web --for 2h --comment "deploying the fix"')
    .action(async (o: { match: string[]; for: string; comment: string; author?: string; dataDir: string; json?: boolean }) => {
      try {
        let matchers: Matcher[];
        try {
          matchers = o.match.map(parseMatcher);
        } catch (e) {
          throw new CliError(`--match: ${(e as Error).message}`, 2);
        }
        const ms = parseDuration(o.for);
        if (ms === undefined || ms <= 0) throw new CliError(`--for: expected a duration like 30m, 2h or 1d, got "${o.for}"`, 2);
        const who = o.author ?? author();
        await withStore(o.dataDir, async (store) => {
          const silences = new Silences(store, ctx.eventLog(store), Date.now);
          const s = await silences.create({ matchers, durationMs: ms, createdBy: who, comment: o.comment }, `user:${who}`).catch((e: Error) => {
            throw new CliError(e.message, 2);
          });
          if (o.json) json(s);
          else out(`${s.id}\n\nsilenced ${s.match} until ${s.endsAt} (${formatDuration(ms)}), by ${s.createdBy}: ${s.comment}`);
        });
      } catch (e) {
        fail(e);
      }
    });
  silence
    .command('list')
    .description('list silences (active and pending; --all for expired too)')
    .option('--all', 'include expired silences')
    .option('--data-dir <dir>', 'store location', defaultDataDir())
    .option('--json', 'print as JSON')
    .action(async (o: { all?: boolean; dataDir: string; json?: boolean }) => {
      try {
        await withStore(o.dataDir, async (store) => {
          const list = (await new Silences(store, ctx.eventLog(store), Date.now).list()).filter((s) => o.all || s.status.state !== 'expired');
          if (o.json) {
            json(list);
            return;
          }
          if (list.length === 0) {
            out(o.all ? 'no silences' : 'no active or pending silences (--all shows expired ones)');
            return;
          }
          const table = new Table({ head: ['id', 'state', 'matchers', 'ends', 'by', 'comment'], style: { head: [], border: [] }, wordWrap: true });
          for (const s of list) table.push([s.id, s.status.state, s.match, s.endsAt, s.createdBy, s.comment]);
          out(table.toString());
        });
      } catch (e) {
        fail(e);
      }
    });
  silence
    .command('expire')
    .description('end a silence now')
    .argument('<id>', 'silence id (or a unique start of it)')
    .option('--author <name>', 'who (default: your user name)')
    .option('--data-dir <dir>', 'store location', defaultDataDir())
    .action(async (id: string, o: { author?: string; dataDir: string }) => {
      try {
        await withStore(o.dataDir, async (store) => {
          const s = await new Silences(store, ctx.eventLog(store), Date.now).expire(id, `user:${o.author ?? author()}`).catch((e: Error) => {
            throw new CliError(e.message, 2);
          });
          if (!s) throw new CliError(`no silence "${id}"`);
          out(`expired silence ${s.id} (${s.match})`);
        });
      } catch (e) {
        fail(e);
      }
    });
}
