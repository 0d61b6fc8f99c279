/**
 * Where Shipshape's own files are: the package folder (the first folder above this module that
 * holds package.json) and its version. The same from src/ (tests), dist/ (tsc's output) and the
 * bundle in dist/bundle/, whose chunks all sit at one depth whatever module they came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}: Shipshape's files are not where it was installed`);
    dir = up;
  }
}

/** Shipshape's package folder (package.json, dist/, schema/). */
export const packageRoot: string = findRoot();

/** Shipshape's version from its package.json ('0.0.0' if it cannot be read). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
