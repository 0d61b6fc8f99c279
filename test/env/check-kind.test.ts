/** The `env` check kind: down with the names of what is wrong, never a value; in a running server and run directly. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envCheck } from '../../src/checks/kinds/env.js';
import type { CheckKind, RunContext } from '../../src/checks/types.js';
import { judge, runKind } from '../helpers/run-kind.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const kind = envCheck as unknown as CheckKind;
const FIX = join(import.meta.dirname, 'fixtures-check');
const EXAMPLE_TEXT = readFileSync(join(FIX, '.env.example'), 'utf8');
const PROD = readFileSync(join(FIX, 'production.env'), 'utf8');
const SERVICE_ROLE_JWT = /^SUPABASE_SERVICE_ROLE_KEY=(.*)$/m.exec(PROD)?.[1] as string;
const TEST_KEY = 'sk_test_51Nz-KindSecretTestKey-00000000';
/** STRIPE_SECRET_KEY a test key, RESEND_API_KEY missing, the service-role JWT behind NEXT_PUBLIC_. */
const BAD = PROD.replace(/^STRIPE_SECRET_KEY=.*$/m, `STRIPE_SECRET_KEY=${TEST_KEY}`).replace(/^RESEND_API_KEY=.*\n/m, '').concat(`NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY=${SERVICE_ROLE_JWT}\n`);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-envkind-'));
  writeFileSync(join(dir, '.env.example'), EXAMPLE_TEXT);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('env check kind', () => {
  it('is up on a good file, with no errors', async () => {
    writeFileSync(join(dir, 'good.env'), PROD);
    const input = { file: join(dir, 'good.env'), example: join(dir, '.env.example'), env: 'production' };
    const obs = await runKind(kind, input);
    expect(obs).toMatchObject({ ok: true, values: { errors: 0, warnings: 0, findings: [], summary: 'no problems' } });
    expect(judge(kind, input, obs).ok).toBe(true);
  });

  it('is down with the names of the errors and no value', async () => {
    writeFileSync(join(dir, 'bad.env'), BAD);
    const input = { file: join(dir, 'bad.env'), example: join(dir, '.env.example'), env: 'production' };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('3 errors: STRIPE_SECRET_KEY test key; NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY secret behind a public prefix; RESEND_API_KEY missing');
    expect(obs.values).toMatchObject({ errors: 3, warnings: 1 });
    expect(obs.values.findings).toEqual([
      { line: 7, name: 'STRIPE_SECRET_KEY', code: 'test-key', severity: 'error' },
      { line: 18, name: 'NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY', code: 'public-secret', severity: 'error' },
      { line: 18, name: 'NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY', code: 'unknown', severity: 'warning' },
      { name: 'RESEND_API_KEY', code: 'missing', severity: 'error' },
    ]);
    expect(JSON.stringify(obs)).not.toContain(TEST_KEY);
    expect(JSON.stringify(obs)).not.toContain(SERVICE_ROLE_JWT.slice(0, 30));
    // in staging the test key is right and the rest stays wrong
    const staging = await runKind(kind, { ...input, env: 'staging' });
    expect(staging.error).toBe('2 errors: NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY secret behind a public prefix; RESEND_API_KEY missing');
  });

  it('a missing file is down, saying which', async () => {
    const obs = await runKind(kind, { file: join(dir, 'nope.env') });
    expect(obs).toMatchObject({ ok: false, error: `${join(dir, 'nope.env')}: file not found` });
  });

  it('needs file or service', () => {
    expect(() => kind.spec.parse({ env: 'production' })).toThrow(/set file \(a \.env file\) or service/);
    expect(kind.describe(kind.spec.parse({ service: 'web', env: 'production' }))).toBe('env of web (production)');
  });

  it('with service, reads services.<name>.env of the config the run comes from, paths relative to it', async () => {
    const proj = join(dir, 'proj');
    mkdirSync(join(proj, 'web'), { recursive: true });
    writeFileSync(join(proj, 'web/.env.example'), EXAMPLE_TEXT);
    writeFileSync(join(proj, 'web/.env'), PROD.replace(/^SENTRY_DSN=.*\n/m, ''));
    writeFileSync(join(proj, 'shipshape.yaml'), 'services:\n  web:\n    env:\n      example: web/.env.example\n      file: web/.env\n      vars:\n        SENTRY_DSN: { required: true, env: [production] }\n');
    const ctx: RunContext & { configFile: string } = {
      signal: new AbortController().signal,
      timeoutMs: 5000,
      now: Date.now,
      heartbeats: { lastPing: () => undefined, watchingSince: () => Date.now() },
      configFile: join(proj, 'shipshape.yaml'),
    };
    const run = (spec: Record<string, unknown>) => kind.run({ ...(kind.spec.parse(spec) as object), every: 60_000, timeout: 5000 }, ctx);
    expect(await run({ service: 'web', env: 'production' })).toMatchObject({ ok: false, error: '1 error: SENTRY_DSN missing' });
    expect(await run({ service: 'web', env: 'staging' })).toMatchObject({ ok: true, values: { errors: 0 } });
    // a relative file is relative to the config file's directory
    writeFileSync(join(proj, 'web/.env.staging'), PROD);
    expect(await run({ service: 'web', file: 'web/.env.staging', env: 'production' })).toMatchObject({ ok: true });
    expect(await run({ service: 'api' })).toMatchObject({ ok: false, error: `${join(proj, 'shipshape.yaml')}: no service "api" (services: web)` });
  });
});

describe('env check in a running server', () => {
  let server: TestServer;
  let envFile: string;
  beforeAll(async () => {
    envFile = join(dir, 'server.env');
    writeFileSync(envFile, BAD);
    server = await startTestServer(
      ['services:', '  web:', '    checks:', '      - name: env', '        down_after: 1', `        env: { file: "${envFile}", example: "${join(dir, '.env.example')}", env: production }`, ''].join('\n'),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('turns the service down with the names in the message, and up once the file is fixed; no value in any answer', async () => {
    await server.monitor.runNow();
    const health = await (await server.api('/api/health', { token: null })).text();
    const checks = await (await server.api('/api/v1/checks')).text();
    const services = await (await server.api('/api/v1/services')).text();
    const h = JSON.parse(health) as { status: string; checks: Record<string, { status: string; message: string }> };
    expect(h.checks.web).toMatchObject({ status: 'down', message: 'env: 3 errors: STRIPE_SECRET_KEY test key; NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY secret behind a public prefix; RESEND_API_KEY missing' });
    expect(checks).toContain('RESEND_API_KEY missing');
    for (const body of [health, checks, services]) {
      expect(body).not.toContain(TEST_KEY);
      expect(body).not.toContain(SERVICE_ROLE_JWT.slice(0, 30));
    }
    writeFileSync(envFile, PROD);
    await server.monitor.runNow();
    const after = (await (await server.api('/api/health', { token: null })).json()) as { checks: Record<string, { status: string; message: string }> };
    expect(after.checks.web).toMatchObject({ status: 'healthy', message: 'ok' });
  });
});
