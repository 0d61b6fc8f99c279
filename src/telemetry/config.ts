/** `ingest:` in shipshape.yaml: who may send telemetry, how much, and how long it is kept. */
import { z } from 'zod';
import { duration, size } from '../config/zod-units.js';

export const ingestSchema = z
  .object({
    tokens: z
      .array(z.string())
      .default([])
      .transform((list) => list.filter((t) => t !== ''))
      .meta({ description: 'ingest tokens (OTLP, Sentry DSN key, SDK); empty values from unset variables are ignored' }),
    max_body: size().default(5 * 1024 * 1024).meta({ description: 'largest request body accepted after decompression (5MB)' }),
    rate_limit: z
      .object({ requests: z.number().int().min(1).default(600), per: duration().default(60_000) })
      .strict()
      .default({ requests: 600, per: 60_000 })
      .meta({ description: 'ingest requests per token; more get 429 with Retry-After' }),
    max_series: z.number().int().min(10).max(1_000_000).default(10_000).meta({ description: 'series kept in memory; excess label values are dropped and reported' }),
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
  })
  .strict();

export type IngestConfig = z.output<typeof ingestSchema>;
