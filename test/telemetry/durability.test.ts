/**
 * Issue 7, item 11: acknowledged telemetry survives a crash. A real server (the built CLI) answers
 * an SDK batch 202 and an OTLP export 200, is killed with SIGKILL right after, and the data is in
 * the chart API after the next start on the same data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve('bin/shipshape.js');
const TOKEN = 'durability-ingest-token';
const ADMIN = 'durability-admin-token-0123456789';
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-durable-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function up(config: string, data: string): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [BIN, 'up', '--config', config, '--port', '0', '--data-dir', data], {
    cwd: dir,
    env: { ...process.env, SHIPSHAPE_LOG_LEVEL: 'info', SHIPSHAPE_ADMIN_TOKEN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.on('exit', r));
  const end = Date.now() + 20_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out))) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`the server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: m[1] as string, exited };
}

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
