/** `notify:` in shipshape.yaml: channels, routes (Alertmanager's model and defaults), inhibition. */
import { z } from 'zod';
import { duration } from '../config/zod-units.js';

const url = () => z.string().url();
const template = z
  .object({ title: z.string().max(2000).optional(), text: z.string().max(20_000).optional() })
  .strict()
  .optional()
  .meta({ description: 'per-channel templates: {{ status }}, {{ alerts }}, {{ labels.x }}, {{ annotations.summary }}' });

/** Channel kinds: exactly one key per channel. */
export const channelKinds = {
  slack: z.object({ url: url() }).strict(),
  discord: z.object({ url: url() }).strict(),
  teams: z.object({ url: url() }).strict(),
  telegram: z.object({ bot_token: z.string().min(1), chat_id: z.union([z.string(), z.number()]), api_url: url().default('https://api.telegram.org') }).strict(),
  webhook: z.object({ url: url(), headers: z.record(z.string(), z.string()).optional(), max_alerts: z.number().int().min(0).default(0) }).strict(),
  email: z.object({ to: z.array(z.string().email()).min(1), from: z.string().optional(), smtp: z.string().meta({ description: 'smtp://user:pass@host:port or smtps://… (empty: the channel reports every send as failed until set)' }) }).strict(),
  pagerduty: z.object({ routing_key: z.string().min(1), url: url().default('https://events.pagerduty.com/v2/enqueue') }).strict(),
  ntfy: z.object({ url: url().default('https://ntfy.sh'), topic: z.string().min(1), token: z.string().optional() }).strict(),
} as const;

export const CHANNEL_KINDS = Object.keys(channelKinds) as (keyof typeof channelKinds)[];

const channelShape: Record<string, z.ZodType> = {};
for (const [k, v] of Object.entries(channelKinds)) channelShape[k] = v.optional();

export const channelSchema = z
  .object({ ...channelShape, template, send_resolved: z.boolean().default(true) })
  .strict()
  .superRefine((c, ctx) => {
    const kinds = CHANNEL_KINDS.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: 'custom', message: `a channel has exactly one kind: ${CHANNEL_KINDS.join(', ')}` });
  });

const matcher = z.record(z.string(), z.union([z.string(), z.array(z.string())])).meta({ description: 'label -> value or list of values' });

const timing = {
  group_by: z.array(z.string()).optional(),
  group_wait: duration().optional(),
  group_interval: duration().optional(),
  repeat_interval: duration().optional(),
};

export const routeSchema = z
  .object({
    match: matcher.default({}),
    match_re: z.record(z.string(), z.string()).default({}),
    channels: z.array(z.string()).min(1),
    continue: z.boolean().default(false),
    ...timing,
  })
  .strict();

export const notifySchema = z
  .object({
    channels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/), channelSchema).default({}),
    routes: z.array(routeSchema).default([]),
    defaults: z
      .object({
        group_by: z.array(z.string()).default(['alertname', 'service']),
        group_wait: duration().default(30_000),
        group_interval: duration().default(300_000),
        repeat_interval: duration().default(4 * 3_600_000),
      })
      .strict()
      .default({ group_by: ['alertname', 'service'], group_wait: 30_000, group_interval: 300_000, repeat_interval: 4 * 3_600_000 }),
    inhibit: z
      .array(z.object({ source_match: matcher, target_match: matcher, equal: z.array(z.string()).default([]) }).strict())
      .optional()
      .meta({ description: 'default: a P0 of a service mutes its P2 and P3 alerts' }),
  })
  .strict()
  .superRefine((n, ctx) => {
    n.routes.forEach((r, i) =>
      r.channels.forEach((c, j) => {
        if (!(c in n.channels)) ctx.addIssue({ code: 'custom', message: `unknown channel "${c}"; channels: ${Object.keys(n.channels).join(', ') || 'none defined'}`, path: ['routes', i, 'channels', j] });
      }),
    );
  });

export type NotifyConfig = z.output<typeof notifySchema>;
