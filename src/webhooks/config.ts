/**
 * The `webhooks:` section: one entry per inbound hook (`POST /hooks/<name>`), each with the
 * signature scheme that proves it came from its sender, the app URL it is forwarded to, and its
 * limits (body size, retries and their backoff, per-attempt timeout).
 */
import { z } from 'zod';
import type { Config } from '../core/config/load.js';
import { name, type CoreConfig } from '../core/config/schema.js';
import { duration, size } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';

/** One secret or a list of them (a rotation: the new one first, the old one until it is retired). */
const secrets = z
  .union([z.string(), z.array(z.string()).min(1).max(10)])
  .transform((s) => (Array.isArray(s) ? s : [s]))
  .meta({ description: 'the signing secret, or a list of them while one is rotated (any of them verifies); use ${VAR}' });

const tolerance = duration().default(5 * 60_000).meta({ description: 'how far the signed timestamp may be from now (5m); older deliveries are refused as replays' });

export const verifySchema = z.union([
  z.object({ stripe: z.object({ secret: secrets, tolerance }).strict() }).strict(),
  z.object({ github: z.object({ secret: secrets }).strict() }).strict(),
  z.object({ svix: z.object({ secret: secrets, tolerance }).strict() }).strict(),
  z
    .object({
      hmac: z
        .object({
          secret: secrets,
          header: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'expected an HTTP header name like X-Signature'),
          algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
          encoding: z.enum(['hex', 'base64']).default('hex'),
          prefix: z.string().max(50).default('').meta({ description: 'text before the digest in the header, e.g. "sha256="' }),
          id_header: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'expected an HTTP header name').optional().meta({ description: 'a header carrying the delivery id: duplicates are stored once' }),
        })
        .strict(),
    })
    .strict(),
]);

export type VerifyConfig = z.output<typeof verifySchema>;

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'expected an HTTP header name');

export const hookSchema = z
  .object({
    verify: verifySchema.meta({ description: 'how a delivery proves its sender: stripe, github, svix (Standard Webhooks) or hmac' }),
    forward: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL of your app' }).meta({ description: 'your app\'s endpoint; each stored delivery is POSTed there with its original body and signature headers' }),
    service: name('service').optional().meta({ description: 'the service this hook belongs to: its metrics and events carry it (default: the hook\'s name)' }),
    max_body: size()
      .default(1024 * 1024)
      .refine((n) => n >= 1024 && n <= 64 * 1024 * 1024, 'max_body must be between 1KB and 64MB')
      .meta({ description: 'largest body accepted (1MB); larger ones get 413 and are not stored' }),
    retries: z.number().int().min(0).max(30).default(8).meta({ description: 'forward attempts after the first one fails (8), with exponential backoff and jitter' }),
    backoff: duration().default(30_000).meta({ description: 'the wait before the first retry (30s); each next one doubles, at most 6h' }),
    max_age: duration().default(24 * 3_600_000).meta({ description: 'no retry starts later than this after the delivery arrived (24h)' }),
    timeout: duration().default(10_000).meta({ description: 'the most one forward attempt may take (10s)' }),
    concurrency: z.number().int().min(1).max(64).default(4).meta({ description: 'forward attempts of this hook in flight at once (4)' }),
    retention: duration()
      .default(30 * 86_400_000)
      .meta({ description: 'delivered and failed deliveries (with their bodies and attempts) are deleted this long after they arrived (30d); pending ones are kept' }),
    headers: z.array(headerName).max(20).default([]).meta({ description: 'more request headers to keep and forward (the signature and content-type headers always are)' }),
  })
  .strict();

export type HookConfig = z.output<typeof hookSchema>;

export interface WebhooksRaw extends CoreConfig {
  webhooks: Record<string, HookConfig>;
}

export const schemeOf = (v: VerifyConfig): 'stripe' | 'github' | 'svix' | 'hmac' => ('stripe' in v ? 'stripe' : 'github' in v ? 'github' : 'svix' in v ? 'svix' : 'hmac');

export function secretsOf(v: VerifyConfig): string[] {
  return 'stripe' in v ? v.stripe.secret : 'github' in v ? v.github.secret : 'svix' in v ? v.svix.secret : v.hmac.secret;
}

function validate(raw: WebhooksRaw): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  for (const [hook, h] of Object.entries(raw.webhooks ?? {})) {
    const scheme = schemeOf(h.verify);
    const list = secretsOf(h.verify);
    list.forEach((s, i) => {
      const path = ['webhooks', hook, 'verify', scheme, 'secret', ...(list.length > 1 ? [i] : [])];
      if (s === '') out.push({ path, message: 'the secret is empty (is the variable it comes from set?); an inbox without a secret would accept forged deliveries' });
      else if (scheme === 'svix' && !/^(whsec_)?[A-Za-z0-9+/=]{8,}$/.test(s)) out.push({ path, message: 'a Svix / Standard Webhooks secret is "whsec_" followed by base64' });
    });
    if (h.service && !raw.services?.[h.service]) out.push({ path: ['webhooks', hook, 'service'], message: `no service "${h.service}" under services:; metrics and events still carry that name`, warning: true });
  }
  return out;
}

export const webhooksConfig = {
  sections: { webhooks: z.record(name('hook'), hookSchema).default({}).meta({ description: 'inbound webhooks (POST /hooks/<name>): verified, stored, forwarded to your app with retries' }) },
  validate,
};

export const hooksOf = (cfg: Config<WebhooksRaw>): Record<string, HookConfig> => cfg.raw.webhooks ?? {};

/** The service a hook's metrics and events carry: its `service`, else its own name. */
export const serviceOf = (hook: string, h: HookConfig | undefined): string => h?.service ?? hook;
