/**
 * The scanner: a tree (the files git would commit when it is a work tree, else every file but
 * .git and node_modules), the staged changes (`git diff --cached`), or every added line in the
 * history (`git log -p --all`). Files are read in chunks cut at line ends, so memory stays bounded
 * whatever their size; a line longer than MAX_LINE is scanned up to it and the rest skipped.
 */
import { spawn, execFile } from 'node:child_process';
import { open, readdir, lstat, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { formatSize } from '../core/config/units.js';
import { DEFAULT_ALLOWLIST, findingAllowed, loadAllowlist, pathAllowed, type Allowlist } from './allowlist.js';
import { matchBlock, redact, type BlockMatch } from './match.js';
import type { Severity } from './rules.js';

export interface SecretFinding {
  ruleId: string;
  description: string;
  severity: Severity;
  /** path relative to the scanned path, with forward slashes */
  file: string;
  line: number;
  column: number;
  endColumn: number;
  /** the secret's first 4 characters and an ellipsis: never the secret */
  match: string;
  /** `file:rule:line`, or `commit:file:rule:line` in history (what the allowlist accepts) */
  fingerprint: string;
  commit?: string;
  author?: string;
  email?: string;
  date?: string;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ScanReport {
  /** what was scanned: the tree, the staged changes or the history */
  mode: 'files' | 'staged' | 'history';
  /** the scanned path, absolute */
  root: string;
  findings: SecretFinding[];
  skipped: SkippedFile[];
  /** files (or, in history and staged mode, file changes) scanned */
  files: number;
  bytes: number;
  durationMs: number;
}

export interface ScanOptions {
  path: string;
  gitHistory?: boolean;
  staged?: boolean;
  /** allowlist file; default `<path>/.shipshape-secrets-allow` when there is one */
  allowlist?: string;
  signal?: AbortSignal;
  /** files over this many bytes are skipped with a note (default 10 MiB); 0: no limit */
  maxFileSize?: number;
}

/** A bad path, a git that failed, an unreadable allowlist: the CLI's exit code 2. */
export class ScanError extends Error {}

export const DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024;
/** bytes read at a time */
const CHUNK = 1024 * 1024;
/** a line longer than this is scanned up to here; the rest of it is skipped with a note */
export const MAX_LINE = 1024 * 1024;
/** the head of a file where a NUL byte marks it binary */
const BINARY_PROBE = 8192;
const SKIP_DIRS = new Set(['.git', 'node_modules']);
/** files read at once (reads overlap with scanning) */
const CONCURRENCY = 4;

const toPosix = (p: string) => (sep === '/' ? p : p.split(sep).join('/'));

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ScanError('scan cancelled');
}

function gitText(args: string[], cwd: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile('git', args, { cwd, maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) fail(new ScanError(`git ${args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-c') ?? ''} failed in ${cwd}: ${(stderr || err.message).trim().split('\n')[0]}`));
      else done(stdout);
    });
  });
}

async function inWorkTree(dir: string): Promise<boolean> {
  try {
    return (await gitText(['rev-parse', '--is-inside-work-tree'], dir)).trim() === 'true';
  } catch {
    return false;
  }
}

class Collector {
  readonly findings: SecretFinding[] = [];
  readonly skipped: SkippedFile[] = [];
  files = 0;
  bytes = 0;
  constructor(private readonly allow: Allowlist) {}

  add(file: string, lineBase: number | ((i: number) => number), matches: BlockMatch[], commit?: CommitInfo): void {
    for (const m of matches) {
      const line = typeof lineBase === 'number' ? lineBase + m.line + 1 : lineBase(m.line);
      const fingerprint = commit ? `${commit.hash}:${file}:${m.ruleId}:${line}` : `${file}:${m.ruleId}:${line}`;
      if (findingAllowed(this.allow, { ruleId: m.ruleId, fingerprint, secret: m.secret })) continue;
      this.findings.push({
        ruleId: m.ruleId,
        description: m.description,
        severity: m.severity,
        file,
        line,
        column: m.column,
        endColumn: m.endColumn,
        match: redact(m.secret),
        fingerprint,
        ...(commit ? { commit: commit.hash, author: commit.author, email: commit.email, date: commit.date } : {}),
      });
    }
  }
}

// ——— files ———

async function listFiles(root: string, signal?: AbortSignal): Promise<string[]> {
  if (await inWorkTree(root)) {
    const out = await gitText(['-c', 'core.quotePath=false', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], root);
    const seen = new Set<string>();
    for (const p of out.split('\0')) {
      if (!p || p.split('/').some((s) => SKIP_DIRS.has(s))) continue;
      seen.add(p); // a path both tracked and modified is listed once per stage
    }
    return [...seen];
  }
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    aborted(signal);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(join(dir, e.name));
      } else if (e.isFile()) files.push(toPosix(relative(root, join(dir, e.name))));
    }
  };
  await walk(root);
  return files;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  let i = buf.indexOf(10);
  while (i !== -1) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

async function scanFile(abs: string, rel: string, maxSize: number, c: Collector, signal?: AbortSignal): Promise<void> {
  let st;
  try {
    st = await lstat(abs);
  } catch {
    return; // listed by git but deleted in the work tree
  }
  if (!st.isFile()) return; // symlinks, submodules
  if (maxSize > 0 && st.size > maxSize) {
    c.skipped.push({ file: rel, reason: `larger than ${formatSize(maxSize)} (${formatSize(st.size)})` });
    return;
  }
  let fh;
  try {
    fh = await open(abs, 'r');
  } catch (e) {
    c.skipped.push({ file: rel, reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return;
  }
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer = Buffer.alloc(0);
    let lineBase = 0;
    let first = true;
    let skippingLine = false;
    let bytes = 0;
    const scanBlock = (block: Buffer, base: number) => {
      const text = block.toString('utf8');
      const found = matchBlock(text);
      if (found.length) c.add(rel, base, found);
    };
    for (;;) {
      aborted(signal);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      let data = buf.subarray(0, bytesRead);
      bytes += bytesRead;
      if (first) {
        first = false;
        if (data.subarray(0, BINARY_PROBE).includes(0)) {
          c.skipped.push({ file: rel, reason: 'binary (NUL byte in the first 8 KB)' });
          return;
        }
      }
      if (skippingLine) {
        const nl = data.indexOf(10);
        if (nl === -1) continue;
        data = data.subarray(nl + 1);
        lineBase++;
        skippingLine = false;
      }
      const combined = carry.length ? Buffer.concat([carry, data]) : data;
      const lastNl = combined.lastIndexOf(10);
      if (lastNl === -1) {
        if (combined.length >= MAX_LINE) {
          scanBlock(combined.subarray(0, MAX_LINE), lineBase);
          c.skipped.push({ file: rel, reason: `line ${lineBase + 1} is longer than ${formatSize(MAX_LINE)}: only its first ${formatSize(MAX_LINE)} was scanned` });
          skippingLine = true;
          carry = Buffer.alloc(0);
        } else carry = Buffer.from(combined);
        continue;
      }
      const block = combined.subarray(0, lastNl);
      scanBlock(block, lineBase);
      lineBase += countNewlines(block) + 1;
      carry = Buffer.from(combined.subarray(lastNl + 1));
    }
    if (carry.length && !skippingLine) scanBlock(carry, lineBase);
    c.files++;
    c.bytes += bytes;
  } finally {
    await fh.close();
  }
}

async function scanTree(root: string, maxSize: number, c: Collector, allow: Allowlist, signal?: AbortSignal): Promise<void> {
  const st = await stat(root);
  if (st.isFile()) {
    await scanFile(root, basename(root), maxSize, c, signal);
    return;
  }
  const files = (await listFiles(root, signal)).filter((f) => !pathAllowed(allow, f));
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const rel = files[next++] as string;
      await scanFile(join(root, rel), rel, maxSize, c, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
}

// ——— diffs (staged changes, history) ———

interface CommitInfo {
  hash: string;
  author: string;
  email: string;
  date: string;
}

/** Lines of a stream; a line longer than `max` is cut there (`cut` true). Memory stays bounded. */
async function* streamLines(stream: NodeJS.ReadableStream, max: number): AsyncGenerator<{ text: string; cut: boolean }> {
  let parts: Buffer[] = [];
  let size = 0;
  let cut = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!cut) {
        const room = max - size;
        const piece = chunk.subarray(start, Math.min(end, start + room));
        if (piece.length) {
          parts.push(piece);
          size += piece.length;
        }
        if (end - start > room) cut = true;
      }
      if (nl === -1) break;
      yield { text: Buffer.concat(parts, size).toString('utf8'), cut };
      parts = [];
      size = 0;
      cut = false;
      start = nl + 1;
    }
  }
  if (size || cut) yield { text: Buffer.concat(parts, size).toString('utf8'), cut };
}

/** `"a\tb"` → a<TAB>b: git's C-style quoting of unusual paths. */
function unquote(p: string): string {
  if (!p.startsWith('"')) return p;
  const bytes: number[] = [];
  const body = p.slice(1, p.endsWith('"') ? -1 : undefined);
  const esc: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch === '\\' && i + 1 < body.length) {
      const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
      if (oct) {
        bytes.push(parseInt(oct[0], 8));
        i += 3;
        continue;
      }
      const n = body[i + 1] as string;
      bytes.push(esc[n] ?? n.charCodeAt(0));
      i++;
      continue;
    }
    bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

async function scanDiff(root: string, args: string[], withCommits: boolean, maxSize: number, c: Collector, allow: Allowlist, signal?: AbortSignal): Promise<void> {
  const child = spawn('git', ['-c', 'core.quotePath=false', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const spawnError = new Promise<never>((_, fail) => child.on('error', (e) => fail(new ScanError(`cannot run git: ${e.message}`))));
  void spawnError.catch(() => undefined);
  const onAbort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });

  let commit: CommitInfo | undefined;
  let file: string | undefined;
  let fileBytes = 0;
  let fileSkipped = false;
  let newLine = 0;
  let remaining = 0;
  let lines: string[] = [];
  let lineNos: number[] = [];
  let blockBytes = 0;
  const label = (f: string) => (commit ? `${commit.hash.slice(0, 12)}:${f}` : f);
  const flush = () => {
    if (file !== undefined && lines.length) {
      const nos = lineNos;
      const found = matchBlock(lines.join('\n'));
      if (found.length) c.add(file, (i) => nos[i] as number, found, commit);
    }
    lines = [];
    lineNos = [];
    blockBytes = 0;
  };
  const endFile = () => {
    flush();
    if (file !== undefined && fileBytes > 0) {
      c.files++;
      c.bytes += fileBytes;
    }
    file = undefined;
    fileBytes = 0;
    fileSkipped = false;
    remaining = 0;
  };
  try {
    for await (const { text: line, cut } of streamLines(child.stdout, MAX_LINE)) {
      aborted(signal);
      if (remaining > 0) {
        const ch = line[0];
        if (ch === '+' || ch === ' ') {
          remaining--;
          const no = newLine++;
          if (ch === '+' && file !== undefined && !fileSkipped) {
            const added = line.slice(1);
            fileBytes += added.length + 1;
            if (maxSize > 0 && fileBytes > maxSize) {
              fileSkipped = true;
              c.skipped.push({ file: label(file), reason: `change larger than ${formatSize(maxSize)}: scanned its first ${formatSize(maxSize)}` });
              continue;
            }
            if (cut) c.skipped.push({ file: label(file), reason: `line ${no} is longer than ${formatSize(MAX_LINE)}: only its first ${formatSize(MAX_LINE)} was scanned` });
            lines.push(added);
            lineNos.push(no);
            blockBytes += added.length + 1;
            if (blockBytes >= CHUNK) flush();
          }
          continue;
        }
        if (ch === '-' || ch === '\\') continue;
        remaining = 0; // a new header: the hunk was shorter than announced
      }
      if (withCommits && line.startsWith('\x01')) {
        endFile();
        const [hash = '', author = '', email = '', date = ''] = line.slice(1).split('\x1f');
        commit = { hash, author, email, date };
      } else if (line.startsWith('diff --git ') || line.startsWith('diff --cc ')) {
        endFile();
      } else if (line.startsWith('+++ ')) {
        const p = line.slice(4).replace(/\t$/, '');
        file = p === '/dev/null' ? undefined : toPosix(unquote(p));
        if (file !== undefined && pathAllowed(allow, file)) file = undefined;
      } else if (line.startsWith('@@ ')) {
        const m = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
        if (m) {
          flush();
          newLine = Number(m[1]);
          remaining = m[2] === undefined ? 1 : Number(m[2]);
        }
      }
    }
    endFile();
    const code = await Promise.race([exited, spawnError]);
    aborted(signal);
    if (code !== 0) throw new ScanError(`git ${args[0] ?? ''} failed in ${root}: ${stderr.trim().split('\n')[0] || `exit code ${code}`}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

const DIFF_FLAGS = ['-U0', '--no-color', '--no-ext-diff', '--no-textconv', '--no-prefix', '--relative', '--no-renames'];

/** Scan a tree, the staged changes or the history for secrets; the report never holds a secret. */
export async function scanSecrets(opts: ScanOptions): Promise<ScanReport> {
  const started = performance.now();
  if (opts.gitHistory && opts.staged) throw new ScanError('choose one of --git-history and --staged');
  const root = resolve(opts.path);
  let isDir: boolean;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch {
    throw new ScanError(`no such file or directory: ${opts.path}`);
  }
  const allowFile = opts.allowlist === undefined ? join(isDir ? root : dirname(root), DEFAULT_ALLOWLIST) : isAbsolute(opts.allowlist) ? opts.allowlist : resolve(opts.allowlist);
  let allow: Allowlist;
  try {
    allow = loadAllowlist(allowFile, opts.allowlist === undefined);
  } catch (e) {
    throw new ScanError((e as Error).message);
  }
  const c = new Collector(allow);
  const maxSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  let mode: ScanReport['mode'] = 'files';
  if (opts.gitHistory || opts.staged) {
    if (!isDir || !(await inWorkTree(root))) throw new ScanError(`${opts.path} is not inside a git work tree (needed for ${opts.staged ? '--staged' : '--git-history'})`);
    if (opts.staged) {
      mode = 'staged';
      await scanDiff(root, ['diff', '--cached', ...DIFF_FLAGS, '--diff-filter=ACMRT'], false, maxSize, c, allow, opts.signal);
    } else {
      mode = 'history';
      // an empty repository has no history to scan
      const hasHead = await gitText(['rev-parse', '--verify', '-q', 'HEAD'], root).then(
        () => true,
        () => false,
      );
      const anyRef = hasHead || (await gitText(['for-each-ref', '--count=1'], root)).trim() !== '';
      if (anyRef) await scanDiff(root, ['log', '-p', '--all', ...DIFF_FLAGS, '--format=%x01%H%x1f%an%x1f%ae%x1f%aI'], true, maxSize, c, allow, opts.signal);
    }
  } else {
    await scanTree(root, maxSize, c, allow, opts.signal);
  }
  const order = (a: SecretFinding, b: SecretFinding) => (a.commit ?? '').localeCompare(b.commit ?? '') || a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
  if (mode === 'files') c.findings.sort(order);
  c.skipped.sort((a, b) => a.file.localeCompare(b.file));
  return { mode, root, findings: c.findings, skipped: c.skipped, files: c.files, bytes: c.bytes, durationMs: Math.round(performance.now() - started) };
}
