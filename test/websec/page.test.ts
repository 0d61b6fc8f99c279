/**
 * The Security page in Chromium: a real Shipshape with two `headers` checks on loopback sites
 * shows each site's grade, its tests with result codes and fixes, and grades again on request.
 * The dashboard is built fresh from web/ into a temp dir; a screenshot lands in /tmp.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, waitForText } from '../e2e/harness.js';
import { site, type Site } from './sites.js';

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
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(
    configPath,
    ['services:', '  shop:', '    checks:', `      - name: headers`, `        headers: { url: "http://127.0.0.1:${good.port}/", min_grade: C, every: 1h }`, '  legacy:', '    checks:', `      - headers: { url: "http://127.0.0.1:${bare.port}/", every: 1h }`, ''].join('\n'),
  );
  running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  running?.server.server.closeAllConnections();
  await running?.stop().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await Promise.all([good?.close(), bare?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('Security page', () => {
  it('shows each headers check with its grade, tests and fixes', async () => {
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

    await page.getByRole('button', { name: 'Grade again' }).click();
    await page.getByRole('button', { name: 'Grade again' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'shipshape-websec-security.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 120_000);
});
