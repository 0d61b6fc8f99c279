/** The webhooks: section loads as documented, and its mistakes are reported at file:line with the key. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { parseConfig } from '../../src/modules.js';
import { backoffMs } from '../../src/webhooks/index.js';

const FIXED = `webhooks:
  stripe:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}", tolerance: 5m } }
    forward: "http://127.0.0.1:3000/api/webhooks/stripe"
  github:
    verify: { github: { secret: "\${GITHUB_WEBHOOK_SECRET}" } }
    forward: "http://127.0.0.1:3000/api/webhooks/github"
`;

const error = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('webhooks config', () => {
  it('loads the documented config with its defaults', () => {
    const c = parseConfig(FIXED, 'shipshape.yaml', { env: { STRIPE_WEBHOOK_SECRET: 'whsec_abc0123456789', GITHUB_WEBHOOK_SECRET: 'gh-0123456789' } });
    expect(c.raw.webhooks.stripe).toEqual({
      verify: { stripe: { secret: ['whsec_abc0123456789'], tolerance: 300_000 } },
      forward: 'http://127.0.0.1:3000/api/webhooks/stripe',
      max_body: 1024 * 1024,
      retries: 8,
      backoff: 30_000,
      max_age: 86_400_000,
      timeout: 10_000,
      concurrency: 4,
      retention: 30 * 86_400_000,
      headers: [],
    });
    expect(c.raw.webhooks.github?.verify).toEqual({ github: { secret: ['gh-0123456789'] } });
  });

  it('takes a list of secrets, svix and generic HMAC', () => {
    const c = parseConfig(
      `webhooks:
  rotated:
    verify: { stripe: { secret: ["\${NEW}", "\${OLD}"] } }
    forward: "https://app.example.com/hooks/stripe"
  clerk:
    verify: { svix: { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }
    forward: "http://127.0.0.1:3000/api/webhooks/clerk"
  shopify:
    verify: { hmac: { secret: "s3cr3t-0123456789", header: X-Shopify-Hmac-Sha256, encoding: base64 } }
    forward: "http://127.0.0.1:3000/api/webhooks/shopify"
    max_body: 256KB
    retries: 3
    timeout: 5s
    headers: [X-Shopify-Topic]
`,
      'shipshape.yaml',
      { env: { NEW: 'whsec_new_0123456789', OLD: 'whsec_old_0123456789' } },
    );
    expect(c.raw.webhooks.rotated?.verify).toEqual({ stripe: { secret: ['whsec_new_0123456789', 'whsec_old_0123456789'], tolerance: 300_000 } });
    expect(c.raw.webhooks.shopify).toMatchObject({ verify: { hmac: { algorithm: 'sha256', encoding: 'base64', prefix: '', header: 'X-Shopify-Hmac-Sha256' } }, max_body: 256 * 1024, retries: 3, timeout: 5000 });
  });

  it('refuses an empty secret (an unset variable) at its line, without showing any secret', () => {
    const msg = error(() => parseConfig(FIXED, 'shipshape.yaml', { env: { GITHUB_WEBHOOK_SECRET: 'gh-0123456789' } }));
    expect(msg).toMatch(/^shipshape\.yaml:3:\d+: webhooks\.stripe\.verify\.stripe\.secret: the secret is empty \(is the variable it comes from set\?\)/);
    expect(msg).not.toContain('gh-0123456789');
  });

  it('names bad keys and values', () => {
    expect(error(() => parseConfig(`webhooks:\n  x:\n    verify: { stripe: { secret: "whsec_a0123456789" } }\n    forward: "ftp://host/x"\n`, 'f.yaml'))).toMatch(/f\.yaml:4:\d+: webhooks\.x\.forward: expected an http:\/\/ or https:\/\/ URL of your app/);
    expect(error(() => parseConfig(`webhooks:\n  x:\n    verify: { stripe: { secret: "whsec_a0123456789" } }\n    forward: "http://h/x"\n    retrys: 3\n`, 'f.yaml'))).toMatch(/f\.yaml:5:\d+: webhooks\.x: unknown key "retrys"/);
    expect(error(() => parseConfig(`webhooks:\n  x:\n    verify: { hmac: { secret: "abc0123456789", header: "bad header" } }\n    forward: "http://h/x"\n`, 'f.yaml'))).toMatch(/webhooks\.x\.verify/);
  });

  it('backs off exponentially with jitter, capped at 6h', () => {
    expect(backoffMs(30_000, 1, () => 1)).toBe(30_000);
    expect(backoffMs(30_000, 3, () => 1)).toBe(120_000);
    expect(backoffMs(30_000, 3, () => 0)).toBe(60_000);
    expect(backoffMs(30_000, 30, () => 1)).toBe(6 * 3_600_000);
  });
});
