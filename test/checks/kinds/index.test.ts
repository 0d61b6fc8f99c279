import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { kindByName, kinds } from '../../../src/checks/kinds/index.js';

describe('check kind registry', () => {
  it('has every kind once, by name', () => {
    expect(kinds.map((k) => k.name).sort()).toEqual(['audit', 'command', 'dns', 'env', 'headers', 'heartbeat', 'http', 'postgres', 'redis', 'secrets', 'tcp', 'tls']);
    expect(kindByName('http')?.name).toBe('http');
    expect(kindByName('ftp')).toBeUndefined();
  });

  it('publishes a JSON Schema with descriptions for every field and rejects unknown keys', () => {
    for (const k of kinds) {
      const schema = z.toJSONSchema(k.spec, { io: 'input' }) as { properties: Record<string, { description?: string }>; additionalProperties?: boolean };
      expect(schema.additionalProperties, k.name).toBe(false);
      for (const [field, prop] of Object.entries(schema.properties)) expect(prop.description, `${k.name}.${field}`).toBeTruthy();
    }
  });
});
