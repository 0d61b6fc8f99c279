import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { kindByName, kinds } from '../../../src/checks/kinds/index.js';
import { channelKinds } from '../../../src/notify/channels/index.js';

/** what each file of a registry's folder exports that is a kind (helpers' files, `_*`, and the index are not) */
async function exportedKinds(folder: string, isKind: (v: unknown) => boolean): Promise<unknown[]> {
  const dir = fileURLToPath(new URL(`../../../src/${folder}/`, import.meta.url));
  const found: unknown[] = [];
  for (const f of readdirSync(dir).filter((n) => /^[a-z][a-z0-9-]*\.ts$/.test(n) && n !== 'index.ts')) {
    const mod = (await import(`${dir}${f}`)) as Record<string, unknown>;
    const own = Object.values(mod).filter(isKind);
    expect(own, `${folder}/${f} exports one kind`).toHaveLength(1);
    found.push(...own);
  }
  return found;
}

describe('check kind registry', () => {
  it('has every kind once, by name', () => {
    expect(kinds.map((k) => k.name).sort()).toEqual(['audit', 'command', 'dns', 'env', 'headers', 'heartbeat', 'http', 'postgres', 'redis', 'secrets', 'tcp', 'tls']);
    expect(kindByName('http')?.name).toBe('http');
    expect(kindByName('ftp')).toBeUndefined();
  });

  it('lists every kind its folder holds, and so does the channels registry (a file added without its line in index.ts is caught)', async () => {
    const checkFiles = await exportedKinds('checks/kinds', (v) => typeof v === 'object' && v !== null && 'run' in v && 'spec' in v);
    expect(new Set(kinds)).toEqual(new Set(checkFiles));
    const channelFiles = await exportedKinds('notify/channels', (v) => typeof v === 'object' && v !== null && 'send' in v && 'spec' in v);
    expect(new Set(channelKinds)).toEqual(new Set(channelFiles));
    expect(channelKinds.map((k) => k.kind).sort()).toEqual(['discord', 'email', 'ntfy', 'pagerduty', 'slack', 'teams', 'telegram', 'webhook']);
  });

  it('publishes a JSON Schema with descriptions for every field and rejects unknown keys', () => {
    for (const k of kinds) {
      const schema = z.toJSONSchema(k.spec, { io: 'input' }) as { properties: Record<string, { description?: string }>; additionalProperties?: boolean };
      expect(schema.additionalProperties, k.name).toBe(false);
      for (const [field, prop] of Object.entries(schema.properties)) expect(prop.description, `${k.name}.${field}`).toBeTruthy();
    }
  });
});
