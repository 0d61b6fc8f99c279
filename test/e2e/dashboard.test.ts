/**
 * The dashboard, end to end: a real Shipshape (in-process) checks a real HTTP target, Chromium
 * loads the built dashboard, signs in with the admin token, sees the service up, and — without
 * reloading — sees it go down over the live event stream when the target stops answering.
 *
 * The dashboard is built fresh from web/ into a temp dir, so the test exercises the current
 * sources whatever state dist/ is in. Screenshots land in /tmp/shipshape-*.png for a human look.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, teardown, waitForText } from './harness.js';

const TOKEN = 'e2e-admin-token-0123456789abcdef';


describe('dashboard (Chromium)', () => {
  let dir: string;
  let target: Server;
  let running: Running | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-e2e-'));
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    target = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'healthy' }));
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as AddressInfo).port;

    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      [
        'services:',
        '  web:',
        '    checks:',
        '      - name: health',
        `        http: { url: "http://127.0.0.1:${targetPort}/api/health", every: 1s, timeout: 1s }`,
        '        conditions: [\'body.status == "healthy"\']',
        '        down_after: 1',
        '',
      ].join('\n'),
    );

    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });

    browser = await launchChromium();
  }, 120_000);

  afterAll(() => teardown({ running, browser, servers: [target], dir }));

  it('signs in, shows the service up, then down live when its target stops', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: 'dark' });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // the server hands the single-page app to anyone (the API behind it needs the token)
    for (const path of ['/', '/services/web']) {
      const res = await fetch(`${running!.url}${path}`);
      expect(`${path}: ${res.status} ${res.headers.get('content-type')}`).toMatch(/: 200 text\/html/);
      expect(await res.text()).toContain('<div id="root">');
    }

    // unauthenticated: the sign-in screen, and a wrong token is refused with a message
    await page.goto(`${running!.url}/`);
    const tokenInput = page.locator('input[name="token"]');
    await tokenInput.waitFor({ timeout: 15_000 });
    await tokenInput.fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /not accepted/i }).waitFor({ timeout: 10_000 });

    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // the overview: the service row with its state pill, and the live stream connected
    await page.locator('[data-testid="service-web"]').waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="state-web"]', 'Up');
    await waitForText(page, '[data-testid="overall"]', 'All systems operational');
    await waitForText(page, '[data-testid="live"]', 'Live');
    await page.waitForTimeout(1200); // a couple more results, so the sparkline and bars have data
    await page.screenshot({ path: join(SHOTS, 'shipshape-overview.png'), fullPage: true });

    // the service page: checks table with condition outcomes, and the latency chart
    await page.locator('[data-testid="service-web"]').click();
    await page.waitForURL(/\/services\/web$/);
    await waitForText(page, '[data-testid="service-state"]', 'Up');
    await page.locator('[data-testid="check-health"]').waitFor();
    expect(await page.locator('[data-testid="check-health"]').textContent()).toContain('body.status == "healthy"');
    await page.locator('.chart canvas').first().waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SHOTS, 'shipshape-service.png'), fullPage: true });

    // back to the overview in-app, and mark the document to prove there is no reload from here on
    await page.getByRole('link', { name: 'Overview', exact: true }).first().click();
    await page.locator('[data-testid="service-web"]').waitFor();
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload?: boolean }).__noReload = true;
    });

    // the target goes away: the next run fails, and the page turns Down by itself
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
    await waitForText(page, '[data-testid="state-web"]', 'Down', 20_000);
    await waitForText(page, '[data-testid="overall"]', /^1 service down/);
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'shipshape-overview-down.png'), fullPage: true });

    // and the service page tells why
    await page.locator('[data-testid="service-web"]').click();
    await waitForText(page, '[data-testid="service-state"]', 'Down');
    await page.locator('.fail').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'shipshape-service-down.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 120_000);
});
