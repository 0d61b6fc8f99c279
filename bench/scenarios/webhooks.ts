/**
 * webhooks: Stripe-signed webhooks verified and durably stored per second, side by side in one run
 * with its ceiling. Shipshape (`shipshape up`, embedded SQLite) receives `POST /hooks/stripe`
 * with a fresh Stripe-signed event per request (signed by the `stripe` package), verifies it,
 * commits it, answers 200, and forwards it to a bare app server on loopback. The ceiling is a bare
 * node:http server that reads the body, verifies the same signature with
 * `stripe.webhooks.constructEvent` and answers 200, storing nothing. Both are driven by the same
 * undici load (BENCH_WEBHOOKS_C connections, default 32) for BENCH_WEBHOOKS_S seconds (default 10).
 * Also measured: how long Shipshape takes to forward the whole backlog to the app.
 * BENCH_WEBHOOKS_PROFILE=<dir> writes a CPU profile of the Shipshape server there.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { Pool } from 'undici';
import { freePort, removeTempDir, startChild, stopChild, tempDir, waitForQuiet, type Child } from '../lib/proc.js';
import { percentile, row, type Row } from '../lib/report.js';
import { ROOT, startServer, TOKEN } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

const SECONDS = Number(process.env.BENCH_WEBHOOKS_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_WEBHOOKS_C ?? 32);
const SECRET = 'whsec_bench_0123456789abcdef0123456789';
const stripe = new Stripe('sk_test_bench');

/** the bare ceiling: read, constructEvent, 200 */
const BARE = `
import { createServer } from 'node:http';
import Stripe from 'stripe';
const stripe = new Stripe('sk_test_bench');
const secret = process.env.SECRET;
const s = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const ev = stripe.webhooks.constructEvent(Buffer.concat(chunks), req.headers['stripe-signature'], secret);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: ev.id }));
    } catch (e) {
      res.writeHead(400);
      res.end(String(e.message));
    }
  });
});
s.keepAliveTimeout = 72000;
s.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('LISTENING ' + s.address().port));
`;

/** the app Shipshape forwards to: count and 200 */
const APP = `
import { createServer } from 'node:http';
let n = 0;
const s = createServer((req, res) => {
  if (req.url === '/count') { res.end(String(n)); return; }
  req.resume();
  req.on('end', () => { n++; res.writeHead(200); res.end('ok'); });
});
s.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('LISTENING ' + s.address().port));
`;

async function startScript(dir: string, name: string, code: string, env: NodeJS.ProcessEnv): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = startChild(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env: { ...env, PORT: String(port) }, logFile: join(dir, `${name}.log`) });
  const end = performance.now() + 30_000;
  while (!/LISTENING/.test(child.output())) {
    if (performance.now() > end || child.proc.exitCode !== null) throw new Error(`${name} did not start:\n${child.output()}`);
    await sleep(50);
  }
  return { child, port };
}

interface Load {
  rps: number;
  ok: number;
  failed: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

let seq = 0;
function signed(): { body: string; header: string } {
  const id = `evt_bench_${process.pid}_${++seq}`;
  const body = JSON.stringify({ id, object: 'event', type: 'payment_intent.succeeded', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000), data: { object: { id: `pi_${seq}`, object: 'payment_intent', amount: 4200, currency: 'eur', status: 'succeeded', metadata: { order: String(seq) } } } });
  return { body, header: stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) };
}

async function drive(origin: string, path: string, seconds: number): Promise<Load> {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  const lat: number[] = [];
  let ok = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const { body, header } = signed();
      const t = performance.now();
      try {
        const r = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body });
        await r.body.text();
        if (r.statusCode === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const took = (performance.now() - t0) / 1000;
  await pool.close();
  lat.sort((a, b) => a - b);
  return { rps: ok / took, ok, failed, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
}

export async function runWebhooks(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('webhooks');
  const kids: Child[] = [];
  try {
    await waitForQuiet(ctx.log, 'webhooks');
    const bare = await startScript(dir, 'bare', BARE, { SECRET });
    kids.push(bare.child);
    await drive(`http://127.0.0.1:${bare.port}`, '/', 2); // warm-up
    ctx.log(`bare node:http + constructEvent: ${SECONDS}s at c=${CONNECTIONS}…`);
    const ceiling = await drive(`http://127.0.0.1:${bare.port}`, '/', SECONDS);
    await stopChild(bare.child);

    const app = await startScript(dir, 'app', APP, {});
    kids.push(app.child);
    const server = await startServer({
      dir,
      dataDir: join(dir, 'data'),
      env: { STRIPE_WEBHOOK_SECRET: SECRET },
      // BENCH_WEBHOOKS_PROFILE=<dir>: a CPU profile of the server (stopped with SIGTERM, so it is written)
      ...(process.env.BENCH_WEBHOOKS_PROFILE ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_WEBHOOKS_PROFILE] } : {}),
      configYaml: `webhooks:\n  stripe:\n    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}", tolerance: 5m } }\n    forward: "http://127.0.0.1:${app.port}/api/webhooks/stripe"\n    concurrency: 16\n`,
    });
    kids.push(server.child);
    await drive(server.url, '/hooks/stripe', 2); // warm-up
    const count = async () => Number(await (await fetch(`http://127.0.0.1:${app.port}/count`)).text());
    // let the warm-up backlog drain before measuring
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${server.url}/api/v1/webhooks`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const { items } = (await r.json()) as { items: { states: { pending: number } }[] };
      if ((items[0]?.states.pending ?? 0) === 0) break;
      await sleep(100);
    }
    const before = await count();
    ctx.log(`shipshape /hooks/stripe: ${SECONDS}s at c=${CONNECTIONS}…`);
    const t0 = performance.now();
    const shipshape = await drive(server.url, '/hooks/stripe', SECONDS);
    const forwardedDuring = (await count()) - before;
    // then: until the app has every delivery
    let drainedAt = performance.now();
    for (let i = 0; i < 1200; i++) {
      if ((await count()) - before >= shipshape.ok) {
        drainedAt = performance.now();
        break;
      }
      await sleep(100);
    }
    const forwarded = (await count()) - before;
    const forwardRps = forwarded / ((drainedAt - t0) / 1000);
    await stopChild(server.child);
    await stopChild(app.child);

    const rows = [
      row({ scenario: 'webhooks', metric: `Stripe-signed webhooks verified + stored, c=${CONNECTIONS}`, goal: '>= 500 /s', value: Math.round(shipshape.rps), unit: '/s', pass: shipshape.rps >= 500 && shipshape.failed === 0, reference: { name: 'bare node:http + constructEvent, no storage', value: Math.round(ceiling.rps) }, note: shipshape.failed ? `${shipshape.failed} non-200` : undefined }),
      row({ scenario: 'webhooks', metric: 'receive latency p50', goal: '', value: shipshape.p50Ms, unit: 'ms', pass: null, reference: ceiling.p50Ms === null ? undefined : { name: 'bare', value: ceiling.p50Ms } }),
      row({ scenario: 'webhooks', metric: 'receive latency p99', goal: '', value: shipshape.p99Ms, unit: 'ms', pass: null, reference: ceiling.p99Ms === null ? undefined : { name: 'bare', value: ceiling.p99Ms } }),
      row({ scenario: 'webhooks', metric: 'forwarded to the app (receive start → backlog drained)', goal: '', value: Math.round(forwardRps), unit: '/s', pass: forwarded >= shipshape.ok ? null : false, note: `${forwarded}/${shipshape.ok} forwarded, ${forwardedDuring} while receiving` }),
    ];
    return { rows, raw: { seconds: SECONDS, connections: CONNECTIONS, ceiling, shipshape, forwarded, forwardedDuring, forwardRps } };
  } finally {
    for (const k of kids) await stopChild(k).catch(() => undefined);
    removeTempDir(dir);
  }
}
