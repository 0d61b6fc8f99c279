/** The egress policy applied by notification channels: a refused destination fails the send with the reason (permanently). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeEgressAgent } from '../../src/core/egress-http.js';
import { setEgressPolicy } from '../../src/core/egress.js';
import { email } from '../../src/notify/channels/email.js';
import { webhook } from '../../src/notify/channels/webhook.js';
import { SendError, type ChannelKind, type ChannelTarget, type Notification } from '../../src/notify/types.js';
import { startReceiver, startSmtp, type Receiver, type SmtpReceiver } from '../notify/helpers.js';

const n: Notification = {
  receiver: 'ops',
  groupKey: '{}:{alertname="x"}',
  groupHash: 'abc',
  status: 'firing',
  groupLabels: { alertname: 'x' },
  commonLabels: { alertname: 'x' },
  commonAnnotations: {},
  externalURL: 'http://shipshape.example.com',
  alerts: [{ status: 'firing', labels: { alertname: 'x' }, annotations: {}, startsAt: '2025-03-01T12:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: 'f1', valueText: '1' }],
};

function target<S>(kind: ChannelKind<S>, spec: unknown): ChannelTarget<S> {
  return { name: 'ch', kind: kind.kind, spec: kind.spec.parse(spec) as S, sendResolved: true };
}

async function sendError<S>(kind: ChannelKind<S>, spec: unknown): Promise<SendError> {
  try {
    await kind.send(n, target(kind, spec), AbortSignal.timeout(5000));
  } catch (e) {
    expect(e).toBeInstanceOf(SendError);
    return e as SendError;
  }
  throw new Error('the send succeeded');
}

let rx: Receiver;
let smtp: SmtpReceiver;
beforeAll(async () => {
  rx = await startReceiver();
  smtp = await startSmtp();
});
afterEach(() => setEgressPolicy(undefined));
afterAll(async () => {
  await closeEgressAgent();
  await rx.close();
  await smtp.close();
});

describe('egress policy in the channels', () => {
  it('a webhook to the metadata address fails with the reason, permanently', async () => {
    const e = await sendError(webhook, { url: 'http://169.254.169.254/latest/meta-data/' });
    expect(e.message).toBe('webhook http://169.254.169.254/…: egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)');
    expect(e.permanent).toBe(true);
  });

  it('a webhook to a name that resolves to a denied address fails at connect time, and nothing is received', async () => {
    setEgressPolicy({ deny: ['link-local', 'metadata', 'loopback'] });
    const before = rx.requests.length;
    const e = await sendError(webhook, { url: `${rx.url.replace('127.0.0.1', 'localhost')}/hook` });
    expect(e.message).toMatch(/^webhook http:\/\/localhost:\d+\/…: egress denied: localhost \((127\.0\.0\.1|::1)\) is in (127\.0\.0\.0\/8|::1) \(egress\.deny\)$/);
    expect(rx.requests.length).toBe(before);
  });

  it('an allow list without loopback refuses a local webhook; the default policy delivers it', async () => {
    setEgressPolicy({ allow: ['10.0.0.0/8'] });
    const before = rx.requests.length;
    const e = await sendError(webhook, { url: `${rx.url}/hook` });
    expect(e.message).toMatch(/: egress denied: 127\.0\.0\.1 is not in egress\.allow$/);
    expect(rx.requests.length).toBe(before);
    setEgressPolicy(undefined);
    await webhook.send(n, target(webhook, { url: `${rx.url}/hook` }), AbortSignal.timeout(5000));
    expect(rx.requests.length).toBe(before + 1);
  });

  it('email: the SMTP server address is checked, literal or resolved', async () => {
    const e = await sendError(email, { to: ['ops@example.com'], smtp: 'smtp://169.254.169.254:25' });
    expect(e.message).toBe('email smtp://169.254.169.254:25: egress denied: 169.254.169.254 is in 169.254.0.0/16 (egress.deny)');
    expect(e.permanent).toBe(true);
    setEgressPolicy({ deny: ['loopback'] });
    const r = await sendError(email, { to: ['ops@example.com'], smtp: `smtp://localhost:${smtp.port}` });
    expect(r.message).toMatch(/egress denied: localhost \((127\.0\.0\.1|::1)\) is in (127\.0\.0\.0\/8|::1) \(egress\.deny\)$/);
    expect(smtp.mails.length).toBe(0);
    setEgressPolicy(undefined);
    await email.send(n, target(email, { to: ['ops@example.com'], smtp: `smtp://127.0.0.1:${smtp.port}` }), AbortSignal.timeout(5000));
    expect(smtp.mails.length).toBe(1);
  });
});
