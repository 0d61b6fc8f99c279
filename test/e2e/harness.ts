/**
 * What the browser tests share: a dashboard built fresh from web/, a real Shipshape in this
 * process, Debian's Chromium driven by playwright-core, a text wait with a useful failure, and a
 * teardown that does not hang on the sockets Chromium keeps open.
 */
import { existsSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { startShipshape, type Running } from '../../src/app.js';
import { deploy } from '../../src/deploy/index.js';
import { killUnder } from '../helpers/procs.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = process.env.SHIPSHAPE_SCREENSHOTS ?? '/tmp';

/** Build the dashboard from the current web/ sources into `webRoot`. */
export async function buildDashboard(webRoot: string): Promise<void> {
  await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } });
}

/** Shipshape in this process, on a free loopback port, serving `webRoot`. */
export function startForBrowser(opts: { configPath: string; dir: string; token: string; webRoot: string }): Promise<Running> {
  return startShipshape({
    configPath: opts.configPath,
    dataDir: join(opts.dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    adminToken: opts.token,
    watchConfig: false,
    webRoot: opts.webRoot,
  });
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the browser tests need Debian's Chromium (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Stop everything. Chromium keeps speculative (preconnected) sockets that never send a request;
 * Node's server.close() would wait for those until headersTimeout (~60s), so drop them first.
 */
export async function teardown(parts: { running?: Running; browser?: Browser; servers?: (Server | undefined)[]; dir?: string }): Promise<void> {
  parts.running?.server.server.closeAllConnections();
  // releases and the proxy daemon outlive a stop on purpose: a test takes them down
  await parts.running?.use(deploy).service.downAll().catch(() => undefined);
  await parts.running?.stop().catch(() => undefined);
  await parts.browser?.close().catch(() => undefined);
  for (const s of parts.servers ?? []) {
    if (!s?.listening) continue;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  if (parts.dir) await killUnder(parts.dir);
  if (parts.dir) rmSync(parts.dir, { recursive: true, force: true });
}

/** The browser globals the in-page functions touch (tests compile without the DOM lib). */
interface InPage {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

/** Wait until the first element matching `selector` reads `text` (exactly, or matching a RegExp). */
export async function waitForText(page: Page, selector: string, text: string | RegExp, timeout = 15_000): Promise<void> {
  const pattern = typeof text === 'string' ? { source: `^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, flags: '' } : { source: text.source, flags: text.flags };
  try {
    await page.waitForFunction(
      ({ sel, source, flags }) => {
        const el = (globalThis as unknown as InPage).document.querySelector(sel);
        return !!el && new RegExp(source, flags).test((el.textContent ?? '').trim());
      },
      { sel: selector, ...pattern },
      { timeout, polling: 100 },
    );
  } catch (e) {
    const actual = await page.locator(selector).first().textContent({ timeout: 500 }).catch(() => null);
    throw new Error(`expected ${selector} to read ${String(text)}, it reads ${JSON.stringify(actual)}: ${(e as Error).message.split('\n')[0]}`);
  }
}
