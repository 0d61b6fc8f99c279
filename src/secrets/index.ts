/** The secrets domain (skeleton): secret scanning of trees, staged changes and git history. Filled in by issue 11. */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';

export type SecretsRaw = CoreConfig;

export const secrets = defineModule<Record<string, never>, unknown, SecretsRaw>({
  name: 'secrets',
  description: 'secret scanning of a tree, staged changes and git history',
  create: () => ({}),
});
