/** The web security domain (skeleton): header grades, CORS and rate-limit probes, dependency audits. Filled in by issue 11. */
import type { CoreConfig } from '../core/config/schema.js';
import { defineModule } from '../core/module.js';

export type WebsecRaw = CoreConfig;

export const websec = defineModule<Record<string, never>, unknown, WebsecRaw>({
  name: 'websec',
  description: 'security-header grades (MDN HTTP Observatory scoring), CORS and rate-limit probes, dependency audits',
  create: () => ({}),
});
