/**
 * The env store's page in a real browser (Chromium via playwright-core) on the dashboard built
 * from web/ and a real Shipshape: masked values, an overdue rotation highlighted, set and unset
 * from the page, live updates, and no value anywhere in the page's HTML.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, teardown, waitForText } from '../e2e/harness.js';

const TOKEN = 'env-ui-admin-token-0123456789abcdef';
const STRIPE = `sk_live_${randomBytes(16).toString('hex')}`;
const OLD = `old-token-${randomBytes(8).toString('hex')}`;
const TYPED = `typed-in-the-form-${randomBytes(8).toString('hex')}`;
const LIVE = `set-elsewhere-${randomBytes(8).toString('hex')}`;

describe('the env page (Chromium)', () => {
  let dir: string;
  let running: Running | undefined;
  let browser: Browser | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const savedKey = process.env.SHIPSHAPE_SECRET_KEY;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${running!.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const noValueInPage = async () => {
    const html = await page.content();
    for (const v of [STRIPE, OLD, TYPED, LIVE]) expect(html).not.toContain(v);
  };

  beforeAll(async () => {
    process.env.SHIPSHAPE_SECRET_KEY = randomBytes(32).toString('hex');
    dir = mkdtempSync(join(tmpdir(), 'shipshape-env-ui-'));
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `services:
  web:
    env:
      rotate: 90d
      vars:
        OLD_TOKEN: { rotate: 1s }
  api:
    description: the API
`,
    );
    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
    await api('POST', '/api/v1/env/web/production/vars', { vars: { STRIPE_SECRET_KEY: STRIPE, OLD_TOKEN: OLD } });
    await api('POST', '/api/v1/env/web/staging/vars', { vars: { STRIPE_SECRET_KEY: 'sk_test_staging_0123456789' } });
    await new Promise((r) => setTimeout(r, 1100));
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    if (savedKey === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
    else process.env.SHIPSHAPE_SECRET_KEY = savedKey;
    await ctx?.close().catch(() => undefined);
    await teardown({ running, browser, dir });
  });

  it('lists services × environments with masked values, versions, who set them, and the overdue rotation highlighted', async () => {
    await page.goto(`${running!.url}/env`);
    await page.locator('input[name="token"]').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Environment variables', level: 1 }).waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="env-summary"]', '3 variables encrypted in the store · 1 overdue for rotation');
    const stripe = '[data-testid="env-row-production-STRIPE_SECRET_KEY"]';
    await waitForText(page, `${stripe} [data-testid="env-masked"]`, `sk_l…(${STRIPE.length})`);
    expect(await page.locator(stripe).textContent()).toMatch(/^STRIPE_SECRET_KEYsk_l…\(40\)1.+ by token:admin \(SHIPSHAPE_ADMIN_TOKEN\).+due in (89|90)d/);
    const old = '[data-testid="env-row-production-OLD_TOKEN"]';
    await waitForText(page, `${old} [data-testid="env-overdue"]`, /^overdue by \d+s$/);
    expect(await page.locator(old).getAttribute('class')).toBe('env-row-overdue');
    expect(await page.locator(`${stripe} [data-testid="env-overdue"]`).count()).toBe(0);
    await waitForText(page, '[data-testid="env-row-staging-STRIPE_SECRET_KEY"] [data-testid="env-masked"]', 'sk_t…(26)');
    await waitForText(page, '[data-testid="env-service-api"]', /Nothing stored for api yet/);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Env/ }).getAttribute('aria-current')).toBe('page');
    await waitForText(page, '[data-testid="nav-env-overdue"]', '1');
    await noValueInPage();
    await page.screenshot({ path: join(SHOTS, 'shipshape-env.png'), fullPage: true });
  });

  it('sets a variable from the form (the value is sent once and never shown), and unsets one', async () => {
    const form = page.getByTestId('env-set-web');
    await form.getByLabel('Environment').fill('production');
    await form.getByLabel('Name').fill('SESSION_SECRET');
    await form.getByLabel('Value').fill(TYPED);
    expect(await form.getByLabel('Value').getAttribute('type')).toBe('password');
    await form.getByRole('button', { name: 'Set' }).click();
    await waitForText(page, '[data-testid="env-set-web"] [role="status"]', 'SESSION_SECRET set for web/production (version 1)');
    await waitForText(page, '[data-testid="env-row-production-SESSION_SECRET"] [data-testid="env-masked"]', `type…(${TYPED.length})`);
    expect(await form.getByLabel('Value').inputValue()).toBe('');
    expect(await api<{ value: string }>('GET', '/api/v1/env/web/production/vars/SESSION_SECRET/value')).toMatchObject({ value: TYPED });
    await noValueInPage();

    await page.getByTestId('env-unset-OLD_TOKEN').click();
    await page.getByTestId('env-unset-confirm-OLD_TOKEN').click();
    await page.locator('[data-testid="env-row-production-OLD_TOKEN"]').waitFor({ state: 'detached', timeout: 15_000 });
    await waitForText(page, '[data-testid="env-summary"]', '3 variables encrypted in the store');
    expect(await page.locator('[data-testid="nav-env-overdue"]').count()).toBe(0);
  });

  it('follows changes made elsewhere live, without a reload', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload?: boolean }).__noReload = true;
    });
    await api('POST', '/api/v1/env/api/staging/vars', { vars: { API_SIGNING_KEY: LIVE } });
    await waitForText(page, '[data-testid="env-row-staging-API_SIGNING_KEY"] [data-testid="env-masked"]', `set-…(${LIVE.length})`);
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    await noValueInPage();
    expect(pageErrors).toEqual([]);
  });

  it('shows a read-only token the same masked list without the forms', async () => {
    const reader = (await running!.tokens.create('viewer', ['read'], 'test')).token;
    const ro = await browser!.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const p = await ro.newPage();
      await p.goto(`${running!.url}/env`);
      await p.locator('input[name="token"]').fill(reader);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await waitForText(p, '[data-testid="env-row-production-STRIPE_SECRET_KEY"] [data-testid="env-masked"]', `sk_l…(${STRIPE.length})`);
      expect(await p.locator('[data-testid^="env-set-"]').count()).toBe(0);
      expect(await p.locator('[data-testid^="env-unset-"]').count()).toBe(0);
      expect(await p.getByTestId('env-service-web').textContent()).toContain('Needs a token with admin scope to set or unset variables.');
      const html = await p.content();
      for (const v of [STRIPE, OLD, TYPED, LIVE]) expect(html).not.toContain(v);
    } finally {
      await ro.close();
    }
  });
});
