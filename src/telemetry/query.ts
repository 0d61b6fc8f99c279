/** TelemetryQuery over a Rollup (the live one, or one loaded from the store). */
import type { Rollup, Series } from './rollup.js';
import type { Stat, TelemetryQuery, VitalName } from './types.js';

const NONE: Stat = { value: null, samples: 0 };

export function rollupQuery(rollup: Rollup, now: () => number): TelemetryQuery {
  const rate = (count: number, start: number, t: number) => count / Math.max(1, (t - start) / 1000);
  return {
    requestRate(service, windowMs, route) {
      const list = rollup.match('requests', service, route);
      if (list.length === 0) return NONE;
      const t = now();
      const a = rollup.aggregate(list, windowMs, t, false);
      return { value: rate(a.count, a.start, t), samples: a.count };
    },
    errorRate(service, windowMs, route) {
      const list = rollup.match('requests', service, route);
      if (list.length === 0) return NONE;
      const a = rollup.aggregate(list, windowMs, now(), false);
      return { value: a.count > 0 ? a.errors / a.count : null, samples: a.count };
    },
    latency(service, q, windowMs, route) {
      const list = rollup.match('requests', service, route);
      if (list.length === 0) return NONE;
      const a = rollup.aggregate(list, windowMs, now(), true);
      return { value: rollup.quantile(a, q), samples: a.count };
    },
    vital(service, name: VitalName, q, windowMs, page) {
      const list = rollup.match('vitals', service, name, page === undefined ? undefined : (s) => s.def.sub === page);
      if (list.length === 0) return NONE;
      const a = rollup.aggregate(list, windowMs, now(), true);
      return { value: rollup.quantile(a, q), samples: a.count };
    },
    eventRate(name, windowMs, service) {
      const list = rollup.match('events', service, name);
      if (list.length === 0) return NONE;
      const t = now();
      const a = rollup.aggregate(list, windowMs, t, false);
      return { value: rate(a.count, a.start, t), samples: a.count };
    },
    metric(name, labels, windowMs, service) {
      const want = Object.entries(labels);
      const list = rollup.match('metrics', service, name, want.length === 0 ? undefined : (s: Series) => want.every(([k, v]) => s.def.labels[k] === v));
      if (list.length === 0) return NONE;
      const t = now();
      const counters = list.filter((s) => s.def.type === 'counter');
      const gauges = list.filter((s) => s.def.type !== 'counter');
      let value: number | null = null;
      let samples = 0;
      if (gauges.length > 0) {
        const a = rollup.aggregate(gauges, windowMs, t, false);
        samples += a.count;
        if (a.count > 0) value = a.last;
      }
      if (counters.length > 0) {
        const a = rollup.aggregate(counters, windowMs, t, false);
        samples += a.count;
        if (a.count > 0) value = (value ?? 0) + rate(a.sum, a.start, t);
      }
      return { value, samples };
    },
    lastSeen(service) {
      return rollup.lastSeen(service);
    },
  };
}
