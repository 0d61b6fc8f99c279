/** Issue 7: file modes, the data dir lock, admin token strength, refusing an empty hot reload. */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startShipshape, type Running } from '../../src/app.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

let dir: string;
const started: Running[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-safety-'));
});
afterEach(async () => {
  for (const r of started.splice(0)) await r.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(dataDir: string, adminToken: string | undefined = ADMIN): Promise<Running> {
  const configPath = join(dir, 'shipshape.yaml');
  writeFileSync(configPath, 'services: {}\n');
  return startShipshape({ configPath, dataDir, port: 0, watchConfig: false, logger: pino({ level: 'silent' }), adminToken }).then((r) => {
    started.push(r);
    return r;
  });
}

describe('files (item 7)', () => {
  it('creates the data directory 0700 and the database 0600', async () => {
    const data = join(dir, 'data');
    await start(data);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, 'shipshape.db')).mode & 0o777).toBe(0o600);
  });
});

describe('the data dir lock (item 13)', () => {
  it('starts although server.pid names a live process that holds no lock', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'server.pid'), String(process.ppid));
    const r = await start(data);
    expect(r.url).toMatch(/^http:/);
  });
  it('refuses a second server on the same data dir, also in one process, and frees the lock on stop', async () => {
    const data = join(dir, 'data');
    const first = await start(data);
    await expect(start(data)).rejects.toThrow(/another shipshape \(pid \d+\) is already running on/);
    await first.stop();
    started.splice(started.indexOf(first), 1);
    const again = await start(data);
    expect(again.url).toMatch(/^http:/);
  });
});

describe('admin token strength (item 6)', () => {
  it('refuses a short SHIPSHAPE_ADMIN_TOKEN with a clear message', async () => {
    await expect(start(join(dir, 'data'), 'a')).rejects.toThrow(/SHIPSHAPE_ADMIN_TOKEN .*at least 16 characters/);
    await expect(start(join(dir, 'data2'), 'x'.repeat(20))).rejects.toThrow(/SHIPSHAPE_ADMIN_TOKEN/);
  });
});

describe('hot reload of an emptied config (item 14)', () => {
  let s: TestServer;
  afterEach(async () => s?.close());
  it('refuses a config that removes everything unless marked empty, and logs it', async () => {
    s = await startTestServer('services:\n  web:\n    checks:\n      - tcp: { host: 127.0.0.1, port: 1, every: 1h }\ningest:\n  tokens: ["sdk-ingest-token-0123"]\n');
    writeFileSync(s.configPath, '');
    expect(await s.reload()).toBe(false);
    expect(s.monitor.serviceNames()).toEqual(['web']);
    expect(s.config().raw.ingest.tokens).toEqual([{ token: 'sdk-ingest-token-0123' }]);
    const ev = (await (await s.api('/api/v1/events?type=config.rejected')).json()) as { items: { data: { error: string } }[] };
    expect(ev.items[0]?.data.error).toMatch(/removes every/);
    writeFileSync(s.configPath, '# deliberately nothing\nempty: true\n');
    expect(await s.reload()).toBe(true);
    expect(s.monitor.serviceNames()).toEqual([]);
  });
});
