/**
 * Durability and the CLI, against `shipshape up` in a child process: deliveries acknowledged with
 * 200 survive a kill -9 and are forwarded after the restart; `shipshape webhooks list | show |
 * replay` run as real processes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryDetail, DeliverySummary } from '../../src/webhooks/index.js';
import { ChildServers, type ChildServer } from '../helpers/child-server.js';
import { startApp, stripeEvent, stripeHeader, until, type App } from './helpers.js';

const BIN = resolve('bin/shipshape.js');
const TOKEN = 'webhooks-cli-admin-token-0123456789';
const SECRET = 'whsec_restart_test_0123456789abcdef';

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('webhooks: restart and CLI', () => {
  let dir: string;
  let servers: ChildServers;
  let app: App | undefined;
  let flakyApp: App;
  let appPort: number;
  let config: string;
  let srv: ChildServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-wh-'));
    appPort = await freePort();
    flakyApp = await startApp();
    flakyApp.mode = 'error';
    config = join(dir, 'shipshape.yaml');
    writeFileSync(
      config,
      `webhooks:
  stripe:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}", tolerance: 5m } }
    forward: "http://127.0.0.1:${appPort}/api/webhooks/stripe"
    backoff: 200ms
  flaky:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "${flakyApp.url('/api/webhooks/flaky')}"
    retries: 0
`,
    );
    servers = new ChildServers(dir, { SHIPSHAPE_ADMIN_TOKEN: TOKEN, STRIPE_WEBHOOK_SECRET: SECRET });
  });
  afterAll(async () => {
    servers?.killAll();
    await app?.close();
    await flakyApp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stateOf = (ids: number[]) => Promise.all(ids.map(async (id) => ((await (await fetch(`${srv.url}/api/v1/webhooks/deliveries/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as DeliveryDetail).state));
  const post = (url: string, hook: string, body: string) => fetch(`${url}/hooks/${hook}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, SECRET) } });

  it('forwards deliveries acknowledged before a kill -9 once the server is back', async () => {
    const first = await servers.up(config, join(dir, 'data'));
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(first.url, 'stripe', stripeEvent(`evt_durable_${i}`));
      expect(r.status).toBe(200);
      ids.push(((await r.json()) as { id: number }).id);
    }
    // acknowledged, not yet forwarded (the app is down): kill the server without any chance to flush
    first.child.kill('SIGKILL');
    await first.exited;
    app = await startApp(appPort);
    srv = await servers.up(config, join(dir, 'data'));
    env = { SHIPSHAPE_URL: srv.url, SHIPSHAPE_TOKEN: TOKEN };
    await until('all five forwarded', () => new Set(app!.seen.map((x) => (JSON.parse(x.body.toString()) as { id: string }).id)).size === 5);
    expect([...new Set(app.seen.map((x) => (JSON.parse(x.body.toString()) as { id: string }).id))].sort()).toEqual([0, 1, 2, 3, 4].map((i) => `evt_durable_${i}`));
    const list = await cli(['webhooks', 'list', '--hook', 'stripe', '--json'], env);
    expect(list.stderr).toBe('');
    const items = JSON.parse(list.stdout) as DeliverySummary[];
    await until('all delivered', async () => (await stateOf(ids)).every((st) => st === 'delivered'));
    expect(items.map((d) => d.id).sort()).toEqual([...ids].sort());
  }, 120_000);

  it('lists, shows and replays failed deliveries from the CLI', async () => {
    const { id } = (await (await post(srv.url, 'flaky', stripeEvent('evt_cli_flaky'))).json()) as { id: number };
    await until('failed', async () => (await stateOf([id]))[0] === 'failed');
    const table = await cli(['webhooks', 'list', '--state', 'failed', '--since', '1h'], env);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s.*flaky\\s.*payment_intent\\.succeeded.*failed\\s.*1\\s.*the app answered 500`));
    const shown = await cli(['webhooks', 'show', String(id)], env);
    expect(shown.stdout).toContain(`delivery ${id}: flaky payment_intent.succeeded — failed after 1 attempt`);
    expect(shown.stdout).toMatch(/1\s.*500\s.*the app answered 500\s.*auto/);
    flakyApp.mode = 'ok';
    const replay = await cli(['webhooks', 'replay', '--failed', '--since', '1h', '--json'], env);
    expect(replay.stderr).toBe('');
    expect(JSON.parse(replay.stdout)).toEqual({ ids: [id] });
    await until('delivered after the replay', async () => (await stateOf([id]))[0] === 'delivered');
    const detail = JSON.parse((await cli(['webhooks', 'show', String(id), '--json'], env)).stdout) as DeliveryDetail;
    expect(detail.attempt_log.map((a) => a.status)).toEqual([500, 200]);
    const again = await cli(['webhooks', 'replay', '--failed', '--since', '1h'], env);
    expect(again.stdout.trim()).toBe('nothing to replay');
    const one = await cli(['webhooks', 'replay', String(id)], env);
    expect(one.stdout.trim()).toBe(`queued 1 delivery again: ${id}`);
    // the body needs an admin token
    const body = await cli(['webhooks', 'show', String(id), '--body', '--json'], env);
    expect((JSON.parse(body.stdout) as { body: { body: string } }).body.body).toContain('evt_cli_flaky');
    const made = await fetch(`${srv.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'reader', scopes: ['read'] }) });
    const reader = ((await made.json()) as { token: string }).token;
    const denied = await cli(['webhooks', 'show', String(id), '--body'], { ...env, SHIPSHAPE_TOKEN: reader });
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/answered 403/);
    const usage = await cli(['webhooks', 'replay'], env);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/give a delivery id, or --failed --since 1h/);
    const missing = await cli(['webhooks', 'show', '999999'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/404 Not Found: no webhook delivery 999999/);
  }, 120_000);
});
