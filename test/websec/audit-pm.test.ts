/**
 * `shipshape audit deps` with the real pnpm 10 and 9, yarn 1, and yarn 4, 3 and 2 (devDependencies:
 * pnpm, pnpm9, yarn, @yarnpkg/cli-dist, yarn3, yarn2 — the last three all @yarnpkg/cli-dist), run from the built CLI as a user runs it, on projects (test/fixtures/audit-pm:
 * one dependency, minimist 0.0.8) whose lockfiles the tools wrote themselves (`pnpm install
 * --lockfile-only`, which pnpm 9 writes identically, `yarn install`, yarn 4's and 3's `yarn install
 * --mode=update-lockfile`, yarn 2's `yarn install`); auditing downloads nothing. No registry reachable here answers audits, so a loopback stand-in answers the
 * endpoints each tool really calls, as read in their source:
 *
 * - pnpm 10 and 9: POST <registry>/-/npm/v1/security/audits/quick (then /audits), npm 6's audit
 *   report; the registry from the project's .npmrc.
 * - yarn 1: POST https://registry.yarnpkg.com/-/npm/v1/security/audits, gzipped, npm 6's report.
 *   That URL is fixed in yarn 1 (its registry setting is not used for audits), so the stand-in is
 *   also the project's https-proxy (.yarnrc): it accepts CONNECT registry.yarnpkg.com:443 and
 *   answers over TLS with a certificate for that name, trusted through .yarnrc's cafile.
 * - yarn 4: POST <npmRegistryServer>/-/npm/v1/security/advisories/bulk (npm 7+'s bulk request) and
 *   GET <npmRegistryServer>/<package> for each package, whose deprecated versions it reports as
 *   moderate advisories. Run as berry projects are: the yarn 1 on PATH hands over to the yarnPath
 *   of .yarnrc.yml.
 * - yarn 3 and 2: POST <npmRegistryServer>/-/npm/v1/security/audits/quick only (a flat tree: every
 *   package, the project itself included, by name), npm 6's report, which they print as it came.
 *
 * The advisories are GitHub's for minimist 0.0.8 (GHSA-vh95-rmgr-6w4m moderate, GHSA-xvch-5gv4-984h
 * critical), answered only for the name@version the tool asked about.
 *
 * PATH: the child's PATH starts with a directory linking `pnpm` and `yarn` to the installed
 * packages' own entry points (audit.ts spawns them by name); pnpm 9's tests have a directory of their
 * own whose `pnpm` is pnpm 9. Not node_modules/.bin: yarn 1 and
 * @yarnpkg/cli-dist both declare a `yarn` bin, and a clean `npm ci` links yarn 4's there.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { selfSignedCert } from '../helpers/certs.js';

const BIN = resolve('bin/shipshape.js');
const FIXTURES = resolve('test/fixtures/audit-pm');
const YARN_CLASSIC = resolve('node_modules/yarn/bin/yarn.js');
const YARN_BERRY = resolve('node_modules/@yarnpkg/cli-dist/bin/yarn.js');
const PNPM = resolve('node_modules/pnpm/bin/pnpm.cjs');
const PNPM9 = resolve('node_modules/pnpm9/bin/pnpm.cjs');
const YARN3 = resolve('node_modules/yarn3/bin/yarn.js');
const YARN2 = resolve('node_modules/yarn2/bin/yarn.js');

type Severity = 'critical' | 'high' | 'moderate' | 'low' | 'info';
interface Adv {
  id: number;
  ghsa: string;
  severity: Severity;
  vulnerable: string;
  patched: string;
  cve: string;
  cvss: { score: number; vectorString: string };
}
const MODERATE: Adv = { id: 1179, ghsa: 'GHSA-vh95-rmgr-6w4m', severity: 'moderate', vulnerable: '<0.2.1', patched: '>=0.2.1', cve: 'CVE-2020-7598', cvss: { score: 5.6, vectorString: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L' } };
const CRITICAL: Adv = { id: 1088, ghsa: 'GHSA-xvch-5gv4-984h', severity: 'critical', vulnerable: '<0.2.4', patched: '>=0.2.4', cve: 'CVE-2021-44906', cvss: { score: 9.8, vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } };
/** the vulnerable version of minimist in the fixtures' lockfiles */
const AFFECTED = ['0.0.8'];
const TITLE = 'Prototype Pollution in minimist';
const url = (a: Adv) => `https://github.com/advisories/${a.ghsa}`;

/** What a stand-in answers. */
interface Mode {
  advisories: Adv[];
  /**
   * answer every POST with 405 (as the registry reachable here does): at once, and then hold the
   * packument for 3 s; or only once the packument has been answered (yarn 4 asks for both at once)
   */
  refuse?: 'at once' | 'after the packument';
  /** the deprecation message the packument gives minimist 0.0.8 */
  deprecated?: string;
}

interface StandIn {
  registry: string;
  /** `METHOD path` for plain requests, `METHOD https://host/path` for those through the CONNECT tunnel, `CONNECT host:port` */
  requests: string[];
  /** name@version of every package an audit request asked about */
  asked: string[];
  mode: Mode;
  close(): Promise<void>;
}

interface TreeNode {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, TreeNode>;
}

/** npm 6's audit report (what /-/npm/v1/security/audits and /audits/quick answered) for a tree that tool sent. */
function auditsReport(tree: TreeNode, advisories: Adv[], asked: string[]) {
  const found: { name: string; version: string; path: string; dev: boolean }[] = [];
  const walk = (node: TreeNode, path: string[]) => {
    for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
      found.push({ name, version: String(dep.version), path: [...path, name].join('>'), dev: dep.dev === true });
      walk(dep, [...path, name]);
    }
  };
  walk(tree, []);
  for (const f of found) asked.push(`${f.name}@${f.version}`);
  const report = { actions: [] as unknown[], advisories: {} as Record<string, unknown>, muted: [], metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0 }, dependencies: found.length, devDependencies: 0, optionalDependencies: 0, totalDependencies: found.length } };
  for (const a of advisories) {
    const hits = found.filter((f) => f.name === 'minimist' && AFFECTED.includes(f.version));
    if (!hits.length) continue;
    report.advisories[a.id] = {
      id: a.id, title: TITLE, module_name: 'minimist', severity: a.severity, url: url(a), github_advisory_id: a.ghsa,
      vulnerable_versions: a.vulnerable, patched_versions: a.patched, cves: [a.cve], cwe: ['CWE-1321'], cvss: a.cvss,
      findings: [{ version: hits[0]?.version, paths: hits.map((h) => h.path) }],
      overview: TITLE,
      recommendation: `Upgrade to version ${a.patched.slice(2)} or later`, references: `- ${url(a)}`, access: 'public',
      created: '2022-03-18T00:01:09.000Z', updated: '2023-01-09T05:02:28.000Z', deleted: null, found_by: null, reported_by: null, metadata: null,
    };
    report.metadata.vulnerabilities[a.severity] += hits.length;
    report.actions.push({ action: 'update', module: 'minimist', target: a.patched.slice(2), depth: 1, resolves: hits.map((h) => ({ id: a.id, path: h.path, dev: h.dev, optional: false, bundled: false })) });
  }
  return report;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A registry that answers audits (and an https-proxy to itself for registry.yarnpkg.com), one for each test. */
async function standIn(mode: Mode): Promise<StandIn> {
  const s: StandIn = { registry: '', requests: [], asked: [], mode, close: async () => undefined };
  let packumentSent = () => {};
  const packument = new Promise<void>((r) => (packumentSent = r));
  const handle = (tunnelled: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      s.requests.push(`${req.method} ${tunnelled ? `https://${req.headers.host}` : ''}${path}`);
      const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'POST' && s.mode.refuse) {
        if (s.mode.refuse === 'after the packument') await packument.then(() => sleep(200));
        return json(405, { error: 'Method Not Allowed' });
      }
      const raw = Buffer.concat(chunks);
      const body = () => JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString()) as unknown;
      if (req.method === 'POST' && /\/-\/npm\/v1\/security\/audits(\/quick)?$/.test(path)) return json(200, auditsReport(body() as TreeNode, s.mode.advisories, s.asked));
      if (req.method === 'POST' && path.endsWith('/-/npm/v1/security/advisories/bulk')) {
        const wanted = body() as Record<string, string[]>;
        for (const [name, versions] of Object.entries(wanted)) for (const v of versions) s.asked.push(`${name}@${v}`);
        const hit = wanted.minimist?.some((v) => AFFECTED.includes(v));
        return json(200, hit && s.mode.advisories.length ? { minimist: s.mode.advisories.map((a) => ({ id: a.id, url: url(a), title: TITLE, severity: a.severity, vulnerable_versions: a.vulnerable, cwe: ['CWE-1321'], cvss: a.cvss })) } : {});
      }
      if (req.method === 'GET' && path === '/minimist') {
        if (s.mode.refuse === 'at once') await sleep(3000);
        const v = { name: 'minimist', version: '0.0.8', dist: { tarball: `${s.registry}minimist/-/minimist-0.0.8.tgz`, shasum: '857fcabfc3397d2625b8228262e86aa7a011b05d' }, ...(s.mode.deprecated ? { deprecated: s.mode.deprecated } : {}) };
        json(200, { name: 'minimist', 'dist-tags': { latest: '0.0.8' }, versions: { '0.0.8': v } });
        return packumentSent();
      }
      json(404, { error: 'Not found' });
    });
  };
  const tls = createHttps({ key: cert.key, cert: cert.cert }, handle(true));
  const server: Server = createHttp(handle(false));
  // an https-proxy: the tunnel to registry.yarnpkg.com:443 ends here, in `tls`
  server.on('connect', (req: IncomingMessage, socket, head: Buffer) => {
    s.requests.push(`CONNECT ${req.url}`);
    if (req.url !== 'registry.yarnpkg.com:443') return void socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    tls.emit('connection', socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.registry = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return s;
}

type Manager = 'pnpm' | 'yarn' | 'yarn-berry';
/** a package manager at one version: what `audit deps` calls it, its fixture, how it is found */
interface Tool {
  manager: Manager;
  fixture: string;
  /** pnpm: the entry point PATH's `pnpm` leads to; yarn 2+: the project's yarnPath */
  entry: string;
}
const TOOLS = {
  pnpm10: { manager: 'pnpm', fixture: 'pnpm', entry: PNPM },
  pnpm9: { manager: 'pnpm', fixture: 'pnpm', entry: PNPM9 },
  yarn1: { manager: 'yarn', fixture: 'yarn', entry: YARN_CLASSIC },
  yarn4: { manager: 'yarn-berry', fixture: 'yarn-berry', entry: YARN_BERRY },
  yarn3: { manager: 'yarn-berry', fixture: 'yarn3', entry: YARN3 },
  yarn2: { manager: 'yarn-berry', fixture: 'yarn2', entry: YARN2 },
} satisfies Record<string, Tool>;
let root = '';
let bin = '';
let bin9 = '';
let ca = '';
let cert: { key: string; cert: string };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'shipshape-audit-pm-'));
  bin = join(root, 'bin');
  mkdirSync(bin);
  symlinkSync(PNPM, join(bin, 'pnpm'));
  symlinkSync(YARN_CLASSIC, join(bin, 'yarn'));
  bin9 = join(root, 'bin-pnpm9');
  mkdirSync(bin9);
  symlinkSync(PNPM9, join(bin9, 'pnpm'));
  symlinkSync(YARN_CLASSIC, join(bin9, 'yarn'));
  cert = selfSignedCert({ cn: 'registry.yarnpkg.com', san: 'DNS:registry.yarnpkg.com' });
  ca = join(root, 'registry.yarnpkg.com.pem');
  writeFileSync(ca, cert.cert);
});

const stands: StandIn[] = [];
afterAll(async () => {
  await Promise.all(stands.map((s) => s.close()));
  if (root) rmSync(root, { recursive: true, force: true });
});

/**
 * A copy of the fixture project for `pm`, whose registry settings (the project's own files, as a
 * user behind a proxy or with a private registry has them) point at a stand-in of its own.
 */
/** The gate's threshold with one moderate advisory (passes at high, fails at moderate), then a clean tree. */
async function thresholds(expect: ExpectStatic, tool: Tool): Promise<void> {
  const p = await project(tool, { advisories: [MODERATE] });
  const high = await p.audit();
  expect(high.status).toBe(0);
  expect(high.stdout).toContain(': 0 critical, 0 high, 1 moderate, 0 low, 0 info');
  expect(high.stdout.trimEnd().split('\n').at(-1)).toBe('none at or above high');
  expect((await p.audit('--level', 'moderate')).status).toBe(1);
  p.stand.mode = { advisories: [] };
  const clean = await p.audit('--json');
  expect(clean.status).toBe(0);
  expect(report(clean)).toMatchObject({ counts: NONE, advisories: [], failing: [] });
}

async function project(which: Manager | Tool, mode: Mode): Promise<{ dir: string; stand: StandIn; audit: (...args: string[]) => ReturnType<typeof shipshape> }> {
  const tool: Tool = typeof which === 'string' ? { pnpm: TOOLS.pnpm10, yarn: TOOLS.yarn1, 'yarn-berry': TOOLS.yarn4 }[which] : which;
  const pm = tool.manager;
  const stand = await standIn(mode);
  stands.push(stand);
  const dir = mkdtempSync(join(root, `${tool.fixture}-`));
  cpSync(join(FIXTURES, tool.fixture), dir, { recursive: true });
  if (pm === 'pnpm') writeFileSync(join(dir, '.npmrc'), `registry=${stand.registry}\n`);
  if (pm === 'yarn') writeFileSync(join(dir, '.yarnrc'), `https-proxy "${stand.registry}"\ncafile "${ca}"\n`);
  if (pm === 'yarn-berry') {
    writeFileSync(
      join(dir, '.yarnrc.yml'),
      [
        `yarnPath: ${JSON.stringify(tool.entry)}`,
        `npmRegistryServer: ${JSON.stringify(stand.registry.replace(/\/$/, ''))}`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        `globalFolder: ${JSON.stringify(join(dir, '.yarn-global'))}`,
        'enableTelemetry: false',
        '',
      ].join('\n'),
    );
  }
  const path = tool.entry === PNPM9 ? bin9 : bin;
  return { dir, stand, audit: (...args) => shipshape(['audit', 'deps', dir, ...args], path) };
}

/** The built CLI, with the package managers first on PATH and no registry from this process's environment. */
function shipshape(args: string[], first = bin): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${first}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (/^(npm_config_registry|SHIPSHAPE_CONFIG|YARN_.*)$/i.test(k)) delete env[k];
    const child = spawn(process.execPath, [BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr) }));
  });
}

interface Report {
  manager: string;
  counts: Record<Severity, number>;
  advisories: { package: string; severity: Severity; title: string; url: string; range?: string; fixAvailable: boolean }[];
  failing: unknown[];
}

/** `--json` output, or what was printed instead */
function report(r: { stdout: string; stderr: string }): Report | string {
  try {
    return JSON.parse(r.stdout) as Report;
  } catch {
    return `${r.stdout}${r.stderr}`;
  }
}

const BOTH = [
  { package: 'minimist', severity: 'critical', title: TITLE, url: url(CRITICAL), range: '<0.2.4', fixAvailable: true },
  { package: 'minimist', severity: 'moderate', title: TITLE, url: url(MODERATE), range: '<0.2.1', fixAvailable: true },
];
const NONE = { critical: 0, high: 0, moderate: 0, low: 0, info: 0 };

/** The human report of BOTH: counts, a table row each, the verdict. */
function expectBoth(e: ExpectStatic, stdout: string, pm: Manager, dir: string): void {
  const lines = stdout.trimEnd().split('\n');
  e(lines[0]).toBe(`${pm} audit of ${dir}: 1 critical, 0 high, 1 moderate, 0 low, 0 info`);
  e(stdout).toContain(`│ critical │ minimist           │ Prototype Pollution in minimist            │ yes  │ ${url(CRITICAL)} │`);
  e(stdout).toContain(`│ moderate │ minimist           │ Prototype Pollution in minimist            │ yes  │ ${url(MODERATE)} │`);
  e(lines.at(-1)).toBe('1 at or above high');
}

// pnpm 10 asks /audits/quick and falls back to /audits; pnpm 9 asks /audits only
const QUICK = 'POST /-/npm/v1/security/audits/quick';
const AUDITS = 'POST /-/npm/v1/security/audits';
describe.concurrent.for([
  ['10.34.9', TOOLS.pnpm10, [QUICK], [QUICK, AUDITS]],
  ['9.15.9', TOOLS.pnpm9, [AUDITS], [AUDITS]],
] as const)('audit deps with the real pnpm %s (pnpm-lock.yaml)', { timeout: 120_000 }, ([version, tool, asks, refused]) => {
  it('runs that pnpm', async ({ expect }) => {
    const p = await project(tool, { advisories: [] });
    const r = await new Promise<string>((done) => {
      const child = spawn('pnpm', ['--version'], { cwd: p.dir, env: { ...process.env, PATH: `${tool.entry === PNPM9 ? bin9 : bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => done(out.trim()));
    });
    expect(r).toBe(version);
  });

  it('shows the critical and the moderate advisory, exits 1 at high; pnpm asked for minimist@0.0.8', async ({ expect }) => {
    const p = await project(tool, { advisories: [MODERATE, CRITICAL] });
    const r = await p.audit();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expectBoth(expect, r.stdout, 'pnpm', p.dir);
    expect(p.stand.requests).toEqual(asks);
    expect(p.stand.asked).toEqual(['.@1.0.0', 'minimist@0.0.8']); // pnpm sends the project itself as a dependency named "."
    const j = await p.audit('--json', '--level', 'critical');
    expect(j.status).toBe(1);
    expect(report(j)).toMatchObject({ manager: 'pnpm', counts: { critical: 1, high: 0, moderate: 1, low: 0, info: 0 }, advisories: BOTH, failing: [BOTH[0]] });
  });

  it('a moderate advisory passes at high and fails at moderate; a clean tree passes', ({ expect }) => thresholds(expect, tool));

  it('an audit endpoint that refuses is an error naming it (pnpm 10 tried /audits/quick, then /audits)', async ({ expect }) => {
    const p = await project(tool, { advisories: [], refuse: 'at once' });
    const r = await p.audit();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`pnpm audit failed: The audit endpoint (at ${p.stand.registry}${asks[0].slice('POST /'.length)}) responded with 405`);
    expect(p.stand.requests).toEqual(refused);
  });
});

describe.concurrent('audit deps with the real yarn 1 (yarn.lock v1)', { timeout: 120_000 }, () => {
  it('shows both advisories, exits 1 at high; yarn posted its tree to registry.yarnpkg.com/-/npm/v1/security/audits through the proxy', async ({ expect }) => {
    const p = await project('yarn', { advisories: [MODERATE, CRITICAL] });
    const r = await p.audit();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expectBoth(expect, r.stdout, 'yarn', p.dir);
    expect(p.stand.requests).toEqual(['CONNECT registry.yarnpkg.com:443', 'POST https://registry.yarnpkg.com/-/npm/v1/security/audits']);
    expect(p.stand.asked).toEqual(['minimist@0.0.8']);
    const j = await p.audit('--json');
    expect(j.status).toBe(1);
    expect(report(j)).toMatchObject({ manager: 'yarn', counts: { critical: 1, high: 0, moderate: 1, low: 0, info: 0 }, advisories: BOTH });
  });

  it('a moderate advisory passes at high and fails at moderate; a clean tree passes', async ({ expect }) => {
    const p = await project('yarn', { advisories: [MODERATE] });
    const high = await p.audit();
    expect(high.status).toBe(0);
    expect(high.stdout.trimEnd().split('\n').at(-1)).toBe('none at or above high');
    expect((await p.audit('--level', 'moderate')).status).toBe(1);
    p.stand.mode = { advisories: [] };
    const clean = await p.audit('--json');
    expect(clean.status).toBe(0);
    expect(report(clean)).toMatchObject({ counts: NONE, advisories: [] });
  });

  it('an audit endpoint that refuses is an error, not a clean report (yarn says so on stderr and prints no summary)', async ({ expect }) => {
    const p = await project('yarn', { advisories: [], refuse: 'at once' });
    const r = await p.audit();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('yarn audit failed: https://registry.yarnpkg.com/-/npm/v1/security/audits: Request "https://registry.yarnpkg.com/-/npm/v1/security/audits" returned a 405');
    expect(r.stderr).not.toMatch(/\n\s+at /); // the message, not yarn's stack trace
  });
});

describe.concurrent('audit deps with the real yarn 4 (yarn.lock with __metadata, yarnPath)', { timeout: 120_000 }, () => {
  it('shows both advisories, exits 1 at high; yarn asked the bulk endpoint for minimist 0.0.8 and read its packument', async ({ expect }) => {
    const p = await project('yarn-berry', { advisories: [MODERATE, CRITICAL] });
    const r = await p.audit();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    // yarn 4 names no patched version: a fix is taken to exist
    expectBoth(expect, r.stdout, 'yarn-berry', p.dir);
    expect([...p.stand.requests].sort()).toEqual(['GET /minimist', 'POST /-/npm/v1/security/advisories/bulk']);
    expect(p.stand.asked).toEqual(['minimist@0.0.8']);
    const j = await p.audit('--json');
    expect(j.status).toBe(1);
    expect(report(j)).toMatchObject({ manager: 'yarn-berry', counts: { critical: 1, high: 0, moderate: 1, low: 0, info: 0 }, advisories: BOTH });
  });

  it('a clean tree passes (yarn 4 prints nothing then); a moderate advisory passes at high and fails at moderate', async ({ expect }) => {
    const p = await project('yarn-berry', { advisories: [] });
    const clean = await p.audit('--json');
    expect(clean.status).toBe(0);
    expect(report(clean)).toMatchObject({ counts: NONE, advisories: [] });
    p.stand.mode = { advisories: [MODERATE] };
    expect((await p.audit()).status).toBe(0);
    expect((await p.audit('--level', 'moderate')).status).toBe(1);
  });

  it('a deprecated version is a moderate advisory, as yarn 4 reports it', async ({ expect }) => {
    const p = await project('yarn-berry', { advisories: [], deprecated: 'Please upgrade to minimist 1.2.6 or later' });
    const j = await p.audit('--json', '--level', 'moderate');
    expect(j.status).toBe(1);
    expect(report(j)).toMatchObject({ advisories: [{ package: 'minimist', severity: 'moderate', title: 'Please upgrade to minimist 1.2.6 or later', url: '', range: '0.0.8', fixAvailable: true }] });
  });

  it('an audit endpoint that refuses is an error, reported by yarn (not as JSON) on stdout', async ({ expect }) => {
    const p = await project('yarn-berry', { advisories: [], refuse: 'after the packument' });
    const r = await p.audit();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`yarn npm audit failed (exit 1): Method Not Allowed; Response Code: 405 (Method Not Allowed); Request Method: POST; Request URL: ${p.stand.registry}-/npm/v1/security/advisories/bulk`);
  });

  it('an audit endpoint that refuses while the packument is pending kills yarn (an unhandled rejection): the error is read from stderr', async ({ expect }) => {
    const p = await project('yarn-berry', { advisories: [], refuse: 'at once' });
    const r = await p.audit();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('yarn npm audit --json --recursive (for yarn.lock) printed nothing: Method Not Allowed; Response code 405 (Method Not Allowed) (exit 1)');
  });
});

describe.concurrent.for([
  ['3.8.7', TOOLS.yarn3],
  ['2.4.2', TOOLS.yarn2],
] as const)('audit deps with the real yarn %s (yarn.lock with __metadata, yarnPath)', { timeout: 120_000 }, ([version, tool]) => {
  it('shows both advisories, exits 1 at high; yarn posted its tree to /audits/quick and printed the report as it came', async ({ expect }) => {
    const p = await project(tool, { advisories: [MODERATE, CRITICAL] });
    const r = await p.audit();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expectBoth(expect, r.stdout, 'yarn-berry', p.dir);
    expect(p.stand.requests).toEqual(['POST /-/npm/v1/security/audits/quick']);
    expect(p.stand.asked).toEqual(['audited@0.0.0-use.local', 'minimist@0.0.8']); // the project itself, as a package of the flat tree
    const j = await p.audit('--json');
    expect(j.status).toBe(1);
    expect(report(j)).toMatchObject({ manager: 'yarn-berry', counts: { critical: 1, high: 0, moderate: 1, low: 0, info: 0 }, advisories: BOTH });
    // the yarn that ran is the fixture's: its lockfile and yarnPath, not yarn 4
    expect(readFileSync(join(p.dir, '.yarnrc.yml'), 'utf8')).toContain(tool.entry);
    expect(JSON.parse(readFileSync(join(dirname(dirname(tool.entry)), 'package.json'), 'utf8'))).toMatchObject({ version });
  });

  it('a moderate advisory passes at high and fails at moderate; a clean tree passes', ({ expect }) => thresholds(expect, tool));

  it('an audit endpoint that refuses is an error naming the 405, not a clean report', async ({ expect }) => {
    const p = await project(tool, { advisories: [], refuse: 'at once' });
    const r = await p.audit();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      version.startsWith('3.')
        ? `yarn npm audit failed (exit 1): Method Not Allowed; Response Code: 405 (Method Not Allowed); Request Method: POST; Request URL: ${p.stand.registry}-/npm/v1/security/audits/quick`
        : 'yarn npm audit failed (exit 1): HTTPError: Response code 405 (Method Not Allowed)',
    );
  });
});
