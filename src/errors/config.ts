/**
 * `errors:` in shipshape.yaml (optional): how much of each issue's history is kept. Services claim
 * Sentry projects with `services.<name>.sentry: { project: 1 }` (in the services schema).
 */
import { z } from 'zod';
import type { Config } from '../core/config/load.js';
import type { CoreConfig } from '../core/config/schema.js';
import type { ConfigFinding } from '../core/module.js';

export const errorsSchema = z
  .object({
    events_per_issue: z.number().int().min(1).max(1000).default(50).meta({ description: 'latest events kept per issue, with their full stack traces (50)' }),
    max_pending: z.number().int().min(10).max(100_000).default(1000).meta({ description: 'events waiting to be stored before ingest answers 429 (1000)' }),
  })
  .strict();

export type ErrorsConfig = z.output<typeof errorsSchema>;

const sentrySchema = z
  .object({ project: z.union([z.number().int().min(1), z.string().regex(/^\d+$/)]).transform(Number) })
  .strict()
  .optional()
  .meta({ description: 'errors sent to the Sentry DSN with this project id belong to this service' });

export type ErrorsRaw = CoreConfig & { errors: ErrorsConfig; services: Record<string, { sentry?: { project: number } }> };

export const errorsConfig = {
  sections: { errors: errorsSchema.prefault({}) },
  service: { sentry: sentrySchema },
  validate(raw: ErrorsRaw): ConfigFinding[] {
    // only tokens that may send errors are DSN keys
    const dsnKeys = raw.ingest.tokens.filter((t) => !t.kinds || t.kinds.includes('errors'));
    if (Object.values(raw.services).some((svc) => svc.sentry) && dsnKeys.some((t) => !/^[A-Za-z0-9_]+$/.test(t.token))) {
      return [{ path: ['ingest', 'tokens'], message: 'Sentry SDKs accept only letters, digits and "_" in a DSN key; a token with other characters cannot be used in a DSN', warning: true }];
    }
    return [];
  },
};

/** project id -> service name, from `services.<name>.sentry.project` (the first service wins a shared id). */
const byConfig = new WeakMap<Config<ErrorsRaw>, Map<number, string>>();

export function projectServices(config: Config<ErrorsRaw>): Map<number, string> {
  const known = byConfig.get(config);
  if (known) return known;
  const map = new Map<number, string>();
  for (const [name, svc] of Object.entries(config.raw.services)) {
    const p = svc.sentry?.project;
    if (p !== undefined && !map.has(p)) map.set(p, name);
  }
  byConfig.set(config, map);
  return map;
}
