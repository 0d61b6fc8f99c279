import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { loadConfig, parseConfig } from '../../src/modules.js';

const base = `
services:
  web: {}
notify:
  channels:
    mail: { email: { to: [ops@example.com], smtp: "smtp://127.0.0.1:2525" } }
    chat: { webhook: { url: "https://chat.example.com/hook" } }
status_pages:
  public: {}
  ops: { private: true }
`;

function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, 'shipshape.yaml', { env: {} });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('subscriptions config', () => {
  it('defaults: no email, every public page, 48h links, one mail an hour per address', () => {
    const c = parseConfig(base, 'shipshape.yaml', { env: {} });
    expect(c.raw.subscriptions).toEqual({ confirm_ttl: 48 * 3_600_000, resend_after: 3_600_000, notify_on_open: true, max_pending: 10_000, webhook_timeout: 10_000 });
  });

  it('names the file, line and key of a wrong channel, a non-email channel, an unknown or internal page, an unknown key', () => {
    expect(errorOf(`${base}subscriptions:\n  email_channel: post\n`)).toMatch(/shipshape\.yaml:\d+:\d+.*subscriptions\.email_channel.*unknown channel "post"; channels: mail, chat/s);
    expect(errorOf(`${base}subscriptions:\n  email_channel: chat\n`)).toMatch(/subscriptions\.email_channel.*the channel "chat" is not an email channel/s);
    expect(errorOf(`${base}subscriptions:\n  pages: [nope]\n`)).toMatch(/shipshape\.yaml:12:\d+: subscriptions\.pages\[0\]: unknown status page "nope"; pages: public, ops/s);
    expect(errorOf(`${base}subscriptions:\n  pages: [ops]\n`)).toMatch(/subscriptions\.pages\[0\]: the status page "ops" is internal/);
    expect(errorOf(`${base}subscriptions:\n  email: mail\n`)).toMatch(/subscriptions.*email/s);
    expect(errorOf(`${base}subscriptions:\n  confirm_ttl: soon\n`)).toMatch(/subscriptions\.confirm_ttl/);
  });

  it('the example config loads', () => {
    const c = loadConfig('examples/shipshape.yaml', { env: {} });
    expect(c.raw.subscriptions.notify_on_open).toBe(true);
  });
});
