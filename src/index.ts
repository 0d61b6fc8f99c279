/** Programmatic use: start a Shipshape server, load and validate configs. */
export { startShipshape, VERSION, type Running, type StartOptions } from './app.js';
export { loadConfig, parseConfig, ConfigError, type Config, type CheckDef, type ServiceDef } from './config/load.js';
export { jsonSchema } from './config/schema.js';
export type * from './api/types.js';
