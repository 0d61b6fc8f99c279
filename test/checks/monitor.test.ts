import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Monitor } from '../../src/checks/monitor.js';
import { parseConfig } from '../../src/modules.js';
import { EventLog } from '../../src/core/events.js';
import type { RootStore as Store } from '../../src/modules.js';
import { storeTargets } from '../helpers/stores.js';
import { startTarget, type Target } from '../helpers/target.js';

const configFor = (a: Target, b: Target, extra = '') =>
  parseConfig(
    `services:
  web:
    checks:
      - name: home
        http: { url: "${a.url}/", timeout: 1s }
        conditions: ['body.status == "healthy"']
      - name: api
        http: { url: "${b.url}/api", timeout: 1s }
        down_after: 3
${extra}`,
    'test.yaml',
  );

describe.each(storeTargets)('monitor on $name', (target) => {
  let store: Store;
  let open: () => Promise<Store>;
  let cleanup: () => Promise<void>;
  let a: Target;
  let b: Target;

  beforeEach(async () => {
    ({ open, cleanup } = await target.make());
    store = await open();
    a = await startTarget();
    b = await startTarget();
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await store.close();
    await cleanup();
  });

  it('a check that failed once is pending, not healthy: /api/health says what happened and answers pending', async () => {
    a.set({ status: 500, body: { status: 'broken' } });
    const m = new Monitor({ store, events: new EventLog(store), schedule: false });
    await m.start(parseConfig(`services:\n  web:\n    checks:\n      - name: home\n        http: { url: "${a.url}/", timeout: 1s }\n  quiet: {}\n`, 'test.yaml'));
    // nothing concluded yet
    expect(m.health('1.0.0', true)).toMatchObject({ status: 'pending', checks: { web: { status: 'pending', message: 'home: not checked yet' } } });
    await m.runNow();
    expect(m.check('web', 'home')?.summary.state).toBe('pending');
    const h = m.health('1.0.0', true);
    // the service without checks (telemetry only) does not hold the report in pending forever
    expect(h?.status).toBe('pending');
    expect(h?.checks.web?.message).toMatch(/^home: 1 failure, down after 2: .*status = 500/);
    expect(h?.checks.web?.latencyMs).not.toBeNull();
    expect(m.health('1.0.0', true, 'web')?.checks.home?.message).toMatch(/^1 failure, down after 2/);
    await m.runNow();
    expect(m.health('1.0.0', true)).toMatchObject({ status: 'down', checks: { web: { status: 'down' } } });
    a.set({ status: 200, body: { status: 'healthy' } });
    await m.runNow();
    expect(m.health('1.0.0', true)).toMatchObject({ status: 'healthy', checks: { web: { message: 'ok' } } });
    expect(m.health('1.0.0', true)?.checks.quiet).toBeUndefined();
    await m.stop();
  });

  it('runs many checks at once without a listener-leak warning (issue 7 item 18)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const checks = Array.from({ length: 25 }, (_, i) => `      - name: c${i}\n        http: { url: "${a.url}/", timeout: 1s }\n`).join('');
      const m = new Monitor({ store, events: new EventLog(store), schedule: false });
      await m.start(parseConfig(`services:\n  many:\n    checks:\n${checks}`, 'test.yaml'));
      const results = await m.runNow();
      expect(results).toHaveLength(25);
      await m.stop();
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('goes down only after N consecutive failures, up after M successes, and rolls up to the service', async () => {
    const events = new EventLog(store);
    const seen: string[] = [];
    events.onEvent((e) => seen.push(`${e.type}:${String(e.data.to)}`));
    const m = new Monitor({ store, events, schedule: false });
    await m.start(configFor(a, b));
    expect(m.service('web')?.state).toBe('unknown');

    await m.runNow();
    expect(m.service('web')).toMatchObject({ state: 'up' });
    expect(m.health('1.0.0', true)).toMatchObject({ status: 'healthy', checks: { web: { status: 'healthy', message: 'ok' } } });

    a.set({ status: 500, body: { status: 'broken' } });
    await m.runNow();
    // one failure is not enough (down_after defaults to 2): no flapping
    expect(m.check('web', 'home')?.summary.state).toBe('up');
    expect(m.check('web', 'home')?.summary.last).toMatchObject({ ok: false });
    await m.runNow();
    expect(m.check('web', 'home')?.summary.state).toBe('down');
    // one of two checks down: degraded, and /api/health answers 503 material
    expect(m.service('web')?.state).toBe('degraded');
    const health = m.health('1.0.0', true);
    expect(health?.status).toBe('degraded');
    expect(health?.checks.web?.message).toMatch(/home: .*status == 2xx.*status = 500/);

    await b.close();
    for (let i = 0; i < 3; i++) await m.runNow();
    expect(m.service('web')?.state).toBe('down');
    expect(m.health('1.0.0', true)?.status).toBe('down');

    a.set({ status: 200, body: { status: 'healthy' } });
    await m.runNow();
    expect(m.check('web', 'home')?.summary.state).toBe('up');
    expect(m.service('web')?.state).toBe('degraded');

    const changes = await m.stateChanges({ service: 'web', limit: 50 });
    const checkChanges = changes.filter((c) => c.check === 'web/home').map((c) => `${c.from}->${c.to}`);
    expect(checkChanges.reverse()).toEqual(['pending->up', 'up->down', 'down->up']);
    const down = changes.find((c) => c.check === 'web/home' && c.to === 'down');
    expect(down?.reason).toMatch(/2 consecutive failures/);
    expect(seen).toContain('service.state:degraded');
    expect(seen).toContain('check.state:down');

    await m.flush();
    const failures = await m.history.failed(m.check('web', 'home')!.dbId, 10);
    expect(failures).toHaveLength(5); // 2 while only home failed, 3 more while api was down too
    expect(failures[0]!.conditions.some((c) => !c.ok && c.actual === 'status = 500')).toBe(true);
    await m.stop();
  });

  it('keeps states, streaks and history across a restart', async () => {
    const m = new Monitor({ store, events: new EventLog(store), schedule: false });
    await m.start(configFor(a, b));
    a.set({ status: 503 });
    await m.runNow();
    await m.runNow();
    expect(m.check('web', 'home')?.summary.state).toBe('down');
    await m.stop();
    await store.close();

    store = await open();
    let skew = 0;
    const m2 = new Monitor({ store, events: new EventLog(store), schedule: false, now: () => Date.now() + skew });
    await m2.start(configFor(a, b));
    expect(m2.check('web', 'home')?.summary).toMatchObject({ state: 'down', last: { ok: false } });
    expect(m2.service('web')?.state).toBe('degraded');
    const sv = m2.service('web', { days: true, sparkline: true });
    expect(sv?.days).toHaveLength(90);
    expect(sv?.days?.at(-1)?.worst).toBe('degraded');
    expect(sv?.sparkline?.some((p) => p.failures > 0)).toBe(true);
    // the day bars are reused for 10 s, then let go at the next flush (not kept for every service forever)
    const cached = () => (m2 as unknown as { services: Map<string, { cache?: unknown }> }).services.get('web')?.cache;
    expect(m2.service('web', { days: true })?.days).toBe(sv?.days);
    expect(cached()).toBeDefined();
    await m2.flush();
    expect(cached()).toBeDefined();
    skew += 11_000;
    await m2.flush();
    expect(cached()).toBeUndefined();
    expect(m2.service('web', { days: true })?.days).toHaveLength(90);
    a.set({ status: 200 });
    await m2.runNow();
    expect(m2.check('web', 'home')?.summary.state).toBe('up');
    await m2.stop();
  });

  it('applies a new config: adds, changes and removes checks without losing the others', async () => {
    const m = new Monitor({ store, events: new EventLog(store), schedule: false });
    await m.start(configFor(a, b));
    await m.runNow();
    await m.apply(configFor(a, b, `  db:\n    checks:\n      - tcp: { host: 127.0.0.1, port: ${b.port} }\n`));
    expect(m.serviceNames()).toEqual(['web', 'db']);
    expect(m.check('web', 'home')?.summary.state).toBe('up');
    await m.runNow(['db']);
    expect(m.service('db')?.state).toBe('up');
    await m.apply(configFor(a, b));
    expect(m.serviceNames()).toEqual(['web']);
    expect(m.check('db', 'tcp')).toBeUndefined();
    await m.stop();
  });

  it('heartbeats: a ping is recorded and the check judged at once; unknown tokens are refused', async () => {
    let now = Date.UTC(2026, 5, 1);
    const cfg = parseConfig(`services:\n  backups:\n    checks:\n      - heartbeat: { token: nightly, period: 1h, grace: 10m }\n`, 't.yaml');
    const m = new Monitor({ store, events: new EventLog(store), schedule: false, now: () => now });
    await m.start(cfg);
    expect(await m.ping('nope', 'x')).toBe(false);
    expect(await m.ping('nightly', 'not-the-secret')).toBe(false);
    now += 30 * 60_000;
    await m.runNow();
    expect(m.check('backups', 'heartbeat')?.summary.state).toBe('up');
    now += 45 * 60_000; // 75 min without a ping > 1h + 10m
    await m.runNow();
    await m.runNow();
    expect(m.check('backups', 'heartbeat')?.summary.state).toBe('down');
    expect(await m.ping('nightly', m.heartbeats.secretOf('nightly') as string)).toBe(true);
    expect(m.check('backups', 'heartbeat')?.summary).toMatchObject({ state: 'up', last: { ok: true } });
    await m.stop();
  });
});
