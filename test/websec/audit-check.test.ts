/**
 * The `audit` check kind and GET /api/v1/websec/audits with the real npm CLI. As in audit.test.ts,
 * the registry here answers npm's bulk advisory endpoint with 405, so npm is pointed
 * (npm_config_registry) at a loopback server speaking that endpoint; npm builds the tree from a
 * real lockfile, asks, and prints its own JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../src/checks/kinds/audit.js';
import { kindByName } from '../../src/checks/kinds/index.js';
import type { Observation } from '../../src/checks/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MINIMIST = [
  { id: 1179, url: 'https://github.com/advisories/GHSA-vh95-rmgr-6w4m', title: 'Prototype Pollution in minimist', severity: 'moderate', vulnerable_versions: '<0.2.1' },
  { id: 1088, url: 'https://github.com/advisories/GHSA-xvch-5gv4-984h', title: 'Prototype Pollution in minimist', severity: 'critical', vulnerable_versions: '<0.2.4' },
];

let server: Server;
let advisories: Record<string, unknown[]> = {};
let bulkRequests = 0;
let root = '';
let project = '';
let savedRegistry: string | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/-/npm/v1/security/advisories/bulk')) {
        bulkRequests++;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(advisories));
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  root = mkdtempSync(join(tmpdir(), 'shipshape-audit-check-'));
  project = join(root, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'audited', version: '1.0.0', dependencies: { minimist: '0.0.8' } }));
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, stdio: 'pipe', timeout: 120_000 });
  savedRegistry = process.env.npm_config_registry;
  process.env.npm_config_registry = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}, 180_000);

afterAll(async () => {
  if (savedRegistry === undefined) delete process.env.npm_config_registry;
  else process.env.npm_config_registry = savedRegistry;
  rmSync(root, { recursive: true, force: true });
  await new Promise((r) => server.close(r));
});

/** Run the kind as the scheduler does, with a config file in `root` (so `app` is relative to it). */
async function runAudit(input: unknown, timeoutMs = 120_000): Promise<Observation> {
  const spec = audit.spec.parse(input);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
  try {
    return await audit.run({ ...spec, every: 6 * 3_600_000, timeout: timeoutMs }, { signal: controller.signal, timeoutMs, now: Date.now, heartbeats: { lastPing: () => undefined, watchingSince: () => Date.now() }, configFile: join(root, 'shipshape.yaml') });
  } finally {
    clearTimeout(timer);
  }
}

describe('audit check kind', () => {
  it('is registered, every 6h by default, level high by default, a bad level refused', () => {
    expect(kindByName('audit')).toBe(audit);
    expect(audit.defaultEvery).toBe(6 * 3_600_000);
    expect(audit.spec.parse({ path: '.' })).toEqual({ path: '.', level: 'high' });
    expect(() => audit.spec.parse({ path: '.', level: 'severe' })).toThrow();
    expect(() => audit.spec.parse({ path: '.', lvl: 'high' })).toThrow();
  });

  it('is down with a critical advisory, naming it; counts and failing packages are values', async () => {
    advisories = { minimist: MINIMIST };
    const obs = await runAudit({ path: 'app' });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('1 advisory at or above high: minimist (critical)');
    expect(obs.values).toMatchObject({ critical: 1, high: 0, moderate: 0, low: 0, info: 0, advisories: 2, failing: ['minimist'], manager: 'npm' });
    const moderate = await runAudit({ path: 'app', level: 'moderate' });
    expect(moderate.error).toBe('2 advisories at or above moderate: minimist (critical), minimist (moderate)');
  }, 120_000);

  it('is up when nothing reaches the level', async () => {
    advisories = { minimist: [MINIMIST[0]] };
    const obs = await runAudit({ path: 'app' });
    expect(obs.error).toBeUndefined();
    expect(obs.ok).toBe(true);
    expect(obs.values).toMatchObject({ moderate: 1, failing: [] });
  }, 120_000);

  it('answers at its timeout when the registry does not', async () => {
    const silent = createServer(() => undefined); // takes the request, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const saved = process.env.npm_config_registry;
    process.env.npm_config_registry = `http://127.0.0.1:${(silent.address() as { port: number }).port}/`;
    try {
      const obs = await runAudit({ path: 'app' }, 2000);
      expect(obs.ok).toBe(false);
      expect(obs.error).toBe("audit did not finish within 2s (an audit asks the registry: set the check's timeout, e.g. 5m)");
    } finally {
      process.env.npm_config_registry = saved;
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  }, 30_000);

  it('says why it cannot audit (no lockfile, missing directory)', async () => {
    mkdirSync(join(root, 'bare'), { recursive: true });
    const bare = await runAudit({ path: 'bare' });
    expect(bare.ok).toBe(false);
    expect(bare.error).toMatch(/^audit failed: .*bare: no lockfile/);
    const missing = await runAudit({ path: 'nope' });
    expect(missing.error).toMatch(/^audit failed: .*nope: not a directory$/);
  });
});

describe('GET /api/v1/websec/audits', () => {
  let srv: TestServer;
  beforeAll(async () => {
    advisories = { minimist: MINIMIST };
    // the server's config lives in its own temp dir: the project path is relative to it
    srv = await startTestServer(`services:
  shop:
    checks:
      - name: deps
        audit: { path: "../${basename(root)}/app", level: high, every: 6h }
  empty:
    checks:
      - audit: { path: "../${basename(root)}/bare", every: 6h }
`);
  }, 60_000);
  afterAll(async () => srv?.close());

  it('gives each audit check its counts and failing advisories, needs a token, and caches until refresh', async () => {
    mkdirSync(join(root, 'bare'), { recursive: true });
    expect((await srv.api('/api/v1/websec/audits', { token: null })).status).toBe(401);
    const res = await srv.api('/api/v1/websec/audits');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { service: string; check: string | null; path: string; level: string; audited_at: string; ok: boolean; counts: Record<string, number> | null; failing: { package: string; severity: string; title: string; url: string }[]; error: string | null }[] };
    expect(items.map((i) => [i.service, i.check, i.level, i.ok])).toEqual([
      ['shop', 'deps', 'high', false],
      ['empty', null, 'high', false],
    ]);
    expect(items[0]?.counts).toEqual({ critical: 1, high: 0, moderate: 0, low: 0, info: 0 });
    expect(items[0]?.failing).toEqual([expect.objectContaining({ package: 'minimist', severity: 'critical', title: 'Prototype Pollution in minimist', url: 'https://github.com/advisories/GHSA-xvch-5gv4-984h' })]);
    expect(items[1]?.error).toMatch(/no lockfile/);

    // the advisories go away: the cached answer still has them, a refresh audits again
    const first = items[0]?.audited_at;
    advisories = {};
    const cached = (await (await srv.api('/api/v1/websec/audits')).json()) as { items: { ok: boolean; audited_at: string }[] };
    expect(cached.items[0]).toMatchObject({ ok: false, audited_at: first });
    const before = bulkRequests;
    const fresh = (await (await srv.api('/api/v1/websec/audits?refresh=true')).json()) as { items: { ok: boolean; audited_at: string; counts: Record<string, number> }[] };
    expect(bulkRequests).toBeGreaterThan(before);
    expect(fresh.items[0]?.audited_at).not.toBe(first);
    expect(fresh.items[0]?.ok).toBe(true);
    expect(fresh.items[0]?.counts.critical).toBe(0);
    expect((await srv.api('/api/v1/websec/audits?refresh=1')).status).toBe(400);
  }, 120_000);
});
