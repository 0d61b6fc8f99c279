import { XMLParser } from 'fast-xml-parser';
import { gunzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidents } from '../../src/incidents/index.js';
import { createTestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTarget, type Target } from '../helpers/target.js';

const config = (url: string) => `
services:
  web:
    description: The web shop
    checks:
      - http: { url: "${url}/", timeout: 1s, every: 1h }
        down_after: 1
  api:
    checks:
      - http: { url: "${url}/api", timeout: 1s, every: 1h }
        down_after: 1
  worker: {}
`;

const text = (s: TestServer, path: string, init?: RequestInit) => s.api(path, { token: null, ...init }).then((r) => r.text());
const json = async <T = Record<string, unknown>>(s: TestServer, path: string): Promise<T> => {
  const r = await s.api(path, { token: null });
  expect(r.status, path).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  return (await r.json()) as T;
};
const post = (s: TestServer, path: string, body: unknown) => s.api(path, { method: 'POST', body: JSON.stringify(body) });

interface SpComponent { id: string; name: string; status: string; group_id: string | null; position: number; group: boolean; created_at: string; updated_at: string; description: string | null; page_id: string }
interface SpIncident { id: string; name: string; status: string; impact: string; created_at: string; updated_at: string; resolved_at: string | null; monitoring_at: string | null; shortlink: string; started_at: string; page_id: string; components: SpComponent[]; incident_updates: { id: string; status: string; body: string; incident_id: string; created_at: string; display_at: string; updated_at: string }[] }

for (const db of ['sqlite', 'postgres'] as const) {
  describe(`default status page (${db})`, () => {
    let s: TestServer;
    let target: Target;
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      target = await startTarget();
      let databaseUrl: string | undefined;
      if (db === 'postgres') {
        const t = await createTestDatabase('shipshape_statuspage');
        databaseUrl = t.url;
        drop = t.drop;
      }
      s = await startTestServer(config(target.url), { databaseUrl });
      await s.monitor.runNow();
    });
    afterAll(async () => {
      await s?.close();
      await target?.close().catch(() => undefined);
      await drop?.();
    });

    it('lists every service at /status with its state, without a token; a stopped target turns its services into an outage', async () => {
      const r = await s.api('/status', { token: null });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      let page = await r.text();
      for (const name of ['web', 'api', 'worker']) expect(page).toContain(`id="c-${name}"`);
      expect(page).toMatch(/id="c-web" data-status="operational"/);
      expect(page).toContain('All Systems Operational');
      expect(page).toContain('The web shop');
      expect(page).not.toMatch(/<script[^>]*src=/); // nothing to load: the page is complete without JS

      await target.close();
      await s.monitor.runNow();
      page = await text(s, '/status');
      expect(page).toMatch(/id="c-web" data-status="major_outage"/);
      expect(page).toMatch(/id="c-api" data-status="major_outage"/);
      expect(page).toMatch(/id="c-worker" data-status="operational"/);
      expect(page).toContain('Partial System Outage');
      const st = await json<{ status: { indicator: string } }>(s, '/api/v2/status.json');
      expect(st.status.indicator).toBe('major');
    });

    it('answers the Statuspage v2 API with the fields Statuspage clients read', async () => {
      const summary = await json<{ page: Record<string, unknown>; components: SpComponent[]; incidents: SpIncident[]; scheduled_maintenances: unknown[]; status: { indicator: string; description: string } }>(s, '/api/v2/summary.json');
      expect(Object.keys(summary).sort()).toEqual(['components', 'incidents', 'page', 'scheduled_maintenances', 'status']);
      expect(summary.page).toEqual({ id: 'default', name: 'Status', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/status$/), time_zone: 'UTC', updated_at: expect.any(String) });
      expect(['none', 'minor', 'major', 'critical']).toContain(summary.status.indicator);
      expect(summary.status.description).toEqual(expect.any(String));
      expect(summary.components.map((c) => c.name)).toEqual(['web', 'api', 'worker']);
      for (const c of summary.components) {
        expect(c).toMatchObject({ id: expect.any(String), name: expect.any(String), status: expect.stringMatching(/^(operational|degraded_performance|partial_outage|major_outage|under_maintenance)$/), created_at: expect.any(String), updated_at: expect.any(String), position: expect.any(Number), group_id: null, page_id: 'default', group: false, showcase: true, only_show_if_degraded: false });
        expect('description' in c).toBe(true);
      }
      const comps = await json<{ page: unknown; components: SpComponent[] }>(s, '/api/v2/components.json');
      expect(comps.components).toHaveLength(3);
      for (const p of ['incidents.json', 'incidents/unresolved.json']) expect(Array.isArray((await json<{ incidents: unknown[] }>(s, `/api/v2/${p}`)).incidents)).toBe(true);
      for (const p of ['scheduled-maintenances.json', 'scheduled-maintenances/upcoming.json', 'scheduled-maintenances/active.json']) {
        const m = await json<{ page: { id: string }; scheduled_maintenances: unknown[] }>(s, `/api/v2/${p}`);
        expect(m).toEqual({ page: expect.objectContaining({ id: 'default' }), scheduled_maintenances: [] });
      }
      // the same API under the page's own path
      expect((await json<{ page: { id: string } }>(s, '/status/api/v2/status.json')).page.id).toBe('default');
    });

    it('shows an incident and its responder updates on the page, in unresolved.json and in the feeds; resolved ones move to the past', async () => {
      const opened = (await (await post(s, '/api/v1/incidents', { title: 'Checkout is slow', severity: 'P1', services: ['web'], message: 'internal note' })).json()) as { id: number };
      const u = await post(s, `/api/v1/incidents/${opened.id}/updates`, { status: 'identified', message: 'A database index is missing' });
      expect(u.status).toBe(201);
      const page = await text(s, '/status');
      expect(page).toContain('Active incidents');
      expect(page).toContain('Checkout is slow');
      expect(page).toContain('A database index is missing');
      expect(page).not.toContain('internal note'); // notes stay internal
      const un = await json<{ incidents: SpIncident[] }>(s, '/api/v2/incidents/unresolved.json');
      const inc = un.incidents.find((i) => i.id === String(opened.id)) as SpIncident;
      expect(inc).toMatchObject({ name: 'Checkout is slow', status: 'identified', impact: 'major', page_id: 'default', resolved_at: null, started_at: expect.any(String), shortlink: expect.stringMatching(new RegExp(`/status/incidents/${opened.id}$`)) });
      expect(inc.components.map((c) => c.name)).toEqual(['web']);
      expect(inc.incident_updates).toEqual([expect.objectContaining({ id: expect.any(String), status: 'identified', body: 'A database index is missing', incident_id: String(opened.id), created_at: expect.any(String), display_at: expect.any(String), updated_at: expect.any(String) })]);
      expect((await json<{ incidents: SpIncident[] }>(s, '/api/v2/summary.json')).incidents.map((i) => i.id)).toContain(String(opened.id));

      await post(s, `/api/v1/incidents/${opened.id}/updates`, { status: 'resolved', message: 'Index added, all good' });
      expect((await json<{ incidents: SpIncident[] }>(s, '/api/v2/incidents/unresolved.json')).incidents.map((i) => i.id)).not.toContain(String(opened.id));
      const all = await json<{ incidents: SpIncident[] }>(s, '/api/v2/incidents.json');
      expect(all.incidents.find((i) => i.id === String(opened.id))).toMatchObject({ status: 'resolved', resolved_at: expect.any(String) });
      const after = await text(s, '/status');
      expect(after).toContain('Past incidents');
      expect(after).toContain('Index added, all good');
      expect(await text(s, `/status/incidents/${opened.id}`)).toContain('A database index is missing');

      const parser = new XMLParser({ ignoreAttributes: false });
      const rssRes = await s.api('/history.rss', { token: null });
      expect(rssRes.headers.get('content-type')).toMatch(/^application\/rss\+xml/);
      const rss = parser.parse(await rssRes.text()) as { rss: { channel: { title: string; item: { title: string; link: string; guid: unknown }[] | { title: string; link: string } } } };
      const items = [rss.rss.channel.item].flat();
      expect(items.map((i) => i.title)).toContain('Checkout is slow');
      expect(items[0]?.link).toMatch(/\/status\/incidents\/\d+$/);
      const atomRes = await s.api('/history.atom', { token: null });
      expect(atomRes.headers.get('content-type')).toMatch(/^application\/atom\+xml/);
      const atom = parser.parse(await atomRes.text()) as { feed: { entry: { title: unknown; updated: string }[] | { title: unknown } } };
      const entries = [atom.feed.entry].flat();
      expect(JSON.stringify(entries)).toContain('Checkout is slow');
      expect(JSON.stringify(entries)).toContain('Index added, all good');
    });

    it('serves SVG badges per component: status and 90-day uptime', async () => {
      const r = await s.api('/status/badge/web.svg', { token: null });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
      const svg = await r.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg).toContain('web: major outage');
      const up = await (await s.api('/status/badge/web/uptime.svg', { token: null })).text();
      expect(up).toMatch(/web uptime: (\d+\.\d\d%|no data)/);
      expect(new XMLParser().parse(up)).toHaveProperty('svg');
      expect((await s.api('/status/badge/nope.svg', { token: null })).status).toBe(404);
    });

    it('compresses once, answers with ETag and Last-Modified, and 304 on revalidation', async () => {
      const r = await fetch(`${s.url}/status`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.headers.get('vary')).toBe('accept-encoding');
      const etag = r.headers.get('etag') as string;
      expect(etag).toMatch(/^".+"$/);
      expect(r.headers.get('last-modified')).toBeTruthy();
      const again = await s.api('/status', { token: null, headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      // raw bytes: gzip as asked, and small
      const http = await import('node:http');
      const buf = await new Promise<Buffer>((resolve, reject) => {
        http.get(`${s.url}/status`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          expect(res.headers['content-encoding']).toBe('gzip');
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
        }).on('error', reject);
      });
      expect(buf.length).toBeLessThan(30 * 1024);
      expect(gunzipSync(buf).toString()).toContain('<!doctype html>');
    });

    it('keeps rendering when an incident names a service that is no longer configured (an update naming a missing component)', async () => {
      const opened = (await (await post(s, '/api/v1/incidents', { title: 'Worker queue stuck', severity: 'P2', services: ['worker', 'api'] })).json()) as { id: number };
      await post(s, `/api/v1/incidents/${opened.id}/updates`, { status: 'investigating', message: 'Looking at the worker' });
      writeFileSync(s.configPath, config(target.url).replace('  worker: {}\n', ''));
      expect(await s.reload()).toBe(true);
      const page = await s.api('/status', { token: null });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Worker queue stuck');
      expect(html).not.toContain('id="c-worker"');
      const un = await json<{ incidents: SpIncident[] }>(s, '/api/v2/incidents/unresolved.json');
      expect(un.incidents.find((i) => i.id === String(opened.id))?.components.map((c) => c.name)).toEqual(['api']);
      expect((await json<{ components: SpComponent[] }>(s, '/api/v2/components.json')).components.map((c) => c.name)).toEqual(['web', 'api']);
      expect((await s.api('/status/badge/worker.svg', { token: null })).status).toBe(404);
    });
  });
}

describe('configured status pages', () => {
  let s: TestServer;
  const EVIL = `<script>alert("x")</script>`;

  beforeAll(async () => {
    s = await startTestServer(`
services:
  web: { description: 'Shop ${EVIL}' }
  db: {}
  internal-tool: {}
status_pages:
  public:
    path: /status
    title: '${EVIL} & Co'
    description: 'We <b>ship</b>'
    logo: /logo.svg?a=1&b=2
    links: [{ label: '<i>Docs</i>', url: 'https://docs.example.com/?q=1&r=2' }]
    colors: { accent: '#ff0000' }
    components:
      - { name: 'Shop ${EVIL}', service: web, group: 'Front <end>' }
      - { name: Database, service: db, group: 'Front <end>', pin: under_maintenance }
  internal:
    path: /internal-status
    host: status.internal.test
    private: true
    title: Internal
`);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('escapes HTML in titles, names, descriptions, links and incident text', async () => {
    const inc = (await (await post(s, '/api/v1/incidents', { title: `Outage ${EVIL}`, severity: 'P3', services: ['web'] })).json()) as { id: number };
    await post(s, `/api/v1/incidents/${inc.id}/updates`, { status: 'investigating', message: `Body ${EVIL} <img src=x onerror=alert(1)>` });
    const page = await text(s, '/status');
    expect(page).not.toContain(EVIL);
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<b>ship</b>');
    expect(page).not.toContain('<i>Docs</i>');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(page).toContain('Front &lt;end&gt;');
    expect(page).toContain('href="https://docs.example.com/?q=1&amp;r=2"');
    expect(page).toContain('src="/logo.svg?a=1&amp;b=2"');
    // the only script is the page's own refresh
    expect(page.match(/<script>/g)).toHaveLength(1);
    for (const p of ['/status/history', `/status/incidents/${inc.id}`]) expect(await text(s, p)).not.toContain(EVIL);
    const svg = await text(s, '/status/badge/shop-script-alert-x-script.svg');
    expect(svg).not.toContain(EVIL);
    expect(svg).toContain('&lt;script&gt;');
    const rss = await text(s, '/history.rss');
    expect(rss).not.toContain(EVIL);
    // titles and descriptions are HTML-escaped text: a reader that renders them as HTML shows the text
    const unescape = (x: string) => x.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    const item = new XMLParser().parse(rss).rss.channel.item as { title: string; description: string };
    expect(item.title).not.toMatch(/</);
    expect(unescape(item.title)).toBe(`Outage ${EVIL}`);
    expect(item.description).not.toMatch(/</);
    const atom = await text(s, '/history.atom');
    expect(atom).not.toContain(EVIL);
    expect(unescape(String((new XMLParser().parse(atom).feed.entry as { title: string }).title))).toBe(`Outage ${EVIL}`);
  });

  it('refuses script URLs and markup in links, logos and colours at config time', async () => {
    const { parseConfig } = await import('../../src/modules.js');
    const bad = (extra: string) => () => parseConfig(`services:\n  web: {}\nstatus_pages:\n  p:\n${extra}`, 'x.yaml');
    expect(bad('    links: [{ label: x, url: "javascript:alert(1)" }]\n')).toThrow(/http\(s\) URL/);
    expect(bad('    logo: \'/x.svg"><script>\'\n')).toThrow(/http\(s\) URL/);
    expect(bad('    colors: { accent: "red;}</style><script>" }\n')).toThrow(/hex colour/);
    expect(bad('    components: [{ service: nope }]\n')).toThrow(/unknown service "nope"/);
    expect(bad('    path: /api/v1\n')).toThrow(/taken by Shipshape/);
  });

  it('groups components, honours pins and the page title in the Statuspage API', async () => {
    const comps = await json<{ page: { id: string; name: string }; components: SpComponent[] }>(s, '/api/v2/components.json');
    expect(comps.page).toMatchObject({ id: 'public', name: `${EVIL} & Co` });
    const group = comps.components.find((c) => c.group) as SpComponent & { components: string[] };
    expect(group).toMatchObject({ name: 'Front <end>', group: true });
    expect(comps.components.filter((c) => !c.group).map((c) => [c.name, c.group_id, c.status])).toEqual([
      [`Shop ${EVIL}`, group.id, expect.any(String)],
      ['Database', group.id, 'under_maintenance'],
    ]);
    expect(group.components).toHaveLength(2);
    expect((await s.api('/status/badge/database.svg', { token: null }).then((r) => r.text()))).toContain('under maintenance');
  });

  it('a private page needs the read scope, on its path and on its host name', async () => {
    expect((await s.api('/internal-status', { token: null })).status).toBe(401);
    expect((await s.api('/internal-status/api/v2/summary.json', { token: null })).status).toBe(401);
    const r = await s.api('/internal-status');
    expect(r.status).toBe(200);
    const page = await r.text();
    expect(page).toContain('<title>Internal</title>');
    for (const c of ['web', 'db', 'internal-tool']) expect(page).toContain(`id="c-${c}"`);
    expect(r.headers.get('cache-control')).toBe('private, no-cache');
    const http = await import('node:http');
    const viaHost = (token?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get(`${s.url}/`, { headers: { host: 'status.internal.test', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    expect((await viaHost()).status).toBe(401);
    const ok = await viaHost('test-admin-token-0123456789');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<title>Internal</title>');
    expect(ok.body).toContain('href="/history.rss"');
  });
});

describe('a status page with thousands of historic incidents', () => {
  let s: TestServer;
  const N = 2500;
  beforeAll(async () => {
    s = await startTestServer('services:\n  web: {}\n  api: {}\n');
    const svc = s.use(incidents).service;
    for (let i = 1; i <= N; i++) {
      const inc = await svc.open({ title: `Old incident ${i}`, severity: 'P3', services: [i % 2 ? 'web' : 'api'] }, 'test');
      if (i < N) await svc.resolve(inc.id, 'test');
    }
  }, 180_000);
  afterAll(async () => {
    await s?.close();
  });

  // no wall-clock assertions here: the status page's speed belongs in bench/ (not written yet)
  it('shows only recent incidents on the page and pages the history', async () => {
    const page = await text(s, '/status');
    expect(page).toContain(`Old incident ${N}`); // the open one
    expect((page.match(/class="inc /g) ?? []).length).toBeLessThanOrEqual(11);

    const first = await text(s, '/status/history');
    expect(first).toContain(`Old incident ${N}<`);
    expect(first).toContain(`Old incident ${N - 19}<`);
    expect(first).not.toContain(`Old incident ${N - 20}<`);
    expect(first).toContain('href="/status/history?page=2"');

    const deep = await text(s, '/status/history?page=100');
    expect(deep).toContain(`Old incident ${N - 99 * 20}<`);
    expect(deep).toContain(`Old incident ${N - 99 * 20 - 19}<`);
    expect(deep).toContain('href="/status/history?page=101"');
    const next = await text(s, '/status/history?page=101');
    expect(next).toContain(`Old incident ${N - 100 * 20}<`);
    const last = await text(s, `/status/history?page=${N / 20}`);
    expect(last).toContain('Old incident 1<');
    expect(last).not.toContain('rel="next"');
    expect(await text(s, `/status/history?page=${N / 20 + 1}`)).toContain('No incidents on this page.');
    expect((await s.api('/status/history?page=0', { token: null })).status).toBe(400);

    const feed = await json<{ incidents: unknown[] }>(s, '/api/v2/incidents.json');
    expect(feed.incidents).toHaveLength(50);
  });
});
