/**
 * The registry of check kinds, found in this folder: adding a kind is adding one file that
 * exports a `CheckKind` (its zod spec, `run`, `describe`, `impliedConditions`). Files whose names
 * start with `_` hold shared helpers and are skipped.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CheckKind } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => /^[a-z][a-z0-9-]*\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !/^index\./.test(f))
  .sort();

const isKind = (v: unknown): v is CheckKind => typeof v === 'object' && v !== null && typeof (v as CheckKind).name === 'string' && typeof (v as CheckKind).run === 'function' && 'spec' in v;

const found: CheckKind[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(`${here}/${f}`).href)) as Record<string, unknown>;
  for (const v of Object.values(mod)) if (isKind(v)) found.push(v);
}

export const kinds: readonly CheckKind[] = found;

const byName = new Map(kinds.map((k) => [k.name, k]));
if (byName.size !== kinds.length) throw new Error(`two check kinds share a name: ${kinds.map((k) => k.name).join(', ')}`);

export function kindByName(name: string): CheckKind | undefined {
  return byName.get(name);
}
