/**
 * `secrets`: scan a path for secrets on a schedule (`secrets: { path: ., every: 1h }`). The check
 * is down while the scan finds anything, with the findings (redacted) as its message: `3 findings:
 * stripe-secret-key in src/x.ts:12, …`. Accept a false positive with the path's allowlist
 * (docs/secrets.md).
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { CheckKind } from '../types.js';
import { elapsed, failed } from './_util.js';

const spec = z
  .object({
    path: z.string().min(1).meta({ description: 'file or directory to scan, relative to the config file (in a git work tree: the files git would commit)' }),
    git_history: z.boolean().default(false).meta({ description: 'scan every added line of the git history instead of the files (default false)' }),
    allowlist: z.string().min(1).optional().meta({ description: 'allowlist file (default <path>/.shipshape-secrets-allow when there is one)' }),
  })
  .strict();

export const secrets: CheckKind<typeof spec> = {
  name: 'secrets',
  spec,
  defaultEvery: 3_600_000,
  impliedConditions() {
    return ['findings == 0'];
  },
  describe(s) {
    return `secrets in ${s.path}${s.git_history ? ' (git history)' : ''}`;
  },
  async run(s, ctx) {
    const start = performance.now();
    // loaded on first use: a server without a secrets check never loads the scanner
    const { scanSecrets, summaryLine } = await import('../../secrets/index.js');
    try {
      // relative paths are the config's, like every path in shipshape.yaml
      const at = (p: string) => (ctx.configFile ? resolve(dirname(ctx.configFile), p) : p);
      const r = await scanSecrets({ path: at(s.path), gitHistory: s.git_history, ...(s.allowlist ? { allowlist: at(s.allowlist) } : {}), signal: ctx.signal });
      const values = { findings: r.findings.length, files: r.files, bytes: r.bytes, skipped: r.skipped.length, rules: [...new Set(r.findings.map((f) => f.ruleId))] };
      if (r.findings.length > 0) return { ok: false, latencyMs: elapsed(start), error: summaryLine(r), values };
      return { ok: true, latencyMs: elapsed(start), values };
    } catch (e) {
      return failed(start, ctx.signal.aborted ? 'scan cancelled or timed out' : `scan failed: ${(e as Error).message}`);
    }
  },
};
