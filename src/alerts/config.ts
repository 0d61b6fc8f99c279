/** `alerts:` in shipshape.yaml: one line of condition each, plus how and when they page. */
import { z } from 'zod';
import { gatusAlertRules } from '../checks/index.js';
import { duration } from '../core/config/zod-units.js';
import { templateError } from '../core/config/template.js';
import type { CoreConfig } from '../core/config/schema.js';
import { parseRule, RuleSyntaxError } from './expr.js';

export const severitySchema = z.enum(['P0', 'P1', 'P2', 'P3']);

export const alertRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'an alert name is letters, digits, "_", "-" or "."'),
    when: z.string().min(1).meta({ description: 'e.g. "error_rate(web) > 1% for 5m", "p95(web.latency) > 1000ms for 5m", "down(web) for 1m", "absent(heartbeat.nightly-backup) for 26h"' }),
    severity: severitySchema.default('P2'),
    labels: z.record(z.string(), z.string()).default({}),
    summary: z.string().max(1000).optional().meta({ description: 'template: {{ service }}, {{ value }}, {{ labels.x }}, {{ threshold }}' }),
    description: z.string().max(5000).optional(),
    runbook_url: z.string().url().optional(),
    keep_firing_for: duration().default(0).meta({ description: 'stay firing this long after the condition clears (hysteresis)' }),
    min_samples: z.number().int().min(0).optional().meta({ description: 'do not fire on fewer samples in the window (default: 20 for rates and quantiles)' }),
    incident: z
      .object({ severity: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,15}$/, 'an incident severity is P0..P3 or a level name from incidents.severities') })
      .strict()
      .optional()
      .meta({ description: 'open an incident when this alert fires (a flapping alert joins or re-opens its incident): severity P0..P3 or a configured level name' }),
  })
  .strict()
  .superRefine((rule, ctx) => {
    // parse `when` at load so a typo points at the rule's line and the column inside `when`
    try {
      parseRule(rule.when);
    } catch (e) {
      if (!(e instanceof RuleSyntaxError)) throw e;
      ctx.addIssue({ code: 'custom', message: `column ${e.column}: ${e.message} (in "${rule.when}")`, path: ['when'] });
    }
    for (const key of ['summary', 'description'] as const) {
      const t = rule[key];
      const err = t === undefined ? undefined : templateError(t);
      if (err) ctx.addIssue({ code: 'custom', message: `invalid template: ${err}`, path: [key] });
    }
  });

export const alertsSchema = z
  .array(alertRuleSchema)
  .default([])
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', message: `duplicate alert name "${r.name}": each rule needs its own name`, path: [i, 'name'] });
      seen.add(r.name);
    });
  });

export const alertingSchema = z
  .object({
    evaluate_every: duration().default(10_000).meta({ description: 'how often rules are evaluated' }),
  })
  .strict()
  .default({ evaluate_every: 10_000 });

export type AlertRuleConfig = z.output<typeof alertRuleSchema>;

export type AlertsRaw = CoreConfig & { alerts: AlertRuleConfig[]; alerting: z.output<typeof alertingSchema> };

export const alertsConfig = { sections: { alerting: alertingSchema, alerts: alertsSchema } };

/**
 * The rules in force: `alerts:` and, for every Gatus endpoint pasted among a service's checks,
 * one rule per enabled entry of its `alerts:` (`down(<service>/<check>)`, labelled
 * `channel: <type>` so a notify route can deliver it).
 */
export function configuredRules(raw: AlertsRaw): AlertRuleConfig[] {
  const derived = gatusAlertRules(raw as never).map(({ path: _path, ...r }): AlertRuleConfig => ({ ...r }));
  return [...raw.alerts, ...derived];
}
