/**
 * Maintenance windows over time, on both stores, with the real notify and alerts modules and a
 * real webhook receiver on loopback: announce, start, end and overrun once each (also across a
 * restart mid-window), alerts of the services held back with the reason and sent when the window
 * ends, the overrun alert sent, recurring occurrences kept and cancelled one by one.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RootStore } from '../../src/modules.js';
import { startReceiver, type Receiver } from '../notify/helpers.js';
import { storeTargets } from '../helpers/stores.js';
import { harness, type Harness } from './helpers.js';

const H = 3_600_000;
const M = 60_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');

const yaml = (rx: Receiver, extra = '') => `
services:
  api: {}
  web: {}
notify:
  defaults: { group_wait: 0s, group_interval: 5m }
  channels:
    hook: { webhook: { url: "${rx.url}/hook" } }
${extra}`;

/** alert names in the webhook payloads received, with their status */
const received = (rx: Receiver) => rx.requests.flatMap((r) => (r.json().alerts as { status: string; labels: Record<string, string> }[]).map((a) => `${a.labels.alertname}/${a.labels.service}:${a.status}`));

describe.each(storeTargets)('maintenance windows on $name', (target) => {
  let rx: Receiver;
  let loc: Awaited<ReturnType<typeof target.make>>;
  let store: RootStore;
  let h: Harness | undefined;

  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx?.close();
  });
  const fresh = async (extra = '', t = T0) => {
    loc = await target.make();
    store = await loc.open();
    h = await harness(store, yaml(rx, extra), t);
    return h;
  };
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await store?.close();
    await loc?.cleanup();
    rx.requests.length = 0;
  });

  it('announces, starts and ends a window once each, and a restart mid-window neither loses nor repeats an event', async () => {
    let x = await fresh();
    const w = await x.m.service.add({ title: 'Database upgrade', message: 'Read-only for up to 2 hours', services: ['api'], starts_at: T0 + 72 * H, duration_ms: 2 * H }, 'user:ops');
    expect(w).toMatchObject({ status: 'scheduled', services: ['api'], starts_at: '2026-03-05T00:00:00.000Z', ends_at: '2026-03-05T02:00:00.000Z', notice_ms: 48 * H, max_ms: 2 * H, created_by: 'user:ops' });
    await x.advance(23 * H); // 49h before: not yet announced
    expect((await x.log()).map((e) => e.type)).toEqual(['maintenance.scheduled']);
    await x.advance(1 * H); // 48h before
    await x.advance(1 * H);
    expect((await x.log()).map((e) => e.type)).toEqual(['maintenance.scheduled', 'maintenance.upcoming']);
    await x.advance(47 * H + 10 * M); // 10 minutes in
    const started = await x.m.service.get(w.id);
    expect(started).toMatchObject({ status: 'in_progress', started_at: new Date(T0 + 72 * H + 10 * M).toISOString() });
    const silence = await x.notify.silences.get(started.silence_id as string);
    expect(silence?.status.state).toBe('active');
    expect(silence?.comment).toContain(`maintenance window ${w.id} "Database upgrade"`);
    expect(silence?.match).toBe('service=api, alertname!=maintenance-overrun');

    // restart mid-window: a new process on the same store
    const t = x.clock.t;
    await x.stop();
    await store.close();
    store = await loc.open();
    h = x = await harness(store, yaml(rx), t + 5 * M);
    await x.advance(10 * M);
    expect((await x.m.service.get(w.id)).status).toBe('in_progress');
    await x.advance(2 * H);
    const ended = await x.m.service.get(w.id);
    expect(ended).toMatchObject({ status: 'completed', ended_at: new Date(x.clock.t).toISOString() });
    expect((await x.notify.silences.get(started.silence_id as string))?.status.state).toBe('expired');
    await x.advance(1 * H);
    const log = await x.log();
    expect(log.map((e) => e.type)).toEqual(['maintenance.scheduled', 'maintenance.upcoming', 'maintenance.started', 'maintenance.ended']);
    expect(log.every((e) => e.id === w.id)).toBe(true);
    // the data shape the status page and subscriptions read
    expect(log[2]!.data).toEqual({ id: w.id, title: 'Database upgrade', message: 'Read-only for up to 2 hours', services: ['api'], starts_at: '2026-03-05T00:00:00.000Z', ends_at: '2026-03-05T02:00:00.000Z', status: 'in_progress' });
    expect(log[3]!.data.status).toBe('completed');
  });

  it('holds back alerts of the services during the window with the reason, and sends one still firing when it ends', async () => {
    const x = await fresh();
    const w = await x.m.service.add({ title: 'Cache migration', services: ['api'], starts_at: T0, duration_ms: 1 * H }, 'user:ops');
    expect(w.status).toBe('in_progress'); // starts now: started at once
    await x.alerts.engine.receive(
      [
        { labels: { alertname: 'api-errors', service: 'api', severity: 'P1' }, annotations: { summary: 'api 5xx' }, endsAt: null },
        { labels: { alertname: 'web-errors', service: 'web', severity: 'P1' }, annotations: { summary: 'web 5xx' }, endsAt: null },
      ],
      'prometheus',
    );
    await x.advance(1000);
    await rx.waitFor(1);
    await x.advance(10 * M);
    expect(received(rx)).toEqual(['web-errors/web:firing']); // web is not in maintenance

    // visible as suppressed, with the window as the reason
    const status = x.notify.dispatcher.status().find((s) => s.alert.labels.alertname === 'api-errors');
    expect(status?.silencedBy).toEqual([w.silence_id]);
    expect((await x.notify.silences.get(w.silence_id as string))?.comment).toMatch(/^maintenance window \d+ "Cache migration": api from /);
    const suppressed = (await x.log()).filter((e) => e.type === 'alert.suppressed');
    expect(suppressed).toHaveLength(1);
    expect(suppressed[0]!.data).toMatchObject({ alertname: 'api-errors', service: 'api', maintenance_id: w.id, silence_id: w.silence_id, reason: expect.stringContaining('"Cache migration"') });

    // the window ends while api-errors still fires: it is sent then, not a group_interval (5m) later
    await x.advance(48 * M); // the group was looked at 2 minutes before the end: next due 3 minutes after it
    expect(received(rx)).toEqual(['web-errors/web:firing']);
    await x.advance(2 * M);
    expect((await x.m.service.get(w.id)).status).toBe('completed');
    await x.notify.queue.idle();
    expect(received(rx)).toEqual(['web-errors/web:firing', 'api-errors/api:firing']);
  });

  it('raises a maintenance-overrun alert that reaches the channels when a window runs past its max, and resolves it at the end', async () => {
    const x = await fresh();
    const w = await x.m.service.add({ title: 'Disk swap', services: ['api'], starts_at: T0 + 10 * M, duration_ms: 1 * H, max_ms: 2 * H, auto_end: false }, 'user:ops');
    await x.advance(10 * M);
    await x.advance(1 * H + 5 * M); // past the planned end: a manual window stays in progress
    expect((await x.m.service.get(w.id)).status).toBe('in_progress');
    expect((await x.log()).map((e) => e.type)).not.toContain('maintenance.overrun');
    await x.advance(1 * H); // past max
    const over = await x.m.service.get(w.id);
    expect(over.overrun_at).not.toBeNull();
    const firing = x.alerts.engine.active().find((a) => a.labels.alertname === 'maintenance-overrun');
    expect(firing).toMatchObject({ source: 'maintenance', labels: { service: 'api', maintenance_id: String(w.id), severity: 'P2' } });
    await rx.waitFor(1);
    expect(received(rx)).toEqual(['maintenance-overrun/api:firing']); // not held back by the window's own silence
    expect(rx.requests[0]!.json().commonAnnotations).toMatchObject({ summary: expect.stringContaining('past its declared maximum of 120 min') });
    await x.advance(1 * H);
    expect((await x.log()).filter((e) => e.type === 'maintenance.overrun')).toHaveLength(1); // once

    await x.m.service.end(w.id, 'user:ops');
    await x.advance(6 * M);
    await rx.waitFor(2);
    expect(received(rx)).toEqual(['maintenance-overrun/api:firing', 'maintenance-overrun/api:resolved']);
    expect((await x.log()).map((e) => e.type)).toEqual(['maintenance.scheduled', 'maintenance.upcoming', 'maintenance.started', 'maintenance.overrun', 'maintenance.ended']);
  });

  it('keeps holding alerts back when a window is extended, overruns at its max, and marks verifying', async () => {
    const x = await fresh();
    const w = await x.m.service.add({ title: 'Reindex', services: ['api'], starts_at: T0, duration_ms: 1 * H, max_ms: 90 * M }, 'user:ops');
    await x.advance(50 * M);
    const longer = await x.m.service.extend(w.id, T0 + 2 * H, 'user:ops');
    expect(longer).toMatchObject({ ends_at: new Date(T0 + 2 * H).toISOString(), status: 'in_progress' });
    expect(longer.silence_id).not.toBe(w.silence_id);
    expect((await x.notify.silences.get(w.silence_id as string))?.status.state).toBe('expired');
    expect((await x.notify.silences.get(longer.silence_id as string))?.endsAt).toBe(new Date(T0 + 2 * H).toISOString());
    await x.advance(20 * M); // 70 min: past the old end, still held back
    await x.alerts.engine.receive([{ labels: { alertname: 'slow-queries', service: 'api', severity: 'P2' }, annotations: {}, endsAt: null }], 'prometheus');
    await x.advance(1000);
    expect(received(rx)).toEqual([]);
    await x.advance(20 * M); // 90 min: the declared maximum
    expect((await x.m.service.get(w.id)).overrun_at).not.toBeNull();
    await x.notify.queue.idle();
    expect(received(rx)).toEqual(['maintenance-overrun/api:firing']);
    expect((await x.m.service.verify(w.id, 'user:ops')).status).toBe('verifying');
    await x.advance(31 * M); // the new end
    expect((await x.m.service.get(w.id)).status).toBe('completed');
    await x.notify.queue.idle();
    expect(received(rx)).toEqual(['maintenance-overrun/api:firing', 'slow-queries/api:firing']);
    expect((await x.log()).map((e) => e.type)).toEqual(['maintenance.scheduled', 'maintenance.started', 'maintenance.extended', 'alert.suppressed', 'maintenance.overrun', 'maintenance.verifying', 'maintenance.ended']);
  });

  it('schedules the next occurrences of a recurring window, cancels one alone, and keeps that across a restart', async () => {
    const extra = `maintenance:
  ahead: 3
  windows:
    - name: db-upgrades
      title: Monthly database upgrades
      services: [api]
      rrule: FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1
      start: "02:00"
      duration: 2h
      timezone: UTC
      notice: 48h
`;
    let x = await fresh(extra);
    await x.m.tick();
    const list = async () => (await x.m.service.list({ status: 'all' })).items.map((w) => `${w.starts_at} ${w.status}`).reverse();
    expect(await list()).toEqual(['2026-03-03T02:00:00.000Z scheduled', '2026-04-07T02:00:00.000Z scheduled', '2026-05-05T02:00:00.000Z scheduled']);
    const april = (await x.m.service.list()).items[1]!;
    expect(april).toMatchObject({ recurring: 'db-upgrades', title: 'Monthly database upgrades', created_by: 'config' });
    await x.m.service.cancel(april.id, 'user:ops');
    await x.m.tick();
    expect(await list()).toEqual(['2026-03-03T02:00:00.000Z scheduled', '2026-04-07T02:00:00.000Z cancelled', '2026-05-05T02:00:00.000Z scheduled']);

    const t = x.clock.t;
    await x.stop();
    await store.close();
    store = await loc.open();
    h = x = await harness(store, yaml(rx, extra), t);
    // past March's: it ran; April's stays cancelled (not made again), June's is scheduled
    await x.advance(24 * H + 2 * H + M);
    await x.advance(2 * H);
    expect(await list()).toEqual(['2026-03-03T02:00:00.000Z completed', '2026-04-07T02:00:00.000Z cancelled', '2026-05-05T02:00:00.000Z scheduled', '2026-06-02T02:00:00.000Z scheduled']);
    const types = (await x.log()).map((e) => `${e.type}#${e.id}`);
    expect(types.filter((e) => e.startsWith('maintenance.started'))).toHaveLength(1);
    expect(types.filter((e) => e.startsWith(`maintenance.cancelled#${april.id}`))).toHaveLength(1);
    // cancelling one that is over is refused, naming why
    await expect(x.m.service.cancel((await x.m.service.list({ status: 'completed' })).items[0]!.id, 'user:ops')).rejects.toThrow(/is completed and cannot be cancelled/);
  });

  it('says a window was missed when Shipshape was down for all of it, without starting it', async () => {
    let x = await fresh();
    const w = await x.m.service.add({ title: 'Short one', services: ['web'], starts_at: T0 + 1 * H, duration_ms: 30 * M }, 'user:ops');
    await x.stop();
    await store.close();
    store = await loc.open();
    h = x = await harness(store, yaml(rx), T0 + 5 * H);
    await x.m.tick();
    expect(await x.m.service.get(w.id)).toMatchObject({ status: 'completed', started_at: null, ended_at: '2026-03-02T01:30:00.000Z', silence_id: null });
    const log = await x.log();
    // announced when it was added (it was within the 48h notice), then over: never started
    expect(log.map((e) => e.type)).toEqual(['maintenance.scheduled', 'maintenance.upcoming', 'maintenance.ended']);
    expect(log[2]!.data.missed).toBe(true);
  });

  it('refuses overlapping windows, windows in the past, duration 0 or over max, and unknown services, saying why', async () => {
    const x = await fresh();
    const base = { title: 'T', services: ['api'], starts_at: T0 + 2 * H, duration_ms: 1 * H };
    const first = await x.m.service.add(base, 'user:ops');
    await expect(x.m.service.add({ ...base, starts_at: T0 + 2 * H + 30 * M }, 'u')).rejects.toMatchObject({ kind: 'conflict', message: expect.stringContaining(`overlaps maintenance window ${first.id} "T"`) });
    // another service at the same time is fine
    await expect(x.m.service.add({ ...base, services: ['web'] }, 'u')).resolves.toMatchObject({ services: ['web'] });
    await expect(x.m.service.add({ ...base, starts_at: T0 - 2 * H }, 'u')).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('would already be over') });
    await expect(x.m.service.add({ ...base, starts_at: T0 - 30 * M, services: ['web'], title: 'x' }, 'u')).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('is in the past') });
    await expect(x.m.service.add({ ...base, starts_at: T0 + 9 * H, duration_ms: 0 }, 'u')).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('duration must be more than 0') });
    await expect(x.m.service.add({ ...base, starts_at: T0 + 9 * H, duration_ms: 3 * H, max_ms: 2 * H }, 'u')).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('longer than max') });
    await expect(x.m.service.add({ ...base, starts_at: T0 + 9 * H, services: ['nope'] }, 'u')).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('unknown service "nope"') });
    // the extended end of a window counts too
    await x.m.service.add({ ...base, starts_at: T0 + 4 * H }, 'u');
    await expect(x.m.service.extend(first.id, T0 + 4 * H + 30 * M, 'u')).rejects.toMatchObject({ kind: 'conflict' });
  });
});
