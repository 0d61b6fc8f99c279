/**
 * `services.<name>.env` in shipshape.yaml: the service's environment variables — the schema they
 * must satisfy (from an annotated `.env.example` and/or listed here), the file `shipshape env check`
 * reads by default, and the rotation policy of the secrets kept in the encrypted env store.
 *
 * ```yaml
 * services:
 *   web:
 *     env:
 *       example: .env.example          # names and `# @required`, `# @format url`, `# @prefix sk_live_`, `# @env production` annotations
 *       file: .env                     # what `shipshape env check --service web` reads by default
 *       rotate: 90d                    # default policy for secrets in the store
 *       vars:                          # schema from config, over the example's
 *         STRIPE_SECRET_KEY: { required: true, prefix: sk_live_, env: [production], secret: true, rotate: 30d }
 *         NEXT_PUBLIC_SITE_URL: { required: true, format: url }
 * ```
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';

export const FORMAT_RE = /^(url|email|port|json|int|number|boolean|enum\(.+\)|regex\(.+\))$/;

export const envVarSchema = z
  .object({
    required: z.boolean().optional().meta({ description: 'missing or empty is an error (in the environments `env` names, or everywhere)' }),
    format: z
      .string()
      .regex(FORMAT_RE, 'expected url, email, port, json, int, number, boolean, enum(a,b,…) or regex(…)')
      .optional()
      .meta({ description: 'the value\'s format: url, email, port, json, int, number, boolean, enum(a,b), regex(^…$)' }),
    prefix: z.string().min(1).max(200).optional().meta({ description: 'the value must start with this (e.g. sk_live_); in the environments `env` names, or everywhere' }),
    env: z.array(z.string().min(1).max(100)).max(50).optional().meta({ description: 'the environments the rules above apply in (e.g. [production]); default: all' }),
    secret: z.boolean().optional().meta({ description: 'a secret: masked everywhere, never behind a public prefix, rotation tracked (default: guessed from the name, e.g. *_SECRET*, *_KEY, *_TOKEN, *PASSWORD*)' }),
    rotate: duration().optional().meta({ description: 'rotate this secret at least this often (e.g. 30d); overrides the service\'s `rotate`' }),
    description: z.string().max(1000).optional(),
  })
  .strict();

export const envSchema = z
  .object({
    example: z.string().min(1).max(1000).optional().meta({ description: 'an annotated .env.example (relative to the config file): the names it lists, and `# @required`, `# @format …`, `# @prefix …`, `# @env …`, `# @secret`, `# @rotate 30d` comments above a line' }),
    file: z.string().min(1).max(1000).optional().meta({ description: 'the .env file `shipshape env check` reads by default (relative to the config file)' }),
    rotate: duration().optional().meta({ description: 'default rotation policy for the secrets of this service in the env store (e.g. 90d)' }),
    vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), envVarSchema).default({}).meta({ description: 'variables and their rules, over those of `example`' }),
  })
  .strict();

export type EnvConfig = z.output<typeof envSchema>;
export type EnvVarConfig = z.output<typeof envVarSchema>;

export type EnvRaw = CoreConfig & { services: Record<string, { description?: string; env?: EnvConfig }> };

export const envConfig = {
  service: { env: envSchema.optional().meta({ description: 'the service\'s environment variables: schema, checks, encrypted store, rotation (shipshape env …)' }) },
};
