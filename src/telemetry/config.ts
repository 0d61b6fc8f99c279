/**
 * The telemetry module's keys in `ingest:` (the core owns `tokens`, `max_body` and `rate_limit`):
 * how many series are kept, for how long, and which Prometheus targets are scraped.
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';

const ingestKeys = {
  max_series: z.number().int().min(10).max(1_000_000).default(10_000).meta({ description: 'series kept in memory; excess label values are dropped and reported' }),
  max_series_per_service: z
    .number()
    .int()
    .min(10)
    .max(1_000_000)
    .optional()
    .meta({ description: 'series one service may hold (default max_series / 5); its excess labels are folded into its "(other)" series' }),
  max_series_per_token: z.number().int().min(10).max(1_000_000).optional().meta({ description: 'series one ingest token may create (default: no limit below max_series; a token entry\'s max_series overrides it)' }),
  retention: z
    .object({ ten_seconds: duration().default(48 * 3_600_000), minute: duration().default(30 * 86_400_000), hour: duration().default(395 * 86_400_000) })
    .strict()
    .default({ ten_seconds: 48 * 3_600_000, minute: 30 * 86_400_000, hour: 395 * 86_400_000 }),
  prometheus: z
    .array(
      z
        .object({
          service: z.string().min(1).meta({ description: 'the service the scraped metrics belong to' }),
          url: z.string().url().meta({ description: 'the /metrics URL (Prometheus text format)' }),
          every: duration().default(15_000),
          timeout: duration().default(5_000),
          headers: z.record(z.string(), z.string()).optional(),
        })
        .strict(),
    )
    .default([])
    .meta({ description: 'Prometheus scrape targets (exporters, prom-client apps)' }),
};

export const telemetryConfig = { extend: { ingest: ingestKeys } };

export type IngestConfig = CoreConfig['ingest'] & z.output<z.ZodObject<typeof ingestKeys>>;
export type TelemetryRaw = CoreConfig & { ingest: IngestConfig };

export type { IngestKind } from '../core/config/schema.js';

/** The per-service series limit in force. */
export function perServiceLimit(ingest: IngestConfig): number {
  return ingest.max_series_per_service ?? Math.max(10, Math.floor(ingest.max_series / 5));
}
