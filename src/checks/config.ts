/**
 * The checks module's part of shipshape.yaml: `defaults:`, `history:` and `checks:` in every
 * service, and the compiled check definitions the monitor runs.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { name } from '../core/config/schema.js';
import type { Config } from '../core/config/load.js';
import type { CoreConfig } from '../core/config/schema.js';
import type { ConfigFinding } from '../core/module.js';
import { formatDuration } from '../core/config/units.js';
import { duration } from '../core/config/zod-units.js';
import { compileCondition, ConditionSyntaxError, type CompiledCondition } from './conditions.js';
import { kindByName, kinds } from './kinds/index.js';

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

export type RawCheck = z.output<typeof checkSchema>;

const defaultsSchema = z
  .object({
    every: duration().default(30_000),
    timeout: duration().default(10_000),
    down_after: z.number().int().min(1).max(100).default(2),
    up_after: z.number().int().min(1).max(100).default(1),
    concurrency: z.number().int().min(1).max(10_000).default(200).meta({ description: 'checks running at once at most' }),
    allow_fast_checks: z
      .boolean()
      .default(false)
      .meta({ description: 'true: checks may run more often than once a second without a warning (never more often than every 100ms)' }),
  })
  .strict()
  .default({ every: 30_000, timeout: 10_000, down_after: 2, up_after: 1, concurrency: 200, allow_fast_checks: false });

/** No check runs more often than this, flag or not: `every: 0s` or `1ms` would make a check loop. */
export const MIN_EVERY = 100;
/** Below this a check warns unless `defaults.allow_fast_checks: true`. */
export const FAST_EVERY = 1000;

const historySchema = z
  .object({
    failures_per_check: z.number().int().min(1).max(10_000).default(100).meta({ description: 'failed results kept with details, per check' }),
    minute: duration().default(48 * 3_600_000).meta({ description: 'keep per-minute aggregates this long (48h)' }),
    hour: duration().default(90 * 86_400_000).meta({ description: 'keep per-hour aggregates this long (90d)' }),
    day: duration().default(400 * 86_400_000).meta({ description: 'keep per-day aggregates this long (400d)' }),
  })
  .strict()
  .default({ failures_per_check: 100, minute: 48 * 3_600_000, hour: 90 * 86_400_000, day: 400 * 86_400_000 });

export const checksConfig = {
  sections: { defaults: defaultsSchema, history: historySchema },
  service: { checks: z.array(checkSchema).default([]) },
};

/** The part of the config the checks module reads. */
export type ChecksRaw = CoreConfig & {
  defaults: z.output<typeof defaultsSchema>;
  history: z.output<typeof historySchema>;
  services: Record<string, { description?: string; checks: RawCheck[] }>;
};

export interface CheckDef {
  /** `service/name` */
  id: string;
  service: string;
  name: string;
  kind: string;
  /** the kind's block with every/timeout resolved (ms) */
  spec: Record<string, unknown> & { every: number; timeout: number };
  every: number;
  timeout: number;
  /** user conditions first, then those implied by the spec */
  conditions: CompiledCondition[];
  downAfter: number;
  upAfter: number;
  target: string;
  /** the first path segment of every value the conditions read (`body`, `status`, `cert`…) */
  uses: ReadonlySet<string>;
  /** the config file it comes from (absolute) */
  configFile: string;
}

export interface ServiceDef {
  name: string;
  description?: string;
  checks: CheckDef[];
}

export interface CheckDefs {
  services: ServiceDef[];
  checks: Map<string, CheckDef>;
}

/** Unnamed checks are named after their kind (tcp, tcp-2…); a name may be used once per service. */
function checkNames(svc: { checks: RawCheck[] }): string[] {
  const used = new Map<string, number>();
  return svc.checks.map((c) => {
    if (c.name) return c.name;
    const kindName = KIND_NAMES.find((k) => (c as Record<string, unknown>)[k] !== undefined) as string;
    const n = (used.get(kindName) ?? 0) + 1;
    used.set(kindName, n);
    return n === 1 ? kindName : `${kindName}-${n}`;
  });
}

/** The interval floor and timeout < interval, for `defaults` and for every check block. */
function validateTiming(raw: ChecksRaw, findings: ConfigFinding[]): void {
  const fast = raw.defaults.allow_fast_checks;
  const ms = (n: number) => formatDuration(n);
  const every = (value: number, path: (string | number)[]) => {
    if (value < MIN_EVERY) findings.push({ path, message: `must be at least ${ms(MIN_EVERY)} (got ${ms(value)}): a shorter interval makes the check run in a loop` });
    else if (value < FAST_EVERY && !fast) findings.push({ path, warning: true, message: `runs more often than once a second (${ms(value)}); set defaults.allow_fast_checks: true if that is intended` });
  };
  const timeout = (value: number, path: (string | number)[]) => {
    if (value <= 0) findings.push({ path, message: 'must be longer than 0s' });
  };
  every(raw.defaults.every, ['defaults', 'every']);
  timeout(raw.defaults.timeout, ['defaults', 'timeout']);
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    svc.checks.forEach((c, i) => {
      const kindName = KIND_NAMES.find((k) => (c as Record<string, unknown>)[k] !== undefined);
      if (!kindName) return;
      const block = (c as Record<string, unknown>)[kindName] as { every?: number; timeout?: number };
      const at = ['services', serviceName, 'checks', i, kindName];
      if (block.every !== undefined) every(block.every, [...at, 'every']);
      if (block.timeout !== undefined) {
        timeout(block.timeout, [...at, 'timeout']);
        const interval = block.every ?? kindByName(kindName)?.defaultEvery ?? raw.defaults.every;
        if (block.timeout > interval) findings.push({ path: [...at, 'timeout'], message: `${ms(block.timeout)} is longer than the interval (every ${ms(interval)}): make the timeout at most the interval` });
      }
    });
  }
}

export function validateChecks(raw: ChecksRaw): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  validateTiming(raw, findings);
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    const seen = new Set<string>();
    checkNames(svc).forEach((n, i) => {
      if (seen.has(n)) findings.push({ path: ['services', serviceName, 'checks', i, svc.checks[i]?.name ? 'name' : KIND_NAMES.find((k) => (svc.checks[i] as Record<string, unknown>)[k] !== undefined) ?? 'name'], message: `duplicate check name "${n}" in this service` });
      seen.add(n);
    });
  }
  return findings;
}

const compiled = new WeakMap<object, CheckDefs>();

/** The check definitions of a validated config (computed once per config). */
export function checkDefs(config: Config<ChecksRaw>): CheckDefs {
  const known = compiled.get(config.raw);
  if (known) return known;
  const raw = config.raw;
  const services: ServiceDef[] = [];
  const checks = new Map<string, CheckDef>();
  for (const [serviceName, svc] of Object.entries(raw.services)) {
    const defs: CheckDef[] = [];
    const names = checkNames(svc);
    svc.checks.forEach((c, i) => {
      const rec = c as Record<string, unknown>;
      const kindName = KIND_NAMES.find((k) => rec[k] !== undefined) as string;
      const kind = kindByName(kindName);
      if (!kind) return;
      const block = rec[kindName] as Record<string, unknown>;
      const checkName = names[i] as string;
      const id = `${serviceName}/${checkName}`;
      const every = (block.every as number | undefined) ?? kind.defaultEvery ?? raw.defaults.every;
      const timeout = Math.min((block.timeout as number | undefined) ?? raw.defaults.timeout, every);
      const spec = { ...block, every, timeout };
      const implied = kind.impliedConditions(spec as never, c.conditions);
      const conditions = [...c.conditions, ...implied].map((t) => compileCondition(t));
      const def: CheckDef = {
        id,
        service: serviceName,
        name: checkName,
        kind: kindName,
        spec,
        every,
        timeout,
        conditions,
        uses: new Set(conditions.map((cond) => cond.subject.path[0] as string)),
        configFile: resolve(config.file),
        downAfter: c.down_after ?? raw.defaults.down_after,
        upAfter: c.up_after ?? raw.defaults.up_after,
        target: kind.describe(spec as never),
      };
      defs.push(def);
      checks.set(id, def);
    });
    services.push({ name: serviceName, description: svc.description, checks: defs });
  }
  const out = { services, checks };
  compiled.set(config.raw, out);
  return out;
}

/** What an unknown key inside a check may have been meant as. */
export function unknownKeyHint(path: readonly PropertyKey[]): string | undefined {
  if (path.length >= 3 && path[0] === 'services' && path[2] === 'checks' && path.length === 4) {
    return `a check has name, conditions, down_after, up_after and one kind (${KIND_NAMES.join(', ')})`;
  }
  return undefined;
}
