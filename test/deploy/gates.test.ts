import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { countWarnings, globRegex, runGate } from '../../src/deploy/gates.js';

const dir = mkdtempSync(join(tmpdir(), 'shipshape-gates-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { dir, env: { PATH: process.env.PATH }, onOutput: () => undefined };
const gate = (g: Record<string, unknown>) => runGate({ timeout: 60_000, ...g } as never, ctx);

describe('counting warnings (the 0-warning policy)', () => {
  it('takes the number a summary states, else counts warning lines', () => {
    expect(countWarnings('\n/src/a.js\n  1:7  warning  \'x\' is assigned a value but never used  no-unused-vars\n\n✖ 1 problem (0 errors, 1 warning)\n')).toBe(1);
    expect(countWarnings('\x1b[33m✖ 7 problems (2 errors, 5 warnings)\x1b[39m')).toBe(5);
    expect(countWarnings('Found 0 errors and 0 warnings.')).toBe(0);
    expect(countWarnings('src/a.ts(3,1): warning TS6133: declared but never used\nsrc/b.ts(9,2): warning TS6133: declared but never used\n')).toBe(2);
    expect(countWarnings('npm warn deprecated inflight@1.0.6\nbuilt in 2s\n')).toBe(1);
    expect(countWarnings('compiled successfully\nno problems\n')).toBe(0);
    // words that merely contain the letters do not count
    expect(countWarnings('forewarned is forearmed\nswarming\n')).toBe(0);
  });
});

describe('gates', () => {
  it('fails a run gate on real ESLint warnings under max_warnings: 0, passes it under 1', async () => {
    const proj = join(dir, 'lint');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'eslint.config.js'), 'export default [{ files: ["**/*.js"], rules: { "no-unused-vars": "warn" } }];\n');
    writeFileSync(join(proj, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(proj, 'a.js'), 'const unused = 1;\nexport const used = 2;\n');
    const eslint = `node ${resolve('node_modules/eslint/bin/eslint.js')} a.js`;
    const strict = await runGate({ run: eslint, max_warnings: 0, timeout: 60_000 } as never, { ...ctx, dir: proj });
    expect(strict).toMatchObject({ passed: false, warnings: 1, exit_code: 0, summary: '1 warning, more than max_warnings 0' });
    expect(strict.output).toMatch(/no-unused-vars/);
    const lenient = await runGate({ run: eslint, max_warnings: 1, timeout: 60_000 } as never, { ...ctx, dir: proj });
    expect(lenient).toMatchObject({ passed: true, warnings: 1 });
  });

  it('kills a command that hangs past its timeout, with what it started', async () => {
    const pidFile = join(dir, 'bg.pid');
    const r = await gate({ run: `sleep 600 & echo $! > ${pidFile}; echo started; sleep 600`, timeout: 300 });
    expect(r).toMatchObject({ passed: false, summary: 'timed out after 300ms (killed)' });
    expect(r.output).toContain('started');
    // the background child was in the killed group: it is gone too
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return !/^Z/m.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '');
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((res) => setTimeout(res, 50));
    expect(alive()).toBe(false);
  });

  it('fails on a non-zero exit and keeps the output', async () => {
    const r = await gate({ run: 'echo "2 tests failed" >&2; exit 4' });
    expect(r).toMatchObject({ passed: false, exit_code: 4, summary: 'exited with 4' });
    expect(r.output).toContain('2 tests failed');
  });

  it('measures a bundle budget with gzip sizes, size-limit style', async () => {
    const assets = join(dir, 'dist', 'assets');
    mkdirSync(assets, { recursive: true });
    const big = randomBytes(40_000); // incompressible
    writeFileSync(join(assets, 'index-abc.js'), big);
    writeFileSync(join(assets, 'vendor-def.js'), 'export const a = 1;\n'.repeat(500));
    writeFileSync(join(assets, 'style.css'), 'body{}');
    const gz = gzipSync(big, { level: 9 }).length + gzipSync('export const a = 1;\n'.repeat(500), { level: 9 }).length;
    const ok = await gate({ bundle: { path: 'dist/assets/*.js', limit: 100 * 1024, gzip: true } });
    expect(ok).toMatchObject({ passed: true, size: gz, files: [{ path: 'dist/assets/index-abc.js' }, { path: 'dist/assets/vendor-def.js' }] });
    const tight = await gate({ bundle: { path: 'dist/**/*.js', limit: 1024, gzip: true } });
    expect(tight.passed).toBe(false);
    expect(tight.summary).toMatch(/^39\.\dKB gzipped in 2 files, over the 1\.0KB limit by 38\.\dKB$/);
    const raw = await gate({ bundle: { path: 'dist/assets/*.js', limit: 100 * 1024, gzip: false } });
    expect(raw.size).toBe(40_000 + 'export const a = 1;\n'.length * 500);
    const none = await gate({ bundle: { path: 'build/*.js', limit: 1024, gzip: true } });
    expect(none).toMatchObject({ passed: false, summary: 'no file matches build/*.js' });
  });

  it('matches globs like size-limit paths', () => {
    expect(globRegex('dist/assets/*.js').test('dist/assets/a.js')).toBe(true);
    expect(globRegex('dist/assets/*.js').test('dist/assets/x/a.js')).toBe(false);
    expect(globRegex('dist/**/*.js').test('dist/a.js')).toBe(true);
    expect(globRegex('dist/**/*.js').test('dist/x/y/a.js')).toBe(true);
    expect(globRegex('dist/?.js').test('dist/ab.js')).toBe(false);
  });
});
