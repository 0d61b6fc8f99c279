/**
 * `subscriptions:` in shipshape.yaml: which notify channel sends subscriber mail, which status
 * pages offer subscriptions, and the limits of the public form.
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { duration } from '../core/config/zod-units.js';
import type { ConfigFinding } from '../core/module.js';

export const subscriptionsSchema = z
  .object({
    email_channel: z.string().optional().meta({ description: 'an email channel of notify.channels whose SMTP server and sender address send subscriber mail (unset: no email subscriptions; the form is not shown; webhooks still work)' }),
    pages: z.array(z.string()).optional().meta({ description: 'keys of the status pages that offer subscriptions (default: every public page; internal pages never do)' }),
    confirm_ttl: duration().default(48 * 3_600_000).meta({ description: 'confirmation links expire after this; unconfirmed addresses are forgotten then' }),
    resend_after: duration().default(3_600_000).meta({ description: 'at most one confirmation (or "already subscribed") mail per address per this long, however often the form is sent' }),
    notify_on_open: z.boolean().default(true).meta({ description: 'tell subscribers when an incident opens (the page shows it as "investigating" at once); false: only updates written by responders, and the resolution' }),
    max_pending: z.number().int().min(1).max(1_000_000).default(10_000).meta({ description: 'unconfirmed addresses kept per page at most (a flood of sign-ups cannot fill the store)' }),
    webhook_timeout: duration().default(10_000).meta({ description: 'per-attempt timeout of a webhook delivery' }),
  })
  .strict();

export type SubscriptionsConfig = z.output<typeof subscriptionsSchema>;

/** What the module reads: its own section, plus notify's channels and the status pages (to check names). */
export type SubscriptionsRaw = CoreConfig & {
  subscriptions: SubscriptionsConfig;
  notify?: { channels?: Record<string, Record<string, unknown>>; external_url?: string };
  status_pages?: Record<string, { private?: boolean }>;
};

export const subscriptionsConfig = {
  sections: { subscriptions: subscriptionsSchema.prefault({}) },
  validate(raw: SubscriptionsRaw): ConfigFinding[] {
    const out: ConfigFinding[] = [];
    const s = raw.subscriptions;
    const channels = raw.notify?.channels ?? {};
    if (s.email_channel !== undefined) {
      const ch = channels[s.email_channel];
      if (!ch) out.push({ path: ['subscriptions', 'email_channel'], message: `unknown channel "${s.email_channel}"; channels: ${Object.keys(channels).join(', ') || 'none defined'}` });
      else if (ch.email === undefined) out.push({ path: ['subscriptions', 'email_channel'], message: `the channel "${s.email_channel}" is not an email channel` });
    }
    const pages = raw.status_pages;
    (s.pages ?? []).forEach((key, i) => {
      if (!pages) {
        if (key !== 'default') out.push({ path: ['subscriptions', 'pages', i], message: `unknown status page "${key}"; without status_pages: the one page is "default"` });
        return;
      }
      const p = pages[key];
      if (!p) out.push({ path: ['subscriptions', 'pages', i], message: `unknown status page "${key}"; pages: ${Object.keys(pages).join(', ')}` });
      else if (p.private) out.push({ path: ['subscriptions', 'pages', i], message: `the status page "${key}" is internal (private: true): subscriptions are for public pages` });
    });
    return out;
  },
};
