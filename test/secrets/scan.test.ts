/** scanSecrets on real files and real git repositories: every rule, near misses, allowlists, skips, history, staged. */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync, ftruncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secrets as secretsKind } from '../../src/checks/kinds/secrets.js';
import { RULE_CATALOG, scanSecrets, ScanError, type ScanReport } from '../../src/secrets/index.js';
import { runKind } from '../helpers/run-kind.js';
import { git, gitInit, tempDir } from './helpers.js';
import { makeSeeds, nearMisses, type Seed } from './seeds.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.remove());

const seeds = makeSeeds();

/** Write the seeds into `file` after `pad` filler lines, one blank line between seeds; return each seed's expected line and column. */
function writeSeeds(file: string, list: Seed[], pad = 3): { seed: Seed; line: number; column: number }[] {
  const lines: string[] = [];
  for (let i = 0; i < pad; i++) lines.push(`// filler ${i}: const value = compute(${i});`);
  const expected: { seed: Seed; line: number; column: number }[] = [];
  for (const s of list) {
    const first = s.text.split('\n')[0] as string;
    expected.push({ seed: s, line: lines.length + 1, column: (s.at ?? first.indexOf(s.secret)) + 1 });
    lines.push(...s.text.split('\n'), '');
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return expected;
}

/** Nothing in a report may hold a secret. */
function assertNoSecret(report: unknown, list: Seed[]): void {
  const text = JSON.stringify(report);
  for (const s of list) expect(text.includes(s.secret), `${s.rule}'s secret in the report`).toBe(false);
}

describe('rules', () => {
  it('finds every seeded credential with its rule, line, column and severity, and shows only its first 4 characters', async () => {
    const expected = writeSeeds(join(t.dir, 'config.env'), seeds);
    const r = await scanSecrets({ path: t.dir });
    const got = r.findings.map((f) => ({ rule: f.ruleId, line: f.line, column: f.column, severity: f.severity, match: f.match }));
    expect(got).toEqual(
      expected.map((e) => ({ rule: e.seed.rule, line: e.line, column: e.column, severity: e.seed.severity ?? 'high', match: `${e.seed.secret.slice(0, 4)}…` })),
    );
    for (const f of r.findings) expect(f.fingerprint).toBe(`config.env:${f.ruleId}:${f.line}`);
    assertNoSecret(r, seeds);
    expect(r.files).toBe(1);
    // a single file as the path: the same findings, named by the file's name
    const one = await scanSecrets({ path: join(t.dir, 'config.env') });
    expect(one.findings.map((f) => f.fingerprint)).toEqual(r.findings.map((f) => f.fingerprint));
  });

  it('covers every rule of the catalog with a seed', () => {
    const seeded = new Set(seeds.map((s) => s.rule));
    const catalog = RULE_CATALOG.map((r) => r.id).filter((id) => !['supabase-secret-key', 'npmrc-auth-token'].includes(id));
    expect(catalog.filter((id) => !seeded.has(id))).toEqual([]);
  });

  it('does not flag placeholders, ${VAR} URLs, default local passwords and documentation examples', async () => {
    writeFileSync(join(t.dir, 'README.md'), `${nearMisses().join('\n')}\n`);
    const r = await scanSecrets({ path: t.dir });
    expect(r.findings.map((f) => `${f.ruleId} line ${f.line}`)).toEqual([]);
  });

  it('finds a secret in a minified line and next to other text, and each secret once', async () => {
    const s = seeds.find((x) => x.rule === 'github-pat') as Seed;
    const prefix = 'var a=1;'.repeat(500);
    writeFileSync(join(t.dir, 'bundle.min.js'), `${prefix}fetch(u,{headers:{authorization:"token ${s.secret}"}});`);
    const r = await scanSecrets({ path: t.dir });
    expect(r.findings.map((f) => [f.ruleId, f.line, f.column])).toEqual([['github-pat', 1, prefix.length + 'fetch(u,{headers:{authorization:"token '.length + 1]]);
  });
});

describe('allowing', () => {
  const stripe = seeds.find((s) => s.rule === 'stripe-webhook-secret') as Seed;
  const gh = seeds.find((s) => s.rule === 'github-pat') as Seed;

  it('accepts shipshape:allow and gitleaks:allow comments on the same line only', async () => {
    writeFileSync(join(t.dir, 'a.ts'), [`const a = "${stripe.secret}"; // shipshape:allow`, `const b = "${gh.secret}"; # gitleaks:allow`, `// shipshape:allow`, `const c = "${gh.secret}";`].join('\n'));
    const r = await scanSecrets({ path: t.dir });
    expect(r.findings.map((f) => [f.ruleId, f.line])).toEqual([['github-pat', 4]]);
  });

  it('reads .shipshape-secrets-allow: paths, fingerprints (bare or prefixed), regexes and rules', async () => {
    mkdirSync(join(t.dir, 'fixtures/deep'), { recursive: true });
    writeFileSync(join(t.dir, 'fixtures/deep/x.env'), `KEY=${gh.secret}\n`);
    writeFileSync(join(t.dir, 'a.env'), `A=${gh.secret}\nB=${gh.secret}\nC=${stripe.secret}\n`);
    const svc = seeds.find((s) => s.rule === 'jwt') as Seed;
    writeFileSync(join(t.dir, 'b.env'), `${svc.text}\n${seeds.find((s) => s.rule === 'stripe-secret-key')?.text}\n`);
    const before = await scanSecrets({ path: t.dir });
    expect(before.findings.map((f) => f.fingerprint).sort()).toEqual(['a.env:github-pat:1', 'a.env:github-pat:2', 'a.env:stripe-webhook-secret:3', 'b.env:jwt:1', 'b.env:stripe-secret-key:2', 'fixtures/deep/x.env:github-pat:1']);
    writeFileSync(
      join(t.dir, '.shipshape-secrets-allow'),
      ['# test fixtures are fake', 'path: fixtures/', 'a.env:github-pat:1', 'fingerprint: a.env:github-pat:2', 'regex: ^whsec_', 'rule: jwt', ''].join('\n'),
    );
    const after = await scanSecrets({ path: t.dir });
    expect(after.findings.map((f) => f.fingerprint)).toEqual(['b.env:stripe-secret-key:2']);
  });

  it('a given --allowlist file must exist, and a bad line is named by file:line', async () => {
    await expect(scanSecrets({ path: t.dir, allowlist: join(t.dir, 'nope') })).rejects.toThrow(/cannot read allowlist .*nope/);
    const file = join(t.dir, 'allow');
    writeFileSync(file, 'path: x\nregex: ([a-\n');
    await expect(scanSecrets({ path: t.dir, allowlist: file })).rejects.toThrow(new RegExp(`${file}:2: not a valid regex`));
    writeFileSync(file, 'rule: stripe\n');
    await expect(scanSecrets({ path: t.dir, allowlist: file })).rejects.toThrow(/allow:1: unknown rule "stripe"/);
    await expect(scanSecrets({ path: join(t.dir, 'missing') })).rejects.toBeInstanceOf(ScanError);
  });
});

describe('what is read', () => {
  const gh = seeds.find((s) => s.rule === 'github-pat') as Seed;

  it('skips binary files and files over the size limit with a note, without reading them whole', async () => {
    writeFileSync(join(t.dir, 'image.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), Buffer.from(`token=${gh.secret}\n`)]));
    // a sparse 11 GiB file: reading it whole would fail; it must be skipped by size
    const big = join(t.dir, 'dump.sql');
    const fd = openSync(big, 'w');
    writeSync(fd, `-- ${gh.text}\n`);
    ftruncateSync(fd, 11 * 1024 ** 3);
    closeSync(fd);
    writeFileSync(join(t.dir, 'ok.txt'), 'nothing here\n');
    const r = await scanSecrets({ path: t.dir });
    expect(r.findings).toEqual([]);
    expect(r.skipped).toEqual([
      { file: 'dump.sql', reason: 'larger than 10.0MB (11.0GB)' },
      { file: 'image.png', reason: 'binary (NUL byte in the first 8 KB)' },
    ]);
    expect(r.files).toBe(1);
    rmSync(big);
  });

  it('reads a large file in chunks with the right line numbers, and cuts a line longer than 1 MiB with a note', async () => {
    const filler = 'const x = "the quick brown fox jumps over the lazy dog";\n'; // 56 bytes
    const n = Math.ceil((3 * 1024 * 1024) / filler.length);
    const long = `${'a'.repeat(2 * 1024 * 1024)}${gh.secret}`; // the secret is past the cut-off
    const body = `${filler.repeat(n)}X=${gh.secret}\n${long}\nY=${gh.secret}\n`;
    writeFileSync(join(t.dir, 'big.txt'), body);
    const r = await scanSecrets({ path: t.dir, maxFileSize: 0 });
    expect(r.findings.map((f) => [f.line, f.column])).toEqual([
      [n + 1, 3],
      [n + 3, 3],
    ]);
    expect(r.skipped).toEqual([{ file: 'big.txt', reason: `line ${n + 2} is longer than 1.0MB: only its first 1.0MB was scanned` }]);
    expect(r.bytes).toBe(Buffer.byteLength(body));
  });

  it('in a git work tree scans what git would commit (.gitignore respected); elsewhere skips .git and node_modules', async () => {
    mkdirSync(join(t.dir, 'node_modules/pkg'), { recursive: true });
    mkdirSync(join(t.dir, 'dist'));
    writeFileSync(join(t.dir, 'node_modules/pkg/index.js'), `${gh.text}\n`);
    writeFileSync(join(t.dir, 'dist/out.js'), `${gh.text}\n`);
    writeFileSync(join(t.dir, 'src.js'), `${gh.text}\n`);
    expect((await scanSecrets({ path: t.dir })).findings.map((f) => f.file).sort()).toEqual(['dist/out.js', 'src.js']);
    gitInit(t.dir);
    writeFileSync(join(t.dir, '.gitignore'), 'dist/\n');
    writeFileSync(join(t.dir, 'untracked.js'), `${gh.text}\n`);
    const r = await scanSecrets({ path: t.dir });
    expect(r.findings.map((f) => f.file).sort()).toEqual(['src.js', 'untracked.js']);
  });
});

describe('git', () => {
  const gh = seeds.find((s) => s.rule === 'github-pat') as Seed;
  const stripe = seeds.find((s) => s.rule === 'stripe-webhook-secret') as Seed;

  it('--git-history finds a secret deleted in a later commit, with the commit, author and date', async () => {
    gitInit(t.dir);
    writeFileSync(join(t.dir, 'app.ts'), 'export const a = 1;\n');
    git(t.dir, 'add', '.');
    git(t.dir, 'commit', '-q', '-m', 'first');
    writeFileSync(join(t.dir, 'app.ts'), `export const a = 1;\nexport const b = 2;\nconst key = "${stripe.secret}";\n`);
    git(t.dir, 'commit', '-qam', 'add the key');
    const leaked = git(t.dir, 'rev-parse', 'HEAD').trim();
    writeFileSync(join(t.dir, 'app.ts'), 'export const a = 1;\nexport const b = 2;\nconst key = process.env.KEY;\n');
    git(t.dir, 'commit', '-qam', 'remove the key');

    expect((await scanSecrets({ path: t.dir })).findings).toEqual([]);
    const r: ScanReport = await scanSecrets({ path: t.dir, gitHistory: true });
    expect(r.mode).toBe('history');
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0];
    expect(f).toMatchObject({ ruleId: 'stripe-webhook-secret', file: 'app.ts', line: 3, column: 14, commit: leaked, author: 'Ada Tester', email: 'ada@example.test', fingerprint: `${leaked}:app.ts:stripe-webhook-secret:3` });
    expect(Date.parse(f?.date ?? '')).toBeGreaterThan(Date.now() - 600_000);
    assertNoSecret(r, [stripe]);
    // the fingerprint allows it
    writeFileSync(join(t.dir, 'allow'), `${f?.fingerprint}\n`);
    expect((await scanSecrets({ path: t.dir, gitHistory: true, allowlist: join(t.dir, 'allow') })).findings).toEqual([]);
  });

  it('--staged scans only what is staged, with line numbers of the staged file', async () => {
    gitInit(t.dir);
    writeFileSync(join(t.dir, 'a.ts'), 'one\ntwo\n');
    git(t.dir, 'add', '.');
    git(t.dir, 'commit', '-q', '-m', 'first');
    writeFileSync(join(t.dir, 'a.ts'), `one\n${gh.text}\ntwo\n`);
    writeFileSync(join(t.dir, 'b.ts'), `${stripe.text}\n`);
    git(t.dir, 'add', 'a.ts');
    const r = await scanSecrets({ path: t.dir, staged: true });
    expect(r.mode).toBe('staged');
    expect(r.findings.map((f) => [f.file, f.ruleId, f.line, f.column])).toEqual([['a.ts', 'github-pat', 2, 14]]);
    expect(r.findings[0]?.commit).toBeUndefined();
    const plain = tempDir();
    try {
      await expect(scanSecrets({ path: plain.dir, staged: true })).rejects.toThrow(/not inside a git work tree/);
    } finally {
      plain.remove();
    }
  });
});

describe('the secrets check kind', () => {
  it('is up on a clean tree and down with the redacted findings otherwise', async () => {
    writeFileSync(join(t.dir, 'a.txt'), 'hello\n');
    const up = await runKind(secretsKind, { path: t.dir });
    expect(up).toMatchObject({ ok: true, values: { findings: 0, files: 1 } });
    const s = seeds.filter((x) => ['stripe-secret-key', 'github-pat'].includes(x.rule));
    writeSeeds(join(t.dir, 'x.ts'), s, 11);
    const down = await runKind(secretsKind, { path: t.dir });
    expect(down.ok).toBe(false);
    expect(down.error).toBe('4 findings: stripe-secret-key in x.ts:12, stripe-secret-key in x.ts:14, stripe-secret-key in x.ts:16, and 1 more');
    expect(down.values).toMatchObject({ findings: 4, rules: ['stripe-secret-key', 'github-pat'] });
    assertNoSecret(down, s);
    const missing = await runKind(secretsKind, { path: join(t.dir, 'nope') });
    expect(missing).toMatchObject({ ok: false, error: expect.stringMatching(/^scan failed: no such file or directory/) as unknown });
    expect(() => secretsKind.spec.parse({ path: '.', bogus: 1 })).toThrow();
  });
});
