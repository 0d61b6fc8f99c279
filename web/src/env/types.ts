/** The env store's API shapes, shared with the server (types only; src/env/types.ts). */
import type { EnvKeyStatus, EnvSetResult, EnvVarView } from '../../../src/env/types.ts';

export type { EnvKeyStatus, EnvSetResult, EnvVarView };

/** `GET /api/v1/env`: every stored variable (masked), the configured services, and whether the server's key is usable. */
export interface EnvOverview {
  items: EnvVarView[];
  services: string[];
  key: EnvKeyStatus;
}
