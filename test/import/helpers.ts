/** Shared by the importer tests: run an import through the real config loader and read the result back. */
import { join } from 'node:path';
import { checkDefs } from '../../src/checks/index.js';
import { fileValidator, importFile, type ImportResult, type SourceKind } from '../../src/import/index.js';
import { loadConfig, parseConfig, type RawConfig } from '../../src/modules.js';
import type { Config } from '../../src/core/config/load.js';
import { resolveRoutes, routesFor } from '../../src/notify/dispatcher.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const fixture = (...p: string[]) => join(FIXTURES, ...p);

/** The real loader, as `shipshape validate` runs it (through a file). */
export const validate = fileValidator((f) => loadConfig(f, { env: {} }));

export function run(kind: SourceKind, file: string, opts: { service?: string } = {}): ImportResult {
  return importFile(kind, file, { ...opts, validate });
}

/**
 * Load the produced YAML with the real loader, the environment holding the secrets the import took
 * out (a sample for variables the source referred to without a value, or whose value the import
 * reported as a placeholder).
 */
export function load(r: ImportResult): { config: Config<RawConfig>; defs: ReturnType<typeof checkDefs> } {
  const placeholders = new Set(r.unsupported.filter((u) => u.where === 'env').map((u) => u.what.replace(/^the value of /, '')));
  const env = Object.fromEntries(r.env.map((v) => [v.name, v.value !== undefined && !placeholders.has(v.name) ? v.value : v.sample]));
  const config = parseConfig(r.yaml, 'imported.yaml', { env });
  return { config, defs: checkDefs(config as never) };
}

/** The channels an alert with these labels is sent to, by the loaded config's routing. */
export function channelsFor(config: Config<RawConfig>, labels: Record<string, string>): string[] {
  return routesFor(resolveRoutes(config.raw.notify), labels).flatMap((r) => r.channels);
}

/** Every `what` of the report, for readable assertions. */
export const reported = (r: ImportResult) => r.unsupported.map((u) => u.what);
