/**
 * Fake but format-valid credentials, one or more per rule, made at run time from a seeded PRNG (so
 * this file holds no token a scanner would flag), and near misses that must not be flagged. Used by
 * the tests and by bench/scenarios/secrets.ts.
 */
import { generateKeyPairSync } from 'node:crypto';

export interface Seed {
  /** the rule id a scanner should report */
  rule: string;
  /** one or more lines of source; the secret is on the first line */
  text: string;
  /** the secret (to compute the expected column; never printed) */
  secret: string;
  /** 0-based index of the secret in the first line, when it is not `text.indexOf(secret)` (private keys: the BEGIN line) */
  at?: number;
  /** expected severity when not high */
  severity?: 'medium' | 'low';
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const UPPER_B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DIGITS = '0123456789';

/** mulberry32 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeSeeds(seed = 1): Seed[] {
  const r = prng(seed);
  const pick = (n: number, abc: string) => Array.from({ length: n }, () => abc[Math.floor(r() * abc.length)]).join('');
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const jwt = (payload: unknown) => `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}.${Buffer.from(pick(32, ALNUM)).toString('base64url')}`;
  const at = (prefix: string) => prefix; // readability
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trimEnd();

  const stripeLive = `${at('sk_live_')}51${pick(96, ALNUM)}`;
  const stripeTest = `${at('sk_test_')}51${pick(96, ALNUM)}`;
  const restricted = `${at('rk_live_')}51${pick(96, ALNUM)}`;
  const whsec = `${at('whsec_')}${pick(32, ALNUM)}`;
  const service = jwt({ iss: 'supabase', ref: pick(20, 'abcdefghijklmnopqrstuvwxyz'), role: 'service_role', iat: 1700000000, exp: 2015576000 });
  const otherJwt = jwt({ sub: `user-${pick(8, DIGITS)}`, scope: 'admin', iat: 1700000000 });
  const sbp = `${at('sbp_')}${pick(40, HEX)}`;
  const pgPw = pick(24, ALNUM);
  const myPw = pick(20, ALNUM);
  const mongoPw = pick(20, ALNUM);
  const redisPw = pick(32, ALNUM);
  const localPw = pick(16, ALNUM);
  const akid = `${at('AKIA')}${pick(16, UPPER_B32)}`;
  const awsSecret = pick(40, `${ALNUM}/+`);
  const ghp = `${at('ghp_')}${pick(36, ALNUM)}`;
  const gho = `${at('gho_')}${pick(36, ALNUM)}`;
  const ghs = `${at('ghs_')}${pick(36, ALNUM)}`;
  const fine = `${at('github_pat_')}11${pick(20, ALNUM)}_${pick(59, ALNUM)}`;
  const xoxb = `${at('xoxb-')}${pick(12, DIGITS)}-${pick(13, DIGITS)}-${pick(24, ALNUM)}`;
  const hookPath = `T${pick(8, UPPER_B32)}/B${pick(10, UPPER_B32)}/${pick(24, ALNUM)}`;
  const resend = `${at('re_')}${pick(8, ALNUM)}_${pick(24, ALNUM)}`;
  const sentryOrg = `${at('sntrys_')}${Buffer.from(JSON.stringify({ iat: 1700000000.123, url: 'https://sentry.io', region_url: 'https://us.sentry.io', org: `acme-${pick(6, HEX)}` })).toString('base64').replace(/=+$/, '')}_${pick(43, `${ALNUM}/+`)}`;
  const sentryUser = `${at('sntryu_')}${pick(64, HEX)}`;
  const openai = `${at('sk-proj-')}${pick(74, `${ALNUM}_-`)}T3BlbkFJ${pick(74, `${ALNUM}_-`)}`;
  const openaiLegacy = `${at('sk-')}${pick(20, ALNUM)}T3BlbkFJ${pick(20, ALNUM)}`;
  const anthropic = `${at('sk-ant-api03-')}${pick(93, `${ALNUM}_-`)}AA`;
  const npm = `${at('npm_')}${pick(36, ALNUM)}`;
  const generic = `${pick(6, ALNUM)}7${pick(25, ALNUM)}`;
  const pemBody = pem.split('\n')[1] as string;

  return [
    { rule: 'stripe-secret-key', text: `const stripe = new Stripe('${stripeLive}');`, secret: stripeLive },
    { rule: 'stripe-secret-key', text: `STRIPE_SECRET_KEY=${stripeTest}`, secret: stripeTest, severity: 'medium' },
    { rule: 'stripe-secret-key', text: `  restricted: "${restricted}",`, secret: restricted },
    { rule: 'stripe-webhook-secret', text: `STRIPE_WEBHOOK_SECRET="${whsec}"`, secret: whsec },
    { rule: 'supabase-service-role-key', text: `  supabaseKey: '${service}',`, secret: service },
    { rule: 'jwt', text: `    Authorization: Bearer ${otherJwt}`, secret: otherJwt, severity: 'medium' },
    { rule: 'supabase-access-token', text: `SUPABASE_ACCESS_TOKEN=${sbp}`, secret: sbp },
    { rule: 'postgres-url', text: `DATABASE_URL=postgres://app_user:${pgPw}@db-7.internal.acme.io:5432/app`, secret: pgPw },
    { rule: 'postgres-url', text: `  url: "postgresql://dev:${localPw}@localhost:5432/dev"`, secret: localPw, severity: 'low' },
    { rule: 'mysql-url', text: `mysql://reporting:${myPw}@mysql.acme.io:3306/reports`, secret: myPw },
    { rule: 'mongodb-url', text: `MONGO_URL = 'mongodb+srv://svc:${mongoPw}@cluster0.ab1cd.mongodb.net/prod'`, secret: mongoPw },
    { rule: 'redis-url', text: `redis: rediss://:${redisPw}@cache.acme.io:6380/0`, secret: redisPw },
    { rule: 'aws-access-key-id', text: `aws_access_key_id = ${akid}`, secret: akid },
    { rule: 'aws-secret-access-key', text: `aws_secret_access_key = ${awsSecret}`, secret: awsSecret },
    { rule: 'github-pat', text: `GITHUB_TOKEN=${ghp}`, secret: ghp },
    { rule: 'github-oauth', text: `  oauth: '${gho}'`, secret: gho },
    { rule: 'github-app-token', text: `token: ${ghs}`, secret: ghs },
    { rule: 'github-fine-grained-pat', text: `export GH_PAT="${fine}"`, secret: fine },
    { rule: 'slack-token', text: `SLACK_BOT_TOKEN=${xoxb}`, secret: xoxb },
    { rule: 'slack-webhook-url', text: `const hook = "https://hooks.slack.com/services/${hookPath}";`, secret: hookPath },
    { rule: 'resend-api-key', text: `const resend = new Resend("${resend}");`, secret: resend },
    { rule: 'sentry-org-token', text: `SENTRY_AUTH_TOKEN=${sentryOrg}`, secret: sentryOrg },
    { rule: 'sentry-user-token', text: `  authToken: "${sentryUser}",`, secret: sentryUser },
    { rule: 'openai-api-key', text: `OPENAI_API_KEY=${openai}`, secret: openai },
    { rule: 'openai-api-key', text: `openai.api_key = "${openaiLegacy}"`, secret: openaiLegacy },
    { rule: 'anthropic-api-key', text: `const anthropic = new Anthropic({ apiKey: '${anthropic}' });`, secret: anthropic },
    { rule: 'private-key', text: pem, secret: pemBody, at: 0 },
    { rule: 'npm-access-token', text: `//registry.npmjs.org/:_authToken=${npm}`, secret: npm },
    { rule: 'generic-api-key', text: `const clientSecret = "${generic}";`, secret: generic, severity: 'medium' },
  ];
}

/** Lines that look like credentials but are not: none may be flagged. */
export function nearMisses(seed = 2): string[] {
  const r = prng(seed);
  const pick = (n: number, abc: string) => Array.from({ length: n }, () => abc[Math.floor(r() * abc.length)]).join('');
  const anon = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'supabase', ref: 'abcdefghijklmnopqrst', role: 'anon', iat: 1700000000 })).toString('base64url')}.${pick(43, ALNUM)}`;
  return [
    'STRIPE_SECRET_KEY=sk_live_xxx',
    `STRIPE_SECRET_KEY=sk_live_${'x'.repeat(32)}`,
    'const key = process.env.STRIPE_SECRET_KEY ?? "sk_test_your_key_here";',
    'DATABASE_URL=${DATABASE_URL}',
    'url: postgres://${DB_USER}:${DB_PASSWORD}@db:5432/app',
    'DATABASE_URL=postgres://postgres:postgres@localhost:5432/app',
    'REDIS_URL=redis://:password@localhost:6379',
    'mongodb://user:<password>@cluster0.mongodb.net/test',
    'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
    'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    `GITHUB_TOKEN=ghp_${'x'.repeat(36)}`,
    '-----BEGIN RSA PRIVATE KEY-----',
    '...',
    '-----END RSA PRIVATE KEY-----',
    'const token = getToken(user);',
    'password: process.env.DB_PASSWORD,',
    'const secretName = "prod-db-credentials";',
    'const tokenUrl = "https://auth.acme.io/oauth2/v1/token";',
    'SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
    `SUPABASE_ANON_KEY=${anon}`,
    'headers: { Authorization: `Bearer ${token}` },',
    'OPENAI_API_KEY=sk-proj-...',
    'api_key: "<your api key>"',
    "const passwordField = document.querySelector('#password');",
  ];
}
