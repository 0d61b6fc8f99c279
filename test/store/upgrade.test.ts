/**
 * Upgrades are sacred: a store made by any earlier release opens in this one. Every release keeps
 * a SQLite store and a PostgreSQL dump in test/fixtures/<version>/ (made by scripts/make-fixture.ts
 * with real data in every table); this test opens each with the current code, migrates it, checks
 * that no row was lost, that a migration added later to any module still applies, and reads the
 * data back through the running server's API.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killUnder } from '../helpers/procs.js';
import { startShipshape, type Running } from '../../src/app.js';
import { AtRest } from '../../src/core/at-rest.js';
import { openStore as openCoreStore } from '../../src/core/store/db.js';
import { migrationTable } from '../../src/core/store/migrate.js';
import { openStore, storeMigrations, type RootStore } from '../../src/modules.js';
import { createTestDatabase } from '../helpers/pg.js';

const FIXTURES = resolve('test/fixtures');
/** the SHIPSHAPE_SECRET_KEY scripts/make-fixture.ts runs with: an upgrade keeps the key its store was sealed with */
const FIXTURE_SECRET_KEY = '0f'.repeat(32);
const keptEnv = process.env.SHIPSHAPE_SECRET_KEY;
beforeAll(() => {
  process.env.SHIPSHAPE_SECRET_KEY = FIXTURE_SECRET_KEY;
});
afterAll(() => {
  if (keptEnv === undefined) delete process.env.SHIPSHAPE_SECRET_KEY;
  else process.env.SHIPSHAPE_SECRET_KEY = keptEnv;
});
const releases = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^\d+\.\d+\.\d+$/.test(d.name))
  .map((d) => d.name)
  .sort();

interface Expected {
  admin_token: string;
  sqlite: Section;
  postgres: Section;
}
interface Section {
  counts: Record<string, number>;
  values: {
    migrations: string[];
    checks: string[];
    service_state: string[];
    event_types: string[];
    token_names: string[];
    revoked_tokens: string[];
    error_issue_titles: string[];
    alert_names: string[];
    silence_comments: string[];
    tel_series_kinds: string[];
    // from 0.3.0 on
    incident_titles?: string[];
    maintenance_titles?: string[];
    subscriber_kinds?: string[];
    release_states?: string[];
  };
}

/** Tables that exist to track migrations (their rows change on upgrade by design). */
const isTracking = (t: string) => t.startsWith('shipshape_migrations');

async function count(store: RootStore, table: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db);
  return Number(r.rows[0]?.n ?? 0);
}

/** A probe migration appended to a module whose migrations sort before others' (the 0.1.0 defect). */
function withProbe(module: string) {
  return storeMigrations().map((m) =>
    m.module !== module
      ? m
      : {
          module,
          migrations: (d: Parameters<typeof m.migrations>[0]) => ({
            ...m.migrations(d),
            '9999_upgrade_probe': { up: async (db: RootStore['db']) => db.schema.createTable('upgrade_probe').addColumn('id', 'integer').execute() },
          }),
        },
  );
}

async function readBack(running: Running, token: string, section: Section): Promise<void> {
  const v = section.values;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${running.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, `${path}: ${res.status === 200 ? '' : await res.clone().text()}`).toBe(200);
    return (await res.json()) as T;
  };
  const services = await api<{ items: { name: string; state: string; checks: { id: string; since: string | null }[] }[] }>('/api/v1/services');
  expect(services.items.map((s) => s.name).sort()).toEqual(v.service_state);
  // the check states survived: the web check's state was set long before this process started
  const checks = services.items.flatMap((s) => s.checks);
  expect(checks.map((c) => c.id)).toEqual(expect.arrayContaining(v.checks.filter((c) => c !== 'web/legacy')));
  expect(checks.every((c) => c.since !== null && Date.parse(c.since) < Date.now() - 1000)).toBe(true);

  const changes = await api<{ items: unknown[] }>('/api/v1/state-changes?limit=500');
  expect(changes.items.length).toBeGreaterThan(0);
  const issues = await api<{ items: { title: string }[] }>('/api/v1/issues?limit=100');
  expect(issues.items.map((i) => i.title).sort()).toEqual(v.error_issue_titles);
  const alerts = await api<{ items: { labels: Record<string, string> }[] }>('/api/v1/alerts?limit=500');
  expect(new Set(alerts.items.map((a) => a.labels.alertname))).toEqual(new Set(v.alert_names));
  // from 0.6.0 on: a pushed alert keeps the sender's severity, Shipshape's level added beside it
  if (v.alert_names.includes('QueueStuck')) expect(alerts.items.find((a) => a.labels.alertname === 'QueueStuck')?.labels).toEqual({ alertname: 'QueueStuck', service: 'batch', severity: 'critical', queue: 'mail', shipshape_severity: 'P1' });
  const silences = await api<{ items: { comment: string; createdBy: string }[] }>('/api/v1/silences');
  // A fixture's maintenance windows open by the clock: the one made by hand two days after the
  // fixture, for an hour, and the config's monthly one (first Tuesday, 02:00-04:00 UTC). A run
  // inside either finds its silence beside the fixture's own.
  const fromWindows = silences.items.filter((s) => s.createdBy === 'maintenance');
  for (const s of fromWindows) expect(v.maintenance_titles ?? []).toContain(/^maintenance window \d+ "(.*?)"/.exec(s.comment)?.[1]);
  expect(silences.items.filter((s) => !fromWindows.includes(s)).map((s) => s.comment)).toEqual(v.silence_comments);
  const tokens = await api<{ items: { name: string; revoked_at: string | null }[] }>('/api/v1/tokens');
  expect(tokens.items.map((t) => t.name).sort()).toEqual(v.token_names);
  expect(tokens.items.filter((t) => t.revoked_at).map((t) => t.name)).toEqual(v.revoked_tokens);
  const events = await api<{ items: { type: string }[] }>('/api/v1/events?limit=500');
  for (const type of v.event_types) expect(events.items.map((e) => e.type), type).toContain(type);
  if (v.incident_titles) {
    const inc = await api<{ items: { title: string }[] }>('/api/v1/incidents?limit=100');
    expect(inc.items.map((i) => i.title).sort()).toEqual(v.incident_titles);
  }
  if (v.maintenance_titles) {
    // status=all: the default list holds open windows only, and the fixture's hand-made window
    // closes by the clock two days after the fixture was made
    const m = await api<{ items: { title: string; status: string }[] }>('/api/v1/maintenance?status=all&limit=500');
    expect([...new Set(m.items.filter((i) => i.status !== 'cancelled').map((i) => i.title))].sort()).toEqual(v.maintenance_titles);
  }
  if (v.subscriber_kinds) {
    const subs = await api<{ items: { kind: string }[] }>('/api/v1/subscriptions');
    expect(subs.items.map((i) => i.kind).sort()).toEqual(v.subscriber_kinds);
  }
  if (v.release_states) {
    const rel = await api<{ items: { id: number }[] }>('/api/v1/deploy/web/releases');
    expect(rel.items).toHaveLength(v.release_states.length);
  }
  // from 0.5.0 on: the env store (names and masks read without the key) and the webhook inbox
  if ((section.counts.env_vars ?? 0) > 0) {
    const env = await api<{ items: { service: string; env: string; name: string; masked: string }[] }>('/api/v1/env');
    expect(env.items.map((i) => `${i.service}/${i.env}/${i.name}`).sort()).toEqual(['web/production/FIXTURE_API_TOKEN', 'web/production/FIXTURE_GREETING']);
    expect(JSON.stringify(env)).not.toContain('hello from the env store');
    const hooks = await api<{ items: { hook: string; state: string }[] }>('/api/v1/webhooks/deliveries');
    expect(hooks.items.map((d) => `${d.hook}:${d.state}`)).toEqual(['fixture:delivered']);
  }
  const chart = await api<{ requests?: unknown }>('/api/v1/services/web/telemetry?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z');
  expect(JSON.stringify(chart)).toMatch(/\d/);
}

/**
 * The defect of 0.1.0: the checks module (0001…) adding a migration after telemetry (0100…) ran.
 * It applies; and a release that does not know it refuses the store with a clear message.
 */
async function checkLaterMigration(where: { dataDir?: string; databaseUrl?: string }): Promise<void> {
  const probed = await openCoreStore({ ...where, migrations: withProbe('checks') });
  expect(await count(probed, 'upgrade_probe')).toBe(0);
  await probed.close();
  await expect(openStore(where)).rejects.toThrow(/upgraded by a newer Shipshape: module checks has migration 9999_upgrade_probe/);
  const raw = await openCoreStore({ ...where, migrate: false });
  await raw.db.schema.dropTable('upgrade_probe').execute();
  await raw.db.deleteFrom(migrationTable('checks') as never).where('name' as never, '=', '9999_upgrade_probe' as never).execute();
  await raw.close();
}

/**
 * The keys and secrets the server keeps in the store (on-call and subscription link keys, webhook
 * subscribers' signing secrets), by what they are for. From 0.7.0 on they are sealed at rest: an
 * older store's plain ones are sealed at the first start and keep their values, so links and
 * signatures made before the upgrade still verify.
 */
async function storedSecrets(open: () => Promise<RootStore>): Promise<Map<string, string>> {
  const store = await open();
  try {
    const out = new Map<string, string>();
    const oncall = await store.db.selectFrom('oncall_keys').select('secret').where('name', '=', 'link_key').executeTakeFirst();
    if (oncall) out.set('the on-call link key', oncall.secret as string);
    const sub = await store.db.selectFrom('subscription_meta').select('value').where('name', '=', 'link_key').executeTakeFirst();
    if (sub) out.set('the subscription link key', sub.value as string);
    for (const r of await store.db.selectFrom('subscribers').select(['id', 'secret']).where('kind', '=', 'webhook').execute()) out.set(`the signing secret of webhook subscriber ${r.id}`, r.secret as string);
    return out;
  } finally {
    await store.close();
  }
}

function expectSealedAs(before: Map<string, string>, after: Map<string, string>, atRest: AtRest, section: Section): void {
  // stores from 0.3.0 on hold both link keys and a webhook subscriber
  if (section.values.subscriber_kinds?.includes('webhook')) expect([...before.keys()].sort()).toEqual(expect.arrayContaining(['the on-call link key', 'the subscription link key', expect.stringMatching(/^the signing secret of webhook subscriber \d+$/)]));
  for (const [purpose, value] of before) {
    const now = after.get(purpose);
    expect(now, purpose).toMatch(/^s1\./);
    // a plain value (before 0.7.0) is sealed; a sealed one opens to what it was
    if (!atRest.isSealed(value)) expect(now).not.toContain(value);
    const was = atRest.isSealed(value) ? atRest.open(purpose, value).value : value;
    expect(atRest.open(purpose, now as string).value, purpose).toBe(was);
  }
}

async function checkUpgrade(open: () => Promise<RootStore>, section: Section): Promise<void> {
  const store = await open();
  try {
    // no row lost
    for (const [table, n] of Object.entries(section.counts)) {
      if (isTracking(table)) continue;
      expect(await count(store, table), table).toBe(n);
    }
    // each module now tracks its own migrations, and knows the ones 0.1.0 ran
    const tracked: string[] = [];
    for (const m of storeMigrations()) {
      const rows = await store.db.selectFrom(migrationTable(m.module) as never).select('name' as never).execute();
      const names = (rows as { name: string }[]).map((r) => r.name);
      expect(names, m.module).toEqual(Object.keys(m.migrations(store.dialect)).sort());
      tracked.push(...names);
    }
    for (const name of section.values.migrations) expect(tracked).toContain(name);
  } finally {
    await store.close();
  }
}

for (const release of releases) {
  const dir = join(FIXTURES, release);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  const config = join(dir, 'fixture.yaml');
  const tmp = mkdtempSync(join(tmpdir(), `shipshape-upgrade-${release}-`));
  afterAll(async () => {
    await killUnder(tmp);
    rmSync(tmp, { recursive: true, force: true });
  });

  describe(`a store made by ${release}`, () => {
    it('opens on SQLite: migrated, nothing lost, a later migration of any module applies, data readable', async () => {
      const dataDir = join(tmp, 'sqlite');
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
      copyFileSync(join(dir, 'shipshape.db'), join(dataDir, 'shipshape.db'));
      await checkUpgrade(() => openStore({ dataDir }), expected.sqlite);

      await checkLaterMigration({ dataDir });
      const secrets = await storedSecrets(() => openStore({ dataDir }));

      const running = await startShipshape({ configPath: config, dataDir, port: 0, watchConfig: false, logger: pino({ level: 'silent' }), adminToken: expected.admin_token });
      try {
        await readBack(running, expected.admin_token, expected.sqlite);
      } finally {
        await running.stop();
        // a store from 0.3.0 on has a live release: its proxy daemon outlives the stop on purpose
        await killUnder(dataDir);
      }
      expectSealedAs(secrets, await storedSecrets(() => openStore({ dataDir })), AtRest.forServer(dataDir, { SHIPSHAPE_SECRET_KEY: FIXTURE_SECRET_KEY }), expected.sqlite);
    });

    it('opens on PostgreSQL (restored with psql from the pg_dump): migrated, nothing lost, data readable', async () => {
      const db = await createTestDatabase('shipshape_upgrade');
      try {
        const r = spawnSync('psql', ['-v', 'ON_ERROR_STOP=1', '-q', '-d', db.url, '-f', join(dir, 'postgres.sql')], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        await checkUpgrade(() => openStore({ databaseUrl: db.url }), expected.postgres);
        await checkLaterMigration({ databaseUrl: db.url });
        const secrets = await storedSecrets(() => openStore({ databaseUrl: db.url }));
        const dataDir = join(tmp, 'pg-data');
        const running = await startShipshape({ configPath: config, databaseUrl: db.url, dataDir, port: 0, watchConfig: false, logger: pino({ level: 'silent' }), adminToken: expected.admin_token });
        try {
          await readBack(running, expected.admin_token, expected.postgres);
        } finally {
          await running.stop();
          await killUnder(dataDir);
        }
        expectSealedAs(secrets, await storedSecrets(() => openStore({ databaseUrl: db.url })), AtRest.forServer(dataDir, { SHIPSHAPE_SECRET_KEY: FIXTURE_SECRET_KEY }), expected.postgres);
      } finally {
        await db.drop();
      }
    });
  });
}
