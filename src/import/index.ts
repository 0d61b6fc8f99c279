/**
 * Importers: `shipshape import gatus|alertmanager|uptime-kuma` turn another tool's config into
 * shipshape.yaml sections, with a report of what had no equivalent. Not a module (no config, no
 * store): a set of CLI commands and the functions behind them.
 */
export { registerImportCli, importFile, draftFrom, fileValidator, dotenvText, SOURCES, type SourceKind } from './cli.js';
export { finalize, shipshapeCondition, type ImportResult, type LoadIssue, type Validate } from './output.js';
export { ImportInputError, type Unsupported, type EnvVar } from './draft.js';
export { importGatus } from './gatus.js';
export { importAlertmanager } from './alertmanager.js';
export { importUptimeKuma } from './uptime-kuma.js';
