/**
 * `env`: check a .env file against its schema on a schedule (`shipshape env check`, docs/env-check.md).
 *
 * ```yaml
 * checks:
 *   - env: { file: .env.production, example: .env.example, env: production }
 *   - env: { service: web, env: production }   # file, example and vars from services.web.env
 * ```
 *
 * Down when the file has errors, with their names in the message ("2 errors: STRIPE_SECRET_KEY
 * missing; …"); never a value. Relative paths are resolved against the config file's directory
 * (the working directory when the run does not say which config it comes from).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { CheckKind, RunContext } from '../types.js';
import { checkEnv, EnvFileError, readServiceEnv, summaryOf } from '../../env/index.js';
import { elapsed, failed } from './_util.js';

const spec = z
  .object({
    file: z.string().min(1).max(1000).optional().meta({ description: 'the .env file (relative to the config file); default: the service\'s env.file' }),
    example: z.string().min(1).max(1000).optional().meta({ description: 'annotated .env.example with the schema (relative to the config file); default: the service\'s env.example' }),
    env: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'expected an environment name like production').optional().meta({ description: 'the environment the file is for: rules with @env apply only there; production flags Stripe test keys' }),
    service: z.string().min(1).max(63).optional().meta({ description: 'take file, example and vars from services.<service>.env' }),
  })
  .strict()
  .refine((s) => s.file !== undefined || s.service !== undefined, { message: 'set file (a .env file) or service (a service with an env: section)' });

export const envCheck: CheckKind<typeof spec> = {
  name: 'env',
  spec,
  defaultEvery: 5 * 60_000,
  impliedConditions() {
    return ['errors == 0'];
  },
  describe(s) {
    return `env ${s.file ?? `of ${s.service}`}${s.env ? ` (${s.env})` : ''}`;
  },
  async run(s, ctx: RunContext) {
    const start = performance.now();
    const configFile = ctx.configFile ?? resolve(process.env.SHIPSHAPE_CONFIG || 'shipshape.yaml');
    const base = ctx.configFile ? dirname(resolve(ctx.configFile)) : process.cwd();
    const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
    try {
      const svc = s.service !== undefined ? readServiceEnv(configFile, s.service) : undefined;
      const file = s.file !== undefined ? at(s.file) : svc?.file;
      if (file === undefined) return failed(start, `service "${s.service}" has no env.file: set file in the check`);
      const example = s.example !== undefined ? at(s.example) : svc?.example;
      const report = await checkEnv({ file, ...(example !== undefined ? { example } : {}), ...(s.env !== undefined ? { env: s.env } : {}), ...(svc ? { vars: svc.vars } : {}) });
      const values = {
        errors: report.errors,
        warnings: report.warnings,
        // names and codes only: a finding's message may hold a masked value
        findings: report.findings.slice(0, 50).map((f) => ({ ...(f.line !== undefined ? { line: f.line } : {}), ...(f.name !== undefined ? { name: f.name } : {}), code: f.code, severity: f.severity })),
        summary: summaryOf(report),
      };
      if (report.errors > 0) return { ok: false, latencyMs: elapsed(start), error: summaryOf(report), values };
      return { ok: true, latencyMs: elapsed(start), values };
    } catch (e) {
      if (e instanceof EnvFileError) return failed(start, e.message);
      throw e;
    }
  },
};
