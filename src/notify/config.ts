/**
 * `notify:` in shipshape.yaml: channels, receivers, routes (a flat list, or Alertmanager's routing
 * tree under `route:`), time intervals and inhibition, written as alertmanager.yml writes them.
 */
import { z } from 'zod';
import type { CoreConfig } from '../core/config/schema.js';
import { templateError } from '../core/config/template.js';
import { duration } from '../core/config/zod-units.js';
import { CHANNEL_KINDS, channelKinds } from './channels/index.js';
import { anchoredGoRegex } from './go-regex.js';
import { parseMatchers } from './matchers.js';
import { namedTimeIntervalSchema } from './time-intervals.js';

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
    anchoredGoRegex(re);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(e as Error).message}` });
  }
});

/** `matchers:` as Alertmanager writes them: `severity=~"P0|P1"`, `{team!="db"}`; an entry may hold several. */
const matchersList = z
  .array(
    z.string().superRefine((line, ctx) => {
      try {
        parseMatchers(line);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `invalid matcher ${JSON.stringify(line)}: ${(e as Error).message}` });
      }
    }),
  )
  .meta({ description: 'Alertmanager matchers: label="value", label!="value", label=~"regex", label!~"regex" (Go regex syntax, anchored)' });

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

const groupBy = z
  .array(z.string())
  .superRefine((g, ctx) => {
    if (g.includes('...') && g.length > 1) ctx.addIssue({ code: 'custom', message: 'cannot have wildcard group_by (`...`) and other labels at the same time' });
    const seen = new Set<string>();
    for (const l of g) {
      if (seen.has(l)) ctx.addIssue({ code: 'custom', message: `duplicated label "${l}" in group_by` });
      seen.add(l);
    }
  })
  .optional()
  .meta({ description: 'labels that make a group (inherited; "..." groups by all labels, [] puts all alerts of the route in one group)' });
const nonZero = (what: string) =>
  duration()
    .refine((ms) => ms > 0, `${what} cannot be zero`)
    .optional();
const timing = {
  group_by: groupBy,
  group_wait: duration().optional().meta({ description: 'wait this long before the first notification of a new group (default 30s)' }),
  group_interval: nonZero('group_interval').meta({ description: 'wait this long before telling about changes in a group (default 5m)' }),
  repeat_interval: nonZero('repeat_interval').meta({ description: 're-send an unchanged firing group after this long (default 4h)' }),
};

/** A route node (the flat `routes:` entries and Alertmanager's tree `route:` share it). */
export interface RouteConfig {
  match: Record<string, string | string[]>;
  match_re: Record<string, string>;
  channels?: string[];
  continue: boolean;
  group_by?: string[];
  group_wait?: number;
  group_interval?: number;
  repeat_interval?: number;
  receiver?: string;
  matchers?: string[];
  mute_time_intervals?: string[];
  active_time_intervals?: string[];
  routes?: RouteConfig[];
}

export const routeSchema: z.ZodType<RouteConfig> = z.lazy(() =>
  z
    .object({
      match: matcher.default({}).meta({ description: 'deprecated Alertmanager form: label -> value (Shipshape also takes a list of values)' }),
      match_re: z.record(z.string(), regex).default({}).meta({ description: 'deprecated Alertmanager form: label -> regex (anchored)' }),
      channels: z.array(z.string()).min(1).optional().meta({ description: 'channels (notify.channels keys) this route sends to; instead of or overriding receiver' }),
      continue: z.boolean().default(false).meta({ description: 'keep matching the next sibling routes after this one' }),
      ...timing,
      receiver: z.string().min(1).optional().meta({ description: 'a notify.receivers entry, or a channel of that name (inherited by child routes)' }),
      matchers: matchersList.optional(),
      mute_time_intervals: z.array(z.string()).optional().meta({ description: 'names of time intervals during which this route sends nothing (not inherited)' }),
      active_time_intervals: z.array(z.string()).optional().meta({ description: 'names of time intervals outside which this route sends nothing (not inherited)' }),
      routes: z.array(routeSchema).optional().meta({ description: 'child routes: the first that matches wins (unless continue); the parent only when none matches' }),
    })
    .strict(),
).meta({ id: 'NotifyRoute', description: 'a route: matchers, where it sends (receiver or channels), grouping and timings (inherited from the parent), child routes' }) as unknown as z.ZodType<RouteConfig>;

const DEFAULTS = { group_by: ['alertname', 'service'], group_wait: 30_000, group_interval: 300_000, repeat_interval: 4 * 3_600_000 };
/** Alertmanager's defaults for the routing tree (`route:`). */
export const AM_DEFAULTS = { group_by: [] as string[], group_wait: 30_000, group_interval: 300_000, repeat_interval: 4 * 3_600_000 };

export const inhibitSchema = z
  .object({
    name: z.string().optional().meta({ description: 'a name for the rule' }),
    source_match: matcher.default({}),
    source_match_re: z.record(z.string(), regex).default({}),
    source_matchers: matchersList.optional(),
    target_match: matcher.default({}),
    target_match_re: z.record(z.string(), regex).default({}),
    target_matchers: matchersList.optional(),
    equal: z.array(z.string()).default([]).meta({ description: 'labels that must be equal on source and target (missing on both counts as equal)' }),
  })
  .strict();
export type InhibitRule = z.output<typeof inhibitSchema>;

/** When no `inhibit:` is configured: a P0 of a service mutes its P2 and P3 alerts. */
export const DEFAULT_INHIBIT: InhibitRule[] = [
  { source_match: { severity: 'P0' }, source_match_re: {}, target_match: { severity: ['P2', 'P3'] }, target_match_re: {}, equal: ['service'] },
  // a pushed alert's level is the label Shipshape added (its own `severity` is the sender's word)
  { source_match: { severity: 'P0' }, source_match_re: {}, target_match: { shipshape_severity: ['P2', 'P3'] }, target_match_re: {}, equal: ['service'] },
];

type Issue = { path: (string | number)[]; message: string };

/** Cross-key checks of the routes: receivers, channels and time intervals exist; the root route's rules. */
export function checkRoutes(n: NotifyConfig): Issue[] {
  const out: Issue[] = [];
  const channelNames = Object.keys(n.channels);
  const receiverNames = Object.keys(n.receivers ?? {});
  const intervals = new Set([...(n.time_intervals ?? []), ...(n.mute_time_intervals ?? [])].map((t) => t.name));
  const known = () => [...new Set([...receiverNames, ...channelNames])].join(', ') || 'none defined';
  const walk = (r: RouteConfig, path: (string | number)[]) => {
    r.channels?.forEach((c, j) => {
      if (!(c in n.channels)) out.push({ path: [...path, 'channels', j], message: `unknown channel "${c}"; channels: ${channelNames.join(', ') || 'none defined'}` });
    });
    if (r.receiver !== undefined && !(r.receiver in (n.receivers ?? {})) && !(r.receiver in n.channels)) out.push({ path: [...path, 'receiver'], message: `undefined receiver "${r.receiver}" used in route; receivers and channels: ${known()}` });
    for (const key of ['mute_time_intervals', 'active_time_intervals'] as const)
      r[key]?.forEach((t, j) => {
        if (!intervals.has(t)) out.push({ path: [...path, key, j], message: `undefined time interval "${t}" used in route; time intervals: ${[...intervals].join(', ') || 'none defined'}` });
      });
    r.routes?.forEach((c, i) => walk(c, [...path, 'routes', i]));
  };
  if (n.route) {
    const r = n.route;
    if (r.receiver === undefined && r.channels === undefined) out.push({ path: ['route', 'receiver'], message: 'root route must specify a default receiver (or channels)' });
    if (Object.keys(r.match).length || Object.keys(r.match_re).length || r.matchers?.length) out.push({ path: ['route'], message: 'root route must not have any matchers (it is the fallback for every alert)' });
    if (r.continue) out.push({ path: ['route', 'continue'], message: 'cannot have continue in root route' });
    if (r.mute_time_intervals?.length) out.push({ path: ['route', 'mute_time_intervals'], message: 'root route must not have any mute time intervals' });
    if (r.active_time_intervals?.length) out.push({ path: ['route', 'active_time_intervals'], message: 'root route must not have any active time intervals' });
    walk(r, ['route']);
  }
  n.routes.forEach((r, i) => {
    if (r.receiver === undefined && r.channels === undefined) out.push({ path: ['routes', i], message: 'a route needs channels or a receiver' });
    walk(r, ['routes', i]);
  });
  return out;
}

export const notifySchema = z
  .object({
    channels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a channel name is letters, digits, "_", "-" or "."'), channelSchema).default({}),
    receivers: z
      .record(z.string().min(1), z.array(z.string()))
      .optional()
      .meta({ description: "Alertmanager receivers: name -> the channels it sends to ([] drops, like an empty receiver); a route's receiver names one (or a channel)" }),
    route: routeSchema.optional().meta({ description: "Alertmanager's routing tree (root route): receiver, group_by, timings, matchers, continue, time intervals and nested routes, inherited down the tree" }),
    routes: z.array(routeSchema).default([]).meta({ description: 'first match wins unless continue: true; with no routes, every alert goes to every channel (use route: for an Alertmanager tree)' }),
    defaults: z
      .object({
        group_by: z.array(z.string()).default(DEFAULTS.group_by),
        group_wait: duration().default(DEFAULTS.group_wait),
        group_interval: duration().default(DEFAULTS.group_interval),
        repeat_interval: duration().default(DEFAULTS.repeat_interval),
      })
      .strict()
      .default(DEFAULTS)
      .meta({ description: 'timings and grouping of the flat routes: list (route: uses Alertmanager defaults: group_by [], 30s, 5m, 4h)' }),
    inhibit: z.array(inhibitSchema).optional().meta({ description: 'default: a P0 of a service mutes its P2 and P3 alerts' }),
    inhibit_rules: z.array(inhibitSchema).optional().meta({ description: "Alertmanager's name for inhibit:" }),
    time_intervals: z.array(namedTimeIntervalSchema).optional().meta({ description: 'named time intervals for routes\' mute_time_intervals and active_time_intervals' }),
    mute_time_intervals: z.array(namedTimeIntervalSchema).optional().meta({ description: "Alertmanager's older name for time_intervals" }),
    timeout: duration().default(10_000).meta({ description: 'per-attempt send timeout' }),
    external_url: z.string().url().optional().meta({ description: 'the dashboard URL linked from notifications (default: the server address)' }),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (n.route && n.routes.length) ctx.addIssue({ code: 'custom', message: 'give either route: (an Alertmanager routing tree) or routes: (a flat list), not both', path: ['route'] });
    if (n.inhibit && n.inhibit_rules) ctx.addIssue({ code: 'custom', message: 'give either inhibit: or inhibit_rules: (the same thing), not both', path: ['inhibit_rules'] });
    const seen = new Set<string>();
    for (const key of ['mute_time_intervals', 'time_intervals'] as const)
      n[key]?.forEach((t, i) => {
        if (seen.has(t.name)) ctx.addIssue({ code: 'custom', message: `time interval "${t.name}" is not unique`, path: [key, i, 'name'] });
        seen.add(t.name);
      });
    for (const [name, list] of Object.entries(n.receivers ?? {}))
      list.forEach((c, j) => {
        if (!(c in n.channels)) ctx.addIssue({ code: 'custom', message: `unknown channel "${c}"; channels: ${Object.keys(n.channels).join(', ') || 'none defined'}`, path: ['receivers', name, j] });
      });
    for (const i of checkRoutes(n)) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
  });

export type NotifyConfig = z.output<typeof notifySchema>;

export type NotifyRaw = CoreConfig & { notify: NotifyConfig };

export const notifyConfig = { sections: { notify: notifySchema.prefault({}) } };
