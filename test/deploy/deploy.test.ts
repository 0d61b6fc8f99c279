/**
 * The deploy pipeline end to end: a real git repository with a tiny Node app, the real `git`,
 * real child processes, real HTTP through the proxy, a real Shipshape server and its API.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, Problem } from '../../src/core/api-types.js';
import type { EnvironmentStatus, Release, ReleaseDetail } from '../../src/deploy/index.js';
import type { Timeline } from '../../src/incidents/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, load, Repo, upgradeEcho } from './helpers.js';

describe('deploys with the process driver', () => {
  let s: TestServer;
  let web: Repo;
  let small: Repo;
  let other: Repo;
  const ports: Record<string, number> = {};
  const tmp = mkdtempSync(join(tmpdir(), 'shipshape-deploy-'));
  const go = join(tmp, 'go');
  const ADMIN_ACTOR = 'token:admin (SHIPSHAPE_ADMIN_TOKEN)';

  beforeAll(async () => {
    web = Repo.withApp('v1');
    web.git('tag', 'v1.0.0');
    small = Repo.withApp('s1');
    other = Repo.withApp('o1');
    for (const k of ['webStaging', 'webProd', 'slowStaging', 'slowProd', 'gated', 'hung', 'envcheck', 'small']) ports[k] = await freePort();
    process.env.SHIPSHAPE_TEST_LEAK = 'shipshape-only-0123456789';
    const health = 'health: { path: /api/health, timeout: 8s, interval: 50ms }';
    s = await startTestServer(`services:
  web:
    deploy:
      repo: ${web.dir}
      start: "node server.js"
      env: { API_TOKEN: "tok-0123456789abcdef", GREETING: "hello" }
      ${health}
      environments:
        staging: { proxy: { port: ${ports.webStaging} } }
        production: { proxy: { port: ${ports.webProd} }, watch: 10m }
  slow:
    deploy:
      repo: ${other.dir}
      start: "node server.js"
      ${health}
      gates:
        - name: wait for go
          run: "while [ ! -f ${go} ]; do sleep 0.05; done"
      environments:
        staging: { proxy: { port: ${ports.slowStaging} } }
        production: { proxy: { port: ${ports.slowProd} } }
  gated:
    deploy:
      repo: ${other.dir}
      start: "node server.js"
      ${health}
      gates:
        - run: "echo 'src/a.ts(3,1): warning TS6133: x is declared but its value is never read.'"
          max_warnings: 0
      environments:
        production: { proxy: { port: ${ports.gated} } }
  hung:
    deploy:
      repo: ${other.dir}
      start: "node server.js"
      ${health}
      gates:
        - name: hangs
          run: "echo checking; sleep 600"
          timeout: 500ms
      environments:
        production: { proxy: { port: ${ports.hung} } }
  envcheck:
    deploy:
      repo: ${other.dir}
      start: "node server.js"
      ${health}
      env: { API_TOKEN: "tok-0123456789abcdef", GREETING: "hello" }
      gates:
        - name: env
          run: "env | sort"
      environments:
        production: { proxy: { port: ${ports.envcheck} } }
  small:
    deploy:
      repo: ${small.dir}
      start: "node server.js"
      ${health}
      keep_releases: 1
      environments:
        production: { proxy: { port: ${ports.small} } }
`);
  });

  afterAll(async () => {
    await s?.close();
    for (const r of [web, small, other]) r?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  const deploy = async (service: string, body: Record<string, unknown> = {}) => {
    const res = await s.api(`/api/v1/deploy/${service}/deploys`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as ReleaseDetail & Problem };
  };
  const rollback = async (service: string, body: Record<string, unknown> = {}) => {
    const res = await s.api(`/api/v1/deploy/${service}/rollback`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as ReleaseDetail & Problem };
  };
  const events = async (type: string) => ((await (await s.api(`/api/v1/events?type=${encodeURIComponent(type)}&limit=500`)).json()) as { items: EventRecord[] }).items;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  let v1: ReleaseDetail;

  it('cuts a release from git, starts it, health-gates it and serves it through the proxy', async () => {
    const before = await get(ports.webStaging as number);
    expect(before.status).toBe(503);
    expect(before.body).toMatch(/no release of web\/staging is live yet/);

    const r = await deploy('web');
    expect(r.status).toBe(200);
    v1 = r.body;
    expect(v1).toMatchObject({ service: 'web', env: 'staging', state: 'live', version: 'v1.0.0', git_sha: web.git('rev-parse', 'HEAD'), ref: 'HEAD', author: 'Ada Lovelace <ada@example.com>', commit_message: 'app v1', actor: ADMIN_ACTOR, on_disk: true, error: null });
    expect(v1.steps.map((st) => [st.name, st.state])).toEqual([['cut', 'ok'], ['start', 'ok'], ['health', 'ok'], ['switch', 'ok']]);
    expect(v1.steps.find((st) => st.name === 'health')?.output).toContain(`as v1`);

    const res = await get(ports.webStaging as number);
    expect(res).toMatchObject({ status: 200, body: 'v1', release: String(v1.id) });

    // the release's own directory, cut with git archive: the tree, no .git
    const dir = join(s.dir, 'data', 'releases', 'web', String(v1.id));
    expect(readdirSync(dir).sort()).toEqual(['VERSION', 'server.js']);

    // the config snapshot names env variables, never their values
    expect(v1.config).toMatchObject({ start: 'node server.js', env: ['API_TOKEN', 'GREETING'] });
    expect(JSON.stringify(v1)).not.toContain('tok-0123456789abcdef');

    const evs = (await events('deploy.*')).filter((e) => e.data.release === v1.id).reverse();
    expect(evs.map((e) => e.type)).toEqual(['deploy.started', 'deploy.step', 'deploy.step', 'deploy.step', 'deploy.step', 'deploy.succeeded']);
    for (const e of evs) expect(e.data).toMatchObject({ service: 'web', env: 'staging', release: v1.id });
    expect(evs.map((e) => e.actor)).toEqual(Array(6).fill(ADMIN_ACTOR));
  });

  it('passes WebSocket-style upgrades and keeps client connections alive through the proxy', async () => {
    expect(await upgradeEcho(ports.webStaging as number, 'hello')).toEqual({ status: 101, answer: 'v1:hello' });
    // one keep-alive connection carries many requests
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const res = await new Promise<IncomingMessage>((done, fail) => request({ host: '127.0.0.1', port: ports.webStaging, path: '/', agent }, done).on('error', fail).end());
      sockets.add(res.socket);
      res.resume();
      await new Promise((r) => res.on('end', r));
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
  });

  it('keeps the old release serving when the new one never gets healthy, and when it crashes on boot', async () => {
    const sick = web.commit({ unhealthy: 'yes', VERSION: 'v2-sick\n' }, 'sick');
    const r = await deploy('web');
    expect(r.body).toMatchObject({ state: 'failed', git_sha: sick });
    expect(r.body.error).toMatch(/^health: not healthy after 8s: GET \/api\/health answered 500$/);
    const pid = Number(/pid (\d+)/.exec(r.body.steps.find((st) => st.name === 'start')?.detail ?? '')?.[1]);
    expect(alive(pid)).toBe(false); // the unhealthy release was stopped
    expect(await get(ports.webStaging as number)).toMatchObject({ status: 200, body: 'v1' });

    web.commit({ unhealthy: null, crash: 'yes', VERSION: 'v2-crash\n' }, 'crash');
    const c = await deploy('web');
    expect(c.body.state).toBe('failed');
    expect(c.body.error).toMatch(/health: the app exited during start \(exit code 3\)/);
    expect(c.body.steps.find((st) => st.name === 'health')?.output).toContain('boom: crashing on boot');
    expect(await get(ports.webStaging as number)).toMatchObject({ status: 200, body: 'v1' });

    const failed = (await events('deploy.failed')).find((e) => e.data.release === c.body.id);
    expect(failed?.data).toMatchObject({ service: 'web', env: 'staging', still_serving: v1.id });
    web.commit({ crash: null, VERSION: 'v2\n' }, 'app v2');
  }, 90_000);

  it('promotes a staging release to production, then rolls back instantly under load without a failed request', async () => {
    const promoted = await s.api(`/api/v1/deploy/web/releases/${v1.id}/promote`, { method: 'POST', body: JSON.stringify({ to: 'production' }) });
    const p = (await promoted.json()) as ReleaseDetail;
    expect(p).toMatchObject({ env: 'production', state: 'live', promoted_from: v1.id, git_sha: v1.git_sha, version: 'v1.0.0' });
    expect(p.steps.map((st) => st.name)).toEqual(['copy', 'start', 'health', 'switch']);
    expect(await get(ports.webProd as number)).toMatchObject({ body: 'v1', release: String(p.id) });

    const v2 = (await deploy('web', { env: 'production' })).body;
    expect(v2).toMatchObject({ state: 'live', env: 'production' });
    expect(await get(ports.webProd as number)).toMatchObject({ body: 'v2' });
    const status = (await (await s.api('/api/v1/deploy/web')).json()) as { environments: EnvironmentStatus[] };
    const prod = status.environments.find((e) => e.env === 'production');
    expect(prod?.live?.id).toBe(v2.id);
    expect(prod?.warm.map((w) => w.id)).toEqual([p.id]);

    const traffic = load(ports.webProd as number, 8);
    // requests are flowing to v2 before the switch
    while ((await get(ports.webProd as number)).body !== 'v2');
    const rb = await rollback('web');
    expect(rb.status).toBe(200);
    expect(rb.body).toMatchObject({ id: p.id, state: 'live' });
    // warm: the switch was a pointer swap, nothing was started again
    expect(rb.body.steps.map((st) => st.name)).toEqual(['copy', 'start', 'health', 'switch', 'switch']);
    for (let i = 0; i < 20; i++) expect((await get(ports.webProd as number)).body).toBe('v1');
    const seen = await traffic.stop();
    expect(seen.failed).toEqual([]);
    expect(seen.bodies).toContain('v2');
    expect(seen.bodies).toContain('v1');
    expect(seen.bodies.lastIndexOf('v2')).toBeLessThan(seen.bodies.length - 1);

    const list = (await (await s.api('/api/v1/deploy/web/releases?env=production')).json()) as { items: Release[] };
    expect(list.items.map((r) => [r.id, r.state])).toEqual([
      [v2.id, 'rolled_back'],
      [p.id, 'live'],
    ]);
    // the proxy counted what each release answered: nothing failed on either
    const counted = ((await (await s.api('/api/v1/deploy/web')).json()) as { environments: EnvironmentStatus[] }).environments.find((e) => e.env === 'production')?.proxy.releases ?? [];
    expect(counted.find((c) => c.release === v2.id)).toMatchObject({ requests: expect.any(Number), errors: 0 });
    expect(counted.find((c) => c.release === p.id)?.requests).toBeGreaterThan(20);
    expect(counted.every((c) => c.errors === 0)).toBe(true);
    const rolled = (await events('deploy.rolled_back'))[0];
    expect(rolled?.data).toMatchObject({ service: 'web', env: 'production', from: v2.id, to: p.id, warm: true });
  }, 90_000);

  it('refuses a second concurrent deploy, naming the lock owner and reason; honours a lock taken by hand', async () => {
    const first = s.api('/api/v1/deploy/slow/deploys', { method: 'POST', body: '{}' });
    let lock: EnvironmentStatus['lock'] = null;
    while (!lock) {
      const st = (await (await s.api('/api/v1/deploy/slow')).json()) as { environments: EnvironmentStatus[] };
      lock = st.environments.find((e) => e.env === 'staging')?.lock ?? null;
    }
    expect(lock).toMatchObject({ owner: ADMIN_ACTOR, reason: expect.stringMatching(/^deploying HEAD \([0-9a-f]{7}\) to staging$/) });

    const second = await deploy('slow');
    expect(second.status).toBe(409);
    expect(second.body.detail).toMatch(/^slow\/staging is locked by token:admin \(SHIPSHAPE_ADMIN_TOKEN\): deploying HEAD \([0-9a-f]{7}\) to staging \(since .*, expires in /);
    const refused = (await events('deploy.refused'))[0];
    expect(refused?.data).toMatchObject({ service: 'slow', env: 'staging' });

    writeFileSync(go, '');
    const done = (await (await first).json()) as ReleaseDetail;
    expect(done.state).toBe('live');

    // by hand: production frozen
    const l = await s.api('/api/v1/deploy/slow/lock', { method: 'PUT', body: JSON.stringify({ env: 'production', reason: 'release freeze until Monday', for: '2h' }) });
    expect(l.status).toBe(200);
    const refusedProd = await deploy('slow', { env: 'production' });
    expect(refusedProd.status).toBe(409);
    expect(refusedProd.body.detail).toMatch(/slow\/production is locked by token:admin \(SHIPSHAPE_ADMIN_TOKEN\): release freeze until Monday/);
    const un = await s.api('/api/v1/deploy/slow/lock?env=production', { method: 'DELETE' });
    expect(((await un.json()) as { unlocked: { reason: string } }).unlocked.reason).toBe('release freeze until Monday');
    expect((await deploy('slow', { env: 'production' })).body.state).toBe('live');
  }, 90_000);

  it('fails a gate that prints warnings under max_warnings: 0, and one that hangs, before anything starts', async () => {
    const w = await deploy('gated');
    expect(w.body.state).toBe('failed');
    expect(w.body.gates).toMatchObject([{ kind: 'run', passed: false, warnings: 1, summary: '1 warning, more than max_warnings 0' }]);
    expect(w.body.steps.map((st) => [st.name, st.state])).toEqual([['cut', 'ok'], [expect.stringMatching(/^gate echo/), 'failed']]);
    expect(w.body.steps[1]?.output).toContain('warning TS6133');
    expect((await get(ports.gated as number)).status).toBe(503);

    const h = await deploy('hung');
    expect(h.body).toMatchObject({ state: 'failed', error: 'gate hangs: timed out after 500ms (killed)' });
    expect(h.body.steps[1]).toMatchObject({ name: 'gate hangs', state: 'failed', output: 'checking\n' });
  });

  it("gives gates and the app a minimal environment, streams progress over SSE, and keeps secrets out of what it records", async () => {
    const ctl = new AbortController();
    const stream = await fetch(`${s.url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: ctl.signal });
    const seen: string[] = [];
    const reading = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        seen.push(dec.decode(chunk));
        if (seen.join('').includes('event: deploy.succeeded')) break;
      }
    })().catch(() => undefined);
    const r = (await deploy('envcheck')).body;
    expect(r.state).toBe('live');
    await reading;
    ctl.abort();
    const env = r.steps.find((st) => st.name === 'gate env')?.output ?? '';
    expect(env).toMatch(/^GREETING=hello$/m);
    expect(env).toMatch(/^API_TOKEN=\*\*\*$/m);
    expect(env).toMatch(/^PATH=/m);
    expect(env).not.toContain('SHIPSHAPE_TEST_LEAK');
    expect(env).not.toContain('tok-0123456789abcdef');
    // live progress: steps and their output reach the dashboard's event stream
    const sse = seen.join('');
    expect(sse).toMatch(/event: deploy\.progress\ndata: \{[^\n]*"type":"step"[^\n]*"name":"gate env"/);
    expect(sse).toMatch(/event: deploy\.progress\ndata: \{[^\n]*"type":"output"[^\n]*GREETING=hello/);
    expect(sse).not.toContain('tok-0123456789abcdef');
    const all = await events('deploy.*');
    expect(JSON.stringify(all)).not.toContain('tok-0123456789abcdef');
  });

  it('says clearly when a rollback target is no longer on disk', async () => {
    const r1 = (await deploy('small')).body;
    small.commit({ VERSION: 's2\n' }, 's2');
    const r2 = (await deploy('small')).body;
    small.commit({ VERSION: 's3\n' }, 's3');
    const r3 = (await deploy('small')).body;
    expect([r1.state, r2.state, r3.state]).toEqual(['live', 'live', 'live']);
    const list = (await (await s.api('/api/v1/deploy/small/releases')).json()) as { items: Release[] };
    expect(list.items.map((r) => [r.id, r.state, r.on_disk])).toEqual([
      [r3.id, 'live', true],
      [r2.id, 'warm', true],
      [r1.id, 'retired', false],
    ]);
    expect(existsSync(join(s.dir, 'data', 'releases', 'small', String(r1.id)))).toBe(false);
    const rb = await rollback('small', { release: r1.id });
    expect(rb.status).toBe(409);
    expect(rb.body.detail).toBe(`release ${r1.id} of small (${r1.version}, ${r1.git_sha.slice(0, 12)}) is no longer on disk (only the last 1 are kept: deploy.keep_releases); deploy it again with \`shipshape deploy small --env production --ref ${r1.git_sha.slice(0, 12)}\``);
    expect(await get(ports.small as number)).toMatchObject({ body: 's3' });
  }, 90_000);

  it('restarts the live release when it crashes after the switch', async () => {
    const before = await get(ports.small as number);
    expect(before).toMatchObject({ status: 200, body: 's3' });
    expect((await get(ports.small as number, '/crash')).body).toBe('bye');
    let restored: EventRecord | undefined;
    for (let i = 0; i < 400 && !restored; i++) {
      await new Promise((r) => setTimeout(r, 50));
      restored = (await events('deploy.restored'))[0];
    }
    expect(restored?.data).toMatchObject({ service: 'small', release: Number(before.release), attempt: 1 });
    const crashed = (await events('deploy.crashed'))[0];
    expect(crashed?.data).toMatchObject({ service: 'small', live: true, exit: 'exit code 7' });
    expect(await get(ports.small as number)).toMatchObject({ status: 200, body: 's3', release: before.release });
  });

  it('puts deploys on the timeline of an incident about the service', async () => {
    const inc = (await (await s.api('/api/v1/incidents', { method: 'POST', body: JSON.stringify({ title: 'checkout 500s', severity: 'P1', services: ['web'] }) })).json()) as { id: number };
    const tl = (await (await s.api(`/api/v1/incidents/${inc.id}/timeline`)).json()) as Timeline;
    const types = tl.items.map((e) => e.type);
    expect(types).toContain('deploy.succeeded');
    expect(types).toContain('deploy.failed');
    expect(types).toContain('deploy.rolled_back');
    expect(tl.items.filter((e) => e.type.startsWith('deploy.')).every((e) => e.data.service === 'web')).toBe(true);
  });

  it('answers problems for bad input', async () => {
    expect((await deploy('nope')).body).toMatchObject({ status: 404, detail: expect.stringMatching(/no service "nope"/) });
    expect((await deploy('web', { env: 'qa' })).body).toMatchObject({ status: 400, detail: 'service "web" has no environment "qa"; environments: staging, production' });
    expect((await deploy('web', { ref: 'no-such-branch' })).body).toMatchObject({ status: 400, detail: expect.stringMatching(/no commit "no-such-branch" in /) });
    expect((await deploy('web', { ref: '--upload-pack=evil' })).body.status).toBe(400);
    expect((await deploy('web', { bogus: 1 })).body.status).toBe(400);
    expect((await s.api('/api/v1/deploy/web/releases', { token: null })).status).toBe(401);
  });
});
