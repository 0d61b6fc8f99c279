/**
 * The webhook inbox in a real browser (Chromium via playwright-core) on the dashboard built from
 * web/: a user sees the hooks and deliveries with their state, attempts and last error, opens a
 * failed delivery's attempts, and replays it once the app is fixed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, teardown, waitForText } from '../e2e/harness.js';
import { startApp, stripeEvent, stripeHeader, until, type App } from './helpers.js';

const TOKEN = 'webhooks-ui-admin-token-0123456789abcdef';
const SECRET = 'whsec_ui_test_0123456789abcdef';

describe('the webhook inbox screens (Chromium)', () => {
  let dir: string;
  let running: Running | undefined;
  let browser: Browser | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page;
  let app: App;
  const pageErrors: string[] = [];
  const ids: Record<string, number> = {};

  const post = async (hook: string, id: string) => {
    const body = stripeEvent(id);
    const r = await fetch(`${running!.url}/hooks/${hook}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(body, SECRET) } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { id: number }).id;
  };
  const state = async (id: number) => ((await (await fetch(`${running!.url}/api/v1/webhooks/deliveries/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { state: string }).state;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-wh-ui-'));
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);
    app = await startApp();
    app.modes.set('/api/webhooks/billing', 'error');
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `webhooks:
  stripe:
    verify: { stripe: { secret: "${SECRET}" } }
    forward: "${app.url('/api/webhooks/stripe')}"
  billing:
    verify: { stripe: { secret: "${SECRET}" } }
    forward: "${app.url('/api/webhooks/billing')}"
    retries: 0
`,
    );
    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
    ids.ok = await post('stripe', 'evt_ui_ok');
    ids.bad = await post('billing', 'evt_ui_bad');
    await until('both settled', async () => (await state(ids.ok!)) === 'delivered' && (await state(ids.bad!)) === 'failed');
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await ctx?.close().catch(() => undefined);
    await teardown({ running, browser, dir, servers: [app?.server] });
  });

  it('lists the hooks and the deliveries with state, attempts and last error', async () => {
    await page.goto(`${running!.url}/webhooks`);
    await page.locator('input[name="token"]').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="webhooks-summary"]', '2 hooks · 0 pending · 1 failed');
    await waitForText(page, `[data-testid="wh-state-${ids.ok}"]`, 'Delivered');
    await waitForText(page, `[data-testid="wh-state-${ids.bad}"]`, 'Failed');
    const row = page.locator(`[data-testid="wh-deliveries"] tr[data-id="${ids.bad}"]`);
    expect(await row.textContent()).toContain('the app answered 500');
    expect(await row.textContent()).toContain('payment_intent.succeeded');
    // the state filter
    await page.getByTestId('wh-filter-state').selectOption('failed');
    await page.locator(`[data-testid="wh-deliveries"] tr[data-id="${ids.ok}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('[data-testid="wh-deliveries"] tbody tr').count()).toBe(1);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).getAttribute('aria-current')).toBe('page');
  });

  it("shows a failed delivery's attempts and replays it", async () => {
    await page.getByTestId(`wh-link-${ids.bad}`).click();
    await page.waitForURL(new RegExp(`/webhooks/deliveries/${ids.bad}$`));
    await waitForText(page, '[data-testid="wh-detail-state"]', 'Failed');
    const attempts = page.locator('[data-testid="wh-attempts"] tbody tr');
    expect(await attempts.count()).toBe(1);
    expect(await attempts.first().textContent()).toMatch(/500.*the app answered 500/);
    app.modes.set('/api/webhooks/billing', 'ok');
    await page.getByTestId('wh-replay').click();
    await waitForText(page, '[data-testid="wh-replayed"]', 'Queued again.');
    await waitForText(page, '[data-testid="wh-detail-state"]', 'Delivered');
    await page.locator('[data-testid="wh-attempts"] tbody tr').nth(1).waitFor();
    expect(await page.locator('[data-testid="wh-attempts"] tbody tr').nth(1).textContent()).toMatch(/200.*token:/);
    await page.screenshot({ path: join(SHOTS, 'webhooks-delivery.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
