/**
 * The migrations directory: files named `NNN_name.sql` (001_create_user_profiles.sql), timestamped
 * (20240131120000_add_orgs.sql) or Flyway-style (V3__add_orgs.sql); their checksums over the
 * normalised text (LF line ends, no BOM, so an editor's line endings cause no false drift); gaps in
 * a numbered sequence; and `shipshape.sum`, a chained hash of the whole directory (like atlas.sum):
 * two branches that each add migration 014 change its last line and its first, so they collide in
 * review instead of at deploy.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceError } from '../core/errors.js';

export const SUM_FILE = 'shipshape.sum';

const NAME_RE = /^(?:V)?(\d{1,18})(?:__|_|-)([^/\\]+?)\.sql$/;

export interface MigrationFile {
  version: number;
  /** the digits as written (001, 20240131120000): how the file is shown */
  label: string;
  /** the part after the number: create_user_profiles */
  name: string;
  filename: string;
  path: string;
  /** the text with LF line ends and no BOM */
  text: string;
  /** sha256 (hex) of `text` */
  checksum: string;
}

export interface MigrationDir {
  dir: string;
  files: MigrationFile[];
  /** .sql files that do not start with a version number (ignored) */
  ignored: string[];
  /** numbers missing inside a numbered (not timestamped) sequence, e.g. 009 */
  gaps: string[];
  /** shipshape.sum against the files: ok, missing (no file) or mismatch (with the lines that differ) */
  sum: { state: 'ok' | 'missing' | 'mismatch'; expected?: string; found?: string };
}

/** LF line ends, no byte-order mark: what checksums are taken over. */
export function normalise(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(normalise(text), 'utf8').digest('hex');
}

/** Timestamped versions (YYYYMMDDHHMMSS and the like) are not expected to be consecutive. */
export function isSequential(files: readonly { label: string; version: number }[]): boolean {
  return files.length > 0 && files.every((f) => f.label.length < 8 && f.version < 10_000_000);
}

/** The numbers missing between the first and the last of a numbered sequence, padded like the files. */
export function gapsOf(files: readonly MigrationFile[]): string[] {
  if (!isSequential(files)) return [];
  const have = new Set(files.map((f) => f.version));
  const width = files[0]?.label.length ?? 3;
  const max = Math.max(...files.map((f) => f.version));
  const min = Math.min(...files.map((f) => f.version));
  const out: string[] = [];
  for (let v = min + 1; v < max && out.length < 1000; v++) if (!have.has(v)) out.push(String(v).padStart(width, '0'));
  return out;
}

/**
 * The chained hash: each line is the hash of the previous line's hash, the file name and the
 * file's checksum; the first line (`h1:<total>`) is the last link. Base64 like atlas.sum.
 */
export function sumText(files: readonly Pick<MigrationFile, 'filename' | 'checksum'>[]): string {
  let chain = '';
  const lines: string[] = [];
  for (const f of files) {
    chain = createHash('sha256').update(`${chain}\n${f.filename}\n${f.checksum}`).digest('base64');
    lines.push(`${f.filename} h1:${chain}`);
  }
  const total = createHash('sha256').update(lines.join('\n')).digest('base64');
  return `h1:${total}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
}

/** Read a migrations directory. Throws ServiceError for a missing directory or two files with one version. */
export function readMigrationDir(dir: string): MigrationDir {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ServiceError('invalid', `${dir} is not a directory`);
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof ServiceError) throw e;
    throw new ServiceError('not_found', `no migrations directory at ${dir} (pass --dir, or make one with \`shipshape db new <name> --dir ${dir}\`)`);
  }
  const files: MigrationFile[] = [];
  const ignored: string[] = [];
  for (const filename of names.sort()) {
    if (!filename.endsWith('.sql')) continue;
    const m = NAME_RE.exec(filename);
    if (!m?.[1] || !m[2]) {
      ignored.push(filename);
      continue;
    }
    const path = join(dir, filename);
    const text = normalise(readFileSync(path, 'utf8'));
    files.push({ version: Number(m[1]), label: m[1], name: m[2], filename, path, text, checksum: checksumOf(text) });
  }
  files.sort((a, b) => a.version - b.version || a.filename.localeCompare(b.filename));
  for (let i = 1; i < files.length; i++) {
    const a = files[i - 1];
    const b = files[i];
    if (a && b && a.version === b.version) {
      throw new ServiceError('conflict', `${a.filename} and ${b.filename} in ${dir} have the same version ${b.label} (two branches added one each?): renumber one of them`);
    }
  }
  const expected = sumText(files);
  const sumPath = join(dir, SUM_FILE);
  let sum: MigrationDir['sum'] = { state: 'missing' };
  if (existsSync(sumPath)) {
    const found = normalise(readFileSync(sumPath, 'utf8'));
    sum = found === expected ? { state: 'ok' } : { state: 'mismatch', expected, found };
  }
  return { dir, files, ignored, gaps: gapsOf(files), sum };
}

/** Write shipshape.sum for the directory as it is now. */
export function writeSum(dir: string): string {
  const d = readMigrationDir(dir);
  const text = sumText(d.files);
  writeFileSync(join(dir, SUM_FILE), text);
  return text;
}

/** The file names whose sum line differs (the first one is where the directories parted). */
export function sumDifferences(d: MigrationDir): string[] {
  if (d.sum.state !== 'mismatch') return [];
  const want = new Map((d.sum.expected ?? '').split('\n').slice(1).filter(Boolean).map((l) => [l.split(' ')[0] ?? '', l] as const));
  const have = new Map((d.sum.found ?? '').split('\n').slice(1).filter(Boolean).map((l) => [l.split(' ')[0] ?? '', l] as const));
  const names = [...new Set([...want.keys(), ...have.keys()])].sort();
  return names.filter((n) => want.get(n) !== have.get(n));
}

/** The next version and file name for `db new <name>`: numbered like the directory (001 → 014), or a UTC timestamp. */
export function nextFile(d: MigrationDir, name: string, now: Date, style?: 'sequential' | 'timestamp'): { filename: string; version: number } {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!slug) throw new ServiceError('invalid', `"${name}" has no letters or digits to name a migration after`);
  const useTs = style ? style === 'timestamp' : d.files.length > 0 && !isSequential(d.files);
  if (useTs) {
    const ts = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    let v = Number(ts);
    const last = d.files[d.files.length - 1]?.version ?? 0;
    if (v <= last) v = last + 1;
    return { filename: `${v}_${slug}.sql`, version: v };
  }
  const last = d.files[d.files.length - 1];
  const v = (last?.version ?? 0) + 1;
  const width = Math.max(3, last?.label.length ?? 3);
  return { filename: `${String(v).padStart(width, '0')}_${slug}.sql`, version: v };
}
