/** `shipshape alerts …` commands. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { testRules, type AlertTestRow } from './dry-run.js';
import { formatDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import { CliError, defaultConfig, defaultDataDir, env, fail, green, json, out, red, yellow } from '../core/cli.js';

/** Open the store next to (or after) a server and test the rules (what `shipshape alerts test` prints). */
export async function testAlertRules(ctx: CliContext, opts: { config: string; dataDir: string; databaseUrl?: string; now?: number }): Promise<{ rows: AlertTestRow[]; warnings: string[] }> {
  const config = ctx.loadConfig<Parameters<typeof testRules>[0]['raw']>(opts.config);
  if (!opts.databaseUrl && !existsSync(join(opts.dataDir, 'shipshape.db'))) {
    throw new CliError(`no store at ${opts.dataDir}: rules are tested against the data a server stored (run \`shipshape up\`, or pass --data-dir / SHIPSHAPE_DATABASE_URL)`, 2);
  }
  const store = await ctx.openStore({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl, migrate: false });
  try {
    return await testRules(config, store, opts.now ?? Date.now(), opts.dataDir);
  } finally {
    await store.close();
  }
}

export type { AlertTestRow };

export function registerAlertsCommands(program: Command, ctx: CliContext): void {
  const alerts = program.command('alerts').description('alert rules: test them against stored data');
  alerts
    .command('test')
    .description('evaluate every alert rule once against the stored telemetry and check states, and print what would fire')
    .option('-c, --config <file>', 'config file (env SHIPSHAPE_CONFIG)', defaultConfig())
    .option('--data-dir <dir>', 'store location (env SHIPSHAPE_DATA_DIR)', defaultDataDir())
    .option('--json', 'print the results as JSON')
    .addHelpText('after', '\nExample:\n  $ shipshape alerts test --config shipshape.yaml     # which rules would fire on the data stored now')
    .action(async (o: { config: string; dataDir: string; json?: boolean }) => {
      try {
        const { rows, warnings } = await testAlertRules(ctx, { config: o.config, dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL });
        if (o.json) {
          json({ rules: rows, warnings });
          return;
        }
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        if (rows.length === 0) {
          out(`no alert rules in ${o.config}`);
          return;
        }
        const table = new Table({ head: ['rule', 'value', 'threshold', 'would fire', 'reason'], style: { head: [], border: [] }, wordWrap: true, colWidths: [null, null, null, null, 70] as unknown as number[] });
        for (const r of rows) {
          const fire = r.error ? yellow('error') : r.wouldFire ? red(r.forMs > 0 ? `yes (after ${formatDuration(r.forMs)})` : 'yes') : green('no');
          table.push([r.rule, r.valueText, r.thresholdText || '–', fire, r.reason]);
        }
        out(table.toString());
        const firing = rows.filter((r) => r.wouldFire).length;
        out(firing ? red(`${firing} of ${rows.length} rules would fire`) : green(`none of ${rows.length} rules would fire`));
      } catch (e) {
        fail(e);
      }
    });
}
