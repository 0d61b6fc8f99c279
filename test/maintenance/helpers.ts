/**
 * The maintenance module with the real notify and alerts modules beside it, on a real store, with
 * a clock the test turns: what `shipshape up` builds, minus the HTTP server and the timers.
 */
import { createAlerts, type AlertsDomain } from '../../src/alerts/index.js';
import type { ChecksQuery } from '../../src/checks/index.js';
import { EventLog } from '../../src/core/events.js';
import type { ModuleContext } from '../../src/core/module.js';
import { maintenance, type MaintenanceDomain } from '../../src/maintenance/index.js';
import { parseConfig, type RootStore as Store } from '../../src/modules.js';
import { createNotify, notify, type NotifyDomain } from '../../src/notify/index.js';
import { alerts } from '../../src/alerts/index.js';
import type { TelemetryQuery } from '../../src/telemetry/index.js';
import { moduleContext } from '../helpers/module-context.js';

export interface Harness {
  clock: { t: number };
  events: EventLog;
  notify: NotifyDomain;
  alerts: AlertsDomain;
  m: MaintenanceDomain;
  /** move the clock on and let the maintenance timer run once */
  advance(ms: number): Promise<void>;
  /** event types of `maintenance.*` (and alert.suppressed) in order, with the window id */
  log(): Promise<{ type: string; id: unknown; actor: string; data: Record<string, unknown> }[]>;
  stop(): Promise<void>;
}

export async function harness(store: Store, yaml: string, t0: number): Promise<Harness> {
  const clock = { t: t0 };
  const now = () => clock.t;
  const events = new EventLog(store, now);
  const config = parseConfig(yaml, 'test.yaml', { env: {} });
  const created = new Map<unknown, unknown>();
  const use = ((def: unknown) => {
    const v = created.get(def);
    if (!v) throw new Error('not created');
    return v;
  }) as ModuleContext['use'];
  const ctx = moduleContext({ store, events, config: () => config, now, use });
  const n = createNotify(ctx, { tickMs: 0, random: () => 0.5 });
  // pushed alerts (what the maintenance module raises) need neither telemetry nor checks
  const a = createAlerts(ctx, { telemetry: {} as TelemetryQuery, checks: { heartbeatService: () => undefined } as unknown as ChecksQuery });
  await a.engine.load();
  created.set(notify, n);
  created.set(alerts, a);
  await n.start?.();
  const m = await maintenance.create(ctx);
  await m.start?.();
  return {
    clock,
    events,
    notify: n,
    alerts: a,
    m,
    async advance(ms) {
      clock.t += ms;
      await m.tick();
      await m.settled();
      await n.settled();
      await n.tick();
      await n.queue.idle();
    },
    async log() {
      const list = await events.list({ limit: 1000 });
      return list
        .reverse()
        .filter((e) => e.type.startsWith('maintenance.') || e.type === 'alert.suppressed')
        .map((e) => ({ type: e.type, id: e.data.id ?? e.data.maintenance_id, actor: e.actor, data: e.data }));
    },
    async stop() {
      await m.stop?.();
      await n.stop?.();
      await a.stop?.();
    },
  };
}
