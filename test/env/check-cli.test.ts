/** `shipshape env check` from the built CLI: text and JSON output, exit codes, --service defaults, values never printed. */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvCheckReport } from '../../src/env/check.js';

const BIN = resolve('bin/shipshape.js');
const FIX = join(import.meta.dirname, 'fixtures-check');
const PROD = readFileSync(join(FIX, 'production.env'), 'utf8');
const SERVICE_ROLE_JWT = /^SUPABASE_SERVICE_ROLE_KEY=(.*)$/m.exec(PROD)?.[1] as string;
let work: string;

function cli(args: string[], cwd = work): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SHIPSHAPE_CONFIG;
    const child = spawn(process.execPath, [BIN, 'env', 'check', ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'shipshape-envcli-'));
  copyFileSync(join(FIX, '.env.example'), join(work, '.env.example'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A production .env with a test key, a service-role JWT behind NEXT_PUBLIC_, a missing key, a duplicate and a typo. */
const BAD = PROD.replace(/^STRIPE_SECRET_KEY=.*$/m, 'STRIPE_SECRET_KEY=sk_test_51Nz-CliSecretTestKey-0000000')
  .replace(/^RESEND_API_KEY=.*\n/m, '')
  .replace(/^PORT=3000$/m, 'PORT=3000\nPORT=3001')
  .concat(`NEXT_PUBLIC_SUPABASE_SERVICE_KEY=${SERVICE_ROLE_JWT}\nRESEND_API_KY=re_fixtureTypo000000000000\n`);

describe('shipshape env check', () => {
  it('exits 0 on a good file and says so; the .env.example next to it is the schema by default', async () => {
    writeFileSync(join(work, '.env'), PROD);
    const r = await cli(['--env', 'production']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('no problems (schema: .env.example)\n');
    expect(r.status).toBe(0);
  });

  it('exits 1 on errors, with file:line  severity  NAME  message rows and a summary; never a value', async () => {
    writeFileSync(join(work, 'prod.env'), BAD);
    const r = await cli(['--file', 'prod.env', '--example', '.env.example', '--env', 'production']);
    expect(r.status).toBe(1);
    const rows = r.stdout.trim().split('\n');
    expect(rows.at(-1)).toBe('5 errors, 2 warnings');
    expect(rows).toContain('prod.env:7   error    STRIPE_SECRET_KEY                 STRIPE_SECRET_KEY holds a Stripe test key (sk_test_…) in production: expected a key starting with sk_live_');
    expect(r.stdout).toMatch(/^prod\.env:17 {2}error {4}PORT +PORT is set 2 times \(lines 17, 18\); dotenv keeps the last one, other loaders the first$/m);
    expect(r.stdout).toMatch(/^prod\.env:18 {2}error {4}PORT /m);
    expect(r.stdout).toMatch(new RegExp(`^prod\\.env:19  error    NEXT_PUBLIC_SUPABASE_SERVICE_KEY  NEXT_PUBLIC_SUPABASE_SERVICE_KEY holds a Supabase service-role JWT \\(its payload says "role": "service_role"\\), eyJh…\\(${SERVICE_ROLE_JWT.length} chars\\): `, 'm'));
    expect(r.stdout).toMatch(/^prod\.env:20 {2}warning {2}RESEND_API_KY +RESEND_API_KY is not in the schema: did you mean RESEND_API_KEY\?$/m);
    // what has no line comes last in its file
    expect(rows.at(-3)).toMatch(/^prod\.env +error {4}RESEND_API_KEY +RESEND_API_KEY is required but not set \(declared at \.env\.example:34\); RESEND_API_KY \(line 20\) looks like a typo of it$/);
    for (const secret of [SERVICE_ROLE_JWT, 'CliSecretTestKey', SERVICE_ROLE_JWT.slice(20, 60), 'fixtureTypo']) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it('--json prints { ok, errors, warnings, findings } with file, line, name, code, severity, message', async () => {
    writeFileSync(join(work, 'prod.env'), BAD);
    const r = await cli(['--file', 'prod.env', '--env', 'production', '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as EnvCheckReport;
    expect(report).toMatchObject({ ok: false, errors: 5, warnings: 2 });
    expect(report.findings.find((f) => f.code === 'test-key')).toEqual({
      file: 'prod.env',
      line: 7,
      name: 'STRIPE_SECRET_KEY',
      code: 'test-key',
      severity: 'error',
      message: 'STRIPE_SECRET_KEY holds a Stripe test key (sk_test_…) in production: expected a key starting with sk_live_',
    });
    expect(report.findings.map((f) => `${f.line ?? '-'} ${f.name} ${f.code} ${f.severity}`)).toEqual([
      '7 STRIPE_SECRET_KEY test-key error',
      '17 PORT duplicate-key error',
      '18 PORT duplicate-key error',
      '19 NEXT_PUBLIC_SUPABASE_SERVICE_KEY public-secret error',
      '19 NEXT_PUBLIC_SUPABASE_SERVICE_KEY unknown warning',
      '20 RESEND_API_KY unknown warning',
      '- RESEND_API_KEY missing error',
    ]);
    expect(r.stdout).not.toContain(SERVICE_ROLE_JWT);
  });

  it('warnings alone exit 0, and 1 with --strict', async () => {
    writeFileSync(join(work, 'warn.env'), `${PROD}export EXTRA=1`);
    const plain = await cli(['--file', 'warn.env', '--example', '.env.example']);
    expect(plain.stdout.trim().split('\n').at(-1)).toBe('0 errors, 3 warnings');
    expect(plain.stdout).toMatch(/^warn\.env:19 {2}warning {2}EXTRA {2}"export EXTRA=…": drop "export"/m);
    expect(plain.stdout).toMatch(/^warn\.env:19 {2}warning {2}- {6}no newline at the end of the file$/m);
    expect(plain.status).toBe(0);
    expect((await cli(['--file', 'warn.env', '--example', '.env.example', '--strict'])).status).toBe(1);
  });

  it('works on a lone file without any config or example (syntax and public-prefix secrets only)', async () => {
    const lone = mkdtempSync(join(tmpdir(), 'shipshape-envcli-lone-'));
    try {
      writeFileSync(join(lone, '.env'), 'DATABASE_URL=postgres://localhost/app\nVITE_STRIPE_SECRET=sk_live_51Nz-LoneSecretKey-0000\nlower=1\n');
      const r = await cli([], lone);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('.env:2  error    VITE_STRIPE_SECRET  VITE_STRIPE_SECRET holds a secret API key (sk_live_…, Stripe or Clerk), sk_l…(31 chars)');
      expect(r.stdout).toContain('.env:3  error    lower               lower has lower-case letters: expected LOWER');
      expect(r.stdout).not.toContain('LoneSecretKey');
    } finally {
      rmSync(lone, { recursive: true, force: true });
    }
  });

  it('bad input exits 2 with a clear message: a missing file, a missing example, an unknown service', async () => {
    const a = await cli(['--file', 'nope.env']);
    expect(a).toMatchObject({ status: 2, stdout: '', stderr: 'shipshape: --file nope.env: file not found\n' });
    writeFileSync(join(work, '.env'), PROD);
    const b = await cli(['--example', 'missing.example']);
    expect(b).toMatchObject({ status: 2, stderr: 'shipshape: --example missing.example: file not found\n' });
    const c = await cli(['--service', 'web', '--config', 'none.yaml']);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain('config file none.yaml not found');
  });
});

describe('shipshape env check --service', () => {
  let proj: string;
  beforeAll(() => {
    proj = mkdtempSync(join(tmpdir(), 'shipshape-envcli-svc-'));
    mkdirSync(join(proj, 'apps/web'), { recursive: true });
    copyFileSync(join(FIX, '.env.example'), join(proj, 'apps/web/.env.example'));
    writeFileSync(join(proj, 'apps/web/.env.production'), PROD.replace(/^APP_ENV=.*$/m, 'APP_ENV=preview'));
    writeFileSync(
      join(proj, 'shipshape.yaml'),
      [
        'services:',
        '  web:',
        '    env:',
        '      example: apps/web/.env.example',
        '      file: apps/web/.env.production',
        '      vars:',
        '        APP_ENV: { format: "enum(production)", env: [production] }',
        '        SENTRY_DSN: { required: true }',
        '  api: {}',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(proj, { recursive: true, force: true }));

  it('takes file, example and vars from services.<name>.env, paths relative to the config file', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'shipshape-envcli-cwd-'));
    try {
      const r = await cli(['--service', 'web', '--config', join(proj, 'shipshape.yaml'), '--env', 'production', '--json'], elsewhere);
      const report = JSON.parse(r.stdout) as EnvCheckReport;
      // the config's enum wins over the example's: preview is not production
      expect(report.findings.map((f) => [f.code, f.name, f.line])).toEqual([['malformed', 'APP_ENV', 2]]);
      expect(report.findings[0]?.file).toBe(join(proj, 'apps/web/.env.production'));
      expect(r.status).toBe(1);
      // a flag wins over the config
      writeFileSync(join(proj, 'other.env'), PROD.replace(/^SENTRY_DSN=.*\n/m, ''));
      const o = await cli(['--service', 'web', '--file', 'other.env', '--env', 'production', '--json'], proj);
      expect((JSON.parse(o.stdout) as EnvCheckReport).findings.map((f) => [f.code, f.name, f.file])).toEqual([['missing', 'SENTRY_DSN', 'other.env']]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('a service without env: or an unknown service exits 2 naming it', async () => {
    const a = await cli(['--service', 'api'], proj);
    expect(a.status).toBe(2);
    expect(a.stderr).toBe('shipshape: service "api" in shipshape.yaml has no env: section (add env: { example: .env.example, file: .env })\n');
    const b = await cli(['--service', 'wbe'], proj);
    expect(b.status).toBe(2);
    expect(b.stderr).toBe('shipshape: no service "wbe" in shipshape.yaml (services: web, api)\n');
  });
});
