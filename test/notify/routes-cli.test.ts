/** `shipshape notify routes`: the routing tree, and where an alert with given labels goes (the built CLI). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve('bin/shipshape.js');
let dir: string;
let config: string;

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['SHIPSHAPE_CONFIG', 'SHIPSHAPE_DATA_DIR', 'SHIPSHAPE_DATABASE_URL']) delete env[k];
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => res({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-routes-cli-'));
  config = join(dir, 'shipshape.yaml');
  writeFileSync(
    config,
    `
notify:
  channels:
    mail: { webhook: { url: "http://127.0.0.1:9/mail" } }
    pager: { webhook: { url: "http://127.0.0.1:9/pager" } }
  receivers:
    team-db: [mail, pager]
  route:
    receiver: mail
    group_by: [alertname]
    routes:
      - matchers: [service="database"]
        receiver: team-db
        group_wait: 1m
        routes:
          - matchers: ['severity=~"info|debug"']
            channels: [mail]
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shipshape notify routes', () => {
  it('prints the tree with what each route inherits', async () => {
    const r = await cli(['notify', 'routes', '-c', config]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\{\} {2}mail → mail {2}\(group_by \[alertname\], wait 30s, interval 5m, repeat 4h\)$/);
    expect(lines[1]).toMatch(/^ {2}\{service="database"\} {2}team-db → mail, pager {2}\(group_by \[alertname\], wait 1m,/);
    expect(lines[2]).toMatch(/^ {4}\{severity=~"info\|debug"\} {2}mail {2}\(group_by \[alertname\], wait 1m,/);
  });

  it('tells where an alert with these labels goes', async () => {
    const db = await cli(['notify', 'routes', '-c', config, 'service=database', 'severity=critical', '--json']);
    expect(db.status).toBe(0);
    expect(JSON.parse(db.stdout)).toMatchObject([{ path: 'route.routes[0]', receiver: 'team-db', channels: ['mail', 'pager'], group_wait: 60_000 }]);
    const other = await cli(['notify', 'routes', '-c', config, 'service=web']);
    expect(other.stdout.trim()).toMatch(/^route: \{\} {2}mail → mail/);
    const bad = await cli(['notify', 'routes', '-c', config, 'service']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/"service": give labels as name=value/);
  });
});
