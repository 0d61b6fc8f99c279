/**
 * Backups of a service's PostgreSQL with the real `pg_dump` / `pg_restore`, to a local directory
 * or to S3-compatible storage (`s3://bucket/prefix`, see s3.ts: the backup is made in a private
 * staging directory, uploaded, and downloaded again to verify or restore).
 *
 * A backup is a directory `<dest>/<id>/` holding `dump.pgdump` (custom format) and
 * `manifest.json`: the dump's SHA-256 and size, the server and pg_dump versions, and per table the
 * row count and a checksum of sampled rows, all read in the snapshot pg_dump dumps (exported with
 * `pg_export_snapshot()`), so the figures describe exactly what is in the file. It is written under
 * a `.partial` name and renamed at the end: a failed dump leaves no backup behind.
 *
 * Verifying restores the dump into a scratch database, compares every table's row count and
 * sampled-row checksum with the manifest, drops the scratch database and records the outcome in
 * `verification.json` beside the manifest.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { keyId, parseKey } from '../core/at-rest.js';
import { ServiceError } from '../core/errors.js';
import { urlPassword } from '../core/redact.js';
import { planRetention, reasonText, type RetentionPolicy } from './retention.js';
import { isS3, parseS3, s3Path, s3SettingsFrom, splitS3Backup, S3Store, type S3Settings } from './s3.js';
import type { EventSink } from './service.js';
import { connect, databaseLabel, maskUrl, scrubFor } from './target.js';

export interface TableFigure {
  schema: string;
  name: string;
  rows: number;
  /** md5 over the text of up to SAMPLE rows, taken in primary-key order (or text order without one) */
  sample: string;
}

export interface BackupManifest {
  id: string;
  /** custom: one file (pg_dump -Fc); directory: one file per table, dumped and restored with `jobs` workers (-Fd -j) */
  format: 'custom' | 'directory';
  /** workers used to dump (directory format) */
  jobs?: number;
  /** set when the dump is encrypted (AES-256-GCM, key from SHIPSHAPE_BACKUP_KEY): which key, by the start of its SHA-256 */
  encryption?: { algorithm: 'aes-256-gcm'; key_id: string };
  file: string;
  created_at: string;
  duration_ms: number;
  service?: string;
  database: string;
  server_version: string;
  pg_dump_version: string;
  size: number;
  sha256: string;
  tables: TableFigure[];
}

export interface Verification {
  at: string;
  ok: boolean;
  duration_ms: number;
  mismatches: string[];
}

export interface BackupInfo extends BackupManifest {
  path: string;
  verified: Verification | null;
}

const SAMPLE = 1000;
const DUMP = 'dump.pgdump';
const DUMP_ENC = 'dump.pgdump.enc';
/** An encrypted dump: this, a 12-byte IV, the ciphertext, the 16-byte GCM tag. */
const MAGIC = Buffer.from('SSBK1\n');

/** The backup key from SHIPSHAPE_BACKUP_KEY (32 bytes: 64 hex characters or base64), or undefined when unset. */
export function backupKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const raw = env.SHIPSHAPE_BACKUP_KEY;
  return raw?.trim() ? parseKey(raw, 'SHIPSHAPE_BACKUP_KEY') : undefined;
}

/** Decrypt an encrypted dump into `out`, checking the GCM tag (a wrong key or a changed byte fails here). */
async function decryptFile(file: string, key: Buffer, out: string): Promise<void> {
  const size = statSync(file).size;
  const head = Buffer.alloc(MAGIC.length + 12);
  const tag = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
    readSync(fd, tag, 0, 16, size - 16);
  } finally {
    closeSync(fd);
  }
  if (size < head.length + 16 || !head.subarray(0, MAGIC.length).equals(MAGIC)) throw new ServiceError('invalid', `${file} is not an encrypted Shipshape dump`);
  const decipher = createDecipheriv('aes-256-gcm', key, head.subarray(MAGIC.length));
  decipher.setAuthTag(tag);
  try {
    await pipeline(createReadStream(file, { start: head.length, end: size - 17 }), decipher, createWriteStream(out, { mode: 0o600 }));
  } catch (e) {
    rmSync(out, { force: true });
    throw new ServiceError('invalid', `cannot decrypt ${file}: ${/auth/i.test((e as Error).message) ? 'the key does not match or the file was changed' : (e as Error).message}`);
  }
}
const DUMP_DIR = 'dump';

/** A URL without its password (given to pg tools through PGPASSWORD instead, so `ps` never shows it). */
function toolUrl(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const pw = urlPassword(url);
  try {
    const u = new URL(url);
    u.password = '';
    return { url: u.toString(), env: pw ? { PGPASSWORD: pw } : {} };
  } catch {
    return { url, env: {} };
  }
}

interface RunOut {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Abort: the tool is killed (SIGTERM) and the promise rejects. */
function stopped(signal: AbortSignal | undefined): Error {
  return new ServiceError('busy', typeof signal?.reason === 'string' ? signal.reason : 'stopped: Shipshape is shutting down');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, signal?: AbortSignal): Promise<RunOut> {
  return new Promise((done, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 1_000_000) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 100_000) stderr += d.toString();
    });
    child.on('error', (e) => reject(signal?.aborted ? stopped(signal) : e));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function major(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100);
}

/**
 * The pg tool (pg_dump, pg_restore) able to talk to a server of `serverMajor`: $PG_BIN_DIR, then
 * Debian's /usr/lib/postgresql/<major>/bin for the server's major or a newer one, then PATH.
 * Throws naming the client version needed when only older ones are installed.
 */
export async function findTool(tool: 'pg_dump' | 'pg_restore', serverMajor: number): Promise<{ path: string; version: string }> {
  const candidates: string[] = [];
  if (process.env.PG_BIN_DIR) candidates.push(join(process.env.PG_BIN_DIR, tool));
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const majors = readdirSync(base)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n >= serverMajor)
      .sort((a, b) => a - b);
    for (const m of majors) candidates.push(join(base, String(m), 'bin', tool));
  }
  candidates.push(tool);
  const seen: string[] = [];
  for (const c of candidates) {
    if (c.includes('/') && !existsSync(c)) continue;
    const r = await run(c, ['--version']).catch(() => undefined);
    if (!r || r.code !== 0) continue;
    const version = r.stdout.trim();
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    const m = /\)\s+(\d+)/.exec(version) ?? /\s(\d+)/.exec(version);
    const mj = Number(m?.[1] ?? 0);
    seen.push(`${c} (${version})`);
    if (mj >= serverMajor) return { path: c, version };
  }
  throw new ServiceError(
    'invalid',
    seen.length
      ? `${tool} ${serverMajor} or newer is needed to ${tool === 'pg_dump' ? 'dump' : 'restore into'} a PostgreSQL ${serverMajor} server; found only ${seen.join(', ')}. Install postgresql-client-${serverMajor} (or set PG_BIN_DIR to its bin directory)`
      : `${tool} is not installed: install postgresql-client-${serverMajor} (or set PG_BIN_DIR to the directory holding ${tool})`,
  );
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Row count and sampled-row checksum of every ordinary table outside the system schemas, in the session's snapshot. */
async function figures(c: pg.Client): Promise<TableFigure[]> {
  const tables = await c.query<{ schema: string; name: string; pk: string[] | null }>(
    `select n.nspname as schema, t.relname as name,
            (select array_agg(a.attname::text order by k.ord) from pg_index i
               cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
              where i.indrelid = t.oid and i.indisprimary) as pk
       from pg_class t join pg_namespace n on n.oid = t.relnamespace
      where t.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
      order by 1, 2`,
  );
  const out: TableFigure[] = [];
  for (const t of tables.rows) {
    const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    const order = t.pk?.length ? t.pk.map((k) => `s.${quoteIdent(k)}`).join(', ') : 's::text';
    const r = await c.query<{ rows: string; sample: string | null }>(
      `select (select count(*) from ${rel}) as rows,
              (select md5(coalesce(string_agg(x, E'\\n'), '')) from (select s::text as x from ${rel} s order by ${order} limit ${SAMPLE}) q) as sample`,
    );
    out.push({ schema: t.schema, name: t.name, rows: Number(r.rows[0]?.rows ?? 0), sample: r.rows[0]?.sample ?? '' });
  }
  return out;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** SHA-256 of a dump: the file's, or for a directory dump one over each file's name and SHA-256, in name order. */
async function sha256Dump(path: string): Promise<{ sha256: string; size: number }> {
  if (!statSync(path).isDirectory()) return { sha256: await sha256File(path), size: statSync(path).size };
  const h = createHash('sha256');
  let size = 0;
  for (const name of readdirSync(path).sort()) {
    const f = join(path, name);
    size += statSync(f).size;
    h.update(`${name}\n${await sha256File(f)}\n`);
  }
  return { sha256: h.digest('hex'), size };
}

function idFor(label: string, now: Date): string {
  return `${label.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 60)}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/** The id, or with -2, -3 … when a backup of that second is already there (two backups in one second). */
function freeId(dest: string, id: string): string {
  let out = id;
  for (let n = 2; existsSync(join(dest, out)) || existsSync(join(dest, `.${out}.partial`)); n++) out = `${id}-${n}`;
  return out;
}

/** A directory dump restores with as many workers as dumped it. */
function jobsArgs(b: BackupManifest): string[] {
  return b.format === 'directory' && (b.jobs ?? 1) > 1 ? [`--jobs=${b.jobs}`] : [];
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** pg_dump to stdout, through AES-256-GCM, into `file` (MAGIC, IV, ciphertext, tag). */
function dumpEncrypted(tool: string, args: string[], env: NodeJS.ProcessEnv, file: string, key: Buffer, signal?: AbortSignal): Promise<RunOut> {
  return new Promise((done, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 100_000) stderr += d.toString();
    });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const out = createWriteStream(file, { mode: 0o600 });
    out.write(Buffer.concat([MAGIC, iv]));
    let written: Error | undefined;
    const piped = pipeline(
      child.stdout,
      cipher,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) yield chunk;
        yield cipher.getAuthTag();
      },
      out,
    ).catch((e: Error) => {
      written = e;
      child.kill();
    });
    child.on('error', (e) => reject(signal?.aborted ? stopped(signal) : e));
    child.on('close', (code) => {
      void piped.then(() => done({ code: written ? code || 1 : code, stdout: '', stderr: written ? `${stderr}${written.message}\n` : stderr }));
    });
  });
}

/** What a scheduler recorded about its last run of one kind for one service (`<dir>/.schedule-<service>.json`). */
export interface ScheduledRun {
  at: string;
  ok: boolean;
  /** the backup taken or verified */
  id?: string;
  error?: string;
}

export interface ScheduleState {
  /** when the scheduler first watched this service's backups (an absent-backup alert counts from here until the first backup) */
  since?: string;
  backup?: ScheduledRun;
  verify?: ScheduledRun;
}

/**
 * Where the scheduler keeps its record for the backups in `dir`: beside them for a directory; for
 * an S3 location, under the data directory (one folder per location).
 */
export function scheduleStateDir(dir: string, dataDir: string): string {
  if (!isS3(dir)) return dir;
  const loc = parseS3(dir);
  return join(resolve(dataDir), 'backup-state', `s3-${loc.bucket}-${createHash('sha256').update(loc.url).digest('hex').slice(0, 12)}`);
}

const stateFile = (dir: string, service: string) => join(resolve(dir), `.schedule-${service.replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`);

/** The scheduler's record for a service's backups in `dir` (empty when there is none). */
export function readScheduleState(dir: string, service: string): ScheduleState {
  return readJson<ScheduleState>(stateFile(dir, service)) ?? {};
}

/** Record a change to the scheduler's state, written whole under a temporary name and renamed. */
export function writeScheduleState(dir: string, service: string, change: Partial<ScheduleState>): ScheduleState {
  const next = { ...readScheduleState(dir, service), ...change };
  const file = stateFile(dir, service);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return next;
}

/** A backup being verified or restored holds this file (with the process id) so prune leaves it alone. */
const BUSY = '.busy';

function holdBusy(path: string): () => void {
  const file = join(path, BUSY);
  try {
    writeFileSync(file, `${process.pid}\n`);
  } catch {
    return () => undefined; // a read-only backup cannot be marked; it is not pruned from here either
  }
  return () => rmSync(file, { force: true });
}

/** True when a live process holds the backup (a stale marker from a killed process does not count). */
export function isBusy(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(path, BUSY), 'utf8').trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `prune` did (or would do, on a dry run) to one backup. */
export interface PruneItem {
  id: string;
  created_at: string;
  path: string;
  state: 'verified' | 'unverified' | 'verify failed';
  keep: boolean;
  reasons: string[];
}

export interface PruneResult {
  service: string;
  dir: string;
  timezone: string;
  dry_run: boolean;
  policy: RetentionPolicy;
  kept: PruneItem[];
  pruned: PruneItem[];
}

/** Backups: take, list, verify, restore, prune. */
export class Backups {
  private readonly now: () => number;
  /**
   * parsed manifest.json and verification.json files by path, reused while the file is unchanged
   * (listing thousands of backups, as the absent(backup.x) signal does every evaluation, stays cheap)
   */
  private readonly parsed = new Map<string, { stamp: string; v: unknown }>();

  /** open S3 locations by URL (one client each, reused) */
  private readonly stores = new Map<string, Promise<S3Store>>();
  /** S3 backups this process is verifying or restoring (an object store has no marker file to hold) */
  private readonly s3Busy = new Set<string>();

  constructor(
    private readonly opts: {
      events?: EventSink;
      /** the clock for created_at, ids and verification times (default Date.now) */
      now?: () => number;
      /** how to reach s3:// locations; unset fields come from the environment (AWS_ENDPOINT_URL_S3, AWS_REGION, …) */
      s3?: S3Settings | ((location: string) => S3Settings);
    },
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The store of an s3:// location. */
  private s3(dest: string): Promise<S3Store> {
    const loc = parseS3(dest);
    const settings = s3SettingsFrom(process.env, typeof this.opts.s3 === 'function' ? this.opts.s3(loc.url) : this.opts.s3);
    // one client per location and settings: a reloaded config with another endpoint gets a new one
    const key = `${loc.url} ${JSON.stringify(settings)}`;
    let p = this.stores.get(key);
    if (!p) {
      p = S3Store.open(loc, settings);
      p.catch(() => this.stores.delete(key));
      this.stores.set(key, p);
    }
    return p;
  }

  /** Close the S3 clients this instance opened. */
  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    for (const p of all) (await p.catch(() => undefined))?.close();
  }

  /** Append a `db.*` event about a backup (the scheduler records failures that happen before pg_dump runs through it too). */
  async emit(service: string | undefined, url: string, actor: string, type: string, data: Record<string, unknown>): Promise<void> {
    await this.opts.events?.append({ type, actor, subject: service ? `service:${service}` : `database:${databaseLabel(url)}`, data: { ...(service ? { service } : {}), database: maskUrl(url), ...data } }).catch(() => undefined);
  }

  /** Dump `url` into a new backup directory under `dest`; returns its manifest and path. */
  async backup(o: {
    url: string;
    dest: string;
    service?: string;
    actor: string;
    /** more than 1: directory format dumped by this many workers */
    jobs?: number;
    /** encrypt the dump with AES-256-GCM as pg_dump writes it (the plain dump never touches the disk) */
    encryptKey?: Buffer;
    /** abort: pg_dump is stopped, the partial backup removed and the backup recorded as failed */
    signal?: AbortSignal;
  }): Promise<BackupInfo> {
    if (!isS3(o.dest)) return this.take(o, resolve(o.dest));
    let store: S3Store;
    try {
      store = await this.s3(o.dest);
    } catch (e) {
      const msg = (e as Error).message;
      await this.emit(o.service, o.url, o.actor, 'db.backup_failed', { summary: `backup failed: ${msg.slice(0, 300)}`, error: msg });
      throw e;
    }
    // made in a private staging directory, uploaded, then removed here
    const staging = mkdtempSync(join(tmpdir(), 'shipshape-backup-'));
    try {
      return await this.take(o, staging, store);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  private async take(o: { url: string; service?: string; actor: string; jobs?: number; encryptKey?: Buffer; signal?: AbortSignal }, dest: string, store?: S3Store): Promise<BackupInfo> {
    const jobs = o.jobs ?? 1;
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new ServiceError('invalid', `jobs must be a whole number from 1 to 64, got ${jobs}`);
    if (o.encryptKey && jobs > 1) throw new ServiceError('invalid', 'an encrypted backup is one file: use it without --jobs');
    const started = Date.now();
    const takenAt = this.now();
    const scrub = scrubFor(o.url);
    const c = await connect(o.url, 'shipshape db backup').catch(async (e: unknown) => {
      const msg = scrub((e as Error).message ?? String(e));
      await this.emit(o.service, o.url, o.actor, 'db.backup_failed', { summary: `backup failed: ${msg.slice(0, 300)}`, error: msg });
      throw e;
    });
    let partial: string | undefined;
    try {
      const sv = await c.query<{ v: string; s: string }>('select current_setting(\'server_version_num\') as v, current_setting(\'server_version\') as s');
      const serverNum = Number(sv.rows[0]?.v ?? 0);
      const tool = await findTool('pg_dump', major(serverNum));
      await c.query('begin isolation level repeatable read read only');
      const snap = await c.query<{ id: string }>('select pg_export_snapshot() as id');
      let id = freeId(dest, idFor(o.service ?? databaseLabel(o.url).split('/').pop() ?? 'db', new Date(takenAt)));
      if (store) for (let n = 2, base = id; await store.has(id); n++) id = `${base}-${n}`;
      mkdirSync(dest, { recursive: true, mode: 0o700 });
      partial = join(dest, `.${id}.partial`);
      mkdirSync(partial, { mode: 0o700 });
      const name = jobs > 1 ? DUMP_DIR : o.encryptKey ? DUMP_ENC : DUMP;
      const file = join(partial, name);
      const t = toolUrl(o.url);
      const format = jobs > 1 ? ['--format=directory', `--jobs=${jobs}`] : ['--format=custom'];
      const args = [...format, '--no-password', `--snapshot=${snap.rows[0]?.id ?? ''}`, `--dbname=${t.url}`];
      // pg_dump reads the exported snapshot while this session counts and samples the tables in it:
      // the two run side by side (the snapshot lives until this session commits, after both)
      const dumping = o.encryptKey ? dumpEncrypted(tool.path, args, t.env, file, o.encryptKey, o.signal) : run(tool.path, [...args, `--file=${file}`], t.env, o.signal);
      const figuring = figures(c).then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      const r = await dumping;
      const f = await figuring;
      await c.query('commit').catch(() => undefined);
      if (!f.ok) throw f.e;
      const tables = f.v;
      if (r.code !== 0) {
        const full = /no space left on device|disk quota exceeded/i.test(r.stderr) ? ` — the disk holding ${dest} is full; the partial backup was removed` : '';
        throw new ServiceError('invalid', `pg_dump failed (exit ${r.code}): ${scrub(r.stderr.trim()).slice(0, 2000)}${full}`);
      }
      const manifest: BackupManifest = {
        id,
        format: jobs > 1 ? 'directory' : 'custom',
        ...(jobs > 1 ? { jobs } : {}),
        file: name,
        ...(o.encryptKey ? { encryption: { algorithm: 'aes-256-gcm' as const, key_id: keyId(o.encryptKey) } } : {}),
        created_at: new Date(takenAt).toISOString(),
        duration_ms: Date.now() - started,
        ...(o.service ? { service: o.service } : {}),
        database: maskUrl(o.url),
        server_version: sv.rows[0]?.s ?? String(serverNum),
        pg_dump_version: tool.version,
        ...(await sha256Dump(file)),
        tables,
      };
      writeFileSync(join(partial, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
      let final = join(dest, id);
      renameSync(partial, final);
      partial = undefined;
      if (store) {
        await store.put(final, id, o.signal);
        final = s3Path(store.loc, id);
      }
      await this.emit(o.service, o.url, o.actor, 'db.backup_completed', { summary: `backup ${id} taken (${manifest.size} bytes, ${tables.length} tables)`, id, path: final, size: manifest.size, tables: tables.length, duration_ms: manifest.duration_ms });
      return { ...manifest, path: final, verified: null };
    } catch (e) {
      if (partial) rmSync(partial, { recursive: true, force: true });
      const msg = scrub((e as Error).message ?? String(e));
      await this.emit(o.service, o.url, o.actor, 'db.backup_failed', { summary: `backup failed: ${msg.slice(0, 300)}`, error: msg });
      throw e instanceof ServiceError ? e : new ServiceError('invalid', `backup of ${maskUrl(o.url)} failed: ${msg}`);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /**
   * The backups in `dir`, newest first, each with its verification (or null); only one service's
   * when `service` is given (services may share a directory). Reads each `manifest.json` (never a
   * dump), and reuses a parsed manifest while its file is unchanged. A backup in progress (a
   * `.partial` directory) is not listed. In an S3 location: one listing of the objects (a page per
   * 1,000), and a read of each manifest not read before (or changed since, by its ETag).
   */
  async list(dir: string, o: { service?: string } = {}): Promise<BackupInfo[]> {
    if (isS3(dir)) return this.listS3(await this.s3(dir), o);
    const root = resolve(dir);
    let names: string[];
    try {
      names = readdirSync(root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ServiceError('invalid', `cannot read the backups directory ${root}: ${(e as Error).message}`);
    }
    const out: BackupInfo[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(root, name);
      seen.add(path);
      const m = this.cachedJson<BackupManifest>(join(path, 'manifest.json'));
      if (!m || (o.service !== undefined && m.service !== o.service)) continue;
      out.push({ ...m, path, verified: this.cachedJson<Verification>(join(path, 'verification.json')) });
    }
    for (const file of this.parsed.keys()) if (dirname(dirname(file)) === root && !seen.has(dirname(file))) this.parsed.delete(file);
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  private async listS3(store: S3Store, o: { service?: string }): Promise<BackupInfo[]> {
    const index = await store.index();
    const json = async <T>(key: string, etag: string): Promise<T | null> => {
      const cacheKey = `s3://${store.loc.bucket}/${key}`;
      const hit = this.parsed.get(cacheKey);
      if (hit && hit.stamp === etag) return hit.v as T | null;
      const v = await store.getJson<T>(key);
      this.parsed.set(cacheKey, { stamp: etag, v });
      return v;
    };
    const out: BackupInfo[] = [];
    const items = [...index].filter(([, e]) => e.manifest);
    // eight reads at a time: thousands of first-time manifests without thousands of sockets
    for (let i = 0; i < items.length; i += 8) {
      await Promise.all(
        items.slice(i, i + 8).map(async ([id, e]) => {
          const m = await json<BackupManifest>(e.manifest!.key, e.manifest!.etag);
          if (!m || (o.service !== undefined && m.service !== o.service)) return;
          const v = e.verification ? await json<Verification>(e.verification.key, e.verification.etag) : null;
          out.push({ ...m, path: s3Path(store.loc, id), verified: v });
        }),
      );
    }
    const live = new Set(items.flatMap(([, e]) => [e.manifest?.key, e.verification?.key]).map((k) => `s3://${store.loc.bucket}/${k}`));
    const mine = `s3://${store.loc.bucket}/${store.loc.prefix}`;
    for (const k of this.parsed.keys()) if (k.startsWith(mine) && !live.has(k)) this.parsed.delete(k);
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  private cachedJson<T>(file: string): T | null {
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      this.parsed.delete(file);
      return null;
    }
    const hit = this.parsed.get(file);
    if (hit && hit.stamp === stamp) return hit.v as T | null;
    const v = readJson<T>(file);
    this.parsed.set(file, { stamp, v });
    return v;
  }

  /** A backup by path (a directory, or s3://bucket/prefix/<id>), or by id inside `dir`. */
  async open(ref: string, dir?: string): Promise<BackupInfo> {
    if (isS3(ref) || (dir && isS3(dir) && !ref.includes('/'))) {
      const { loc, id } = isS3(ref) ? splitS3Backup(ref) : { loc: parseS3(dir as string), id: ref };
      const store = await this.s3(loc.url);
      const m = await store.getJson<BackupManifest>(store.key(id, 'manifest.json'));
      if (!m) throw new ServiceError('not_found', `no backup "${id}" in ${loc.url}: \`shipshape db backups\` lists them`);
      return { ...m, path: s3Path(loc, id), verified: await store.getJson<Verification>(store.key(id, 'verification.json')) };
    }
    const candidates = [resolve(ref), ...(dir ? [join(resolve(dir), ref)] : [])];
    for (const path of candidates) {
      const m = readJson<BackupManifest>(join(path, 'manifest.json'));
      if (m) return { ...m, path, verified: readJson<Verification>(join(path, 'verification.json')) };
    }
    throw new ServiceError('not_found', `no backup "${ref}"${dir ? ` (looked for a path and for an id in ${dir})` : ''}: \`shipshape db backups\` lists them`);
  }

  /** The newest backup in `dir` (verified only, when asked; one service's, when named): what a deploy's "fresh backup" gate reads. */
  async latest(dir: string, o: { verified?: boolean; service?: string } = {}): Promise<BackupInfo | null> {
    return (await this.list(dir, o.service !== undefined ? { service: o.service } : {})).find((b) => !o.verified || b.verified?.ok) ?? null;
  }

  /**
   * Apply a grandfather-father-son policy to one service's backups in `dir` (see retention.ts):
   * delete what no rule keeps, one `db.backup_pruned` event each. Never deletes the newest verified
   * backup, one in use (being verified or restored, here or by another process) or one in progress
   * (those are `.partial` directories, never listed). `busy` adds paths this process is using.
   */
  async prune(o: { dir: string; service: string; policy: RetentionPolicy; timezone?: string; actor: string; dryRun?: boolean; busy?: ReadonlySet<string> }): Promise<PruneResult> {
    const timezone = o.timezone ?? 'UTC';
    const list = await this.list(o.dir, { service: o.service });
    const busy = (path: string) => Boolean(o.busy?.has(path)) || this.s3Busy.has(path) || (!isS3(path) && isBusy(path));
    const byId = new Map(list.map((b) => [b.id, b]));
    const plan = planRetention(
      list.map((b) => ({ id: b.id, created_at: b.created_at, verified: b.verified ? b.verified.ok : null, busy: busy(b.path) })),
      o.policy,
      timezone,
    );
    const result: PruneResult = { service: o.service, dir: isS3(o.dir) ? parseS3(o.dir).url : resolve(o.dir), timezone, dry_run: Boolean(o.dryRun), policy: o.policy, kept: [], pruned: [] };
    for (const d of plan) {
      const b = byId.get(d.id) as BackupInfo;
      const item: PruneItem = { id: b.id, created_at: b.created_at, path: b.path, state: b.verified ? (b.verified.ok ? 'verified' : 'verify failed') : 'unverified', keep: d.keep, reasons: d.reasons.map(reasonText) };
      if (d.keep) {
        result.kept.push(item);
        continue;
      }
      if (!o.dryRun) {
        // looked at again just before deleting: a verification may have started since the plan
        if (busy(b.path)) {
          result.kept.push({ ...item, keep: true, reasons: [reasonText({ rule: 'busy' })] });
          continue;
        }
        if (isS3(b.path)) await (await this.s3(o.dir)).remove(b.id);
        else rmSync(b.path, { recursive: true, force: true });
        for (const f of ['manifest.json', 'verification.json']) this.parsed.delete(isS3(b.path) ? `${b.path}/${f}` : join(b.path, f));
        await this.opts.events
          ?.append({
            type: 'db.backup_pruned',
            actor: o.actor,
            subject: `service:${o.service}`,
            data: { service: o.service, database: b.database, summary: `backup ${b.id} pruned by the retention policy`, id: b.id, path: b.path, created_at: b.created_at, size: b.size, state: item.state },
          })
          .catch(() => undefined);
      }
      result.pruned.push(item);
    }
    return result;
  }

  /** Check the dump's SHA-256 against the manifest (a corrupted or tampered file is caught before any restore). */
  private async checkIntegrity(b: BackupInfo): Promise<string> {
    const file = join(b.path, b.file);
    if (!existsSync(file)) throw new ServiceError('invalid', `backup ${b.id}: ${file} is missing`);
    const { sha256: sum } = await sha256Dump(file);
    if (sum !== b.sha256) throw new ServiceError('invalid', `backup ${b.id} is corrupted or was tampered with: ${b.file} has SHA-256 ${sum.slice(0, 16)}…, the manifest says ${b.sha256.slice(0, 16)}…; it was not restored`);
    return file;
  }

  /** The dump as pg_restore reads it: the file itself, or for an encrypted one a decrypted copy in a private temporary directory. */
  private async plain(b: BackupInfo, file: string, key?: Buffer): Promise<{ path: string; cleanup: () => void }> {
    if (!b.encryption) return { path: file, cleanup: () => undefined };
    if (!key) throw new ServiceError('invalid', `backup ${b.id} is encrypted: set SHIPSHAPE_BACKUP_KEY to the key it was made with (key id ${b.encryption.key_id})`);
    if (keyId(key) !== b.encryption.key_id) throw new ServiceError('invalid', `wrong encryption key for backup ${b.id}: it was encrypted with key ${b.encryption.key_id}, SHIPSHAPE_BACKUP_KEY is key ${keyId(key)}`);
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-restore-'));
    const out = join(dir, DUMP);
    try {
      await decryptFile(file, key, out);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return { path: out, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }

  /**
   * Restore into a scratch database on the server of `url` (made and dropped here), compare row
   * counts and sampled rows with the manifest, and record the outcome beside the backup.
   */
  async verify(o: { backup: BackupInfo; url: string; actor: string; service?: string; /** the key of an encrypted backup */ key?: Buffer; /** abort: pg_restore is stopped and the scratch database dropped; nothing is recorded */ signal?: AbortSignal }): Promise<Verification> {
    const held = await this.hold(o.backup, o.signal);
    try {
      return await this.verifyHeld({ ...o, backup: held.local }, held.record);
    } finally {
      held.release();
    }
  }

  /**
   * Hold a backup while it is verified or restored (prune leaves it alone): a local one where it
   * is; one in S3 downloaded into a private temporary directory first, its verification written
   * back beside it.
   */
  private async hold(b: BackupInfo, signal?: AbortSignal): Promise<{ local: BackupInfo; record: (v: Verification) => Promise<void>; release: () => void }> {
    if (!isS3(b.path)) {
      const release = holdBusy(b.path);
      return { local: b, record: async (v) => writeFileSync(join(b.path, 'verification.json'), `${JSON.stringify(v, null, 2)}\n`), release };
    }
    this.s3Busy.add(b.path);
    const tmp = mkdtempSync(join(tmpdir(), 'shipshape-s3-backup-'));
    const release = () => {
      this.s3Busy.delete(b.path);
      rmSync(tmp, { recursive: true, force: true });
    };
    try {
      const { loc, id } = splitS3Backup(b.path);
      const store = await this.s3(loc.url);
      await store.download(id, tmp, signal);
      return { local: { ...b, path: tmp }, record: (v) => store.putJson(store.key(id, 'verification.json'), v), release };
    } catch (e) {
      release();
      throw e;
    }
  }

  private async verifyHeld(o: { backup: BackupInfo; url: string; actor: string; service?: string; key?: Buffer; signal?: AbortSignal }, record: (v: Verification) => Promise<void>): Promise<Verification> {
    const started = Date.now();
    const b = o.backup;
    const scrub = scrubFor(o.url);
    const mismatches: string[] = [];
    let plain: { path: string; cleanup: () => void };
    try {
      plain = await this.plain(b, await this.checkIntegrity(b), o.key);
    } catch (e) {
      const v: Verification = { at: new Date(this.now()).toISOString(), ok: false, duration_ms: Date.now() - started, mismatches: [(e as Error).message] };
      await record(v);
      await this.emit(o.service ?? b.service, o.url, o.actor, 'db.backup_verify_failed', { summary: `backup ${b.id} failed verification: ${v.mismatches[0] ?? ''}`, id: b.id, mismatches: v.mismatches });
      throw e;
    }
    const file = plain.path;
    const admin = await connect(o.url, 'shipshape db verify-backup').catch((e: unknown) => {
      plain.cleanup();
      throw e;
    });
    const scratch = `shipshape_verify_${randomBytes(5).toString('hex')}`;
    try {
      const sv = await admin.query<{ v: string }>("select current_setting('server_version_num') as v");
      const tool = await findTool('pg_restore', major(Number(sv.rows[0]?.v ?? 0)));
      try {
        await admin.query(`create database ${scratch}`);
      } catch (e) {
        throw new ServiceError('invalid', `cannot make the scratch database to restore into on ${maskUrl(o.url)}: ${scrub((e as Error).message)} (the user needs CREATEDB)`);
      }
      try {
        const u = new URL(o.url);
        u.pathname = `/${scratch}`;
        const t = toolUrl(u.toString());
        const r = await run(tool.path, ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', ...jobsArgs(b), `--dbname=${t.url}`, file], t.env, o.signal);
        if (r.code !== 0) mismatches.push(`pg_restore failed (exit ${r.code}): ${scrub(r.stderr.trim()).slice(0, 1000)}`);
        else {
          const c = await connect(u.toString(), 'shipshape db verify-backup');
          try {
            const got = new Map((await figures(c)).map((f) => [`${f.schema}.${f.name}`, f]));
            for (const want of b.tables) {
              const key = `${want.schema}.${want.name}`;
              const f = got.get(key);
              if (!f) mismatches.push(`${key}: missing after restore`);
              else {
                if (f.rows !== want.rows) mismatches.push(`${key}: ${f.rows} rows after restore, ${want.rows} in the manifest`);
                if (f.sample !== want.sample) mismatches.push(`${key}: sampled rows differ from the manifest`);
              }
              got.delete(key);
            }
            for (const key of got.keys()) mismatches.push(`${key}: restored but not in the manifest`);
          } finally {
            await c.end().catch(() => undefined);
          }
        }
      } finally {
        await admin.query(`drop database if exists ${scratch} with (force)`).catch(() => admin.query(`drop database if exists ${scratch}`).catch(() => undefined));
      }
    } finally {
      plain.cleanup();
      await admin.end().catch(() => undefined);
    }
    const v: Verification = { at: new Date(this.now()).toISOString(), ok: mismatches.length === 0, duration_ms: Date.now() - started, mismatches };
    await record(v);
    await this.emit(o.service ?? b.service, o.url, o.actor, v.ok ? 'db.backup_verified' : 'db.backup_verify_failed', { summary: v.ok ? `backup ${b.id} verified by a restore` : `backup ${b.id} failed verification: ${mismatches[0] ?? ''}`, id: b.id, tables: b.tables.length, duration_ms: v.duration_ms, ...(v.ok ? {} : { mismatches: mismatches.slice(0, 20) }) });
    return v;
  }

  /**
   * Restore a backup into `target`. Refuses a target that has tables unless `force` (then objects
   * in the dump are dropped and made again); checks the dump's SHA-256 first.
   */
  async restore(o: {
    backup: BackupInfo;
    target: string;
    force?: boolean;
    actor: string;
    service?: string;
    /** the key of an encrypted backup */
    key?: Buffer;
    onProgress?: (done: number, total: number, item: string) => void;
  }): Promise<{ target: string; items: number; duration_ms: number }> {
    const held = await this.hold(o.backup);
    try {
      const plain = await this.plain(held.local, await this.checkIntegrity(held.local), o.key);
      try {
        return await this.restorePlain(o, plain.path);
      } finally {
        plain.cleanup();
      }
    } finally {
      held.release();
    }
  }

  private async restorePlain(o: { backup: BackupInfo; target: string; force?: boolean; actor: string; service?: string; onProgress?: (done: number, total: number, item: string) => void }, file: string): Promise<{ target: string; items: number; duration_ms: number }> {
    const started = Date.now();
    const b = o.backup;
    const scrub = scrubFor(o.target);
    const c = await connect(o.target, 'shipshape db restore');
    let tool: { path: string };
    try {
      const sv = await c.query<{ v: string }>("select current_setting('server_version_num') as v");
      tool = await findTool('pg_restore', major(Number(sv.rows[0]?.v ?? 0)));
      const n = await c.query<{ n: string }>(
        `select count(*) as n from pg_class t join pg_namespace s on s.oid = t.relnamespace where t.relkind in ('r', 'p', 'v', 'm') and s.nspname not in ('pg_catalog', 'information_schema') and s.nspname not like 'pg_toast%'`,
      );
      const existing = Number(n.rows[0]?.n ?? 0);
      if (existing > 0 && !o.force) {
        throw new ServiceError('conflict', `${maskUrl(o.target)} is not empty (${existing} tables or views): restore into a fresh database (createdb <name>, then --target postgres://…/<name>), or pass --force to drop and replace what the backup holds`);
      }
    } finally {
      await c.end().catch(() => undefined);
    }
    const list = await run(tool.path, ['--list', file]);
    const total = list.stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';')).length;
    const t = toolUrl(o.target);
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', '--verbose', ...jobsArgs(b), `--dbname=${t.url}`, ...(o.force ? ['--clean', '--if-exists'] : []), file];
    const r = await new Promise<RunOut>((done, reject) => {
      const child = spawn(tool.path, args, { env: { ...process.env, ...t.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let done_ = 0;
      let buf = '';
      child.stderr.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (/^pg_restore: (creating|processing data|executing|dropping)/.test(line)) {
            done_++;
            o.onProgress?.(Math.min(done_, total), total, line.replace(/^pg_restore: /, ''));
          } else if (stderr.length < 100_000) stderr += `${line}\n`;
        }
      });
      child.on('error', reject);
      child.on('close', (code) => done({ code, stdout: '', stderr }));
    });
    if (r.code !== 0) {
      const msg = `pg_restore into ${maskUrl(o.target)} failed (exit ${r.code}): ${scrub(r.stderr.trim()).slice(0, 2000)}`;
      await this.emit(o.service ?? b.service, o.target, o.actor, 'db.restore_failed', { summary: `restore of ${b.id} failed`, id: b.id, error: msg });
      throw new ServiceError('invalid', msg);
    }
    const out = { target: maskUrl(o.target), items: total, duration_ms: Date.now() - started };
    await this.emit(o.service ?? b.service, o.target, o.actor, 'db.restored', { summary: `backup ${b.id} restored into ${maskUrl(o.target)}${o.force ? ' (replacing what was there)' : ''}`, id: b.id, items: total, duration_ms: out.duration_ms, forced: Boolean(o.force) });
    return out;
  }
}

/**
 * The `backup_before` step of a migration run: take a backup, verify it by restoring it into a
 * scratch database, and stop the run (nothing applied) when either fails.
 */
export function backupBefore(backups: Backups, o: { url: string; dest: string; service?: string; actor: string; /** encrypt with this key */ key?: Buffer; onStep?: (message: string) => void }): () => Promise<void> {
  return async () => {
    o.onStep?.(`backing up ${maskUrl(o.url)} before migrating`);
    const b = await backups.backup({ url: o.url, dest: o.dest, actor: o.actor, ...(o.service ? { service: o.service } : {}), ...(o.key ? { encryptKey: o.key } : {}) });
    o.onStep?.(`backup ${b.id} taken (${b.size} bytes, ${b.tables.length} tables); verifying it in a scratch database`);
    const v = await backups.verify({ backup: b, url: o.url, actor: o.actor, ...(o.service ? { service: o.service } : {}), ...(o.key ? { key: o.key } : {}) });
    if (!v.ok) throw new ServiceError('conflict', `the backup taken before migrating (${b.path}) did not verify: ${v.mismatches.join('; ')}. No migration was applied`);
    o.onStep?.(`backup ${b.id} verified`);
  };
}
