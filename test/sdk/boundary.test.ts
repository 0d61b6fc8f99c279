/**
 * The SDK goes into users' apps: the Node entry must load only Node built-ins and SDK files (no
 * server code, no Fastify/Kysely/pino at runtime), the browser entry only SDK files and web-vitals.
 * Checked on what a bundler actually pulls in.
 */
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/sdk/shared.js';

async function inputsOf(entry: string, platform: 'node' | 'browser') {
  const out = await build({ entryPoints: [entry], bundle: true, platform, format: 'esm', write: false, metafile: true, logLevel: 'silent', external: platform === 'node' ? [...builtinModules, ...builtinModules.map((m) => `node:${m}`)] : [] });
  const inputs = Object.keys(out.metafile.inputs).map((p) => relative(process.cwd(), p));
  const imports = Object.values(out.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  return { inputs, imports, size: out.outputFiles[0]!.contents.length };
}

describe('SDK boundary', () => {
  it('shipshape/sdk/node pulls in only SDK files and Node built-ins', async () => {
    const { inputs, imports } = await inputsOf('src/sdk/node/index.ts', 'node');
    expect(inputs.filter((p) => !p.startsWith('src/sdk/'))).toEqual([]);
    expect(imports.filter((p) => !p.startsWith('node:'))).toEqual([]);
  });

  it('shipshape/sdk/browser pulls in only SDK files and web-vitals, and stays small', async () => {
    const { inputs, size } = await inputsOf('src/sdk/browser/index.ts', 'browser');
    expect(inputs.filter((p) => !p.startsWith('src/sdk/') && !p.startsWith('node_modules/web-vitals/'))).toEqual([]);
    expect(inputs.some((p) => p.startsWith('src/sdk/node/'))).toBe(false);
    expect(size).toBeLessThan(64 * 1024); // unminified
  });
});

describe('route normalisation (no template known)', () => {
  it.each([
    ['/users/123/orders?page=2#top', '/users/:id/orders'],
    ['http://example.com/api/items/42/', '/api/items/:id'],
    ['/files/3f2a9c1e-1b2d-4c3e-8f9a-0b1c2d3e4f5a', '/files/:id'],
    ['/commits/0123456789abcdef0123', '/commits/:id'],
    ['/keys/sk_live_4eC39HqLyjWDarjtT1zdp7dc', '/keys/:id'],
    ['/about', '/about'],
    ['/', '/'],
    ['', '/'],
    ['/api//v2/health', '/api/v2/health'],
    ['/blog/how-we-ship', '/blog/how-we-ship'],
    ['/%E2%82%AC/100', '/%E2%82%AC/:id'],
  ])('%s -> %s', (raw, want) => {
    expect(normalizePath(raw)).toBe(want);
  });
});
