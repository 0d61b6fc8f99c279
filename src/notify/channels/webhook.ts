/** Generic webhook: Alertmanager's webhook payload, version 4, so existing receivers work. */
import { z } from 'zod';
import type { ChannelKind, Notification } from '../types.js';
import { postJson, safeUrl, urlSecrets } from './_http.js';

const spec = z
  .object({
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).optional().meta({ description: 'extra request headers (their values are treated as secrets)' }),
    max_alerts: z.number().int().min(0).default(0).meta({ description: 'at most this many alerts per message (0: all); the rest are counted in truncatedAlerts' }),
  })
  .strict();

type Spec = z.output<typeof spec>;

/** https://prometheus.io/docs/alerting/latest/configuration/#webhook_config */
export function alertmanagerPayload(n: Notification, maxAlerts = 0) {
  const alerts = maxAlerts > 0 ? n.alerts.slice(0, maxAlerts) : n.alerts;
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - alerts.length,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: n.externalURL,
    alerts: alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: a.endsAt, generatorURL: a.generatorURL, fingerprint: a.fingerprint })),
  };
}

export const webhook: ChannelKind<Spec> = {
  kind: 'webhook',
  spec,
  async send(n, ch, signal) {
    await postJson(ch.spec.url, alertmanagerPayload(n, ch.spec.max_alerts), { signal, headers: ch.spec.headers, secrets: this.secrets(ch.spec), label: `webhook ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => [...urlSecrets(s.url), ...Object.values(s.headers ?? {})],
  describe: (s) => `webhook ${safeUrl(s.url)}`,
};
