import { readFileSync } from 'node:fs';
import { checkDefs } from '../../src/checks/index.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { loadConfig, parseConfig } from '../../src/modules.js';
import { jsonSchema } from '../../src/modules.js';

const ISSUE_CONFIG = `services:
  web:
    checks:
      - name: api-health
        http: { url: "\${SITE_URL:-http://127.0.0.1:3000}/api/health", every: 30s, timeout: 5s }
        conditions: ["status == 200", "latency < 500ms", 'body.status == "healthy"']
  db:
    checks:
      - postgres: { url: "\${DATABASE_URL}", every: 30s }
        conditions: ["connections_used < 80%"]
  cache:
    checks:
      - redis: { url: "redis://127.0.0.1:6379", every: 30s }
      - tcp: { host: 127.0.0.1, port: 6379, every: 30s, timeout: 2s }
  backups:
    checks:
      - heartbeat: { token: nightly-backup, period: 24h, grace: 2h }
`;

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, 'shipshape.yaml', { env });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('loads the config from the issue as written, with defaults applied', () => {
    const cfg = parseConfig(ISSUE_CONFIG, 'shipshape.yaml', { env: {} });
    expect(checkDefs(cfg).services.map((s) => s.name)).toEqual(['web', 'db', 'cache', 'backups']);
    const web = checkDefs(cfg).checks.get('web/api-health');
    expect(web?.spec.url).toBe('http://127.0.0.1:3000/api/health');
    expect(web?.every).toBe(30_000);
    expect(web?.timeout).toBe(5_000);
    expect(web?.downAfter).toBe(2);
    expect(web?.upAfter).toBe(1);
    expect(web?.conditions.map((c) => c.text)).toContain('latency < 500ms');
    expect([...checkDefs(cfg).checks.keys()]).toEqual(['web/api-health', 'db/postgres', 'cache/redis', 'cache/tcp', 'backups/heartbeat']);
    // ${DATABASE_URL} unset: empty value and a warning, like docker compose
    expect(checkDefs(cfg).checks.get('db/postgres')?.spec.url).toBe('');
    expect(cfg.warnings.join('\n')).toMatch(/DATABASE_URL.*not set/);
  });

  it('loads the example config shipped in examples/', () => {
    const cfg = loadConfig('examples/shipshape.yaml');
    expect(checkDefs(cfg).services.length).toBeGreaterThanOrEqual(4);
    expect(checkDefs(cfg).checks.has('backups/heartbeat')).toBe(true);
  });

  it('interpolates ${VAR}, ${VAR:-default}, $$ and fails on ${VAR:?message}', () => {
    const cfg = parseConfig(
      `services:\n  web:\n    checks:\n      - http: { url: "\${HOST}/x?price=$$5" }\n      - http: { url: "\${MISSING:-http://fallback}/y" }\n`,
      'f.yaml',
      { env: { HOST: 'http://h:1' } },
    );
    expect(checkDefs(cfg).checks.get('web/http')?.spec.url).toBe('http://h:1/x?price=$5');
    expect(checkDefs(cfg).checks.get('web/http-2')?.spec.url).toBe('http://fallback/y');
    const e = errorOf(`services:\n  web:\n    checks:\n      - http: { url: "\${SITE:?set SITE to your app's URL}" }\n`);
    expect(e.message).toMatch(/shipshape\.yaml:4:\d+: .*SITE.*set SITE to your app's URL/);
  });

  it('reports malformed YAML with file and line', () => {
    const e = errorOf('services:\n  web:\n    checks: [\n');
    expect(e.issues[0]?.line).toBeGreaterThan(0);
    expect(e.message).toMatch(/^shipshape\.yaml:\d+:\d+: invalid YAML/);
  });

  it('names file, line, key path and expectation for a wrong type', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - tcp: { host: x, port: "eighty" }\n');
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]).toMatchObject({ file: 'shipshape.yaml', line: 4, path: 'services.web.checks[0].tcp.port' });
    expect(e.message).toMatch(/expected number, got string "eighty"/);
  });

  it('rejects an unknown check kind and lists the kinds', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - ping: { host: x }\n');
    expect(e.message).toMatch(/shipshape\.yaml:4:\d+: services\.web\.checks\[0\]: unknown key "ping".*command, dns, env, headers, heartbeat, http, postgres, redis, secrets, tcp, tls/);
  });

  it('points an unknown key at its own line, not at the mapping that holds it', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - name: home\n        http: { url: "http://127.0.0.1:1/" }\n        bogus_key: 1\n');
    expect(e.message).toMatch(/^shipshape\.yaml:6:9: services\.web\.checks\[0\]: unknown key "bogus_key"/);
  });

  it('rejects unknown keys anywhere', () => {
    const e = errorOf('servces:\n  web: {}\n');
    expect(e.message).toMatch(/shipshape\.yaml:1:1: unknown key "servces"/);
    const e2 = errorOf('services:\n  web:\n    checks:\n      - http: { url: "http://x", evry: 30s }\n');
    expect(e2.issues[0]?.path).toBe('services.web.checks[0].http');
    expect(e2.message).toMatch(/unknown key "evry"/);
  });

  it('rejects bad durations with the expected form', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - http: { url: "http://x", every: 30 seconds }\n');
    expect(e.issues[0]).toMatchObject({ line: 4, path: 'services.web.checks[0].http.every' });
    expect(e.message).toMatch(/expected a duration like 500ms, 30s/);
  });

  it('points at the column of a broken condition', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - http: { url: "http://x" }\n        conditions: ["status = 200"]\n');
    expect(e.issues[0]).toMatchObject({ line: 5, path: 'services.web.checks[0].conditions[0]' });
    expect(e.message).toMatch(/column 8: expected an operator/);
  });

  it('rejects a check with two kinds and a duplicate check name', () => {
    expect(errorOf('services:\n  web:\n    checks:\n      - tcp: { host: x, port: 1 }\n        http: { url: "http://x" }\n').message).toMatch(/exactly one kind/);
    expect(errorOf('services:\n  web:\n    checks:\n      - { name: a, tcp: { host: x, port: 1 } }\n      - { name: a, tcp: { host: y, port: 2 } }\n').message).toMatch(/shipshape\.yaml:5:\d+: services\.web\.checks\[1\]\.name: duplicate check name "a"/);
  });

  it('reports every error at once, not just the first', () => {
    const e = errorOf('services:\n  web:\n    checks:\n      - tcp: { host: x, port: "p" }\n      - http: { url: 5 }\n');
    expect(e.issues.length).toBe(2);
  });

  it('a missing file is a clear error', () => {
    expect(() => loadConfig('/nonexistent/shipshape.yaml')).toThrow(/\/nonexistent\/shipshape\.yaml: cannot read config: file not found/);
  });

  it('the published JSON Schema matches the zod schema', () => {
    const published = JSON.parse(readFileSync('schema/shipshape.schema.json', 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(jsonSchema())));
    // a check is Shipshape's own form or a Gatus endpoints: entry; both closed to unknown keys
    const [check, gatus] = published.properties.services.additionalProperties.properties.checks.items.anyOf;
    expect(Object.keys(check.properties)).toEqual(expect.arrayContaining(['http', 'tcp', 'dns', 'tls', 'postgres', 'redis', 'command', 'heartbeat', 'conditions']));
    expect(check.additionalProperties).toBe(false);
    expect(Object.keys(gatus.properties)).toEqual(expect.arrayContaining(['name', 'url', 'interval', 'conditions', 'alerts', 'client', 'dns']));
    expect(gatus.additionalProperties).toBe(false);
  });
});
