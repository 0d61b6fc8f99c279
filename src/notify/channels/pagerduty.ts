/** PagerDuty Events API v2: trigger while the group fires, resolve when it resolves; dedup by group. */
import { z } from 'zod';
import { render, topSeverity, truncate } from '../render.js';
import type { ChannelKind } from '../types.js';
import { postJson, safeUrl } from './_http.js';

const spec = z.object({ routing_key: z.string().min(1), url: z.string().url().default('https://events.pagerduty.com/v2/enqueue') }).strict();

type Spec = z.output<typeof spec>;

export const PD_SEVERITY: Record<string, 'critical' | 'error' | 'warning' | 'info'> = { P0: 'critical', P1: 'critical', P2: 'error', P3: 'warning' };

export const pagerduty: ChannelKind<Spec> = {
  kind: 'pagerduty',
  spec,
  async send(n, ch, signal) {
    const o = { signal, secrets: this.secrets(ch.spec), label: `pagerduty ${safeUrl(ch.spec.url)}` };
    const dedup_key = n.groupHash;
    if (n.status === 'resolved') {
      await postJson(ch.spec.url, { routing_key: ch.spec.routing_key, event_action: 'resolve', dedup_key }, o);
      return;
    }
    const { title, text } = render(n, ch);
    const firing = n.alerts.filter((a) => a.status === 'firing');
    const body: Record<string, unknown> = {
      routing_key: ch.spec.routing_key,
      event_action: 'trigger',
      dedup_key,
      payload: {
        summary: truncate(title, 1024),
        source: n.commonLabels.service ?? n.commonLabels.instance ?? 'shipshape',
        severity: PD_SEVERITY[topSeverity(n) ?? ''] ?? 'error',
        timestamp: firing[0]?.startsAt ?? new Date().toISOString(),
        component: n.commonLabels.service,
        group: n.commonLabels.alertname,
        class: n.commonLabels.alertname,
        custom_details: {
          firing: truncate(text, 10_000),
          num_firing: firing.length,
          num_resolved: n.alerts.length - firing.length,
          alerts: firing.slice(0, 20).map((a) => ({ labels: a.labels, annotations: a.annotations, value: a.valueText, startsAt: a.startsAt })),
        },
      },
      client: 'Shipshape',
    };
    if (n.externalURL) {
      body.client_url = n.externalURL;
      body.links = [{ href: n.externalURL, text: 'Shipshape' }];
    }
    await postJson(ch.spec.url, body, o);
  },
  secrets: (s) => [s.routing_key],
  describe: (s) => `pagerduty ${safeUrl(s.url)}`,
};
