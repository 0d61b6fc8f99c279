/**
 * The inbox on a PostgreSQL store: stored, deduplicated, forwarded, bodies (text and binary) read
 * back byte for byte, and old delivered deliveries pruned after their retention while pending ones stay.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhooks, type DeliveryBody, type DeliveryDetail } from '../../src/webhooks/index.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startApp, stripeEvent, stripeHeader, until, type App } from './helpers.js';

const SECRET = 'whsec_pg_test_0123456789abcdef';
const HMAC = 'pg-generic-secret-0123456789';

describe('webhook inbox on PostgreSQL', () => {
  let s: TestServer;
  let app: App;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await createTestDatabase('shipshape_wh');
    app = await startApp();
    s = await startTestServer(
      `webhooks:
  stripe:
    verify: { stripe: { secret: "${SECRET}" } }
    forward: "${app.url('/stripe')}"
    retention: 1s
  raw:
    verify: { hmac: { secret: "${HMAC}", header: X-Signature } }
    forward: "${app.url('/raw')}"
  parked:
    verify: { stripe: { secret: "${SECRET}" } }
    forward: "http://127.0.0.1:9/never"
    backoff: 1h
    retention: 1s
`,
      { databaseUrl: db.url },
    );
  });
  afterAll(async () => {
    await s?.close();
    await app?.close();
    await db?.drop();
  });

  const get = async <T>(path: string) => (await (await s.api(path)).json()) as T;

  it('stores, deduplicates, forwards and reads bodies back exactly', async () => {
    const body = stripeEvent('evt_pg_1');
    const send = () => fetch(`${s.url}/hooks/stripe`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, SECRET) } });
    const { id } = (await (await send()).json()) as { id: number };
    expect(await (await send()).json()).toEqual({ id, duplicate: true });
    await until('delivered', async () => (await get<DeliveryDetail>(`/api/v1/webhooks/deliveries/${id}`)).state === 'delivered');
    expect(app.seen.filter((x) => x.path === '/stripe').map((x) => x.body.toString())).toEqual([body]);
    expect(await get<DeliveryBody>(`/api/v1/webhooks/deliveries/${id}/body`)).toEqual({ id, content_type: 'application/json', encoding: 'utf8', body });

    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x10, 0x80, 0x41]);
    const r = await fetch(`${s.url}/hooks/raw`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-signature': createHmac('sha256', HMAC).update(bytes).digest('hex') } });
    expect(r.status).toBe(200);
    const raw = ((await r.json()) as { id: number }).id;
    const b = await get<DeliveryBody>(`/api/v1/webhooks/deliveries/${raw}/body`);
    expect(b.encoding).toBe('base64');
    expect(Buffer.from(b.body, 'base64').equals(bytes)).toBe(true);
    await until('raw forwarded', () => app.seen.some((x) => x.path === '/raw'));
    expect(app.seen.find((x) => x.path === '/raw')!.body.equals(bytes)).toBe(true);
  });

  it('prunes delivered deliveries after their retention and keeps pending ones', async () => {
    const body = stripeEvent('evt_pg_parked');
    const parked = ((await (await fetch(`${s.url}/hooks/parked`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, SECRET) } })).json()) as { id: number }).id;
    await until('parked attempted', async () => (await get<DeliveryDetail>(`/api/v1/webhooks/deliveries/${parked}`)).attempts === 1);
    await new Promise((r) => setTimeout(r, 1100));
    const removed = await s.use(webhooks).inbox.prune();
    expect(removed).toBe(1);
    const list = await get<{ items: { id: number; hook: string; state: string }[] }>('/api/v1/webhooks/deliveries');
    expect(list.items.map((d) => `${d.hook}:${d.state}`).sort()).toEqual(['parked:pending', 'raw:delivered']);
  });
});
