/**
 * The security gates of a deploy and the env store, end to end: a real Shipshape server, a real
 * git repository, the app started as a real process. A release runs with the env store's values
 * for its environment (checked against the service's annotated .env.example before it is built),
 * records only a snapshot reference to them, and is stopped by a committed credential or by
 * security headers below the grade its gate asks for — while the release before keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseDetail } from '../../src/deploy/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

const KEY = 'a'.repeat(64);
// built at run time, so this file itself holds no credential-shaped text
const LIVE_KEY = ['sk', 'live', '51Nq8RkT2vWx9YzA4bC6dE8fG0hJ'].join('_');
const TEST_KEY = ['sk', 'test', '51Nq8RkT2vWx9YzA4bC6dE8fG0hJ'].join('_');
const LEAKED = ['sk', 'live', '51PzQ7mN3kL9xW2vB5cR8tY1uI4o'].join('_');

const SERVER_JS = `
const http = require('node:http');
const fs = require('node:fs');
const bare = fs.existsSync(__dirname + '/no-headers');
const headers = bare ? {} : {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
};
http.createServer((req, res) => {
  if (req.url === '/api/health') { res.end('ok'); return; }
  res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
  res.end(String(process.env.GREETING) + ' ' + String(process.env.STRIPE_SECRET_KEY || '').slice(0, 8));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const EXAMPLE = `# @required
GREETING=

# @required
# @env production
# @prefix sk_live_
STRIPE_SECRET_KEY=
`;

describe('deploy: env, secrets and headers gates, and the env store', () => {
  let s: TestServer;
  let repo: Repo;
  let port: number;
  const saved = process.env.SHIPSHAPE_SECRET_KEY;

  beforeAll(async () => {
    process.env.SHIPSHAPE_SECRET_KEY = KEY;
    repo = new Repo();
    repo.commit({ 'server.js': SERVER_JS, '.env.example': EXAMPLE }, 'shop');
    port = await freePort();
    s = await startTestServer(`services:
  shop:
    env: { example: ${repo.dir}/.env.example }
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      gates:
        - env: {}
        - secrets: {}
        - headers: { path: /, min_grade: C }
      environments:
        production: { proxy: { port: ${port} } }
`);
  });

  afterAll(async () => {
    await s?.close();
    repo?.remove();
    if (saved === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
    else process.env.SHIPSHAPE_SECRET_KEY = saved;
  });

  const deploy = async () => (await (await s.api('/api/v1/deploy/shop/deploys', { method: 'POST', body: JSON.stringify({}) })).json()) as ReleaseDetail;
  const setVars = async (vars: Record<string, string>, force = false) => {
    const res = await s.api('/api/v1/env/shop/production/vars', { method: 'POST', body: JSON.stringify({ vars, force }) });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
  };

  it('stops a release whose variables are missing, naming them (and never a value)', async () => {
    const r = await deploy();
    expect(r.state).toBe('failed');
    expect(r.gates[0]).toMatchObject({ name: 'env vars', kind: 'env', passed: false });
    expect(r.error).toMatch(/^gate env vars: 2 errors, 0 warnings: GREETING /);
    const out = r.steps.find((st) => st.name === 'gate env vars')?.output ?? '';
    expect(out).toContain('GREETING');
    expect(out).toContain('STRIPE_SECRET_KEY');
    expect((await get(port)).status).toBe(503);
  });

  it('stops a Stripe test key in production, then runs the release with the store\'s values', async () => {
    await setVars({ GREETING: 'hello', STRIPE_SECRET_KEY: TEST_KEY }, true);
    const bad = await deploy();
    expect(bad.state).toBe('failed');
    expect(bad.error).toMatch(/STRIPE_SECRET_KEY/);
    expect(JSON.stringify(bad)).not.toContain(TEST_KEY);

    await setVars({ STRIPE_SECRET_KEY: LIVE_KEY });
    const r = await deploy();
    expect(r.state, r.error ?? '').toBe('live');
    expect(r.gates.map((g) => [g.kind, g.passed])).toEqual([
      ['env', true],
      ['secrets', true],
      ['headers', true],
    ]);
    expect(r.gates[2]?.summary).toMatch(/^grade C\+ \(60\/100\)/);
    expect(r.env_snapshot).toMatch(/^[0-9a-f]{24}$/);
    expect(await get(port)).toMatchObject({ status: 200, body: 'hello sk_live_' });
    // the release, its steps and the event log hold the snapshot's reference, never a value
    const events = await (await s.api('/api/v1/events?limit=500')).text();
    for (const text of [JSON.stringify(r), events]) {
      expect(text).not.toContain(LIVE_KEY);
      expect(text).not.toContain(TEST_KEY);
    }
  });

  it('a changed value reaches the next release; rolling back brings back the values the old one ran with', async () => {
    const before = (await (await s.api('/api/v1/deploy/shop/releases')).json()) as { items: ReleaseDetail[] };
    const first = before.items.find((x) => x.state === 'live') as ReleaseDetail;
    await setVars({ GREETING: 'bonjour' });
    const r = await deploy();
    expect(r.state, r.error ?? '').toBe('live');
    expect(r.env_snapshot).not.toBe(first.env_snapshot);
    expect((await get(port)).body).toBe('bonjour sk_live_');
    const back = await s.api('/api/v1/deploy/shop/rollback', { method: 'POST', body: JSON.stringify({ release: first.id }) });
    expect(back.status, await back.clone().text()).toBeLessThan(300);
    expect((await get(port)).body).toBe('hello sk_live_');
  });

  it('stops a release with a committed credential, naming file and line; the live one keeps serving', async () => {
    repo.commit({ 'config.js': `module.exports = {\n  region: 'eu',\n  stripe: '${LEAKED}',\n};\n` }, 'oops');
    const r = await deploy();
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^gate secret scan: 1 secret found: \S*stripe\S* in config\.js:3$/);
    expect(JSON.stringify(r)).not.toContain(LEAKED);
    expect((await get(port)).body).toBe('hello sk_live_');
  });

  it('stops a release whose security headers grade below the gate, before it gets traffic', async () => {
    repo.commit({ 'config.js': null, 'no-headers': '' }, 'drop the headers');
    const r = await deploy();
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^gate security headers C \/: grade F \(\d+\/100\): csp-not-implemented/);
    expect(r.steps.find((st) => st.name === 'gate security headers C /')?.output).toMatch(/x-frame-options-not-implemented/);
    expect((await get(port)).body).toBe('hello sk_live_');
  });
});
