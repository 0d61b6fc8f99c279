/**
 * Issue 7, item 11: acknowledged telemetry survives a crash. A real server (the built CLI) answers
 * an SDK batch 202 and an OTLP export 200, is killed with SIGKILL right after, and the data is in
 * the chart API after the next start on the same data dir.
 */
import { ChildServers } from '../helpers/child-server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = 'durability-ingest-token';
const ADMIN = 'durability-admin-token-0123456789';
let dir: string;
let servers: ChildServers;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-durable-'));
  servers = new ChildServers(dir, { SHIPSHAPE_ADMIN_TOKEN: ADMIN });
});
afterAll(() => {
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

const up = (config: string, data: string) => servers.up(config, data);

interface Chart {
  routes: { route: string; requests: number }[];
  vitals: Record<string, { p75: (number | null)[] }>;
}

describe('acknowledged telemetry survives kill -9', () => {
  it('an SDK batch answered 202 and an OTLP export answered 200 are in the chart after a restart', async () => {
    const config = join(dir, 'shipshape.yaml');
    writeFileSync(config, `services:\n  web: {}\n  api: {}\ningest:\n  tokens: ["${TOKEN}"]\n`);
    const data = join(dir, 'data');
    const first = await up(config, data);
    const now = Date.now();
    const requests = Array.from({ length: 50 }, (_, i) => ({ route: '/checkout', status: i < 5 ? 500 : 200, duration_ms: 40 + i, at: now }));
    const sdk = await fetch(`${first.url}/api/v1/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ service: 'web', requests, vitals: [{ page: '/', name: 'LCP', value: 1500, at: now }] }),
    });
    expect(sdk.status).toBe(202);
    expect(await sdk.json()).toEqual({ accepted: 51, dropped: 0 });
    const ns = String(BigInt(now) * 1_000_000n);
    const span = (i: number) => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: `b7ad6b71692033${String(i).padStart(2, '0')}`, name: 'GET /items', kind: 2, startTimeUnixNano: ns, endTimeUnixNano: String(BigInt(ns) + 30_000_000n), attributes: [{ key: 'http.route', value: { stringValue: '/items' } }, { key: 'http.response.status_code', value: { intValue: '200' } }, { key: 'http.request.method', value: { stringValue: 'GET' } }], status: {} });
    const otlp = await fetch(`${first.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] }, scopeSpans: [{ spans: Array.from({ length: 7 }, (_, i) => span(i)) }] }] }),
    });
    expect(otlp.status).toBe(200);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await up(config, data);
    try {
      const chartOf = async (service: string) => {
        const r = await fetch(`${second.url}/api/v1/services/${service}/telemetry`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(r.status).toBe(200);
        return (await r.json()) as Chart;
      };
      const web = await chartOf('web');
      expect(web.routes).toEqual([expect.objectContaining({ route: '/checkout', requests: 50 })]);
      expect(web.vitals.LCP?.p75.some((v) => v !== null && Math.abs(v - 1500) < 30)).toBe(true);
      const api = await chartOf('api');
      expect(api.routes).toEqual([expect.objectContaining({ route: '/items', requests: 7 })]);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
