/** Programmatic use: start a Shipshape server, load and validate configs. */
export { startShipshape, VERSION, type Running, type StartOptions } from './app.js';
export { loadConfig, parseConfig, jsonSchema, modules } from './modules.js';
export { ConfigError, type Config } from './core/config/load.js';
export type { CheckDef, ServiceDef } from './checks/index.js';
export type * from './core/api-types.js';
export type * from './checks/api-types.js';
