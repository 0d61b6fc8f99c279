/**
 * Alertmanager's routing tree (`notify.route:`), with the inputs and expected results of
 * Alertmanager's dispatch/route_test.go, loaded through the real config loader; receivers mapped
 * to channels; config errors naming file:line and key.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { resolveRoutes, routesFor } from '../../src/notify/dispatcher.js';
import { walkRoutes, type ResolvedRoute } from '../../src/notify/tree.js';
import { alert, harness, useNotifyFixture } from './helpers.js';

const RECEIVERS = ['notify-def', 'notify-A', 'notify-testing', 'notify-productionA', 'notify-productionB', 'notify-BC'];
const channels = (names: string[]) => `  channels:\n${names.map((n) => `    ${n}: { webhook: { url: "http://127.0.0.1:9/${n}" } }`).join('\n')}\n`;
const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((l) => (l.trim() ? by + l : l))
    .join('\n');
const load = (route: string, extra = '') => parseConfig(`notify:\n${channels(RECEIVERS)}${extra}  route:\n${indent(route, '    ')}\n`, 'shipshape.yaml', { env: {} }).raw.notify;

const M = 60_000;
const DEF = { groupBy: [] as string[], groupWait: 30_000, groupInterval: 5 * M, repeatInterval: 240 * M };
const opts = (r: ResolvedRoute) => ({ receiver: r.receiver, groupBy: r.groupBy, groupWait: r.groupWait, groupInterval: r.groupInterval, repeatInterval: r.repeatInterval });

// TestRouteMatch's tree
const TREE_MATCH = `
receiver: 'notify-def'
routes:
- match:
    owner: 'team-A'
  receiver: 'notify-A'
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    group_by: [...]
  - match:
      env: "production"
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - match_re:
      env: "produ.*"
      job: ".*"
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- match_re:
    owner: 'team-(B|C)'
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- match:
    group_by: 'role'
  group_by: ['role']
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m
`;

// TestRouteMatchers' tree: the same with `matchers:`
const TREE_MATCHERS = `
receiver: 'notify-def'
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: 'notify-A'
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: 'notify-testing'
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: [owner=~"team-(B|C)"]
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- matchers: [group_by="role"]
  group_by: ['role']
  routes:
  - matchers: ['{env="testing"}']
    receiver: 'notify-testing'
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
`;

type Case = { input: Record<string, string>; result: ReturnType<typeof opts>[]; keys: string[] };
function cases(teamA: string, teamBC: string, testing: string, prodB: string): Case[] {
  return [
    { input: { owner: 'team-A' }, result: [{ ...DEF, receiver: 'notify-A' }], keys: [`{}/${teamA}`] },
    { input: { owner: 'team-A', env: 'unset' }, result: [{ ...DEF, receiver: 'notify-A' }], keys: [`{}/${teamA}`] },
    { input: { owner: 'team-C' }, result: [{ ...DEF, receiver: 'notify-BC', groupBy: ['foo', 'bar'], groupWait: 2 * M }], keys: [`{}/${teamBC}`] },
    { input: { owner: 'team-A', env: 'testing' }, result: [{ ...DEF, receiver: 'notify-testing', groupBy: ['...'] }], keys: [`{}/${teamA}/${testing}`] },
    {
      input: { owner: 'team-A', env: 'production' },
      result: [
        { ...DEF, receiver: 'notify-productionA', groupWait: M },
        { receiver: 'notify-productionB', groupBy: ['job'], groupWait: 30_000, groupInterval: 5 * M, repeatInterval: 60 * M },
      ],
      keys: [`{}/${teamA}/{env="production"}`, `{}/${teamA}/${prodB}`],
    },
    { input: { group_by: 'role' }, result: [{ ...DEF, receiver: 'notify-def', groupBy: ['role'] }], keys: ['{}/{group_by="role"}'] },
    { input: { env: 'testing', group_by: 'role' }, result: [{ ...DEF, receiver: 'notify-testing', groupBy: ['role'] }], keys: ['{}/{group_by="role"}/{env="testing"}'] },
    { input: { env: 'testing', group_by: 'role', wait: 'long' }, result: [{ ...DEF, receiver: 'notify-testing', groupBy: ['role'], groupWait: 2 * M }], keys: ['{}/{group_by="role"}/{env="testing"}/{wait="long"}'] },
  ];
}

describe('the routing tree (dispatch/route_test.go)', () => {
  const suites: [string, string, Case[]][] = [
    ['TestRouteMatch (match / match_re)', TREE_MATCH, cases('{owner="team-A"}', '{owner=~"team-(B|C)"}', '{env="testing"}', '{env=~"produ.*",job=~".*"}')],
    ['TestRouteMatchers (matchers)', TREE_MATCHERS, cases('{level!="critical",owner="team-A"}', '{owner=~"team-(B|C)"}', '{baz!~".*quux",env="testing"}', '{env=~"produ.*",job=~".*"}')],
  ];
  for (const [name, tree, list] of suites) {
    it(`${name}: receivers, inherited grouping and timings, and route keys`, () => {
      const cfg = load(tree);
      const routes = resolveRoutes(cfg);
      for (const c of list) {
        const got = routesFor(routes, c.input);
        expect(got.map(opts), JSON.stringify(c.input)).toEqual(c.result);
        expect(got.map((r) => r.key), JSON.stringify(c.input)).toEqual(c.keys);
      }
    });
  }

  it('TestRouteWalk: every node, parents first, with its inherited receiver', () => {
    const got: string[] = [];
    walkRoutes(resolveRoutes(load(TREE_MATCH)).root, (r) => got.push(r.receiver));
    expect(got).toEqual(['notify-def', 'notify-A', 'notify-testing', 'notify-productionA', 'notify-productionB', 'notify-BC', 'notify-def', 'notify-testing', 'notify-testing']);
  });

  it('TestInheritParentGroupByAll: "..." is inherited until a child sets group_by', () => {
    const cfg = load(`
receiver: notify-def
routes:
- match: { env: parent }
  group_by: ['...']
  routes:
  - match: { env: child1 }
  - match: { env: child2 }
    group_by: ['foo']
`);
    const parent = resolveRoutes(cfg).root.children[0]!;
    expect(parent.groupBy).toEqual(['...']);
    expect(parent.children[0]!.groupBy).toEqual(['...']);
    expect(parent.children[1]!.groupBy).toEqual(['foo']);
  });

  it('route ids are unique (groups are keyed by them), also for identical siblings (TestRouteID)', () => {
    const cfg = load(`
receiver: notify-def
routes:
- { continue: true, matchers: [foo=bar], receiver: notify-A, routes: [{ matchers: [bar=baz] }] }
- { continue: true, matchers: [foo=bar], receiver: notify-A, routes: [{ matchers: [bar=baz] }] }
- { continue: true, matchers: [foo=bar], receiver: notify-BC, routes: [{ matchers: [bar=baz] }] }
- { continue: true, matchers: ['qux=~"[a-zA-Z0-9]+"'] }
- { continue: true, matchers: ['corge!~"[0-9]+"'] }
`);
    const all = resolveRoutes(cfg).all;
    expect(all).toHaveLength(9);
    expect(new Set(all.map((r) => r.id)).size).toBe(9);
    // an alert matching all continue routes goes to each of them (their children where they match)
    expect(routesFor(resolveRoutes(cfg), { foo: 'bar', bar: 'baz', qux: 'x1', corge: 'y' }).map((r) => r.receiver)).toEqual(['notify-A', 'notify-A', 'notify-BC', 'notify-def', 'notify-def']);
  });

  it('one matchers: entry may hold several matchers, all required (as amtool 0.25 routes it too)', () => {
    const cfg = load(`
receiver: notify-def
routes:
- matchers: ['foo=bar,bar=baz']
  receiver: notify-A
`);
    expect(routesFor(resolveRoutes(cfg), { foo: 'bar', bar: 'baz' }).map((r) => r.receiver)).toEqual(['notify-A']);
    expect(routesFor(resolveRoutes(cfg), { foo: 'bar' }).map((r) => r.receiver)).toEqual(['notify-def']);
  });

  it('mute and active time intervals are not inherited by child routes', () => {
    const cfg = load(
      `
receiver: notify-def
routes:
- matchers: [team=a]
  mute_time_intervals: [nights]
  active_time_intervals: [weekdays]
  routes:
  - matchers: [env=prod]
`,
      '  time_intervals:\n    - name: nights\n      time_intervals: [{ times: [{ start_time: "00:00", end_time: "06:00" }] }]\n    - name: weekdays\n      time_intervals: [{ weekdays: ["monday:friday"] }]\n',
    );
    const [parent] = resolveRoutes(cfg).root.children;
    expect(parent).toMatchObject({ muteTimeIntervals: ['nights'], activeTimeIntervals: ['weekdays'] });
    expect(parent!.children[0]).toMatchObject({ muteTimeIntervals: [], activeTimeIntervals: [] });
  });
});

describe('route config errors', () => {
  const base = `notify:\n${channels(['a', 'b'])}`;
  const bad = (text: string) => () => parseConfig(base + text, 'f.yaml', { env: {} });
  it('names file:line and the key', () => {
    expect(bad('  route:\n    receiver: a\n    routes:\n      - matchers: [x=y]\n        receiver: nope\n')).toThrow(/f\.yaml:9:\d+: notify\.route\.routes\[0\]\.receiver: undefined receiver "nope" used in route; receivers and channels: a, b/);
    expect(bad('  route:\n    routes: [{ receiver: a }]\n')).toThrow(/notify\.route\.receiver: root route must specify a default receiver/);
    expect(bad('  route:\n    receiver: a\n    matchers: [x=y]\n')).toThrow(/notify\.route: root route must not have any matchers/);
    expect(bad('  route:\n    receiver: a\n    continue: true\n')).toThrow(/notify\.route\.continue: cannot have continue in root route/);
    expect(bad('  route:\n    receiver: a\n  routes:\n    - channels: [a]\n')).toThrow(/notify\.route: give either route: \(an Alertmanager routing tree\) or routes: \(a flat list\), not both/);
    expect(bad('  route:\n    receiver: a\n    routes:\n      - matchers: [x=y]\n        mute_time_intervals: [lunch]\n')).toThrow(/f\.yaml:9:\d+: notify\.route\.routes\[0\]\.mute_time_intervals\[0\]: undefined time interval "lunch" used in route/);
    expect(bad('  route:\n    receiver: a\n    group_by: [..., alertname]\n')).toThrow(/notify\.route\.group_by: cannot have wildcard group_by/);
    expect(bad('  route:\n    receiver: a\n    repeat_interval: 0s\n')).toThrow(/notify\.route\.repeat_interval: repeat_interval cannot be zero/);
    expect(bad('  receivers:\n    team: [a, c]\n  route:\n    receiver: team\n')).toThrow(/f\.yaml:6:\d+: notify\.receivers\.team\[1\]: unknown channel "c"/);
    expect(bad('  routes:\n    - matchers: [x=y]\n')).toThrow(/notify\.routes\[0\]: a route needs channels or a receiver/);
  });
  it('a malformed matcher names the route and says what is wrong', () => {
    expect(bad('  route:\n    receiver: a\n    routes:\n      - matchers: [\'severity=~"P0|P1"\', \'team!="db\']\n')).toThrow(/notify\.route\.routes\[0\]\.matchers\[1\]: invalid matcher "team!=\\"db": .*missing closing "/);
    expect(bad("  route:\n    receiver: a\n    routes:\n      - matchers: ['foo!bar']\n")).toThrow(/notify\.route\.routes\[0\]\.matchers\[0\]: invalid matcher "foo!bar"/);
    expect(bad("  route:\n    receiver: a\n    routes:\n      - matchers: ['x=~\"a(?=b)\"']\n")).toThrow(/matchers\[0\]: .*lookahead and lookbehind .* not supported/);
  });
});

describe('receivers and channels on the tree', () => {
  const f = useNotifyFixture('shipshape-tree-');

  it('a receiver with several channels sends to each, under its own name; [] drops; the root takes the rest', async () => {
    f.h = await harness(
      f.store,
      `
notify:
  channels:
    slack: { webhook: { url: "${f.rx.url}/slack" } }
    mail: { webhook: { url: "${f.rx.url}/mail" } }
    fallback: { webhook: { url: "${f.rx.url}/fallback" } }
  receivers:
    team-pager: [slack, mail]
    blackhole: []
  inhibit_rules: []
  route:
    receiver: fallback
    group_wait: 0s
    group_by: [alertname]
    routes:
      - matchers: ['severity=~"P0|P1"', 'team!="db"']
        receiver: team-pager
      - matchers: [team=db]
        receiver: blackhole
      - matchers: [env=dev]
        channels: [mail]
`,
    );
    await f.h.fire(alert('page-me', { severity: 'P0', team: 'web' }));
    await f.h.fire(alert('db-noise', { severity: 'P0', team: 'db' }));
    await f.h.fire(alert('dev', { severity: 'P3', env: 'dev' }));
    await f.h.fire(alert('other', { severity: 'P3' }));
    const by = (p: string) => f.rx.requests.filter((r) => r.path === p).map((r) => r.json() as { receiver: string; alerts: { labels: { alertname: string } }[] });
    expect(by('/slack').map((n) => [n.receiver, n.alerts.map((a) => a.labels.alertname)])).toEqual([['team-pager', ['page-me']]]);
    expect(by('/mail').map((n) => [n.receiver, n.alerts.map((a) => a.labels.alertname)]).sort()).toEqual([['mail', ['dev']], ['team-pager', ['page-me']]]);
    expect(by('/fallback').map((n) => [n.receiver, n.alerts.map((a) => a.labels.alertname)])).toEqual([['fallback', ['other']]]);
    const st = f.h.notify.dispatcher.status().find((s) => s.alert.labels.alertname === 'db-noise');
    expect(st).toMatchObject({ channels: [], receivers: ['blackhole'] });
  });

  it('the flat routes: list takes receiver, matchers and nested routes too', async () => {
    f.h = await harness(
      f.store,
      `
notify:
  defaults: { group_wait: 0s }
  channels:
    ops: { webhook: { url: "${f.rx.url}/ops" } }
    dba: { webhook: { url: "${f.rx.url}/dba" } }
  routes:
    - matchers: [service=db]
      receiver: ops
      routes:
        - matchers: ['severity=~"P0|P1"']
          receiver: dba
`,
    );
    await f.h.fire(alert('a', { service: 'db', severity: 'P3' }));
    await f.h.fire(alert('b', { service: 'db', severity: 'P1' }));
    await f.h.fire(alert('c', { service: 'web', severity: 'P1' }));
    const by = (p: string) => f.rx.requests.filter((r) => r.path === p).flatMap((r) => (r.json().alerts as { labels: { alertname: string } }[]).map((x) => x.labels.alertname));
    expect(by('/ops')).toEqual(['a']);
    expect(by('/dba')).toEqual(['b']);
    expect(f.h.notify.dispatcher.status().find((s) => s.alert.labels.alertname === 'c')?.channels).toEqual([]);
  });
});
