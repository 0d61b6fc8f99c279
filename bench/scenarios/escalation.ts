/**
 * escalation: are pages sent on time, and never twice? A real server (the CLI, `shipshape up`)
 * with a two-step escalation policy that repeats (on-call at 0 s, the lead at 3 s, again 3 s
 * later) pages through a webhook channel to a receiver on loopback. 30 incidents are opened over
 * ~20 s; a third of them are acknowledged after the second step. Lateness is each page's send time
 * (and the webhook's arrival) against its due time: the escalation's start plus the step offsets.
 * Who is paged across rotations and daylight-saving changes is checked by test/oncall (with a
 * simulated clock); this measures the timing of the real process.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTempDir, stopChild, tempDir, type Child } from '../lib/proc.js';
import { percentile, row, type Row } from '../lib/report.js';
import { startServer, TOKEN } from '../lib/shipshape.js';
import type { ScenarioContext } from './types.js';

const INCIDENTS = 30;
const STEP_MS = 3000;
/** due offsets from the escalation's start, per (round, step), for steps [0 s, 3 s], repeat 1, repeat_after 3 s */
const DUE: Record<string, number> = { '1:1': 0, '1:2': STEP_MS, '2:1': 2 * STEP_MS, '2:2': 3 * STEP_MS };

interface Page {
  id: number;
  person: string;
  step: number;
  round: number;
  sent_at: string;
}
interface EscalationOut {
  id: number;
  incident_id: number;
  started_at: string;
  state: string;
  pages: Page[];
}

function receiver(): Promise<{ server: Server; port: number; arrivals: Map<number, number[]> }> {
  const arrivals = new Map<number, number[]>();
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { groupKey?: string };
        const id = Number(/^oncall:page:(\d+)$/.exec(body.groupKey ?? '')?.[1]);
        if (Number.isInteger(id)) arrivals.set(id, [...(arrivals.get(id) ?? []), at]);
      } catch {
        /* not a page */
      }
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, arrivals })));
}

export async function runEscalation(ctx: ScenarioContext): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const dir = tempDir('escalation');
  let child: Child | undefined;
  const rx = await receiver();
  try {
    const configYaml = `
services:
  web: {}
notify:
  channels:
    pager: { webhook: { url: "http://127.0.0.1:${rx.port}/page" } }
people:
  alice: { name: Alice, channels: [pager] }
  bob: { name: Bob, channels: [pager] }
  lead: { name: Lea, channels: [pager] }
oncall:
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers: [{ rotation: daily, handoff: "09:00", start: 2026-01-05, people: [alice, bob] }]
  escalation:
    default:
      steps:
        - { after: 0s, notify: [schedule:primary] }
        - { after: ${STEP_MS / 1000}s, notify: [person:lead] }
      repeat: 1
      repeat_after: ${STEP_MS / 1000}s
`;
    const server = await startServer({ dir, dataDir: join(dir, 'data'), configYaml });
    child = server.child;
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as unknown;
    };
    ctx.log(`escalation: opening ${INCIDENTS} incidents over ~${((INCIDENTS * 700) / 1000).toFixed(0)}s, acknowledging every third after its second page…`);
    const ids: number[] = [];
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < INCIDENTS; i++) {
      const inc = (await api('POST', '/api/v1/incidents', { title: `Bench incident ${i + 1}`, severity: 'P1', services: ['web'] })) as { id: number };
      ids.push(inc.id);
      if (i % 3 === 0) acks.push(sleep(STEP_MS + 1500).then(() => api('POST', `/api/v1/incidents/${inc.id}/acknowledge`, {})));
      await sleep(700);
    }
    await Promise.all(acks);
    await sleep(3 * STEP_MS + 3000);

    const late: number[] = [];
    const delivered: number[] = [];
    let pages = 0;
    let twice = 0;
    let afterAck = 0;
    let missing = 0;
    for (const [i, id] of ids.entries()) {
      const { items } = (await api('GET', `/api/v1/oncall/escalations/${id}`)) as { items: EscalationOut[] };
      const esc = items[0];
      if (!esc) {
        missing += 4;
        continue;
      }
      const start = Date.parse(esc.started_at);
      const seen = new Set<string>();
      for (const p of esc.pages) {
        pages++;
        const k = `${p.round}:${p.step}`;
        if (seen.has(k)) twice++;
        seen.add(k);
        const due = start + (DUE[k] ?? Number.NaN);
        late.push(Date.parse(p.sent_at) - due);
        const got = rx.arrivals.get(p.id) ?? [];
        if (got.length > 1) twice++;
        if (got[0] !== undefined) delivered.push(got[0] - due);
        if (i % 3 === 0 && p.round > 1) afterAck++;
      }
      const expected = i % 3 === 0 ? 2 : 4;
      if (seen.size < expected) missing += expected - seen.size;
    }
    late.sort((a, b) => a - b);
    delivered.sort((a, b) => a - b);
    const worst = late[late.length - 1] ?? null;
    const worstDelivered = delivered[delivered.length - 1] ?? null;
    ctx.log(`escalation: ${pages} pages, worst ${worst} ms late (sent), ${worstDelivered} ms (delivered)`);
    const n = 'escalation';
    const rows: Row[] = [
      row({ scenario: n, metric: 'pages sent (30 escalations, 10 acknowledged)', goal: '100', value: pages, unit: '', pass: pages === 100 && missing === 0 }),
      row({ scenario: n, metric: 'page sent after its due time, max', goal: '< 2 s', value: worst, unit: 'ms', pass: worst !== null && worst < 2000, note: `p50 ${percentile(late, 0.5)} ms, p99 ${percentile(late, 0.99)} ms` }),
      row({ scenario: n, metric: 'webhook received after its due time, max', goal: '< 2 s', value: worstDelivered, unit: 'ms', pass: worstDelivered !== null && worstDelivered < 2000, note: `p50 ${percentile(delivered, 0.5)} ms` }),
      row({ scenario: n, metric: 'pages sent or delivered twice', goal: '0', value: twice, unit: '', pass: twice === 0 }),
      row({ scenario: n, metric: 'pages after an acknowledgement', goal: '0', value: afterAck, unit: '', pass: afterAck === 0 }),
    ];
    return { rows, raw: { pages, missing, twice, after_ack: afterAck, late_ms: late, delivered_ms: delivered } };
  } finally {
    if (child) await stopChild(child);
    rx.server.close();
    removeTempDir(dir);
  }
}
