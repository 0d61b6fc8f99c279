/**
 * The webhook inbox end to end: a real Shipshape on loopback receives deliveries signed by the
 * real signers (the `stripe` package, `standardwebhooks`, `@octokit/webhooks-methods`), stores
 * them and forwards them to a real app server on loopback, which verifies them itself.
 */
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetry } from '../../src/telemetry/index.js';
import type { DeliveryDetail, DeliverySummary, HookInfo, RejectionInfo } from '../../src/webhooks/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startApp, stripe, stripeEvent, stripeHeader, until, type App } from './helpers.js';

const SECRET = 'whsec_test_primary_0123456789abcdef';
const NEW = 'whsec_rotation_new_0123456789abcdef';
const OLD = 'whsec_rotation_old_0123456789abcdef';
const GH = 'github-hook-secret-0123456789';
const SVIX = `whsec_${Buffer.from('svix-secret-key-0123456789abcdef').toString('base64')}`;
const HMAC = 'generic-hmac-secret-0123456789';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('webhook inbox', () => {
  let s: TestServer;
  let app: App;
  let downPort: number;
  let late: App | undefined;

  beforeAll(async () => {
    app = await startApp();
    downPort = await freePort();
    process.env.STRIPE_WEBHOOK_SECRET = SECRET;
    process.env.GITHUB_WEBHOOK_SECRET = GH;
    process.env.WH_NEW = NEW;
    process.env.WH_OLD = OLD;
    s = await startTestServer(`services:
  payments: {}
alerting: { evaluate_every: 200ms }
alerts:
  - name: slow-webhook-failures
    when: metric(shipshape_webhook_failed_total{hook="slow"}) > 0
    severity: P2
    summary: "webhook deliveries to the slow app failed"
webhooks:
  stripe:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}", tolerance: 5m } }
    forward: "${app.url('/api/webhooks/stripe')}"
    service: payments
  github:
    verify: { github: { secret: "\${GITHUB_WEBHOOK_SECRET}" } }
    forward: "${app.url('/api/webhooks/github')}"
  rotated:
    verify: { stripe: { secret: ["\${WH_NEW}", "\${WH_OLD}"] } }
    forward: "${app.url('/api/webhooks/rotated')}"
  svix:
    verify: { svix: { secret: "${SVIX}" } }
    forward: "${app.url('/api/webhooks/svix')}"
  generic:
    verify: { hmac: { secret: "${HMAC}", header: X-Signature, algorithm: sha256, encoding: base64, prefix: "sha256=" } }
    forward: "${app.url('/api/webhooks/generic')}"
    headers: [X-Request-Origin]
  small:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "${app.url('/api/webhooks/small')}"
    max_body: 2KB
  slow:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "${app.url('/slow')}"
    timeout: 300ms
    retries: 2
    backoff: 50ms
  loop:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "${app.url('/loop')}"
    retries: 1
    backoff: 50ms
  later:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "http://127.0.0.1:${downPort}/api/webhooks/later"
    retries: 8
    backoff: 200ms
  flaky:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "${app.url('/flaky')}"
    retries: 0
`);
    app.modes.set('/slow', 'hang');
    app.modes.set('/loop', 'redirect');
  });
  afterAll(async () => {
    await s?.close();
    await app?.close();
    await late?.close();
  });

  const post = (hook: string, body: string | Buffer, headers: Record<string, string>) => fetch(`${s.url}/hooks/${hook}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const postStripe = (hook: string, body: string, secret = SECRET, timestamp?: number) => post(hook, body, { 'stripe-signature': stripeHeader(body, secret, timestamp) });
  const delivery = async (id: number) => (await (await s.api(`/api/v1/webhooks/deliveries/${id}`)).json()) as DeliveryDetail;
  const settled = (id: number, state = 'delivered') => until(`delivery ${id} ${state}`, async () => ((await delivery(id)).state === state ? delivery(id) : undefined));

  it('stores a Stripe-signed delivery, answers 200 { id }, and forwards it with its signature so the app can verify it', async () => {
    const body = stripeEvent('evt_ok_1');
    const r = await postStripe('stripe', body);
    expect(r.status).toBe(200);
    const { id } = (await r.json()) as { id: number };
    expect(id).toBeGreaterThan(0);
    const d = await settled(id);
    expect(d).toMatchObject({ hook: 'stripe', service: 'payments', event_type: 'payment_intent.succeeded', sender_id: 'evt_ok_1', attempts: 1, last_status: 200 });
    expect(d.attempt_log).toHaveLength(1);
    expect(d.attempt_log[0]).toMatchObject({ attempt: 1, status: 200, error: null, response: '{"received":true}', trigger: 'auto' });
    const seen = app.seen.filter((x) => x.path === '/api/webhooks/stripe');
    expect(seen).toHaveLength(1);
    const got = seen[0]!;
    expect(got.body.toString()).toBe(body);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-shipshape-webhook-id']).toBe(String(id));
    expect(got.headers['x-shipshape-attempt']).toBe('1');
    // the app verifies the forwarded delivery with Stripe's own library
    const event = stripe.webhooks.constructEvent(got.body, String(got.headers['stripe-signature']), SECRET);
    expect(event.id).toBe('evt_ok_1');
  });

  it('stores a duplicate (same Stripe event id) once and answers 200 with the first id', async () => {
    const body = stripeEvent('evt_dup_1');
    const a = (await (await postStripe('stripe', body)).json()) as { id: number };
    const second = await postStripe('stripe', body);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ id: a.id, duplicate: true });
    await settled(a.id);
    const list = (await (await s.api('/api/v1/webhooks/deliveries?hook=stripe&limit=500')).json()) as { items: DeliverySummary[] };
    expect(list.items.filter((d) => d.sender_id === 'evt_dup_1')).toHaveLength(1);
    expect(app.seen.filter((x) => x.body.toString().includes('evt_dup_1'))).toHaveLength(1);
    // a burst of the same event arriving at once (committed together): still one row
    const burst = stripeEvent('evt_dup_burst');
    const answers = (await Promise.all(Array.from({ length: 10 }, async () => (await postStripe('stripe', burst)).json()))) as { id: number; duplicate?: boolean }[];
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    await settled(answers[0]!.id);
    expect(app.seen.filter((x) => x.body.toString().includes('evt_dup_burst'))).toHaveLength(1);
  });

  it('accepts any of two secrets during a rotation, and a header carrying several v1 signatures', async () => {
    const oldBody = stripeEvent('evt_rot_old');
    const r1 = await postStripe('rotated', oldBody, OLD);
    expect(r1.status).toBe(200);
    const newBody = stripeEvent('evt_rot_new');
    const r2 = await postStripe('rotated', newBody, NEW);
    expect(r2.status).toBe(200);
    // Stripe sends one v1 per active secret: one made with an unknown secret plus one with the old secret
    const both = stripeEvent('evt_rot_both');
    const t = Math.floor(Date.now() / 1000);
    const unknown = stripeHeader(both, 'whsec_someone_else_entirely_012345', t);
    const viaOld = stripeHeader(both, OLD, t);
    const header = `${unknown},v1=${/v1=([0-9a-f]+)/.exec(viaOld)![1]}`;
    const r3 = await post('rotated', both, { 'stripe-signature': header });
    expect(r3.status).toBe(200);
    // a secret that is neither
    const r4 = await postStripe('rotated', stripeEvent('evt_rot_bad'), 'whsec_someone_else_entirely_012345');
    expect(r4.status).toBe(400);
  });

  it('refuses a bad signature with 400 problem+json (no secret in it), stores nothing and records the rejection', async () => {
    const body = stripeEvent('evt_forged');
    const r = await postStripe('stripe', body, 'whsec_attacker_guess_0123456789abc');
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const p = (await r.json()) as { detail: string };
    expect(p.detail).toBe('webhook signature verification failed: No signatures found matching the expected signature for payload. Are you passing the raw request body you received from Stripe?');
    expect(JSON.stringify(p)).not.toContain(SECRET);
    // a tampered body with a valid header for the original
    const tampered = await post('stripe', body.replace('4200', '1'), { 'stripe-signature': stripeHeader(body, SECRET) });
    expect(tampered.status).toBe(400);
    const missing = await post('stripe', body, {});
    expect(((await missing.json()) as { detail: string }).detail).toMatch(/No stripe-signature header value was provided/);
    const list = (await (await s.api('/api/v1/webhooks/deliveries?hook=stripe&limit=500')).json()) as { items: DeliverySummary[] };
    expect(list.items.some((d) => d.sender_id === 'evt_forged')).toBe(false);
    const rej = (await (await s.api('/api/v1/webhooks/rejections?hook=stripe')).json()) as { items: RejectionInfo[] };
    expect(rej.items.length).toBeGreaterThanOrEqual(3);
    expect(rej.items[0]).toMatchObject({ hook: 'stripe', code: 'missing_header', remote: '127.0.0.1' });
    expect(rej.items.map((x) => x.code)).toContain('bad_signature');
    const hooks = (await (await s.api('/api/v1/webhooks')).json()) as { items: HookInfo[] };
    expect(hooks.items.find((h) => h.name === 'stripe')?.rejected).toBeGreaterThanOrEqual(3);
    // one aggregated event, never a secret or a body
    const events = (await (await s.api('/api/v1/events?type=webhook.rejected')).json()) as { items: { subject: string; data: Record<string, unknown> }[] };
    const ev = events.items.find((e) => e.subject === 'webhook:stripe');
    expect(ev?.data).toMatchObject({ hook: 'stripe', service: 'payments', count: 1 });
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain('evt_forged');
  });

  it('refuses a replayed delivery whose signed timestamp is older than the tolerance', async () => {
    const body = stripeEvent('evt_replayed');
    const old = Math.floor(Date.now() / 1000) - 10 * 60;
    const r = await postStripe('stripe', body, SECRET, old);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { detail: string }).detail).toBe('webhook signature verification failed: Timestamp outside the tolerance zone');
  });

  it('answers 413 to a body over max_body without storing it, declared or streamed', async () => {
    const big = stripeEvent('evt_big').replace('"eur"', `"${'e'.repeat(100_000)}"`);
    const r = await postStripe('small', big);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/larger than webhooks\.small\.max_body \(2048 bytes\)/);
    // chunked, no Content-Length: cut off once past the limit
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${s.url}/hooks/small`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'stripe-signature': stripeHeader(big, SECRET) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(big.slice(0, 1000));
      setTimeout(() => req.end(big.slice(1000)), 50);
    });
    expect(status).toBe(413);
    const list = (await (await s.api('/api/v1/webhooks/deliveries?hook=small')).json()) as { items: DeliverySummary[] };
    expect(list.items).toHaveLength(0);
    // within the limit it is fine, and the default limit is 1 MB (not the API's 64 KB)
    expect((await postStripe('small', stripeEvent('evt_small'))).status).toBe(200);
    const large = stripeEvent('evt_large').replace('"eur"', `"${'e'.repeat(600_000)}"`);
    const ok = await postStripe('stripe', large);
    expect(ok.status).toBe(200);
    const { id } = (await ok.json()) as { id: number };
    expect((await delivery(id)).body_size).toBe(Buffer.byteLength(large));
    await settled(id);
  });

  it('answers 404 for an unknown hook', async () => {
    const r = await postStripe('nope', stripeEvent('evt_x'));
    expect(r.status).toBe(404);
    expect(((await r.json()) as { detail: string }).detail).toBe('no webhook "nope"');
  });

  it('verifies GitHub (X-Hub-Signature-256) deliveries and detects duplicates by X-GitHub-Delivery', async () => {
    const body = JSON.stringify({ action: 'opened', number: 7, repository: { full_name: 'acme/web' } });
    const headers = { 'x-hub-signature-256': await githubSign(GH, body), 'x-github-event': 'pull_request', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
    const r = await post('github', body, headers);
    expect(r.status).toBe(200);
    const { id } = (await r.json()) as { id: number };
    expect(await (await post('github', body, headers)).json()).toEqual({ id, duplicate: true });
    const d = await settled(id);
    expect(d).toMatchObject({ event_type: 'pull_request', sender_id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    const got = app.seen.find((x) => x.path === '/api/webhooks/github')!;
    expect(got.headers['x-hub-signature-256']).toBe(headers['x-hub-signature-256']);
    expect(got.headers['x-github-event']).toBe('pull_request');
    const bad = await post('github', body, { ...headers, 'x-hub-signature-256': await githubSign('wrong-secret-0123456789', body), 'x-github-delivery': 'other' });
    expect(bad.status).toBe(400);
  });

  it('verifies Svix / Standard Webhooks deliveries (webhook-* and svix-* headers) and refuses an old timestamp', async () => {
    const wh = new Webhook(SVIX);
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_1' } });
    const at = new Date();
    const sig = wh.sign('msg_2QAz1', at, body);
    const ts = String(Math.floor(at.getTime() / 1000));
    const r = await post('svix', body, { 'webhook-id': 'msg_2QAz1', 'webhook-timestamp': ts, 'webhook-signature': `v1,bm90IHRoaXMgb25l ${sig}` });
    expect(r.status).toBe(200);
    const { id } = (await r.json()) as { id: number };
    const d = await settled(id);
    expect(d).toMatchObject({ event_type: 'invoice.paid', sender_id: 'msg_2QAz1' });
    // the app verifies the forwarded delivery with the same library
    const got = app.seen.find((x) => x.path === '/api/webhooks/svix')!;
    expect(wh.verify(got.body.toString(), got.headers as Record<string, string>)).toEqual(JSON.parse(body));
    // svix-* names (Svix's own SDKs)
    const body2 = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_2' } });
    const r2 = await post('svix', body2, { 'svix-id': 'msg_2', 'svix-timestamp': ts, 'svix-signature': wh.sign('msg_2', at, body2) });
    expect(r2.status).toBe(200);
    const old = new Date(Date.now() - 10 * 60_000);
    const r3 = await post('svix', body2, { 'webhook-id': 'msg_3', 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': wh.sign('msg_3', old, body2) });
    expect(r3.status).toBe(400);
    expect(((await r3.json()) as { detail: string }).detail).toMatch(/Message timestamp too old/);
  });

  it('verifies a generic HMAC header and forwards the extra headers it keeps', async () => {
    const { createHmac } = await import('node:crypto');
    const body = 'plain=text&amount=12';
    const sig = `sha256=${createHmac('sha256', HMAC).update(body).digest('base64')}`;
    const r = await post('generic', body, { 'content-type': 'application/x-www-form-urlencoded', 'x-signature': sig, 'x-request-origin': 'acme' });
    expect(r.status).toBe(200);
    await settled(((await r.json()) as { id: number }).id);
    const got = app.seen.find((x) => x.path === '/api/webhooks/generic')!;
    expect(got.body.toString()).toBe(body);
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(got.headers['x-request-origin']).toBe('acme');
    expect((await post('generic', body, { 'x-signature': 'sha256=AAAA' })).status).toBe(400);
  });

  it('times out a target that hangs, retries with backoff, then marks the delivery failed with webhook.failed', async () => {
    const r = await postStripe('slow', stripeEvent('evt_slow'));
    const { id } = (await r.json()) as { id: number };
    const d = await settled(id, 'failed');
    expect(d.attempts).toBe(3);
    expect(d.attempt_log.map((a) => a.error)).toEqual(['timed out after 300ms', 'timed out after 300ms', 'timed out after 300ms']);
    expect(d.attempt_log.every((a) => a.status === null)).toBe(true);
    expect(app.seen.filter((x) => x.path === '/slow').map((x) => x.headers['x-shipshape-attempt'])).toEqual(['1', '2', '3']);
    const events = (await (await s.api('/api/v1/events?type=webhook.failed')).json()) as { items: { subject: string; actor: string; data: Record<string, unknown> }[] };
    const ev = events.items.find((e) => e.subject === `webhook:slow/${id}`);
    expect(ev).toMatchObject({ actor: 'system', data: { hook: 'slow', id, attempts: 3, service: 'slow', last_error: 'timed out after 300ms' } });
    expect(JSON.stringify(ev)).not.toContain('evt_slow');
  });

  it('treats a redirect as a failure and never follows it (a redirect loop cannot hang it)', async () => {
    const { id } = (await (await postStripe('loop', stripeEvent('evt_loop'))).json()) as { id: number };
    const d = await settled(id, 'failed');
    expect(d.attempts).toBe(2);
    expect(d.attempt_log[0]).toMatchObject({ status: 302, error: 'redirect 302 to /loop (redirects are not followed)' });
    // one request per attempt: nothing followed the Location header
    expect(app.seen.filter((x) => x.path === '/loop')).toHaveLength(2);
  });

  it('retries while the app is down and delivers once it is up', async () => {
    const { id } = (await (await postStripe('later', stripeEvent('evt_later'))).json()) as { id: number };
    await until('a failed attempt', async () => (await delivery(id)).attempt_log.length >= 1);
    const first = (await delivery(id)).attempt_log[0]!;
    expect(first.error).toMatch(/ECONNREFUSED/);
    late = await startApp(downPort);
    const d = await settled(id);
    expect(d.attempts).toBeGreaterThanOrEqual(2);
    expect(d.attempt_log.at(-1)).toMatchObject({ status: 200, error: null });
    expect(late.seen).toHaveLength(1);
    expect(late.seen[0]!.headers['x-shipshape-attempt']).toBe(String(d.attempts));
  });

  it('caps the response snippet kept per attempt at 1 KB and replays a failed delivery once the app is fixed', async () => {
    app.modes.set('/flaky', 'error');
    const { id } = (await (await postStripe('flaky', stripeEvent('evt_flaky'))).json()) as { id: number };
    const d = await settled(id, 'failed');
    expect(d.attempt_log[0]!.status).toBe(500);
    expect(d.attempt_log[0]!.response!.length).toBe(1024);
    app.modes.set('/flaky', 'ok');
    const r = await s.api(`/api/v1/webhooks/deliveries/${id}/replay`, { method: 'POST' });
    expect(await r.json()).toEqual({ ids: [id] });
    const again = await settled(id);
    expect(again.attempts).toBe(2);
    expect(again.attempt_log.map((a) => a.trigger)).toEqual(['auto', expect.stringMatching(/^token:/)]);
    const events = (await (await s.api('/api/v1/events?type=webhook.replayed')).json()) as { items: { actor: string; subject: string }[] };
    expect(events.items.find((e) => e.subject === `webhook:flaky/${id}`)?.actor).toMatch(/^token:/);
  });

  it('pushes the shipshape_webhook_* metrics to telemetry, where an alert rule on them fires', async () => {
    const q = s.use(telemetry).query;
    const failed = await until('failed counter', async () => {
      const v = await q.metric('shipshape_webhook_failed_total', { hook: 'slow' }, 5 * 60_000, 'slow');
      return v.value !== null && v.value > 0 ? v : undefined;
    });
    expect(failed.value).toBeGreaterThan(0);
    const rejected = await q.metric('shipshape_webhook_rejected_total', { hook: 'stripe' }, 5 * 60_000, 'payments');
    expect(rejected.value).toBeGreaterThan(0);
    const alert = await until('the alert firing', async () => {
      const list = (await (await s.api('/api/v1/alerts?state=firing')).json()) as { items: { rule?: string; labels: Record<string, string> }[] };
      return list.items.find((a) => a.labels.alertname === 'slow-webhook-failures' || a.rule === 'slow-webhook-failures');
    });
    expect(alert).toBeTruthy();
  });

  it('keeps read scope from bodies and replays: body is admin, replay is write', async () => {
    const create = async (scopes: string[]) => ((await (await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: `wh-${scopes.join('-')}`, scopes }) })).json()) as { token: string }).token;
    const reader = await create(['read']);
    const list = (await (await s.api('/api/v1/webhooks/deliveries?hook=stripe', { token: reader })).json()) as { items: DeliverySummary[] };
    const id = list.items[0]!.id;
    expect((await s.api(`/api/v1/webhooks/deliveries/${id}`, { token: reader })).status).toBe(200);
    expect((await s.api(`/api/v1/webhooks/deliveries/${id}/body`, { token: reader })).status).toBe(403);
    expect((await s.api(`/api/v1/webhooks/deliveries/${id}/replay`, { method: 'POST', token: reader })).status).toBe(403);
    expect((await s.api(`/api/v1/webhooks/deliveries/${id}/body`, { token: null })).status).toBe(401);
    const body = (await (await s.api(`/api/v1/webhooks/deliveries/${id}/body`)).json()) as { encoding: string; body: string };
    expect(body.encoding).toBe('utf8');
    expect(JSON.parse(body.body)).toHaveProperty('object', 'event');
    // the hook list never shows a secret
    const hooks = await (await s.api('/api/v1/webhooks', { token: reader })).text();
    for (const secret of [SECRET, NEW, OLD, GH, SVIX, HMAC]) expect(hooks).not.toContain(secret);
  });
});
