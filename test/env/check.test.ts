/** checkEnv / checkValues: the schema of an annotated .env.example and config vars, each finding, values never shown. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEnv, checkValues, envSchemaOf, EnvFileError, summaryOf, type EnvFinding } from '../../src/env/check.js';
import { envVarSchema } from '../../src/env/config.js';
import { parseDotenv } from '../../src/env/dotenv.js';
import { closest, editDistance, schemaFromExample } from '../../src/env/schema.js';

const FIX = join(import.meta.dirname, 'fixtures-check');
const EXAMPLE = join(FIX, '.env.example');
const PROD = readFileSync(join(FIX, 'production.env'), 'utf8');
const prodValues = parseDotenv(PROD, 'production.env').values;
const SERVICE_ROLE_JWT = prodValues.SUPABASE_SERVICE_ROLE_KEY as string;
const dir = mkdtempSync(join(tmpdir(), 'shipshape-envcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** production.env with some lines replaced (`NAME: null` drops the line), written to a temp file. */
function envFile(changes: Record<string, string | null> = {}, extra = ''): string {
  const lines = PROD.trim()
    .split('\n')
    .flatMap((l) => {
      const name = l.slice(0, l.indexOf('='));
      if (!(name in changes)) return [l];
      const c = changes[name];
      return c === null ? [] : [`${name}=${c}`];
    });
  const p = join(dir, `env-${++n}.env`);
  writeFileSync(p, `${lines.join('\n')}\n${extra}`);
  return p;
}

const brief = (f: EnvFinding) => `${f.severity} ${f.code} ${f.name ?? '-'}${f.line !== undefined ? `@${f.line}` : ''}`;

describe('the schema of an annotated .env.example', () => {
  it('reads @required, @format, @prefix, @env, @secret, @rotate and the description above each line', () => {
    const { schema, findings } = schemaFromExample(readFileSync(EXAMPLE, 'utf8'), '.env.example');
    expect(findings).toEqual([]);
    expect(schema.STRIPE_SECRET_KEY).toEqual({ declared: { file: '.env.example', line: 26 }, required: true, secret: true, prefix: 'sk_live_', env: ['production'] });
    expect(schema.SUPABASE_SERVICE_ROLE_KEY).toMatchObject({ required: true, secret: true, rotate: 90 * 86_400_000, description: 'Bypasses RLS: server only.' });
    expect(schema.NEXT_PUBLIC_SITE_URL).toMatchObject({ required: true, format: 'url', description: 'The public URL of the site, used in emails and OpenGraph tags.' });
    expect(schema.APP_ENV).toEqual({ declared: { file: '.env.example', line: 9 }, format: 'enum(development,preview,production)' });
    expect(schema.PORT).toMatchObject({ format: 'port' });
    expect(Object.keys(schema)).toHaveLength(18);
  });

  it('reports a bad annotation at its own line', () => {
    const text = '# @format uri\nA=\n# @rotate soon\nB=\n# @format regex([)\nC=\n# @requird\nD=\n# @prefix\nE=\n';
    const { schema, findings } = schemaFromExample(text, '.env.example');
    expect(findings.map((f) => [f.line, f.name, f.code])).toEqual([
      [1, 'A', 'bad-annotation'],
      [3, 'B', 'bad-annotation'],
      [5, 'C', 'bad-annotation'],
      [7, 'D', 'bad-annotation'],
      [9, 'E', 'bad-annotation'],
    ]);
    expect(findings[0]?.message).toContain('unknown format "uri": expected url, email');
    expect(findings[1]?.message).toBe('@rotate: expected a duration like 30d or 12w, got "soon"');
    expect(findings[2]?.message).toContain('does not compile');
    expect(findings[3]?.message).toContain('unknown annotation @requird');
    expect(Object.keys(schema)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('takes several annotations on a line, a regex with spaces and @ in it, @env lists', () => {
    const { schema, findings } = schemaFromExample('# @required @format regex(^[^ @]+@acme\\.test$) @env production, staging\nX=\n', 'e');
    expect(findings).toEqual([]);
    expect(schema.X).toMatchObject({ required: true, format: 'regex(^[^ @]+@acme\\.test$)', env: ['production', 'staging'] });
  });

  it('config vars win over the example, rule by rule', () => {
    const vars = { STRIPE_SECRET_KEY: envVarSchema.parse({ prefix: 'rk_live_' }), NEW_VAR: envVarSchema.parse({ required: true }) };
    const { schema } = envSchemaOf({ example: { text: readFileSync(EXAMPLE, 'utf8'), file: '.env.example' }, vars });
    expect(schema.STRIPE_SECRET_KEY).toMatchObject({ prefix: 'rk_live_', required: true, env: ['production'], secret: true });
    expect(schema.NEW_VAR).toEqual({ required: true });
  });
});

describe('checkEnv', () => {
  it('passes a complete production file, and the example itself outside production', async () => {
    expect(await checkEnv({ file: envFile(), example: EXAMPLE, env: 'production' })).toEqual({ ok: true, errors: 0, warnings: 0, findings: [] });
    // in development the example's placeholders are fine: @env production rules do not apply; the empty required ones are
    const dev = await checkEnv({ file: EXAMPLE, example: EXAMPLE });
    expect(dev.findings.map(brief)).toEqual([
      'error empty NEXT_PUBLIC_SUPABASE_ANON_KEY@16',
      'error empty SUPABASE_SERVICE_ROLE_KEY@19',
      'error empty STRIPE_WEBHOOK_SECRET@30',
      'error empty RESEND_API_KEY@34',
      'error empty NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY@46',
    ]);
  });

  it('missing and empty required variables, with the declaring line and a typo hint', async () => {
    const file = envFile({ STRIPE_SECRET_KEY: null, RESEND_API_KEY: '' }, 'STRIPE_SECRET_KY=sk_live_51Nz-TypoedName-0000000000\n');
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.findings.map(brief)).toEqual(['error empty RESEND_API_KEY@9', 'warning unknown STRIPE_SECRET_KY@18', 'error missing STRIPE_SECRET_KEY']);
    expect(r.findings[2]?.message).toBe(`STRIPE_SECRET_KEY is required in production but not set (declared at ${EXAMPLE}:26); STRIPE_SECRET_KY (line 18) looks like a typo of it`);
    expect(r.findings[1]?.message).toBe('STRIPE_SECRET_KY is not in the schema: did you mean STRIPE_SECRET_KEY?');
    expect(r.findings[0]?.message).toBe('RESEND_API_KEY is required but empty');
    expect(r).toMatchObject({ ok: false, errors: 2, warnings: 1 });
  });

  it('@env production rules apply only there', async () => {
    const file = envFile({ STRIPE_SECRET_KEY: null, CLERK_SECRET_KEY: null });
    expect((await checkEnv({ file, example: EXAMPLE, env: 'staging' })).ok).toBe(true);
    expect((await checkEnv({ file, example: EXAMPLE })).ok).toBe(true);
    expect((await checkEnv({ file, example: EXAMPLE, env: 'production' })).findings.map(brief)).toEqual(['error missing STRIPE_SECRET_KEY', 'error missing CLERK_SECRET_KEY']);
  });

  it('malformed values say what was expected, without the value', async () => {
    const file = envFile({ NEXT_PUBLIC_SITE_URL: 'acme.test', APP_ENV: 'prod', PORT: '99999', EMAIL_FROM: 'noreply-at-acme', UPSTASH_REDIS_REST_URL: 'https://' });
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.findings.map(brief)).toEqual(['error malformed NEXT_PUBLIC_SITE_URL@1', 'error malformed APP_ENV@2', 'error malformed EMAIL_FROM@11', 'error malformed UPSTASH_REDIS_REST_URL@16', 'error malformed PORT@18']);
    expect(r.findings.map((f) => f.message)).toEqual([
      'NEXT_PUBLIC_SITE_URL: expected a URL like https://example.com (got …(9 chars))',
      'APP_ENV: expected one of development, preview, production (got …(4 chars))',
      'EMAIL_FROM: expected an email address like team@example.com (or "Name <team@example.com>") (got nore…(15 chars))',
      'UPSTASH_REDIS_REST_URL: expected a URL like https://example.com (got …(8 chars))',
      'PORT: expected a port number from 1 to 65535 (got …(5 chars))',
    ]);
  });

  it('a Stripe test key where a live prefix is required in production is an error naming the prefix', async () => {
    const file = envFile({ STRIPE_SECRET_KEY: 'sk_test_51Nz-TestKey-00000000000000', NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: 'pk_test_51Nz-TestKey-0000000000' });
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.findings.map(brief)).toEqual(['error test-key STRIPE_SECRET_KEY@7', 'error test-key NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY@8']);
    expect(r.findings[0]?.message).toBe('STRIPE_SECRET_KEY holds a Stripe test key (sk_test_…) in production: expected a key starting with sk_live_');
    // the same keys are right in staging
    expect((await checkEnv({ file, example: EXAMPLE, env: 'staging' })).ok).toBe(true);
  });

  it('any Stripe test key in production is a warning even without a prefix rule; a wrong prefix is an error', async () => {
    const file = envFile({ RESEND_API_KEY: 'key_abcdefghijklmnop' }, 'STRIPE_RESTRICTED_KEY=rk_test_51Nz-Restricted-00000000\n');
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.findings.map(brief)).toEqual(['error prefix RESEND_API_KEY@10', 'warning test-key STRIPE_RESTRICTED_KEY@19', 'warning unknown STRIPE_RESTRICTED_KEY@19']);
    expect(r.findings[0]?.message).toBe('RESEND_API_KEY: expected a value starting with re_ (got key_…(20 chars))');
    expect(r.findings[1]?.message).toBe('STRIPE_RESTRICTED_KEY holds a Stripe test key (rk_test_…) in production');
  });

  it('secrets behind public prefixes: secret keys, service_role JWTs, secret names', async () => {
    const extra = [
      `NEXT_PUBLIC_SUPABASE_KEY=${SERVICE_ROLE_JWT}`,
      'VITE_STRIPE_KEY=sk_live_51Nz-BrowserBundle-0000000000',
      'EXPO_PUBLIC_WEBHOOK=whsec_abcdefghijklmnopqrstu',
      'REACT_APP_SERVICE_ROLE=x',
      'PUBLIC_API_SECRET=abc',
      'NUXT_PUBLIC_KEY=sb_secret_abcdefghijklmnop',
      'GATSBY_TOKEN=role-service_role-here',
      'NEXT_PUBLIC_PLAIN=https://acme.test',
      '',
    ].join('\n');
    const r = await checkEnv({ file: envFile({}, extra), env: 'production' });
    const pub = r.findings.filter((f) => f.code === 'public-secret');
    expect(pub.map((f) => `${f.name}@${f.line}`)).toEqual(['NEXT_PUBLIC_SUPABASE_KEY@19', 'VITE_STRIPE_KEY@20', 'EXPO_PUBLIC_WEBHOOK@21', 'REACT_APP_SERVICE_ROLE@22', 'PUBLIC_API_SECRET@23', 'NUXT_PUBLIC_KEY@24', 'GATSBY_TOKEN@25']);
    expect(pub.every((f) => f.severity === 'error')).toBe(true);
    expect(pub[0]?.message).toBe(
      `NEXT_PUBLIC_SUPABASE_KEY holds a Supabase service-role JWT (its payload says "role": "service_role"), eyJh…(${SERVICE_ROLE_JWT.length} chars): variables starting with NEXT_PUBLIC_ are built into the browser bundle, so anyone can read it; keep it server-side under a name without NEXT_PUBLIC_`,
    );
    expect(pub[1]?.message).toContain('holds a secret API key (sk_live_…, Stripe or Clerk), sk_l…(');
    expect(pub[3]?.message).toContain('is named as a secret (SERVICE_ROLE)');
    // the anon key and the publishable keys behind NEXT_PUBLIC_ are fine (no finding for them)
    expect(r.findings.some((f) => /ANON|PUBLISHABLE|SITE_URL|PLAIN/.test(f.name ?? ''))).toBe(false);
    // without an example, names are not "unknown"
    expect(r.findings.some((f) => f.code === 'unknown')).toBe(false);
  });

  it('a variable declared @secret behind a public prefix is an error too', async () => {
    const ex = join(dir, 'secret.example');
    writeFileSync(ex, '# @secret\nNEXT_PUBLIC_INTERNAL_ID=\n');
    const file = join(dir, 'secret.env');
    writeFileSync(file, 'NEXT_PUBLIC_INTERNAL_ID=12345\n');
    expect((await checkEnv({ file, example: ex })).findings.map(brief)).toEqual(['error public-secret NEXT_PUBLIC_INTERNAL_ID@1']);
  });

  it('lint findings of the file come with the schema findings, ordered by line', async () => {
    const file = join(dir, 'lint.env');
    writeFileSync(file, `${PROD.replace('PORT=3000\n', 'PORT=3000\nPORT = 4000\n')}export APP_ENV=production`);
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.findings.map(brief)).toEqual([
      'error duplicate-key PORT@18',
      'error duplicate-key PORT@19',
      'error space-character PORT@19',
      'error duplicate-key APP_ENV@2',
      'error duplicate-key APP_ENV@20',
      'warning export-prefix APP_ENV@20',
      'warning no-final-newline -@20',
    ].sort((a, b) => Number(a.split('@')[1]) - Number(b.split('@')[1])));
  });

  it('config vars alone check what they name and do not call other names unknown', async () => {
    const vars = { DATABASE_URL: envVarSchema.parse({ required: true, format: 'url' }), SENTRY_DSN: envVarSchema.parse({ required: true, env: ['production'] }) };
    const file = envFile({ DATABASE_URL: 'localhost:5432', SENTRY_DSN: null });
    const r = await checkEnv({ file, vars, env: 'production' });
    expect(r.findings.map(brief)).toEqual(['error malformed DATABASE_URL@6', 'error missing SENTRY_DSN']);
  });

  it('throws EnvFileError for a missing file or example', async () => {
    await expect(checkEnv({ file: join(dir, 'nope.env') })).rejects.toThrow(EnvFileError);
    await expect(checkEnv({ file: join(dir, 'nope.env') })).rejects.toThrow(/nope\.env: file not found/);
    await expect(checkEnv({ file: envFile(), example: join(dir, 'nope.example') })).rejects.toThrow(/nope\.example: file not found/);
    await expect(checkEnv({ file: dir })).rejects.toThrow(/is a directory/);
  });

  it('never puts a value in a finding or the summary', async () => {
    const file = envFile(
      { STRIPE_SECRET_KEY: 'sk_test_51Nz-NeverPrintMe-0000000000', SUPABASE_SERVICE_ROLE_KEY: '"unterminated-NeverPrintMe', PORT: 'NeverPrintMe', NEXT_PUBLIC_SITE_URL: 'NeverPrintMe-url' },
      `NEXT_PUBLIC_SR=${SERVICE_ROLE_JWT}\nlow_NeverPrintMe=NeverPrintMe\n`,
    );
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(r.errors).toBeGreaterThan(4);
    const text = JSON.stringify(r) + summaryOf(r);
    expect(text).not.toContain('NeverPrintMe-url');
    expect(text.replace(/low_NeverPrintMe/g, '')).not.toContain('NeverPrintMe');
    expect(text).not.toContain(SERVICE_ROLE_JWT.slice(10, 40));
  });
});

describe('checkValues (no file, as the env store uses it)', () => {
  const { schema } = envSchemaOf({ example: { text: readFileSync(EXAMPLE, 'utf8'), file: '.env.example' } });

  it('checks a map of values against the schema for an environment', () => {
    const values: Record<string, string> = { ...prodValues, STRIPE_SECRET_KEY: 'sk_test_51Nz-Test-00000000000', PORT: 'eighty' };
    delete values.RESEND_API_KEY;
    const r = checkValues(values, schema, 'production');
    expect(r.findings.map(brief)).toEqual(['error test-key STRIPE_SECRET_KEY', 'error missing RESEND_API_KEY', 'error malformed PORT']);
    expect(r.findings.every((f) => f.file === '(values)')).toBe(true);
    expect(checkValues(values, schema, 'production', { file: 'store:web/production' }).findings[0]?.file).toBe('store:web/production');
    expect(checkValues(prodValues, schema, 'production')).toEqual({ ok: true, errors: 0, warnings: 0, findings: [] });
  });
});

describe('summaryOf', () => {
  it('names the variables and what is wrong, errors first', async () => {
    const file = envFile({ STRIPE_SECRET_KEY: null, PORT: 'x' }, `NEXT_PUBLIC_SERVICE_ROLE_KEY=${SERVICE_ROLE_JWT}\n`);
    const r = await checkEnv({ file, example: EXAMPLE, env: 'production' });
    expect(summaryOf(r)).toBe('3 errors: PORT malformed; NEXT_PUBLIC_SERVICE_ROLE_KEY secret behind a public prefix; STRIPE_SECRET_KEY missing');
    expect(summaryOf({ ok: true, errors: 0, warnings: 0, findings: [] })).toBe('no problems');
  });
});

describe('typo suggestions', () => {
  it('Damerau distance counts a swap as one edit', () => {
    expect(editDistance('STRIPE_SECRET_KEY', 'STRIPE_SECERT_KEY')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('STRIPE_SECERT_KEY', ['STRIPE_SECRET_KEY', 'RESEND_API_KEY'])).toBe('STRIPE_SECRET_KEY');
    expect(closest('next_public_site_url', ['NEXT_PUBLIC_SITE_URL'])).toBe('NEXT_PUBLIC_SITE_URL');
    expect(closest('DATABASE', ['RESEND_API_KEY', 'PORT'])).toBeUndefined();
  });
});
