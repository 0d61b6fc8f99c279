/**
 * The database page in a real browser (Chromium via playwright-core) on the dashboard built from
 * web/ and a real Shipshape whose `web` service has a throwaway PostgreSQL database: the service
 * listed (and the one without a database not), 1 applied and 1 pending migration, the connections
 * as a share of max_connections, a running `select pg_sleep(20)`, and the pg_stat_statements note;
 * a database that cannot be reached shows the server's problem detail, its password masked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/app.js';
import type { AuditReport } from '../../src/db/api-types.js';
import type { TopReport } from '../../src/db/top.js';
import { Backups } from '../../src/db/backup.js';
import { Migrations } from '../../src/db/service.js';
import { buildDashboard, launchChromium, SHOTS, startForBrowser, teardown, waitForText } from '../e2e/harness.js';
import { createTestDatabase } from '../helpers/pg.js';
import { MigrationsDir } from './helpers.js';

const TOKEN = 'db-ui-admin-token-0123456789abcdef';
const APP = 'db-ui-sleeper';
const PASSWORD = 'hunter2-not-for-the-page';

describe('the database page (Chromium)', () => {
  let dir: string;
  let migrations: MigrationsDir;
  let pgdb: Awaited<ReturnType<typeof createTestDatabase>>;
  let sleeper: pg.Client | undefined;
  let sleeperPid = 0;
  let backupId = '';
  let running: Running | undefined;
  let browser: Browser | undefined;
  let ctx: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipshape-db-ui-'));
    const webRoot = join(dir, 'web');
    const built = buildDashboard(webRoot);
    built.catch(() => undefined); // awaited below; this only keeps a failure from being reported as unhandled meanwhile
    pgdb = await createTestDatabase('shipshape_dbui');
    migrations = new MigrationsDir({
      '001_create_items.sql': '-- migrate:up\nCREATE TABLE items (id bigint PRIMARY KEY, name text);\n\n-- migrate:down\nDROP TABLE items;\n',
      '002_create_notes.sql': '-- migrate:up\nCREATE TABLE notes (id bigint PRIMARY KEY, body text);\n\n-- migrate:down\nDROP TABLE notes;\n',
    });
    await new Migrations({ version: 'test' }).migrate({ url: pgdb.url, dir: migrations.dir }, { actor: 'user:test', to: 1 });
    // a table the config accepts without RLS, with its reason
    const c = new pg.Client({ connectionString: pgdb.url });
    await c.connect();
    await c.query('create table legacy_import (id bigint primary key, payload text)');
    await c.end();
    // a real backup (pg_dump) of web's database, not verified yet
    backupId = (await new Backups({}).backup({ url: pgdb.url, dest: join(dir, 'backups-web'), service: 'web', actor: 'user:test' })).id;
    const configPath = join(dir, 'shipshape.yaml');
    writeFileSync(
      configPath,
      `services:
  web:
    database:
      url: ${pgdb.url}
      migrations: ${migrations.dir}
      backups: { dir: ${join(dir, 'backups-web')} }
      audit:
        suppress:
          - { rule: rls_disabled, object: public.legacy_import, reason: "read by the nightly import job only" }
  legacy:
    database:
      url: postgres://app:${PASSWORD}@127.0.0.1:1/legacy
      migrations: ${migrations.dir}
  api:
    description: no database
`,
    );
    await built;
    // a query the page should show as running, from a separate session, started once the build is done so it still runs when the page looks
    sleeper = new pg.Client({ connectionString: pgdb.url, application_name: APP });
    sleeper.on('error', () => undefined);
    await sleeper.connect();
    sleeperPid = (await sleeper.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;
    void sleeper.query('select pg_sleep(20)').catch(() => undefined);
    running = await startForBrowser({ configPath, dir, token: TOKEN, webRoot });
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await ctx?.close().catch(() => undefined);
    await teardown({ running, browser, dir });
    if (pgdb) {
      const admin = new pg.Client({ connectionString: pgdb.url });
      await admin.connect().catch(() => undefined);
      if (sleeperPid) await admin.query('select pg_terminate_backend($1)', [sleeperPid]).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    await sleeper?.end().catch(() => undefined);
    migrations?.remove();
    await pgdb?.drop();
  });

  it('lists the service with a database, its applied and pending migrations, connections, the running query and the pg_stat_statements note', async () => {
    await page.goto(`${running!.url}/database`);
    await page.locator('input[name="token"]').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Database', level: 1 }).waitFor({ timeout: 15_000 });

    // the service with a database: section, and not the one without
    await waitForText(page, '[data-testid="db-tab-web"]', /^web1 pending$/);
    expect(await page.locator('[data-testid="db-tab-api"]').count()).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Database' }).getAttribute('aria-current')).toBe('page');

    const svc = '[data-testid="db-service-web"]';
    await waitForText(page, `${svc} [data-testid="db-mig-summary"]`, '1 applied · 1 pending');
    await waitForText(page, `${svc} [data-testid="db-mig-pending"]`, /^002_create_notes\.sqlpending/);
    await waitForText(page, `${svc} [data-testid="db-mig-applied"]`, /^001_create_items\.sqlapplied.+user:test/);
    // the database URL as the server masks it
    expect(await page.locator(`${svc} .db-service-head code`).textContent()).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\/shipshape_dbui_/);

    // connections: the percent the server computed, and used of max
    await page.locator(`${svc} [data-testid="db-conn-percent"]`).waitFor({ timeout: 15_000 });
    const top = (await (await fetch(`${running!.url}/api/v1/db/web/top?limit=10`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as TopReport;
    await waitForText(page, `${svc} [data-testid="db-conn-percent"]`, /^\d+(\.\d)?% of max_connections$/);
    expect(await page.locator(`${svc} [data-testid="db-conn-used"]`).textContent()).toMatch(new RegExp(`^\\d+ of ${top.connections.max} in use`));

    // the running pg_sleep, with its application and duration
    const row = page.locator(`${svc} [data-testid="db-running-query"]`, { hasText: 'select pg_sleep(20)' });
    await row.waitFor({ timeout: 15_000 });
    const text = (await row.textContent()) ?? '';
    expect(text).toContain(String(sleeperPid));
    expect(text).toContain(APP);
    expect(text).toContain('active');
    expect(await row.locator('[data-testid="db-running-duration"]').textContent()).toMatch(/^(\d+ ms|\d+\.\d+ s)$/);

    // pg_stat_statements is not installed in the throwaway database: the note says what to do
    expect(top.statements.note).toMatch(/pg_stat_statements/);
    await waitForText(page, `${svc} [data-testid="db-statements-note"]`, top.statements.note!);
    expect(await page.locator(`${svc} [data-testid="db-statement"]`).count()).toBe(0);

    // the backup, newest first, not verified yet; the API lists it without server paths
    await waitForText(page, `${svc} [data-testid="db-backup"]`, new RegExp(`^${backupId}.*custom.*unverified$`));
    const listed = (await (await fetch(`${running!.url}/api/v1/db/web/backups`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { total: number; items: Record<string, unknown>[] };
    expect(listed.total).toBe(1);
    expect(listed.items[0]).toMatchObject({ id: backupId, format: 'custom', encrypted: false, verified: null });
    expect(listed.items[0]).not.toHaveProperty('path');
    expect((await fetch(`${running!.url}/api/v1/db/api/backups`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(`${running!.url}/api/v1/db/web/backups`)).status).toBe(401);

    // the table the applied migration created
    await page.locator(`${svc} [data-testid="db-table"]`, { hasText: 'public.items' }).waitFor({ timeout: 5_000 });

    // the audit: public.items (from the applied migration) has no row level security, an error with its fix
    const audit = (await (await fetch(`${running!.url}/api/v1/db/web/audit`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as AuditReport;
    expect(audit.findings).toContainEqual(expect.objectContaining({ rule: 'rls_disabled', level: 'error', object: 'public.items' }));
    const finding = page.locator(`${svc} [data-testid="db-audit"] [data-testid="db-finding"]`, { hasText: 'rls_disabled' });
    await finding.waitFor({ timeout: 15_000 });
    expect(await finding.textContent()).toMatch(/^errorrls_disabledpublic\.itemsrow level security is off on public\.items.*alter table public\.items enable row level security/);
    await waitForText(page, `${svc} [data-testid="db-audit-counts"]`, new RegExp(`^${audit.counts.error} errors?`));
    expect(await page.locator(`${svc} [data-testid="db-audit"] [data-testid="db-finding"]`).count()).toBe(audit.findings.length);
    // what the config accepts is listed apart with its reason, and not counted
    expect(audit.suppressed).toEqual([expect.objectContaining({ rule: 'rls_disabled', object: 'public.legacy_import', reason: 'read by the nightly import job only' })]);
    expect(audit.findings.some((f) => f.object === 'public.legacy_import' && f.rule === 'rls_disabled')).toBe(false);
    await waitForText(page, `${svc} [data-testid="db-audit-suppressed"] summary`, /^1 finding suppressed in shipshape\.yaml/);
    expect(await page.locator(`${svc} [data-testid="db-suppressed-finding"]`).textContent({ timeout: 5_000 })).toBe('rls_disabled public.legacy_import — read by the nightly import job only');
    await waitForText(page, `${svc} [data-testid="db-audit-roles"]`, /^privileges read for: PUBLIC$/);
    expect((await fetch(`${running!.url}/api/v1/db/web/audit`)).status).toBe(401);
    const bad = await fetch(`${running!.url}/api/v1/db/web/audit?long_query=soon`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('long_query: expected a duration like 5m, got "soon"');
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'shipshape-database.png'), fullPage: true });
  }, 60_000);

  it('shows a database that cannot be reached with the server\'s problem detail, and no password', async () => {
    await waitForText(page, '[data-testid="db-tab-legacy"]', 'legacyerror');
    await page.getByTestId('db-tab-legacy').click();
    const svc = '[data-testid="db-service-legacy"]';
    await waitForText(page, `${svc} [role="alert"]`, /^Could not read the migration status of legacyBad Request: cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/legacy: .*ECONNREFUSED/);
    expect(page.url()).toBe(`${running!.url}/database/legacy`);
    await waitForText(page, `${svc} [data-testid="db-top"] [role="alert"]`, /cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/legacy/);
    expect(await page.content()).not.toContain(PASSWORD);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
