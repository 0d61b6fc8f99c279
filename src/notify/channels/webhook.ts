/** Generic webhook: Alertmanager's webhook payload, version 4, so existing receivers work. */
import type { ChannelSpecs } from '../config.js';
import type { ChannelKind, Notification } from '../types.js';
import { postJson, safeUrl, urlSecrets } from './http.js';

type Spec = ChannelSpecs['webhook'];

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
  async send(n, ch, signal) {
    await postJson(ch.spec.url, alertmanagerPayload(n, ch.spec.max_alerts), { signal, headers: ch.spec.headers, secrets: this.secrets(ch.spec), label: `webhook ${safeUrl(ch.spec.url)}` });
  },
  secrets: (s) => [...urlSecrets(s.url), ...Object.values(s.headers ?? {})],
  describe: (s) => `webhook ${safeUrl(s.url)}`,
};
