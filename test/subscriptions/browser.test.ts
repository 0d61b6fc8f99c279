/** Subscribing in Chromium with JavaScript disabled: the form, the confirmation mail's link, its button, the unsubscribe link. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import { incidents } from '../../src/incidents/index.js';
import { subscriptions } from '../../src/subscriptions/index.js';
import { launchChromium, startForBrowser, teardown } from '../e2e/harness.js';
import { mailHeader, startSmtp, type SmtpReceiver } from '../notify/helpers.js';
import { linkIn } from './helpers.js';

describe('subscribing to a status page in a browser without JavaScript', () => {
  let running: Running;
  let browser: Browser;
  let smtp: SmtpReceiver;
  let dir: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    dir = mkdtempSync(join(tmpdir(), 'shipshape-subs-'));
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `services:
  web: {}
  api: {}
notify:
  external_url: https://status.example.com
  channels:
    mail: { email: { to: [ops@example.com], from: "Acme <status@example.com>", smtp: "smtp://127.0.0.1:${smtp.port}" } }
status_pages:
  public:
    title: Acme status
    components:
      - { name: Website, service: web }
      - { name: Public API, service: api }
subscriptions:
  email_channel: mail
  notify_on_open: false
`,
    );
    running = await startForBrowser({ configPath, dir, token: 'test-admin-token-0123456789', webRoot: join(dir, 'no-web') });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await teardown({ running, browser, dir });
    await smtp?.close();
  });

  it('subscribe to one component, confirm from the mail, get its incident updates, unsubscribe', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(`${running.url}/status`);
    await page.locator('input[name=email]').fill('fay@example.com');
    await page.locator('summary', { hasText: 'Only some components' }).click();
    await page.locator('label', { hasText: 'Public API' }).locator('input').check();
    await page.locator('button', { hasText: 'Subscribe' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h2').first().textContent()).toBe('Check your inbox');

    const [mail] = await smtp.waitFor(1);
    const confirm = new URL(linkIn(mail!.raw, '/subscriptions/confirm/'));
    await page.goto(`${running.url}${confirm.pathname}`);
    expect(await page.locator('h2').first().textContent()).toBe('Confirm your subscription');
    await page.locator('button', { hasText: 'Confirm subscription' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h2').first().textContent()).toBe('You are subscribed');

    // an update about the API reaches fay; one about the website does not
    const svc = running.use(incidents).service;
    const web = await svc.open({ title: 'Website slow', severity: 'P2', services: ['web'] }, 'ada');
    await svc.postUpdate(web.id, { status: 'investigating', message: 'Looking at the CDN.' }, 'ada');
    const api = await svc.open({ title: 'API errors', severity: 'P2', services: ['api'] }, 'ada');
    await svc.postUpdate(api.id, { status: 'identified', message: 'A bad deploy.' }, 'ada');
    const mails = await smtp.waitFor(2);
    expect(mailHeader(mails[1]!.raw, 'subject')).toBe('[Acme status] API errors — Identified');
    await running.use(subscriptions).settled(); // every event fanned out, nothing being sent
    expect(smtp.mails).toHaveLength(2);

    const unsubscribe = new URL(linkIn(mails[1]!.raw, '/subscriptions/unsubscribe/'));
    await page.goto(`${running.url}${unsubscribe.pathname}`);
    await page.locator('button', { hasText: 'Unsubscribe' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h2').first().textContent()).toBe('Unsubscribed');
    await ctx.close();
  });
});
