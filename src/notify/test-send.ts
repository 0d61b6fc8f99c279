/**
 * "Send a test message through a channel now": the same notification a real alert would make,
 * marked as a test, sent once with the channel's timeout, its secrets redacted from any error.
 * Behind `shipshape notify test <channel>` and `POST /api/v1/notify/channels/:name/test`.
 */
import type { Config } from '../core/config/load.js';
import { formatDuration } from '../core/config/units.js';
import { ServiceError } from '../core/errors.js';
import { channelKind } from './channels/index.js';
import type { NotifyConfig, NotifyRaw } from './config.js';
import { buildNotification, channelTargets } from './dispatcher.js';
import { redact } from './redact.js';

export interface TestSendResult {
  ok: boolean;
  channel: string;
  kind: string;
  /** where it went, without secrets */
  target: string;
  ms: number;
  error?: string;
}

/** The URL links in notifications point at: notify.external_url, else the server's address. */
export function externalUrlOf(config: Config<NotifyRaw>): string {
  const n = config.raw.notify;
  if (n.external_url) return n.external_url.replace(/\/$/, '');
  const host = config.raw.server.host ?? process.env.SHIPSHAPE_HOST ?? '127.0.0.1';
  const port = config.raw.server.port ?? process.env.SHIPSHAPE_PORT ?? 4600;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function sendTestMessage(config: NotifyConfig, externalUrl: string, name: string, by = 'shipshape notify test'): Promise<TestSendResult> {
  const channels = channelTargets(config);
  const ch = channels.get(name);
  if (!ch) throw new ServiceError('not_found', `no channel "${name}"; channels: ${[...channels.keys()].join(', ') || 'none (add them under notify.channels)'}`);
  const kind = channelKind(ch.kind);
  const target = kind.describe(ch.spec as never);
  const now = new Date().toISOString();
  const n = buildNotification(
    name,
    `test:{channel=${JSON.stringify(name)}}`,
    { alertname: 'shipshape-test' },
    [
      {
        fingerprint: '0000000000000000',
        labels: { alertname: 'shipshape-test', severity: 'P3', service: 'shipshape' },
        annotations: { summary: `Test message from Shipshape to ${name}`, description: `Sent by ${by}. No action needed.` },
        state: 'firing',
        value: null,
        valueText: '',
        activeAt: now,
        firedAt: now,
        resolvedAt: null,
        source: by,
      },
    ],
    externalUrl,
  );
  n.test = true;
  const timeout = config.timeout;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeout);
  const started = Date.now();
  try {
    await kind.send(n, ch, ctl.signal);
    return { ok: true, channel: name, kind: ch.kind, target, ms: Date.now() - started };
  } catch (e) {
    const msg = ctl.signal.aborted ? `timed out after ${formatDuration(timeout)}` : (e as Error).message;
    return { ok: false, channel: name, kind: ch.kind, target, ms: Date.now() - started, error: redact(msg, kind.secrets(ch.spec as never)) };
  } finally {
    clearTimeout(timer);
  }
}
