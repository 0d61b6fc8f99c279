/**
 * The secrets domain: secret scanning of a tree, the staged changes and the git history
 * (`shipshape secrets scan`, `shipshape secrets install-hook`), the `secrets:` check kind and
 * `scanSecrets` for the deploy gate, and GET /api/v1/secrets/findings for the dashboard. No state,
 * no events: a scan reports and exits. See docs/secrets.md.
 */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';
import { registerSecretsCommands } from './cli.js';
import { registerSecretsRoutes, type SecretsRoutes } from './routes.js';
import { scanSecrets, type ScanOptions, type ScanReport } from './scan.js';

export { scanSecrets, ScanError, DEFAULT_MAX_FILE_SIZE } from './scan.js';
export type { ScanOptions, ScanReport, SecretFinding, SkippedFile } from './scan.js';
export { render, summaryLine, toSarif, FORMATS, type Format } from './report.js';
export { RULES, RULE_CATALOG, type Rule, type Severity } from './rules.js';
export { installHook } from './hook.js';
export type { SecretFindingView, SecretsCheckScan } from './api-types.js';

export type SecretsRaw = CoreConfig;

export interface SecretsApi {
  /** scan a path (its files, staged changes or history); the report never holds a secret */
  scan(opts: ScanOptions): Promise<ScanReport>;
}

export const secrets = defineModule<SecretsApi, unknown, SecretsRaw>({
  name: 'secrets',
  description: 'secret scanning of a tree, staged changes and git history',
  create: (ctx) => {
    let routes: SecretsRoutes | undefined;
    return {
      scan: scanSecrets,
      // GET /api/v1/secrets/findings: the latest scan of each `secrets` check (routes.ts)
      routes: (app) => {
        routes = registerSecretsRoutes(app, { config: () => ctx.config(), now: ctx.now });
      },
      stop: async () => routes?.stop(),
    };
  },
  cli: (program) => registerSecretsCommands(program),
});
