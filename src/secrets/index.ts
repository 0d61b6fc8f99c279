/**
 * The secrets domain: secret scanning of a tree, the staged changes and the git history
 * (`shipshape secrets scan`, `shipshape secrets install-hook`), the `secrets:` check kind and
 * `scanSecrets` for the deploy gate. No state, no events: a scan reports and exits. See
 * docs/secrets.md.
 */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';
import { registerSecretsCommands } from './cli.js';
import { scanSecrets, type ScanOptions, type ScanReport } from './scan.js';

export { scanSecrets, ScanError, DEFAULT_MAX_FILE_SIZE } from './scan.js';
export type { ScanOptions, ScanReport, SecretFinding, SkippedFile } from './scan.js';
export { render, summaryLine, toSarif, FORMATS, type Format } from './report.js';
export { RULES, RULE_CATALOG, type Rule, type Severity } from './rules.js';
export { installHook } from './hook.js';

export type SecretsRaw = CoreConfig;

export interface SecretsApi {
  /** scan a path (its files, staged changes or history); the report never holds a secret */
  scan(opts: ScanOptions): Promise<ScanReport>;
}

export const secrets = defineModule<SecretsApi, unknown, SecretsRaw>({
  name: 'secrets',
  description: 'secret scanning of a tree, staged changes and git history',
  create: () => ({ scan: scanSecrets }),
  cli: (program) => registerSecretsCommands(program),
});
