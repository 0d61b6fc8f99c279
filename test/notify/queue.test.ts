/** The persistent queue: slow and failing receivers, retries with backoff, restarts — on SQLite and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootStore as Store } from '../../src/modules.js';
import { storeTargets } from '../helpers/stores.js';
import { alert, harness, startReceiver, type Harness, type Receiver } from './helpers.js';

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(() => rx.close());

const SECRET = 'tok-5ecret-in-the-path-0123456789';
const yaml = (extra = '') => `
notify:
  timeout: 1500ms
  defaults: { group_wait: 0s, group_interval: 1m }
  channels:
    fast: { webhook: { url: "${rx.url}/fast" } }
    slow: { webhook: { url: "${rx.url}/slow" } }
    broken: { webhook: { url: "${rx.url}/broken/${SECRET}" } }
${extra}`;

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rows(h: Harness, channel: string) {
  return h.notify.queue.list({ channel, limit: 50 });
}

for (const target of storeTargets) {
  describe(`notification queue on ${target.name}`, () => {
    let loc: Awaited<ReturnType<typeof target.make>>;
    let store: Store;
    let h: Harness;
    const fresh = async () => {
      loc = await target.make();
      store = await loc.open();
    };
    const done = async () => {
      await h.stop();
      await store.close();
      await loc.cleanup();
    };

    it('a receiver that hangs and one that answers 500 do not delay another channel; their failures are visible and secret-free', async () => {
      await fresh();
      rx.requests.length = 0;
      rx.behave = (r) => (r.path === '/slow' ? 'hang' : r.path.startsWith('/broken') ? { status: 500, body: `upstream error for ${r.path}` } : 'ok');
      try {
        h = await harness(store, yaml('  routes:\n    - channels: [slow, broken, fast]'));
        const a = alert('high-error-rate', {}, { firedAt: new Date(h.clock.t).toISOString() });
        await h.events.append({ type: 'alert.firing', actor: 'rule:x', subject: `alert:${a.fingerprint}`, data: a as never });
        await h.notify.settled();
        // the fast channel has its message while the slow one is still hanging
        await rx.waitFor(1, 5000, (r) => r.path === '/fast');
        await until(async () => (await rows(h, 'fast'))[0]?.status === 'sent');
        expect((await rows(h, 'fast'))[0]).toMatchObject({ status: 'sent', attempts: 1 });
        expect((await rows(h, 'slow'))[0]).toMatchObject({ status: 'pending', attempts: 0 }); // still in flight

        await h.notify.queue.idle();
        const slow = (await rows(h, 'slow'))[0]!;
        expect(slow).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringMatching(/timed out after 1500ms/) });
        expect(Date.parse(slow.next_attempt_at!)).toBe(h.clock.t + 10_000);
        const broken = (await rows(h, 'broken'))[0]!;
        expect(broken).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringMatching(/answered 500: upstream error/) });
        expect(broken.last_error).not.toContain(SECRET);
        expect(broken.last_error).not.toContain('/broken/');
      } finally {
        await done();
      }
    });

    it('retries with backoff until the receiver answers, then reports it sent; a 4xx fails for good', async () => {
      await fresh();
      rx.requests.length = 0;
      let brokenCalls = 0;
      rx.behave = (r) => {
        if (r.path === '/fast') return { status: 400, body: 'invalid payload' };
        if (r.path.startsWith('/broken')) return ++brokenCalls <= 2 ? { status: 503, body: 'try later' } : 'ok';
        return 'ok';
      };
      try {
        // a generous timeout: nothing hangs here, and a loaded machine must not turn a send into a timeout
        h = await harness(store, yaml('  routes:\n    - channels: [broken, fast]').replace('timeout: 1500ms', 'timeout: 10s'));
        await h.fire(alert('high-error-rate', {}, { firedAt: new Date(h.clock.t).toISOString() }));
        expect((await rows(h, 'broken'))[0]).toMatchObject({ status: 'pending', attempts: 1 });
        const fast = (await rows(h, 'fast'))[0]!;
        expect(fast).toMatchObject({ status: 'failed', attempts: 1, last_error: expect.stringMatching(/answered 400: invalid payload/) });
        await h.advance(9_000);
        expect(brokenCalls).toBe(1); // not due yet
        await h.advance(1_000); // 10s: the second attempt
        expect(brokenCalls).toBe(2);
        expect((await rows(h, 'broken'))[0]).toMatchObject({ status: 'pending', attempts: 2 });
        await h.advance(30_000); // then 30s
        expect(brokenCalls).toBe(3);
        expect((await rows(h, 'broken'))[0]).toMatchObject({ status: 'sent', attempts: 3 });
        const sent = await h.events.list({ limit: 10, type: 'notification.sent' });
        expect(sent[0]).toMatchObject({ subject: 'channel:broken', data: { channel: 'broken', attempts: 3, status: 'firing' } });
        const failed = await h.events.list({ limit: 10, type: 'notification.failed' });
        expect(failed[0]).toMatchObject({ subject: 'channel:fast', data: { channel: 'fast', error: expect.stringMatching(/400/) } });
        expect(JSON.stringify([...sent, ...failed])).not.toContain(SECRET);
        expect(await h.notify.queue.list({ status: 'failed', limit: 10 })).toHaveLength(1);
      } finally {
        await done();
      }
    });

    it('a restart resumes the queue and the group state: nothing is lost and nothing is sent twice', async () => {
      await fresh();
      rx.requests.length = 0;
      rx.behave = (r) => (r.path.startsWith('/broken') ? { status: 500 } : r.path === '/slow' ? 'hang' : 'ok');
      const cfg = yaml('  defaults: { group_wait: 30s, group_interval: 5m, repeat_interval: 4h }\n  routes:\n    - channels: [fast, broken, slow]').replace('  defaults: { group_wait: 0s, group_interval: 1m }\n', '').replace('timeout: 1500ms', 'timeout: 10s'); // the hung send is cut by the stop, not a timeout
      const a = alert('high-error-rate', { instance: 'a' });
      const b = alert('high-error-rate', { instance: 'b' });
      try {
        h = await harness(store, cfg);
        a.firedAt = a.activeAt = new Date(h.clock.t).toISOString();
        await h.fire(a);
        await h.advance(10_000);
        const t = h.clock.t;
        await h.stop();
        await store.close();

        // restart 1: the group (waiting for group_wait) is still there
        store = await loc.open();
        h = await harness(store, cfg, { t: t + 5_000 });
        b.firedAt = b.activeAt = new Date(h.clock.t).toISOString();
        await h.fire(b);
        h.clock.t += 15_000; // 30s after the first alert
        await h.notify.settled();
        await h.notify.tick(); // (not waiting for the sends: the slow one hangs)
        await rx.waitFor(1, 5000, (r) => r.path === '/fast');
        await rx.waitFor(1, 5000, (r) => r.path === '/slow');
        await until(async () => (await rows(h, 'broken'))[0]?.attempts === 1);
        const first = rx.requests.filter((r) => r.path === '/fast');
        expect(first).toHaveLength(1);
        expect((first[0]!.json().alerts as unknown[]).length).toBe(2);
        expect((await rows(h, 'broken'))[0]).toMatchObject({ status: 'pending', attempts: 1 });
        // stop while the slow channel's send is in flight: its row stays pending
        await h.stop();
        await store.close();

        // restart 2: the receivers work again
        rx.behave = () => 'ok';
        store = await loc.open();
        h = await harness(store, cfg, { t: h.clock.t + 10_000 });
        await h.step();
        await rx.waitFor(1, 5000, (r) => r.path.startsWith('/broken'));
        await rx.waitFor(2, 5000, (r) => r.path === '/slow'); // the hung one, sent again
        expect((await rows(h, 'broken'))[0]).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
        expect((await rows(h, 'slow'))[0]).toMatchObject({ status: 'sent', attempts: 1 }); // the aborted attempt did not count
        // the group remembers what each channel was told: the next group_interval sends nothing
        await h.advance(300_000);
        await h.advance(300_000);
        expect(rx.requests.filter((r) => r.path === '/fast')).toHaveLength(1);
        // and a resolve after the restart is told once
        await h.resolve(a);
        await h.resolve(b);
        await h.advance(300_000);
        const fast = rx.requests.filter((r) => r.path === '/fast');
        expect(fast.map((r) => r.json().status)).toEqual(['firing', 'resolved']);
      } finally {
        await done();
      }
    });
  });
}
