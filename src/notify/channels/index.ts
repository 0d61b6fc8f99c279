/**
 * The registry of channel kinds, found in this folder: adding a kind is adding one file that
 * exports a `ChannelKind` (its config key, zod spec, `send`, `secrets`, `describe`). Files whose
 * names start with `_` hold shared helpers and are skipped.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChannelKind } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => /^[a-z][a-z0-9-]*\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !/^index\./.test(f))
  .sort();

const isChannel = (v: unknown): v is ChannelKind => typeof v === 'object' && v !== null && typeof (v as ChannelKind).kind === 'string' && typeof (v as ChannelKind).send === 'function' && 'spec' in v;

const found: ChannelKind<never>[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(`${here}/${f}`).href)) as Record<string, unknown>;
  for (const v of Object.values(mod)) if (isChannel(v)) found.push(v as ChannelKind<never>);
}

export const channelKinds: readonly ChannelKind<never>[] = found;
const byName = new Map(found.map((k) => [k.kind, k]));
if (byName.size !== found.length) throw new Error(`two channel kinds share a name: ${found.map((k) => k.kind).join(', ')}`);

export const CHANNEL_KINDS: readonly string[] = found.map((k) => k.kind);

export function channelKind(kind: string): ChannelKind<unknown> {
  const k = byName.get(kind);
  if (!k) throw new Error(`unknown channel kind "${kind}"`);
  return k as unknown as ChannelKind<unknown>;
}
