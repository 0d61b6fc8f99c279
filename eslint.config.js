import { readdirSync, existsSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// The layers (docs/architecture.md): src/core imports no module; a module (src/<name>/ with an
// index.ts) imports the core and other modules' index.ts only, never the adapters (server, cli)
// or the composition root; the SDK, which runs in users' apps, imports nothing of the server.
const ADAPTERS = ['server', 'cli'];
const NOT_MODULES = new Set(['core', 'sdk', ...ADAPTERS]);
const modules = readdirSync('src', { withFileTypes: true })
  .filter((d) => d.isDirectory() && !NOT_MODULES.has(d.name) && existsSync(`src/${d.name}/index.ts`))
  .map((d) => d.name);
const ROOT_FILES = ['./src/app.ts', './src/modules.ts', './src/index.ts'];

const zones = [
  {
    target: './src/core',
    from: [...modules.map((m) => `./src/${m}`), ...ADAPTERS.map((a) => `./src/${a}`), './src/sdk', ...ROOT_FILES],
    message: 'the core is the lower layer: it imports no module, adapter or the composition root',
  },
  ...modules.map((m) => ({
    target: `./src/${m}`,
    from: [...ADAPTERS.map((a) => `./src/${a}`), './src/sdk', ...ROOT_FILES],
    message: 'a module imports the core and other modules\' index.ts only (never server/, cli/, sdk/ or the composition root)',
  })),
  ...modules.flatMap((m) =>
    modules
      .filter((o) => o !== m)
      .map((o) => ({
        target: `./src/${m}`,
        from: `./src/${o}`,
        except: ['./index.ts'],
        message: `import the ${o} module through its public API (src/${o}/index.ts), not its internals`,
      })),
  ),
  {
    target: './src/sdk',
    from: ['./src/core', ...modules.map((m) => `./src/${m}`), ...ADAPTERS.map((a) => `./src/${a}`), ...ROOT_FILES],
    message: 'the SDK runs in users\' apps: it imports nothing of the server',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'web/dist/', 'schema/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', AbortController: 'readonly', fetch: 'readonly', window: 'readonly', document: 'readonly', localStorage: 'readonly', EventSource: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
      // no-cycle reads the imported files too: parse them as TypeScript
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/extensions': ['.ts', '.tsx', '.js'],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      // cycles of runtime imports (type-only imports are erased and not counted)
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
);
