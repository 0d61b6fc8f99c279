import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/load.js';
import { jsonSchema, parseConfig } from '../../src/modules.js';
import { judge } from '../../src/deploy/analysis.js';
import type { WindowStats } from '../../src/deploy/stats.js';

/** The config shape from issue 9, exactly as written there. */
const ISSUE_YAML = `services:
  web:
    checks:
      - name: up
        http: { url: "http://127.0.0.1:8080/api/health", every: 10s }
    deploy:
      driver: process
      repo: .                       # git repository the releases are cut from (default: the config's directory)
      build: "npm ci && npm run build"
      start: "node server.js"       # run in the release directory with PORT set
      health: { path: /api/health, timeout: 60s }
      gates:
        - run: "npm run typecheck"
        - run: "npm run lint"
          max_warnings: 0
        - bundle: { path: "dist/assets/*.js", limit: "100 KB", gzip: true }
      environments:
        staging: { proxy: { port: 8081 } }
        production: { proxy: { port: 8080 }, watch: 10m }
`;

function errorOf(text: string): string {
  try {
    parseConfig(text, '/srv/app/shipshape.yaml', { env: {} });
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('deploy: in shipshape.yaml', () => {
  it('loads the example from the issue as written, with defaults', () => {
    const cfg = parseConfig(ISSUE_YAML, '/srv/app/shipshape.yaml', { env: {} });
    const d = cfg.raw.services.web?.deploy;
    expect(d).toMatchObject({
      driver: 'process',
      repo: '.',
      build: 'npm ci && npm run build',
      start: 'node server.js',
      health: { path: '/api/health', timeout: 60_000 },
      keep_warm: 600_000,
      keep_releases: 5,
      environments: { staging: { proxy: { port: 8081, host: '127.0.0.1' } }, production: { proxy: { port: 8080 }, watch: 600_000 } },
    });
    expect(d?.gates).toEqual([
      { run: 'npm run typecheck', timeout: 600_000 },
      { run: 'npm run lint', max_warnings: 0, timeout: 600_000 },
      { bundle: { path: 'dist/assets/*.js', limit: 100 * 1024, gzip: true }, timeout: 600_000 },
    ]);
    // environments keep their order: staging is the default target, production the last
    expect(Object.keys(d?.environments ?? {})).toEqual(['staging', 'production']);
    // the checks of the same service still load beside it
    expect(cfg.raw.services.web?.checks).toHaveLength(1);
  });

  it('names the file, line and key of bad input', () => {
    const bad = (replace: string, by: string) => errorOf(ISSUE_YAML.replace(replace, by));
    expect(bad('health: { path: /api/health, timeout: 60s }', 'health: { path: /api/health, timeout: soon }')).toMatch(/^\/srv\/app\/shipshape\.yaml:11:\d+: services\.web\.deploy\.health\.timeout: expected a duration like 500ms, 30s/);
    expect(bad('limit: "100 KB"', 'limit: "lots"')).toMatch(/shipshape\.yaml:16:\d+: services\.web\.deploy\.gates\[2\]\.bundle\.limit: expected a size like 100KB/);
    expect(bad('driver: process', 'driver: heroku')).toMatch(/shipshape\.yaml:7:\d+: services\.web\.deploy\.driver: .*process/);
    expect(bad('          max_warnings: 0', '          max_warning: 0')).toMatch(/shipshape\.yaml:15:\d+: services\.web\.deploy\.gates\[1\]: unknown key "max_warning"/);
    expect(bad('        - run: "npm run typecheck"', '        - name: typecheck')).toMatch(/gates\[0\]: a gate is one of `run: "<command>"`, `bundle: \{ path, limit \}`, `migrations: true`, `backup: \{ max_age \}`, `env: \{\}`, `secrets: \{\}`, `audit: \{ level \}` or `headers: \{ path \| url, min_grade \}` \(exactly one of them\)/);
    expect(bad('        - run: "npm run typecheck"', '        - headers: { min_grade: A }')).toMatch(/gates\[0\]\.headers: a headers gate grades either `url` \(when the gate runs\) or `path` \(the new release itself\), exactly one of them/);
    expect(bad('        - run: "npm run typecheck"', '        - secrets: { path: ../other }')).toMatch(/gates\[0\]\.secrets\.path: a path inside the release directory/);
    expect(bad('      start: "node server.js"       # run in the release directory with PORT set\n', '')).toMatch(/services\.web\.deploy\.start: is required/);
    expect(bad('production: { proxy: { port: 8080 }, watch: 10m }', 'production: { proxy: { port: 8081 } }')).toMatch(/shipshape\.yaml:19:\d+: services\.web\.deploy\.environments\.production\.proxy\.port: port 8081 is already the proxy port of web\/staging/);
    expect(bad('staging: { proxy: { port: 8081 } }', 'Staging: { proxy: { port: 8081 } }')).toMatch(/environments.*an environment name is lower-case/);
    expect(bad('path: "dist/assets/*.js"', 'path: "../secrets/*"')).toMatch(/bundle\.path: a bundle path is a glob inside the release directory/);
    expect(bad('      health: { path: /api/health, timeout: 60s }', '      health: { path: api/health }')).toMatch(/health\.path: a health path starts with \//);
  });

  it('is published in the JSON Schema', () => {
    const s = JSON.stringify(jsonSchema());
    expect(s).toContain('max_warnings');
    expect(s).toContain('keep_warm');
  });

  it('reads verification, canary steps and the analysis, with Flagger-style defaults', () => {
    const yaml = ISSUE_YAML.replace(
      '        production: { proxy: { port: 8080 }, watch: 10m }',
      `        production:
          proxy: { port: 8080 }
          watch: 10m
          canary: { steps: [5, 20] }
          verify:
            checks: [up]
            smoke:
              - { path: /, expect: { status: [200, 204], body: "<title>" } }`,
    );
    const d = parseConfig(yaml, '/srv/app/shipshape.yaml', { env: {} }).raw.services.web?.deploy;
    expect(d?.analysis).toEqual({ success_rate: 0.99, p95_ratio: 1.5, p95_slack: 50, min_requests: 20, interval: 60_000, incident: {} });
    expect(d?.environments.production).toMatchObject({ canary: { steps: [5, 20] }, verify: { checks: ['up'], timeout: 60_000, smoke: [{ method: 'GET', path: '/', timeout: 10_000, expect: { status: [200, 204], body: '<title>', headers: {} } }] } });
    const withAnalysis = ISSUE_YAML.replace('      gates:\n', '      analysis: { success_rate: 99.5%, incident: false }\n      gates:\n');
    expect(parseConfig(withAnalysis, '/srv/app/shipshape.yaml', { env: {} }).raw.services.web?.deploy?.analysis).toMatchObject({ success_rate: 0.995, incident: false });
  });

  it('names a verification check the service does not have, and canary steps out of order', () => {
    expect(errorOf(ISSUE_YAML.replace('production: { proxy: { port: 8080 }, watch: 10m }', 'production: { proxy: { port: 8080 }, verify: { checks: [upp] } }'))).toBe(
      '/srv/app/shipshape.yaml:19:65: services.web.deploy.environments.production.verify.checks[0]: "upp" is not a check of web (its checks: up)',
    );
    expect(errorOf(ISSUE_YAML.replace('production: { proxy: { port: 8080 }, watch: 10m }', 'production: { proxy: { port: 8080 }, canary: { steps: [50, 10] } }'))).toMatch(
      /^\/srv\/app\/shipshape\.yaml:19:\d+: services\.web\.deploy\.environments\.production\.canary\.steps: canary steps are increasing percentages, like \[10, 25, 50\]/,
    );
  });
});

describe('judging a window against the release before', () => {
  const w = (requests: number, errors: number, p95: number | null): WindowStats => ({ requests, errors, errorRate: requests ? errors / requests : 0, successRate: requests ? (requests - errors) / requests : 1, p95, p50: p95 });
  const a = { success_rate: 0.99, p95_ratio: 1.5, p95_slack: 50, min_requests: 20 };

  it('fails a slower release only when its p95 is past both the ratio and the slack', () => {
    // a release that just started: 37 ms against a warm 6 ms is 6×, but 31 ms is noise, not a regression
    expect(judge(w(100, 0, 37), w(500, 0, 6), a).ok).toBe(true);
    const slow = judge(w(100, 0, 160), w(500, 0, 6), a);
    expect(slow.ok).toBe(false);
    expect(slow.reason).toBe("100 requests, 0 failed (success 100%), p95 160 ms: p95 above 1.5× the previous release's 6.0 ms (and more than 50 ms above it)");
    // a tighter slack catches the small one; a large baseline is judged by the ratio
    expect(judge(w(100, 0, 37), w(500, 0, 6), { ...a, p95_slack: 5 }).ok).toBe(false);
    expect(judge(w(100, 0, 400), w(500, 0, 300), a).ok).toBe(true);
    expect(judge(w(100, 0, 500), w(500, 0, 300), a).ok).toBe(false);
  });

  it('fails on the success rate at once, and leaves a window with too few requests unjudged', () => {
    expect(judge(w(100, 2, 5), w(500, 0, 5), a)).toMatchObject({ ok: false, reason: expect.stringContaining('success rate below 99%') });
    expect(judge(w(19, 19, 5), w(500, 0, 5), a).ok).toBeNull();
  });
});
