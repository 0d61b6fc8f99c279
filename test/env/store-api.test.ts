/**
 * The encrypted env store through the HTTP API of a real server, on SQLite and on PostgreSQL:
 * masked lists, set/unset/pull/reveal with their scopes, events without values, the wrong key and
 * a tampered row refused with a clear message, snapshots, rotation (the overdue event once, even
 * across a restart) and the rotation metric firing an alert rule.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertInstance } from '../../src/alerts/types.js';
import { startShipshape, type Running } from '../../src/app.js';
import type { EventRecord } from '../../src/core/api-types.js';
import { env as envModule, type EnvSetResult, type EnvVarView } from '../../src/env/index.js';
import { telemetry } from '../../src/telemetry/index.js';
import { createTestDatabase } from '../helpers/pg.js';

const ADMIN = 'env-store-admin-token-0123456789';
const STRIPE = `sk_live_${randomBytes(18).toString('hex')}`;
const DB_PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const KEY = randomBytes(32).toString('hex');
const OTHER_KEY = randomBytes(32).toString('hex');

const CONFIG = `
alerting:
  evaluate_every: 100ms
services:
  web:
    env:
      rotate: 90d
      vars:
        ROTATE_ME: { rotate: 1s }
        STRIPE_SECRET_KEY: { prefix: sk_live_, env: [production] }
        PUBLIC_URL: { format: url }
  api:
    description: the API
alerts:
  - name: secret-rotation-overdue
    when: metric(shipshape_secret_rotation_overdue{name="ROTATE_ME"}) > 0
    severity: P2
    summary: "a secret is overdue for rotation"
`;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`env store API (${backend})`, () => {
    let dir: string;
    let dbUrl: string | undefined;
    let drop: (() => Promise<void>) | undefined;
    let r: Running;
    let reader: string;
    const savedKey = process.env.SHIPSHAPE_SECRET_KEY;

    const boot = () =>
      startShipshape({ configPath: join(dir, 'shipshape.yaml'), dataDir: join(dir, 'data'), databaseUrl: dbUrl, port: 0, logger: pino({ level: 'silent' }), adminToken: ADMIN, watchConfig: false });
    const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
      const headers = new Headers(init.headers);
      const token = init.token === undefined ? ADMIN : init.token;
      if (token) headers.set('authorization', `Bearer ${token}`);
      if (init.body) headers.set('content-type', 'application/json');
      return fetch(`${r.url}${path}`, { ...init, headers });
    };
    const set = (vars: Record<string, string>, target = 'web/production', token?: string | null) => api(`/api/v1/env/${target}/vars`, { method: 'POST', body: JSON.stringify({ vars }), token });
    const list = async (q = ''): Promise<EnvVarView[]> => ((await (await api(`/api/v1/env${q}`)).json()) as { items: EnvVarView[] }).items;
    const events = async (type = 'env.*'): Promise<EventRecord[]> => ((await (await api(`/api/v1/events?type=${type}&limit=500`)).json()) as { items: EventRecord[] }).items;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'shipshape-env-'));
      writeFileSync(join(dir, 'shipshape.yaml'), CONFIG);
      if (backend === 'postgres') ({ url: dbUrl, drop } = await createTestDatabase());
      delete process.env.SHIPSHAPE_SECRET_KEY;
      r = await boot();
      reader = (await r.tokens.create('viewer', ['read'], 'test')).token;
    });
    afterAll(async () => {
      if (savedKey === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
      else process.env.SHIPSHAPE_SECRET_KEY = savedKey;
      await r?.stop();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it('without SHIPSHAPE_SECRET_KEY, refuses to set or pull and says how to make a key; the list still answers', async () => {
      const res = await set({ STRIPE_SECRET_KEY: STRIPE });
      expect(res.status).toBe(400);
      const p = (await res.json()) as { detail: string };
      expect(p.detail).toContain('set SHIPSHAPE_SECRET_KEY on the server');
      expect(p.detail).toContain('openssl rand -hex 32');
      expect(JSON.stringify(p)).not.toContain(STRIPE);
      expect((await api('/api/v1/env/web/production/values')).status).toBe(400);
      const l = (await (await api('/api/v1/env')).json()) as { items: unknown[]; key: { configured: boolean } };
      expect(l).toMatchObject({ items: [], key: { configured: false } });
    });

    it('snapshots an environment with nothing stored without a key (a service that does not use the store still deploys)', async () => {
      const e = r.use(envModule);
      const empty = await e.snapshot('api', 'production');
      expect(empty).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), names: [], values: {} });
      expect(await e.snapshotValues(empty.id)).toEqual({});
      expect((await e.snapshot('api', 'staging')).id).not.toBe(empty.id);
    });

    it('sets values encrypted and lists them masked, with version and who set them', async () => {
      process.env.SHIPSHAPE_SECRET_KEY = KEY;
      const res = await set({ STRIPE_SECRET_KEY: STRIPE, DATABASE_PASSWORD: DB_PASSWORD });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(STRIPE);
      expect((JSON.parse(text) as { items: EnvSetResult[] }).items).toEqual([
        { service: 'web', env: 'production', name: 'DATABASE_PASSWORD', version: 1, changed: true },
        { service: 'web', env: 'production', name: 'STRIPE_SECRET_KEY', version: 1, changed: true },
      ]);
      expect((await set({ STRIPE_SECRET_KEY: 'sk_test_staging_value_1234', LOG_LEVEL: 'debug' }, 'web/staging')).status).toBe(200);

      const listed = await api('/api/v1/env?service=web', { token: reader });
      const body = await listed.text();
      expect(body).not.toContain(STRIPE);
      expect(body).not.toContain(DB_PASSWORD);
      const items = (JSON.parse(body) as { items: EnvVarView[] }).items;
      expect(items.map((i) => `${i.env}/${i.name}`)).toEqual(['production/DATABASE_PASSWORD', 'production/STRIPE_SECRET_KEY', 'staging/LOG_LEVEL', 'staging/STRIPE_SECRET_KEY']);
      // the service's rotate applies to secrets (by config or by name), not to LOG_LEVEL
      expect(items[2]).toMatchObject({ name: 'LOG_LEVEL', masked: '…(5)', rotate_every_ms: null, rotation_due_at: null, overdue: false });
      expect(items[1]).toMatchObject({ masked: `sk_l…(${STRIPE.length})`, version: 1, updated_by: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', rotated_by: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', overdue: false, rotate_every_ms: 90 * 86_400_000 });
      expect(items[0]?.masked).toBe(`…(${DB_PASSWORD.length})`);
      expect(Date.parse(items[1]?.rotation_due_at ?? '') - Date.parse(items[1]?.rotated_at ?? '')).toBe(90 * 86_400_000);
    });

    it('keeps the version when the value is the same, and counts a new value as a rotation', async () => {
      const same = (await (await set({ STRIPE_SECRET_KEY: STRIPE })).json()) as { items: EnvSetResult[] };
      expect(same.items[0]).toMatchObject({ version: 1, changed: false });
      const changed = (await (await set({ DATABASE_PASSWORD: `${DB_PASSWORD}-2` })).json()) as { items: EnvSetResult[] };
      expect(changed.items[0]).toMatchObject({ version: 2, changed: true });
      const ev = (await events('env.set')).filter((e) => e.data.name === 'DATABASE_PASSWORD');
      expect(ev.map((e) => [e.data.version, e.data.rotated])).toEqual([
        [2, true],
        [1, false],
      ]);
      expect((await set({ DATABASE_PASSWORD: DB_PASSWORD })).status).toBe(200);
    });

    it("refuses values the service's env schema rejects, naming the rule and not the value, unless forced", async () => {
      const testKey = `sk_test_${randomBytes(12).toString('hex')}`;
      const res = await set({ STRIPE_SECRET_KEY: testKey, PUBLIC_URL: 'not a url', OTHER: 'fine' });
      expect(res.status).toBe(400);
      const p = (await res.json()) as { detail: string };
      expect(p.detail).toMatch(/^refused by the env schema of web for production \(nothing was stored; force to store anyway\): /);
      expect(p.detail).toContain('STRIPE_SECRET_KEY holds a Stripe test key (sk_test_…) in production: expected a key starting with sk_live_');
      expect(p.detail).toContain('PUBLIC_URL: expected');
      expect(p.detail).not.toContain(testKey);
      expect((await list('?env=production')).map((i) => i.name)).toEqual(['DATABASE_PASSWORD', 'STRIPE_SECRET_KEY']);
      // the rule is production's: staging takes a test key
      expect((await set({ PUBLIC_URL: 'https://staging.example.com' }, 'web/staging')).status).toBe(200);
      const forced = await api('/api/v1/env/web/production/vars', { method: 'POST', body: JSON.stringify({ vars: { PUBLIC_URL: 'not a url either' }, force: true }) });
      expect(forced.status).toBe(200);
      expect((await api('/api/v1/env/web/production/vars/PUBLIC_URL', { method: 'DELETE' })).status).toBe(200);
    });

    it('pulls and reveals values with an admin token only', async () => {
      const res = await api('/api/v1/env/web/production/values');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ service: 'web', env: 'production', values: { DATABASE_PASSWORD: DB_PASSWORD, STRIPE_SECRET_KEY: STRIPE } });
      expect(await (await api('/api/v1/env/web/production/vars/STRIPE_SECRET_KEY/value')).json()).toMatchObject({ value: STRIPE });
      expect((await api('/api/v1/env/web/production/values', { token: reader })).status).toBe(403);
      expect((await api('/api/v1/env/web/production/vars/STRIPE_SECRET_KEY/value', { token: reader })).status).toBe(403);
      expect((await set({ X: 'y' }, 'web/production', reader)).status).toBe(403);
      expect((await api('/api/v1/env/web/production/vars/STRIPE_SECRET_KEY', { method: 'DELETE', token: reader })).status).toBe(403);
      expect((await api('/api/v1/env', { token: null })).status).toBe(401);
    });

    it('answers bad input with a problem naming the field, never echoing the value', async () => {
      const bad = await set({ 'NOT-A-NAME': STRIPE });
      expect(bad.status).toBe(400);
      const p = await bad.text();
      expect(p).toContain('body.vars');
      expect(p).not.toContain(STRIPE);
      const big = await set({ BIG: `${STRIPE}${'x'.repeat(70_000)}` });
      expect(big.status).toBe(400);
      expect(await big.text()).not.toContain(STRIPE);
      // a JSON syntax error: the default parser's message would quote the body around it
      const unquoted = `x${randomBytes(8).toString('hex')}`;
      const broken = await api('/api/v1/env/web/production/vars', { method: 'POST', body: `{"vars":{"K": ${unquoted}}}` });
      expect(broken.status).toBe(400);
      const bt = await broken.text();
      expect(bt).toContain('the body is not valid JSON');
      expect(bt).not.toContain(unquoted.slice(0, 6));
      expect((await set({ A: 'b' }, 'nope/production')).status).toBe(404);
      expect((await set({ A: 'b' }, 'web/Prod!')).status).toBe(400);
      expect((await api('/api/v1/env/web/production/vars/MISSING', { method: 'DELETE' })).status).toBe(404);
    });

    it('records every change as an event with its actor, and no value anywhere in the event log', async () => {
      const ev = await events();
      expect(ev.length).toBeGreaterThanOrEqual(4);
      for (const e of ev) {
        expect(e.actor).toBe('token:admin (SHIPSHAPE_ADMIN_TOKEN)');
        expect(e.subject).toBe('service:web');
        expect(Object.keys(e.data).sort()).toEqual(expect.arrayContaining(['env', 'name', 'service', 'version']));
      }
      const rows = await sql<{ type: string; data: string }>`select type, data from events`.execute(r.store.db);
      const all = JSON.stringify(rows.rows);
      expect(all).toContain('STRIPE_SECRET_KEY');
      expect(all).not.toContain(STRIPE);
      expect(all).not.toContain(DB_PASSWORD);
      const values = await sql<{ ciphertext: string }>`select ciphertext, data_key from env_values`.execute(r.store.db);
      expect(JSON.stringify(values.rows)).not.toContain(STRIPE);
      if (backend === 'sqlite') {
        // the database files on disk (and their journal) hold no value in the clear
        const files = readdirSync(join(dir, 'data')).filter((f) => f.includes('.db') || f.endsWith('-wal'));
        expect(files.length).toBeGreaterThan(0);
        for (const f of files) {
          const bytes = readFileSync(join(dir, 'data', f));
          expect(bytes.includes(Buffer.from(STRIPE))).toBe(false);
          expect(bytes.includes(Buffer.from(DB_PASSWORD))).toBe(false);
        }
      }
    });

    it('refuses a different SHIPSHAPE_SECRET_KEY with the store key id, and changes nothing', async () => {
      process.env.SHIPSHAPE_SECRET_KEY = OTHER_KEY;
      try {
        const pull = await api('/api/v1/env/web/production/values');
        expect(pull.status).toBe(409);
        const p = (await pull.json()) as { detail: string };
        expect(p.detail).toMatch(/^SHIPSHAPE_SECRET_KEY does not match the key this store was encrypted with \(key id [0-9a-f]{16}; the key set now has id [0-9a-f]{16}\)/);
        expect((await set({ STRIPE_SECRET_KEY: 'sk_live_overwritten_by_mistake' })).status).toBe(409);
        expect((await set({ NEW_ONE: 'value' })).status).toBe(409);
        const l = (await (await api('/api/v1/env')).json()) as { items: EnvVarView[]; key: { matches: boolean; problem: string } };
        expect(l.key.matches).toBe(false);
        expect(l.items.find((i) => i.env === 'production' && i.name === 'STRIPE_SECRET_KEY')?.version).toBe(1);
        expect(l.items.some((i) => i.name === 'NEW_ONE')).toBe(false);
      } finally {
        process.env.SHIPSHAPE_SECRET_KEY = KEY;
      }
      expect(await (await api('/api/v1/env/web/production/vars/STRIPE_SECRET_KEY/value')).json()).toMatchObject({ value: STRIPE });
    });

    it('refuses a tampered ciphertext with an error naming service, environment and name, and lets it be set again', async () => {
      const row = await sql<{ ciphertext: string }>`select ciphertext from env_values where service = 'web' and env = 'staging' and name = 'STRIPE_SECRET_KEY'`.execute(r.store.db);
      const raw = Buffer.from((row.rows[0]?.ciphertext ?? '').slice(3), 'base64url');
      raw[15] = (raw[15] as number) ^ 0xff;
      await sql`update env_values set ciphertext = ${`v1.${raw.toString('base64url')}`} where service = 'web' and env = 'staging' and name = 'STRIPE_SECRET_KEY'`.execute(r.store.db);
      const res = await api('/api/v1/env/web/staging/values');
      expect(res.status).toBe(409);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/^the stored value of web\/staging\/STRIPE_SECRET_KEY \(version 1\) failed its integrity check/);
      expect((await set({ STRIPE_SECRET_KEY: 'sk_test_new_staging_value_99' }, 'web/staging')).status).toBe(200);
      expect(await (await api('/api/v1/env/web/staging/values')).json()).toMatchObject({ values: { STRIPE_SECRET_KEY: 'sk_test_new_staging_value_99' } });
    });

    it('snapshots a release: the same set gives the same id, a change a new one, and the old one still resolves', async () => {
      const e = r.use(envModule);
      const a = await e.snapshot('web', 'production');
      expect(a).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), names: ['DATABASE_PASSWORD', 'STRIPE_SECRET_KEY'], values: { DATABASE_PASSWORD: DB_PASSWORD, STRIPE_SECRET_KEY: STRIPE } });
      expect((await e.snapshot('web', 'production')).id).toBe(a.id);
      expect((await set({ STRIPE_SECRET_KEY: `${STRIPE}_v2` })).status).toBe(200);
      const b = await e.snapshot('web', 'production');
      expect(b.id).not.toBe(a.id);
      expect(await e.snapshotRef(a.id)).toMatchObject({ service: 'web', env: 'production', vars: [{ name: 'DATABASE_PASSWORD', version: 3 }, { name: 'STRIPE_SECRET_KEY', version: 1 }] });
      expect((await (await api(`/api/v1/env/snapshots/${b.id}`, { token: reader })).json()) as unknown).toMatchObject({ vars: [{ name: 'DATABASE_PASSWORD', version: 3 }, { name: 'STRIPE_SECRET_KEY', version: 2 }] });
      // unset: gone from the environment, still in the snapshot that pinned it
      const del = await api('/api/v1/env/web/production/vars/STRIPE_SECRET_KEY', { method: 'DELETE' });
      expect(await del.json()).toMatchObject({ name: 'STRIPE_SECRET_KEY', version: 2 });
      expect((await list('?env=production')).map((i) => i.name)).toEqual(['DATABASE_PASSWORD']);
      expect(await e.snapshotValues(a.id)).toEqual({ DATABASE_PASSWORD: DB_PASSWORD, STRIPE_SECRET_KEY: STRIPE });
      expect((await e.snapshot('web', 'production')).names).toEqual(['DATABASE_PASSWORD']);
      expect((await events('env.unset'))[0]).toMatchObject({ actor: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', data: { service: 'web', env: 'production', name: 'STRIPE_SECRET_KEY', version: 2 } });
      // set again: versions go on from the last one, so an old snapshot never names a new value
      expect(((await (await set({ STRIPE_SECRET_KEY: STRIPE })).json()) as { items: EnvSetResult[] }).items[0]?.version).toBe(3);
      expect((await api('/api/v1/env/snapshots/0123456789abcdef01234567')).status).toBe(404);
    });

    it('marks an overdue secret once (event, list, rotation route), pushes the metric, and an alert rule on it fires', async () => {
      expect((await set({ ROTATE_ME: 'rotate-me-value-1' })).status).toBe(200);
      await new Promise((res) => setTimeout(res, 1200));
      const store = r.use(envModule).store;
      await store.tick();
      await store.tick();
      const overdue = await events('env.rotation_overdue');
      expect(overdue).toHaveLength(1);
      expect(overdue[0]).toMatchObject({ actor: 'schedule', subject: 'service:web', data: { service: 'web', env: 'production', name: 'ROTATE_ME', version: 1, rotate_every_ms: 1000 } });
      const rot = ((await (await api('/api/v1/env/rotation', { token: reader })).json()) as { items: EnvVarView[] }).items;
      expect(rot.map((i) => i.name)).toEqual(['ROTATE_ME']);
      expect(rot[0]?.overdue_by_ms).toBeGreaterThan(0);

      const m = await r.use(telemetry).query.metric('shipshape_secret_rotation_overdue', { env: 'production', name: 'ROTATE_ME' }, 300_000, 'web');
      expect(m.value).toBe(1);
      const ok = await r.use(telemetry).query.metric('shipshape_secret_rotation_overdue', { env: 'production', name: 'DATABASE_PASSWORD' }, 300_000, 'web');
      expect(ok.value).toBe(0);
      const age = await r.use(telemetry).query.metric('shipshape_secret_age_days', { env: 'production', name: 'DATABASE_PASSWORD' }, 300_000, 'web');
      expect(age.value).toBeGreaterThanOrEqual(0);
      expect(age.value).toBeLessThan(1);

      const alert = await until('the rotation alert firing', async () =>
        ((await (await api('/api/v1/alerts?state=firing')).json()) as { items: AlertInstance[] }).items.find((a) => a.labels.alertname === 'secret-rotation-overdue'),
      );
      expect(alert.annotations.summary).toBe('a secret is overdue for rotation');
    });

    it('does not repeat the overdue event after a restart, and a rotation clears it', async () => {
      await r.stop();
      r = await boot();
      const store = r.use(envModule).store;
      await store.tick();
      expect(await events('env.rotation_overdue')).toHaveLength(1);
      const res = await api('/api/v1/env/web/production/vars/ROTATE_ME/rotated', { method: 'POST' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ name: 'ROTATE_ME', overdue: false, version: 1 });
      expect((await events('env.rotated'))[0]).toMatchObject({ actor: 'token:admin (SHIPSHAPE_ADMIN_TOKEN)', data: { name: 'ROTATE_ME', version: 1 } });
      // overdue again a second later: a new overdue period, a new event
      await new Promise((res2) => setTimeout(res2, 1200));
      await store.tick();
      expect(await events('env.rotation_overdue')).toHaveLength(2);
    });

    it('moves the store to a new master key at start with SHIPSHAPE_SECRET_KEY_PREVIOUS, and then needs only the new one', async () => {
      const before = ((await (await api('/api/v1/env/web/production/values')).json()) as { values: Record<string, string> }).values;
      const NEW_KEY = randomBytes(32).toString('base64');
      await r.stop();
      process.env.SHIPSHAPE_SECRET_KEY = NEW_KEY;
      process.env.SHIPSHAPE_SECRET_KEY_PREVIOUS = KEY;
      try {
        r = await boot();
      } finally {
        delete process.env.SHIPSHAPE_SECRET_KEY_PREVIOUS;
      }
      const ev = await events('env.rekeyed');
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ actor: 'system', data: { from_key_id: expect.stringMatching(/^[0-9a-f]{16}$/), to_key_id: expect.stringMatching(/^[0-9a-f]{16}$/), values: expect.any(Number) } });
      expect(ev[0]?.data.values).toBeGreaterThanOrEqual(8);
      expect(((await (await api('/api/v1/env/web/production/values')).json()) as { values: Record<string, string> }).values).toEqual(before);
      // the old snapshot's versions open with the new key too
      const l = (await (await api('/api/v1/env')).json()) as { key: { matches: boolean; store_key_id: string } };
      expect(l.key).toMatchObject({ matches: true, store_key_id: ev[0]?.data.to_key_id });
      // a restart with the new key alone works; the old key is now the wrong one
      await r.stop();
      r = await boot();
      expect((await api('/api/v1/env/web/production/values')).status).toBe(200);
      expect(await events('env.rekeyed')).toHaveLength(1);
      process.env.SHIPSHAPE_SECRET_KEY = KEY;
      const old = await api('/api/v1/env/web/production/values');
      expect(old.status).toBe(409);
      expect(((await old.json()) as { detail: string }).detail).toContain(`key id ${String(ev[0]?.data.to_key_id)}`);
      process.env.SHIPSHAPE_SECRET_KEY = NEW_KEY;
    });
  });
}
