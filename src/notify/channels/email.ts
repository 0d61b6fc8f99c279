/** Email over SMTP with nodemailer: subject, plain text and a simple HTML part. */
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { Transporter } from 'nodemailer';
import { z } from 'zod';
import { egressCheck, egressDenial, egressLookup } from '../../core/egress.js';
import { urlPassword } from '../../core/redact.js';
import { redact } from '../redact.js';
import { escapeHtml, render, truncate } from '../render.js';
import { SendError, type ChannelKind } from '../types.js';

const spec = z
  .object({
    to: z.array(z.string().email()).min(1),
    from: z.string().optional(),
    smtp: z.string().meta({ description: 'smtp://user:pass@host:port or smtps://… (empty: the channel reports every send as failed until set)' }),
  })
  .strict();

export type EmailSpec = z.output<typeof spec>;
type Spec = EmailSpec;

function smtpSecrets(smtp: string): string[] {
  const password = urlPassword(smtp);
  return password ? [password] : [];
}

function smtpLabel(smtp: string): string {
  try {
    const u = new URL(smtp);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid smtp URL)';
  }
}

/**
 * nodemailer's `getSocket` hook: open the TCP connection to the SMTP server ourselves, through the
 * egress policy (a literal IP is checked, a name resolved by the policy's lookup), and hand it over;
 * nodemailer then speaks SMTP on it (and starts TLS for smtps:// or STARTTLS, verifying the name).
 */
function egressSocket(options: { host?: string; port?: number | string; secure?: boolean }, callback: (err: Error | null, socketOptions: object) => void): void {
  const host = options.host || 'localhost';
  const port = Number(options.port) || (options.secure ? 465 : 587);
  const denied = egressCheck(host);
  if (denied) return void setImmediate(() => callback(Object.assign(new Error(denied), { code: 'EEGRESS' }), {}));
  let done = false;
  const socket: Socket = connect({ host, port, lookup: egressLookup });
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connection timed out (${host}:${port})`), { code: 'ETIMEDOUT' })), 10_000);
  socket.once('connect', () => {
    clearTimeout(timer);
    if (done) return;
    done = true;
    callback(null, { connection: socket }); // nodemailer adds its own error handler
  });
  socket.once('error', (e) => {
    clearTimeout(timer);
    if (done) return;
    done = true;
    socket.destroy();
    callback(e, {});
  });
}

/** A message for `smtpSend`: what the email channel sends for alerts, and what `notify.sendMail` sends for other modules. */
export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** extra headers (e.g. List-Unsubscribe, List-Unsubscribe-Post); values must be single lines */
  headers?: Record<string, string>;
}

/**
 * Send one message through an email channel's SMTP server (through the egress policy); rejects
 * with a SendError free of the SMTP password (`permanent` for 5xx answers and egress refusals).
 */
export async function smtpSend(spec: Spec, m: MailMessage, signal: AbortSignal): Promise<void> {
  if (!spec.smtp) throw new SendError('email: no SMTP server is set (notify.channels.<name>.email.smtp is empty)');
  const secrets = smtpSecrets(spec.smtp);
  let transport: Transporter;
  try {
    const { default: nodemailer } = await import('nodemailer'); // loaded on first email
    transport = nodemailer.createTransport({ url: spec.smtp, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000, getSocket: egressSocket } as never);
  } catch (e) {
    throw new SendError(redact(`email: invalid smtp setting: ${(e as Error).message}`, secrets), true);
  }
  const onAbort = () => transport.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([
      transport.sendMail({ from: spec.from ?? `Shipshape <shipshape@${hostname()}>`, to: m.to, subject: truncate(m.subject.replace(/[\r\n]+/g, ' '), 250), text: m.text, ...(m.html ? { html: m.html } : {}), ...(m.headers ? { headers: m.headers } : {}) }),
      new Promise((_r, reject) => {
        if (signal.aborted) reject(new Error('timed out'));
        signal.addEventListener('abort', () => reject(new Error('timed out')), { once: true });
      }),
    ]);
  } catch (e) {
    const denied = egressDenial(e);
    if (denied) throw new SendError(redact(`email ${smtpLabel(spec.smtp)}: ${denied.message}`, secrets), true);
    const err = e as Error & { responseCode?: number; code?: string };
    const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600 && err.code !== 'ECONNECTION';
    throw new SendError(redact(`email ${smtpLabel(spec.smtp)}: ${err.message}`, secrets), permanent);
  } finally {
    signal.removeEventListener('abort', onAbort);
    transport.close();
  }
}

export const email: ChannelKind<Spec> = {
  kind: 'email',
  spec,
  async send(n, ch, signal) {
    if (!ch.spec.smtp) throw new SendError('email: no SMTP server is set (notify.channels.<name>.email.smtp is empty)');
    const { title, text, view } = render(n, ch);
    const color = n.status === 'resolved' ? '#2eb67d' : '#e01e5a';
    const rows = [...view.firing, ...view.resolved]
      .map(
        (a) =>
          `<tr><td style="padding:4px 8px">${a.status === 'firing' ? '🔥' : '✅'}</td><td style="padding:4px 8px">${escapeHtml(a.severity)}</td><td style="padding:4px 8px"><b>${escapeHtml(a.summary || a.labels.alertname || a.fingerprint)}</b>${a.description ? `<br>${escapeHtml(a.description)}` : ''}</td><td style="padding:4px 8px">${escapeHtml(a.valueText)}</td></tr>`,
      )
      .join('');
    const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif">
<h2 style="color:${color}">${escapeHtml(title)}</h2>
${ch.template?.text || view.test ? `<pre style="font-family:inherit;white-space:pre-wrap">${escapeHtml(text)}</pre>` : `<table style="border-collapse:collapse">${rows}</table>`}
${n.externalURL ? `<p><a href="${escapeHtml(n.externalURL)}">Open Shipshape</a></p>` : ''}
</body></html>`;
    await smtpSend(ch.spec, { to: ch.spec.to, subject: title, text, html }, signal);
  },
  secrets: (s) => smtpSecrets(s.smtp),
  describe: (s) => `email to ${s.to.join(', ')} via ${s.smtp ? smtpLabel(s.smtp) : '(no SMTP server set)'}`,
};
