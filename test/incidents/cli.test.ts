import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident, IncidentDetail } from '../../src/incidents/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');

/** Run the built CLI without blocking this process (the server runs in it). */
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

// each test starts the CLI many times (about 1.5 s each on a busy 2-core machine)
describe('shipshape incident … against a running server', { timeout: 120_000 }, () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    s = await startTestServer('services:\n  web: {}\n  api: {}\n');
    env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
  });
  afterAll(async () => s?.close());

  it('opens, lists, shows, updates, acks and resolves, each with --json', async () => {
    const opened = await cli(['incident', 'open', '--title', 'Checkout fails', '--severity', 'P1', '--service', 'web', '--service', 'api', '--message', 'Stripe errors', '--json'], env);
    expect(opened.stderr).toBe('');
    expect(opened.status).toBe(0);
    const inc = JSON.parse(opened.stdout) as Incident;
    expect(inc).toMatchObject({ title: 'Checkout fails', severity: 'P1', services: ['web', 'api'], state: 'triggered' });

    const list = await cli(['incident', 'list', '--json'], env);
    expect((JSON.parse(list.stdout) as Incident[]).map((i) => i.id)).toContain(inc.id);
    const table = await cli(['incident', 'list'], env);
    expect(table.stdout).toContain(`INC-${inc.id}`);

    const ack = await cli(['incident', 'ack', String(inc.id), '--json'], env);
    expect(JSON.parse(ack.stdout) as Incident).toMatchObject({ state: 'acknowledged' });

    const upd = await cli(['incident', 'update', `INC-${inc.id}`, '--status', 'identified', '--message', 'bad deploy v42', '--json'], env);
    expect(JSON.parse(upd.stdout) as IncidentDetail).toMatchObject({ status: 'identified', updates: expect.arrayContaining([expect.objectContaining({ status: 'identified', message: 'bad deploy v42' })]) });

    const show = await cli(['incident', 'show', String(inc.id)], env);
    expect(show.status).toBe(0);
    expect(show.stdout).toContain('Checkout fails');
    expect(show.stdout).toMatch(/status update — identified: bad deploy v42/);

    const res = await cli(['incident', 'resolve', String(inc.id), '--message', 'rolled back', '--json'], env);
    expect(JSON.parse(res.stdout) as Incident).toMatchObject({ state: 'resolved' });

    const again = await cli(['incident', 'ack', String(inc.id)], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/409 Conflict: INC-\d+ is resolved/);
  });

  it('names the bad field and exits 2 on bad input; needs a token', async () => {
    const bad = await cli(['incident', 'open', '--title', 'x', '--severity', 'P7'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/body\.severity: unknown severity "P7"; levels: P0, P1, P2, P3/);
    const badStatus = await cli(['incident', 'update', '1', '--status', 'panicking', '--message', 'x'], env);
    expect(badStatus.stderr).toMatch(/body\.status/);
    const noToken = await cli(['incident', 'list'], { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: '' });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/needs an API token/);
  });

  it('prints the post-mortem as Markdown with the timeline and the measured duration', async () => {
    const inc = (await (await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: 'DB failover', severity: 'P0', services: ['api'] }) })).json()) as Incident;
    await s.api(`/api/v1/incidents/${inc.id}/updates`, { method: 'POST', body: JSON.stringify({ status: 'investigating', message: 'primary unreachable' }) });
    await new Promise((r) => setTimeout(r, 1100));
    await s.api(`/api/v1/incidents/${inc.id}/resolve`, { method: 'POST', body: '{}' });
    await s.api(`/api/v1/incidents/${inc.id}/postmortem`, {
      method: 'PUT',
      body: JSON.stringify({ root_cause: 'disk full on the primary', went_well: ['failover was automatic'], action_items: [{ title: 'alert on disk usage', owner: 'ada', due: '2030-01-31' }] }),
    });
    const r = await cli(['incident', 'postmortem', String(inc.id)], env);
    expect(r.status).toBe(0);
    const md = r.stdout;
    expect(md).toMatch(new RegExp(`^# Post-mortem: INC-${inc.id} — DB failover`));
    const fetched = (await (await s.api(`/api/v1/incidents/${inc.id}`)).json()) as Incident;
    const duration = Date.parse(fetched.resolved_at!) - Date.parse(fetched.opened_at);
    expect(duration).toBeGreaterThanOrEqual(1000);
    expect(md).toMatch(/- Duration: 1s \(opened /);
    expect(md).toMatch(/- Affected services: api/);
    expect(md).toContain('## Timeline');
    expect(md).toMatch(/\| .* \| INC-\d+ opened \(P0\): DB failover \| token:/);
    expect(md).toMatch(/status update — investigating: primary unreachable/);
    expect(md).toContain('## Root cause\n\ndisk full on the primary');
    expect(md).toContain('- failover was automatic');
    expect(md).toContain('| alert on disk usage | ada | 2030-01-31 | no |');
    const j = await cli(['incident', 'postmortem', String(inc.id), '--json'], env);
    expect(JSON.parse(j.stdout)).toMatchObject({ id: inc.id, markdown: expect.stringContaining('## Impact') });
  });
});
