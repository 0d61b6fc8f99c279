import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fingerprint } from '../../src/alerts/fingerprint.js';
import { testAlertRules } from '../../src/alerts/cli.js';
import { cliContext } from '../../src/modules.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { rmSync } from 'node:fs';

const BIN = resolve('bin/shipshape.js');

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('fingerprints', () => {
  it('match Alertmanager (prometheus/common LabelSet.Fingerprint)', () => {
    expect(BigInt(`0x${fingerprint({ name: 'garland, briggs', fear: 'love is not enough' })}`)).toBe(5799056148416392346n);
    expect(fingerprint({})).toBe('cbf29ce484222325');
    expect(fingerprint({ b: '2', a: '1' })).toBe(fingerprint({ a: '1', b: '2' }));
  });
});

describe('shipshape alerts test', () => {
  let s: TestServer;
  let dataDir: string;

  beforeAll(async () => {
    const port = await closedPort();
    s = await startTestServer(`
ingest:
  tokens: ["cli-ingest-token-123"]
services:
  web:
    checks:
      - tcp: { host: 127.0.0.1, port: ${port}, every: 100ms, timeout: 100ms }
        down_after: 1
  db:
    checks:
      - postgres: { url: "postgres://postgres@127.0.0.1:5432/postgres", every: 1s, timeout: 1s }
        conditions: ["connections_used < 99%"]
  jobs:
    checks:
      - heartbeat: { token: nightly-backup, period: 1d }
alerts:
  - name: web-down
    when: down(web) for 1m
    severity: P0
  - name: db-connections
    when: check(db).connections_used > 0%
  - name: db-connections-high
    when: check(db).connections_used > 99%
  - name: backup-missing
    when: absent(heartbeat.nightly-backup) for 26h
  - name: high-error-rate
    when: error_rate(web) > 1% for 5m
  - name: unknown-value
    when: check(db).replication_lag > 10s
`);
    dataDir = join(s.dir, 'data');
    const requests = Array.from({ length: 40 }, (_, i) => ({ route: '/api/items', method: 'GET', status: i < 10 ? 503 : 200, duration_ms: 30 }));
    const ingested = await s.api('/api/v1/ingest', { method: 'POST', token: 'cli-ingest-token-123', body: JSON.stringify({ service: 'web', requests }) });
    expect(ingested.status).toBeLessThan(300);
    // let the checks run and their state reach the store, then stop the server (keeping its data)
    // (expect.poll only works inside a test; vi.waitFor polls in a hook)
    await vi.waitFor(
      () => {
        expect(s.monitor.service('web')?.state).toBe('down');
        expect(s.monitor.service('db')?.checks[0]?.last?.ok).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
    await s.stop();
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  it('evaluates every rule once against the stored state and says why', async () => {
    const { rows } = await testAlertRules(cliContext, { config: s.configPath, dataDir });
    const by = Object.fromEntries(rows.map((r) => [r.rule, r]));
    expect(by['web-down']).toMatchObject({ wouldFire: true, forMs: 60_000, reason: expect.stringMatching(/service web is down/) });
    expect(by['db-connections']).toMatchObject({ wouldFire: true, thresholdText: '0%', valueText: expect.stringMatching(/%$/) });
    expect(by['db-connections-high']).toMatchObject({ wouldFire: false });
    expect(by['backup-missing']).toMatchObject({ wouldFire: false, thresholdText: '1d2h' });
    // telemetry the server stored before it stopped
    expect(by['high-error-rate']).toMatchObject({ wouldFire: true, forMs: 300_000, valueText: '25%', samples: 40 });
    expect(by['unknown-value']).toMatchObject({ wouldFire: false, error: expect.stringMatching(/no value "replication_lag"/) });
  });

  it('prints a table from the built CLI, and JSON with --json', () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SHIPSHAPE_DATABASE_URL;
    const r = spawnSync(process.execPath, [BIN, 'alerts', 'test', '--config', s.configPath, '--data-dir', dataDir], { encoding: 'utf8', env, timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/rule.*value.*threshold.*would fire.*reason/);
    expect(r.stdout).toMatch(/web-down.*yes \(after 1m\)/);
    expect(r.stdout).toMatch(/3 of 6 rules would fire/);
    const j = spawnSync(process.execPath, [BIN, 'alerts', 'test', '--config', s.configPath, '--data-dir', dataDir, '--json'], { encoding: 'utf8', env, timeout: 60_000 });
    const parsed = JSON.parse(j.stdout) as { rules: { rule: string; wouldFire: boolean }[] };
    expect(parsed.rules.filter((x) => x.wouldFire).map((x) => x.rule)).toEqual(['web-down', 'db-connections', 'high-error-rate']);
    const missing = spawnSync(process.execPath, [BIN, 'alerts', 'test', '--config', s.configPath, '--data-dir', join(s.dir, 'nowhere')], { encoding: 'utf8', env, timeout: 60_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no store at .*nowhere/);
  });
});
