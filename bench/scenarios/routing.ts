/**
 * routing: alerts pushed in Prometheus' format, routed through the same Alertmanager routing tree
 * and delivered to the same webhook receiver — Shipshape (`shipshape up`, embedded SQLite) side by
 * side in one run with the real Alertmanager (Debian's prometheus-alertmanager, `apt-get install
 * prometheus-alertmanager`; the row says so when it is missing).
 *
 * Both get one config: a tree like Alertmanager's doc/examples/simple.yml (regex and equality
 * matchers, a `continue` route, group_by [alertname, service], group_wait 1s, group_interval 1s).
 * BENCH_ROUTING_ALERTS distinct alerts (default 20,000) are pushed in batches of 100 from
 * BENCH_ROUTING_C connections (default 4). Measured: alerts accepted per second (push start → last
 * 200), the time from the last push answered until the receiver has a notification for every
 * group the tree makes, and the server's RSS after it.
 */
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { freePort, removeTempDir, rssBytes, startChild, stopChild, tempDir, waitForHttp, waitForQuiet, type Child } from '../lib/proc.js';
import { MB, row, type Row } from '../lib/report.js';
import { ROOT, startServer } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';
import { INGEST_CONFIG, INGEST_TOKEN } from './ingest.js';

const ALERTS = Number(process.env.BENCH_ROUTING_ALERTS ?? 20_000);
const CONNECTIONS = Number(process.env.BENCH_ROUTING_C ?? 4);
const BATCH = 100;
const AM_BIN = '/usr/bin/prometheus-alertmanager';
const SERVICES = 40;
const NAMES = 25;

/** counts notifications and the distinct (receiver, group) pairs it has heard of */
const RECEIVER = `
import { createServer } from 'node:http';
const groups = new Map();
let posts = 0;
const s = createServer((req, res) => {
  if (req.url === '/stats') { res.end(JSON.stringify({ posts, groups: groups.size })); return; }
  if (req.url === '/reset') { groups.clear(); posts = 0; res.end('ok'); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    posts++;
    try {
      const p = JSON.parse(Buffer.concat(chunks).toString());
      const key = req.url + ' ' + JSON.stringify(Object.entries(p.groupLabels ?? {}).sort());
      groups.set(key, (groups.get(key) ?? 0) + (p.alerts?.length ?? 0));
    } catch {}
    res.writeHead(200); res.end('ok');
  });
});
s.keepAliveTimeout = 72000;
s.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('LISTENING ' + s.address().port));
`;

/** The tree, written once; both configs embed it. Receivers are webhooks to /<name>. */
function tree(indent: string): string {
  return `route:
  receiver: default
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['service=~"svc-(0|1).*"']
      receiver: team-a
      routes:
        - matchers: [severity="critical"]
          receiver: team-a-pager
    - matchers: ['service=~"svc-2.*"', 'severity!="info"']
      receiver: team-b
    - matchers: [severity="critical"]
      receiver: oncall
      continue: true
    - matchers: ['alertname=~"Name(1|2)[0-9]"']
      receiver: names
`
    .split('\n')
    .map((l) => (l ? indent + l : l))
    .join('\n');
}

const RECEIVERS = ['default', 'team-a', 'team-a-pager', 'team-b', 'oncall', 'names'];

/** which receivers the tree above sends a label set to (Alertmanager's semantics), to count groups */
function expectedGroups(): number {
  const seen = new Set<string>();
  for (let i = 0; i < ALERTS; i++) {
    const l = labelsOf(i);
    const out: string[] = [];
    if (/^svc-(0|1).*$/.test(l.service)) out.push(l.severity === 'critical' ? 'team-a-pager' : 'team-a');
    else if (/^svc-2.*$/.test(l.service) && l.severity !== 'info') out.push('team-b');
    else {
      if (l.severity === 'critical') out.push('oncall');
      if (/^Name(1|2)[0-9]$/.test(l.alertname)) out.push('names');
      if (!out.length) out.push('default');
    }
    for (const r of out) seen.add(`${r} ${l.alertname} ${l.service}`);
  }
  return seen.size;
}

function labelsOf(i: number): { alertname: string; service: string; severity: string; instance: string } {
  return { alertname: `Name${i % NAMES}`, service: `svc-${(i * 7) % SERVICES}`, severity: ['critical', 'warning', 'info'][i % 3] as string, instance: `host-${i}` };
}

async function startScript(dir: string, name: string, code: string): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = startChild(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env: { PORT: String(port) }, logFile: join(dir, `${name}.log`) });
  const end = performance.now() + 30_000;
  while (!/LISTENING/.test(child.output())) {
    if (performance.now() > end || child.proc.exitCode !== null) throw new Error(`${name} did not start:\n${child.output()}`);
    await sleep(50);
  }
  return { child, port };
}

interface Run {
  alertsPerS: number;
  failed: number;
  /** last push answered → every group notified, ms (null: not within the limit) */
  deliveredMs: number | null;
  groups: number;
  rssMb: number;
}

async function push(origin: string, headers: Record<string, string>): Promise<{ alertsPerS: number; failed: number }> {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  const startsAt = new Date().toISOString();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= ALERTS) return;
      next += BATCH;
      const body = JSON.stringify(
        Array.from({ length: Math.min(BATCH, ALERTS - from) }, (_, k) => ({ labels: labelsOf(from + k), annotations: { summary: `alert ${from + k}` }, startsAt, generatorURL: 'http://prometheus.local/graph' })),
      );
      const r = await pool.request({ path: '/api/v2/alerts', method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      await r.body.text();
      if (r.statusCode !== 200) failed++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const took = (performance.now() - t0) / 1000;
  await pool.close();
  return { alertsPerS: ALERTS / took, failed };
}

async function measure(origin: string, headers: Record<string, string>, receiverPort: number, pid: number, want: number): Promise<Run> {
  await fetch(`http://127.0.0.1:${receiverPort}/reset`);
  const p = await push(origin, headers);
  const t = performance.now();
  let deliveredMs: number | null = null;
  let groups = 0;
  for (let i = 0; i < 1200; i++) {
    groups = ((await (await fetch(`http://127.0.0.1:${receiverPort}/stats`)).json()) as { groups: number }).groups;
    if (groups >= want) {
      deliveredMs = performance.now() - t;
      break;
    }
    await sleep(50);
  }
  return { ...p, deliveredMs, groups, rssMb: rssBytes(pid) / MB };
}

export async function runRouting(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('routing');
  const kids: Child[] = [];
  const want = expectedGroups();
  try {
    await waitForQuiet(ctx.log, 'routing');
    const rcv = await startScript(dir, 'receiver', RECEIVER);
    kids.push(rcv.child);
    const hook = (name: string) => `http://127.0.0.1:${rcv.port}/${name}`;

    let am: Run | undefined;
    if (existsSync(AM_BIN)) {
      const amConfig = join(dir, 'alertmanager.yml');
      writeFileSync(amConfig, `${tree('')}\nreceivers:\n${RECEIVERS.map((r) => `  - name: ${r}\n    webhook_configs: [{ url: "${hook(r)}", send_resolved: false }]\n`).join('')}`);
      const port = await freePort();
      const cluster = await freePort();
      const child = startChild(AM_BIN, [`--config.file=${amConfig}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${port}`, `--cluster.listen-address=`, `--cluster.advertise-address=127.0.0.1:${cluster}`], { cwd: dir, logFile: join(dir, 'alertmanager.log') });
      kids.push(child);
      await waitForHttp(`http://127.0.0.1:${port}/-/ready`, child, 60_000);
      ctx.log(`alertmanager: ${ALERTS} alerts at c=${CONNECTIONS}…`);
      am = await measure(`http://127.0.0.1:${port}`, {}, rcv.port, child.proc.pid as number, want);
      await stopChild(child);
    } else ctx.log(`routing: ${AM_BIN} missing (apt-get install prometheus-alertmanager); no reference`);

    const channels = RECEIVERS.map((r) => `    ${r}: { webhook: { url: "${hook(r)}" }, send_resolved: false }\n`).join('');
    const server = await startServer({ dir, dataDir: join(dir, 'data'), configYaml: `${INGEST_CONFIG}notify:\n  channels:\n${channels}${tree('  ')}\n` });
    kids.push(server.child);
    ctx.log(`shipshape: ${ALERTS} alerts at c=${CONNECTIONS}…`);
    const ss = await measure(server.url, { authorization: `Bearer ${INGEST_TOKEN}` }, rcv.port, server.child.proc.pid as number, want);
    await stopChild(server.child);

    const ref = (v: number | null | undefined) => (am && v !== null && v !== undefined ? { name: 'Alertmanager 0.25 (Debian)', value: Math.round(v) } : undefined);
    const rows = [
      row({ scenario: 'routing', metric: `alerts pushed + routed (${ALERTS}, batches of ${BATCH}, c=${CONNECTIONS})`, goal: '>= 0.5× Alertmanager', value: Math.round(ss.alertsPerS), unit: '/s', pass: am ? ss.alertsPerS >= 0.5 * am.alertsPerS && ss.failed === 0 : null, reference: ref(am?.alertsPerS), note: ss.failed ? `${ss.failed} batches refused` : undefined }),
      row({ scenario: 'routing', metric: `last push → every group notified (${want} groups)`, goal: '', value: ss.deliveredMs === null ? null : Math.round(ss.deliveredMs), unit: 'ms', pass: ss.deliveredMs === null ? false : null, reference: ref(am?.deliveredMs), note: ss.deliveredMs === null ? `${ss.groups}/${want} groups notified` : undefined }),
      row({ scenario: 'routing', metric: 'server RSS after', goal: '', value: Math.round(ss.rssMb), unit: 'MB', pass: null, reference: ref(am?.rssMb) }),
    ];
    return { rows, raw: { alerts: ALERTS, connections: CONNECTIONS, groups: want, shipshape: ss, alertmanager: am ?? null } };
  } finally {
    for (const k of kids) await stopChild(k).catch(() => undefined);
    removeTempDir(dir);
  }
}
