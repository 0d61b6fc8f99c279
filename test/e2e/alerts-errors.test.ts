/**
 * Telemetry in, alerts out, in the dashboard: a real Shipshape (in-process) takes requests with
 * 50% 5xx through the SDK ingest endpoint and a crash through a Sentry envelope; Chromium shows
 * the error rate on the service page (with the alert's marker), the alert firing on the Alerts
 * page (a webhook receiver on loopback gets it too), silences it from there, and resolves the
 * issue on the Errors page.
 *
 * The dashboard is built fresh from web/ into a temp dir. Screenshots land in /tmp/shipshape-*.png.
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

const TOKEN = 'e2e-admin-token-alerts-0123456789';
const INGEST = 'e2e-ingest-token-0123456789';

/** A Sentry envelope with one error event, as @sentry/node sends it (auth in X-Sentry-Auth). */
function envelope(): string {
  const id = 'a'.repeat(8) + 'b'.repeat(24);
  const event = {
    event_id: id,
    timestamp: Date.now() / 1000,
    platform: 'node',
    level: 'error',
    release: 'web@1.4.2',
    environment: 'production',
    transaction: 'POST /api/checkout',
    exception: {
      values: [
        {
          type: 'TypeError',
          value: "Cannot read properties of undefined (reading 'id')",
          mechanism: { type: 'onunhandledrejection', handled: false },
          stacktrace: {
            frames: [
              { filename: 'node_modules/express/lib/router/layer.js', function: 'Layer.handle', lineno: 95, colno: 5, in_app: false },
              {
                filename: 'src/routes/checkout.ts',
                function: 'handleCheckout',
                lineno: 42,
                colno: 18,
                in_app: true,
                pre_context: ['export async function handleCheckout(req, res) {'],
                context_line: '  const intent = await createIntent(cart.customer, total);',
                post_context: ['  res.json(intent);'],
              },
              { filename: 'src/lib/payments.ts', function: 'createIntent', lineno: 17, colno: 25, in_app: true, context_line: '  return stripe.paymentIntents.create({ customer: customer.id, amount });' },
            ],
          },
        },
      ],
    },
    tags: { route: '/api/checkout' },
    breadcrumbs: { values: [{ timestamp: Date.now() / 1000 - 1, category: 'query', message: 'SELECT * FROM carts WHERE id = $1' }] },
    sdk: { name: 'sentry.javascript.node', version: '10.0.0' },
  };
  return `${JSON.stringify({ event_id: id, sent_at: new Date().toISOString() })}\n${JSON.stringify({ type: 'event' })}\n${JSON.stringify(event)}\n`;
}

describe('alerts and errors in the dashboard (Chromium)', () => {
  let dir: string;
  let receiver: Server;
  const hooks: { alerts?: { labels?: Record<string, string>; status?: string }[]; status?: string }[] = [];
  let running: Running | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-e2e-alerts-'));
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof hooks)[number]);
        } catch {
          hooks.push({});
        }
        res.writeHead(200);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hookPort = (receiver.address() as AddressInfo).port;

    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `
ingest:
  tokens: ["${INGEST}"]
alerting:
  evaluate_every: 200ms
services:
  web:
    sentry: { project: 1 }
alerts:
  - name: high-error-rate
    when: error_rate(web) > 10%
    severity: P1
    min_samples: 1
    summary: "{{ service }} error rate is {{ value }}"
notify:
  channels:
    ops-webhook: { webhook: { url: "http://127.0.0.1:${hookPort}/hook" } }
  routes:
    - match: { severity: [P0, P1] }
      channels: [ops-webhook]
      group_wait: 0s
`,
    );

    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });

    browser = await launchChromium();
  }, 120_000);

  afterAll(() => teardown({ running, browser, servers: [receiver], dir }));

  it('shows the error rate, the firing alert and the issue, silences the alert and resolves the issue', async () => {
    const url = running!.url;

    // telemetry: 10 requests, half of them 5xx, through the SDK's batch endpoint
    const requests = [
      ...Array.from({ length: 5 }, (_, i) => ({ route: '/api/items/:id', method: 'GET', status: 200, duration_ms: 20 + i })),
      ...Array.from({ length: 5 }, (_, i) => ({ route: '/api/checkout', method: 'POST', status: 500, duration_ms: 400 + i * 10 })),
    ];
    const ingest = await fetch(`${url}/api/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'web', requests }),
    });
    expect(ingest.status).toBeLessThan(300);

    // an error, the way the Sentry SDK sends it
    const sent = await fetch(`${url}/api/1/envelope/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-sentry-envelope', 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=sentry.javascript.node/10.0.0, sentry_key=${INGEST}` },
      body: envelope(),
    });
    expect(sent.status).toBe(200);

    const ctx = await browser!.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: 'dark' });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${url}/`);
    await page.locator('input[name="token"]').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="service-web"]').waitFor({ timeout: 15_000 });

    // the service page: the error-rate chart has data, the route table names the failing route,
    // and the alert's firing shows up as a marker on the charts
    await page.locator('[data-testid="service-web"]').click();
    await page.waitForURL(/\/services\/web$/);
    await waitForText(page, '[data-testid="error-rate"]', '50%');
    const points = await page.locator('[data-testid="chart-error-rate"]').getAttribute('data-points');
    expect(Number(points)).toBeGreaterThan(0);
    await page.locator('[data-testid="chart-error-rate"] canvas').first().waitFor();
    const checkoutRow = page.locator('[data-testid="routes"] tr', { hasText: '/api/checkout' });
    await checkoutRow.waitFor();
    expect(await checkoutRow.textContent()).toContain('100%');
    await page.locator('[data-testid="chart-error-rate"] .chart-marker-firing').first().waitFor({ timeout: 20_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'shipshape-service-telemetry.png'), fullPage: true });

    // the Alerts page, from the top nav: the rule's alert is firing with its value and summary
    await page.getByRole('link', { name: /^Alerts/ }).first().click();
    await page.waitForURL(/\/alerts$/);
    await waitForText(page, '[data-testid="alert-state-high-error-rate"]', 'Firing');
    const alertRow = page.locator('[data-testid="alert-high-error-rate"]');
    expect(await alertRow.textContent()).toContain('web error rate is 50%');
    await waitForText(page, '[data-testid="nav-firing"]', '1');
    await waitForText(page, '[data-testid="rule-high-error-rate"] [data-state]', 'Firing');
    await page.screenshot({ path: join(SHOTS, 'shipshape-alerts.png'), fullPage: true });

    // …and the webhook channel got it
    for (let i = 0; i < 100 && !hooks.some((h) => h.alerts?.some((a) => a.labels?.alertname === 'high-error-rate')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(hooks.flatMap((h) => h.alerts ?? []).find((a) => a.labels?.alertname === 'high-error-rate')).toMatchObject({ status: 'firing', labels: { service: 'web', severity: 'P1' } });

    // silence it from its row: it leaves the Firing tab for the Silenced tab, with the silence listed
    await alertRow.getByRole('button', { name: 'Silence' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: /^Silence for/ }).click();
    await dialog.getByText(/Say why/).waitFor(); // the comment is required
    await dialog.locator('[data-testid="silence-comment"]').fill('Fix is deploying, INC-7');
    await dialog.getByRole('button', { name: 'Silence for 2h' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText('Nothing is firing').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="tab-silenced"]').click();
    await page.waitForURL(/\/alerts\/silenced$/);
    await alertRow.getByText(/Silenced by/).waitFor();
    await page.locator('[data-testid="silence"]', { hasText: 'Fix is deploying, INC-7' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'shipshape-alerts-silenced.png'), fullPage: true });

    // the Errors page: the crash is an unresolved issue with its stack trace
    await page.getByRole('link', { name: 'Errors', exact: true }).first().click();
    await page.waitForURL(/\/errors$/);
    const issueLink = page.locator('a[data-testid^="issue-"]', { hasText: 'TypeError' });
    await issueLink.waitFor({ timeout: 15_000 });
    expect(await issueLink.textContent()).toContain("Cannot read properties of undefined (reading 'id')");
    await issueLink.click();
    await page.waitForURL(/\/errors\/\d+$/);
    await waitForText(page, '[data-testid="issue-status"]', 'Unresolved');
    const frames = page.locator('[data-testid="frames"]');
    await frames.waitFor();
    expect(await frames.textContent()).toContain('createIntent');
    expect(await page.locator('.code-hit').first().textContent()).toContain('stripe.paymentIntents.create');
    await page.screenshot({ path: join(SHOTS, 'shipshape-issue.png'), fullPage: true });

    // resolve it: the page says so, the API agrees, and the unresolved list is empty
    await page.locator('[data-testid="resolve"]').click();
    await waitForText(page, '[data-testid="issue-status"]', 'Resolved');
    const id = Number(/\/errors\/(\d+)$/.exec(page.url())?.[1]);
    const issue = (await (await fetch(`${url}/api/v1/issues/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { status: string };
    expect(issue.status).toBe('resolved');
    await page.getByRole('link', { name: 'Errors', exact: true }).first().click();
    await page.getByText('No unresolved errors').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="status-resolved"]').click();
    await page.locator('a[data-testid^="issue-"]', { hasText: 'TypeError' }).waitFor();

    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 150_000);
});
