/** What the notify domain sends, and the one interface every channel kind implements. */
import type { z } from 'zod';
import type { ChannelConfig } from './config.js';

/** One alert as a notification carries it (Alertmanager's webhook alert, plus the value text). */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339 */
  startsAt: string;
  /** RFC 3339; Alertmanager's zero time while firing */
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  valueText: string;
}

/** A message for one channel about one alert group. Holds no secrets: it is stored in the queue. */
export interface Notification {
  /** the channel's name in the config (Alertmanager's receiver) */
  receiver: string;
  /** Alertmanager-style group key: `<route>:{label="value",…}` */
  groupKey: string;
  /** sha256 of the group key, hex (PagerDuty dedup_key) */
  groupHash: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: NotifiedAlert[];
  /** a `shipshape notify test` message */
  test?: boolean;
  /** for email channels: send to these addresses instead of the channel's `to` (on-call pages to a person) */
  to?: string[];
}

/** A configured channel: its name, kind, kind-specific spec and template. */
export interface ChannelTarget<S = unknown> {
  name: string;
  kind: string;
  spec: S;
  template?: { title?: string; text?: string };
  sendResolved: boolean;
}

/** A send failure: message already free of secrets; `permanent` skips the retries. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly permanent = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SendError';
  }
}

/** A channel kind: one file under channels/. */
export interface ChannelKind<S = unknown> {
  /** the key in shipshape.yaml (`slack`, `webhook`, …) */
  kind: string;
  /** zod schema of the kind's block */
  spec: z.ZodType;
  /** send one notification; reject (ideally with a SendError) on failure; honour `signal` */
  send(n: Notification, channel: ChannelTarget<S>, signal: AbortSignal): Promise<void>;
  /** the strings in this spec that must never be shown (tokens, keys, webhook URLs…) */
  secrets(spec: S): string[];
  /** where it sends to, safe to show (no secrets) */
  describe(spec: S): string;
}

export function channelTarget(name: string, c: ChannelConfig): ChannelTarget {
  const rec = c as Record<string, unknown>;
  const kind = (Object.keys(rec).find((k) => !['template', 'send_resolved'].includes(k) && rec[k] !== undefined) ?? 'webhook');
  return { name, kind, spec: rec[kind], template: c.template, sendResolved: c.send_resolved !== false };
}
