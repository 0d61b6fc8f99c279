import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from '../../src/core/api-types.js';
import type { ServiceSummary } from '../../src/checks/api-types.js';
import { startTarget, type Target } from '../helpers/target.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

const yaml = (t: Target, extra = '') => `services:
  web:
    checks:
      - name: api-health
        http: { url: "${t.url}/api/health", every: 1h, timeout: 1s }
        conditions: ["status == 200", 'body.status == "healthy"']
        down_after: 1
  cache:
    checks:
      - redis: { url: "redis://127.0.0.1:6379", every: 1h }
  backups:
    checks:
      - heartbeat: { token: nightly-backup, period: 24h, grace: 2h }
${extra}`;

describe('HTTP API', () => {
  let t: Target;
  let s: TestServer;
  let readToken: string;

  beforeAll(async () => {
    t = await startTarget();
    s = await startTestServer(yaml(t));
    await s.monitor.runNow();
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'grafana', scopes: ['read'] }) });
    expect(res.status).toBe(201);
    readToken = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await s.close();
    await t.close();
  });

  it('GET /health answers for Shipshape itself', async () => {
    const res = await fetch(`${s.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('/api/health is healthy (200) with per-service checks, and 503 with the reason when a service is down', async () => {
    let res = await fetch(`${s.url}/api/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'healthy', checks: { web: { status: 'healthy', message: 'ok' }, cache: { status: 'healthy' } }, version: expect.any(String) });
    expect(typeof (body.checks as Record<string, { latencyMs: number }>).web?.latencyMs).toBe('number');
    expect(Date.parse(body.timestamp as string)).not.toBeNaN();

    t.set({ status: 500, body: { status: 'down' } });
    await s.monitor.runNow(['web']);
    res = await fetch(`${s.url}/api/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'degraded', checks: { web: { status: 'down', message: expect.stringMatching(/api-health: .*status = 500/) } } });
    res = await fetch(`${s.url}/api/health/web`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'down', checks: { 'api-health': { status: 'down' } } });
    res = await fetch(`${s.url}/api/health/cache`);
    expect(res.status).toBe(200);

    t.set({ status: 200, body: { status: 'healthy' } });
    await s.monitor.runNow(['web']);
    expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
  });

  it('unknown services and routes are problem+json 404s', async () => {
    const res = await fetch(`${s.url}/api/health/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 404, title: 'Not Found', detail: 'no service named "nope"' });
    const r2 = await s.api('/api/v1/nothing-here');
    expect(r2.status).toBe(404);
    expect(r2.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('every private route refuses requests without a token (401 problem+json with WWW-Authenticate)', async () => {
    const routes = s.server.shipshapeRoutes.filter((r) => r.scope !== 'public');
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      const url = r.url.replace(/:(\w+)/g, 'web');
      const res = await fetch(`${s.url}${url}`, { method: r.method, headers: r.method === 'GET' ? {} : { 'content-type': 'application/json' }, body: r.method === 'GET' ? undefined : '{}' });
      expect(res.status, `${r.method} ${r.url}`).toBe(401);
      expect(res.headers.get('www-authenticate'), `${r.method} ${r.url}`).toMatch(/^Bearer/);
      await res.body?.cancel();
    }
    const publicRoutes = s.server.shipshapeRoutes.filter((r) => r.scope === 'public').map((r) => r.url);
    // the only public API routes: sign-in, heartbeat pings and ingest (which checks an ingest token itself), signed on-call links and calendar feeds
    expect([...new Set(publicRoutes.filter((u) => u.startsWith('/api/v1')))].sort()).toEqual(['/api/v1/alerts/webhook', '/api/v1/auth/login', '/api/v1/auth/logout', '/api/v1/heartbeat/:token', '/api/v1/heartbeat/:token/:secret', '/api/v1/ingest', '/api/v1/oncall/ack/:token', '/api/v1/oncall/calendar/:file']);
  });

  it('scopes: a read token reads but cannot run checks or manage tokens; revoked tokens stop working', async () => {
    expect((await s.api('/api/v1/services', { token: readToken })).status).toBe(200);
    const run = await s.api('/api/v1/services/web/run', { method: 'POST', token: readToken });
    expect(run.status).toBe(403);
    expect(await run.json()).toMatchObject({ detail: expect.stringMatching(/needs the "write" scope/) });
    expect((await s.api('/api/v1/tokens', { token: readToken })).status).toBe(403);
    expect((await s.api('/api/v1/services', { token: 'ss_wrong' })).status).toBe(401);

    const made = (await (await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'temp', scopes: ['write'] }) })).json()) as { id: string; token: string };
    expect((await s.api('/api/v1/services/web/run', { method: 'POST', token: made.token })).status).toBe(200);
    const list = await (await s.api('/api/v1/tokens')).text();
    expect(list).toContain('"temp"');
    expect(list).not.toContain(made.token);
    expect(list).not.toContain(ADMIN);
    expect((await s.api(`/api/v1/tokens/${made.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await s.api('/api/v1/services', { token: made.token })).status).toBe(401);
  });

  it('lists services with checks, condition outcomes, uptime and 90-day bars, paginated by cursor', async () => {
    const res = await s.api('/api/v1/services?include=days,sparkline&limit=2');
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page<ServiceSummary>;
    expect(page.items.map((x) => x.name)).toEqual(['web', 'cache']);
    const web = page.items[0]!;
    expect(web.checks[0]).toMatchObject({ id: 'web/api-health', kind: 'http', target: `GET ${t.url}/api/health`, state: 'up' });
    expect(web.checks[0]!.last?.conditions).toEqual([
      { condition: 'status == 200', ok: true, actual: 'status = 200' },
      { condition: 'body.status == "healthy"', ok: true, actual: 'body.status = "healthy"' },
    ]);
    expect(web.days).toHaveLength(90);
    expect(web.sparkline).toHaveLength(60);
    expect(web.uptime['24h']).toBeGreaterThan(0);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next = (await (await s.api(`/api/v1/services?cursor=${page.next_cursor}`)).json()) as { items: Array<{ name: string }>; next_cursor: string | null };
    expect(next.items.map((x) => x.name)).toEqual(['backups']);
    expect(next.next_cursor).toBeNull();
  });

  it('bad query input is a 400 problem naming the parameter', async () => {
    let res = await s.api('/api/v1/services?limit=100000');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 400, errors: [{ path: 'query.limit' }] });
    res = await s.api('/api/v1/services?cursor=garbage!!');
    expect(res.status).toBe(400);
    res = await s.api('/api/v1/services?colour=red');
    expect(await res.json()).toMatchObject({ detail: expect.stringMatching(/colour/) });
  });

  it('oversized bodies are refused with 413', async () => {
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'x'.repeat(100_000), scopes: ['read'] }) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('a malformed JSON body is a 400 that does not quote the body (it may hold a secret)', async () => {
    const res = await s.api('/api/v1/tokens', { method: 'POST', body: '{"name": "ci", "note": sk_live_51Hx9QpLkzZ8dT0pSecretValue}' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ status: 400, detail: expect.stringMatching(/^the request body is not valid JSON/) });
    expect(text).not.toContain('sk_live');
    expect(text).not.toContain('SecretValue');
  });

  it('state changes, failures and aggregates of a check', async () => {
    t.set({ status: 502, body: 'bad gateway' });
    await s.monitor.runNow(['web']);
    t.set({ status: 200, body: { status: 'healthy' } });
    await s.monitor.runNow(['web']);
    await s.monitor.flush();
    const changes = (await (await s.api('/api/v1/services/web/state-changes?limit=10')).json()) as { items: Array<{ from: string; to: string; check: string | null }> };
    expect(changes.items.some((c) => c.check === 'web/api-health' && c.to === 'down')).toBe(true);
    expect(changes.items.some((c) => c.check === null && c.to === 'down')).toBe(true);
    const failures = (await (await s.api('/api/v1/services/web/checks/api-health/failures')).json()) as { items: Array<{ message: string }> };
    expect(failures.items[0]?.message).toMatch(/status == 200 \(status = 502\)/);
    const agg = await s.api('/api/v1/services/web/checks/api-health/aggregates?resolution=minute');
    expect(agg.status).toBe(200);
    expect((await s.api('/api/v1/services/web/checks/nope/failures')).status).toBe(404);
    const all = (await (await s.api('/api/v1/state-changes?limit=500')).json()) as { items: unknown[] };
    expect(all.items.length).toBeGreaterThanOrEqual(changes.items.length);
  });

  it('heartbeat push URL: known tokens ping (no auth), unknown ones 404', async () => {
    const list = (await (await s.api('/api/v1/heartbeats')).json()) as { items: { name: string; path: string }[] };
    const path = list.items.find((h) => h.name === 'nightly-backup')?.path;
    expect(path).toBeDefined();
    const res = await fetch(`${s.url}${path}`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/heartbeat/nightly-backup`, { method: 'POST' })).status).toBe(404);
    const check = (await (await s.api('/api/v1/services/backups/checks/heartbeat')).json()) as { state: string; last: { ok: boolean } };
    expect(check).toMatchObject({ state: 'up', last: { ok: true } });
    expect((await fetch(`${s.url}/api/v1/heartbeat/not-a-token`, { method: 'POST' })).status).toBe(404);
  });

  it('streams live events over SSE', async () => {
    const ac = new AbortController();
    const res = await fetch(`${s.url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${readToken}` }, signal: ac.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const got = (async () => {
      while (!text.includes('event: check.state')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value);
      }
    })();
    t.set({ status: 500 });
    await s.monitor.runNow(['web']);
    await got;
    ac.abort();
    expect(text).toMatch(/event: check\.result\ndata: \{"check":"web\/api-health"/);
    expect(text).toMatch(/event: check\.state\ndata: .*"to":"down"/);
    t.set({ status: 200, body: { status: 'healthy' } });
    await s.monitor.runNow(['web']);
  });

  it('serves Prometheus metrics behind a token', async () => {
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    const res = await s.api('/metrics', { token: readToken });
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/shipshape_check_duration_seconds_bucket\{le="[\d.]+",kind="http"\} \d+/);
    expect(text).toMatch(/shipshape_check_results_total\{kind="http",result="failure"\} [1-9]/);
    expect(text).toContain('shipshape_scheduler_lag_seconds');
    expect(text).toMatch(/shipshape_check_up\{service="web",check="api-health"\} 1/);
  });

  it('the dashboard is served at / and for its own routes', async () => {
    for (const path of ['/', '/services/web']) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).toMatch(/<div id="root">/);
    }
  });

  it('sign-in sets an HttpOnly cookie that authenticates, sign-out clears it', async () => {
    const bad = await fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) });
    expect(bad.status).toBe(401);
    const res = await fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: readToken }) });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const me = await fetch(`${s.url}/api/v1/auth/me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(await me.json()).toEqual({ token: 'grafana', scopes: ['read'] });
  });

  it('hot reload: a valid edit applies; a broken edit keeps the last good config running', async () => {
    writeFileSync(s.configPath, yaml(t, `  extra:\n    checks:\n      - tcp: { host: 127.0.0.1, port: ${t.port}, every: 1h }\n`));
    await expect.poll(async () => ((await (await s.api('/api/v1/services?limit=10')).json()) as { items: Array<{ name: string }> }).items.map((x) => x.name), { timeout: 5000 }).toContain('extra');
    writeFileSync(s.configPath, 'services:\n  web:\n    checks:\n      - http: { url: 42 }\n');
    await expect.poll(async () => ((await (await s.api('/api/v1/events?type=config.rejected')).json()) as { items: unknown[] }).items.length, { timeout: 5000 }).toBeGreaterThan(0);
    const names = ((await (await s.api('/api/v1/services?limit=10')).json()) as { items: Array<{ name: string }> }).items.map((x) => x.name);
    expect(names).toEqual(['web', 'cache', 'backups', 'extra']);
    const ev = (await (await s.api('/api/v1/events?type=config.rejected')).json()) as { items: Array<{ data: { error: string } }> };
    expect(ev.items[0]?.data.error).toMatch(/shipshape\.yaml:4:\d+: services\.web\.checks\[0\]\.http\.url: expected string/);
  });
});

describe('first start', () => {
  it('creates an admin token once when none is configured, and never again', async () => {
    const s = await startTestServer('services: {}\n', { adminToken: null });
    try {
      expect(s.firstAdminToken).toMatch(/^ss_/);
      expect((await s.api('/api/v1/tokens', { token: s.firstAdminToken })).status).toBe(200);
      await s.stop();
      const { startShipshape } = await import('../../src/app.js');
      const { pino } = await import('pino');
      const again = await startShipshape({ configPath: s.configPath, dataDir: `${s.dir}/data`, port: 0, logger: pino({ level: 'silent' }) });
      expect(again.firstAdminToken).toBeUndefined();
      await again.stop();
    } finally {
      const { rmSync } = await import('node:fs');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});
