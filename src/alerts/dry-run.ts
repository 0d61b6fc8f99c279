/**
 * `shipshape alerts test`: every rule evaluated once against what a server stored (telemetry
 * rollups, check states, heartbeats), without a running server.
 */
import { storedChecksQuery, type ChecksRaw } from '../checks/index.js';
import type { Config } from '../core/config/load.js';
import type { Store } from '../core/store/db.js';
import { backupSignalReader, type DbRaw } from '../db/index.js';
import { overdueItemsReader, type IncidentsRaw } from '../incidents/index.js';
import { storedTelemetryQuery, type TelemetryQuery } from '../telemetry/index.js';
import { configuredRules, type AlertsRaw } from './config.js';
import { compileRule } from './engine.js';
import { evaluateRule } from './evaluate.js';

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

/** Evaluate every rule once against the stored data. */
export async function testRules(config: Config<AlertsRaw & ChecksRaw>, store: Store<unknown>, now: number, /** Shipshape's data directory (the backup scheduler's record of backups in S3 is under it) */ dataDir: string): Promise<{ rows: AlertTestRow[]; warnings: string[] }> {
  const warnings = [...config.warnings];
  const telemetry = await storedTelemetryQuery(store as never, now).catch((e: Error) => {
    warnings.push(`stored telemetry cannot be read (${e.message}); telemetry rules see no data`);
    return NO_TELEMETRY;
  });
  const checks = await storedChecksQuery(store as never, config, now);
  const rows: AlertTestRow[] = [];
  const backups = backupSignalReader(() => config as unknown as Config<DbRaw>, dataDir);
  const overdueItems = overdueItemsReader(store, () => config as unknown as Config<IncidentsRaw>, () => now);
  for (const cfg of configuredRules(config.raw)) {
    const rule = compileRule(cfg, checks.heartbeatService);
    const ev = await evaluateRule(rule.parsed, { telemetry, checks, now, minSamples: cfg.min_samples, backups, overdueItems });
    const forMs = rule.parsed.condition.k === 'absent' ? 0 : rule.parsed.forMs;
    rows.push({
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
    });
  }
  return { rows, warnings };
}
