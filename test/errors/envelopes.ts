/** Building Sentry envelopes and events by hand, byte for byte, as SDKs put them on the wire. */
import { randomUUID } from 'node:crypto';

export type Item = [header: Record<string, unknown>, payload: string | Buffer];

/** An envelope: header line, then each item's header line and payload, newline-separated. */
export function envelope(header: Record<string, unknown>, items: Item[]): Buffer {
  const parts: Buffer[] = [Buffer.from(JSON.stringify(header))];
  for (const [h, p] of items) {
    parts.push(Buffer.from(`\n${JSON.stringify(h)}\n`));
    parts.push(typeof p === 'string' ? Buffer.from(p) : p);
  }
  return Buffer.concat(parts);
}

export const eventId = () => randomUUID().replace(/-/g, '');

export interface FrameSpec {
  fn: string;
  file?: string;
  module?: string;
  line?: number;
  inApp?: boolean;
}

/** A Sentry exception event; frames are listed outermost call first, like Sentry's. */
export function exceptionEvent(type: string, value: string, frames: FrameSpec[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: eventId(),
    timestamp: Date.now() / 1000,
    platform: 'node',
    level: 'error',
    exception: {
      values: [
        {
          type,
          value,
          stacktrace: {
            frames: frames.map((f) => ({ function: f.fn, filename: f.file ?? '/app/src/app.js', module: f.module, lineno: f.line ?? 10, colno: 5, in_app: f.inApp ?? true })),
          },
        },
      ],
    },
    ...extra,
  };
}

export function messageEvent(message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { event_id: eventId(), timestamp: new Date().toISOString(), level: 'warning', message: { formatted: message }, ...extra };
}
