/**
 * The hosted platforms Shipshape drives through their CLIs, and each CLI's binary name: one source
 * for the deploy module's command-driver presets (src/deploy/command.ts) and the env module's
 * `env push` (src/env/push.ts). A service's config can point either at another binary.
 */
export const PLATFORM_CLI = {
  vercel: 'vercel',
  netlify: 'netlify',
} as const;

export type Platform = keyof typeof PLATFORM_CLI;

export const PLATFORMS = Object.keys(PLATFORM_CLI) as Platform[];
