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
 *
 * `driver: command` (a hosted platform, src/deploy/command.ts) takes `command: { preset: vercel }`
 * (or its own deploy / promote / rollback / list commands) instead of `start:`, and environments
 * without `proxy:` (an optional `url:`, `production:`).
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
    migrations: z
      .literal(true)
      .optional()
      .meta({ description: "fail while the service's database (services.<name>.database) has migrations of this release not applied, or applied ones that changed (drift): `shipshape db migrate` first" }),
    backup: z
      .object({
        max_age: duration().default(24 * 3_600_000).meta({ description: 'the newest backup must be younger than this (24h)' }),
        verified: z.boolean().default(true).meta({ description: 'count only backups verified by a restore (db verify-backup, or backup_before)' }),
      })
      .strict()
      .optional()
      .meta({ description: "a fresh backup of the service's database: { max_age: 24h, verified: true }" }),
    env: z
      .object({
        file: z.string().min(1).max(1000).optional().meta({ description: "a .env file in the release directory to check (default: the values the release will run with — the env store's for this environment plus deploy.env)" }),
        example: z.string().min(1).max(1000).optional().meta({ description: 'an annotated .env.example in the release directory (default: services.<name>.env.example)' }),
        strict: z.boolean().default(false).meta({ description: 'warnings fail the gate too' }),
      })
      .strict()
      .optional()
      .meta({ description: 'the environment variables checked against their schema for the target environment (shipshape env check): missing, malformed, test keys in production, secrets behind public prefixes' }),
    secrets: z
      .object({
        path: z
          .string()
          .min(1)
          .max(1000)
          .default('.')
          .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a path inside the release directory (no leading / and no ..)')
          .meta({ description: 'what to scan, relative to the release directory (default: all of it)' }),
        allowlist: z.string().min(1).max(1000).optional().meta({ description: 'an allowlist file in the release directory (default: the scanner\'s own default)' }),
      })
      .strict()
      .optional()
      .meta({ description: 'no committed credentials in the release (shipshape secrets scan): any finding fails the gate' }),
    audit: z
      .object({
        level: z.enum(['critical', 'high', 'moderate', 'low', 'info']).default('high').meta({ description: 'fail on an advisory at or above this severity (high)' }),
      })
      .strict()
      .optional()
      .meta({ description: "the package manager's audit (npm, pnpm or yarn, from the lockfile) in the release directory (shipshape audit deps)" }),
    headers: z
      .object({
        url: z.string().url().max(2000).optional().meta({ description: 'grade this URL when the gate runs (before the build)' }),
        path: z.string().startsWith('/', 'a path starts with /').max(2000).optional().meta({ description: 'grade the new release itself at this path, after it started and before it gets traffic (with the smoke steps)' }),
        min_grade: z.enum(['A+', 'A', 'A-', 'B+', 'B', 'B-', 'C+', 'C', 'C-', 'D+', 'D', 'D-', 'F']).default('B').meta({ description: 'the least MDN HTTP Observatory grade that passes (B)' }),
      })
      .strict()
      .optional()
      .meta({ description: 'security headers graded as the MDN HTTP Observatory does (shipshape headers): { path: /, min_grade: B } or { url, min_grade }' }),
  })
  .strict()
  .superRefine((g, ctx) => {
    const kinds = [g.run, g.bundle, g.migrations, g.backup, g.env, g.secrets, g.audit, g.headers].filter((k) => k !== undefined).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: 'a gate is one of `run: "<command>"`, `bundle: { path, limit }`, `migrations: true`, `backup: { max_age }`, `env: {}`, `secrets: {}`, `audit: { level }` or `headers: { path | url, min_grade }` (exactly one of them)' });
    if (g.headers && (g.headers.url === undefined) === (g.headers.path === undefined)) ctx.addIssue({ code: 'custom', path: ['headers'], message: 'a headers gate grades either `url` (when the gate runs) or `path` (the new release itself), exactly one of them' });
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
      .strict()
      .optional()
      .meta({ description: 'driver: process: the proxy in front of the live release (required there; not used by driver: command)' }),
    url: z
      .url({ protocol: /^https?$/, error: 'url is an http(s) URL, like https://example.com' })
      .max(2000)
      .optional()
      .meta({ description: 'driver: command: the URL this environment is served on (the production domain), for the record and for smoke steps after a promotion' }),
    production: z.boolean().optional().meta({ description: 'driver: command: deploys to this environment use command.deploy_production (default: true for an environment named production)' }),
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
    p95_slack: duration().default(50).meta({ description: "p95 growth smaller than this never fails a release, whatever the ratio (50ms): a release that has just started (a cold JIT, a first GC) or a loaded host is not a regression" }),
    min_requests: z.number().int().min(1).max(1_000_000).default(20).meta({ description: 'a window with fewer requests than this is not judged (too little traffic)' }),
    interval: duration().default(60_000).meta({ description: 'the length of an analysis window, and of a canary step (1m)' }),
    incident: z
      .union([z.literal(false), z.object({ severity: z.string().min(1).max(20).optional() }).strict()])
      .default({})
      .meta({ description: 'the incident an automatic rollback opens ({ severity: P1 }; default the second level of the severity scheme); false for none' }),
  })
  .strict();

const commandSchema = z
  .object({
    preset: z.enum(['vercel', 'netlify']).optional().meta({ description: 'the commands and output parsing of a hosted platform CLI (see docs/deploy.md); the keys below override it' }),
    deploy: commandText('command.deploy').optional().meta({ description: 'creates a deployment from the release directory; its output names the deployment id and URL (vercel: "vercel deploy --prebuilt --yes")' }),
    deploy_production: commandText('command.deploy_production').optional().meta({ description: 'the same for a production environment (vercel: "vercel deploy --prebuilt --prod --yes")' }),
    promote: commandText('command.promote').optional().meta({ description: 'makes the deployment {id} / {url} serve the environment (vercel: "vercel promote {url} --yes")' }),
    rollback: commandText('command.rollback').optional().meta({ description: 'makes the earlier deployment {id} / {url} serve again (vercel: "vercel rollback {url} --yes")' }),
    list: commandText('command.list').optional().meta({ description: "lists the platform's deployments (vercel: \"vercel ls\"); shown by GET …/deployments" }),
    output: z
      .object({
        format: z.enum(['text', 'json']).optional().meta({ description: 'text: the URL and id are found with regular expressions; json: the output is one JSON object, read by keys' }),
        url: z.string().min(1).max(500).optional().meta({ description: 'text: a regular expression for the deployment URL (its first group, or the whole match; the last match wins); json: the key (dotted path) holding it' }),
        id: z.string().min(1).max(500).optional().meta({ description: 'text: a regular expression for the deployment id (default: the host name of the URL); json: the key holding it' }),
      })
      .strict()
      .prefault({}),
    timeout: duration().default(15 * 60_000).meta({ description: 'a command still running after this fails and is killed (15m)' }),
  })
  .strict();

export const deploySchema = z
  .object({
    driver: z.enum(['process', 'command']).default('process').meta({ description: 'process: releases run as supervised child processes behind a proxy per environment; command: a hosted platform (Vercel, Netlify) deploys them through its CLI' }),
    command: commandSchema.optional().meta({ description: 'driver: command: the commands that deploy, promote, roll back and list deployments' }),
    repo: z.string().min(1).max(1000).default('.').meta({ description: 'the git repository releases are cut from (relative to the config file; default its directory)' }),
    build: commandText('build').optional().meta({ description: 'a shell command run in the release directory after the gates, e.g. "npm ci && npm run build"' }),
    build_timeout: duration().default(20 * 60_000).meta({ description: 'the build fails when it runs longer (20m)' }),
    start: commandText('start').optional().meta({ description: 'driver: process (required there): the shell command that runs the app in the release directory, with PORT set to the port it must listen on' }),
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
    gates: z.array(gateSchema).max(50).default([]).meta({ description: 'what every release must pass, in order: `run`, `migrations` and `backup` gates before the build, `bundle` gates after it' }),
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
  .strict()
  .superRefine((d, ctx) => {
    if (d.driver === 'process') {
      if (d.start === undefined) ctx.addIssue({ code: 'custom', path: ['start'], message: 'is required: driver: process runs it with PORT set, like start: "node server.js"' });
      if (d.command !== undefined) ctx.addIssue({ code: 'custom', path: ['command'], message: 'command: is for driver: command (a hosted platform CLI); driver: process starts `start:` behind a proxy' });
      for (const [k, e] of Object.entries(d.environments)) {
        if (!e.proxy) ctx.addIssue({ code: 'custom', path: ['environments', k, 'proxy'], message: `is required with driver: process, like ${k}: { proxy: { port: 8080 } }` });
        if (e.url !== undefined) ctx.addIssue({ code: 'custom', path: ['environments', k, 'url'], message: 'url is for driver: command; with driver: process the environment is served by its proxy' });
        if (e.production !== undefined) ctx.addIssue({ code: 'custom', path: ['environments', k, 'production'], message: 'production is for driver: command' });
      }
      return;
    }
    if (d.start !== undefined) ctx.addIssue({ code: 'custom', path: ['start'], message: 'not used with driver: command: the platform runs the deployment (remove start:)' });
    const c = d.command;
    if (!c) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'is required with driver: command, like command: { preset: vercel } or command: { deploy: "…", promote: "…", rollback: "…" }' });
    } else if (!c.preset) {
      for (const k of ['deploy', 'promote', 'rollback'] as const) if (c[k] === undefined) ctx.addIssue({ code: 'custom', path: ['command', k], message: `is required without a preset (command.preset: vercel or netlify)` });
    }
    for (const p of [c?.output.url, c?.output.id]) {
      if (p === undefined || c?.output.format === 'json' || (c?.preset === 'netlify' && c.output.format === undefined)) continue;
      try {
        new RegExp(p);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['command', 'output', p === c?.output.url ? 'url' : 'id'], message: `not a regular expression: ${(e as Error).message}` });
      }
    }
    for (const [k, e] of Object.entries(d.environments)) {
      if (e.proxy) ctx.addIssue({ code: 'custom', path: ['environments', k, 'proxy'], message: 'not used with driver: command: the platform serves the deployment (give the production URL as url: instead)' });
      if (e.canary) ctx.addIssue({ code: 'custom', path: ['environments', k, 'canary'], message: 'canaries need the proxy of driver: process' });

    }
  });

export type DeployConfig = z.output<typeof deploySchema>;
export type GateConfig = DeployConfig['gates'][number];
export type EnvironmentConfig = DeployConfig['environments'][string];
export type SmokeStep = NonNullable<EnvironmentConfig['verify']>['smoke'][number];
export type AnalysisConfig = DeployConfig['analysis'];
export type CommandConfig = NonNullable<DeployConfig['command']>;

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
      const prev = e.proxy && seen.get(e.proxy.port);
      if (e.proxy && prev) out.push({ path: ['services', service, 'deploy', 'environments', env, 'proxy', 'port'], message: `port ${e.proxy.port} is already the proxy port of ${prev}; each environment needs its own` });
      else if (e.proxy) seen.set(e.proxy.port, where);
      const hasDatabase = (s as { database?: unknown }).database !== undefined;
      (s.deploy?.gates ?? []).forEach((g, i) => {
        if ((g.migrations || g.backup) && !hasDatabase) out.push({ path: ['services', service, 'deploy', 'gates', i], message: `a ${g.migrations ? 'migrations' : 'backup'} gate reads the service's database: add services.${service}.database: { url: "\${DATABASE_URL}", migrations: migrations/ }` });
      });
      const checkNames = new Set(((s as { checks?: { name: string }[] }).checks ?? []).map((c) => c.name));
      (e.verify?.checks ?? []).forEach((c, i) => {
        if (!checkNames.has(c)) out.push({ path: ['services', service, 'deploy', 'environments', env, 'verify', 'checks', i], message: `"${c}" is not a check of ${service}${checkNames.size ? ` (its checks: ${[...checkNames].join(', ')})` : ' (it has no checks:)'}` });
      });
      if (e.proxy && raw.server.port !== undefined && raw.server.port === e.proxy.port) out.push({ path: ['services', service, 'deploy', 'environments', env, 'proxy', 'port'], message: `port ${e.proxy.port} is Shipshape's own (server.port)` });
    }
    const envSection = (s as { env?: { example?: string; vars?: Record<string, unknown> } }).env;
    (s.deploy?.gates ?? []).forEach((g, i) => {
      if (g.env && !g.env.example && !envSection?.example && !Object.keys(envSection?.vars ?? {}).length) out.push({ path: ['services', service, 'deploy', 'gates', i, 'env'], message: `an env gate checks variables against their schema, and ${service} has none: add services.${service}.env: { example: .env.example } (or vars:), or give the gate example:` });
    });
  }
  return out;
}

export const deployConfig = {
  service: { deploy: deploySchema.optional().meta({ description: 'how releases of this service are gated, built, started and switched to (shipshape deploy)' }) },
  validate: validateDeploy,
};
