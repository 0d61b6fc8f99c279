/** `shipshape notify test` and `shipshape silence …`, run as users run them (the built CLI). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/core/events.js';
import { openStore } from '../../src/modules.js';
import { startReceiver, startSmtp, type Receiver, type SmtpReceiver } from './helpers.js';

const BIN = resolve('bin/shipshape.js');
let dir: string;
let rx: Receiver;
let smtp: SmtpReceiver;

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

const SECRET = 'hooks-secret-0123456789abcdef';
let config: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-notify-cli-'));
  rx = await startReceiver();
  smtp = await startSmtp();
  rx.behave = (r) => (r.path.startsWith('/down') ? { status: 500, body: `no such hook ${r.path}` } : 'ok');
  config = join(dir, 'shipshape.yaml');
  writeFileSync(
    config,
    `
notify:
  timeout: 2s
  channels:
    ops-webhook: { webhook: { url: "${rx.url}/hook" } }
    chat: { slack: { url: "${rx.url}/down/${SECRET}" } }
    ops-email: { email: { to: [ops@example.com], smtp: "smtp://127.0.0.1:${smtp.port}" } }
`,
  );
});
afterAll(async () => {
  await rx.close();
  await smtp.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('shipshape notify test', () => {
  it('sends a test message through the real channel and says so', async () => {
    const r = await cli(['notify', 'test', 'ops-webhook', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/sent a test message to ops-webhook \(webhook http:\/\/127\.0\.0\.1:\d+\/…\)/);
    const b = rx.requests.find((q) => q.path === '/hook')!.json();
    expect(b).toMatchObject({ version: '4', status: 'firing', receiver: 'ops-webhook', alerts: [{ labels: { alertname: 'shipshape-test' } }] });
    const m = await cli(['notify', 'test', 'ops-email', '--config', config]);
    expect(m.status).toBe(0);
    await smtp.waitFor(1);
    expect(smtp.mails[0]!.to).toEqual(['ops@example.com']);
  });

  it('exits 1 with the reason, without the secret, when the channel fails', async () => {
    const r = await cli(['notify', 'test', 'chat', '--config', config]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/test message to chat \(slack http:\/\/127\.0\.0\.1:\d+\/…\) failed: .*answered 500: no such hook/);
    expect(r.stderr + r.stdout).not.toContain(SECRET);
  });

  it('exits 2 naming the channels for an unknown one', async () => {
    const r = await cli(['notify', 'test', 'nope', '--config', config]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no channel "nope"');
    expect(r.stderr).toContain('ops-webhook, chat, ops-email');
  });
});

describe('shipshape silence', () => {
  it('adds, lists and expires silences in the store, each an event', async () => {
    const data = join(dir, 'data');
    const add = await cli(['silence', 'add', '--match', 'alertname=high-error-rate', '--match', 'service=~web|api', '--for', '2h', '--comment', 'deploying the fix', '--author', 'alice', '--data-dir', data, '--json']);
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    const s = JSON.parse(add.stdout) as { id: string; createdBy: string; match: string; status: { state: string } };
    expect(s).toMatchObject({ createdBy: 'alice', match: 'alertname=high-error-rate, service=~"web|api"', status: { state: 'active' } });

    const list = await cli(['silence', 'list', '--data-dir', data]);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(s.id);
    expect(list.stdout).toContain('deploying the fix');

    const bad = await cli(['silence', 'add', '--match', 'alertname', '--comment', 'x', '--data-dir', data]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--match: "alertname" is not a matcher/);

    const exp = await cli(['silence', 'expire', s.id.slice(0, 8), '--author', 'bob', '--data-dir', data]);
    expect(exp.status).toBe(0);
    expect(exp.stdout).toContain(`expired silence ${s.id}`);
    const after = await cli(['silence', 'list', '--data-dir', data]);
    expect(after.stdout).toContain('no active or pending silences');

    const store = await openStore({ dataDir: data });
    try {
      const ev = await new EventLog(store).list({ limit: 10 });
      expect(ev.filter((e) => e.type.startsWith('silence.')).map((e) => [e.type, e.actor])).toEqual([
        ['silence.expired', 'user:bob'],
        ['silence.created', 'user:alice'],
      ]);
    } finally {
      await store.close();
    }
  });
});
