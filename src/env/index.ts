/**
 * The env domain: env-var schemas and checks, an encrypted env store per service and
 * environment, rotation tracking.
 */
import { defineModule } from '../core/module.js';
import { registerEnvCommands } from './cli.js';
import { envConfig, type EnvRaw } from './config.js';

export type { EnvConfig, EnvRaw, EnvVarConfig } from './config.js';

export const env = defineModule<Record<string, never>, unknown, EnvRaw>({
  name: 'env',
  description: 'env-var schemas and checks, an encrypted env store per service and environment, secret rotation',
  config: envConfig,
  create: () => ({}),
  cli: registerEnvCommands,
});
