/**
 * The browser SDK in a real Chromium: a page served on loopback loads the SDK (bundled here with
 * esbuild, as an app's bundler would), the user interacts, leaves the page, and the beacon with
 * the Core Web Vitals arrives at a receiver on another origin.
 */
import { telemetry as telemetryModule } from '../../src/telemetry/index.js';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.js';
import { allEvents, allVitals, startRecorder, type Recorder } from './recorder.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let bundle = '';
let browser: Browser;
let site: Server;
let siteUrl = '';
let recorder: Recorder;
/** the script each test page runs after loading the SDK */
let pageScript = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium`);
  const out = await build({ entryPoints: ['src/sdk/browser/index.ts'], bundle: true, format: 'iife', globalName: 'Shipshape', platform: 'browser', target: 'es2020', write: false, minify: true });
  bundle = out.outputFiles[0]!.text;
  recorder = await startRecorder();
  site = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
      return;
    }
    if (path === '/next') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>next</title><p>another page</p>');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html>
<html><head><title>shop</title><style>body{font:16px sans-serif;margin:0} #hero{height:300px;background:#369;color:#fff;font-size:48px}</style></head>
<body>
  <div id="banner-slot"></div>
  <h1 id="hero">Big headline that is the largest contentful paint</h1>
  <p>Some text on the product page.</p>
  <button id="buy" style="width:200px;height:60px">Buy</button>
  <div id="out"></div>
  <script src="/sdk.js"></script>
  <script>${pageScript}</script>
  <script>
    document.getElementById('buy').addEventListener('click', () => {
      const until = performance.now() + 120; while (performance.now() < until) {} // a slow handler: INP
      document.getElementById('out').textContent = 'bought';
      window.shipshape.track('purchase_completed', { value: 49.9 });
    });
    // a late banner pushes the content down: a layout shift (CLS)
    setTimeout(() => { const b = document.getElementById('banner-slot'); b.style.height = '120px'; b.textContent = 'sale!'; }, 300);
  </script>
</body></html>`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  site?.closeAllConnections();
  await new Promise<void>((r) => (site ? site.close(() => r()) : r()));
  await recorder?.close();
});

afterEach(() => {
  recorder.received.length = 0;
});

async function visit(path: string, script: string): Promise<void> {
  pageScript = script;
  const page = await browser.newPage();
  try {
    await page.goto(`${siteUrl}${path}`);
    await page.waitForFunction(`document.getElementById('banner-slot')?.textContent === 'sale!'`);
    // let the shift and paints settle, then interact
    await page.waitForTimeout(100);
    await page.click('#buy');
    await page.waitForFunction(`document.getElementById('out')?.textContent === 'bought'`);
    await page.waitForTimeout(100);
    // leaving the page hides it: the SDK sends its beacon
    await page.goto(`${siteUrl}/next`);
  } finally {
    await page.close();
  }
}

describe('browser SDK (web-vitals beacon)', () => {
  it('sends LCP, INP, CLS, FCP and TTFB for the page, and business events, when the user leaves', async () => {
    await visit('/products/12345?utm_source=mail', `window.shipshape = Shipshape.initShipshape({ url: ${JSON.stringify(recorder.url)}, token: 'browser-ingest-token', service: 'web' });`);
    await recorder.waitFor((rs) => {
      const names = new Set(allVitals(rs.map((r) => r.json)).map((v) => v.name));
      return ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'].every((n) => names.has(n as never));
    });
    const got = recorder.received;
    // a beacon: POST with the token in the query, a text/plain JSON body, cross-origin
    for (const r of got) {
      expect(r.url).toBe('/api/v1/ingest?token=browser-ingest-token');
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      expect(r.json.service).toBe('web');
    }
    const vitals = allVitals(got.map((r) => r.json));
    const byName = Object.fromEntries(vitals.map((v) => [v.name, v]));
    for (const v of vitals) {
      expect(v.page).toBe('/products/:id'); // query dropped, id collapsed
      expect(Math.abs(v.at - Date.now())).toBeLessThan(60_000);
    }
    expect(byName.INP!.value).toBeGreaterThanOrEqual(100); // the 120ms click handler
    expect(byName.CLS!.value).toBeGreaterThan(0); // the late banner
    expect(byName.LCP!.value).toBeGreaterThan(0);
    expect(byName.LCP!.value).toBeGreaterThanOrEqual(byName.FCP!.value);
    expect(byName.TTFB!.value).toBeGreaterThanOrEqual(0);
    // each metric once (its final value), not once per change
    expect(vitals.map((v) => v.name).sort()).toEqual(['CLS', 'FCP', 'INP', 'LCP', 'TTFB']);
    expect(allEvents(got.map((r) => r.json))).toEqual([{ name: 'purchase_completed', value: 49.9, at: expect.any(Number) }]);
  });

  it('uses pageName for the page, and fetch keepalive where sendBeacon is missing', async () => {
    await visit(
      '/p/abc',
      `delete Navigator.prototype.sendBeacon;
       if ('sendBeacon' in navigator) throw new Error('sendBeacon still there');
       window.shipshape = Shipshape.initShipshape({ url: ${JSON.stringify(recorder.url + '/')}, token: 't2', service: 'shop', pageName: (l) => l.pathname.startsWith('/p/') ? '/p/[slug]' : l.pathname });`,
    );
    await recorder.waitFor((rs) => allVitals(rs.map((r) => r.json)).some((v) => v.name === 'LCP'));
    const vitals = allVitals(recorder.received.map((r) => r.json));
    expect(new Set(vitals.map((v) => v.page))).toEqual(new Set(['/p/[slug]']));
    expect(recorder.received.every((r) => r.url === '/api/v1/ingest?token=t2' && r.json.service === 'shop')).toBe(true);
  });

  it('into a real Shipshape: the vitals p75 per page and the events are there after the user leaves', async () => {
    const srv = await startTestServer('services:\n  web: {}\ningest:\n  tokens: ["browser-e2e-token"]\n');
    try {
      await visit('/products/777', `window.shipshape = Shipshape.initShipshape({ url: ${JSON.stringify(srv.url)}, token: 'browser-e2e-token', service: 'web' });`);
      const q = srv.use(telemetryModule).query;
      const names = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'] as const;
      await expect
        .poll(async () => {
          const missing: string[] = [];
          for (const n of names) if ((await q.vital('web', n, 0.75, 300_000, '/products/:id')).samples === 0) missing.push(n);
          return missing;
        }, { timeout: 5000, interval: 25 })
        .toEqual([]);
      for (const n of names) expect((await q.vital('web', n, 0.75, 300_000, '/products/:id')).samples, n).toBe(1);
      expect((await q.vital('web', 'INP', 0.75, 300_000, '/products/:id')).value).toBeGreaterThanOrEqual(100);
      expect((await q.eventRate('purchase_completed', 300_000, 'web')).samples).toBe(1);
      // and the dashboard's chart API has a p75 point for each vital
      const chart = (await (await srv.api('/api/v1/services/web/telemetry')).json()) as { vitals: Record<string, { p75: (number | null)[] }> };
      for (const n of names) expect(chart.vitals[n]?.p75.some((v) => v !== null), n).toBe(true);
    } finally {
      await srv.close();
    }
  });
});
