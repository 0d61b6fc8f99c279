/**
 * Canaries, verification and automatic rollback, end to end: a real git repository with the test
 * app, real child processes, real HTTP load through the proxy, a real Shipshape server with its
 * incidents and checks. Analysis windows are short here (1 s) so a story takes seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import type { EnvironmentStatus, ReleaseDetail } from '../../src/deploy/index.js';
import { deploy } from '../../src/deploy/index.js';
import type { Incident, Timeline } from '../../src/incidents/index.js';
import { telemetry } from '../../src/telemetry/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, load, Repo } from './helpers.js';

describe('canaries, verification and automatic rollback', () => {
  let s: TestServer;
  let web: Repo;
  let api: Repo;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    web = Repo.withApp('v1');
    api = Repo.withApp('a1');
    for (const k of ['webStaging', 'webProd', 'apiProd']) ports[k] = await freePort();
    const health = 'health: { path: /api/health, timeout: 8s, interval: 50ms }';
    s = await startTestServer(`services:
  web:
    checks:
      - name: home
        http: { url: "http://127.0.0.1:${ports.webProd}/", every: 1h }
    deploy:
      repo: ${web.dir}
      start: "node server.js"
      ${health}
      analysis: { interval: 1s, min_requests: 20, p95_ratio: 3 }
      environments:
        staging:
          proxy: { port: ${ports.webStaging} }
          verify:
            smoke:
              - { name: home page, path: /, expect: { status: 200 } }
        production:
          proxy: { port: ${ports.webProd} }
          canary: { steps: [10, 50] }
          watch: 3s
  api:
    checks:
      - name: home
        http: { url: "http://127.0.0.1:${ports.apiProd}/", every: 1h }
    deploy:
      repo: ${api.dir}
      start: "node server.js"
      ${health}
      analysis: { interval: 400ms, min_requests: 20, incident: false }
      environments:
        production:
          proxy: { port: ${ports.apiProd} }
          verify: { checks: [home], timeout: 1s }
`);
  });

  afterAll(async () => {
    await s?.close();
    web?.remove();
    api?.remove();
  });

  const post = async (path: string, body: unknown) => {
    const r = await s.api(path, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as ReleaseDetail & { detail?: string } };
  };
  const status = async (service: string, env: string) => ((await (await s.api(`/api/v1/deploy/${service}`)).json()) as { environments: EnvironmentStatus[] }).environments.find((e) => e.env === env) as EnvironmentStatus;
  const events = async (type: string) => ((await (await s.api(`/api/v1/events?type=${type}&limit=50`)).json()) as { items: EventRecord[] }).items;

  it('runs smoke steps against a new release before it gets traffic, and a failing one never serves', async () => {
    const first = await post('/api/v1/deploy/web/deploys', { env: 'staging' });
    expect(first.body.state).toBe('live');
    expect(first.body.steps.find((st) => st.name === 'smoke')).toMatchObject({ state: 'ok', detail: '1 smoke step passed', output: expect.stringContaining('✓ home page: answered 200') });

    web.commit({ VERSION: 'v2\n', fail: '' }, 'v2 answers 500');
    const broken = await post('/api/v1/deploy/web/deploys', { env: 'staging' });
    expect(broken.body.state).toBe('failed');
    expect(broken.body.error).toBe('smoke: home page: answered 500, expected 200 ("v2 is broken")');
    expect(broken.body.steps.map((st) => st.name)).not.toContain('switch');
    expect(await get(ports.webStaging as number)).toMatchObject({ status: 200, body: 'v1' });
  });

  it('steps a healthy canary up to all traffic, judging each step, with no failed request', async () => {
    web.commit({ VERSION: 'v3\n', fail: null }, 'v3 fixed');
    const base = await post('/api/v1/deploy/web/deploys', { env: 'production', ref: 'HEAD~2' });
    expect(base.body).toMatchObject({ state: 'live', version: expect.any(String) });
    const traffic = load(ports.webProd as number, 4);
    const res = await s.api('/api/v1/deploy/web/deploys', { method: 'POST', headers: { accept: 'application/x-ndjson' }, body: JSON.stringify({ env: 'production', canary: '10%' }) });
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; name?: string; state?: string; detail?: string; release?: ReleaseDetail });
    const result = await traffic.stop();
    const done = lines.at(-1)?.release as ReleaseDetail;
    expect(done.state, done.error ?? '').toBe('live');
    const steps = lines.filter((l) => l.type === 'step' && l.state === 'ok').map((l) => l.name);
    expect(steps).toEqual(expect.arrayContaining(['canary 10%', 'canary 50%', 'switch']));
    expect(steps.indexOf('canary 10%')).toBeLessThan(steps.indexOf('canary 50%'));
    expect(lines.find((l) => l.name === 'canary 10%' && l.state === 'ok')?.detail).toMatch(/^\d+ requests, 0 failed \(success 100%\), p95 .*(previous release p95|none failed, stepping on)/);
    // no request failed while traffic moved, and both versions answered during the canary
    expect(result.failed).toEqual([]);
    expect(new Set(result.bodies)).toEqual(new Set(['v1', 'v3']));
    expect(await get(ports.webProd as number)).toMatchObject({ status: 200, body: 'v3' });
    const st = await status('web', 'production');
    expect(st.canary).toBeNull();
    expect(st.watch).toMatchObject({ release: done.id });
    expect((await events('deploy.canary')).map((e) => e.data.weight)).toEqual([50, 10]);
  });

  it('rolls a broken canary back at its first step under load, pins production and opens an incident', async () => {
    web.commit({ VERSION: 'v4\n', fail: '' }, 'v4 answers 500');
    const traffic = load(ports.webProd as number, 4);
    const r = await post('/api/v1/deploy/web/deploys', { env: 'production', canary: 10 });
    const result = await traffic.stop();
    expect(r.body.state).toBe('rolled_back');
    expect(r.body.error).toMatch(/^canary at 10% failed: (\d+) requests, \1 failed \(success 0%\), p95 .*(: success rate below 99%|, but some failed)$/);
    // the proxy never failed a request: the only errors are the broken release's own 500s, and only some clients saw them
    expect(result.failed.every((f) => f.status === 500 && f.body === 'v4 is broken')).toBe(true);
    expect(result.failed.length).toBeGreaterThan(0);
    expect(result.failed.length).toBeLessThan(result.ok / 3);
    expect(await get(ports.webProd as number)).toMatchObject({ status: 200, body: 'v3' });

    const st = await status('web', 'production');
    expect(st.pinned).toBe(true);
    expect(st.lock).toMatchObject({ owner: 'shipshape:auto-rollback', reason: expect.stringMatching(new RegExp(`^release ${r.body.id} \\(.*\\) was rolled back automatically`)) });

    // the incident, with the deploy story on its timeline
    const incs = ((await (await s.api('/api/v1/incidents?service=web')).json()) as { items: Incident[] }).items;
    const inc = incs.find((i) => i.title === `web production: release ${r.body.id} (${r.body.version}) rolled back automatically`);
    expect(inc).toMatchObject({ severity: 'P1', services: ['web'], state: 'triggered' });
    const changes = (await (await s.api(`/api/v1/incidents/${inc?.id}/changes`)).json()) as Timeline;
    const timeline = (await (await s.api(`/api/v1/incidents/${inc?.id}/timeline`)).json()) as Timeline;
    const story = [...changes.items, ...timeline.items].filter((e) => e.data.release === r.body.id).map((e) => e.type);
    expect(story).toEqual(expect.arrayContaining(['deploy.started', 'deploy.canary', 'deploy.rolled_back', 'deploy.pinned', 'deploy.incident']));

    // pinned: a deploy is refused until a release is promoted explicitly
    web.commit({ VERSION: 'v5\n', fail: null }, 'v5');
    const refused = await post('/api/v1/deploy/web/deploys', { env: 'production' });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/^web\/production is locked by shipshape:auto-rollback: release \d+ .* was rolled back automatically/);
    // a rollback by hand still works while pinned, and keeps the pin
    const back = await post('/api/v1/deploy/web/rollback', { env: 'production' });
    expect(back.body.state).toBe('live');
    expect(await get(ports.webProd as number)).toMatchObject({ status: 200, body: 'v1' });
    expect((await status('web', 'production')).pinned).toBe(true);
    const staged = await post('/api/v1/deploy/web/deploys', { env: 'staging' });
    expect(staged.body.state).toBe('live');
    const promoted = await post(`/api/v1/deploy/web/releases/${staged.body.id}/promote`, { to: 'production' });
    expect(promoted.body.state).toBe('live');
    expect((await status('web', 'production')).pinned).toBe(false);
    expect(await get(ports.webProd as number)).toMatchObject({ status: 200, body: 'v5' });
  });

  it('rolls back in the watch window when the new release is slower than the one before', async () => {
    // 150 ms per answer: far above v5's p95 × 3 even on a loaded machine (a 40 ms lag was not:
    // v5's p95 under load could reach 13 ms, and then no window failed)
    web.commit({ VERSION: 'v6\n', lag: '150' }, 'v6 is slow');
    // v5 answers for a while first: its p95 is the baseline
    const traffic = load(ports.webProd as number, 8);
    await new Promise((done) => setTimeout(done, 1500));
    const r = await post('/api/v1/deploy/web/deploys', { env: 'production' });
    expect(r.body.state).toBe('live');
    // the watch judges each 1 s window against v5's p95 and rolls back; traffic goes on until it
    // did (or the watch ended without it: then the verdicts say why), bounded by a generous deadline
    let rolled: EventRecord | undefined;
    let watched: EventRecord | undefined;
    let verdicts: string[] = [];
    for (const deadline = Date.now() + 60_000; !rolled && !watched && Date.now() < deadline; ) {
      await new Promise((done) => setTimeout(done, 100));
      rolled = (await events('deploy.rolled_back')).find((e) => e.data.from === r.body.id);
      watched = (await events('deploy.watched')).find((e) => e.data.release === r.body.id);
      const w = (await status('web', 'production')).watch;
      if (w?.release === r.body.id) verdicts = w.windows.map((x) => x.reason);
    }
    // the pin comes after the rollback: wait for it before the traffic stops
    for (const deadline = Date.now() + 30_000; rolled && Date.now() < deadline && !(await events('deploy.pinned')).some((e) => e.data.release === r.body.id); ) await new Promise((done) => setTimeout(done, 100));
    const result = await traffic.stop();
    expect(rolled?.data, `no rollback; the watch windows said: ${verdicts.join(' | ') || 'nothing'}${watched ? ' (the watch passed)' : ''}`).toMatchObject({ automatic: true, warm: true, reason: expect.stringMatching(/^watch window: .*: p95 above 3× the previous release's .* ms \(and more than 50 ms above it\)$/) });
    expect(result.failed).toEqual([]);
    expect(await get(ports.webProd as number)).toMatchObject({ status: 200, body: 'v5' });
    const st = await status('web', 'production');
    expect(st.pinned).toBe(true);
    expect(st.live?.id).not.toBe(r.body.id);
    expect(((await (await s.api(`/api/v1/deploy/web/releases/${r.body.id}`)).json()) as ReleaseDetail).state).toBe('rolled_back');
    // the proxy's per-release figures are in the status
    const fig = st.proxy.releases.find((x) => x.release === r.body.id);
    expect(fig?.p95_ms).toBeGreaterThanOrEqual(150);
    // and in telemetry, as metrics of the service labelled with the release (pushed every 10 s; now here)
    await s.use(deploy).service.pushMetrics();
    const q = s.use(telemetry).query;
    const p95 = await q.metric('shipshape_release_latency_p95_ms', { env: 'production', release: String(r.body.id) }, 60_000, 'web');
    expect(p95.value).toBeGreaterThanOrEqual(150);
    const before = await q.metric('shipshape_release_latency_p95_ms', { env: 'production', release: String(rolled?.data.to) }, 60_000, 'web');
    expect(before.value).toBeLessThan(p95.value as number);
  });

  it('rolls back when a named check fails after the switch, and opens no incident when told not to', async () => {
    const first = await post('/api/v1/deploy/api/deploys', {});
    expect(first.body.state).toBe('live');
    expect(first.body.steps.find((st) => st.name === 'verify')).toMatchObject({ state: 'ok', detail: '1 check passed: home' });
    api.commit({ VERSION: 'a2\n', fail: '' }, 'a2 answers 500');
    const broken = await post('/api/v1/deploy/api/deploys', {});
    expect(broken.body.state).toBe('rolled_back');
    expect(broken.body.error).toMatch(/^verification failed: after 1s: home failing \(.*500.*\)$/);
    expect(await get(ports.apiProd as number)).toMatchObject({ status: 200, body: 'a1' });
    expect((await status('api', 'production')).pinned).toBe(true);
    const incs = ((await (await s.api('/api/v1/incidents?service=api')).json()) as { items: Incident[] }).items;
    expect(incs).toEqual([]);
  });
});
