/**
 * Tokens and sessions at the HTTP layer (issue 7): an open event stream ends when its token is
 * revoked (at once through the API, within the re-check period when revoked elsewhere), and the
 * session cookie is Secure when the request came over HTTPS through a trusted proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS_ADMIN, startHarness, type Harness } from '../server/harness.js';

const yaml = `services:
  web:
    checks:
      - heartbeat: { token: nightly, period: 24h }
`;

async function createToken(h: Harness, name: string): Promise<{ id: string; token: string }> {
  const res = await fetch(`${h.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${HARNESS_ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes: ['read'] }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

/** Open the stream and keep reading it in the background; `ended()` turns true when the server ends it. */
async function openStream(h: Harness, init: RequestInit): Promise<{ ended: () => boolean; text: () => string; cancel: () => Promise<void> }> {
  const res = await fetch(`${h.url}/api/v1/events/stream`, init);
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let ended = false;
  let text = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      /* aborted */
    }
    ended = true;
  })();
  return { ended: () => ended, text: () => text, cancel: () => reader.cancel().catch(() => undefined) };
}

describe('revoked tokens and open streams', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(yaml, { server: { limits: { streamRecheckMs: 200 } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('ends an open event stream when its token is revoked through the API', async () => {
    const { id, token } = await createToken(h, 'streamer');
    const s = await openStream(h, { headers: { authorization: `Bearer ${token}` } });
    const other = await openStream(h, { headers: { authorization: `Bearer ${HARNESS_ADMIN}` } });
    const res = await fetch(`${h.url}/api/v1/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${HARNESS_ADMIN}` } });
    expect(res.status).toBe(200);
    await expect.poll(() => s.ended(), { timeout: 10_000 }).toBe(true);
    // streams of other tokens stay open
    await h.events.append({ type: 'test.after', actor: 'test', subject: 'test:1', data: {} });
    await expect.poll(() => other.text(), { timeout: 10_000 }).toContain('event: test.after');
    expect(other.ended()).toBe(false);
    await other.cancel();
  });

  it('ends a stream opened with the session cookie when its token is revoked elsewhere (re-checked periodically)', async () => {
    const { id, token } = await createToken(h, 'cookie-streamer');
    const s = await openStream(h, { headers: { cookie: `shipshape_session=${token}` } });
    // another process (the CLI) revokes it in the store: no event reaches this server's event log listeners
    await h.store.db.updateTable('tokens').set({ revoked_at: Date.now() }).where('id', '=', id).execute();
    h.tokens.refresh();
    await expect.poll(() => s.ended(), { timeout: 10_000 }).toBe(true);
  });
});

describe('the session cookie behind TLS', () => {
  let h: Harness;
  let strict: Harness;
  beforeAll(async () => {
    h = await startHarness(yaml);
    strict = await startHarness(yaml, { server: { trustedProxies: false } });
  });
  afterAll(async () => {
    await h.close();
    await strict.close();
  });

  const login = (s: Harness, headers: Record<string, string> = {}) =>
    fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token: HARNESS_ADMIN }) });

  it('is Secure when a trusted (loopback) proxy says the request came over HTTPS', async () => {
    const res = await login(h, { 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
  });

  it('is not Secure over plain HTTP, nor when the proxy is not trusted', async () => {
    const plain = await login(h);
    expect(plain.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
    const untrusted = await login(strict, { 'x-forwarded-proto': 'https' });
    expect(untrusted.status).toBe(200);
    expect(untrusted.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
  });
});
