/**
 * `auditDeps` with the real npm CLI. The registry reachable here answers npm's bulk advisory
 * endpoint with 405 (it serves packages, not audits), so the advisories come from a loopback
 * server speaking that endpoint (npm_config_registry points npm at it): npm itself builds the
 * tree from the lockfile, asks, and prints its own JSON, which is what is parsed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditDeps, detectManager, parseLegacy, parseYarnBerry, parseYarnClassic } from '../../src/websec/audit.js';

const MINIMIST = [
  { id: 1179, url: 'https://github.com/advisories/GHSA-vh95-rmgr-6w4m', title: 'Prototype Pollution in minimist', severity: 'moderate', vulnerable_versions: '<0.2.1', cwe: ['CWE-1321'], cvss: { score: 5.6, vectorString: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L' } },
  { id: 1088, url: 'https://github.com/advisories/GHSA-xvch-5gv4-984h', title: 'Prototype Pollution in minimist', severity: 'critical', vulnerable_versions: '<0.2.4', cwe: ['CWE-1321'], cvss: { score: 9.8, vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } },
];

let server: Server;
let registry = '';
let advisories: Record<string, unknown[]> = {};
const requests: string[] = [];
let project = '';
let savedRegistry: string | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/-/npm/v1/security/advisories/bulk')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(advisories));
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  registry = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  project = mkdtempSync(join(tmpdir(), 'shipshape-audit-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'audited', version: '1.0.0', dependencies: { minimist: '0.0.8' } }));
  // a real lockfile, resolved by npm against the registry configured here
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project, stdio: 'pipe', timeout: 120_000 });
  savedRegistry = process.env.npm_config_registry;
  process.env.npm_config_registry = registry;
}, 180_000);

afterAll(async () => {
  if (savedRegistry === undefined) delete process.env.npm_config_registry;
  else process.env.npm_config_registry = savedRegistry;
  rmSync(project, { recursive: true, force: true });
  await new Promise((r) => server.close(r));
});

describe('audit deps with npm', () => {
  it('reads npm audit --json into counts and advisories; critical fails --level high', async () => {
    advisories = { minimist: MINIMIST };
    const r = await auditDeps(project);
    expect(requests).toContain('POST /-/npm/v1/security/advisories/bulk');
    expect(r.manager).toBe('npm');
    // npm counts vulnerable packages, at the worst severity of their advisories
    expect(r.counts).toEqual({ critical: 1, high: 0, moderate: 0, low: 0, info: 0 });
    expect(r.advisories).toEqual([
      { package: 'minimist', severity: 'critical', title: 'Prototype Pollution in minimist', url: 'https://github.com/advisories/GHSA-xvch-5gv4-984h', range: '<0.2.4', fixAvailable: false },
      { package: 'minimist', severity: 'moderate', title: 'Prototype Pollution in minimist', url: 'https://github.com/advisories/GHSA-vh95-rmgr-6w4m', range: '<0.2.1', fixAvailable: false },
    ]);
    expect(r.level).toBe('high');
    expect(r.failing.map((a) => a.severity)).toEqual(['critical']);
  }, 120_000);

  it('passes --level critical with only a moderate advisory, fails --level moderate', async () => {
    advisories = { minimist: [MINIMIST[0]] };
    const high = await auditDeps(project, { level: 'critical' });
    expect(high.counts.moderate).toBe(1);
    expect(high.failing).toEqual([]);
    const mod = await auditDeps(project, { level: 'moderate' });
    expect(mod.failing).toHaveLength(1);
  }, 120_000);

  it('a clean tree has no advisories', async () => {
    advisories = {};
    const r = await auditDeps(project);
    expect(r.advisories).toEqual([]);
    expect(r.counts).toEqual({ critical: 0, high: 0, moderate: 0, low: 0, info: 0 });
  }, 120_000);

  it('an audit endpoint that refuses becomes a clear error', async () => {
    const saved = process.env.npm_config_registry;
    const refusing = createServer((_q, res) => res.writeHead(405, { allow: 'GET,HEAD' }).end());
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    process.env.npm_config_registry = `http://127.0.0.1:${(refusing.address() as { port: number }).port}/`;
    try {
      await expect(auditDeps(project)).rejects.toThrow(/^npm audit failed: 405 Method Not Allowed - POST http:\/\/127\.0\.0\.1:\d+\/-\/npm\/v1\/security\/advisories\/bulk/);
    } finally {
      process.env.npm_config_registry = saved;
      await new Promise((r) => refusing.close(r));
    }
  }, 120_000);
});

describe('audit deps: package managers', () => {
  it('picks the manager by lockfile and says when there is none or it is missing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'shipshape-audit-pm-'));
    try {
      await expect(auditDeps(d)).rejects.toThrow(/no lockfile \(package-lock\.json, pnpm-lock\.yaml or yarn\.lock\)/);
      writeFileSync(join(d, 'yarn.lock'), '# THIS IS AN AUTOGENERATED FILE.\n# yarn lockfile v1\n');
      expect(detectManager(d).manager).toBe('yarn');
      writeFileSync(join(d, 'yarn.lock'), '__metadata:\n  version: 8\n');
      expect(detectManager(d).manager).toBe('yarn-berry');
      writeFileSync(join(d, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
      expect(detectManager(d).manager).toBe('pnpm');
      const path = process.env.PATH;
      process.env.PATH = dirname(process.execPath); // node only: no pnpm
      try {
        await expect(auditDeps(d)).rejects.toThrow('pnpm is not installed (not on PATH); it is needed to audit this project');
      } finally {
        process.env.PATH = path;
      }
      await expect(auditDeps(join(d, 'nope'))).rejects.toThrow(/not a directory/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  // the shapes each prints (pnpm and yarn 1: npm 6's advisories report; yarn 2+: one advisory a
  // line); audit-pm.test.ts runs the real pnpm 10 and 9, yarn 1, 4, 3 and 2 against a stand-in registry.
  it('parses pnpm / yarn classic / yarn berry audit JSON', () => {
    const adv = { id: 1179, module_name: 'minimist', severity: 'moderate', title: 'Prototype Pollution', url: 'https://github.com/advisories/GHSA-vh95-rmgr-6w4m', vulnerable_versions: '<0.2.1', patched_versions: '>=0.2.1' };
    expect(parseLegacy(JSON.stringify({ advisories: { 1179: adv }, metadata: { vulnerabilities: { info: 0, low: 0, moderate: 1, high: 0, critical: 0 } } }))).toEqual({
      counts: { critical: 0, high: 0, moderate: 1, low: 0, info: 0 },
      advisories: [{ package: 'minimist', severity: 'moderate', title: 'Prototype Pollution', url: adv.url, range: '<0.2.1', fixAvailable: true }],
    });
    const classic = [JSON.stringify({ type: 'auditAdvisory', data: { resolution: { id: 1179, path: 'minimist' }, advisory: adv } }), JSON.stringify({ type: 'auditSummary', data: { vulnerabilities: { info: 0, low: 0, moderate: 1, high: 0, critical: 0 } } })].join('\n');
    expect(parseYarnClassic(classic).advisories[0]).toMatchObject({ package: 'minimist', severity: 'moderate', fixAvailable: true });
    const berry = JSON.stringify({ value: 'minimist', children: { ID: 1179, Issue: 'Prototype Pollution', URL: adv.url, Severity: 'critical', 'Vulnerable Versions': '<0.2.4', 'Tree Versions': ['0.0.8'] } });
    expect(parseYarnBerry(berry)).toEqual({ counts: { critical: 1, high: 0, moderate: 0, low: 0, info: 0 }, advisories: [{ package: 'minimist', severity: 'critical', title: 'Prototype Pollution', url: adv.url, range: '<0.2.4', fixAvailable: true }] });
  });

  it('parses yarn 2 / 3 `npm audit --json` (the registry report as it came), with the exit code either gives', () => {
    const adv = { id: 1179, module_name: 'minimist', severity: 'moderate', title: 'Prototype Pollution', url: 'https://github.com/advisories/GHSA-vh95-rmgr-6w4m', vulnerable_versions: '<0.2.1', patched_versions: '>=0.2.1', findings: [{ version: '0.0.8', paths: ['minimist'] }] };
    const line = JSON.stringify({ actions: [], advisories: { 1179: adv }, muted: [], metadata: { vulnerabilities: { info: 0, low: 0, moderate: 1, high: 0, critical: 0 } } });
    const want = { counts: { critical: 0, high: 0, moderate: 1, low: 0, info: 0 }, advisories: [{ package: 'minimist', severity: 'moderate', title: 'Prototype Pollution', url: adv.url, range: '<0.2.1', fixAvailable: true }] };
    expect(parseYarnBerry(line, { code: 1, stderr: '' })).toEqual(want); // yarn 3
    expect(parseYarnBerry(line, { code: 0, stderr: '' })).toEqual(want); // yarn 2: exit 0 with advisories
    const clean = JSON.stringify({ actions: [], advisories: {}, muted: [], metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0 } } });
    expect(parseYarnBerry(clean, { code: 0, stderr: '' })).toEqual({ counts: { critical: 0, high: 0, moderate: 0, low: 0, info: 0 }, advisories: [] });
    expect(() => parseYarnBerry('➤ YN0001: HTTPError: Response code 405 (Method Not Allowed)\n➤ Errors happened when preparing the environment required to run this command.', { code: 1, stderr: '' })).toThrow('yarn npm audit failed (exit 1): HTTPError: Response code 405 (Method Not Allowed)');
  });
});

describe('audit deps: what the package manager sees', () => {
  it("runs it without Shipshape's own variables (tokens, the env store's master key), and kills it when aborted", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-audit-env-'));
    const bin = join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'x', lockfileVersion: 3, packages: { '': { name: 'x' } } }));
    // a stand-in npm that records its environment and answers like `npm audit --json` with nothing found
    writeFileSync(
      join(bin, 'npm'),
      `#!/bin/sh\nenv > "${join(dir, 'env.txt')}"\nif [ -n "$SLOW" ]; then sleep 300 & echo $! > "${join(dir, 'sleep.pid')}"; wait; fi\necho '{"auditReportVersion":2,"vulnerabilities":{},"metadata":{"vulnerabilities":{"info":0,"low":0,"moderate":0,"high":0,"critical":0,"total":0}}}'\n`,
      { mode: 0o755 },
    );
    const saved = { PATH: process.env.PATH, token: process.env.SHIPSHAPE_ADMIN_TOKEN, key: process.env.SHIPSHAPE_SECRET_KEY };
    process.env.PATH = `${bin}:${saved.PATH ?? ''}`;
    process.env.SHIPSHAPE_ADMIN_TOKEN = 'admin-token-that-must-not-leak';
    process.env.SHIPSHAPE_SECRET_KEY = 'b'.repeat(64);
    try {
      const r = await auditDeps(dir);
      expect(r.manager).toBe('npm');
      expect(r.failing).toEqual([]);
      const seen = readFileSync(join(dir, 'env.txt'), 'utf8');
      expect(seen).toContain('PATH=');
      expect(seen).not.toMatch(/SHIPSHAPE_/);
      expect(seen).not.toContain('admin-token-that-must-not-leak');
      // aborted: the stand-in and what it started (a long sleep) are killed, not left running
      process.env.SLOW = '1';
      const ac = new AbortController();
      const audit = auditDeps(dir, { signal: ac.signal });
      const pidFile = join(dir, 'sleep.pid');
      while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') await new Promise((r) => setTimeout(r, 20));
      const sleepPid = Number(readFileSync(pidFile, 'utf8'));
      ac.abort();
      await expect(audit).rejects.toThrow();
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      while (alive(sleepPid)) await new Promise((r) => setTimeout(r, 20));
      expect(alive(sleepPid)).toBe(false);
    } finally {
      delete process.env.SLOW;
      process.env.PATH = saved.PATH;
      if (saved.token === undefined) delete process.env.SHIPSHAPE_ADMIN_TOKEN;
      else process.env.SHIPSHAPE_ADMIN_TOKEN = saved.token;
      if (saved.key === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
      else process.env.SHIPSHAPE_SECRET_KEY = saved.key;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
