/**
 * The command driver end to end: a real Shipshape server, a real git repository, real gates and
 * builds, and — in place of the hosted platforms' CLIs — STAND-IN `vercel` and `netlify`
 * executables written into a temp directory and put first on PATH (through the service's `env:`).
 *
 * The stand-ins are not the real CLIs and deploy nothing anywhere. They reproduce the output the
 * real ones document: `vercel deploy` prints the deployment URL on stdout and its progress
 * ("Vercel CLI …", "🔍  Inspect: https://vercel.com/<team>/<project>/<id>", "✅  Preview: …") on
 * stderr; `netlify deploy --json` prints one JSON object with site_id, site_name, deploy_id,
 * deploy_url and logs. They record every call (arguments, directory) to calls.log, and register each
 * deployment with a loopback HTTP server (started by this test) that stands in for the deployment
 * URLs, so the smoke steps have something real to request.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, Problem } from '../../src/core/api-types.js';
import { ConfigError } from '../../src/core/config/load.js';
import { parseDeployment, resolveCommands } from '../../src/deploy/command.js';
import type { CommandEnvironmentStatus, Release, ReleaseDetail } from '../../src/deploy/index.js';
import { parseConfig } from '../../src/modules.js';
import { telemetry } from '../../src/telemetry/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';
import { Repo } from './helpers.js';

/** Stand-in for the Vercel CLI (see the file comment): documented output, no network. */
const VERCEL = `#!/usr/bin/env node
// STAND-IN for the Vercel CLI, written by test/deploy/command.test.ts. It reproduces the output
// the real CLI documents (the deployment URL on stdout; "Vercel CLI", "Inspect:" and "Preview:"
// lines on stderr) and deploys nothing: a "deployment" is a file the test's loopback server serves.
const fs = require('node:fs');
const path = require('node:path');
const state = process.env.STANDIN_STATE;
const base = process.env.STANDIN_BASE;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(state, 'calls.log'), JSON.stringify({ cli: 'vercel', args, cwd: process.cwd(), token: Boolean(process.env.VERCEL_TOKEN) }) + '\\n');
console.error('Vercel CLI 39.1.0');
if (process.env.STANDIN_FAIL) {
  console.error('Error: The specified token is not valid. Use \`vercel login\` to generate a new token.');
  process.exit(1);
}
if (args[0] === 'deploy') {
  const out = path.join(process.cwd(), '.vercel', 'output');
  if (args.includes('--prebuilt') && !fs.existsSync(out)) {
    console.error('Error: The "--prebuilt" option was used, but no prebuilt output found in ".vercel/output". Run \`vercel build\` to generate a local build.');
    process.exit(1);
  }
  const n = fs.readdirSync(path.join(state, 'deployments')).length + 1;
  const id = 'Ab' + n + 'CdEfGh';
  const name = 'web-' + n + 'x7k2-acme';
  fs.writeFileSync(path.join(state, 'deployments', name), fs.readFileSync(path.join(out, 'VERSION')));
  console.error('🔍  Inspect: https://vercel.com/acme/web/' + id + ' [1s]');
  if (process.env.STANDIN_NO_URL) {
    console.error('Deployment queued');
    process.exit(0);
  }
  console.error('✅  Preview: ' + base + '/' + name + ' [2s]');
  process.stdout.write(base + '/' + name + '\\n');
} else if (args[0] === 'promote' || args[0] === 'rollback') {
  fs.writeFileSync(path.join(state, 'production'), args[1]);
  console.error('Success! web was ' + (args[0] === 'promote' ? 'promoted' : 'rolled back') + ' to ' + args[1]);
} else if (args[0] === 'ls') {
  console.error('> Deployments for acme/web');
  for (const d of fs.readdirSync(path.join(state, 'deployments'))) process.stdout.write(base + '/' + d + '  ● Ready  Preview\\n');
} else {
  console.error('Error: unknown command ' + args[0]);
  process.exit(2);
}
`;

/** Stand-in for the Netlify CLI (see the file comment): documented \`--json\` output, no network. */
const NETLIFY = `#!/usr/bin/env node
// STAND-IN for the Netlify CLI, written by test/deploy/command.test.ts. \`deploy --json\` prints the
// JSON object the real CLI documents (site_id, site_name, deploy_id, deploy_url, logs); \`api
// restoreSiteDeploy\` / \`api listSiteDeploys\` answer JSON as the API does. Nothing is deployed.
const fs = require('node:fs');
const path = require('node:path');
const state = process.env.STANDIN_STATE;
const base = process.env.STANDIN_BASE;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(state, 'calls.log'), JSON.stringify({ cli: 'netlify', args, cwd: process.cwd(), token: Boolean(process.env.NETLIFY_AUTH_TOKEN) }) + '\\n');
const site = process.env.NETLIFY_SITE_ID;
if (args[0] === 'deploy') {
  const n = fs.readdirSync(path.join(state, 'deployments')).length + 1;
  const id = '65f0c0ffee' + String(n).padStart(4, '0');
  const name = id + '--shop';
  fs.writeFileSync(path.join(state, 'deployments', name), fs.readFileSync(path.join(process.cwd(), 'VERSION')));
  const o = { site_id: site, site_name: 'shop', deploy_id: id, deploy_url: base + '/' + name, logs: 'https://app.netlify.com/sites/shop/deploys/' + id };
  if (args.includes('--prod')) o.url = base + '/shop';
  process.stdout.write(JSON.stringify(o, null, 2) + '\\n');
} else if (args[0] === 'api' && args[1] === 'restoreSiteDeploy') {
  const data = JSON.parse(args[args.indexOf('--data') + 1]);
  fs.writeFileSync(path.join(state, 'production'), data.deploy_id);
  process.stdout.write(JSON.stringify({ id: data.deploy_id, site_id: data.site_id, state: 'ready', published_at: new Date().toISOString() }) + '\\n');
} else if (args[0] === 'api' && args[1] === 'listSiteDeploys') {
  process.stdout.write(JSON.stringify(fs.readdirSync(path.join(state, 'deployments')).map((d) => ({ id: d.split('--')[0], deploy_url: base + '/' + d }))) + '\\n');
} else {
  console.error('Error: unknown command ' + args.join(' '));
  process.exit(2);
}
`;

const BIN = resolve('bin/shipshape.js');

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

describe('deploys with the command driver (stand-in vercel and netlify CLIs)', () => {
  let s: TestServer;
  let repo: Repo;
  let deployments: Server;
  const tmp = mkdtempSync(join(tmpdir(), 'shipshape-cmd-'));
  const bin = join(tmp, 'bin');
  const state = join(tmp, 'state');
  let base = '';

  /** What the stand-ins were asked, in order. */
  const calls = (): { cli: string; args: string[]; cwd: string; token: boolean }[] =>
    existsSync(join(state, 'calls.log'))
      ? readFileSync(join(state, 'calls.log'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { cli: string; args: string[]; cwd: string; token: boolean })
      : [];

  beforeAll(async () => {
    mkdirSync(bin);
    mkdirSync(join(state, 'deployments'), { recursive: true });
    writeFileSync(join(bin, 'vercel'), VERCEL);
    writeFileSync(join(bin, 'netlify'), NETLIFY);
    chmodSync(join(bin, 'vercel'), 0o755);
    chmodSync(join(bin, 'netlify'), 0o755);
    // the deployment URLs: /<deployment>/… answers what that deployment holds (its VERSION)
    deployments = createServer((req, res) => {
      const [, first = '', ...rest] = (req.url ?? '/').split('/');
      let name = first;
      // /current: what the stand-in last promoted or rolled back to (what "production" serves)
      if (name === 'current' && existsSync(join(state, 'production'))) name = readFileSync(join(state, 'production'), 'utf8').split('/').pop() ?? '';
      const file = join(state, 'deployments', name.replace(/[^\w.-]/g, ''));
      if (!name || !existsSync(file)) {
        res.writeHead(404);
        res.end('The deployment could not be found');
        return;
      }
      const version = readFileSync(file, 'utf8').trim();
      if (`/${rest.join('/')}` === '/api/health') res.end('ok');
      else if (version.includes('broken')) {
        res.writeHead(500);
        res.end(`${version}: 500 INTERNAL_SERVER_ERROR`);
      } else res.end(version);
    });
    await new Promise<void>((done) => deployments.listen(0, '127.0.0.1', done));
    const a = deployments.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    repo = Repo.withApp('v1');
    const env = (more: string) => `env: { PATH: "${bin}:${process.env.PATH ?? '/usr/bin:/bin'}", STANDIN_STATE: "${state}", STANDIN_BASE: "${base}"${more} }`;
    const smoke = 'verify: { smoke: [{ path: /api/health }, { name: home, path: /, expect: { body: "v" } }] }';
    s = await startTestServer(`services:
  web:
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: vercel }
      build: "mkdir -p .vercel/output && cp VERSION .vercel/output/VERSION"
      ${env(', VERCEL_TOKEN: "vercel-tok-0123456789abcdef"')}
      gates:
        - name: has a version
          run: "test -s VERSION && echo VERSION ok"
      environments:
        preview: { ${smoke} }
        production: { url: "https://web.example.com", ${smoke} }
  shop:
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: netlify }
      ${env(', NETLIFY_SITE_ID: "site-0042", NETLIFY_AUTH_TOKEN: "nfp-tok-0123456789abcdef"')}
      environments:
        staging: {}
        production: {}
  refused:
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: vercel }
      build: "mkdir -p .vercel/output && cp VERSION .vercel/output/VERSION"
      ${env(', STANDIN_FAIL: "1"')}
      environments:
        production: {}
  app:
    checks:
      - name: up
        http: { url: "${base}/current", every: 1h, timeout: 2s }
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: vercel }
      build: "mkdir -p .vercel/output && cp VERSION .vercel/output/VERSION"
      ${env('')}
      environments:
        production: { verify: { smoke: [{ path: /api/health }], checks: [up], timeout: 1s } }
  watched:
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: vercel }
      build: "mkdir -p .vercel/output && cp VERSION .vercel/output/VERSION"
      ${env('')}
      analysis: { interval: 500ms, min_requests: 10 }
      environments:
        production: { watch: 5s }
  quiet:
    deploy:
      driver: command
      repo: ${repo.dir}
      command: { preset: vercel }
      build: "mkdir -p .vercel/output && cp VERSION .vercel/output/VERSION"
      ${env(', STANDIN_NO_URL: "1"')}
      environments:
        production: {}
`);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    repo?.remove();
    await new Promise((done) => deployments?.close(done));
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = async (path: string, body: Record<string, unknown> = {}) => {
    const res = await s.api(path, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as ReleaseDetail & Problem };
  };
  const events = async (type: string) => ((await (await s.api(`/api/v1/events?type=${encodeURIComponent(type)}&limit=500`)).json()) as { items: EventRecord[] }).items;
  const releases = async (service: string) => ((await (await s.api(`/api/v1/deploy/${service}/releases`)).json()) as { items: Release[] }).items;

  let preview1: ReleaseDetail;
  let prod1: ReleaseDetail;

  it('deploys to preview: gates, build, the deploy command, smoke steps against the deployment URL; records its id and URL', async () => {
    const r = await post('/api/v1/deploy/web/deploys', { env: 'preview' });
    expect(r.status).toBe(200);
    preview1 = r.body;
    expect(preview1).toMatchObject({ env: 'preview', state: 'live', error: null, deployment_id: 'Ab1CdEfGh', deployment_url: `${base}/web-1x7k2-acme`, port: null });
    expect(preview1.steps.map((st) => [st.name, st.state])).toEqual([
      ['cut', 'ok'],
      ['gate has a version', 'ok'],
      ['build', 'ok'],
      ['deploy', 'ok'],
      ['smoke', 'ok'],
      ['switch', 'ok'],
    ]);
    const dep = preview1.steps.find((st) => st.name === 'deploy');
    expect(dep?.detail).toBe(`deployment Ab1CdEfGh at ${base}/web-1x7k2-acme`);
    expect(dep?.output).toContain('🔍  Inspect: https://vercel.com/acme/web/Ab1CdEfGh');
    expect(preview1.steps.find((st) => st.name === 'smoke')?.output).toContain('✓ home: answered 200');
    // run in the release directory, where the build left .vercel/output, with the token from env:
    expect(calls()).toEqual([{ cli: 'vercel', args: ['deploy', '--prebuilt', '--yes'], cwd: expect.stringMatching(new RegExp(`/releases/web/${preview1.id}$`)), token: true }]);
    const st = ((await (await s.api('/api/v1/deploy/web')).json()) as { environments: CommandEnvironmentStatus[] }).environments;
    expect(st.map((e) => [e.env, e.driver, e.proxy, e.url, e.live?.id ?? null])).toEqual([
      ['preview', 'command', null, `${base}/web-1x7k2-acme`, preview1.id],
      ['production', 'command', null, 'https://web.example.com', null],
    ]);
    // the release records the names of env variables, never their values
    expect(JSON.stringify(preview1)).not.toContain('vercel-tok-');
    const ok = (await events('deploy.succeeded')).find((e) => e.data.release === preview1.id);
    expect(ok?.data).toMatchObject({ deployment_id: 'Ab1CdEfGh', deployment_url: `${base}/web-1x7k2-acme` });
  }, 60_000);

  it('promotes: smoke steps on the same deployment, then the promote command with its URL', async () => {
    const r = await post(`/api/v1/deploy/web/releases/${preview1.id}/promote`, { to: 'production' });
    expect(r.status).toBe(200);
    prod1 = r.body;
    expect(prod1).toMatchObject({ env: 'production', state: 'live', promoted_from: preview1.id, deployment_id: 'Ab1CdEfGh', deployment_url: preview1.deployment_url });
    expect(prod1.steps.map((st) => st.name)).toEqual(['deployment', 'smoke', 'promote']);
    expect(prod1.steps.find((st) => st.name === 'promote')?.output).toContain(`Success! web was promoted to ${base}/web-1x7k2-acme`);
    expect(calls().at(-1)?.args).toEqual(['promote', `${base}/web-1x7k2-acme`, '--yes']);
    expect(readFileSync(join(state, 'production'), 'utf8')).toBe(`${base}/web-1x7k2-acme`);
  }, 60_000);

  it('rolls production back with the rollback command to the previous deployment', async () => {
    repo.commit({ VERSION: 'v2\n' }, 'app v2');
    const d2 = await post('/api/v1/deploy/web/deploys', { env: 'production' });
    expect(d2.body).toMatchObject({ env: 'production', state: 'live', deployment_id: 'Ab2CdEfGh', commit_message: 'app v2' });
    expect(d2.body.steps.map((st) => st.name)).toEqual(['cut', 'gate has a version', 'build', 'deploy', 'smoke', 'promote']);
    expect(calls().slice(-2).map((c) => c.args)).toEqual([
      ['deploy', '--prebuilt', '--yes'],
      ['promote', `${base}/web-2x7k2-acme`, '--yes'],
    ]);
    expect((await releases('web')).find((r) => r.id === prod1.id)?.state).toBe('retired');

    const rb = await post('/api/v1/deploy/web/rollback', { env: 'production' });
    expect(rb.status).toBe(200);
    expect(rb.body).toMatchObject({ id: prod1.id, state: 'live', deployment_url: `${base}/web-1x7k2-acme` });
    expect(calls().at(-1)?.args).toEqual(['rollback', `${base}/web-1x7k2-acme`, '--yes']);
    expect(readFileSync(join(state, 'production'), 'utf8')).toBe(`${base}/web-1x7k2-acme`);
    expect((await releases('web')).find((r) => r.id === d2.body.id)?.state).toBe('rolled_back');
    const ev = (await events('deploy.rolled_back')).find((e) => e.data.to === prod1.id);
    expect(ev?.data).toMatchObject({ from: d2.body.id, deployment_url: `${base}/web-1x7k2-acme`, automatic: false });
    // nothing earlier than release prod1 served production
    const again = await post('/api/v1/deploy/web/rollback', { env: 'production' });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/has no earlier release to roll back to/);
  }, 60_000);

  it('a deployment failing its smoke steps is never promoted', async () => {
    const live = (await releases('web')).find((r) => r.env === 'production' && r.state === 'live');
    repo.commit({ VERSION: 'v2 broken\n' }, 'app v2 (broken)');
    const before = calls().length;
    const r = await post('/api/v1/deploy/web/deploys', { env: 'production' });
    expect(r.body).toMatchObject({ state: 'failed', error: expect.stringMatching(/^smoke: home: answered 500, expected 2xx/) });
    expect(r.body.steps.map((st) => st.name)).toEqual(['cut', 'gate has a version', 'build', 'deploy', 'smoke']);
    expect(calls().slice(before).map((c) => c.args[0])).toEqual(['deploy']);
    expect((await releases('web')).find((x) => x.env === 'production' && x.state === 'live')?.id).toBe(live?.id);
    expect((await events('deploy.failed')).find((e) => e.data.release === r.body.id)?.data.still_serving).toBe(live?.id);
    repo.commit({ VERSION: 'v2\n' }, 'app v2 again');
  }, 60_000);

  it('fails the release when the deploy command exits 1, with its output', async () => {
    const before = calls().length;
    const r = await post('/api/v1/deploy/refused/deploys');
    expect(r.body).toMatchObject({ state: 'failed', deployment_id: null, deployment_url: null });
    expect(r.body.error).toBe('deploy: vercel deploy --prebuilt --yes exited with 1');
    const step = r.body.steps.find((st) => st.name === 'deploy');
    expect(step).toMatchObject({ state: 'failed', exit_code: 1 });
    expect(step?.output).toContain('Error: The specified token is not valid.');
    // never promoted
    expect(calls().slice(before).map((c) => c.args[0])).toEqual(['deploy']);
    const failed = (await events('deploy.failed')).find((e) => e.data.release === r.body.id);
    expect(failed?.data.error).toBe('deploy: vercel deploy --prebuilt --yes exited with 1');
  }, 60_000);

  it('fails the release with a clear error when the output names no deployment URL', async () => {
    const r = await post('/api/v1/deploy/quiet/deploys');
    expect(r.body.state).toBe('failed');
    expect(r.body.error).toMatch(/^deploy: vercel deploy --prebuilt --yes no deployment URL on stdout in the output of the deploy command \(stdout: ""\)$/);
    expect(r.body.steps.find((st) => st.name === 'deploy')?.output).toContain('Deployment queued');
  }, 60_000);

  it('netlify: reads deploy_id and deploy_url from --json, publishes with restoreSiteDeploy', async () => {
    const d = await post('/api/v1/deploy/shop/deploys');
    expect(d.body).toMatchObject({ env: 'staging', state: 'live', deployment_id: expect.stringMatching(/^65f0c0ffee\d{4}$/) });
    const id = d.body.deployment_id as string;
    expect(d.body.deployment_url).toBe(`${base}/${id}--shop`);
    expect(calls().at(-1)).toMatchObject({ cli: 'netlify', args: ['deploy', '--json'], token: true });
    const p = await post(`/api/v1/deploy/shop/releases/${d.body.id}/promote`, { to: 'production' });
    expect(p.body).toMatchObject({ env: 'production', state: 'live', deployment_id: id });
    expect(calls().at(-1)?.args).toEqual(['api', 'restoreSiteDeploy', '--data', `{"site_id":"site-0042","deploy_id":"${id}"}`]);
    expect(readFileSync(join(state, 'production'), 'utf8')).toBe(id);
    const listed = (await (await s.api('/api/v1/deploy/shop/platform')).json()) as { output: string };
    expect(listed.output).toContain(`"deploy_url":"${base}/${id}--shop"`);
  }, 60_000);

  it('`shipshape releases` lists them with their deployment URLs', async () => {
    const env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
    const t = await cli(['releases', 'web'], env);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/id\s+│\s+version\s+│\s+sha\s+│\s+author\s+│\s+env\s+│\s+state\s+│\s+age\s+│\s+url/);
    expect(t.stdout).toMatch(new RegExp(`${prod1.id}\\s+│.*│\\s+production\\s+│\\s+live\\s+│.*│\\s+${base.replace(/[.]/g, '\\.')}/web-1x7k2-acme`));
    const j = JSON.parse((await cli(['releases', 'web', '--json'], env)).stdout) as Release[];
    expect(j.find((r) => r.id === preview1.id)).toMatchObject({ env: 'preview', deployment_id: 'Ab1CdEfGh' });
  }, 60_000);

  it('failing named checks after the promotion run the rollback command to the previous deployment, pin and report', async () => {
    const good = await post('/api/v1/deploy/app/deploys');
    expect(good.body).toMatchObject({ env: 'production', state: 'live' });
    expect(good.body.steps.find((st) => st.name === 'verify')).toMatchObject({ state: 'ok', detail: '1 check passed: up' });
    repo.commit({ VERSION: 'v3 broken\n' }, 'app v3 (broken)');
    const bad = await post('/api/v1/deploy/app/deploys');
    expect(bad.body).toMatchObject({ state: 'rolled_back', error: expect.stringMatching(/^verification failed: after 1s: up failing/) });
    expect(bad.body.steps.map((st) => [st.name, st.state])).toEqual([
      ['cut', 'ok'],
      ['build', 'ok'],
      ['deploy', 'ok'],
      ['smoke', 'ok'],
      ['promote', 'ok'],
      ['verify', 'failed'],
      ['rollback', 'ok'],
    ]);
    expect(calls().at(-1)?.args).toEqual(['rollback', good.body.deployment_url, '--yes']);
    expect((await releases('app')).find((r) => r.id === good.body.id)?.state).toBe('live');
    const st = ((await (await s.api('/api/v1/deploy/app')).json()) as { environments: CommandEnvironmentStatus[] }).environments[0];
    expect(st).toMatchObject({ pinned: true, live: { id: good.body.id } });
    expect((await events('deploy.rolled_back')).find((e) => e.data.from === bad.body.id)?.data).toMatchObject({ to: good.body.id, automatic: true });
    // pinned: the next deploy is refused until a promote or an unlock
    const refused = await post('/api/v1/deploy/app/deploys');
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/rolled back automatically/);
  }, 60_000);

  it("watches production through the service's telemetry and rolls a failing release back with the rollback command", async () => {
    const first = await post('/api/v1/deploy/watched/deploys');
    expect(first.body).toMatchObject({ state: 'live' });
    repo.commit({ VERSION: 'v5\n' }, 'app v5');
    const second = await post('/api/v1/deploy/watched/deploys');
    expect(second.body).toMatchObject({ state: 'live' });
    let st = ((await (await s.api('/api/v1/deploy/watched')).json()) as { environments: CommandEnvironmentStatus[] }).environments[0];
    expect(st?.watch).toMatchObject({ release: second.body.id, baseline: first.body.id });
    // the app reports its requests (here straight into telemetry, as the SDK's ingest would): they fail
    const now = Date.now();
    s.use(telemetry).sink.requests(Array.from({ length: 40 }, (_, i) => ({ service: 'watched', route: '/checkout', method: 'POST', status: 500, durationMs: 12, error: true, at: now + i })));
    let rolled: EventRecord | undefined;
    for (let i = 0; i < 80 && !rolled; i++) {
      await new Promise((done) => setTimeout(done, 100));
      rolled = (await events('deploy.rolled_back')).find((e) => e.data.from === second.body.id);
    }
    expect(rolled?.data).toMatchObject({ to: first.body.id, automatic: true, reason: expect.stringMatching(/^watch window: 40 requests, 40 failed \(success 0%\).*: success rate below 99%$/) });
    expect(calls().at(-1)?.args).toEqual(['rollback', first.body.deployment_url, '--yes']);
    st = ((await (await s.api('/api/v1/deploy/watched')).json()) as { environments: CommandEnvironmentStatus[] }).environments[0];
    expect(st).toMatchObject({ pinned: true, live: { id: first.body.id }, watch: null });
    expect((await releases('watched')).find((r) => r.id === second.body.id)?.state).toBe('rolled_back');
  }, 60_000);

  it('refuses a canary: there is no proxy to split traffic', async () => {
    const r = await post('/api/v1/deploy/web/deploys', { env: 'preview', canary: 10 });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/driver: command .*canaries need the proxy of driver: process/);
  });
});

describe('parsing what a deploy command printed', () => {
  const vercel = resolveCommands({ preset: 'vercel', output: {}, timeout: 1000 });
  it('vercel: the URL on stdout, the id from the Inspect line (else the host name)', () => {
    expect(parseDeployment(vercel, 'https://web-x7k2-acme.vercel.app\n', 'Vercel CLI 39.1.0\n🔍  Inspect: https://vercel.com/acme/web/9kFz3Q [1s]\n')).toEqual({ id: '9kFz3Q', url: 'https://web-x7k2-acme.vercel.app' });
    expect(parseDeployment(vercel, 'https://web-x7k2-acme.vercel.app\n', '')).toEqual({ id: 'web-x7k2-acme.vercel.app', url: 'https://web-x7k2-acme.vercel.app' });
    expect(() => parseDeployment(vercel, 'Deployed!\n', '✅  Preview: https://web.vercel.app')).toThrow(/no deployment URL on stdout/);
  });
  it('json: keys, and a clear error for output that is not JSON or lacks the key', () => {
    const netlify = resolveCommands({ preset: 'netlify', output: {}, timeout: 1000 });
    expect(parseDeployment(netlify, '{"deploy_id":"abc123","deploy_url":"https://abc123--shop.netlify.app"}', '')).toEqual({ id: 'abc123', url: 'https://abc123--shop.netlify.app' });
    expect(() => parseDeployment(netlify, 'Logging in…', '')).toThrow(/the output is not JSON/);
    expect(() => parseDeployment(netlify, '{"deploy_id":"abc"}', '')).toThrow(/no deployment URL at "deploy_url" \(output\.url\); its keys: deploy_id/);
  });
  it('refuses a URL with characters no deployment URL has', () => {
    const custom = resolveCommands({ deploy: 'x', promote: 'y', rollback: 'z', output: { url: 'at (\\S+)' }, timeout: 1000 });
    expect(() => parseDeployment(custom, 'live at https://x.dev/$(reboot)', '')).toThrow(/has characters a deployment URL does not have/);
    expect(parseDeployment(custom, 'live at https://x.dev', '')).toEqual({ id: 'x.dev', url: 'https://x.dev' });
  });
});

describe('driver: command in shipshape.yaml', () => {
  const YAML = `services:
  web:
    deploy:
      driver: command
      command: { preset: vercel }
      environments:
        preview: {}
        production: { url: "https://web.example.com" }
`;
  const errorOf = (text: string): string => {
    try {
      parseConfig(text, '/srv/app/shipshape.yaml', { env: {} });
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('loads a preset with no start and no proxies', () => {
    const d = parseConfig(YAML, '/srv/app/shipshape.yaml', { env: {} }).raw.services.web?.deploy;
    expect(d).toMatchObject({ driver: 'command', command: { preset: 'vercel', output: {}, timeout: 900_000 }, environments: { preview: {}, production: { url: 'https://web.example.com' } } });
    expect(d?.start).toBeUndefined();
  });

  it('names the file, line and key of what does not fit the driver', () => {
    expect(errorOf(YAML.replace('preview: {}', 'preview: { proxy: { port: 8081 } }'))).toMatch(/^\/srv\/app\/shipshape\.yaml:7:\d+: services\.web\.deploy\.environments\.preview\.proxy: not used with driver: command/);
    expect(errorOf(YAML.replace('      command: { preset: vercel }\n', ''))).toMatch(/^\/srv\/app\/shipshape\.yaml:\d+:\d+: services\.web\.deploy\.command: is required with driver: command/);
    expect(errorOf(YAML.replace('      command: { preset: vercel }\n', '      command: { preset: vercel }\n      start: "node server.js"\n'))).toMatch(/^\/srv\/app\/shipshape\.yaml:6:\d+: services\.web\.deploy\.start: not used with driver: command/);
    expect(errorOf(YAML.replace('preset: vercel', 'preset: heroku'))).toMatch(/^\/srv\/app\/shipshape\.yaml:5:\d+: services\.web\.deploy\.command\.preset: .*vercel/);
    expect(errorOf(YAML.replace('command: { preset: vercel }', 'command: { deploy: "./ship" }'))).toMatch(/^\/srv\/app\/shipshape\.yaml:5:\d+: services\.web\.deploy\.command\.promote: is required without a preset/);
    expect(errorOf(YAML.replace('https://web.example.com', 'web.example.com'))).toMatch(/^\/srv\/app\/shipshape\.yaml:8:\d+: services\.web\.deploy\.environments\.production\.url: url is an http\(s\) URL/);
    expect(errorOf(YAML.replace('preview: {}', 'preview: { canary: { steps: [10] } }'))).toMatch(/shipshape\.yaml:7:\d+: services\.web\.deploy\.environments\.preview\.canary: canaries need the proxy of driver: process/);
    expect(errorOf(YAML.replace('command: { preset: vercel }', 'command: { preset: vercel, output: { url: "(" } }'))).toMatch(/services\.web\.deploy\.command\.output\.url: not a regular expression/);
  });

  it('driver: process still needs a proxy per environment and start:', () => {
    const p = YAML.replace('driver: command', 'driver: process').replace('      command: { preset: vercel }\n', '      start: "node server.js"\n');
    expect(errorOf(p)).toMatch(/^\/srv\/app\/shipshape\.yaml:7:\d+: services\.web\.deploy\.environments\.preview\.proxy: is required with driver: process/);
    expect(errorOf(YAML.replace('driver: command', 'driver: process'))).toMatch(/services\.web\.deploy\.start: is required/);
  });
});
