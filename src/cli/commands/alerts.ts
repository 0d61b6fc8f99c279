/** `shipshape alerts …` commands. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { compileRule } from '../../alerts/engine.js';
import { evaluateRule } from '../../alerts/evaluate.js';
import { heartbeatServiceOf, storedChecks } from '../../alerts/readers.js';
import { formatDuration } from '../../config/units.js';
import { loadConfig } from '../../config/load.js';
import { openStore } from '../../store/db.js';
import { storedTelemetryQuery } from '../../telemetry/index.js';
import type { TelemetryQuery } from '../../telemetry/types.js';
import { CliError, defaultConfig, defaultDataDir, env, fail, green, json, out, red, yellow } from '../util.js';

export interface AlertTestRow {
  rule: string;
  when: string;
  severity: string;
  value: number | null;
  valueText: string;
  threshold: number | null;
  thresholdText: string;
  samples: number | null;
  /** the condition holds now (after the minimum-samples guard) */
  wouldFire: boolean;
  /** pending time before it would actually fire (ms) */
  forMs: number;
  reason: string;
  error?: string;
}

/** What telemetry rules see when the stored telemetry cannot be read. */
const NO_TELEMETRY: TelemetryQuery = {
  requestRate: () => ({ value: null, samples: 0 }),
  errorRate: () => ({ value: null, samples: 0 }),
  latency: () => ({ value: null, samples: 0 }),
  vital: () => ({ value: null, samples: 0 }),
  eventRate: () => ({ value: null, samples: 0 }),
  metric: () => ({ value: null, samples: 0 }),
  lastSeen: () => undefined,
};

/** Evaluate every rule once against stored data (what `shipshape alerts test` prints). */
export async function testAlertRules(opts: { config: string; dataDir: string; databaseUrl?: string; now?: number }): Promise<{ rows: AlertTestRow[]; warnings: string[] }> {
  const config = loadConfig(opts.config);
  const now = opts.now ?? Date.now();
  const warnings = [...config.warnings];
  if (!opts.databaseUrl && !existsSync(join(opts.dataDir, 'shipshape.db'))) {
    throw new CliError(`no store at ${opts.dataDir}: rules are tested against the data a server stored (run \`shipshape up\`, or pass --data-dir / SHIPSHAPE_DATABASE_URL)`, 2);
  }
  const store = await openStore({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl, migrate: false });
  try {
    const telemetry = await storedTelemetryQuery(store, now).catch((e: Error) => {
      warnings.push(`stored telemetry cannot be read (${e.message}); telemetry rules see no data`);
      return NO_TELEMETRY;
    });
    const checks = await storedChecks(store, config, now);
    const rows = config.raw.alerts.map((cfg): AlertTestRow => {
      const rule = compileRule(cfg, heartbeatServiceOf(() => config));
      const ev = evaluateRule(rule.parsed, { telemetry, checks, now, minSamples: cfg.min_samples });
      const forMs = rule.parsed.condition.k === 'absent' ? 0 : rule.parsed.forMs;
      return {
        rule: cfg.name,
        when: cfg.when,
        severity: cfg.severity,
        value: ev.value,
        valueText: ev.valueText,
        threshold: ev.threshold,
        thresholdText: ev.thresholdText,
        samples: ev.samples,
        wouldFire: ev.met,
        forMs,
        reason: ev.reason,
        ...(ev.error ? { error: ev.error } : {}),
      };
    });
    return { rows, warnings };
  } finally {
    await store.close();
  }
}

export function registerAlertsCommands(program: Command): void {
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
        const { rows, warnings } = await testAlertRules({ config: o.config, dataDir: o.dataDir, databaseUrl: env.SHIPSHAPE_DATABASE_URL });
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
