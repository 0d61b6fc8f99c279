/**
 * `audit`: audit a project's dependencies with its own package manager on a schedule
 * (`audit: { path: ., level: high, every: 6h }`, the websec module's `shipshape audit deps`).
 * Down while any advisory is at or above `level`, naming them: `2 advisories at or above high:
 * minimist (critical), lodash (high)`. Values: the counts by severity and the failing packages.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { formatDuration } from '../../core/config/units.js';
import type { CheckKind } from '../types.js';
import { elapsed, failed } from './_util.js';

const LEVELS = ['critical', 'high', 'moderate', 'low', 'info'] as const;

const spec = z
  .object({
    path: z.string().min(1).meta({ description: 'the project directory (with its lockfile), relative to the config file' }),
    level: z.enum(LEVELS).default('high').meta({ description: 'lowest severity that makes the check down: critical, high, moderate, low or info (default high)' }),
  })
  .strict();

export const audit: CheckKind<typeof spec> = {
  name: 'audit',
  spec,
  // advisories are published by the day, and an audit asks the registry
  defaultEvery: 6 * 3_600_000,
  impliedConditions: () => [],
  describe: (s) => `dependency audit of ${s.path} (nothing at or above ${s.level ?? 'high'})`,
  async run(s, ctx) {
    const start = performance.now();
    // loaded on first use: a server without an audit check never loads it
    const { auditDeps } = await import('../../websec/index.js');
    try {
      const dir = ctx.configFile ? resolve(dirname(ctx.configFile), s.path) : s.path;
      // at the check's timeout the package manager is killed and the check answers
      const stopped = new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      const r = await Promise.race([auditDeps(dir, { level: s.level, signal: ctx.signal }), stopped]);
      const values = { ...r.counts, advisories: r.advisories.length, failing: [...new Set(r.failing.map((a) => a.package))], manager: r.manager };
      if (r.failing.length > 0) {
        const names = r.failing.slice(0, 4).map((a) => `${a.package} (${a.severity})`);
        const msg = `${r.failing.length} ${r.failing.length === 1 ? 'advisory' : 'advisories'} at or above ${s.level}: ${names.join(', ')}${r.failing.length > 4 ? ', …' : ''}`;
        return { ok: false, latencyMs: elapsed(start), error: msg, values };
      }
      return { ok: true, latencyMs: elapsed(start), values };
    } catch (e) {
      return failed(start, ctx.signal.aborted ? `audit did not finish within ${formatDuration(ctx.timeoutMs)} (an audit asks the registry: set the check's timeout, e.g. 5m)` : `audit failed: ${(e as Error).message}`);
    }
  },
};
