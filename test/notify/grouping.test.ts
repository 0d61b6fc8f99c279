/** Alertmanager's grouping, timing, routing, inhibition and silences, with a clock the test turns. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootStore as Store } from '../../src/modules.js';
import { openStore } from '../../src/modules.js';
import { alert, harness, startReceiver, type Harness, type Receiver } from './helpers.js';

let rx: Receiver;
let dir: string;
let store: Store;
let h: Harness;

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(() => rx.close());
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipshape-notify-'));
  store = await openStore({ dataDir: dir });
  rx.requests.length = 0;
  rx.behave = () => 'ok';
});
afterEach(async () => {
  await h?.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const hooks = () => rx.requests.map((r) => r.json() as { status: string; groupLabels: Record<string, string>; alerts: { status: string; fingerprint: string; labels: Record<string, string> }[] });

function config(extra = '', route = '') {
  return `
notify:
  channels:
    hook: { webhook: { url: "${rx.url}/hook" } }
  routes:
    - channels: [hook]
${route}
${extra}`;
}

describe('grouping (group_wait, group_interval, repeat_interval)', () => {
  it('sends nothing before group_wait, then one notification holding both alerts that arrived within it', async () => {
    h = await harness(store, config());
    const a = alert('high-error-rate', { instance: 'a' });
    const b = alert('high-error-rate', { instance: 'b' });
    await h.fire(a);
    await h.advance(10_000);
    await h.fire(b);
    await h.advance(19_000); // 29s after the first
    expect(rx.requests).toHaveLength(0);
    await h.advance(1_000); // group_wait (30s) is over
    expect(rx.requests).toHaveLength(1);
    const [n] = hooks();
    expect(n!.status).toBe('firing');
    expect(n!.groupLabels).toEqual({ alertname: 'high-error-rate', service: 'web' });
    expect(n!.alerts.map((x) => x.fingerprint).sort()).toEqual([a.fingerprint, b.fingerprint].sort());
  });

  it('a firing alert is stored at once and its group is made again at load: after a crash before any tick it is told once', async () => {
    const first = await harness(store, config());
    const a = alert('high-error-rate', { instance: 'a' });
    await first.events.append({ type: 'alert.firing', actor: 'rule:high-error-rate', subject: `alert:${a.fingerprint}`, data: { ...a } as unknown as Record<string, unknown> });
    await first.notify.settled(); // handled: the alert is stored at once, its group is not
    expect(await store.db.selectFrom('notify_active').select('fingerprint').execute()).toEqual([{ fingerprint: a.fingerprint }]);
    expect(await store.db.selectFrom('notify_groups').select('key').execute()).toEqual([]);
    // the process dies here (no tick, no stop); the next one loads the store
    h = await harness(store, config());
    await h.advance(29_000);
    expect(rx.requests).toHaveLength(0);
    await h.advance(1_000);
    expect(hooks().map((n) => n.alerts.map((x) => x.fingerprint))).toEqual([[a.fingerprint]]);
    await h.advance(60_000);
    expect(rx.requests).toHaveLength(1);
  });

  it('tells about a new alert in the group only after group_interval, and repeats an unchanged group after repeat_interval', async () => {
    h = await harness(store, config('', '      group_interval: 5m\n      repeat_interval: 1h'));
    const a = alert('high-error-rate', { instance: 'a' });
    await h.fire(a);
    await h.advance(30_000);
    expect(rx.requests).toHaveLength(1);
    const b = alert('high-error-rate', { instance: 'b' });
    await h.advance(60_000);
    await h.fire(b);
    await h.advance(60_000);
    expect(rx.requests).toHaveLength(1); // still inside group_interval
    await h.advance(180_000); // 5m after the first flush
    expect(rx.requests).toHaveLength(2);
    expect(hooks()[1]!.alerts).toHaveLength(2);
    // nothing changes: the group_interval ticks send nothing until repeat_interval (1h) has passed
    for (let i = 0; i < 11; i++) await h.advance(300_000);
    expect(rx.requests).toHaveLength(2);
    await h.advance(300_000);
    expect(rx.requests).toHaveLength(3);
    expect(hooks()[2]!.alerts).toHaveLength(2);
  });

  it('sends resolved alerts once (send_resolved), and never for an alert that resolved before anyone was told', async () => {
    h = await harness(store, config());
    const a = alert('high-error-rate');
    await h.fire(a);
    await h.advance(30_000);
    expect(rx.requests).toHaveLength(1);
    await h.advance(10_000);
    await h.resolve(a);
    await h.advance(300_000);
    expect(rx.requests).toHaveLength(2);
    const resolved = hooks()[1]!;
    expect(resolved.status).toBe('resolved');
    expect(resolved.alerts[0]).toMatchObject({ status: 'resolved', fingerprint: a.fingerprint });
    await h.advance(300_000);
    await h.advance(4 * 3_600_000);
    expect(rx.requests).toHaveLength(2);

    // fired and resolved inside group_wait: nothing to say
    const b = alert('flappy', {}, { firedAt: new Date(h.clock.t).toISOString() });
    await h.fire(b);
    await h.advance(5_000);
    await h.resolve(b);
    await h.advance(60_000);
    expect(rx.requests).toHaveLength(2);
    expect(h.notify.dispatcher.groups.size).toBe(0);
  });

  it('with send_resolved: false, resolved alerts are not sent', async () => {
    h = await harness(store, `
notify:
  channels:
    hook: { webhook: { url: "${rx.url}/hook" }, send_resolved: false }
`);
    const a = alert('high-error-rate');
    await h.fire(a);
    await h.advance(30_000);
    await h.resolve(a);
    await h.advance(300_000);
    expect(hooks().map((n) => n.status)).toEqual(['firing']);
  });

  it('groups by the configured labels, and flushes an old alert at once', async () => {
    h = await harness(store, config('', '      group_by: [service]'));
    await h.fire(alert('high-error-rate'));
    await h.fire(alert('high-latency'));
    await h.fire(alert('high-latency', { service: 'api' }));
    await h.advance(30_000);
    expect(hooks().map((n) => [n.groupLabels.service, n.alerts.length]).sort()).toEqual([
      ['api', 1],
      ['web', 2],
    ]);
    // an alert that began firing long ago joins a new group and is told right away
    await h.fire(alert('disk-full', { service: 'db' }, { firedAt: new Date(h.clock.t - 3_600_000).toISOString() }));
    expect(rx.requests).toHaveLength(3);
  });
});

describe('routes', () => {
  it('first match wins unless continue; match takes lists, match_re regexes; unmatched alerts go nowhere', async () => {
    h = await harness(store, `
notify:
  defaults: { group_wait: 0s }
  channels:
    pager: { webhook: { url: "${rx.url}/pager" } }
    chat: { webhook: { url: "${rx.url}/chat" } }
    db: { webhook: { url: "${rx.url}/db" } }
  routes:
    - match: { severity: [P0, P1] }
      channels: [pager]
      continue: true
    - match_re: { service: "web|api" }
      channels: [chat]
    - match: { service: db }
      channels: [db]
`);
    await h.fire(alert('a', { severity: 'P0', service: 'web' }));
    await h.fire(alert('b', { severity: 'P2', service: 'api' }));
    await h.fire(alert('c', { severity: 'P3', service: 'db' }));
    await h.fire(alert('d', { severity: 'P3', service: 'webapp' }));
    const by = (p: string) => rx.requests.filter((r) => r.path === p).flatMap((r) => (r.json().alerts as { labels: { alertname: string } }[]).map((x) => x.labels.alertname));
    expect(by('/pager')).toEqual(['a']);
    expect(by('/chat').sort()).toEqual(['a', 'b']);
    expect(by('/db')).toEqual(['c']);
    const st = (await h.notify.dispatcher.status()).find((s) => s.alert.labels.alertname === 'd');
    expect(st?.channels).toEqual([]);
  });
});

describe('inhibition', () => {
  it('by default a P0 of a service mutes its P2 and P3 alerts, not other services or P1s', async () => {
    h = await harness(store, config('  defaults: { group_wait: 0s }'));
    await h.fire(alert('down', { severity: 'P0' }));
    await h.fire(alert('slow', { severity: 'P2' }));
    await h.fire(alert('noisy', { severity: 'P3' }));
    await h.fire(alert('errors', { severity: 'P1' }));
    await h.fire(alert('slow', { severity: 'P2', service: 'api' }));
    const sent = hooks().flatMap((n) => n.alerts.map((a) => `${a.labels.alertname}/${a.labels.service}`));
    expect(sent.sort()).toEqual(['down/web', 'errors/web', 'slow/api']);
    const status = h.notify.dispatcher.status();
    const slow = status.find((s) => s.alert.labels.alertname === 'slow' && s.alert.labels.service === 'web');
    expect(slow?.inhibitedBy).toEqual([status.find((s) => s.alert.labels.alertname === 'down')!.alert.fingerprint]);
  });

  it('configured rules replace the default; an inhibited alert is told once its source resolves', async () => {
    h = await harness(
      store,
      config(`  defaults: { group_wait: 0s, group_interval: 1m }
  inhibit:
    - source_match: { alertname: db-down }
      target_match_re: { alertname: "high-.*" }
      equal: [env]`),
    );
    const src = alert('db-down', { severity: 'P0', service: 'db', env: 'prod' });
    await h.fire(src);
    const target = alert('high-latency', { severity: 'P1', env: 'prod' });
    await h.fire(target);
    await h.fire(alert('high-latency', { severity: 'P1', env: 'staging' }));
    await h.fire(alert('slow', { severity: 'P3' })); // the default P0 rule is replaced
    await h.advance(60_000); // the staging alert joined a group flushed already: told after group_interval
    const sent = () => hooks().flatMap((n) => n.alerts.filter((a) => a.status === 'firing').map((a) => `${a.labels.alertname}/${a.labels.env ?? ''}`));
    expect(sent().sort()).toEqual(['db-down/prod', 'high-latency/staging', 'slow/']);
    await h.resolve(src);
    await h.advance(60_000);
    expect(sent()).toContain('high-latency/prod');
  });
});

describe('silences', () => {
  it('mute matching alerts until they expire; the mute shows who and why', async () => {
    h = await harness(store, config('  defaults: { group_wait: 0s, group_interval: 1m, repeat_interval: 1h }'));
    const s = await h.notify.silences.create({ matchers: [{ name: 'alertname', value: 'high-error-rate', isRegex: false, isEqual: true }, { name: 'service', value: 'web|api', isRegex: true, isEqual: true }], endsAt: h.clock.t + 2 * 3_600_000, createdBy: 'alice', comment: 'deploying the fix' }, 'token:alice');
    const a = alert('high-error-rate');
    await h.fire(a);
    await h.fire(alert('high-error-rate', { service: 'db' }));
    expect(hooks().flatMap((n) => n.alerts.map((x) => x.labels.service))).toEqual(['db']);
    const st = h.notify.dispatcher.status().find((x) => x.alert.fingerprint === a.fingerprint);
    expect(st?.silencedBy).toEqual([s.id]);
    expect((await h.notify.silences.get(s.id))?.status.state).toBe('active');
    // an hour later: still silent (only db is repeated)
    await h.advance(3_600_000);
    expect(hooks().flatMap((n) => n.alerts.map((x) => x.labels.service))).toEqual(['db', 'db']);
    // after 2h the silence has expired: the still-firing alert is told at the next group_interval
    await h.advance(3_600_000);
    await h.advance(60_000);
    expect(hooks().flatMap((n) => n.alerts.map((x) => x.labels.service))).toContain('web');
    expect((await h.notify.silences.get(s.id))?.status.state).toBe('expired');
    const events = await h.events.list({ limit: 50, type: 'silence.created' });
    expect(events[0]).toMatchObject({ actor: 'token:alice', data: { createdBy: 'alice', comment: 'deploying the fix', match: 'alertname=high-error-rate, service=~"web|api"' } });
  });

  it('expiring a silence early un-mutes at once', async () => {
    h = await harness(store, config('  defaults: { group_wait: 0s, group_interval: 1m }'));
    const s = await h.notify.silences.create({ matchers: [{ name: 'alertname', value: 'x', isRegex: false, isEqual: true }], endsAt: h.clock.t + 3_600_000, createdBy: 'bob', comment: 'maintenance' }, 'user:bob');
    await h.fire(alert('x'));
    expect(rx.requests).toHaveLength(0);
    await h.advance(60_000);
    await h.notify.silences.expire(s.id, 'user:bob');
    await h.advance(60_000);
    expect(rx.requests).toHaveLength(1);
    expect((await h.events.list({ limit: 5, type: 'silence.expired' }))[0]).toMatchObject({ actor: 'user:bob', subject: `silence:${s.id}` });
  });

  it('refuses silences that match everything or have already ended', async () => {
    h = await harness(store, config());
    await expect(h.notify.silences.create({ matchers: [{ name: 'alertname', value: '.*', isRegex: true, isEqual: true }], endsAt: h.clock.t + 1000, createdBy: 'x', comment: 'c' }, 'user:x')).rejects.toThrow(/must not match an empty label/);
    await expect(h.notify.silences.create({ matchers: [{ name: 'alertname', value: 'a', isRegex: false, isEqual: true }], endsAt: h.clock.t - 1000, startsAt: h.clock.t - 5000, createdBy: 'x', comment: 'c' }, 'user:x')).rejects.toThrow(/already be over/);
  });
});
