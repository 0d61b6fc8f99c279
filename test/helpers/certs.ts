/** Test certificates made with the `openssl` CLI in a temp dir (removed at process exit). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  key: string;
  cert: string;
}

const dirs: string[] = [];
process.once('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'shipshape-cert-'));
  dirs.push(d);
  return d;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface CertOptions {
  /** subject CN (default localhost) */
  cn?: string;
  /** subjectAltName entries (default DNS:localhost,IP:127.0.0.1) */
  san?: string;
  /** validity in days from now (default 30) */
  days?: number;
}

/** A self-signed certificate valid for `days` from now. */
export function selfSignedCert(opts: CertOptions = {}): TestCert {
  const dir = tempDir();
  openssl(dir, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
    '-days', String(opts.days ?? 30),
    '-subj', `/CN=${opts.cn ?? 'localhost'}`,
    '-addext', `subjectAltName=${opts.san ?? 'DNS:localhost,IP:127.0.0.1'}`,
  ]);
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

/**
 * A self-signed certificate whose validity ended in the past. OpenSSL 3.0's `req -x509` cannot
 * set dates, so this signs with `openssl ca -selfsign`, which takes explicit -startdate/-enddate.
 */
export function expiredCert(opts: { cn?: string; notBefore?: string; notAfter?: string } = {}): TestCert {
  const dir = tempDir();
  const cn = opts.cn ?? 'localhost';
  openssl(dir, [
    'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]', 'default_ca = test', '[ test ]', 'dir = .', 'database = index.txt', 'new_certs_dir = .',
      'serial = serial', 'default_md = sha256', 'policy = any', 'copy_extensions = copy', 'unique_subject = no',
      '[ any ]', 'commonName = supplied', '',
    ].join('\n'),
  );
  openssl(dir, [
    'ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'key.pem', '-in', 'req.csr', '-out', 'cert.pem',
    '-notext', '-startdate', opts.notBefore ?? '20200101000000Z', '-enddate', opts.notAfter ?? '20200201000000Z',
  ]);
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}
