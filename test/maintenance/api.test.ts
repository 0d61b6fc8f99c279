/**
 * Maintenance windows through a running Shipshape: the API (scopes, problem+json), the CLI
 * (`shipshape maintenance add|list|cancel` against the server), alerts pushed over HTTP held back
 * and shown as suppressed with the window as the reason then sent to a real webhook when the
 * window ends, and the status page's Statuspage-shaped JSON and HTML.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceWindow } from '../../src/maintenance/index.js';
import { maintenance } from '../../src/maintenance/index.js';
import { notify } from '../../src/notify/index.js';
import { startReceiver, type Receiver } from '../notify/helpers.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');
const INGEST = 'maint-ingest-token-0123456789';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('maintenance windows on a running server', () => {
  let s: TestServer;
  let rx: Receiver;
  let env: NodeJS.ProcessEnv;
  const post = (path: string, body: unknown, token?: string | null) => s.api(path, { method: 'POST', body: JSON.stringify(body), token });
  const add = async (body: Record<string, unknown>): Promise<MaintenanceWindow> => {
    const r = await post('/api/v1/maintenance', body);
    expect(r.status, await r.clone().text()).toBe(201);
    return (await r.json()) as MaintenanceWindow;
  };

  beforeAll(async () => {
    rx = await startReceiver();
    s = await startTestServer(`
ingest:
  tokens: ["${INGEST}"]
services:
  api: { description: Public API }
  web: {}
  db: {}
  queue: {}
notify:
  defaults: { group_wait: 0s, group_interval: 1h }
  channels:
    hook: { webhook: { url: "${rx.url}/hook" } }
maintenance:
  windows:
    - name: db-upgrades
      title: Monthly database upgrades
      services: [db]
      rrule: "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1"
      start: "02:00"
      duration: 2h
      max: 2h
      timezone: UTC
      notice: 48h
`);
    env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
  });
  afterAll(async () => {
    await s?.close();
    await rx?.close();
  });

  it('answers bad input with problem+json naming the field, overlaps with 409, and needs the right scope', async () => {
    const start = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const bad = async (body: unknown, status: number) => {
      const r = await post('/api/v1/maintenance', body);
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      return (await r.json()) as { detail: string; errors?: { path: string; message: string }[] };
    };
    expect((await bad({ title: 'x', services: ['nope'], starts_at: start, duration: '1h' }, 400)).errors).toEqual([{ path: 'body.services.0', message: 'unknown service "nope"; services: api, web, db, queue' }]);
    expect((await bad({ title: 'x', services: ['web'], starts_at: 'tomorrow', duration: '1h' }, 400)).errors?.[0]).toMatchObject({ path: 'body.starts_at', message: expect.stringContaining('RFC 3339') });
    expect((await bad({ title: 'x', services: ['web'], starts_at: start, duration: 'soon' }, 400)).errors?.[0]?.path).toBe('body.duration');
    expect((await bad({ title: 'x', services: ['web'], starts_at: start, duration: '0s' }, 400)).detail).toContain('duration must be more than 0');
    expect((await bad({ title: 'x', services: ['web'], starts_at: start, duration: '3h', max: '2h' }, 400)).detail).toContain('longer than max');
    expect((await bad({ title: 'x', services: ['web'], starts_at: '2020-01-01T00:00:00Z', duration: '1h' }, 400)).detail).toContain('would already be over');
    expect((await bad({ title: 'x', services: ['web'], starts_at: start, duration: '1h', colour: 'red' }, 400)).errors?.[0]?.message).toMatch(/colour/);

    const first = await add({ title: 'Queue upgrade', services: ['queue'], starts_at: start, duration: '1h' });
    const clash = await bad({ title: 'Also queue', services: ['queue', 'web'], starts_at: new Date(Date.parse(start) + 30 * 60_000).toISOString(), duration: '1h' }, 409);
    expect(clash.detail).toContain(`overlaps maintenance window ${first.id} "Queue upgrade"`);

    expect((await s.api('/api/v1/maintenance', { token: null })).status).toBe(401);
    const reader = (await s.tokens.create('reader', ['read'], 'system')).token;
    expect((await s.api('/api/v1/maintenance', { token: reader })).status).toBe(200);
    expect((await post('/api/v1/maintenance', { title: 'x', services: ['web'], starts_at: start, duration: '1h' }, reader)).status).toBe(403);
    expect((await post(`/api/v1/maintenance/${first.id}/cancel`, {})).status).toBe(200);
    expect((await s.api('/api/v1/maintenance/999999')).status).toBe(404);
  });

  it('adds, lists and cancels windows with the CLI, each with --json', async () => {
    const added = await cli(['maintenance', 'add', '--title', 'Web deploy freeze', '--service', 'web', '--starts', '+26h', '--duration', '90m', '--max', '2h', '--message', 'Expect short blips', '--json'], env);
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    const w = JSON.parse(added.stdout) as MaintenanceWindow;
    expect(w).toMatchObject({ title: 'Web deploy freeze', services: ['web'], status: 'scheduled', message: 'Expect short blips', max_ms: 2 * 3_600_000, created_by: expect.stringContaining('admin') });
    expect(Date.parse(w.ends_at) - Date.parse(w.starts_at)).toBe(90 * 60_000);

    const list = await cli(['maintenance', 'list', '--json'], env);
    const items = JSON.parse(list.stdout) as MaintenanceWindow[];
    expect(items.map((x) => x.id)).toContain(w.id);
    // the config's recurring window is listed too, occurrence by occurrence
    expect(items.filter((x) => x.recurring === 'db-upgrades').length).toBe(3);
    const table = await cli(['maintenance', 'list'], env);
    expect(table.stdout).toContain('Web deploy freeze');

    const cancelled = await cli(['maintenance', 'cancel', String(w.id), '--json'], env);
    expect(JSON.parse(cancelled.stdout) as MaintenanceWindow).toMatchObject({ id: w.id, status: 'cancelled' });
    const again = await cli(['maintenance', 'cancel', String(w.id)], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`409 Conflict: maintenance window ${w.id} is cancelled and cannot be cancelled`);
    const wrong = await cli(['maintenance', 'add', '--title', 'x', '--service', 'nope', '--starts', '+1h', '--duration', '1h'], env);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('body.services.0: unknown service "nope"');
  }, 180_000); // six CLI processes: slow to start on a busy machine

  it('holds back pushed alerts of the services while in progress, shows why, and sends what still fires when it ends', async () => {
    const w = await add({ title: 'API database failover', services: ['api'], starts_at: 'now', duration: '1h' });
    expect(w.status).toBe('in_progress');
    const push = (alertname: string, service: string) => s.api('/api/v2/alerts', { method: 'POST', token: INGEST, body: JSON.stringify([{ labels: { alertname, service, severity: 'critical' }, annotations: { summary: `${service} down` } }]) });
    expect((await push('ApiDown', 'api')).status).toBe(200);
    expect((await push('WebDown', 'web')).status).toBe(200);
    await s.use(notify).settled();
    await s.use(notify).tick();
    await rx.waitFor(1, 5000, (r) => r.body.includes('WebDown'));
    await s.use(notify).queue.idle();
    expect(rx.requests.some((r) => r.body.includes('ApiDown'))).toBe(false);

    const state = (await (await s.api('/api/v1/notify/alerts')).json()) as { items: { labels: Record<string, string>; suppressed: boolean; silenced_by: string[] }[] };
    const api = state.items.find((a) => a.labels.alertname === 'ApiDown');
    expect(api).toMatchObject({ suppressed: true, silenced_by: [w.silence_id] });
    const silence = (await (await s.api(`/api/v1/silences/${w.silence_id}`)).json()) as { comment: string; createdBy: string };
    expect(silence).toMatchObject({ createdBy: 'maintenance', comment: expect.stringContaining(`maintenance window ${w.id} "API database failover"`) });
    await s.use(maintenance).settled();
    const suppressed = (await (await s.api('/api/v1/events?type=alert.suppressed')).json()) as { items: { data: Record<string, unknown> }[] };
    expect(suppressed.items.map((e) => e.data)).toContainEqual(expect.objectContaining({ alertname: 'ApiDown', maintenance_id: w.id, reason: expect.stringContaining('API database failover') }));

    // ended by hand (early): the held-back alert is sent at once
    const ended = await post(`/api/v1/maintenance/${w.id}/end`, {});
    expect(((await ended.json()) as MaintenanceWindow).status).toBe('completed');
    const got = await rx.waitFor(1, 5000, (r) => r.body.includes('ApiDown'));
    expect(got[0]!.json()).toMatchObject({ status: 'firing', commonLabels: { alertname: 'ApiDown', service: 'api' } });
    expect((await post(`/api/v1/maintenance/${w.id}/end`, {})).status).toBe(409);
  });

  it('shows upcoming and active maintenance on the status page: Statuspage JSON, component status, indicator, escaped HTML', async () => {
    const before = (await (await fetch(`${s.url}/api/v2/summary.json`)).json()) as { scheduled_maintenances: unknown[] };
    const active = await add({ title: 'Web <b>cache</b> swap', services: ['web'], starts_at: 'now', duration: '2h', message: 'Pages may load <i>slowly</i>' });
    const soon = await add({ title: 'API upgrade', services: ['api'], starts_at: '+3h', duration: '1h' });

    // the cached page was dropped by the maintenance events: the change shows at once
    const summary = (await (await fetch(`${s.url}/api/v2/summary.json`)).json()) as {
      status: { indicator: string };
      components: { name: string; status: string }[];
      scheduled_maintenances: { id: string; name: string; status: string; impact: string; scheduled_for: string; scheduled_until: string; components: { name: string }[]; incident_updates: { status: string }[] }[];
    };
    expect(summary.scheduled_maintenances.length).toBeGreaterThan(before.scheduled_maintenances.length);
    expect(summary.status.indicator).toBe('maintenance');
    expect(summary.components.find((c) => c.name === 'web')?.status).toBe('under_maintenance');
    expect(summary.components.find((c) => c.name === 'api')?.status).toBe('operational');
    const a = summary.scheduled_maintenances.find((m) => m.id === `m${active.id}`);
    expect(a).toMatchObject({ name: 'Web <b>cache</b> swap', status: 'in_progress', impact: 'maintenance', scheduled_for: active.starts_at, scheduled_until: active.ends_at, components: [expect.objectContaining({ name: 'web' })] });
    expect(a?.incident_updates.map((u) => u.status)).toEqual(['in_progress', 'scheduled']);
    expect(summary.scheduled_maintenances.find((m) => m.id === `m${soon.id}`)).toMatchObject({ status: 'scheduled', components: [expect.objectContaining({ name: 'api' })] });

    const upcoming = (await (await fetch(`${s.url}/api/v2/scheduled-maintenances/upcoming.json`)).json()) as { page: { id: string }; scheduled_maintenances: { id: string; status: string }[] };
    expect(upcoming.page.id).toBeTruthy();
    expect(upcoming.scheduled_maintenances.every((m) => m.status === 'scheduled')).toBe(true);
    expect(upcoming.scheduled_maintenances.map((m) => m.id)).toContain(`m${soon.id}`);
    const act = (await (await fetch(`${s.url}/api/v2/scheduled-maintenances/active.json`)).json()) as { scheduled_maintenances: { id: string; status: string }[] };
    // the config's monthly window is in progress too when the run falls on a first Tuesday, 02:00-04:00 UTC
    const open = (await (await s.api('/api/v1/maintenance')).json()) as { items: MaintenanceWindow[] };
    const recurring = new Set(open.items.filter((x) => x.recurring === 'db-upgrades').map((x) => `m${x.id}`));
    expect(act.scheduled_maintenances.filter((m) => !recurring.has(m.id)).map((m) => `${m.id} ${m.status}`)).toEqual([`m${active.id} in_progress`]);
    expect(act.scheduled_maintenances.every((m) => m.status === 'in_progress')).toBe(true);

    const html = await (await fetch(`${s.url}/status`)).text();
    expect(html).toContain('Maintenance in progress');
    expect(html).toContain('Scheduled maintenance');
    expect(html).toContain('Web &lt;b&gt;cache&lt;/b&gt; swap');
    expect(html).toContain('Pages may load &lt;i&gt;slowly&lt;/i&gt;');
    expect(html).not.toContain('<b>cache</b>');
    expect(html).toContain(`id="maintenance-${soon.id}"`);
    expect(html).toMatch(/class="banner i-maintenance"[^>]*>Service Under Maintenance/);

    // completed: into scheduled-maintenances.json (history), out of summary and active
    await post(`/api/v1/maintenance/${active.id}/end`, {});
    const all = (await (await fetch(`${s.url}/api/v2/scheduled-maintenances.json`)).json()) as { scheduled_maintenances: { id: string; status: string; resolved_at: string | null }[] };
    expect(all.scheduled_maintenances.find((m) => m.id === `m${active.id}`)).toMatchObject({ status: 'completed', resolved_at: expect.any(String) });
    const after = (await (await fetch(`${s.url}/api/v2/summary.json`)).json()) as { status: { indicator: string }; scheduled_maintenances: { id: string }[] };
    expect(after.scheduled_maintenances.map((m) => m.id)).not.toContain(`m${active.id}`);
    expect(after.status.indicator).toBe(act.scheduled_maintenances.some((m) => recurring.has(m.id)) ? 'maintenance' : 'none');
    await s.use(maintenance).service.cancel(soon.id, 'test');
  });
});
