/**
 * The Security page in Chromium: a real Shipshape with two `headers` checks on loopback sites
 * shows each site's grade, its tests with result codes and fixes, and grades again on request;
 * a `secrets` check over a tree holding a (seeded, fake) Stripe key shows the finding redacted,
 * never the key; an `audit` check shows npm's advisories (npm pointed at a loopback advisory
 * server, as in audit.test.ts). The dashboard is built fresh from web/ into a temp dir; a
 * screenshot lands in /tmp.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, waitForText } from '../e2e/harness.js';
import { makeSeeds } from '../secrets/seeds.js';
import { site, type Site } from './sites.js';

const stripe = makeSeeds(7).find((x) => x.rule === 'stripe-secret-key')!;
const ADVISORY = { id: 1088, url: 'https://github.com/advisories/GHSA-xvch-5gv4-984h', title: 'Prototype Pollution in minimist', severity: 'critical', vulnerable_versions: '<0.2.4' };
let advisoryServer: Server | undefined;
let savedRegistry: string | undefined;

const TOKEN = 'websec-page-admin-token-0123456789';

let dir = '';
let good: Site;
let bare: Site;
let running: Running | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-websec-page-'));
  const webRoot = join(dir, 'web');
  await buildDashboard(webRoot);
  good = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }).end('<p>ok</p>'), { tls: false });
  bare = await site((_p, _q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'), { tls: false });
  // a tree with a fake live Stripe key, and a project whose lockfile has a vulnerable minimist
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'pay.ts'), `${stripe.text}\n`);
  mkdirSync(join(dir, 'deps'));
  writeFileSync(join(dir, 'deps', 'package.json'), JSON.stringify({ name: 'audited', version: '1.0.0', dependencies: { minimist: '0.0.8' } }));
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: join(dir, 'deps'), stdio: 'pipe', timeout: 120_000 });
  advisoryServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/-/npm/v1/security/advisories/bulk')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ minimist: [ADVISORY] }));
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => advisoryServer!.listen(0, '127.0.0.1', r));
  savedRegistry = process.env.npm_config_registry;
  process.env.npm_config_registry = `http://127.0.0.1:${(advisoryServer.address() as { port: number }).port}/`;
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(
    configPath,
    [
      'services:',
      '  shop:',
      '    checks:',
      `      - name: headers`,
      `        headers: { url: "http://127.0.0.1:${good.port}/", min_grade: C, every: 1h }`,
      '      - name: repo',
      '        secrets: { path: app, every: 1h }',
      '      - name: deps',
      '        audit: { path: deps, every: 6h }',
      '  legacy:',
      '    checks:',
      `      - headers: { url: "http://127.0.0.1:${bare.port}/", every: 1h }`,
      '',
    ].join('\n'),
  );
  running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  running?.server.server.closeAllConnections();
  await running?.stop().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await Promise.all([good?.close(), bare?.close(), new Promise((r) => (advisoryServer ? advisoryServer.close(r) : r(undefined)))]);
  if (savedRegistry === undefined) delete process.env.npm_config_registry;
  else process.env.npm_config_registry = savedRegistry;
  rmSync(dir, { recursive: true, force: true });
});

describe('Security page', () => {
  it('shows each headers check with its grade, tests and fixes, the secret scan redacted and the audit', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1360, height: 1000 } });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${running!.url}/security`);
    const tokenInput = page.locator('input[name="token"]');
    await tokenInput.waitFor({ timeout: 15_000 });
    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const cards = page.locator('[data-testid="ws-card"]');
    await cards.nth(1).waitFor({ timeout: 30_000 });
    await waitForText(page, '[data-testid="ws-card"]:nth-of-type(1) [data-testid="ws-grade"]', 'C+');
    await waitForText(page, '[data-testid="ws-card"]:nth-of-type(2) [data-testid="ws-grade"]', 'F');
    const second = cards.nth(1);
    expect(await second.locator('h2').textContent()).toBe('legacy');
    expect(await second.textContent()).toContain('below B');
    const csp = second.locator('[data-testid="ws-test"]', { hasText: 'csp-not-implemented' });
    expect(await csp.count()).toBe(1);
    expect(await csp.textContent()).toContain("send a Content-Security-Policy header, e.g. default-src 'self'");
    expect(await csp.textContent()).toContain('-25');
    expect(await cards.nth(0).textContent()).toContain('≥ C');
    expect(await page.locator('nav').getByText('Security', { exact: true }).count()).toBeGreaterThan(0);

    // the secret scan: the finding, redacted; the key itself nowhere in the page
    const finding = page.locator('[data-testid="ws-scan"] [data-testid="ws-finding"]');
    await finding.first().waitFor({ timeout: 30_000 });
    expect(await finding.count()).toBe(1);
    const row = (await finding.textContent()) ?? '';
    expect(row).toContain('stripe-secret-key');
    expect(row).toContain('pay.ts:1');
    expect(row).toContain(`${stripe.secret.slice(0, 4)}…`);
    expect(row).toContain('pay.ts:stripe-secret-key:1');
    const scan = (await page.locator('[data-testid="ws-scan"]').textContent()) ?? '';
    expect(scan).toContain('1 file scanned');
    expect(scan).toContain('add its fingerprint to .shipshape-secrets-allow');

    // the dependency audit: counts by severity and the failing advisory with its link
    const advisory = page.locator('[data-testid="ws-audit"] [data-testid="ws-advisory"]');
    await advisory.first().waitFor({ timeout: 60_000 });
    expect(await advisory.textContent()).toContain('minimist');
    expect(await advisory.locator('a').getAttribute('href')).toBe(ADVISORY.url);
    expect(await advisory.locator('a').textContent()).toBe(ADVISORY.title);
    expect((await page.locator('[data-testid="ws-audit"] [data-testid="ws-counts"]').textContent())?.replace(/\s+/g, ' ')).toContain('critical 1');
    expect(await page.locator('[data-testid="ws-audit"]').textContent()).toContain('1 advisory at or above high');

    const html = await page.content();
    expect(html).not.toContain(stripe.secret);
    expect(html).not.toContain(stripe.secret.slice(0, 12));

    await page.getByRole('button', { name: 'Grade again' }).click();
    await page.getByRole('button', { name: 'Grade again' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'shipshape-websec-security.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 120_000);
});
