/**
 * Bundles the server and CLI (src/cli/main.ts and what it imports) into dist/bundle/, which
 * bin/shipshape.js runs: a few files instead of ~300 of Shipshape's own modules and ~600 of its
 * libraries, so the CLI starts in about two thirds of the time and the server holds less code
 * (`npm run bench -- http1k`).
 *
 * Left outside, loaded from node_modules as they are:
 * - packages with native code or WebAssembly: better-sqlite3, libpg-query;
 * - pino and pino-pretty: pino's transports run files of their own in worker threads;
 * - CommonJS libraries that Shipshape imports only on first use (`await import(…)`): nodemailer,
 *   ioredis, tough-cookie, pg, the AWS SDK. Inside a split bundle, esbuild gives such a library
 *   only a default export, so `const { CookieJar } = await import('tough-cookie')` would break;
 *   the build below fails if one more is added without being listed here.
 *
 * tsc's dist/ stays: the proxy daemon runs dist/deploy/proxyd.js, and the benches and some tests
 * import modules of it.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { shipshape: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  // modules imported on first use (websec, secrets) get chunks of their own, loaded then
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'libpg-query', 'pino', 'pino-pretty', 'nodemailer', 'ioredis', 'tough-cookie', 'pg', '@aws-sdk/*'],
  // the CommonJS libraries inside call require() for Node's own modules
  banner: { js: "import { createRequire as __shipshapeCreateRequire } from 'node:module'; const require = __shipshapeCreateRequire(import.meta.url);" },
  minify: true,
  // class and function names stay as written: error names, logs and stack traces read the same
  keepNames: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

// an `await import()` of a bundled CommonJS module would lose its named exports (see above)
const inputs = result.metafile.inputs;
const lost = Object.entries(inputs).flatMap(([from, i]) => i.imports.filter((m) => m.kind === 'dynamic-import' && !m.external && inputs[m.path]?.format === 'cjs').map((m) => `${from} imports ${m.original ?? m.path} (CommonJS) with import()`));
if (lost.length > 0) {
  rmSync(outdir, { recursive: true, force: true });
  throw new Error(`scripts/bundle.mjs: ${lost.join('; ')}: add the package to the bundle's external list`);
}

// V8 keeps a script's source in memory for as long as the process runs: one byte a character when
// it is all Latin-1, two when a single character is beyond. esbuild escapes such characters in
// strings but not in regular expressions or tagged templates; write those with `\u` escapes.
for (const f of readdirSync(outdir).filter((n) => n.endsWith('.js'))) {
  const text = readFileSync(join(outdir, f), 'utf8');
  const at = text.search(/[^\u0000-\u00ff]/u); // eslint-disable-line no-control-regex -- the Latin-1 range
  if (at >= 0) {
    const hit = text.slice(Math.max(0, at - 60), at + 20).replace(/\s+/g, ' ');
    const from = Object.entries(result.metafile.outputs[`dist/bundle/${f}`]?.inputs ?? {}).filter(([, i]) => i.bytesInOutput > 0).map(([p]) => p);
    // the file whose text has the character after the same few characters as the bundle
    const source = from.find((p) => { try { return readFileSync(join(root, p), 'utf8').includes(text.slice(Math.max(0, at - 12), at + 1)); } catch { return false; } });
    rmSync(outdir, { recursive: true, force: true });
    throw new Error(`scripts/bundle.mjs: dist/bundle/${f} holds "${text[at]}" (U+${text.codePointAt(at).toString(16).toUpperCase().padStart(4, '0')}) in "…${hit}…"${source ? `, from ${source}` : ''}: write it as a \\u escape, or V8 holds the whole file as two bytes a character`);
  }
}
