/**
 * `shipshape env push <service> --env E --to vercel|netlify`, run from the built CLI against a real
 * server, which runs the platform's CLI. The real Vercel and Netlify CLIs need an account, so
 * stand-ins (test/fixtures/platform-cli/vercel and netlify, first on the server's PATH) keep the
 * platform's variables in a JSON file, record every call's argv, and print what the real CLIs
 * print (see their headers): Vercel's table from `env ls`, Netlify's JSON from `env:list --json`
 * and its `env:set` echoing the value it set.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/core/api-types.js';
import type { EnvPushResult } from '../../src/env/index.js';
import { ADMIN, startTestServer, type TestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');
const STANDINS = resolve('test/fixtures/platform-cli');

const CONFIG = `
services:
  web:
    description: on Vercel, production and preview
  site:
    env:
      push:
        netlify: { environments: { staging: branch-deploy } }
  custom:
    env:
      push:
        vercel: { bin: ./tools/my-vercel, args: ["--scope", "acme"], cwd: ./app }
        netlify: { bin: ./tools/not-there }
  leaky:
    env:
      push:
        vercel: { bin: ./tools/leaky-cli }
`;

/** values a platform must get exactly: several lines, every shell-special character, a leading dash, trailing spaces */
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
const SPECIAL = `p@ss w0rd $HOME $(id) "dq" 'sq' \\back \`tick\` ;|&<>*? ünïcødé 🔑  `;
const DASHED = '--not-an-option=1';
const DB_URL = 'postgres://app:s3cr3t-pw@db.internal:5432/app?sslmode=require';
const VALUES: Record<string, string> = { DATABASE_URL: DB_URL, PRIVATE_KEY: PEM, SPECIAL_TOKEN: SPECIAL, DASHED_SECRET: DASHED };

interface Call {
  cli: 'vercel' | 'netlify';
  argv: string[];
  cwd: string;
}
interface PlatformState {
  vercel: Record<string, Record<string, { value: string; type: string }>>;
  netlify: Record<string, Record<string, string>>;
  calls: Call[];
}

let s: TestServer;
let stateFile = '';
const savedPath = process.env.PATH;
const savedKey = process.env.SHIPSHAPE_SECRET_KEY;

const state = (): PlatformState => JSON.parse(readFileSync(stateFile, 'utf8')) as PlatformState;
const setState = (st: Partial<PlatformState>) => writeFileSync(stateFile, JSON.stringify({ vercel: {}, netlify: {}, calls: [], ...st }));
const vercelValues = (target: string) => Object.fromEntries(Object.entries(state().vercel[target] ?? {}).map(([k, v]) => [k, v.value]));

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args, '--url', s.url, '--token', ADMIN], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

async function set(service: string, env: string, vars: Record<string, string>): Promise<void> {
  const r = await s.api(`/api/v1/env/${service}/${env}/vars`, { method: 'POST', body: JSON.stringify({ vars }) });
  expect(r.status).toBe(200);
}

const pushed = async (): Promise<EventRecord[]> => ((await (await s.api('/api/v1/events?type=env.pushed&limit=100')).json()) as { items: EventRecord[] }).items;

/** no stored value, nor any line of one, appears in text */
function expectNoValue(text: string, values: string[] = Object.values(VALUES)): void {
  for (const v of values) {
    expect(text).not.toContain(v);
    for (const line of v.split('\n')) if (line.trim().length >= 6) expect(text).not.toContain(line.trim());
  }
}

beforeAll(async () => {
  process.env.SHIPSHAPE_SECRET_KEY = 'ab'.repeat(32);
  process.env.PATH = [STANDINS, dirname(process.execPath), savedPath ?? ''].join(delimiter);
  s = await startTestServer(CONFIG);
  stateFile = join(s.dir, 'platform-state.json');
  process.env.PLATFORM_STANDIN_STATE = stateFile;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  delete process.env.PLATFORM_STANDIN_STATE;
  delete process.env.PLATFORM_STANDIN_FAIL;
  if (savedKey === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
  else process.env.SHIPSHAPE_SECRET_KEY = savedKey;
  await s?.close();
});

beforeEach(() => {
  delete process.env.PLATFORM_STANDIN_FAIL;
});

// each CLI call is a fresh Node process and each push several stand-in processes: slow on a busy machine
describe('env push to Vercel', { timeout: 120_000 }, () => {
  it('--dry-run lists what would change (names only) and changes nothing', async () => {
    await set('web', 'production', VALUES);
    setState({ vercel: { production: { DATABASE_URL: { value: 'postgres://old', type: 'encrypted' }, LEGACY_FLAG: { value: '1', type: 'encrypted' } } } });
    const r = await cli(['env', 'push', 'web', '--env', 'production', '--to', 'vercel', '--dry-run']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'dry run, nothing changed: web/production → vercel production: would add 3, update 1, remove 0; 0 unchanged',
      '  + DASHED_SECRET  would be added',
      // on Vercel and never sent by this store: its value there is unknown, so it is sent
      '  ~ DATABASE_URL   would be updated',
      '  + PRIVATE_KEY    would be added',
      '  + SPECIAL_TOKEN  would be added',
      'on vercel but not in the store, kept (--prune removes them): LEGACY_FLAG',
      '',
    ]);
    expect(vercelValues('production')).toEqual({ DATABASE_URL: 'postgres://old', LEGACY_FLAG: '1' });
    expect(state().calls.map((c) => c.argv)).toEqual([['env', 'ls', 'production']]);
    expect(await pushed()).toEqual([]);
  });

  it('pushes every value exactly, on stdin (never in an argv); the output and the event name the variables only', async () => {
    setState({ ...state(), calls: [] });
    const r = await cli(['env', 'push', 'web', '--env', 'production', '--to', 'vercel']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('web/production → vercel production: 3 added, 1 updated, 0 removed, 0 unchanged');
    expect(r.stdout).toContain('  ~ DATABASE_URL   updated');
    expect(r.stdout).toContain('  + PRIVATE_KEY    added');
    expect(vercelValues('production')).toEqual({ ...VALUES, LEGACY_FLAG: '1' });
    const calls = state().calls;
    expect(calls.map((c) => c.argv)).toEqual([
      ['env', 'ls', 'production'],
      ['env', 'add', 'DASHED_SECRET', 'production'],
      ['env', 'add', 'DATABASE_URL', 'production', '--force'],
      ['env', 'add', 'PRIVATE_KEY', 'production'],
      ['env', 'add', 'SPECIAL_TOKEN', 'production'],
    ]);
    expectNoValue(JSON.stringify(calls));
    expectNoValue(r.stdout + r.stderr);
    const events = await pushed();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)',
      subject: 'service:web',
      data: { service: 'web', env: 'production', platform: 'vercel', target: 'production', ok: true, added: ['DASHED_SECRET', 'PRIVATE_KEY', 'SPECIAL_TOKEN'], updated: ['DATABASE_URL'], removed: [], failed: null, not_attempted: [] },
    });
    expectNoValue(JSON.stringify(events));
  });

  it('sends again only what changed in the store since; --prune removes what the store does not have', async () => {
    setState({ ...state(), calls: [] });
    const again = await cli(['env', 'push', 'web', '--env', 'production', '--to', 'vercel', '--json']);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, changes: [], unchanged: ['DASHED_SECRET', 'DATABASE_URL', 'PRIVATE_KEY', 'SPECIAL_TOKEN'], kept: ['LEGACY_FLAG'] });
    expect(state().calls.map((c) => c.argv)).toEqual([['env', 'ls', 'production']]);
    expect(await pushed()).toHaveLength(1); // nothing changed: no event

    const rotated = 'postgres://app:n3w-pw@db.internal:5432/app';
    await set('web', 'production', { DATABASE_URL: rotated });
    const r = await cli(['env', 'push', 'web', '--env', 'production', '--to', 'vercel', '--prune']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['web/production → vercel production: 0 added, 1 updated, 1 removed, 3 unchanged', '  ~ DATABASE_URL  updated', '  - LEGACY_FLAG   removed']);
    expect(vercelValues('production')).toEqual({ ...VALUES, DATABASE_URL: rotated });
    expect(state().calls.slice(-2).map((c) => c.argv)).toEqual([
      ['env', 'add', 'DATABASE_URL', 'production', '--force'],
      ['env', 'rm', 'LEGACY_FLAG', 'production', '--yes'],
    ]);
    expect((await pushed())[0]).toMatchObject({ data: { updated: ['DATABASE_URL'], removed: ['LEGACY_FLAG'], prune: true } });
    expectNoValue(r.stdout + JSON.stringify(await pushed()), [...Object.values(VALUES), rotated]);
  });

  it('a failing CLI stops the push with an error naming the variable and the platform, and says what was and was not done', async () => {
    const vals = { A_ONE: 'first-value-aaaa', B_TWO: 'second-value-bbbb', C_THREE: 'third-value-cccc' };
    await set('web', 'preview', vals);
    setState({ vercel: { preview: { OLD: { value: 'x', type: 'encrypted' } } } });
    process.env.PLATFORM_STANDIN_FAIL = 'B_TWO';
    const r = await cli(['env', 'push', 'web', '--env', 'preview', '--to', 'vercel', '--prune']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      'web/preview → vercel preview: 1 added, 0 updated, 0 removed, 0 unchanged',
      '  + A_ONE    added',
      '  + B_TWO    FAILED (add)',
      '  + C_THREE  not attempted (add)',
      '  - OLD      not attempted (remove)',
      'shipshape: vercel: setting B_TWO failed: vercel env add B_TWO preview failed (exit 1: Error: Response Error (500) while saving B_TWO: an unexpected error occurred) (the changes marked done above were made; run the push again to finish)',
      '',
    ]);
    expect(vercelValues('preview')).toEqual({ A_ONE: vals.A_ONE, OLD: 'x' });
    expect((await pushed())[0]).toMatchObject({ data: { env: 'preview', ok: false, added: ['A_ONE'], failed: 'B_TWO', not_attempted: ['C_THREE', 'OLD'] } });
    expectNoValue(r.stderr + JSON.stringify(await pushed()), Object.values(vals));

    // fixed: the next push finishes the job (A_ONE is not sent again)
    delete process.env.PLATFORM_STANDIN_FAIL;
    const again = await cli(['env', 'push', 'web', '--env', 'preview', '--to', 'vercel', '--prune', '--json']);
    expect(again.status).toBe(0);
    const res = JSON.parse(again.stdout) as EnvPushResult;
    expect(res.changes).toEqual([
      { name: 'B_TWO', action: 'add', status: 'done' },
      { name: 'C_THREE', action: 'add', status: 'done' },
      { name: 'OLD', action: 'remove', status: 'done' },
    ]);
    expect(res.unchanged).toEqual(['A_ONE']);
    expect(vercelValues('preview')).toEqual(vals);
  });

  it('refuses a one-line value ending in a line break (vercel env add would strip it), naming it, before changing anything', async () => {
    await set('web', 'development', { GOOD: 'fine-value', TRAILING: 'value-with-newline\n' });
    setState({});
    const r = await cli(['env', 'push', 'web', '--env', 'development', '--to', 'vercel']);
    expect(r.status).toBe(2); // a 400: the request cannot be done as asked
    expect(r.stderr).toContain('TRAILING of web/development cannot be pushed to vercel exactly: it is one line ending in a line break, which `vercel env add` strips from its stdin (nothing was pushed)');
    expect(r.stderr).not.toContain('value-with-newline');
    expect(state().calls).toEqual([]);
  });

  it("runs the service's configured binary with its arguments in its directory; a binary that is not there is a clear error", async () => {
    mkdirSync(join(s.dir, 'tools'), { recursive: true });
    mkdirSync(join(s.dir, 'app'), { recursive: true });
    copyFileSync(join(STANDINS, 'vercel'), join(s.dir, 'tools', 'my-vercel'));
    copyFileSync(join(STANDINS, 'package.json'), join(s.dir, 'tools', 'package.json'));
    await set('custom', 'production', { ONLY: 'only-value-123' });
    setState({});
    const r = await cli(['env', 'push', 'custom', '--to', 'vercel']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(state().calls).toEqual([
      { cli: 'vercel', argv: ['--scope', 'acme', 'env', 'ls', 'production'], cwd: join(s.dir, 'app') },
      { cli: 'vercel', argv: ['--scope', 'acme', 'env', 'add', 'ONLY', 'production'], cwd: join(s.dir, 'app') },
    ]);
    expect(vercelValues('production')).toEqual({ ONLY: 'only-value-123' });

    const missing = await cli(['env', 'push', 'custom', '--to', 'netlify']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`shipshape: netlify: ${join(s.dir, 'tools', 'not-there')} is not installed (not on the server's PATH, or no such file); nothing was changed`);
  });
});

describe('env push: a CLI that prints the value in its error', { timeout: 120_000 }, () => {
  it('the error quotes its stderr with the value (and each line of it) cut out', async () => {
    mkdirSync(join(s.dir, 'tools'), { recursive: true });
    // lists nothing, then fails every add saying what it read on stdin
    writeFileSync(join(s.dir, 'tools', 'leaky-cli'), '#!/bin/sh\nif [ "$2" = ls ]; then exit 0; fi\nprintf \'Error: could not save %s=%s\\n\' "$3" "$(cat)" >&2\nexit 1\n', { mode: 0o755 });
    await set('leaky', 'production', { LEAKED_KEY: PEM });
    const r = await cli(['env', 'push', 'leaky', '--to', 'vercel', '--json']);
    expect(r.status).toBe(1);
    const res = JSON.parse(r.stdout) as EnvPushResult;
    expect(res.error).toMatch(/^vercel: setting LEAKED_KEY failed: .*leaky-cli env add LEAKED_KEY production failed \(exit 1: Error: could not save LEAKED_KEY=\[value\]/);
    expectNoValue(r.stdout + r.stderr, [PEM]);
  });
});

describe('env push to Netlify', { timeout: 120_000 }, () => {
  it('sets values exactly in the mapped context, leaves equal ones alone, prunes; nothing printed or recorded holds a value', async () => {
    await set('site', 'staging', { ...VALUES, SAME: 'same-value-on-both' });
    setState({ netlify: { 'branch-deploy': { SAME: 'same-value-on-both', DATABASE_URL: 'postgres://old', EXTRA: 'extra-1' }, production: { UNTOUCHED: 'prod' } } });
    const dry = await cli(['env', 'push', 'site', '--env', 'staging', '--to', 'netlify', '--prune', '--dry-run', '--json']);
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, target: 'branch-deploy', unchanged: ['SAME'], changes: [{ name: 'DASHED_SECRET', action: 'add' }, { name: 'DATABASE_URL', action: 'update' }, { name: 'PRIVATE_KEY', action: 'add' }, { name: 'SPECIAL_TOKEN', action: 'add' }, { name: 'EXTRA', action: 'remove', status: 'planned' }] });
    expect(state().netlify['branch-deploy']).toEqual({ SAME: 'same-value-on-both', DATABASE_URL: 'postgres://old', EXTRA: 'extra-1' });

    const r = await cli(['env', 'push', 'site', '--env', 'staging', '--to', 'netlify', '--prune']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('site/staging → netlify branch-deploy: 3 added, 1 updated, 1 removed, 1 unchanged');
    expect(state().netlify).toEqual({ 'branch-deploy': { ...VALUES, SAME: 'same-value-on-both' }, production: { UNTOUCHED: 'prod' } });
    const argvs = state().calls.map((c) => c.argv);
    expect(argvs[1]).toEqual(['env:list', '--json', '--context', 'branch-deploy']);
    // Netlify's CLI takes the value on argv (documented); after `--`, so a leading dash is a value
    expect(argvs).toContainEqual(['env:set', '--context', 'branch-deploy', '--force', '--', 'DASHED_SECRET', DASHED]);
    expect(argvs).toContainEqual(['env:unset', '--context', 'branch-deploy', '--force', '--', 'EXTRA']);
    expect(argvs.filter((a) => a[0] === 'env:set').map((a) => a[5])).toEqual(['DASHED_SECRET', 'DATABASE_URL', 'PRIVATE_KEY', 'SPECIAL_TOKEN']);
    // the stand-in echoes KEY=value as the real env:set does: none of it reaches the user
    expectNoValue(r.stdout + r.stderr);
    const events = await pushed();
    expect(events[0]).toMatchObject({ data: { service: 'site', env: 'staging', platform: 'netlify', target: 'branch-deploy', added: ['DASHED_SECRET', 'PRIVATE_KEY', 'SPECIAL_TOKEN'], updated: ['DATABASE_URL'], removed: ['EXTRA'] } });
    expectNoValue(JSON.stringify(events));
  });

  it('a failing env:set stops there; its message has no value even where the CLI printed one', async () => {
    await set('site', 'production', { FIRST: 'first-value-xyz', SECOND: 'second-value-xyz' });
    setState({});
    process.env.PLATFORM_STANDIN_FAIL = 'SECOND';
    const r = await cli(['env', 'push', 'site', '--to', 'netlify', '--json']);
    expect(r.status).toBe(1);
    const res = JSON.parse(r.stdout) as EnvPushResult;
    expect(res).toMatchObject({ ok: false, changes: [{ name: 'FIRST', status: 'done' }, { name: 'SECOND', status: 'failed' }] });
    expect(res.error).toBe('netlify: setting SECOND failed: netlify env:set SECOND --context production failed (exit 1: ›   Error: Unexpected error setting SECOND: 500 Internal Server Error)');
    expect(r.stderr).toContain(`shipshape: ${res.error}`);
    expect(state().netlify).toEqual({ production: { FIRST: 'first-value-xyz' } });
    expectNoValue(r.stdout + r.stderr, ['first-value-xyz', 'second-value-xyz']);
  });

  it('needs an admin token and a known platform', async () => {
    const reader = (await s.tokens.create('push-reader', ['read'], 'test')).token;
    const res = await s.api('/api/v1/env/site/production/push', { method: 'POST', body: JSON.stringify({ to: 'netlify' }), token: reader });
    expect(res.status).toBe(403);
    const bad = await s.api('/api/v1/env/site/production/push', { method: 'POST', body: JSON.stringify({ to: 'heroku' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('body.to');
    const unknown = await cli(['env', 'push', 'nope', '--to', 'vercel']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no service "nope"');
  });
});
