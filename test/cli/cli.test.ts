import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../helpers/target.js';
import { startTestServer } from '../helpers/server.js';

const BIN = resolve('bin/shipshape.js');
let dir: string;

/**
 * Let other users traverse every folder above `path` (only the search bit, o+x), so a command run
 * as nobody can reach the checkout and its node_modules even when it was cloned into a private
 * folder (`mktemp -d` makes one 0700). Returns the undo.
 */
function traversable(path: string): () => void {
  const changed: [string, number][] = [];
  for (let d = resolve(path); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if (!(mode & 0o001)) {
      chmodSync(d, mode | 0o001);
      changed.push([d, mode]);
    }
    if (d === dirname(d)) break;
  }
  return () => {
    for (const [d, mode] of changed.reverse()) chmodSync(d, mode);
  };
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; asNobody?: boolean } = {}): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, SHIPSHAPE_CONFIG: '', SHIPSHAPE_DATA_DIR: '', SHIPSHAPE_DATABASE_URL: '', ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  const cmd = opts.asNobody && process.getuid?.() === 0 ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  return spawnSync(cmd[0] as string, cmd[1] as string[], { encoding: 'utf8', env, cwd: dir, timeout: 60_000 });
}

/** Like cli() but without blocking this process (needed when the server runs in this process). */
function cliAsync(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env, ...opts.env };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function writeConfig(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-cli-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shipshape validate', () => {
  it('exits 0 with a summary for a good config', () => {
    const r = cli(['validate', '--config', resolve('examples/shipshape.yaml')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ok \(6 services, 7 checks\)/);
  });
  it('exits 1 naming file, line, key and expectation', () => {
    const p = writeConfig('bad.yaml', 'services:\n  web:\n    checks:\n      - http: { url: "http://x", every: soon }\n');
    const r = cli(['validate', '--config', p]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${p}:4:`);
    expect(r.stderr).toMatch(/services\.web\.checks\[0\]\.http\.every: expected a duration like 500ms, 30s, 5m, 2h or 1d, got "soon"/);
    const j = cli(['validate', '--config', p, '--json']);
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, errors: [{ line: 4, path: 'services.web.checks[0].http.every' }] });
  });
  it('reads SHIPSHAPE_CONFIG', () => {
    const p = writeConfig('env.yaml', 'services: {}\n');
    expect(cli(['validate'], { env: { SHIPSHAPE_CONFIG: p } }).stdout).toMatch(/ok \(0 services/);
  });
});

describe('shipshape check', () => {
  let t: Target;
  beforeAll(async () => {
    t = await startTarget();
  });
  afterAll(async () => t.close());

  it('runs checks once, prints a table and exits 1 when any fails (CI smoke test)', async () => {
    const p = writeConfig(
      'smoke.yaml',
      `services:\n  web:\n    checks:\n      - http: { url: "${t.url}/api/health" }\n        conditions: ['body.status == "healthy"']\n  db:\n    checks:\n      - postgres: { url: "postgres://postgres:hunter2@127.0.0.1:1/app", timeout: 2s }\n`,
    );
    const all = await cliAsync(['check', '--config', p, '--data-dir', join(dir, 'none')]);
    expect(all.status).toBe(1);
    expect(all.stdout).toMatch(/web\s+│\s+http\s+│\s+http\s+│\s+ok/);
    expect(all.stdout).toMatch(/db\s+│\s+postgres\s+│\s+postgres\s+│\s+FAIL\s+│.*refused/);
    expect(all.stdout).toMatch(/1 of 2 checks failed/);
    expect(all.stdout + all.stderr).not.toContain('hunter2');
    const web = await cliAsync(['check', 'web', '--config', p, '--data-dir', join(dir, 'none')]);
    expect(web.status).toBe(0);
    expect(web.stdout).toMatch(/all 1 checks passed/);
    const j = await cliAsync(['check', '--json', '--config', p, '--data-dir', join(dir, 'none')]);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.results[0]).toMatchObject({ id: 'web/http', ok: true, conditions: [{ condition: 'body.status == "healthy"', ok: true }, { condition: 'status == 2xx', ok: true }] });
    const unknown = cli(['check', 'nope', '--config', p]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no service "nope".*services: web, db/);
  });
});

describe('shipshape token and status', () => {
  it('creates, lists and revokes tokens; status reads a running server', async () => {
    const data = join(dir, 'tok-data');
    const made = cli(['token', 'create', '--name', 'ci', '--scope', 'read', '--data-dir', data, '--json']);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const { token, id } = JSON.parse(made.stdout) as { token: string; id: string };
    expect(token).toMatch(/^ss_/);
    const list = cli(['token', 'list', '--data-dir', data]);
    expect(list.stdout).toMatch(/ci\s+│\s+read/);
    expect(list.stdout).not.toContain(token);

    const t = await startTarget();
    const s = await startTestServer(`services:\n  web:\n    checks:\n      - http: { url: "${t.url}/", every: 1h }\n`);
    try {
      await s.monitor.runNow();
      const readTok = (await s.tokens.create('status', ['read'])).token;
      const st = await cliAsync(['status', '--url', s.url, '--token', readTok]);
      expect(st.status).toBe(0);
      expect(st.stdout).toMatch(/web\s+│\s+up\s+│.*│\s+1\/1 up/);
      const js = JSON.parse((await cliAsync(['status', '--json'], { env: { SHIPSHAPE_URL: s.url, SHIPSHAPE_TOKEN: readTok } })).stdout);
      expect(js[0]).toMatchObject({ name: 'web', state: 'up' });
      const bad = await cliAsync(['status', '--url', s.url, '--token', 'wrong']);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/answered 401 Unauthorized: the API token is not valid/);
    } finally {
      await s.close();
      await t.close();
    }
    expect(cli(['status', '--url', 'http://127.0.0.1:1', '--token', 'x']).stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1.*is `shipshape up` running/);
    expect(cli(['status']).status).toBe(2);

    expect(cli(['token', 'revoke', id, '--data-dir', data]).stdout).toMatch(/revoked token "ci"/);
    expect(cli(['token', 'list', '--data-dir', data, '--json']).stdout).toMatch(/"revoked_at": "\d{4}-/);
    expect(cli(['token', 'create', '--scope', 'root', '--data-dir', data]).stderr).toMatch(/Allowed choices are read, write, admin/);
  }, 90_000);
});

describe('shipshape up', () => {
  function startUp(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [BIN, 'up', ...args], { cwd: dir, env: { ...process.env, SHIPSHAPE_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const waitFor = async (re: RegExp, ms = 20_000) => {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    return { child, exited, waitFor, output: () => out };
  }

  it('writes the first admin token once to a 0600 file (stdout is no terminal); SIGTERM mid-check stops gracefully with nothing half-written', async () => {
    const t = await startTarget();
    t.set({ hang: true });
    const data = join(dir, 'up-data');
    const p = writeConfig('up.yaml', `services:\n  slow:\n    checks:\n      - http: { url: "${t.url}/", every: 2s, timeout: 2s }\n  fast:\n    checks:\n      - tcp: { host: 127.0.0.1, port: ${t.port}, every: 1s }\n`);
    const up = startUp(['--config', p, '--port', '0', '--data-dir', data]);
    try {
      await up.waitFor(/admin API token was created and written to \S*first-admin-token/);
      await up.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      const tokenFile = join(data, 'first-admin-token');
      const firstToken = readFileSync(tokenFile, 'utf8').trim();
      expect(firstToken).toMatch(/^ss_\S+$/);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(up.output()).not.toContain(firstToken);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(up.output())?.[1];
      // the fast check has succeeded (its bucket is open) and the hanging check is in flight
      await expect.poll(async () => (await fetch(`${url}/api/health/fast`)).status, { timeout: 10_000, interval: 50 }).toBe(200);
      await expect.poll(() => t.hanging(), { timeout: 10_000, interval: 10 }).toBeGreaterThan(0);
      up.child.kill('SIGTERM');
      // a stop that hung on the in-flight check would end this test with a timeout instead
      expect(await up.exited).toBe(0);
      expect(up.output()).toMatch(/SIGTERM: stopping/);
      expect(up.output()).not.toMatch(/stop failed/);
    } finally {
      up.child.kill('SIGKILL');
      await t.close();
    }
    const db = new Database(join(data, 'shipshape.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const types = (db.prepare('select type from events order by id').all() as { type: string }[]).map((r) => r.type);
    expect(types.at(-1)).toBe('shipshape.stopped');
    // the interrupted run is not recorded as a failure of the target
    const failures = db.prepare('select message from check_failures').all() as { message: string }[];
    expect(failures.some((f) => /stopping/.test(f.message))).toBe(false);
    expect((db.prepare("select count(*) n from open_buckets").get() as { n: number }).n).toBeGreaterThan(0);
    db.close();

    // a second start prints no new token
    const again = startUp(['--config', p, '--port', '0', '--data-dir', data]);
    await again.waitFor(/listening on/);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(again.output()).not.toMatch(/shown only this once|admin API token was created/);
  });

  it('refuses a second server on the same data dir', async () => {
    const data = join(dir, 'twice');
    const p = writeConfig('twice.yaml', 'services: {}\n');
    const first = startUp(['--config', p, '--port', '0', '--data-dir', data], { SHIPSHAPE_ADMIN_TOKEN: 'cli-test-admin-token-0123456789' });
    await first.waitFor(/listening on/);
    const second = cli(['up', '--config', p, '--port', '0', '--data-dir', data]);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/another shipshape \(pid \d+\) is already running on/);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('starts again at once after kill -9 (the lock dies with the process)', async () => {
    const data = join(dir, 'killed');
    const p = writeConfig('killed.yaml', 'services: {}\n');
    const env = { SHIPSHAPE_ADMIN_TOKEN: 'cli-test-admin-token-0123456789' };
    const first = startUp(['--config', p, '--port', '0', '--data-dir', data], env);
    await first.waitFor(/listening on/);
    first.child.kill('SIGKILL');
    await first.exited;
    const again = startUp(['--config', p, '--port', '0', '--data-dir', data], env);
    try {
      await again.waitFor(/listening on/);
    } finally {
      again.child.kill('SIGTERM');
    }
    expect(await again.exited).toBe(0);
    expect(again.output()).not.toMatch(/already running/);
  });

  it('a weak SHIPSHAPE_ADMIN_TOKEN stops the start with a clear message', () => {
    const p = writeConfig('weak.yaml', 'services: {}\n');
    const r = cli(['up', '--config', p, '--port', '0', '--data-dir', join(dir, 'weak')], { env: { SHIPSHAPE_ADMIN_TOKEN: 'a' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^shipshape: SHIPSHAPE_ADMIN_TOKEN must be at least 16 characters/);
  });

  it('a locked store is a clear error at start', async () => {
    const data = join(dir, 'locked');
    mkdirSync(data, { recursive: true });
    const holder = new Database(join(data, 'shipshape.db'));
    holder.pragma('journal_mode = WAL');
    holder.prepare('BEGIN EXCLUSIVE').run();
    const p = writeConfig('locked.yaml', 'services: {}\n');
    const r = cli(['up', '--config', p, '--port', '0', '--data-dir', data]);
    holder.prepare('ROLLBACK').run();
    holder.close();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the store .*shipshape\.db is locked by another process/);
  });

  it('a read-only store is a clear error at start', async () => {
    const data = join(dir, 'readonly');
    mkdirSync(data, { recursive: true });
    new Database(join(data, 'shipshape.db')).close();
    chmodSync(join(data, 'shipshape.db'), 0o444);
    chmodSync(data, 0o555);
    if (process.getuid?.() === 0) chownSync(data, 0, 0);
    const p = writeConfig('ro.yaml', 'services: {}\n');
    chmodSync(p, 0o644);
    const undo = traversable(resolve('.'));
    let r: SpawnSyncReturns<string>;
    try {
      r = cli(['up', '--config', p, '--port', '0', '--data-dir', data], { asNobody: true });
    } finally {
      undo();
    }
    chmodSync(data, 0o755);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is read-only: Shipshape needs to write to it/);
  });

  it('a PostgreSQL store that refuses connections is a clear error, without its password', () => {
    const p = writeConfig('pgdown.yaml', 'services: {}\n');
    const r = cli(['up', '--config', p, '--port', '0'], { env: { SHIPSHAPE_DATABASE_URL: 'postgres://shipshape:s3cret@127.0.0.1:1/shipshape' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to the store database postgres:\/\/shipshape:\*\*\*@127\.0\.0\.1:1\/shipshape: connection refused/);
    expect(r.stderr).not.toContain('s3cret');
  });

  it('a bad config stops the start with the error, and a busy port is explained', async () => {
    const bad = writeConfig('bad-up.yaml', 'services:\n  web:\n    checks:\n      - ping: {}\n');
    const r = cli(['up', '--config', bad, '--port', '0', '--data-dir', join(dir, 'bad-up')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:4:`);
    const s = await startTestServer('services: {}\n');
    try {
      const port = new URL(s.url).port;
      const busy = await cliAsync(['up', '--config', writeConfig('busy.yaml', 'services: {}\n'), '--port', port, '--data-dir', join(dir, 'busy')]);
      expect(busy.status).toBe(1);
      expect(busy.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    } finally {
      await s.close();
    }
  });
});
