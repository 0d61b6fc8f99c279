/**
 * GET /api/v1/secrets/findings on a running Shipshape: each configured `secrets` check scanned
 * (paths relative to the config file), findings redacted, cached until `?refresh=true`, read
 * scope, at most 20 targets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from './helpers.js';
import { makeSeeds } from './seeds.js';

const seeds = makeSeeds(11);
const live = seeds.find((s) => s.rule === 'stripe-secret-key')!;
const github = seeds.find((s) => s.rule === 'github-pat')!;

interface Item {
  service: string;
  check: string | null;
  path: string;
  scanned_at: string;
  files: number;
  skipped: { file: string; reason: string }[];
  findings: { ruleId: string; description: string; severity: string; file: string; line: number; column: number; match: string; fingerprint: string; commit?: string }[];
  findings_total: number;
  error: string | null;
}

let srv: TestServer;
let app = '';

beforeAll(async () => {
  // the server's config sits in srv.dir: write the config first with relative paths, then the tree
  srv = await startTestServer(`services:
  shop:
    checks:
      - name: repo
        secrets: { path: app, every: 1h }
  clean:
    checks:
      - secrets: { path: docs, every: 1h }
      - secrets: { path: missing, every: 1h }
`);
  app = join(srv.dir, 'app');
  mkdirSync(app, { recursive: true });
  mkdirSync(join(srv.dir, 'docs'), { recursive: true });
  writeFileSync(join(app, 'pay.ts'), `import Stripe from 'stripe';\n${live.text}\n`);
  writeFileSync(join(srv.dir, 'docs', 'README.md'), '# nothing secret here\n');
}, 60_000);

afterAll(async () => srv?.close());

describe('GET /api/v1/secrets/findings', () => {
  it('scans each secrets check, redacted, and needs a token', async () => {
    expect((await srv.api('/api/v1/secrets/findings', { token: null })).status).toBe(401);
    const res = await srv.api('/api/v1/secrets/findings?refresh=true');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(live.secret);
    expect(text).not.toContain(live.secret.slice(0, 12));
    const { items } = JSON.parse(text) as { items: Item[] };
    expect(items.map((i) => [i.service, i.check, i.path, i.findings_total, i.error === null])).toEqual([
      ['shop', 'repo', 'app', 1, true],
      ['clean', null, 'docs', 0, true],
      ['clean', null, 'missing', 0, false],
    ]);
    expect(items[0]?.files).toBe(1);
    expect(items[0]?.findings).toEqual([
      { ruleId: 'stripe-secret-key', description: expect.any(String), severity: 'high', file: 'pay.ts', line: 2, column: live.text.indexOf(live.secret) + 1, match: `${live.secret.slice(0, 4)}…`, fingerprint: 'pay.ts:stripe-secret-key:2' },
    ]);
    expect(items[2]?.error).toMatch(/missing/);
    expect(Date.parse(items[0]!.scanned_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('answers from its cache until asked to refresh', async () => {
    writeFileSync(join(app, '.env'), `${github.text}\n`);
    const cached = (await (await srv.api('/api/v1/secrets/findings')).json()) as { items: Item[] };
    expect(cached.items[0]?.findings.map((f) => f.ruleId)).toEqual(['stripe-secret-key']);
    const res = await srv.api('/api/v1/secrets/findings?refresh=true');
    const text = await res.text();
    expect(text).not.toContain(github.secret);
    const fresh = JSON.parse(text) as { items: Item[] };
    expect(fresh.items[0]?.findings.map((f) => [f.ruleId, f.file]).sort()).toEqual([
      ['github-pat', '.env'],
      ['stripe-secret-key', 'pay.ts'],
    ]);
    expect((await srv.api('/api/v1/secrets/findings?refresh=yes')).status).toBe(400);
    expect((await srv.api('/api/v1/secrets/findings?path=/etc')).status).toBe(400);
  });

  it('an allowlisted fingerprint is no longer a finding', async () => {
    writeFileSync(join(app, '.shipshape-secrets-allow'), 'pay.ts:stripe-secret-key:2\n');
    const { items } = (await (await srv.api('/api/v1/secrets/findings?refresh=true')).json()) as { items: Item[] };
    expect(items[0]?.findings.map((f) => f.ruleId)).toEqual(['github-pat']);
  });
});

describe('bounds', () => {
  it('scans at most 20 secrets checks', async () => {
    const d = tempDir();
    try {
      const checks = Array.from({ length: 25 }, (_, i) => `      - name: s${i}\n        secrets: { path: ${JSON.stringify(d.dir)}, every: 1d }`).join('\n');
      const many = await startTestServer(`services:\n  big:\n    checks:\n${checks}\n`);
      try {
        const { items } = (await (await many.api('/api/v1/secrets/findings')).json()) as { items: Item[] };
        expect(items.map((i) => i.check)).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`));
      } finally {
        await many.close();
      }
    } finally {
      d.remove();
    }
  }, 60_000);
});
