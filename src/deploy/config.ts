/**
 * `services.<name>.deploy` in shipshape.yaml: how a service's releases are cut, gated, built,
 * started, health-checked and put behind each environment's proxy.
 *
 * ```yaml
 * deploy:
 *   driver: process
 *   repo: .                          # relative to the config file's directory
 *   build: "npm ci && npm run build"
 *   start: "node server.js"          # PORT is set
 *   health: { path: /api/health, timeout: 60s }
 *   gates:
 *     - run: "npm run lint"
 *       max_warnings: 0
 *     - bundle: { path: "dist/assets/*.js", limit: "100 KB", gzip: true }
 *   environments:                    # in promotion order
 *     staging: { proxy: { port: 8081 } }
 *     production: { proxy: { port: 8080 }, watch: 10m }
 * ```
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration, percent, size } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';

const ENV_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

const commandText = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `${what} is an empty command`)
    .max(4000)
    .refine((s) => !s.includes('\0'), `${what} contains a NUL byte`);

const bundleSchema = z
  .object({
    path: z
      .string()
      .min(1)
      .max(500)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a bundle path is a glob inside the release directory, like dist/assets/*.js (no leading / and no ..)')
      .meta({ description: 'files to measure, a glob relative to the release directory (*, ** and ? are supported); sizes are summed, like size-limit' }),
    limit: size().meta({ description: 'the most the matched files may weigh together: 100 KB, 1 MB' }),
    gzip: z.boolean().default(true).meta({ description: 'measure gzip-compressed sizes (zlib level 9, as size-limit does); false for raw bytes' }),
  })
  .strict();

const gateSchema = z
  .object({
    name: z.string().min(1).max(100).optional().meta({ description: 'what the gate is called in progress and results (default: the command, or "bundle <path>")' }),
    run: commandText('run').optional().meta({ description: 'a shell command run in the release directory; it passes when it exits 0 (and within max_warnings)' }),
    max_warnings: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'fail when the output reports more warnings than this (0: a 0-warning policy); see docs/deploy.md for how warnings are counted' }),
    timeout: duration().default(10 * 60_000).meta({ description: 'a command still running after this fails the gate and is killed (10m)' }),
    bundle: bundleSchema.optional().meta({ description: 'a bundle budget in size-limit style: { path, limit, gzip }' }),
  })
  .strict()
  .superRefine((g, ctx) => {
    if ((g.run === undefined) === (g.bundle === undefined)) ctx.addIssue({ code: 'custom', message: 'a gate is either `run: "<command>"` or `bundle: { path, limit }` (exactly one of them)' });
    if (g.max_warnings !== undefined && g.run === undefined) ctx.addIssue({ code: 'custom', path: ['max_warnings'], message: 'max_warnings applies to `run` gates only' });
  });

const smokeSchema = z
  .object({
    name: z.string().min(1).max(100).optional().meta({ description: 'what the step is called in progress (default: "METHOD path")' }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    path: z.string().startsWith('/', 'a smoke path starts with /').max(2000).meta({ description: 'requested on the new release before it gets traffic' }),
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name is letters, digits and -'), z.string().max(8000)).default({}),
    body: z.string().max(100_000).optional(),
    timeout: duration().default(10_000).meta({ description: 'the request fails after this (10s)' }),
    expect: z
      .object({
        status: z
          .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1).max(50)])
          .optional()
          .meta({ description: 'the status (or one of the statuses) expected; default any 2xx' }),
        body: z.string().min(1).max(10_000).optional().meta({ description: 'text the response body must contain' }),
        headers: z.record(z.string(), z.string().max(8000)).default({}).meta({ description: 'headers the response must have (value contained, case-insensitive name)' }),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const environmentSchema = z
  .object({
    proxy: z
      .object({
        port: z.number().int().min(1).max(65535).meta({ description: 'the port this environment is served on; the proxy in front of the live release listens here' }),
        host: z.string().min(1).max(255).default('127.0.0.1').meta({ description: 'the address the proxy listens on (127.0.0.1; front it with Caddy or nginx for TLS)' }),
      })
      .strict(),
    watch: duration().optional().meta({ description: 'after the switch, compare the new release with the previous one for this long (the watch window: see deploy.analysis) and keep the previous one warm meanwhile; a failing window rolls back automatically' }),
    canary: z
      .object({
        steps: z
          .array(z.number().int().min(1).max(99))
          .min(1)
          .max(20)
          .default([10, 25, 50])
          .refine((a) => a.every((v, i) => i === 0 || v > (a[i - 1] as number)), 'canary steps are increasing percentages, like [10, 25, 50]')
          .meta({ description: 'traffic percentages a canary steps through (`--canary 10%` starts at 10 and goes on with the larger ones), then 100%' }),
        interval: duration().optional().meta({ description: 'how long each step is analysed before the next (default deploy.analysis.interval)' }),
      })
      .strict()
      .optional()
      .meta({ description: 'how `shipshape deploy --canary N%` shifts traffic in this environment' }),
    verify: z
      .object({
        smoke: z.array(smokeSchema).max(50).default([]).meta({ description: 'HTTP requests with expectations, sent to the new release before it gets any traffic' }),
        checks: z.array(z.string().min(1).max(100)).max(50).default([]).meta({ description: "names of this service's checks that must pass after the switch (else it is rolled back)" }),
        timeout: duration().default(60_000).meta({ description: 'how long the named checks may take to pass after the switch (60s)' }),
      })
      .strict()
      .optional()
      .meta({ description: 'verification of each release in this environment: smoke steps before the switch, named checks after it' }),
  })
  .strict();

const analysisSchema = z
  .object({
    success_rate: percent().default(0.99).meta({ description: 'the least share of requests that must not fail (5xx or cut) in a window (99%)' }),
    p95_ratio: z.number().min(1).max(100).default(1.5).meta({ description: "the new release's p95 may be at most this times the previous release's (1.5)" }),
    min_requests: z.number().int().min(1).max(1_000_000).default(20).meta({ description: 'a window with fewer requests than this is not judged (too little traffic)' }),
    interval: duration().default(60_000).meta({ description: 'the length of an analysis window, and of a canary step (1m)' }),
    incident: z
      .union([z.literal(false), z.object({ severity: z.string().min(1).max(20).optional() }).strict()])
      .default({})
      .meta({ description: 'the incident an automatic rollback opens ({ severity: P1 }; default the second level of the severity scheme); false for none' }),
  })
  .strict();

export const deploySchema = z
  .object({
    driver: z.enum(['process']).default('process').meta({ description: 'process: releases run as supervised child processes behind a proxy per environment' }),
    repo: z.string().min(1).max(1000).default('.').meta({ description: 'the git repository releases are cut from (relative to the config file; default its directory)' }),
    build: commandText('build').optional().meta({ description: 'a shell command run in the release directory after the gates, e.g. "npm ci && npm run build"' }),
    build_timeout: duration().default(20 * 60_000).meta({ description: 'the build fails when it runs longer (20m)' }),
    start: commandText('start').meta({ description: 'the shell command that runs the app in the release directory, with PORT set to the port it must listen on' }),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name is letters, digits and _'), z.string().max(10_000))
      .default({})
      .meta({ description: 'environment variables for the gates, the build and the app (${VAR} references are resolved at load; releases record the names, never the values)' }),
    health: z
      .object({
        path: z.string().startsWith('/', 'a health path starts with /').max(1000).default('/').meta({ description: 'polled on the new release until it answers 2xx' }),
        timeout: duration().default(60_000).meta({ description: 'give up after this (the release fails, the old one keeps serving)' }),
        interval: duration().default(250).meta({ description: 'how often the health path is polled' }),
      })
      .strict()
      .prefault({}),
    gates: z.array(gateSchema).max(50).default([]).meta({ description: 'what every release must pass, in order: `run` gates before the build, `bundle` gates after it' }),
    environments: z
      .record(z.string(), environmentSchema)
      .superRefine((e, ctx) => {
        if (Object.keys(e).length === 0) ctx.addIssue({ code: 'custom', message: 'list at least one environment, e.g. production: { proxy: { port: 8080 } }' });
        for (const k of Object.keys(e)) {
          if (!ENV_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}": an environment name is lower-case letters, digits, "_" or "-" (at most 32, starting with a letter)` });
        }
      })
      .meta({ description: 'the environments in promotion order (staging → production), each with its proxy' }),
    keep_warm: duration().default(10 * 60_000).meta({ description: 'how long the previous release keeps running after a switch, for instant rollback (10m)' }),
    keep_releases: z.number().int().min(1).max(100).default(5).meta({ description: 'release directories kept on disk per service (for cold rollback); older ones are removed' }),
    drain_timeout: duration().default(30_000).meta({ description: 'when a release is stopped, requests in flight get this long to finish (30s)' }),
    stop_timeout: duration().default(10_000).meta({ description: 'after SIGTERM, a release that has not exited this long is killed (10s)' }),
    analysis: analysisSchema.prefault({}).meta({ description: 'how a new release is judged during a canary and the watch window, Flagger-style: success rate, p95 against the previous release, minimum requests' }),
    lock_ttl: duration().default(2 * 60_000).meta({ description: 'a running deploy renews its lock; the lock of a deploy that died expires after this (2m)' }),
  })
  .strict();

export type DeployConfig = z.output<typeof deploySchema>;
export type GateConfig = DeployConfig['gates'][number];
export type EnvironmentConfig = DeployConfig['environments'][string];
export type SmokeStep = NonNullable<EnvironmentConfig['verify']>['smoke'][number];
export type AnalysisConfig = DeployConfig['analysis'];

export type DeployRaw = CoreConfig & { services: Record<string, { description?: string; deploy?: DeployConfig }> };

/** The repository a service's releases are cut from, as an absolute path. */
export function repoOf(configFile: string, d: DeployConfig): string {
  return resolve(dirname(resolve(configFile)), d.repo);
}

/** Proxy ports are used once across every service and environment, and not by Shipshape itself. */
export function validateDeploy(raw: DeployRaw): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const seen = new Map<number, string>();
  for (const [service, s] of Object.entries(raw.services)) {
    for (const [env, e] of Object.entries(s.deploy?.environments ?? {})) {
      const where = `${service}/${env}`;
      const prev = seen.get(e.proxy.port);
      if (prev) out.push({ path: ['services', service, 'deploy', 'environments', env, 'proxy', 'port'], message: `port ${e.proxy.port} is already the proxy port of ${prev}; each environment needs its own` });
      else seen.set(e.proxy.port, where);
      const checkNames = new Set(((s as { checks?: { name: string }[] }).checks ?? []).map((c) => c.name));
      (e.verify?.checks ?? []).forEach((c, i) => {
        if (!checkNames.has(c)) out.push({ path: ['services', service, 'deploy', 'environments', env, 'verify', 'checks', i], message: `"${c}" is not a check of ${service}${checkNames.size ? ` (its checks: ${[...checkNames].join(', ')})` : ' (it has no checks:)'}` });
      });
      if (raw.server.port !== undefined && raw.server.port === e.proxy.port) out.push({ path: ['services', service, 'deploy', 'environments', env, 'proxy', 'port'], message: `port ${e.proxy.port} is Shipshape's own (server.port)` });
    }
  }
  return out;
}

export const deployConfig = {
  service: { deploy: deploySchema.optional().meta({ description: 'how releases of this service are gated, built, started and switched to (shipshape deploy)' }) },
  validate: validateDeploy,
};
