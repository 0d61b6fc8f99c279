/** `shipshape deploy | promote | rollback | releases | lock | unlock` from the built CLI against a running server. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployLock, Release, ReleaseDetail } from '../../src/deploy/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';
import { freePort, get, Repo } from './helpers.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('shipshape deploy … against a running server', () => {
  let s: TestServer;
  let repo: Repo;
  let env: NodeJS.ProcessEnv;
  let staging: number;
  let production: number;

  beforeAll(async () => {
    repo = Repo.withApp('v1');
    staging = await freePort();
    production = await freePort();
    s = await startTestServer(`services:
  web:
    deploy:
      repo: ${repo.dir}
      start: "node server.js"
      health: { path: /api/health, timeout: 8s, interval: 50ms }
      gates:
        - name: tests
          run: "echo 'test a ... ok'; echo 'test b ... ok'"
      environments:
        staging: { proxy: { port: ${staging} } }
        production: { proxy: { port: ${production} } }
`);
    env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN };
  });
  afterAll(async () => {
    await s?.close();
    repo?.remove();
  });

  it('deploys with steps ticking and output streaming, promotes, lists, rolls back', async () => {
    const d = await cli(['deploy', 'web'], env);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const lines = d.stdout.split('\n');
    expect(lines[0]).toMatch(/^release \d+: web [0-9a-f]{7} \([0-9a-f]{7}\) → staging$/);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // in order: each step starts, its output streams under it, it ends with a tick
    expect(at(/^▸ gate tests$/)).toBeGreaterThan(at(/^✓ cut/));
    expect(at(/^ {2}│ test a \.\.\. ok$/)).toBeGreaterThan(at(/^▸ gate tests$/));
    expect(at(/^✓ gate tests \(.+\): passed$/)).toBeGreaterThan(at(/^ {2}│ test b \.\.\. ok$/));
    expect(at(/^✓ health \(.+\): GET \/api\/health answered 200$/)).toBeGreaterThan(at(/^✓ start/));
    expect(lines).toContain(lines.find((l) => /^release \d+ \([0-9a-f]{7}\) is live on web\/staging$/.test(l)));
    expect(await get(staging)).toMatchObject({ body: 'v1' });

    const first = Number(/^release (\d+)/.exec(lines[0] ?? '')?.[1]);
    const p = await cli(['promote', 'web', String(first), '--to', 'production', '--json'], env);
    expect(p.status).toBe(0);
    const promoted = JSON.parse(p.stdout) as ReleaseDetail;
    expect(promoted).toMatchObject({ env: 'production', state: 'live', promoted_from: first });

    repo.commit({ VERSION: 'v2\n' }, 'app v2');
    const d2 = JSON.parse((await cli(['deploy', 'web', '--env', 'production', '--json'], env)).stdout) as ReleaseDetail;
    expect(d2).toMatchObject({ state: 'live', env: 'production', commit_message: 'app v2' });
    expect(await get(production)).toMatchObject({ body: 'v2' });

    const table = await cli(['releases', 'web'], env);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/id\s+│\s+version\s+│\s+sha\s+│\s+author\s+│\s+env\s+│\s+state\s+│\s+age/);
    expect(table.stdout).toMatch(new RegExp(`${d2.id}\\s+│\\s+\\S+\\s+│\\s+${d2.git_sha.slice(0, 7)}\\s+│\\s+Ada Lovelace\\s+│\\s+production\\s+│\\s+live\\s+│\\s+(just now|\\d+s ago)`));
    const listed = JSON.parse((await cli(['releases', 'web', '--json'], env)).stdout) as Release[];
    expect(listed.map((r) => [r.id, r.env, r.state])).toEqual([
      [d2.id, 'production', 'live'],
      [promoted.id, 'production', 'warm'],
      [first, 'staging', 'live'],
    ]);

    const rb = await cli(['rollback', 'web'], env);
    expect(rb.status).toBe(0);
    expect(rb.stdout).toMatch(new RegExp(`release ${promoted.id} \\([0-9a-f]{7}\\) serves again on web/production`));
    expect(await get(production)).toMatchObject({ body: 'v1' });
  }, 180_000);

  it('locks and unlocks; a locked deploy is refused with the owner and reason', async () => {
    const l = await cli(['lock', 'web', '--env', 'staging', '--reason', 'investigating INC-12', '--json'], env);
    expect(l.status).toBe(0);
    expect(JSON.parse(l.stdout) as DeployLock).toMatchObject({ service: 'web', env: 'staging', owner: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', reason: 'investigating INC-12' });
    const refused = await cli(['deploy', 'web'], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/409 Conflict: web\/staging is locked by token:admin \(SHIPSHAPE_ADMIN_TOKEN\): investigating INC-12/);
    const u = await cli(['unlock', 'web', '--env', 'staging'], env);
    expect(u.stdout).toMatch(/web\/staging unlocked \(was locked by token:admin \(SHIPSHAPE_ADMIN_TOKEN\): investigating INC-12\)/);
    expect((await cli(['unlock', 'web', '--env', 'staging'], env)).stdout).toMatch(/web was not locked/);
  }, 120_000);

  it('exits 1 on a failed deploy and 2 on bad input', async () => {
    repo.commit({ unhealthy: 'yes' }, 'sick');
    const f = await cli(['deploy', 'web'], env);
    expect(f.status).toBe(1);
    expect(f.stdout).toMatch(/✗ health \(.+\): not healthy after 8s: GET \/api\/health answered 500/);
    expect(f.stdout).toMatch(/release \d+ failed: health: not healthy after 8s/);
    const bad = await cli(['deploy', 'web', '--env', 'Prod'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/body\.env: expected an environment name/);
    expect((await cli(['rollback', 'web', 'latest'], env)).status).toBe(2);
    const noToken = await cli(['releases', 'web'], { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: '' });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/needs an API token/);
  }, 120_000);
});
