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
 *       push:                          # shipshape env push web --env staging --to vercel
 *         vercel: { args: ["--scope", "my-team"], environments: { staging: preview } }
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

/** `env.push.<platform>`: how `shipshape env push --to <platform>` runs that platform's CLI for the service. */
export const envPushTargetSchema = z
  .object({
    bin: z.string().min(1).max(1000).optional().meta({ description: 'the platform CLI to run: a name on PATH or a path (relative to the config file); default the preset\'s binary (vercel, netlify)' }),
    args: z.array(z.string().max(1000)).max(50).default([]).meta({ description: 'arguments put before every subcommand, e.g. ["--scope", "my-team"] (Vercel) or ["--filter", "web"] (Netlify); never a token: the CLIs read VERCEL_TOKEN / NETLIFY_AUTH_TOKEN from the server\'s environment' }),
    cwd: z.string().min(1).max(1000).optional().meta({ description: 'the directory the CLI runs in (the linked project: .vercel/project.json, .netlify/state.json), relative to the config file; default the config file\'s directory' }),
    environments: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected an environment name'), z.string().min(1).max(200))
      .default({})
      .meta({ description: 'a Shipshape environment → the platform\'s (Vercel: production, preview, development or a custom environment; Netlify: a context like production, deploy-preview, branch-deploy, dev or branch:<name>); default the same name' }),
    timeout: duration().default(120_000).meta({ description: 'each CLI call still running after this is killed and the push stops there (2m)' }),
  })
  .strict();

export const envPushSchema = z
  .object({
    vercel: envPushTargetSchema.optional(),
    netlify: envPushTargetSchema.optional(),
  })
  .strict();

export const envSchema = z
  .object({
    example: z.string().min(1).max(1000).optional().meta({ description: 'an annotated .env.example (relative to the config file): the names it lists, and `# @required`, `# @format …`, `# @prefix …`, `# @env …`, `# @secret`, `# @rotate 30d` comments above a line' }),
    file: z.string().min(1).max(1000).optional().meta({ description: 'the .env file `shipshape env check` reads by default (relative to the config file)' }),
    rotate: duration().optional().meta({ description: 'default rotation policy for the secrets of this service in the env store (e.g. 90d)' }),
    vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), envVarSchema).default({}).meta({ description: 'variables and their rules, over those of `example`' }),
    push: envPushSchema.optional().meta({ description: '`shipshape env push --to vercel|netlify`: the platform CLI (binary, arguments, directory) and how environments map to the platform\'s (all optional)' }),
  })
  .strict();

export type EnvConfig = z.output<typeof envSchema>;
export type EnvVarConfig = z.output<typeof envVarSchema>;
export type EnvPushTargetConfig = z.output<typeof envPushTargetSchema>;

export type EnvRaw = CoreConfig & { services: Record<string, { description?: string; env?: EnvConfig }> };

export const envConfig = {
  service: { env: envSchema.optional().meta({ description: 'the service\'s environment variables: schema, checks, encrypted store, rotation (shipshape env …)' }) },
};
