/** `notify:` in shipshape.yaml: channels, routes (Alertmanager's model and defaults), inhibition. */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { templateError } from '../core/config/template.js';
import { duration } from '../core/config/zod-units.js';
import { CHANNEL_KINDS, channelKinds } from './channels/index.js';

const templateText = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((t, ctx) => {
      const err = templateError(t);
      if (err) ctx.addIssue({ code: 'custom', message: `template error: ${err}` });
    });
const template = z
  .object({ title: templateText(2000).optional(), text: templateText(20_000).optional() })
  .strict()
  .optional()
  .meta({
    description:
      'per-channel Mustache templates over {status, receiver, title, summary, alerts, firing, resolved, commonLabels, commonAnnotations, groupLabels, externalURL}; inside {{#alerts}}…{{/alerts}}: {{status}}, {{labels.x}}, {{annotations.summary}}, {{valueText}}, {{startsAt}}',
  });

const regex = z.string().superRefine((re, ctx) => {
  try {
    new RegExp(`^(?:${re})$`);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(e as Error).message}` });
  }
});

const channelShape: Record<string, z.ZodType> = {};
for (const k of channelKinds) channelShape[k.kind] = (k.spec as z.ZodType).optional().meta({ description: `a ${k.kind} channel` });

export const channelSchema = z
  .object({ ...channelShape, template, send_resolved: z.boolean().default(true).meta({ description: 'also tell this channel when alerts resolve' }) })
  .strict()
  .superRefine((c, ctx) => {
    const kinds = CHANNEL_KINDS.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: 'custom', message: `a channel has exactly one kind: ${CHANNEL_KINDS.join(', ')}${kinds.length > 1 ? ` (found ${kinds.join(' and ')})` : ''}` });
  });

/** A channel: one kind's block (its key is the kind), a template and send_resolved. */
export type ChannelConfig = { template?: { title?: string; text?: string }; send_resolved: boolean } & Record<string, unknown>;

const matcher = z.record(z.string(), z.union([z.string(), z.array(z.string())])).meta({ description: 'label -> value or list of values' });

const timing = {
  group_by: z.array(z.string()).optional().meta({ description: 'labels that make a group (default: defaults.group_by; "..." groups by all labels)' }),
  group_wait: duration().optional().meta({ description: 'wait this long before the first notification of a new group (default 30s)' }),
  group_interval: duration().optional().meta({ description: 'wait this long before telling about changes in a group (default 5m)' }),
  repeat_interval: duration().optional().meta({ description: 're-send an unchanged firing group after this long (default 4h)' }),
};

export const routeSchema = z
  .object({
    match: matcher.default({}),
    match_re: z.record(z.string(), regex).default({}),
    channels: z.array(z.string()).min(1),
    continue: z.boolean().default(false).meta({ description: 'keep matching the next routes after this one' }),
    ...timing,
  })
  .strict();

export type RouteConfig = z.output<typeof routeSchema>;

const DEFAULTS = { group_by: ['alertname', 'service'], group_wait: 30_000, group_interval: 300_000, repeat_interval: 4 * 3_600_000 };

export const inhibitSchema = z
  .object({
    source_match: matcher.default({}),
    source_match_re: z.record(z.string(), regex).default({}),
    target_match: matcher.default({}),
    target_match_re: z.record(z.string(), regex).default({}),
    equal: z.array(z.string()).default([]),
  })
  .strict();
export type InhibitRule = z.output<typeof inhibitSchema>;

/** When no `inhibit:` is configured: a P0 of a service mutes its P2 and P3 alerts. */
export const DEFAULT_INHIBIT: InhibitRule[] = [{ source_match: { severity: 'P0' }, source_match_re: {}, target_match: { severity: ['P2', 'P3'] }, target_match_re: {}, equal: ['service'] }];

export const notifySchema = z
  .object({
    channels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a channel name is letters, digits, "_", "-" or "."'), channelSchema).default({}),
    routes: z.array(routeSchema).default([]).meta({ description: 'first match wins unless continue: true; with no routes, every alert goes to every channel' }),
    defaults: z
      .object({
        group_by: z.array(z.string()).default(DEFAULTS.group_by),
        group_wait: duration().default(DEFAULTS.group_wait),
        group_interval: duration().default(DEFAULTS.group_interval),
        repeat_interval: duration().default(DEFAULTS.repeat_interval),
      })
      .strict()
      .default(DEFAULTS),
    inhibit: z.array(inhibitSchema).optional().meta({ description: 'default: a P0 of a service mutes its P2 and P3 alerts' }),
    timeout: duration().default(10_000).meta({ description: 'per-attempt send timeout' }),
    external_url: z.string().url().optional().meta({ description: 'the dashboard URL linked from notifications (default: the server address)' }),
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

export type NotifyRaw = CoreConfig & { notify: NotifyConfig };

export const notifyConfig = { sections: { notify: notifySchema.prefault({}) } };
