/**
 * The core of the shipshape.yaml schema (`server`, `ingest`, the `services` map) and the assembly
 * of the whole schema from the modules' sections. The zod schema is the single source of truth
 * for config types, validation and the published JSON Schema (`npm run schema`).
 */
import { z } from 'zod';
import type { AnyModule } from '../module.js';
import { duration, size } from './zod-units.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const name = (what: string) =>
  z.string().regex(NAME_RE, `a ${what} name is letters, digits, "_", "-" or "." (at most 63, starting with a letter or digit)`);

const serverShape = {
  host: z.string().optional().meta({ description: 'listen address (default 127.0.0.1; env SHIPSHAPE_HOST)' }),
  port: z.number().int().min(0).max(65535).optional().meta({ description: 'listen port (default 4600; env SHIPSHAPE_PORT)' }),
  health_details: z.boolean().default(true).meta({ description: 'include per-check messages in the public /api/health' }),
};

/** Who may send telemetry and how much; modules that ingest add their own keys (`config.extend.ingest`). */
const ingestShape = {
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
};

const serviceShape = {
  description: z.string().max(500).optional(),
};

/** Sections of the core that modules may extend with keys of their own. */
export const EXTENSIBLE = { server: serverShape, ingest: ingestShape } as const;

export interface CoreConfig {
  $schema?: string;
  server: { host?: string; port?: number; health_details: boolean };
  ingest: { tokens: string[]; max_body: number; rate_limit: { requests: number; per: number } };
  services: Record<string, { description?: string }>;
}

/** The whole schema: the core's sections plus every module's, each key owned by one module. */
export function buildConfigSchema(modules: readonly AnyModule[]) {
  const owner = new Map<string, string>();
  const claim = (key: string, by: string) => {
    const prev = owner.get(key);
    if (prev) throw new Error(`config key "${key}" is claimed by both ${prev} and ${by}`);
    owner.set(key, by);
  };
  for (const k of ['$schema', 'server', 'ingest', 'services', 'description']) claim(k, 'core');
  const service: Record<string, z.ZodType> = { ...serviceShape };
  const extended: Record<string, Record<string, z.ZodType>> = { server: { ...serverShape }, ingest: { ...ingestShape } };
  const sections: Record<string, z.ZodType> = {};
  for (const m of modules) {
    for (const [k, s] of Object.entries(m.config?.sections ?? {})) {
      claim(k, m.name);
      sections[k] = s;
    }
    for (const [k, s] of Object.entries(m.config?.service ?? {})) {
      claim(`services.*.${k}`, m.name);
      service[k] = s;
    }
    for (const [section, shape] of Object.entries(m.config?.extend ?? {})) {
      const target = extended[section];
      if (!target) throw new Error(`module ${m.name} extends "${section}", which is not an extensible core section (${Object.keys(extended).join(', ')})`);
      for (const [k, s] of Object.entries(shape)) {
        claim(`${section}.${k}`, m.name);
        target[k] = s;
      }
    }
  }
  const serviceSchema = z.object(service).strict();
  return z
    .object({
      $schema: z.string().optional(),
      server: z.object(extended.server as z.ZodRawShape).strict().prefault({}),
      ingest: z.object(extended.ingest as z.ZodRawShape).strict().prefault({}),
      services: z.record(name('service'), serviceSchema).default({}),
      ...sections,
    })
    .strict();
}

/** JSON Schema for editors (yaml-language-server: `# yaml-language-server: $schema=…`). */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...json,
    $id: 'https://shipshape.dev/schema/shipshape.schema.json',
    title: 'shipshape.yaml',
    description: 'Shipshape configuration: services, checks, telemetry, alerts and notifications.',
  };
}
