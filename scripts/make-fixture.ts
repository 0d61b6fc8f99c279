/**
 * Make the "fixture stores" of a release: a Shipshape store (embedded SQLite file and a
 * PostgreSQL plain-SQL dump) filled with real data by the real server of this checkout, so an
 * upgrade test can prove that a store made by this release opens in later releases.
 *
 *   npx tsx scripts/make-fixture.ts --out test/fixtures/<version>
 *       [--store both|sqlite|postgres]          (default both)
 *       [--pg-url postgres://postgres@127.0.0.1:5432]   (server to create the temporary database on)
 *
 * Run it from a checkout of the release (e.g. `git worktree add /tmp/rel v0.2.0`, `npm ci` there);
 * each release adds its own fixture directory with it and never changes an older one.
 *
 * It starts the server in-process (`startShipshape`) with the config written to
 * `<out>/fixture.yaml`, and drives data into every table through the public HTTP API and ingest
 * routes only (no raw inserts): scheduled checks against a local HTTP target (200, then 500) and a
 * closed TCP port, a heartbeat ping, SDK batches and OTLP/JSON metrics, Sentry envelopes, rule
 * alerts and a pushed Prometheus alert, a silence, API tokens (one created and revoked) and
 * webhook notifications to a local receiver. A check present only in a first version of the
 * config is removed by a config reload, which closes its minute/hour/day rollups (the only way to
 * get hour and day aggregates without waiting for an hour to pass). A graceful stop persists the
 * open rollups. Then the SQLite store is checkpointed into one file and PostgreSQL is dumped with
 * `pg_dump --no-owner --no-privileges`.
 *
 * Outputs in --out: shipshape.db, postgres.sql, fixture.yaml, expected.json (row count of every
 * table per store, and values a test can assert on after an upgrade).
 *
 * The only secrets are the obvious test tokens below.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createHmac, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { startShipshape, VERSION, type Running } from '../src/app.js';
import { killUnder } from '../test/helpers/procs.js';

const ADMIN_TOKEN = 'fixture-admin-token-0123456789';
const INGEST_TOKEN = 'fixture_ingest_token_0123456789';
const FIXTURE_SECRET_KEY = '0f'.repeat(32);
const FIXTURE_HOOK_SECRET = 'fixture-hook-secret-0123456789';
const HEARTBEAT_TOKEN = 'fixture-nightly-backup';
const SENTRY_PROJECT = 1;
const SILENCE_COMMENT = 'fixture: planned maintenance of the batch workers';
/** a loopback port nothing listens on (checked at start) */
const CLOSED_PORT = 9;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    store: { type: 'string', default: 'both' },
    'pg-url': { type: 'string', default: process.env.FIXTURE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
  },
});
if (!args.out) {
  console.error('usage: npx tsx scripts/make-fixture.ts --out test/fixtures/<version> [--store both|sqlite|postgres] [--pg-url postgres://…]');
  process.exit(2);
}
const OUT = resolve(args.out);
const STORES = args.store === 'both' ? (['sqlite', 'postgres'] as const) : ([args.store] as ('sqlite' | 'postgres')[]);
for (const s of STORES) if (s !== 'sqlite' && s !== 'postgres') throw new Error(`--store: unknown store ${s}`);

/**
 * The fixture config. URLs of the local helpers come from variables with harmless defaults, so
 * the same file loads anywhere (checks then simply fail). The `# stage1` block exists only in
 * the first config: a reload removes it (see above).
 */
const CONFIG = `# Shipshape ${VERSION} upgrade fixture config (written by scripts/make-fixture.ts).
# While the fixture was made, a check "web/legacy" (http to FIXTURE_LEGACY_URL, every 500ms)
# was also configured, and removed by a config reload before the store was closed.
server:
  health_details: true
ingest:
  tokens: ["${INGEST_TOKEN}"]
alerting:
  evaluate_every: 200ms
history:
  failures_per_check: 100
services:
  web:
    description: the fixture app (answers 200, then 500)
    sentry: { project: ${SENTRY_PROJECT} }
    checks:
      - name: health
        http: { url: "\${FIXTURE_TARGET_URL:-http://127.0.0.1:${CLOSED_PORT}/health}", every: 500ms, timeout: 400ms }
        conditions: ["status == 200", "latency < 2s"]
#STAGE1#
#DEPLOY#
    env:
      push:
        vercel: { bin: "\${FIXTURE_VERCEL_BIN:-vercel}" }
  db:
    description: a database port nobody listens on
    checks:
      - name: port
        tcp: { host: 127.0.0.1, port: ${CLOSED_PORT}, every: 500ms, timeout: 400ms }
  backups:
    description: the nightly backup pings its heartbeat
    checks:
      - heartbeat: { token: ${HEARTBEAT_TOKEN}, period: 24h, grace: 2h }
alerts:
  - name: web-error-rate
    when: error_rate(web) > 10%
    severity: P1
    min_samples: 1
    summary: "{{ service }} error rate is {{ value }}"
  - name: db-down
    when: down(db)
    severity: P2
    summary: "{{ service }} is down"
    incident: { severity: P2 }
notify:
  channels:
    hook:
      webhook: { url: "\${FIXTURE_WEBHOOK_URL:-http://127.0.0.1:${CLOSED_PORT}/hook}" }
  defaults:
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 4h
people:
  alice: { name: Alice, channels: [hook] }
oncall:
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2026-01-05, people: [alice] }]
  escalation:
    default:
      steps:
        - { after: 0m, notify: [schedule:primary] }
maintenance:
  windows:
    - name: db-upgrades
      title: Monthly database upgrades
      services: [db]
      rrule: FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1
      start: "02:00"
      duration: 2h
      timezone: UTC
subscriptions:
  notify_on_open: true
webhooks:
  fixture:
    verify: { hmac: { secret: "${FIXTURE_HOOK_SECRET}", header: X-Signature, algorithm: sha256, encoding: hex, prefix: "sha256=" } }
    forward: "\${FIXTURE_INBOX_URL:-http://127.0.0.1:9/inbox}"
    service: web
`;
/** releases from 0.3.0 on: web is deployed from a tiny git repository by the process driver */
const DEPLOY = `    deploy:
      driver: process
      repo: "\${FIXTURE_APP_REPO:-.}"
      start: "node server.js"
      health: { path: /api/health, timeout: 30s }
      environments:
        production: { proxy: { port: #PROXYPORT# } }
`;
const APP = `const http = require('node:http');
http.createServer((req, res) => res.end(req.url === '/api/health' ? 'ok' : 'fixture app')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
const STAGE1 = `      - name: legacy
        http: { url: "\${FIXTURE_LEGACY_URL:-http://127.0.0.1:${CLOSED_PORT}/legacy}", every: 500ms, timeout: 400ms }`;

/** The config as written: with or without the stage-1 check, and web's deploy with its proxy port. */
const configText = (stage1: boolean, proxyPort: number) => CONFIG.replace('#STAGE1#\n', stage1 ? `${STAGE1}\n` : '').replace('#DEPLOY#\n', DEPLOY.replace('#PROXYPORT#', String(proxyPort)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}
async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

async function assertClosed(port: number): Promise<void> {
  const net = await import('node:net');
  const open = await new Promise<boolean>((res) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), res(true)));
    s.on('error', () => res(false));
  });
  if (open) throw new Error(`port ${port} is open on 127.0.0.1; the fixture needs it closed`);
}

interface Run {
  counts: Record<string, number>;
  values: Record<string, unknown>;
}

/** One fixture store: start, drive, stop. */
async function drive(store: { dataDir?: string; databaseUrl?: string }, work: string): Promise<void> {
  // the http target: 200 for the first three requests, then 500
  let hits = 0;
  const target = createServer((req, res) => {
    if (req.url === '/legacy') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    hits++;
    if (hits <= 3) res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"healthy"}');
    else res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"broken"}');
  });
  const targetPort = await listen(target);
  // the webhook receiver
  const received: { path: string; body: unknown }[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const receiverPort = await listen(receiver);

  process.env.FIXTURE_TARGET_URL = `http://127.0.0.1:${targetPort}/health`;
  process.env.FIXTURE_LEGACY_URL = `http://127.0.0.1:${targetPort}/legacy`;
  process.env.FIXTURE_WEBHOOK_URL = `http://127.0.0.1:${receiverPort}/hook`;
  process.env.FIXTURE_INBOX_URL = `http://127.0.0.1:${receiverPort}/inbox`;
  // from 0.5.0: the env store encrypts under this key (the upgrade test reads names and masks only)
  process.env.SHIPSHAPE_SECRET_KEY = FIXTURE_SECRET_KEY;
  // from 0.9.0: env pushes go to the tests' stand-in Vercel CLI, which keeps its state here
  process.env.FIXTURE_VERCEL_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'platform-cli', 'vercel');
  process.env.PLATFORM_STANDIN_STATE = join(work, 'vercel.json');

  const configPath = join(work, 'fixture.yaml');
  // the app web is deployed from: a git repository with one commit
  const appRepo = join(work, 'app');
  mkdirSync(appRepo);
  writeFileSync(join(appRepo, 'server.js'), APP);
  const git = (...a: string[]) => execFileSync('git', ['-C', appRepo, '-c', 'user.name=Fixture', '-c', 'user.email=fixture@example.com', '-c', 'commit.gpgsign=false', ...a], { stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'fixture app 1.0');
  process.env.FIXTURE_APP_REPO = appRepo;
  const proxyPort = await freePort();
  writeFileSync(configPath, configText(true, proxyPort));

  let running: Running | undefined;
  try {
    running = await startShipshape({
      configPath,
      dataDir: store.dataDir,
      databaseUrl: store.databaseUrl,
      port: 0,
      logger: pino({ level: 'warn' }),
      adminToken: ADMIN_TOKEN,
      watchConfig: false,
    });
    const base = running.url;
    const api = async (path: string, init: RequestInit & { token?: string } = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${init.token ?? ADMIN_TOKEN}`);
      if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return fetch(`${base}${path}`, { ...init, headers });
    };
    const ok = async (r: Promise<Response>, what: string) => {
      const res = await r;
      if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json().catch(() => ({}))) as Record<string, unknown>;
    };
    type CheckRow = { id: string; state: string };
    const checks = async () => ((await ok(api('/api/v1/checks'), 'checks')).items as CheckRow[]);

    // checks: web/health goes up then down, db/port down, web/legacy up
    await until('web/health down, db/port down, legacy up', async () => {
      const c = await checks();
      const st = (id: string) => c.find((x) => x.id === id)?.state;
      return st('web/health') === 'down' && st('db/port') === 'down' && st('web/legacy') === 'up';
    });

    // a heartbeat ping (public route): releases after 0.1.0 give each heartbeat a secret URL,
    // listed for admins at GET /api/v1/heartbeats; 0.1.0 pinged /api/v1/heartbeat/<name>
    const listed = await api('/api/v1/heartbeats');
    const hb = listed.ok ? ((await listed.json()) as { items: { name: string; path: string }[] }).items.find((h) => h.name === HEARTBEAT_TOKEN) : undefined;
    await ok(fetch(`${base}${hb?.path ?? `/api/v1/heartbeat/${HEARTBEAT_TOKEN}`}`, { method: 'POST' }), 'heartbeat');
    await until('backups up', async () => (await checks()).find((x) => x.id.startsWith('backups/'))?.state === 'up');

    // telemetry: an SDK batch (requests, vitals, events) ...
    const now = Date.now();
    const requests = [
      ...Array.from({ length: 16 }, (_, i) => ({ route: '/api/items/:id', method: 'GET', status: 200, duration_ms: 20 + i, at: now - 1000 })),
      ...Array.from({ length: 4 }, () => ({ route: '/api/pay', method: 'POST', status: 500, duration_ms: 900, at: now - 1000 })),
    ];
    const vitals = [
      { page: '/', name: 'LCP', value: 1800, at: now - 1000 },
      { page: '/', name: 'CLS', value: 0.05, at: now - 1000 },
      { page: '/checkout', name: 'INP', value: 120, at: now - 1000 },
    ];
    const events = [{ name: 'payment_attempted', count: 5 }, { name: 'payment_failed', count: 1, value: 42 }];
    await ok(api('/api/v1/ingest', { method: 'POST', token: INGEST_TOKEN, body: JSON.stringify({ service: 'web', requests, vitals, events }) }), 'SDK ingest');
    // ... and OTLP/JSON metrics (a histogram of requests and a gauge)
    const nano = BigInt(now) * 1_000_000n;
    const otlp = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] },
          scopeMetrics: [
            {
              scope: { name: 'fixture' },
              metrics: [
                {
                  name: 'http.server.duration',
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      { attributes: [{ key: 'http.route', value: { stringValue: '/api/orders' } }, { key: 'http.status_code', value: { intValue: '200' } }], startTimeUnixNano: String(nano - 10_000_000_000n), timeUnixNano: String(nano), count: '10', bucketCounts: ['0', '10', '0'], explicitBounds: [100, 200] },
                    ],
                  },
                },
                { name: 'queue.depth', gauge: { dataPoints: [{ attributes: [{ key: 'queue', value: { stringValue: 'emails' } }], timeUnixNano: String(nano), asInt: '7' }] } },
              ],
            },
          ],
        },
      ],
    };
    await ok(api('/v1/metrics', { method: 'POST', token: INGEST_TOKEN, body: JSON.stringify(otlp) }), 'OTLP metrics');

    // errors: a Sentry envelope with one exception event twice (one issue, count 2) and a message
    const exception = (release: string) => ({
      event_id: randomUUID().replace(/-/g, ''),
      timestamp: Date.now() / 1000,
      platform: 'node',
      level: 'error',
      release,
      environment: 'production',
      exception: { values: [{ type: 'TypeError', value: 'Cannot read properties of undefined (reading \'total\')', stacktrace: { frames: [{ function: 'handler', filename: '/app/src/server.js', lineno: 12, colno: 5, in_app: true }, { function: 'checkout', filename: '/app/src/pay.js', lineno: 40, colno: 9, in_app: true }] } }] },
    });
    const envelope = (items: Record<string, unknown>[]) =>
      [JSON.stringify({ sent_at: new Date().toISOString() }), ...items.flatMap((ev) => [JSON.stringify({ type: 'event' }), JSON.stringify(ev)])].join('\n');
    const sentry = (body: string) =>
      ok(fetch(`${base}/api/${SENTRY_PROJECT}/envelope/?sentry_key=${INGEST_TOKEN}&sentry_version=7`, { method: 'POST', headers: { 'content-type': 'application/x-sentry-envelope' }, body }), 'Sentry envelope');
    await sentry(envelope([exception('web@1.0.0')]));
    await sentry(envelope([exception('web@1.0.1')]));
    await sentry(envelope([{ event_id: randomUUID().replace(/-/g, ''), timestamp: new Date().toISOString(), level: 'warning', release: 'web@1.0.1', message: { formatted: 'fixture: payment provider slow' } }]));
    await until('2 issues', async () => (((await ok(api('/api/v1/issues'), 'issues')).items as unknown[]).length >= 2 ? true : undefined));

    // alerts: both rules fire; one alert pushed the Prometheus way
    type RuleStatus = { name: string; state: string };
    await until('rules firing', async () => {
      const rules = (await ok(api('/api/v1/alerts/rules'), 'rules')).items as RuleStatus[];
      return rules.length === 2 && rules.every((r) => r.state === 'firing');
    });
    // releases from 0.3.0 on: a webhook subscriber of the status page (it gets the incident update below)
    await ok(api('/api/v1/subscriptions/webhooks', { method: 'POST', body: JSON.stringify({ page: 'default', url: `http://127.0.0.1:${receiverPort}/status-hook`, description: 'fixture: the support desk' }) }), 'webhook subscription');
    // an incident with a status update (releases from 0.2.0 on: the incidents module)
    const opened = await api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: 'fixture: web answers 500', severity: 'P1', services: ['web'], message: 'looking into it' }) });
    if (opened.status === 201) {
      const inc = (await opened.json()) as { id: number };
      await ok(api(`/api/v1/incidents/${inc.id}/updates`, { method: 'POST', body: JSON.stringify({ status: 'identified', message: 'a bad deploy; rolling back' }) }), 'incident update');
    }
    // releases from 0.3.0 on: db-down opened an incident and paged alice (on call) through the webhook;
    // she acknowledges from the link in the page
    const page = await until('the on-call page', async () => received.find((r) => r.path === '/hook' && JSON.stringify(r.body).includes('oncall-page')));
    const ackUrl = (page.body as { alerts: { annotations: { ack_url: string } }[] }).alerts[0]?.annotations.ack_url;
    if (!ackUrl) throw new Error('the page has no ack link');
    const acked = await fetch(ackUrl.replace(/^https?:\/\/[^/]+/, base), { method: 'POST' });
    if (!acked.ok) throw new Error(`the ack link answered ${acked.status}: ${await acked.text()}`);
    await until('the subscriber webhook', async () => received.some((r) => r.path === '/status-hook'));
    // a post-mortem with an action item long overdue (the incidents timer records it), and a calendar feed URL
    const incs = (await ok(api('/api/v1/incidents?limit=10'), 'incidents')).items as { id: number; title: string }[];
    const dbInc = incs.find((i) => i.title === 'db is down');
    if (!dbInc) throw new Error('no incident for db-down');
    await ok(api(`/api/v1/incidents/${dbInc.id}/postmortem`, { method: 'PUT', body: JSON.stringify({ root_cause: 'fixture: nobody listens on the port', action_items: [{ title: 'fixture: add a second database', owner: 'alice', due: '2026-01-15' }] }) }), 'post-mortem');
    await ok(api('/api/v1/oncall/schedules/primary/subscription'), 'calendar feed');
    // a maintenance window by hand (the config's monthly window is materialised by itself)
    await ok(api('/api/v1/maintenance', { method: 'POST', body: JSON.stringify({ title: 'fixture: move the web servers', services: ['web'], starts_at: '+2d', duration: '1h', message: 'short interruptions' }) }), 'maintenance');
    // from 0.5.0: a variable in the env store (its release snapshot pins it) and a webhook delivery, verified, stored and forwarded
    await ok(api('/api/v1/env/web/production/vars', { method: 'POST', body: JSON.stringify({ vars: { FIXTURE_GREETING: 'hello from the env store', FIXTURE_API_TOKEN: 'fixture-token-0123456789abcdef' } }) }), 'env set');
    // from 0.9.0: the store pushed to Vercel (what was sent, by store version, is kept)
    const pushed = await ok(api('/api/v1/env/web/production/push', { method: 'POST', body: JSON.stringify({ to: 'vercel' }) }), 'env push');
    if (pushed.ok !== true) throw new Error(`env push: ${JSON.stringify(pushed)}`);
    const hookBody = JSON.stringify({ id: 'evt_fixture_1', type: 'fixture.created' });
    const hookSig = `sha256=${createHmac('sha256', FIXTURE_HOOK_SECRET).update(hookBody).digest('hex')}`;
    const hook = await fetch(`${base}/hooks/fixture`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': hookSig }, body: hookBody });
    if (hook.status !== 200) throw new Error(`webhook delivery: ${hook.status} ${await hook.text()}`);
    await until('the webhook forwarded', async () => received.some((r) => r.path === '/inbox'));
    const forged = await fetch(`${base}/hooks/fixture`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': 'sha256=00' }, body: hookBody });
    if (forged.status !== 400) throw new Error(`a forged webhook was answered ${forged.status}`);
    // a release of web deployed to production, then a deploy freeze
    await ok(api('/api/v1/deploy/web/deploys', { method: 'POST', body: JSON.stringify({ env: 'production' }) }), 'deploy');
    await ok(api('/api/v1/deploy/web/lock', { method: 'PUT', body: JSON.stringify({ env: 'production', reason: 'fixture: release freeze', for: '30d' }) }), 'deploy lock');
    // a silence, made before the push so that the BatchBacklog (and QueueStuck) alerts are muted by it
    const silence = await ok(api('/api/v1/silences', { method: 'POST', body: JSON.stringify({ matchers: ['service="batch"'], duration: '30d', comment: SILENCE_COMMENT }) }), 'silence');
    if (!silence.id) throw new Error('no silence id');
    await ok(
      api('/api/v2/alerts', {
        method: 'POST',
        token: INGEST_TOKEN,
        body: JSON.stringify([
          { labels: { alertname: 'DiskFilling', service: 'db', severity: 'P2', instance: 'db-1' }, annotations: { summary: 'disk 91% full on db-1' }, endsAt: new Date(Date.now() + 3_600_000).toISOString(), generatorURL: 'http://prometheus.example/graph' },
          { labels: { alertname: 'BatchBacklog', service: 'batch', severity: 'P3' }, annotations: { summary: 'batch backlog over 1000' }, endsAt: new Date(Date.now() + 3_600_000).toISOString() },
          // from 0.6.0: a sender's own severity word, kept, with Shipshape's level added (silenced too)
          { labels: { alertname: 'QueueStuck', service: 'batch', severity: 'critical', queue: 'mail' }, annotations: { summary: 'the mail queue is stuck' }, endsAt: new Date(Date.now() + 3_600_000).toISOString() },
        ]),
      }),
      'push alerts',
    );
    // tokens: one kept (and used), one created and revoked
    const reader = await ok(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'fixture-reader', scopes: ['read'] }) }), 'token create');
    const ci = await ok(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'fixture-ci', scopes: ['read', 'write'] }) }), 'token create');
    await ok(api('/api/v1/services', { token: reader.token as string }), 'read with the reader token');
    await ok(api(`/api/v1/tokens/${ci.id as string}`, { method: 'DELETE' }), 'token revoke');

    // notifications: web-error-rate, db-down and DiskFilling reach the webhook (BatchBacklog is silenced)
    await until('3 notifications sent', async () => {
      const n = await ok(api('/api/v1/notifications?status=sent'), 'notifications');
      return (n.items as unknown[]).length >= 3 && received.length >= 3;
    });

    // the reload that removes web/legacy (closing its minute/hour/day rollups)
    writeFileSync(configPath, configText(false, proxyPort));
    if (!(await running.reload())) throw new Error('config reload failed');
    // let a history flush (every 5s) and a closed 10s telemetry bucket happen while running
    await sleep(16_000);
    await until('the overdue action item', async () => ((await ok(api('/api/v1/events?type=incident.action_item_overdue'), 'events')).items as unknown[]).length > 0);
  } finally {
    await running?.stop();
    // from 0.9.0 a deploy's proxy daemon and release outlive Shipshape on purpose: take them down
    await killUnder(work);
    await close(target);
    await close(receiver);
  }
}

type Db = {
  tables(): Promise<string[]>;
  count(t: string): Promise<number>;
  col(q: string): Promise<unknown[]>;
  close(): Promise<void>;
};

async function sqliteDb(file: string, readonly: boolean): Promise<Db> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { readonly, fileMustExist: true });
  return {
    async tables() {
      return (db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as { name: string }[]).map((r) => r.name);
    },
    async count(t) {
      return (db.prepare(`select count(*) as n from "${t}"`).get() as { n: number }).n;
    },
    async col(q) {
      return db.prepare(q).raw().all().map((r) => (r as unknown[])[0]);
    },
    async close() {
      db.close();
    },
  };
}

async function pgDb(url: string): Promise<Db> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return {
    async tables() {
      return (await c.query("select tablename from pg_tables where schemaname = 'public' order by tablename")).rows.map((r: { tablename: string }) => r.tablename);
    },
    async count(t) {
      return Number((await c.query(`select count(*) as n from "${t}"`)).rows[0].n);
    },
    async col(q) {
      return (await c.query({ text: q, rowMode: 'array' })).rows.map((r: unknown[]) => r[0]);
    },
    async close() {
      await c.end();
    },
  };
}

/** Counts of every table and the values a test can assert on. */
async function describe(db: Db): Promise<Run> {
  const counts: Record<string, number> = {};
  const tables = await db.tables();
  for (const t of tables) counts[t] = await db.count(t);
  // 0.1.0 tracked every migration in shipshape_migrations; later releases one table per module
  const tracking = tables.filter((t) => t === 'shipshape_migrations' || (t.startsWith('shipshape_migrations_') && t !== 'shipshape_migrations_lock'));
  const values = {
    migrations: (await Promise.all(tracking.map((t) => db.col(`select name from "${t}"`)))).flat().sort(),
    checks: await db.col('select key from checks order by key'),
    service_state: await db.col('select service from service_state order by service'),
    event_types: await db.col('select distinct type from events order by type'),
    token_names: await db.col('select name from tokens order by name'),
    revoked_tokens: await db.col('select name from tokens where revoked_at is not null order by name'),
    heartbeats: await db.col('select token from heartbeats order by token'),
    error_issue_titles: await db.col('select title from error_issues order by title'),
    error_releases: await db.col('select distinct release from error_events where release is not null order by release'),
    alert_rules: await db.col('select distinct rule from alerts where rule is not null order by rule'),
    alert_sources: await db.col('select distinct source from alerts order by source'),
    alert_names: (await db.col('select labels from alerts')).map((l) => (JSON.parse(l as string) as { alertname: string }).alertname).sort(),
    alert_states: await db.col('select distinct state from alerts order by state'),
    silence_comments: await db.col('select comment from notify_silences order by comment'),
    notify_channels: await db.col('select distinct channel from notify_queue order by channel'),
    notified_groups: await db.col('select group_key from notify_queue order by group_key'),
    notify_statuses: await db.col('select distinct status from notify_queue order by status'),
    tel_series_kinds: await db.col('select distinct kind from tel_series order by kind'),
    ...(tables.includes('releases')
      ? {
          // releases from 0.3.0 on
          incident_titles: await db.col('select title from incidents order by title'),
          oncall_paged: await db.col('select person from oncall_pages order by person'),
          maintenance_titles: await db.col("select distinct title from maintenance_windows where status <> 'cancelled' order by title"),
          subscriber_kinds: await db.col('select kind from subscribers order by kind'),
          release_states: await db.col('select state from releases order by id'),
        }
      : {}),
  };
  return { counts, values };
}

async function makeSqlite(): Promise<Run> {
  const work = mkdtempSync(join(tmpdir(), 'shipshape-fixture-'));
  try {
    const dataDir = join(work, 'data');
    await drive({ dataDir }, work);
    const file = join(dataDir, 'shipshape.db');
    // one self-contained file: WAL checkpointed and switched off, free pages dropped
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
    db.exec('VACUUM');
    db.close();
    for (const ext of ['-wal', '-shm']) if (existsSync(file + ext)) throw new Error(`${file}${ext} is still there`);
    copyFileSync(file, join(OUT, 'shipshape.db'));
    const ro = await sqliteDb(join(OUT, 'shipshape.db'), true);
    try {
      return await describe(ro);
    } finally {
      await ro.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function makePostgres(): Promise<Run> {
  const base = args['pg-url'] as string;
  const name = `shipshape_fixture_${VERSION.replace(/\W/g, '_')}`;
  const admin = await pgDb(`${base}/postgres`);
  const url = `${base}/${name}`;
  const work = mkdtempSync(join(tmpdir(), 'shipshape-fixture-'));
  try {
    await admin.col(`drop database if exists "${name}"`);
    await admin.col(`create database "${name}"`);
    // its own data directory (proxy daemon, release logs) under work, not the default ./.shipshape
    await drive({ databaseUrl: url, dataDir: join(work, 'data') }, work);
    const dump = execFileSync('pg_dump', ['--no-owner', '--no-privileges', '--format=plain', '--dbname', url], { maxBuffer: 256 * 1024 * 1024 });
    writeFileSync(join(OUT, 'postgres.sql'), dump);
    const db = await pgDb(url);
    try {
      return await describe(db);
    } finally {
      await db.close();
    }
  } finally {
    await admin.col(`drop database if exists "${name}"`).catch(() => undefined);
    await admin.close();
    rmSync(work, { recursive: true, force: true });
  }
}

mkdirSync(OUT, { recursive: true });
await assertClosed(CLOSED_PORT);
const runs: Partial<Record<'sqlite' | 'postgres', Run>> = {};
for (const s of STORES) {
  console.log(`making the ${s} fixture…`);
  runs[s] = s === 'sqlite' ? await makeSqlite() : await makePostgres();
}
writeFileSync(join(OUT, 'fixture.yaml'), configText(false, 48080));

const expectedFile = join(OUT, 'expected.json');
const previous = existsSync(expectedFile) ? (JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, unknown>) : {};
const expected = {
  version: VERSION,
  made_at: new Date().toISOString(),
  made_by: 'scripts/make-fixture.ts',
  pg_dump: STORES.includes('postgres') ? execFileSync('pg_dump', ['--version']).toString().trim() : previous.pg_dump,
  admin_token: ADMIN_TOKEN,
  ingest_token: INGEST_TOKEN,
  note: 'row counts per store (timing-dependent tables differ between the two runs); values hold for both',
  sqlite: runs.sqlite ?? previous.sqlite,
  postgres: runs.postgres ?? previous.postgres,
};
writeFileSync(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
for (const [s, r] of Object.entries(runs)) {
  const empty = Object.entries(r.counts).filter(([, n]) => n === 0).map(([t]) => t);
  console.log(`${s}: ${Object.keys(r.counts).length} tables; empty: ${empty.join(', ') || 'none'}`);
}
console.log(`wrote ${OUT}`);
