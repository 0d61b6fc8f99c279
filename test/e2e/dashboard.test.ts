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
        // people and an on-call rotation for the incident and on-call screens
        'people:',
        '  alice: { name: Alice Example }',
        '  bob: { name: Bob Example }',
        'oncall:',
        '  schedules:',
        '    primary:',
        '      time_zone: Europe/Berlin',
        // one person in the rotation: whoever runs the test, Alice is on call
        '      layers: [{ rotation: weekly, handoff: "Mon 09:00", start: 2020-01-06, people: [alice] }]',
        '  escalation:',
        '    default:',
        '      steps: [{ after: 0s, notify: [schedule:primary] }, { after: 1h, notify: [person:bob] }]',
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

  it('declares an incident, acknowledges it, posts an update that lands on the timeline; the on-call screen shows who is on call', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: 'dark' });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${running!.url}/incidents`);
    const tokenInput = page.locator('input[name="token"]');
    await tokenInput.waitFor({ timeout: 15_000 });
    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // nothing open yet
    await page.getByText('No open incidents', { exact: true }).first().waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="incidents-summary"]', 'No open incidents');

    // declare one from the UI: title, severity P1 (with its targets), the affected service
    await page.locator('[data-testid="declare"]').click();
    const dialog = page.locator('[data-testid="declare-dialog"]');
    await dialog.waitFor();
    await dialog.locator('input[name="title"]').fill('Checkout returns 502 for some customers');
    await dialog.locator('[data-testid="declare-severity-P1"]').click();
    expect(await dialog.textContent()).toContain('Acknowledge within 1h');
    await dialog.getByLabel('web').check();
    await dialog.getByRole('button', { name: 'Declare P1 incident' }).click();

    // the incident's page: its title, severity and state, and the ack timer ticking
    await page.waitForURL(/\/incidents\/1$/);
    await waitForText(page, '[data-testid="incident-title"]', 'Checkout returns 502 for some customers');
    await waitForText(page, '[data-testid="incident-severity"]', 'P1');
    await waitForText(page, '[data-testid="incident-state"]', 'Triggered');
    await waitForText(page, '[data-testid="timer-ack"]', /^Ack due in (59|60)m/);

    // in the list, open first, with its state; the top bar counts it as not acknowledged
    await page.getByRole('link', { name: 'Incidents', exact: true }).first().click();
    await page.waitForURL(/\/incidents$/);
    await waitForText(page, '[data-testid="incident-title-1"]', 'Checkout returns 502 for some customers');
    await waitForText(page, '[data-testid="incident-state-1"]', 'Triggered');
    await waitForText(page, '[data-testid="incidents-summary"]', /^1 open incident · 1 not acknowledged/);
    await waitForText(page, '[data-testid="nav-incidents"]', '1');
    expect(await page.locator('[data-testid="incident-1"]').textContent()).toContain('web');
    await page.screenshot({ path: join(SHOTS, 'shipshape-incidents.png'), fullPage: true });

    // acknowledge it
    await page.locator('[data-testid="incident-1"]').click();
    await page.waitForURL(/\/incidents\/1$/);
    await page.locator('[data-testid="action-acknowledge"]').click();
    await waitForText(page, '[data-testid="incident-state"]', 'Acknowledged');
    await waitForText(page, '[data-testid="timer-ack"]', /^Acked in \d+s$/);
    // the top bar's count follows the live event a moment later
    await expect.poll(() => page.locator('[data-testid="nav-incidents"]').count(), { timeout: 10_000 }).toBe(0);

    // post a status update: it shows as the latest update and on the timeline, filled in from the event log
    await page.locator('[data-testid="action-update"]').click();
    const composer = page.locator('[data-testid="composer-update"]');
    await composer.locator('[data-testid="update-status-identified"]').click();
    await composer.locator('[data-testid="composer-message"]').fill('A bad deploy of the payment service; rolling back.');
    await composer.locator('[data-testid="composer-submit"]').click();
    await waitForText(page, '[data-testid="incident-status"]', 'Identified');
    await waitForText(page, '[data-testid="last-update"] .inc-last-update-msg', 'A bad deploy of the payment service; rolling back.');
    const update = page.locator('[data-testid="timeline"] [data-type="incident.update"]');
    await update.waitFor({ timeout: 10_000 });
    expect(await update.textContent()).toContain('Status update: Identified');
    expect(await update.textContent()).toContain('A bad deploy of the payment service; rolling back.');
    // the rest of the story is there too: opened and acknowledged, by the token that did it
    const kinds = await page.locator('[data-testid="timeline"] [data-testid="timeline-entry"]').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { type: string } }).dataset.type));
    expect(kinds).toEqual(expect.arrayContaining(['incident.opened', 'incident.acknowledged', 'incident.update']));
    expect(kinds.indexOf('incident.opened')).toBeLessThan(kinds.indexOf('incident.update'));
    await page.screenshot({ path: join(SHOTS, 'shipshape-incident.png'), fullPage: true });

    // the post-mortem tab renders the API's Markdown (a heading, the impact list, the timeline table)
    await page.locator('[data-testid="tab-postmortem"]').click();
    await waitForText(page, '.inc-pm-body h1', 'Post-mortem: INC-1 — Checkout returns 502 for some customers');
    expect(await page.locator('.inc-pm-body table').count()).toBeGreaterThan(0);
    // the written parts are edited in place and the rendered post-mortem shows them
    await page.locator('[data-testid="pm-edit"]').click();
    await page.locator('[data-testid="pm-root_cause"]').fill('The payment service deploy shipped a **wrong upstream timeout**.');
    await page.locator('[data-testid="pm-save"]').click();
    const rootCause = page.locator('.inc-pm-body h2:has-text("Root cause") + p');
    await rootCause.locator('strong', { hasText: 'wrong upstream timeout' }).waitFor({ timeout: 15_000 });
    expect(await rootCause.textContent()).toBe('The payment service deploy shipped a wrong upstream timeout.');
    expect(await page.locator('[data-testid="postmortem-form"]').count()).toBe(0);
    expect(await page.locator('.inc-pm-body td', { hasText: 'post-mortem edited (root cause)' }).count()).toBe(1);

    // what changed in the hour before: the web check's state changes from before the incident opened
    await page.locator('[data-testid="tab-changes"]').click();
    await page.locator('[data-testid="changes"] [data-type="check.state"]').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="changes"] [data-type^="incident."]').count()).toBe(0);

    // roles, severity and an overdue action item, as a responder would set them
    await page.locator('[data-testid="edit-roles"]').click();
    await page.locator('[data-testid="role-commander"]').fill('Alice Example');
    await page.getByRole('button', { name: 'Save roles' }).click();
    await waitForText(page, '[data-testid="role-value-commander"]', 'Alice Example');
    await page.locator('[data-testid="change-severity"]').selectOption('P2');
    await waitForText(page, '[data-testid="incident-severity"]', 'P2');
    await page.getByRole('textbox', { name: 'Action item' }).fill('Add a canary stage to payment deploys');
    await page.getByLabel('Owner').fill('bob');
    await page.getByLabel('Due date').fill('2020-01-31');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const item = page.locator('[data-testid="action-item"]').first();
    await item.waitFor({ timeout: 10_000 });
    expect(await item.textContent()).toMatch(/Add a canary stage to payment deploys.*bob · due 2020-01-31.*Overdue/);
    await page.locator('[data-testid="tab-timeline"]').click();
    await page.locator('[data-testid="timeline"] [data-type="incident.severity_changed"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="timeline"] [data-type="incident.severity_changed"]').textContent()).toContain('Severity P1 → P2');
    expect(await page.locator('[data-testid="timeline"] [data-type="incident.roles_changed"]').textContent()).toContain('commander → Alice Example');

    // the on-call screen: Alice is on call for the schedule from the config, with its calendar subscription
    await page.getByRole('link', { name: 'On-call', exact: true }).first().click();
    await page.waitForURL(/\/oncall$/);
    await waitForText(page, '[data-testid="oncall-person-primary"]', 'Alice Example');
    // a calendar app subscribes by the URL the dashboard shows: it works with no login at all
    await page.locator('[data-testid="oncall-subscribe-schedule-primary"] summary').click();
    const subUrl = page.locator('[data-testid="oncall-subscribe-schedule-primary"] [data-testid="oncall-subscribe-url"]');
    await subUrl.waitFor({ timeout: 10_000 });
    const feedUrl = await subUrl.inputValue();
    expect(feedUrl).toMatch(/\/api\/v1\/oncall\/calendar\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.ics$/);
    expect(await page.locator('[data-testid="oncall-subscribe-schedule-primary"] a', { hasText: 'Open in calendar app' }).getAttribute('href')).toMatch(/^webcal:\/\//);
    expect(await page.locator('[data-testid="oncall-subscribe-schedule-primary"] a', { hasText: 'Download .ics' }).getAttribute('href')).toBe('/api/v1/oncall/schedules/primary/calendar.ics');
    const feed = await fetch(`${running!.url}${new URL(feedUrl).pathname}`);
    expect(feed.status).toBe(200);
    expect(await feed.text()).toContain('SUMMARY:On call: Alice Example (primary)');
    await page.screenshot({ path: join(SHOTS, 'shipshape-oncall-subscribe.png') });
    await page.locator('[data-testid="oncall-subscribe-schedule-primary"] summary').click();
    await page.locator('[data-testid="shifts-primary"] [role="listitem"]').first().waitFor();
    expect(await page.locator('[data-testid="shifts-primary"] [role="listitem"]').first().getAttribute('title')).toMatch(/^Alice Example: /);
    expect(await page.locator('[data-testid="policy-default"]').textContent()).toContain('schedule primary');
    await page.screenshot({ path: join(SHOTS, 'shipshape-oncall.png'), fullPage: true });

    // live: an incident opened elsewhere (the API) appears in the open list without a reload
    await page.getByRole('link', { name: 'Incidents', exact: true }).first().click();
    await waitForText(page, '[data-testid="incident-state-1"]', 'Acknowledged');
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload?: boolean }).__noReload = true;
    });
    const res = await fetch(`${running!.url}/api/v1/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Search is slow', severity: 'P2' }),
    });
    expect(res.status).toBe(201);
    await waitForText(page, '[data-testid="incident-title-2"]', 'Search is slow', 20_000);
    await waitForText(page, '[data-testid="incident-state-2"]', 'Triggered');
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    // the status pages screen: the default page, its component, and INC-1 shown publicly with its update
    await page.getByRole('link', { name: 'Status pages', exact: true }).first().click();
    await page.waitForURL(/\/status-pages$/);
    const card = page.locator('[data-testid="status-page-default"]');
    await card.waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-testid="status-page-link-default"]').getAttribute('href')).toBe('/status');
    await page.locator('[data-testid="component-default-web"]').waitFor();
    expect(await card.locator('.sp-incidents').textContent()).toContain('A bad deploy of the payment service; rolling back.');
    await page.screenshot({ path: join(SHOTS, 'shipshape-status-pages.png'), fullPage: true });

    // maintenance (the maintenance module's API): schedule a window from the UI, see it listed, cancel it
    await page.locator('[data-testid="tab-maintenance"]').click();
    await page.waitForURL(/\/status-pages\/maintenance$/);
    await page.getByText('No maintenance scheduled', { exact: true }).waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="schedule-maintenance"]').click();
    const mdialog = page.getByRole('dialog', { name: 'Schedule maintenance' });
    await mdialog.getByLabel('Title').fill('Database upgrade');
    await mdialog.getByLabel('web').check();
    await mdialog.getByLabel('Duration').fill('90m');
    await mdialog.getByRole('button', { name: 'Schedule', exact: true }).click();
    const row = page.locator('[data-testid^="maintenance-"]').filter({ hasText: 'Database upgrade' }).first();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('Scheduled');
    expect(await row.textContent()).toContain('(1h 30m)');
    await page.screenshot({ path: join(SHOTS, 'shipshape-maintenance.png'), fullPage: true });
    await row.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('No maintenance scheduled', { exact: true }).waitFor({ timeout: 10_000 });

    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 180_000);
});
