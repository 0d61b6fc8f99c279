/**
 * The deploys screens in a real browser: Debian's Chromium (playwright-core) on the dashboard built
 * from web/, a real Shipshape with a real deploy config, a real git repository with a tiny Node
 * app, real child processes behind the real proxy. A user sees what is live, deploys from the page
 * and watches the steps tick and the gate's output stream in over the event stream, sees why a
 * release failed, rolls back, locks and is refused, unlocks, and promotes to production.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import type { ReleaseDetail } from '../../src/deploy/index.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, teardown, waitForText } from '../e2e/harness.js';
import { freePort, get, Repo } from './helpers.js';

const TOKEN = 'deploy-ui-admin-token-0123456789abcdef';

describe('the deploys screens (Chromium)', () => {
  let dir: string;
  let repo: Repo;
  let running: Running | undefined;
  let browser: Browser | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const ports = { staging: 0, production: 0 };
  /** the gate waits for this file, so a test can watch a deploy while it runs */
  let go: string;

  const api = async <T>(method: string, path: string, body?: unknown, token = TOKEN): Promise<T> => {
    const r = await fetch(`${running!.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const tile = (env: string) => `[data-testid="env-web-${env}"]`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-deploy-ui-'));
    go = join(dir, 'go');
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);
    repo = Repo.withApp('v1');
    repo.git('tag', 'v1.0.0');
    ports.staging = await freePort();
    ports.production = await freePort();
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `services:
  web:
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      gates:
        - name: checks
          run: "echo checking the release; while [ ! -f ${go} ]; do sleep 0.05; done; echo all checks passed"
      environments:
        staging: { proxy: { port: ${ports.staging} } }
        production: { proxy: { port: ${ports.production} } }
`,
    );
    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
    // v1 is live in staging before anyone opens the page
    writeFileSync(go, '');
    const first = await api<ReleaseDetail>('POST', '/api/v1/deploy/web/deploys', { env: 'staging' });
    expect(first.state).toBe('live');
    rmSync(go);
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await ctx?.close().catch(() => undefined);
    await teardown({ running, browser, dir });
    repo?.remove();
  });

  it('shows what is live, with the release, the lock state and the proxy', async () => {
    await page.goto(`${running!.url}/deploys`);
    await page.locator('input[name="token"]').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Deploys', level: 1 }).waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="live"]', 'Live');
    await waitForText(page, '[data-testid="deploys-summary"]', '1 service · 1 of 2 environments live');
    await waitForText(page, `${tile('staging')} [data-testid="env-web-staging-live-version"]`, 'v1.0.0');
    await waitForText(page, `${tile('production')} [data-testid="env-web-production-live"]`, 'Nothing live yet');
    await waitForText(page, `[data-testid="env-web-staging-lock"]`, 'unlocked');
    expect(await page.locator(tile('staging')).textContent()).toContain(`127.0.0.1:${ports.staging}`);
    // the nav has the entry, marked as the current page
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deploys' }).getAttribute('aria-current')).toBe('page');
  });

  it('deploys from the page and shows the steps and the gate output live, as they happen', async () => {
    repo.commit({ VERSION: 'v2\n' }, 'app v2: a new greeting');
    repo.git('tag', 'v2.0.0');
    // a mark on the document proves that nothing below reloads the page
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload?: boolean }).__noReload = true;
    });

    // the Deploy button opens the confirmation with the keyboard too
    await page.getByTestId('deploy-web').focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Deploy web' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Environment').inputValue()).toBe('staging');
    await dialog.getByLabel('Git ref').fill('v2.0.0');
    await dialog.getByRole('button', { name: 'Deploy to staging' }).click();

    // the new release's page opens while it runs: cut done, the gate running with its first line
    await page.waitForURL(/\/deploys\/web\/releases\/2$/, { timeout: 15_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Deploying');
    await page.locator('[data-testid="step-cut"][data-state="ok"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="step-gate checks"][data-state="running"]').waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="step-output-gate checks"]', /checking the release/);
    // whoever opens the release now gets the running step's output so far, too
    const stored = await api<ReleaseDetail>('GET', '/api/v1/deploy/web/releases/2');
    expect(stored.steps.find((s) => s.name === 'gate checks')).toMatchObject({ state: 'running', output: expect.stringContaining('checking the release') });
    expect(await page.locator('[data-testid="step-start"]').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-running.png'), fullPage: true });

    // the gate passes: start, health and switch tick in, and the release goes live
    writeFileSync(go, '');
    await page.locator('[data-testid="step-gate checks"][data-state="ok"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="step-health"][data-state="ok"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="step-switch"][data-state="ok"]').waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Live');
    expect(await page.locator('[data-testid="steps"] > li').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')))).toEqual(['step-cut', 'step-gate checks', 'step-start', 'step-health', 'step-switch']);
    await waitForText(page, '[data-testid="step-detail-switch"]', /now serves release 2 \(was 1\)/);
    // an ended step folds away; its stored output opens with the keyboard
    expect(await page.locator('[data-testid="step-output-gate checks"]').count()).toBe(0);
    await page.locator('[data-testid="step-gate checks"] button').focus();
    await page.keyboard.press('Enter');
    await waitForText(page, '[data-testid="step-output-gate checks"]', /checking the release\s+all checks passed/);
    expect(await page.locator('[data-testid="gate-checks"]').textContent()).toContain('Passed');
    expect((await get(ports.staging)).body).toBe('v2');
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-live.png'), fullPage: true });
  });

  it('lists the releases like `vercel ls`', async () => {
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'web' }).click();
    await page.waitForURL(/\/deploys\/web$/);
    const table = page.getByTestId('releases-table');
    await page.locator('[data-testid="release-row-2"]').waitFor();
    const headers = await table.locator('thead th').allTextContents();
    expect(headers).toEqual(['Release', 'Version', 'Git SHA', 'Author', 'Env', 'State', 'Age']);
    const row2 = (await page.locator('[data-testid="release-row-2"]').textContent()) ?? '';
    expect(row2).toContain('v2.0.0');
    expect(row2).toContain(repo.git('rev-parse', '--short=7', 'HEAD'));
    expect(row2).toContain('Ada Lovelace');
    expect(row2).toContain('staging');
    await waitForText(page, '[data-testid="release-state-2"]', 'Live');
    await waitForText(page, '[data-testid="release-state-1"]', 'Warm');
    // the staging tile on this page: v2 live, v1 warm
    await waitForText(page, '[data-testid="env-web-staging-live-version"]', 'v2.0.0');
    await page.locator('[data-testid="env-web-staging-warm-1"]').waitFor();
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-releases.png'), fullPage: true });
  });

  it('shows why a release failed, with its step output', async () => {
    repo.commit({ VERSION: 'v3\n', crash: 'yes\n' }, 'app v3: crashes on boot');
    repo.git('tag', 'v3.0.0');
    await page.getByTestId('deploy-web').click();
    const dialog = page.getByRole('dialog', { name: 'Deploy web' });
    await dialog.getByLabel('Git ref').fill('v3.0.0');
    await dialog.getByRole('button', { name: 'Deploy to staging' }).click();
    await page.waitForURL(/\/deploys\/web\/releases\/3$/, { timeout: 15_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Failed', 20_000);
    await waitForText(page, '[data-testid="release-error"]', /^Failed: health: /);
    // the failed step is open by itself, with what the app printed
    await page.locator('[data-testid="step-health"][data-state="failed"]').waitFor();
    await waitForText(page, '[data-testid="step-output-health"]', /boom: crashing on boot/);
    expect(await page.locator('[data-testid="step-health"] button').getAttribute('aria-expanded')).toBe('true');
    // no promote or rollback offered for a release that never served
    expect(await page.getByTestId('release-promote').count()).toBe(0);
    expect(await page.getByTestId('release-rollback').count()).toBe(0);
    // the old release kept serving
    expect((await get(ports.staging)).body).toBe('v2');
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-failed.png'), fullPage: true });
  });

  it('rolls back to the warm release, and shows each release’s requests through the proxy', async () => {
    for (let i = 0; i < 5; i++) expect((await get(ports.staging)).status).toBe(200);
    await page.getByRole('link', { name: 'Deploys', exact: true }).first().click();
    await page.waitForURL(/\/deploys$/);
    await page.getByTestId('env-web-staging-rollback').click();
    const dialog = page.getByRole('dialog', { name: 'Roll back web in staging' });
    await dialog.waitFor();
    // the warm release is offered first (instant); the failed one is not offered at all
    await dialog.locator('[data-testid="rollback-choice-1"]').waitFor();
    expect(await dialog.getByRole('radio', { name: /#1/ }).isChecked()).toBe(true);
    expect(await dialog.locator('[data-testid="rollback-choice-1"]').textContent()).toContain('warm: instant');
    expect(await dialog.locator('[data-testid="rollback-choice-3"]').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Roll back to #1' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 15_000 });
    await waitForText(page, '[data-testid="env-web-staging-live-version"]', 'v1.0.0');
    expect((await get(ports.staging)).body).toBe('v1');
    // the proxy's count per release: release 2 answered the five requests, none failed
    const row = page.locator('[data-testid="traffic-staging-2"]');
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    expect(Number(cells[1])).toBeGreaterThanOrEqual(5);
    expect(cells[2]).toBe('0');
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-rolled-back.png'), fullPage: true });
  });

  it('locks with a reason; a deploy is then refused with the lock’s owner and reason; unlocks', async () => {
    await page.getByTestId('env-web-staging-lock-button').click();
    const lock = page.getByRole('dialog', { name: 'Lock web in staging' });
    // a reason is required
    await lock.getByRole('button', { name: 'Lock' }).click();
    await lock.getByText('Say why: it is shown to whoever tries to deploy.').waitFor();
    await lock.getByLabel('Reason').fill('release freeze for the launch');
    await lock.getByRole('button', { name: 'Lock' }).click();
    await lock.waitFor({ state: 'detached' });
    await waitForText(page, '[data-testid="env-web-staging-lock"]', /admin: release freeze for the launch/);
    await page.screenshot({ path: join(SHOTS, 'shipshape-deploy-locked.png'), fullPage: true });

    await page.getByTestId('deploy-web').click();
    const dialog = page.getByRole('dialog', { name: 'Deploy web' });
    await dialog.getByRole('button', { name: 'Deploy to staging' }).click();
    const problem = dialog.getByTestId('deploy-dialog-error');
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/web\/staging is locked by .*admin.*: release freeze for the launch/);
    expect(page.url()).toMatch(/\/deploys$/);
    // Escape closes the dialog
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    await page.getByTestId('env-web-staging-unlock').click();
    const unlock = page.getByRole('dialog', { name: 'Unlock web in staging' });
    expect(await unlock.textContent()).toContain('release freeze for the launch');
    await unlock.getByRole('button', { name: 'Unlock' }).click();
    await unlock.waitFor({ state: 'detached' });
    await waitForText(page, '[data-testid="env-web-staging-lock"]', 'unlocked');
  });

  it('promotes the live staging release to production', async () => {
    await page.getByTestId('env-web-staging-promote').click();
    const dialog = page.getByRole('dialog', { name: 'Promote release #1 to production' });
    await dialog.getByRole('button', { name: 'Promote to production' }).click();
    await page.waitForURL(/\/deploys\/web\/releases\/4$/, { timeout: 15_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Live', 20_000);
    await page.locator('[data-testid="step-copy"][data-state="ok"]').waitFor();
    expect(await page.locator('main').textContent()).toContain('promoted from #1');
    expect((await get(ports.production)).body).toBe('v1');
    await page.getByRole('link', { name: 'Deploys', exact: true }).first().click();
    await waitForText(page, '[data-testid="env-web-production-live-version"]', 'v1.0.0');
    await waitForText(page, '[data-testid="deploys-summary"]', '1 service · 2 of 2 environments live');
    // the service's own page says what is live where, too
    await page.goto(`${running!.url}/services/web`);
    const panel = page.getByTestId('deploy-panel');
    await panel.waitFor({ timeout: 15_000 });
    expect(await panel.textContent()).toMatch(/staging.*#1.*v1\.0\.0.*production.*#4.*v1\.0\.0/);
  });

  it('follows a deploy someone else started, from the overview to its steps', async () => {
    rmSync(go);
    repo.commit({ VERSION: 'v4\n', crash: null }, 'app v4: boots again');
    // a deploy from the CLI's API call (its progress streamed to it, not to this page)
    const cli = await fetch(`${running!.url}/api/v1/deploy/web/deploys`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/x-ndjson', 'content-type': 'application/json' }, body: JSON.stringify({ env: 'staging' }) });
    expect(cli.status).toBe(200);
    const cliDone = cli.text();
    await page.goto(`${running!.url}/deploys`);
    // staging is held by the running deploy: who, why, and a link to it; it cannot be unlocked from here
    await waitForText(page, '[data-testid="env-web-staging-lock"]', /admin: deploying .* · #5/);
    expect(await page.getByTestId('env-web-staging-unlock').isDisabled()).toBe(true);
    await page.getByTestId('env-web-staging-lock').getByRole('link', { name: '#5' }).click();
    await page.waitForURL(/\/deploys\/web\/releases\/5$/);
    await waitForText(page, '[data-testid="release-state"]', 'Deploying');
    await page.locator('[data-testid="step-gate checks"][data-state="running"]').waitFor();
    // this page opened after the gate printed its first line: the server sent what it printed so far
    await waitForText(page, '[data-testid="step-output-gate checks"]', /checking the release/);
    writeFileSync(go, '');
    await page.locator('[data-testid="step-switch"][data-state="ok"]').waitFor({ timeout: 15_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Live');
    await page.locator('[data-testid="step-gate checks"] button').click();
    await waitForText(page, '[data-testid="step-output-gate checks"]', /checking the release\s+all checks passed/);
    const lines = (await cliDone).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.at(-1)?.type).toBe('done');
  });

  it('rolls back cold to a stopped release, from that release’s page', async () => {
    await page.goto(`${running!.url}/deploys/web/releases/2`);
    await waitForText(page, '[data-testid="release-state"]', 'Rolled back');
    await page.getByTestId('release-rollback').click();
    const dialog = page.getByRole('dialog', { name: 'Roll back web in staging' });
    await dialog.locator('[data-testid="rollback-choice-2"]').waitFor();
    expect(await dialog.getByRole('radio', { name: /#2/ }).isChecked()).toBe(true);
    expect(await dialog.locator('[data-testid="rollback-choice-2"]').textContent()).toContain('stopped: starts again (cold)');
    await dialog.getByRole('button', { name: 'Roll back to #2' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 20_000 });
    await waitForText(page, '[data-testid="release-state"]', 'Live');
    // started again, health-checked and switched to: the steps are added to its record
    await page.locator('[data-testid="step-switch"]').nth(1).waitFor();
    expect(await page.locator('[data-testid="step-switch"][data-state="ok"]').count()).toBe(2);
    expect((await get(ports.staging)).body).toBe('v2');
  });

  it('shows a read-only token the state but no way to change it', async () => {
    const reader = await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'viewer', scopes: ['read'] });
    // on a phone, in the dark
    const rctx = await browser!.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    const p = await rctx.newPage();
    await p.goto(`${running!.url}/deploys`);
    await p.locator('input[name="token"]').fill(reader.token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(p, '[data-testid="env-web-production-live-version"]', 'v1.0.0');
    for (const id of ['deploy-web', 'env-web-staging-rollback', 'env-web-staging-lock-button', 'env-web-staging-promote']) expect(await p.getByTestId(id).isDisabled(), id).toBe(true);
    await p.screenshot({ path: join(SHOTS, 'shipshape-deploy-readonly-phone.png'), fullPage: true });
    await rctx.close();
    expect(pageErrors).toEqual([]);
  });
});
