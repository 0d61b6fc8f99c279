/** `shipshape secrets scan | install-hook` as real processes: exit codes, formats, SARIF against the official schema, a real refused commit. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, gitInit, run, tempDir } from './helpers.js';
import { makeSeeds, type Seed } from './seeds.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.remove());

const seeds = makeSeeds();
const gh = seeds.find((s) => s.rule === 'github-pat') as Seed;
const pg = seeds.find((s) => s.rule === 'postgres-url' && !s.severity) as Seed;

/** The official SARIF 2.1.0 schema (OASIS, errata01; draft-04), vendored from oasis-tcs/sarif-spec sarif-2.1/schema/. */
/** ajv-draft-04 is CommonJS: its class is the module's `default` export */
const Ajv = AjvDraft04.default;

const SCHEMA = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/sarif-schema-2.1.0.json'), 'utf8')) as object;

describe('secrets scan', { timeout: 180_000 }, () => {
  it('exits 0 with no findings, 1 with findings, 2 on bad usage or a bad path', async () => {
    writeFileSync(join(t.dir, 'a.ts'), 'export const a = 1;\n');
    const clean = await run(['secrets', 'scan', t.dir]);
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/^no secrets found in 1 file \(/m);

    writeFileSync(join(t.dir, 'b.env'), `${gh.text}\n${pg.text}\n`);
    const dirty = await run(['secrets', 'scan'], { cwd: t.dir });
    expect(dirty.status).toBe(1);
    expect(dirty.stdout).toContain(`b.env:1:14 github-pat GitHub personal access token ${gh.secret.slice(0, 4)}… [high]`);
    expect(dirty.stdout).toContain('b.env:2:');
    expect(dirty.stdout).toMatch(/^2 secrets found in 2 files/m);
    expect(dirty.stdout + dirty.stderr).not.toContain(gh.secret);
    expect(dirty.stdout + dirty.stderr).not.toContain(pg.secret);

    const bad = [
      { args: [t.dir, '--format', 'xml'], says: '--format: expected one of text, json, sarif, got "xml"' },
      { args: [t.dir, '--nope'], says: "unknown option '--nope'" },
      { args: [t.dir, '--git-history', '--staged'], says: 'choose one of --git-history and --staged' },
      { args: [t.dir, '--max-size', 'big'], says: '--max-size: expected a size like 10MB' },
      { args: [join(t.dir, 'missing')], says: 'no such file or directory' },
      { args: [t.dir, '--allowlist', join(t.dir, 'missing')], says: 'cannot read allowlist' },
    ];
    const results = await Promise.all(bad.map((b) => run(['secrets', 'scan', ...b.args])));
    results.forEach((r, i) => {
      expect(r.status, bad[i]?.args.join(' ')).toBe(2);
      expect(r.stderr).toContain(bad[i]?.says);
    });
    const notRepo = await run(['secrets', 'scan', '--staged'], { cwd: t.dir });
    expect(notRepo.status).toBe(2);
    expect(notRepo.stderr).toContain('is not inside a git work tree');
  });

  it('--format json prints the report; --output writes it with mode 0600', async () => {
    writeFileSync(join(t.dir, 'b.env'), `${gh.text}\n`);
    writeFileSync(join(t.dir, 'blob.bin'), Buffer.from([1, 0, 2]));
    const r = await run(['secrets', 'scan', t.dir, '--format', 'json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { findings: Record<string, unknown>[]; skipped: unknown[]; files: number };
    expect(report.findings).toEqual([
      { ruleId: 'github-pat', description: 'GitHub personal access token', severity: 'high', file: 'b.env', line: 1, column: 14, endColumn: 54, match: `${gh.secret.slice(0, 4)}…`, fingerprint: 'b.env:github-pat:1' },
    ]);
    expect(report.skipped).toEqual([{ file: 'blob.bin', reason: 'binary (NUL byte in the first 8 KB)' }]);
    const out = join(t.dir, 'report.json');
    const w = await run(['secrets', 'scan', t.dir, '--format', 'json', '--output', out]);
    expect(w.status).toBe(1);
    expect(w.stdout).toBe('');
    expect(w.stderr).toContain(`1 finding, 1 skipped; report written to ${out}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { findings: unknown[] }).findings).toHaveLength(1);
  });

  it('--format sarif is valid SARIF 2.1.0 (official schema) with one result per finding', async () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(SCHEMA);
    writeFileSync(join(t.dir, 'all seeds.env'), `${seeds.map((s) => s.text).join('\n')}\n`);
    writeFileSync(join(t.dir, 'blob.bin'), Buffer.from([1, 0, 2]));
    gitInit(t.dir);
    git(t.dir, 'add', '.');
    git(t.dir, 'commit', '-q', '-m', 'seeds');
    for (const extra of [[], ['--git-history']]) {
      const r = await run(['secrets', 'scan', t.dir, '--format', 'sarif', ...extra]);
      expect(r.status).toBe(1);
      const sarif = JSON.parse(r.stdout) as { version: string; runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
      const ok = validate(sarif);
      expect(ok ? [] : validate.errors, `sarif ${extra.join(' ')}`).toEqual([]);
      expect(sarif.version).toBe('2.1.0');
      const results = sarif.runs[0]?.results ?? [];
      expect(results.map((x) => x.ruleId)).toEqual(seeds.map((s) => s.rule));
      expect(results[0]?.locations[0]?.physicalLocation.artifactLocation.uri).toBe('all%20seeds.env');
      for (const s of seeds) expect(r.stdout.includes(s.secret)).toBe(false);
    }
    // the schema rejects what is not SARIF: the test can fail
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
  });
});

describe('secrets install-hook', { timeout: 180_000 }, () => {
  it('installs a pre-commit hook that refuses a real commit adding a secret and lets a clean one through', async () => {
    gitInit(t.dir);
    const inst = await run(['secrets', 'install-hook'], { cwd: t.dir });
    expect(inst.status, inst.stderr).toBe(0);
    const hook = join(t.dir, '.git/hooks/pre-commit');
    expect(inst.stdout).toContain(`installed ${hook}`);
    expect(statSync(hook).mode & 0o111).not.toBe(0);

    writeFileSync(join(t.dir, 'ok.ts'), 'export const ok = true;\n');
    git(t.dir, 'add', 'ok.ts');
    const good = await run(['commit', '-m', 'clean'], { cmd: 'git', cwd: t.dir });
    expect(good.status, good.stderr).toBe(0);

    writeFileSync(join(t.dir, 'config.ts'), `export const token = "${gh.secret}";\n`);
    git(t.dir, 'add', 'config.ts');
    const bad = await run(['commit', '-m', 'leak'], { cmd: 'git', cwd: t.dir });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('config.ts:1:23 github-pat');
    expect(bad.stderr).toContain('the commit is refused');
    expect(git(t.dir, 'log', '--format=%s')).toBe('clean\n');

    // a shipshape:allow comment lets it through
    writeFileSync(join(t.dir, 'config.ts'), `export const token = "${gh.secret}"; // shipshape:allow (test fixture)\n`);
    git(t.dir, 'add', 'config.ts');
    expect((await run(['commit', '-m', 'allowed'], { cmd: 'git', cwd: t.dir })).status).toBe(0);
    // installing again replaces its own hook
    const again = await run(['secrets', 'install-hook'], { cwd: t.dir });
    expect(again.stdout).toContain(`updated ${hook}`);
  });

  it('keeps another pre-commit hook: refuses without --force, chains it with --force', async () => {
    gitInit(t.dir);
    const hook = join(t.dir, '.git/hooks/pre-commit');
    const mine = '#!/bin/sh\necho "lint ran" >> "$(git rev-parse --git-dir)/lint.log"\n';
    writeFileSync(hook, mine, { mode: 0o755 });
    const refused = await run(['secrets', 'install-hook'], { cwd: t.dir });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('a pre-commit hook already exists');
    expect(readFileSync(hook, 'utf8')).toBe(mine);

    const forced = await run(['secrets', 'install-hook', '--force'], { cwd: t.dir });
    expect(forced.status, forced.stderr).toBe(0);
    expect(readFileSync(join(t.dir, '.git/hooks/pre-commit.local'), 'utf8')).toBe(mine);

    writeFileSync(join(t.dir, 'config.ts'), `${gh.text}\n`);
    git(t.dir, 'add', 'config.ts');
    const bad = await run(['commit', '-m', 'leak'], { cmd: 'git', cwd: t.dir });
    expect(bad.status).not.toBe(0);
    expect(readFileSync(join(t.dir, '.git/lint.log'), 'utf8')).toBe('lint ran\n');
    expect(existsSync(join(t.dir, '.git/refs/heads/main'))).toBe(false);
  });
});
