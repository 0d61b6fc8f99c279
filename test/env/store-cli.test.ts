/** `shipshape env set | list | pull | unset | rotated` from the built CLI against a running server. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvVarView } from '../../src/env/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');
const STRIPE = `sk_live_${randomBytes(16).toString('hex')}`;
const PIPED = `piped secret with spaces & "quotes" ${randomBytes(4).toString('hex')}`;

function cli(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

// each command is a fresh Node process (about a second each on a busy machine)
describe('shipshape env … against a running server', { timeout: 120_000 }, () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  const savedKey = process.env.SHIPSHAPE_SECRET_KEY;

  beforeAll(async () => {
    process.env.SHIPSHAPE_SECRET_KEY = randomBytes(32).toString('base64');
    dir = mkdtempSync(join(tmpdir(), 'shipshape-env-cli-'));
    s = await startTestServer(`services:
  web:
    env:
      rotate: 30d
      vars:
        SESSION_SECRET: { rotate: 1s }
`);
    env = { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: ADMIN, SHIPSHAPE_SECRET_KEY: '' };
  });
  afterAll(async () => {
    if (savedKey === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
    else process.env.SHIPSHAPE_SECRET_KEY = savedKey;
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets values from arguments and from stdin (the server holds the key: the CLI needs none)', async () => {
    const a = await cli(['env', 'set', `STRIPE_SECRET_KEY=${STRIPE}`, 'SESSION_SECRET=abc-def-1234', '--service', 'web', '--env', 'production'], env);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(a.stdout).toBe('SESSION_SECRET set for web/production (version 1)\nSTRIPE_SECRET_KEY set for web/production (version 1)\n');
    const b = await cli(['env', 'set', 'PIPED_SECRET', '--service', 'web', '--json'], env, `${PIPED}\n`);
    expect(b.status).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual([{ service: 'web', env: 'production', name: 'PIPED_SECRET', version: 1, changed: true }]);
    const again = await cli(['env', 'set', `STRIPE_SECRET_KEY=${STRIPE}`, '--service', 'web'], env);
    expect(again.stdout).toBe('STRIPE_SECRET_KEY unchanged for web/production (version 1: same value)\n');
    const bad = await cli(['env', 'set', 'lower-case=1', '--service', 'web'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('"lower-case" is not an environment variable name');
  });

  it('lists masked values with version, who and rotation ("overdue by")', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const l = await cli(['env', 'list', '--service', 'web'], env);
    expect(l.status).toBe(0);
    expect(l.stdout).not.toContain(STRIPE);
    expect(l.stdout).not.toContain(PIPED);
    const line = (name: string) => l.stdout.split('\n').find((x) => x.includes(` ${name} `)) ?? '';
    expect(line('STRIPE_SECRET_KEY')).toMatch(/│ web\s+│ production │ STRIPE_SECRET_KEY │ sk_l…\(40\)\s+│ 1\s+│ just now by token:admin \(SHIPSHAPE_ADMIN_TOKEN\) │ just now\s+│ due in 29d\s+│/);
    expect(line('SESSION_SECRET')).toMatch(/│ …\(12\)\s+│ 1 .*│ overdue by \d+s\s+│/);
    const j = await cli(['env', 'list', '--json'], env);
    const items = JSON.parse(j.stdout) as EnvVarView[];
    expect(items.find((i) => i.name === 'SESSION_SECRET')).toMatchObject({ overdue: true, masked: '…(12)' });
    expect(j.stdout).not.toContain(STRIPE);
  });

  it('pulls a .env to stdout and to a file with mode 0600 that reads back unchanged', async () => {
    const p = await cli(['env', 'pull', '--service', 'web'], env);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/^# web\/production from the Shipshape env store, \d{4}-/);
    expect(p.stdout.split('\n').slice(1).join('\n')).toBe(`PIPED_SECRET='${PIPED}'\nSESSION_SECRET=abc-def-1234\nSTRIPE_SECRET_KEY=${STRIPE}\n`);
    const file = join(dir, '.env.local');
    writeFileSync(file, 'OLD=1\n', { mode: 0o644 });
    const o = await cli(['env', 'pull', '--service', 'web', '--env', 'production', '--out', file], env);
    expect(o.status).toBe(0);
    expect(o.stdout).toBe(`3 variables of web/production written to ${file} (mode 0600)\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(`STRIPE_SECRET_KEY=${STRIPE}\n`);
    expect(readFileSync(file, 'utf8')).not.toContain('OLD=1');
    // a shell reads it back the same: `set -a; . file`
    const sh = await new Promise<string>((done) => {
      const c = spawn('/bin/sh', ['-c', `set -a; . "${file}"; printf '%s' "$PIPED_SECRET"`]);
      let outText = '';
      c.stdout.on('data', (d: Buffer) => (outText += d.toString()));
      c.on('close', () => done(outText));
    });
    expect(sh).toBe(PIPED);
  });

  it('marks a secret rotated and unsets one', async () => {
    const r = await cli(['env', 'rotated', 'SESSION_SECRET', '--service', 'web'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^SESSION_SECRET of web\/production marked rotated; rotation due in /);
    const u = await cli(['env', 'unset', 'PIPED_SECRET', '--service', 'web'], env);
    expect(u.stdout).toBe('PIPED_SECRET removed from web/production (was version 1)\n');
    const l = await cli(['env', 'list', '--json'], env);
    expect((JSON.parse(l.stdout) as EnvVarView[]).map((i) => i.name)).toEqual(['SESSION_SECRET', 'STRIPE_SECRET_KEY']);
  });

  it('refuses without the right token, and records events without values', async () => {
    const reader = (await s.tokens.create('viewer', ['read'])).token;
    const denied = await cli(['env', 'pull', '--service', 'web'], { ...env, SHIPSHAPE_TOKEN: reader });
    expect(denied.status).toBe(1);
    expect(denied.stderr).toContain('403');
    expect(denied.stdout).toBe('');
    const none = await cli(['env', 'set', 'A=b', '--service', 'web'], { ...env, SHIPSHAPE_TOKEN: '' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('shipshape token create --scope admin');
    const missing = await cli(['env', 'unset', 'NOPE', '--service', 'web'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('NOPE is not set for web/production');
    // events name the token, never a value
    const ev = await s.events.list({ limit: 100, type: 'env.*' });
    expect(ev.map((e) => e.type).filter((t) => t !== 'env.rotation_overdue').sort()).toEqual(['env.rotated', 'env.set', 'env.set', 'env.set', 'env.unset']);
    expect(JSON.stringify(ev)).not.toContain(STRIPE);
    expect(JSON.stringify(ev)).not.toContain(PIPED);
  });
});
