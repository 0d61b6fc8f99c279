/**
 * The core of the shipshape.yaml schema (`server`, `ingest`, the `services` map) and the assembly
 * of the whole schema from the modules' sections. The zod schema is the single source of truth
 * for config types, validation and the published JSON Schema (`npm run schema`).
 */
import { z } from 'zod';
import { egressSchema, type EgressConfig } from '../egress.js';
import type { AnyModule } from '../module.js';
import { weakSecretReason } from '../tokens.js';
import { duration, size } from './zod-units.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const name = (what: string) =>
  z.string().regex(NAME_RE, `a ${what} name is letters, digits, "_", "-" or "." (at most 63, starting with a letter or digit)`);

const serverShape = {
  host: z.string().optional().meta({ description: 'listen address (default 127.0.0.1; env SHIPSHAPE_HOST)' }),
  port: z.number().int().min(0).max(65535).optional().meta({ description: 'listen port (default 4600; env SHIPSHAPE_PORT)' }),
  health_details: z.boolean().default(true).meta({ description: 'include per-check messages in the public /api/health' }),
  request_timeout: duration().default(30_000).meta({ description: 'the most a client may take to send a whole request, headers and body (30s; restart to apply)' }),
  keep_alive_timeout: duration().default(72_000).meta({ description: 'how long an idle keep-alive connection stays open (72s; restart to apply)' }),
  max_connections_per_client: z.number().int().min(0).max(100_000).default(256).meta({ description: 'open connections one address may hold, 0 for no cap (256; behind a local reverse proxy every client shares the proxy\'s address; restart to apply)' }),
  trusted_proxies: z
    .union([z.boolean(), z.string(), z.array(z.string())])
    .default('loopback')
    .meta({ description: 'reverse proxies whose X-Forwarded-For / -Proto are believed: loopback (default), addresses or CIDRs, true (any) or false (none); restart to apply' }),
  secure_cookies: z.boolean().default(false).meta({ description: 'always mark the session cookie Secure (it is anyway when the request came over HTTPS)' }),
};

/** An ingest token: empty (an unset variable, ignored) or at least 16 characters of random text. */
const ingestSecret = z.string().superRefine((t, ctx) => {
  if (t === '') return;
  const why = weakSecretReason(t);
  if (why) ctx.addIssue({ code: 'custom', message: `an ingest token ${why}` });
});

/** What an ingest token may send: the telemetry kinds, Sentry errors and alert pushes. */
export const INGEST_KINDS = ['requests', 'vitals', 'events', 'metrics', 'traces', 'errors', 'alerts'] as const;
export type IngestKind = (typeof INGEST_KINDS)[number];

/**
 * One entry of `ingest.tokens`, normalized (a plain string is `{ token }`). Without `services` or
 * `kinds` the token is unrestricted in that respect; alert pushes belong to no service, so a token
 * with `services` may not push alerts (src/core/http/ingest.ts).
 */
export interface IngestTokenEntry {
  token: string;
  services?: string[];
  kinds?: IngestKind[];
  max_series?: number;
}

const ingestTokenEntry = z
  .object({
    token: ingestSecret,
    services: z.array(z.string().min(1)).min(1).optional().meta({ description: 'the only services this token may send for (a token with services may not push alerts)' }),
    kinds: z
      .array(z.enum(INGEST_KINDS))
      .min(1)
      .optional()
      .meta({ description: 'the only kinds of data this token may send (a browser token: [vitals, events, errors]; alert pushes: alerts)' }),
    max_series: z.number().int().min(1).optional().meta({ description: 'new telemetry series this token may create' }),
  })
  .strict();

/** Who may send telemetry and how much; modules that ingest add their own keys (`config.extend.ingest`). */
const ingestShape = {
  tokens: z
    .array(z.union([ingestSecret, ingestTokenEntry]))
    .default([])
    .transform((list, ctx): IngestTokenEntry[] => {
      const out = new Map<string, IngestTokenEntry>();
      list.forEach((e, i) => {
        const raw = typeof e === 'string' ? { token: e } : e;
        if (raw.token === '') return; // an unset variable
        const entry: IngestTokenEntry = { token: raw.token };
        if (raw.services) entry.services = raw.services;
        if (raw.kinds) entry.kinds = raw.kinds;
        if (raw.max_series !== undefined) entry.max_series = raw.max_series;
        const prev = out.get(entry.token);
        if (prev && JSON.stringify(prev) !== JSON.stringify(entry)) ctx.addIssue({ code: 'custom', path: [i], message: 'this ingest token is listed more than once with different restrictions; list it once' });
        if (!prev) out.set(entry.token, entry);
      });
      return [...out.values()];
    })
    .meta({ description: 'ingest tokens (OTLP, the SDK, Sentry DSN keys, alert pushes): a string, or { token, services, kinds, max_series } to restrict one; empty values from unset variables are ignored' }),
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
  empty?: boolean;
  server: {
    host?: string;
    port?: number;
    health_details: boolean;
    request_timeout: number;
    keep_alive_timeout: number;
    max_connections_per_client: number;
    trusted_proxies: boolean | string | string[];
    secure_cookies: boolean;
  };
  ingest: { tokens: IngestTokenEntry[]; max_body: number; rate_limit: { requests: number; per: number } };
  services: Record<string, { description?: string }>;
  /** outbound connection policy (src/core/egress.ts) */
  egress: EgressConfig;
}

/** The whole schema: the core's sections plus every module's, each key owned by one module. */
export function buildConfigSchema(modules: readonly AnyModule[]) {
  const owner = new Map<string, string>();
  const claim = (key: string, by: string) => {
    const prev = owner.get(key);
    if (prev) throw new Error(`config key "${key}" is claimed by both ${prev} and ${by}`);
    owner.set(key, by);
  };
  for (const k of ['$schema', 'server', 'ingest', 'services', 'description', 'empty', 'egress']) claim(k, 'core');
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
      empty: z
        .boolean()
        .optional()
        .meta({ description: 'true: this config is deliberately empty, so a hot reload may apply it although it removes every check, ingest token and channel' }),
      server: z.object(extended.server as z.ZodRawShape).strict().prefault({}),
      ingest: z.object(extended.ingest as z.ZodRawShape).strict().prefault({}),
      services: z.record(name('service'), serviceSchema).default({}),
      egress: egressSchema,
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
