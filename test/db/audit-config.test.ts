/**
 * The audit's settings in shipshape.yaml (`services.<name>.database.audit`) against the real
 * PostgreSQL: suppressions by rule and object (and by `*` glob) leave the findings and the exit code,
 * are listed with their reasons, and an unused one is reported; a suppression without a reason is a
 * config error at its line; `--suppress <file>`; `--format sarif` against the official SARIF schema;
 * `--roles`; the API route with the service's config; and the daily schedule with a moved clock:
 * `db.audit_completed` with new and resolved findings across runs, `db.audit_regressed`, a restart.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config/load.js';
import { EventLog } from '../../src/core/events.js';
import type { AuditReport } from '../../src/db/api-types.js';
import { auditOptionsOf } from '../../src/db/audit.js';
import { applySuppressions, auditSummary } from '../../src/db/audit-report.js';
import { createDb, type DbDomain } from '../../src/db/index.js';
import { openStore, parseConfig, type RawConfig, type RootStore } from '../../src/modules.js';
import { createTestDatabase } from '../helpers/pg.js';
import { moduleContext } from '../helpers/module-context.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { configErrorOf } from './helpers.js';

const BIN = resolve('bin/shipshape.js');
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const Ajv = AjvDraft04.default;
const SARIF_SCHEMA = JSON.parse(readFileSync(join(import.meta.dirname, '../secrets/fixtures/sarif-schema-2.1.0.json'), 'utf8')) as object;

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'db', 'audit', ...args], { env: { ...process.env, DATABASE_URL: '', SHIPSHAPE_DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/**
 * Three exposed tables without RLS (errors: the one the nightly job reads, two scratch tables),
 * one in the api schema, and a function without a fixed search_path (a warning).
 */
const SCHEMA_SQL = `
  create table legacy_import (id bigint primary key, payload text);
  create table tmp_a (id bigint primary key);
  create table tmp_b (id bigint primary key);
  create schema api;
  create table api.widgets (id bigint primary key);
  create function add_one(i int) returns int language sql as $$ select i + 1 $$;
`;

const SUPPRESS_YAML = `      suppress:
        - rule: rls_disabled
          object: public.legacy_import
          reason: "read by the nightly job only; not exposed"
        - { rule: rls_disabled, object: "public.tmp_*", reason: "scratch tables of the import, dropped after each run" }
        - { rule: duplicate_index, object: public.gone, reason: fixed in 042 }`;

const serviceYaml = (url: string, audit: string) => `services:
  web:
    database:
      url: ${url}
      audit:
${audit}
`;

const keys = (r: { findings: { rule: string; object: string }[] }) => r.findings.map((f) => `${f.rule} ${f.object}`);

/**
 * Two API roles of this test's own (roles are the server's, shared with every other test) and a
 * SECURITY DEFINER function only the first may execute: security_definer_function_executable is a
 * finding for the first role and none for the second.
 */
async function withApiRoles(url: string, fn: (a: string, b: string) => Promise<void>): Promise<void> {
  const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const [a, b] = [`shipshape_api_a_${tag}`, `shipshape_api_b_${tag}`];
  await sql(url, `create role ${a} nologin; create role ${b} nologin;
    create function grant_admin() returns int language sql security definer set search_path = '' as $$ select 1 $$;
    revoke execute on function grant_admin() from public; grant execute on function grant_admin() to ${a};`);
  try {
    await fn(a, b);
  } finally {
    await sql(url, `drop function grant_admin(); drop role ${a}; drop role ${b};`);
  }
}
const definerFinding = (r: AuditReport) => r.findings.find((f) => f.rule === 'security_definer_function_executable' && f.object === 'public.grant_admin()');

let db: { url: string; drop: () => Promise<void> };
let work: string;

beforeAll(async () => {
  db = await createTestDatabase('shipshape_auditcfg');
  await sql(db.url, SCHEMA_SQL);
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'shipshape-auditcfg-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

const writeConfig = (audit: string) => {
  const file = join(work, 'shipshape.yaml');
  writeFileSync(file, serviceYaml(db.url, audit));
  return file;
};

describe('audit settings in shipshape.yaml', () => {
  const FILE = '/srv/app/shipshape.yaml';
  const errorOf = (text: string): string => configErrorOf(text, FILE);


  it('reads schemas, roles, fail_on, a schedule and suppressions, with defaults', () => {
    const cfg = parseConfig(serviceYaml('postgres://app@db.internal/app', `        schemas: [public, api]\n        schedule: "0 6 * * *"\n${SUPPRESS_YAML.replace(/^ {6}/gm, '        ')}`), FILE, { env: {} });
    expect(cfg.raw.services.web?.database?.audit).toEqual({
      schemas: ['public', 'api'],
      roles: ['anon', 'authenticated'],
      fail_on: 'warn',
      schedule: '0 6 * * *',
      suppress: [
        { rule: 'rls_disabled', object: 'public.legacy_import', reason: 'read by the nightly job only; not exposed' },
        { rule: 'rls_disabled', object: 'public.tmp_*', reason: 'scratch tables of the import, dropped after each run' },
        { rule: 'duplicate_index', object: 'public.gone', reason: 'fixed in 042' },
      ],
    });
    // without an audit: section nothing changes (the defaults apply where it is read)
    expect(parseConfig(`services:\n  web:\n    database: { url: "postgres://app@db.internal/app" }\n`, FILE, { env: {} }).raw.services.web?.database?.audit).toBeUndefined();
  });

  it('refuses a suppression without a reason, naming the file, line and key', () => {
    const text = serviceYaml('postgres://app@db.internal/app', '        suppress:\n          - rule: rls_disabled\n            object: public.legacy_import\n');
    expect(errorOf(text)).toBe('/srv/app/shipshape.yaml:7:13: services.web.database.audit.suppress[0].reason: is required (expected string)');
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        suppress: [{ rule: rls_disabled, reason: "  " }]'))).toMatch(/shipshape\.yaml:6:\d+: services\.web\.database\.audit\.suppress\[0\]\.reason: a suppression needs a reason/);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', `        suppress: [{ rule: rls_disabled, reason: "${'x'.repeat(501)}" }]`))).toMatch(/services\.web\.database\.audit\.suppress\[0\]\.reason: .*500/);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        suppress: [{ rule: "RLS disabled", reason: ok }]'))).toMatch(/suppress\[0\]\.rule: expected an audit rule name like rls_disabled/);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        fail_on: fatal'))).toMatch(/:6:\d+: services\.web\.database\.audit\.fail_on: /);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        roles: ["anon; drop"]'))).toMatch(/services\.web\.database\.audit\.roles\[0\]: expected a role name/);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        schedule: "0 6 * *"'))).toMatch(/services\.web\.database\.audit\.schedule: expected 5 fields/);
    expect(errorOf(serviceYaml('postgres://app@db.internal/app', '        ignore: [rls_disabled]'))).toMatch(/services\.web\.database\.audit: unknown key "ignore"/);
  });

  it('applySuppressions moves accepted findings out of the findings and the counts, and reports the unused ones', () => {
    const f = (rule: string, level: 'info' | 'warn' | 'error', object: string) => ({ rule, level, object, message: `${rule} on ${object}`, remediation: 'fix it' });
    const report: AuditReport = {
      findings: [f('rls_disabled', 'error', 'public.tmp_a'), f('rls_disabled', 'error', 'public.users'), f('no_primary_key', 'warn', 'public.tmp_a'), f('no_primary_key', 'warn', 'public.log')],
      checked: { tables: 3, functions: 0, indexes: 0, pg_stat_statements: false, server_version: '15' },
      counts: { error: 2, warn: 2, info: 0 },
    };
    const r = applySuppressions(report, [
      { rule: 'rls_disabled', object: 'public.tmp_*', reason: 'scratch' },
      { rule: 'no_primary_key', reason: 'append-only logs' },
      { rule: 'no_primary_key', object: 'public.log', reason: 'also matches: used' },
      { rule: 'rls_disabled', object: 'public.tmp', reason: 'no glob: matches nothing', source: 'x.yaml[3]' },
    ]);
    expect(keys(r)).toEqual(['rls_disabled public.users']);
    expect(r.counts).toEqual({ error: 1, warn: 0, info: 0 });
    expect(r.suppressed?.map((s) => `${s.rule} ${s.object}: ${s.reason}`)).toEqual(['rls_disabled public.tmp_a: scratch', 'no_primary_key public.tmp_a: append-only logs', 'no_primary_key public.log: append-only logs']);
    expect(r.unused_suppressions).toEqual([{ rule: 'rls_disabled', object: 'public.tmp', reason: 'no glob: matches nothing', source: 'x.yaml[3]' }]);
    expect(auditSummary(r, 'web')).toBe('audit of web: 1 error, 0 warnings, 0 notes (3 suppressed)');
    // regular-expression characters in an object are themselves
    expect(applySuppressions(report, [{ rule: 'rls_disabled', object: 'public.tmp_.', reason: 'x' }]).findings).toHaveLength(4);
  });

  it('auditOptionsOf passes the roles on, checked like the schemas', () => {
    const names = { schemas: '--schemas', longQuery: '--long-query', roles: '--roles' };
    expect(auditOptionsOf({ schemas: 'public', longQuery: '5m', roles: 'anon, authenticated,service_role' }, names)).toEqual({ exposedSchemas: ['public'], longQueryMs: 300_000, roles: ['anon', 'authenticated', 'service_role'] });
    expect(() => auditOptionsOf({ schemas: 'public', longQuery: '5m', roles: 'anon;drop role x' }, names)).toThrow('--roles: expected role names separated by commas, like anon,authenticated; "anon;drop role x" is not one');
    expect(() => auditOptionsOf({ schemas: 'public', longQuery: '5m', roles: ' , ' }, names)).toThrow(/^--roles: expected role names/);
  });
});

describe('shipshape db audit with the service\'s settings', { timeout: 240_000 }, () => {
  it('suppressions by rule and object and by glob hide findings, are listed with their reasons, change the exit code; an unused one is reported', async () => {
    // without suppressions: the four tables without RLS are errors
    const plain = await cli(['--url', db.url, '--fail-on', 'error', '--schemas', 'public,api']);
    expect(plain.status).toBe(1);
    expect(plain.stdout).toContain('rls_disabled  public.legacy_import');
    expect(plain.stdout).toContain('rls_disabled  public.tmp_b');

    const file = writeConfig(`        schemas: [public, api]\n        fail_on: error\n${SUPPRESS_YAML.replace(/^ {6}/gm, '        ')}`);
    const base = ['--service', 'web', '-c', file, '--data-dir', join(work, 'none')];
    const j = await cli([...base, '--json']);
    const r = JSON.parse(j.stdout) as AuditReport & { database: string };
    expect(keys(r)).not.toContain('rls_disabled public.legacy_import');
    expect(keys(r).filter((k) => k.startsWith('rls_disabled '))).toEqual(['rls_disabled api.widgets']);
    expect(r.suppressed?.map((s) => [s.rule, s.object, s.level, s.reason])).toEqual([
      ['rls_disabled', 'public.legacy_import', 'error', 'read by the nightly job only; not exposed'],
      ['rls_disabled', 'public.tmp_a', 'error', 'scratch tables of the import, dropped after each run'],
      ['rls_disabled', 'public.tmp_b', 'error', 'scratch tables of the import, dropped after each run'],
    ]);
    expect(r.unused_suppressions).toEqual([{ rule: 'duplicate_index', object: 'public.gone', reason: 'fixed in 042', source: 'services.web.database.audit.suppress[2]' }]);
    expect(r.counts.error).toBe(r.findings.filter((f) => f.level === 'error').length);
    // api.widgets is still an error at the configured fail_on
    expect(j.status).toBe(1);
    expect(j.stderr).toContain('warning: the suppression of duplicate_index on public.gone (services.web.database.audit.suppress[2]) matched no finding: remove it if what it accepted is gone');

    // only public exposed (--schemas over the config): nothing at fail_on error is left, exit 0; at warn the function still fails it
    const text = await cli([...base, '--schemas', 'public']);
    expect(text.stdout).not.toContain('rls_disabled  public.legacy_import');
    expect(text.stdout).toContain('function_search_path_mutable  public.add_one(i integer)');
    expect(text.stdout).toContain('suppressed: rls_disabled public.legacy_import — read by the nightly job only; not exposed\nsuppressed: rls_disabled public.tmp_a — scratch tables of the import, dropped after each run\nsuppressed: rls_disabled public.tmp_b — scratch tables of the import, dropped after each run\n');
    expect(text.stdout).toMatch(/: 0 errors, \d+ warnings, \d+ notes, 3 suppressed\n$/);
    expect(text.status).toBe(0);
    expect((await cli([...base, '--schemas', 'public', '--fail-on', 'warn'])).status).toBe(1);
  });

  it('--suppress <file> adds a YAML or JSON list; a bad entry names the file, line and key', async () => {
    const accepted = join(work, 'accepted.yaml');
    writeFileSync(accepted, '# reviewed in #42\n- rule: rls_disabled\n  object: public.legacy_import\n  reason: accepted in review 42\n- { rule: rls_disabled, object: "public.tmp_*", reason: scratch }\n');
    const json = join(work, 'accepted.json');
    writeFileSync(json, JSON.stringify([{ rule: 'rls_disabled', object: 'api.*', reason: 'the api schema is not served yet' }]));
    const ok = await cli(['--url', db.url, '--schemas', 'public,api', '--fail-on', 'error', '--suppress', accepted, '--suppress', json, '--json']);
    expect(ok.status).toBe(0);
    const r = JSON.parse(ok.stdout) as AuditReport;
    expect(r.suppressed?.map((s) => `${s.object}: ${s.reason}`)).toEqual(['api.widgets: the api schema is not served yet', 'public.legacy_import: accepted in review 42', 'public.tmp_a: scratch', 'public.tmp_b: scratch']);
    expect(r.unused_suppressions).toEqual([]);

    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, '- rule: rls_disabled\n  object: public.legacy_import\n- rule: no_primary_key\n  reason: ""\n');
    const b = await cli(['--url', db.url, '--suppress', bad]);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain(`${bad}:1:3: [0].reason: is required (expected string)`);
    expect(b.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:11: \\[1\\]\\.reason: a suppression needs a reason`));
    const missing = await cli(['--url', db.url, '--suppress', join(work, 'nope.yaml')]);
    expect(missing).toMatchObject({ status: 2, stderr: expect.stringContaining('nope.yaml: cannot read the suppressions file: file not found') });

    // the same in shipshape.yaml: a config error at the suppression's line, exit 2
    const file = writeConfig('        suppress:\n          - rule: rls_disabled\n            object: public.legacy_import\n');
    const c = await cli(['--service', 'web', '-c', file]);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain(`${file}:7:13: services.web.database.audit.suppress[0].reason: is required (expected string)`);
  });

  it('--roles, else the service\'s audit.roles, choose whose privileges count', async () => {
    await withApiRoles(db.url, async (a, b) => {
      const run = async (args: string[]) => {
        const res = await cli([...args, '--json']);
        return JSON.parse(res.stdout) as AuditReport;
      };
      const forA = await run(['--url', db.url, '--roles', a]);
      expect(forA.checked.roles).toEqual([a]);
      expect(definerFinding(forA)?.message).toMatch(new RegExp(`^SECURITY DEFINER function public\\.grant_admin\\(\\) can be called by ${a}:`));
      const forB = await run(['--url', db.url, '--roles', b]);
      expect(forB.checked.roles).toEqual([b]);
      expect(definerFinding(forB)).toBeUndefined();
      // without --roles: anon and authenticated, which this server does not have, so PUBLIC stands for them (and may not execute it)
      const none = await run(['--url', db.url]);
      expect(none.checked.roles).toEqual(['PUBLIC']);
      expect(definerFinding(none)).toBeUndefined();

      const file = writeConfig(`        roles: [${a}]\n`);
      const fromConfig = await run(['--service', 'web', '-c', file]);
      expect(fromConfig.checked.roles).toEqual([a]);
      expect(definerFinding(fromConfig)).toBeDefined();
      expect(definerFinding(await run(['--service', 'web', '-c', file, '--roles', b]))).toBeUndefined();
    });
  });

  it('--format sarif is valid SARIF 2.1.0 with suppressed findings as suppressed results; --roles is read like --schemas', async () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(SARIF_SCHEMA);
    const file = writeConfig(`        fail_on: error\n${SUPPRESS_YAML.replace(/^ {6}/gm, '        ')}`);
    const s = await cli(['--service', 'web', '-c', file, '--format', 'sarif']);
    expect(s.status).toBe(0);
    type Result = { ruleId: string; level: string; message: { text: string }; locations: { logicalLocations: { name: string; kind: string }[] }[]; suppressions?: { kind: string; justification: string }[] };
    const sarif = JSON.parse(s.stdout) as { version: string; runs: { tool: { driver: { name: string; version: string; rules: { id: string; defaultConfiguration: { level: string } }[] } }; results: Result[]; invocations: { toolExecutionNotifications: { message: { text: string } }[] }[]; properties: { database: string } }[] };
    expect(validate(sarif) ? [] : validate.errors).toEqual([]);
    const run = sarif.runs[0];
    expect(run?.tool.driver).toMatchObject({ name: 'shipshape db audit', version: VERSION });
    expect(run?.tool.driver.rules.find((x) => x.id === 'rls_disabled')).toMatchObject({ defaultConfiguration: { level: 'error' } });
    const legacy = run?.results.find((x) => x.locations[0]?.logicalLocations[0]?.name === 'public.legacy_import' && x.ruleId === 'rls_disabled');
    expect(legacy).toMatchObject({
      level: 'error',
      message: { text: expect.stringMatching(/^row level security is off on public\.legacy_import.* Fix: alter table public\.legacy_import enable row level security; then add policies$/) },
      locations: [{ logicalLocations: [{ name: 'public.legacy_import', kind: 'table' }] }],
      suppressions: [{ kind: 'external', justification: 'read by the nightly job only; not exposed' }],
    });
    const fn = run?.results.find((x) => x.ruleId === 'function_search_path_mutable');
    expect(fn).toMatchObject({ level: 'warning', locations: [{ logicalLocations: [{ name: 'public.add_one(i integer)', kind: 'function' }] }] });
    expect(fn?.suppressions).toBeUndefined();
    expect(run?.invocations[0]?.toolExecutionNotifications.map((n) => n.message.text)).toEqual(['the suppression of duplicate_index on public.gone (services.web.database.audit.suppress[2]) matched no finding: remove it if what it accepted is gone']);
    expect(run?.properties.database).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\/shipshape_auditcfg_/);
    // the schema rejects what is not SARIF: the check above can fail
    expect(validate({ ...sarif, version: '2.0.0' })).toBe(false);

    // --json is --format json; a bad format, both at once, or a bad role list is bad input
    const both = await cli(['--url', db.url, '--json', '--format', 'sarif']);
    expect(both).toMatchObject({ status: 2, stderr: expect.stringContaining('--json is --format json: give one of them') });
    expect(await cli(['--url', db.url, '--format', 'xml'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--format: expected one of text, json, sarif, got "xml"') });
    expect(await cli(['--url', db.url, '--roles', 'anon;drop role x'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--roles: expected role names separated by commas') });
    // the service's fail_on is read: at info the function's warning fails it, with --fail-on error it does not
    const strict = writeConfig('        roles: [anon]\n        fail_on: info\n        schemas: [nothing_exposed]\n');
    expect((await cli(['--service', 'web', '-c', strict, '--json'])).status).toBe(1);
    expect((await cli(['--service', 'web', '-c', strict, '--json', '--fail-on', 'error'])).status).toBe(0);
  });
});

describe('GET /api/v1/db/<service>/audit with the service\'s settings', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(serviceYaml(db.url, `        schemas: [public, api]\n${SUPPRESS_YAML.replace(/^ {6}/gm, '        ')}`));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('applies the config\'s schemas and suppressions; the query overrides schemas and roles; read scope', async () => {
    const res = await s.api('/api/v1/db/web/audit');
    expect(res.status).toBe(200);
    const r = (await res.json()) as AuditReport;
    expect(keys(r).filter((k) => k.startsWith('rls_disabled '))).toEqual(['rls_disabled api.widgets']);
    expect(r.suppressed?.map((x) => `${x.object}: ${x.reason}`)).toEqual(['public.legacy_import: read by the nightly job only; not exposed', 'public.tmp_a: scratch tables of the import, dropped after each run', 'public.tmp_b: scratch tables of the import, dropped after each run']);
    expect(r.unused_suppressions).toEqual([{ rule: 'duplicate_index', object: 'public.gone', reason: 'fixed in 042', source: 'services.web.database.audit.suppress[2]' }]);
    expect(r.counts.error).toBe(r.findings.filter((f) => f.level === 'error').length);

    // schemas from the query: api is not exposed now, the suppressions still apply
    const pub = (await (await s.api('/api/v1/db/web/audit?schemas=public&roles=anon')).json()) as AuditReport;
    expect(keys(pub).filter((k) => k.startsWith('rls_disabled '))).toEqual([]);
    expect(pub.suppressed).toHaveLength(3);

    // roles from the query
    await withApiRoles(db.url, async (a, b) => {
      const forA = (await (await s.api(`/api/v1/db/web/audit?roles=${a}`)).json()) as AuditReport;
      expect(forA.checked.roles).toEqual([a]);
      expect(definerFinding(forA)).toBeDefined();
      const forB = (await (await s.api(`/api/v1/db/web/audit?roles=${b},${a}_gone`)).json()) as AuditReport;
      expect(forB.checked.roles).toEqual([b]);
      expect(definerFinding(forB)).toBeUndefined();
    });

    const bad = await s.api('/api/v1/db/web/audit?roles=anon;drop');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('query.roles: expected role names separated by commas');
    expect((await s.api('/api/v1/db/web/audit', { token: null })).status).toBe(401);
  });
});

describe('the audit on a schedule while the server runs', () => {
  let own: { url: string; drop: () => Promise<void> };
  let store: RootStore;
  let events: EventLog;
  let now: number;
  let config: Config<RawConfig>;
  let dir: string;
  const mods: DbDomain[] = [];

  beforeAll(async () => {
    own = await createTestDatabase('shipshape_auditsched');
    await sql(own.url, SCHEMA_SQL);
    dir = mkdtempSync(join(tmpdir(), 'shipshape-auditsched-'));
  });
  afterAll(async () => {
    for (const m of mods) await m.stop?.();
    await store?.close();
    await own?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs on its cron in backups.timezone and writes db.audit_completed with what is new and resolved, and db.audit_regressed', async () => {
    store = await openStore({ dataDir: join(dir, 'data') });
    events = new EventLog(store, () => now);
    const secretUrl = new URL(own.url);
    secretUrl.password = 'hunter2-not-needed';
    const yaml = `services:
  web:
    database:
      url: ${secretUrl.toString()}
      backups: { timezone: Europe/Berlin }
      audit:
        schedule: "0 6 * * *"
        fail_on: error
        suppress:
          - { rule: rls_disabled, object: public.legacy_import, reason: read by the nightly job only }
  broken:
    database:
      url: postgres://postgres@127.0.0.1:1/nothing
      audit: { schedule: "0 6 * * *" }
`;
    config = parseConfig(yaml, join(dir, 'shipshape.yaml'), { env: {} });
    const start = async () => {
      const m = createDb(moduleContext({ store, events, config: () => config, now: () => now, dataDir: join(dir, 'data') }));
      mods.push(m);
      await m.start?.();
      return m;
    };
    const audits = async () =>
      (await events.list({ limit: 100, type: 'db.*' }))
        .filter((e) => e.type.startsWith('db.audit_'))
        .reverse();

    now = Date.parse('2026-05-01T12:00:00Z');
    const dbm = await start();
    // 06:00 in Berlin is 04:00 UTC in May; broken's schedule is read in UTC
    expect(dbm.audits.list()).toEqual([
      { service: 'web', schedule: '0 6 * * *', timezone: 'Europe/Berlin', next: '2026-05-02T04:00:00.000Z' },
      { service: 'broken', schedule: '0 6 * * *', timezone: 'UTC', next: '2026-05-02T06:00:00.000Z' },
    ]);
    expect(await dbm.auditTick()).toEqual([]);

    now = Date.parse('2026-05-02T04:00:00Z');
    const [first] = await dbm.auditTick();
    expect(first).toMatchObject({ service: 'web', ok: true, suppressed: 1, resolved: [] });
    expect(first?.new).toEqual(expect.arrayContaining([{ rule: 'rls_disabled', level: 'error', object: 'public.tmp_a' }, { rule: 'rls_disabled', level: 'error', object: 'public.tmp_b' }]));
    expect(first?.regressed?.map((f) => f.object)).toEqual(['public.tmp_a', 'public.tmp_b']);
    let ev = await audits();
    expect(ev.map((e) => [e.type, e.actor, e.subject])).toEqual([
      ['db.audit_completed', 'schedule', 'service:web'],
      ['db.audit_regressed', 'schedule', 'service:web'],
    ]);
    expect(ev[0]?.data).toMatchObject({ service: 'web', first_run: true, fail_on: 'error', suppressed: 1, summary: expect.stringMatching(/^audit of web: 2 errors, \d+ warnings?, \d+ notes? \(1 suppressed\)$/), database: expect.stringMatching(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/shipshape_auditsched_/) });
    expect(ev[1]?.data).toMatchObject({ summary: 'audit of web: 2 new findings at error or worse: rls_disabled public.tmp_a, rls_disabled public.tmp_b', total: 2 });
    expect(JSON.stringify(ev)).not.toContain('hunter2');

    // the broken database's run fails, on the log too
    now = Date.parse('2026-05-02T06:00:00Z');
    const [broken] = await dbm.auditTick();
    expect(broken).toMatchObject({ service: 'broken', ok: false, error: expect.stringContaining('cannot connect to postgres://postgres@127.0.0.1:1/nothing') });
    expect((await audits()).at(-1)).toMatchObject({ type: 'db.audit_failed', subject: 'service:broken', data: { summary: expect.stringMatching(/^scheduled audit of broken failed: cannot connect/) } });

    // overnight: a new table without RLS, and tmp_a gets RLS and a policy
    await sql(own.url, 'create table new_leak (id bigint primary key); alter table tmp_a enable row level security; create policy own on tmp_a using (id > 0);');
    now = Date.parse('2026-05-03T04:00:00Z');
    const [second] = await dbm.auditTick();
    expect(second?.new?.filter((f) => f.rule === 'rls_disabled')).toEqual([{ rule: 'rls_disabled', level: 'error', object: 'public.new_leak' }]);
    expect(second?.resolved).toContainEqual({ rule: 'rls_disabled', level: 'error', object: 'public.tmp_a' });
    expect(second?.regressed?.map((f) => `${f.rule} ${f.object}`)).toEqual(['rls_disabled public.new_leak']);
    ev = (await audits()).filter((e) => e.subject === 'service:web');
    expect(ev.map((e) => e.type)).toEqual(['db.audit_completed', 'db.audit_regressed', 'db.audit_completed', 'db.audit_regressed']);
    expect(ev[2]?.data).toMatchObject({ new: expect.arrayContaining([{ rule: 'rls_disabled', level: 'error', object: 'public.new_leak' }]), resolved: expect.arrayContaining([{ rule: 'rls_disabled', level: 'error', object: 'public.tmp_a' }]) });
    expect(ev[2]?.data.first_run).toBeUndefined();
    expect(ev[3]?.data).toMatchObject({ summary: 'audit of web: 1 new finding at error or worse: rls_disabled public.new_leak', findings: [{ rule: 'rls_disabled', level: 'error', object: 'public.new_leak' }] });

    // a restart keeps the last run's findings: the next run with nothing changed has nothing new, and no regression
    await dbm.stop?.();
    now = Date.parse('2026-05-04T04:00:00Z');
    const again = await start();
    expect(again.audits.list()[0]?.next).toBe('2026-05-04T04:00:00.000Z');
    const [third] = (await again.auditTick()).filter((o) => o.service === 'web');
    expect(third).toMatchObject({ ok: true, new: [], resolved: [], regressed: [] });
    expect((await audits()).filter((e) => e.subject === 'service:web').map((e) => e.type)).toEqual(['db.audit_completed', 'db.audit_regressed', 'db.audit_completed', 'db.audit_regressed', 'db.audit_completed']);
  });
});
