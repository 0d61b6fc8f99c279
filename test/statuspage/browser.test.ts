/** The status page in Chromium with JavaScript disabled: components and incidents are there, and dark mode looks right. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { incidents } from '../../src/incidents/index.js';
import { launchChromium, SHOTS, startForBrowser, teardown } from '../e2e/harness.js';
import { startTarget, type Target } from '../helpers/target.js';

describe('status page in a browser without JavaScript', () => {
  let running: Running;
  let browser: Browser;
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    target = await startTarget();
    dir = mkdtempSync(join(tmpdir(), 'shipshape-status-'));
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `services:
  web:
    checks: [{ http: { url: "${target.url}/", every: 1h }, down_after: 1 }]
  api:
    checks: [{ http: { url: "${target.url}/api", every: 1h }, down_after: 1 }]
status_pages:
  public:
    title: Acme status
    description: Live status of Acme's services
    links: [{ label: Support, url: "https://acme.example/support" }]
    components:
      - { name: Website, service: web, group: Storefront, description: The shop }
      - { name: Public API, service: api, group: Storefront }
`,
    );
    running = await startForBrowser({ configPath, dir, token: 'test-admin-token-0123456789', webRoot: join(dir, 'no-web') });
    const { checks } = await import('../../src/checks/index.js');
    await running.use(checks).monitor.runNow();
    const svc = running.use(incidents).service;
    const inc = await svc.open({ title: 'Elevated API errors', severity: 'P2', services: ['api'] }, 'ada');
    await svc.postUpdate(inc.id, { status: 'identified', message: 'A bad deploy; rolling back now.' }, 'ada');
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await teardown({ running, browser, dir });
    await target?.close();
  });

  it('shows the components and the incident with JavaScript disabled, in light and dark mode', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ javaScriptEnabled: false, colorScheme, viewport: { width: 1000, height: 1100 } });
      const page = await ctx.newPage();
      const res = await page.goto(`${running.url}/status`);
      expect(res?.status()).toBe(200);
      expect(await page.title()).toBe('Acme status');
      expect(await page.locator('#c-website .name').textContent()).toBe('Website');
      expect(await page.locator('#c-public-api .st').textContent()).toBe('Degraded Performance');
      expect(await page.locator('#c-website .st').textContent()).toBe('Operational');
      expect(await page.locator('details.grp summary').first().textContent()).toContain('Storefront');
      expect(await page.locator('.inc h3').first().textContent()).toBe('Elevated API errors');
      expect(await page.locator('.inc .upd li').first().textContent()).toContain('A bad deploy; rolling back now.');
      expect(await page.locator('.inc .muted').first().textContent()).toBe('Affected: Public API');
      expect(await page.locator('.banner').textContent()).toBe('Minor Service Outage');
      expect(await page.locator('.bars').first().locator('li').count()).toBe(90);
      const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
      expect(bg).toBe(colorScheme === 'dark' ? 'rgb(15, 18, 22)' : 'rgb(247, 248, 250)');
      await page.screenshot({ path: join(SHOTS, `statuspage-${colorScheme}.png`), fullPage: true });
      // the history link works without JS too
      await page.click('text=Incident history →');
      expect(await page.locator('.inc h3').first().textContent()).toBe('Elevated API errors');
      await ctx.close();
    }
  }, 60_000);
});
