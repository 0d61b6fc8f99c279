/**
 * The routing tree judged side by side with the real Alertmanager: the same alertmanager.yml
 * `route:` section is given to `amtool config routes test` (Debian's prometheus-alertmanager) and
 * to Shipshape's `notify.route`, and for every label set of a grid both must pick the same
 * receivers in the same order. The tree mixes what users write: regex and negative matchers, Go's
 * `(?i)`, braces, quoted values with escapes (Alertmanager 0.25's parser takes no quoted label names,
 * so those are tested in matchers.test.ts), the deprecated match / match_re, `continue` chains,
 * nesting three deep and `group_by: ['...']`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { resolveRoutes, routesFor } from '../../src/notify/dispatcher.js';

const run = promisify(execFile);
const AMTOOL = '/usr/bin/amtool';

const ROUTE = String.raw`
route:
  receiver: fallback
  group_by: ['...']
  routes:
    - matchers: ['severity="critical"', 'env!~"stag.*"']
      receiver: pager
      continue: true
    - matchers: ['{service=~"(?i)FOO[0-9]+|baz"}']
      receiver: team-x
      routes:
        - matchers: [severity=~"critical|warning"]
          receiver: team-x-urgent
          routes:
            - match: { owner: team-y }
              receiver: cross-team
        - match_re: { owner: "team-.*" }
          receiver: team-x-owned
          continue: true
        - matchers: ['owner!=""']
          receiver: team-x-any-owner
    - matchers: ['service="files"', 'env="prod"']
      receiver: files-prod
      continue: true
    - matchers: ['service=~"fil.*"']
      receiver: files-all
    - matchers: ['{owner="team \"y\""}']
      receiver: quoted
    - matchers: ['service!~"db|cache"', 'severity="info"']
      receiver: info-not-infra
`;

const RECEIVERS = ['fallback', 'pager', 'team-x', 'team-x-urgent', 'cross-team', 'team-x-owned', 'team-x-any-owner', 'files-prod', 'files-all', 'quoted', 'info-not-infra'];

const VALUES: Record<string, string[]> = {
  service: ['foo1', 'FOO22', 'foo', 'baz', 'files', 'filestore', 'db', ''],
  severity: ['critical', 'warning', 'info', ''],
  env: ['prod', 'staging', ''],
  owner: ['team-y', 'team "y"', 'ops', ''],
};

function grid(): Record<string, string>[] {
  let out: Record<string, string>[] = [{ alertname: 'A' }];
  for (const [k, vs] of Object.entries(VALUES)) out = out.flatMap((l) => vs.map((v) => (v ? { ...l, [k]: v } : l)));
  return out;
}

describe('routing tree: Shipshape and amtool agree', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(AMTOOL)) throw new Error(`${AMTOOL} is missing: install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager); .ci/run does`);
    dir = mkdtempSync(join(tmpdir(), 'amtool-'));
    writeFileSync(join(dir, 'alertmanager.yml'), `${ROUTE}\nreceivers:\n${RECEIVERS.map((r) => `  - name: ${JSON.stringify(r)}\n`).join('')}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('amtool accepts the tree as written', async () => {
    const r = await run(AMTOOL, ['check-config', join(dir, 'alertmanager.yml')]);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('every label set of the grid goes to the same receivers, in the same order', async () => {
    const shipshape = parseConfig(
      `notify:\n  channels:\n${RECEIVERS.map((r) => `    ${r}: { webhook: { url: "http://127.0.0.1:9/${r}" } }\n`).join('')}${ROUTE.split('\n')
        .map((l) => (l ? `  ${l}` : l))
        .join('\n')}`,
      'shipshape.yaml',
      { env: {} },
    ).raw.notify;
    const tree = resolveRoutes(shipshape);
    const sets = grid();
    expect(sets.length).toBe(8 * 4 * 3 * 4);
    const mismatches: string[] = [];
    const seen = new Set<string>();
    const queue = [...sets];
    const worker = async () => {
      for (let labels = queue.shift(); labels; labels = queue.shift()) {
        const args = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        const { stdout } = await run(AMTOOL, ['config', 'routes', 'test', `--config.file=${join(dir, 'alertmanager.yml')}`, ...args]);
        const theirs = stdout.trim();
        const ours = routesFor(tree, labels)
          .map((r) => r.receiver)
          .join(',');
        seen.add(theirs);
        if (theirs !== ours) mismatches.push(`${JSON.stringify(labels)}: amtool ${theirs}, shipshape ${ours}`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    expect(mismatches).toEqual([]);
    // the grid reaches every receiver, so every branch of the tree was compared
    expect(new Set([...seen].flatMap((s) => s.split(',')))).toEqual(new Set(RECEIVERS));
  }, 120_000);
});
