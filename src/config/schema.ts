/**
 * The shipshape.yaml schema: the single source of truth for config types, validation and the
 * published JSON Schema (`npm run schema`).
 */
import { z } from 'zod';
import { kinds } from '../checks/kinds/index.js';
import { compileCondition, ConditionSyntaxError } from '../checks/conditions.js';
import { duration } from './zod-units.js';
import { ingestSchema } from '../telemetry/config.js';
import { alertingSchema, alertsSchema } from '../alerts/config.js';
import { notifySchema } from '../notify/config.js';
import { errorsSchema } from '../errors/config.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const name = (what: string) =>
  z.string().regex(NAME_RE, `a ${what} name is letters, digits, "_", "-" or "." (at most 63, starting with a letter or digit)`);

/** Fields every kind block accepts next to its own. */
const common = {
  every: duration().optional().meta({ description: 'interval between runs (default: defaults.every, 30s)' }),
  timeout: duration().optional().meta({ description: 'per-run timeout (default: defaults.timeout, 10s)' }),
};

const kindShape: Record<string, z.ZodType> = {};
for (const kind of kinds) {
  const spec = kind.spec as unknown as z.ZodObject;
  kindShape[kind.name] = spec.extend(common).strict().optional().meta({ description: `a ${kind.name} check` });
}

export const KIND_NAMES = kinds.map((k) => k.name);

const checkSchema = z
  .object({
    name: name('check').optional().meta({ description: 'unique within the service; defaults to the kind (tcp, tcp-2…)' }),
    conditions: z
      .array(z.string())
      .default([])
      .meta({ description: 'e.g. "status == 200", "latency < 500ms", \'body.status == "healthy"\', "cert.days > 14"' }),
    down_after: z.number().int().min(1).max(100).optional().meta({ description: 'consecutive failures before the check is down (default 2)' }),
    up_after: z.number().int().min(1).max(100).optional().meta({ description: 'consecutive successes before it is up again (default 1)' }),
    ...kindShape,
  })
  .strict()
  .superRefine((check, ctx) => {
    const present = KIND_NAMES.filter((k) => (check as Record<string, unknown>)[k] !== undefined);
    if (present.length === 0) {
      ctx.addIssue({ code: 'custom', message: `a check needs exactly one kind: ${KIND_NAMES.join(', ')}` });
    } else if (present.length > 1) {
      ctx.addIssue({ code: 'custom', message: `a check has exactly one kind, found ${present.join(' and ')}`, path: [present[1] as string] });
    }
    check.conditions.forEach((text, i) => {
      try {
        compileCondition(text);
      } catch (e) {
        if (e instanceof ConditionSyntaxError) {
          ctx.addIssue({ code: 'custom', message: `column ${e.column}: ${e.message}`, path: ['conditions', i] });
        } else throw e;
      }
    });
  });

const serviceSchema = z
  .object({
    description: z.string().max(500).optional(),
    checks: z.array(checkSchema).default([]),
    sentry: z
      .object({ project: z.union([z.number().int().min(1), z.string().regex(/^\d+$/)]).transform(Number) })
      .strict()
      .optional()
      .meta({ description: 'errors sent to the Sentry DSN with this project id belong to this service' }),
  })
  .strict()
  .superRefine((svc, ctx) => {
    const seen = new Set<string>();
    svc.checks.forEach((c, i) => {
      if (!c.name) return;
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', message: `duplicate check name "${c.name}" in this service`, path: ['checks', i, 'name'] });
      seen.add(c.name);
    });
  });

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    server: z
      .object({
        host: z.string().optional().meta({ description: 'listen address (default 127.0.0.1; env SHIPSHAPE_HOST)' }),
        port: z.number().int().min(0).max(65535).optional().meta({ description: 'listen port (default 4600; env SHIPSHAPE_PORT)' }),
        health_details: z.boolean().default(true).meta({ description: 'include per-check messages in the public /api/health' }),
      })
      .strict()
      .default({ health_details: true }),
    defaults: z
      .object({
        every: duration().default(30_000),
        timeout: duration().default(10_000),
        down_after: z.number().int().min(1).max(100).default(2),
        up_after: z.number().int().min(1).max(100).default(1),
        concurrency: z.number().int().min(1).max(10_000).default(200).meta({ description: 'checks running at once at most' }),
      })
      .strict()
      .default({ every: 30_000, timeout: 10_000, down_after: 2, up_after: 1, concurrency: 200 }),
    history: z
      .object({
        failures_per_check: z.number().int().min(1).max(10_000).default(100).meta({ description: 'failed results kept with details, per check' }),
        minute: duration().default(48 * 3_600_000).meta({ description: 'keep per-minute aggregates this long (48h)' }),
        hour: duration().default(90 * 86_400_000).meta({ description: 'keep per-hour aggregates this long (90d)' }),
        day: duration().default(400 * 86_400_000).meta({ description: 'keep per-day aggregates this long (400d)' }),
      })
      .strict()
      .default({ failures_per_check: 100, minute: 48 * 3_600_000, hour: 90 * 86_400_000, day: 400 * 86_400_000 }),
    services: z.record(name('service'), serviceSchema).default({}),
    ingest: ingestSchema.prefault({}),
    alerting: alertingSchema,
    alerts: alertsSchema,
    notify: notifySchema.prefault({}),
    errors: errorsSchema.prefault({}),
  })
  .strict();

export type RawConfig = z.output<typeof configSchema>;
export type RawCheck = z.output<typeof checkSchema>;

/** JSON Schema for editors (yaml-language-server: `# yaml-language-server: $schema=…`). */
export function jsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://shipshape.dev/schema/shipshape.schema.json',
    title: 'shipshape.yaml',
    description: 'Shipshape configuration: services and their checks.',
  };
}
