/** Seeding a store with 90 days of check history before the server starts (api and statuspage scenarios). */
import { sql } from 'kysely';
import type { AggTable } from '../../src/checks/tables.js';
import type { RootStore as Store } from '../../src/modules.js';
import { loadDist } from './dist.js';
import { serviceName } from './shipshape.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function insertAgg(store: Store, table: 'agg_minute' | 'agg_hour' | 'agg_day', gen: () => Iterable<AggTable>): Promise<number> {
  let batch: AggTable[] = [];
  let n = 0;
  const flush = async () => {
    if (batch.length) await store.db.insertInto(table).values(batch).execute();
    n += batch.length;
    batch = [];
  };
  // one transaction per ~100k rows: the WAL stays bounded
  let inTrx = 0;
  await sql`BEGIN`.execute(store.db);
  for (const r of gen()) {
    batch.push(r);
    if (batch.length === 2000) {
      await flush();
      inTrx += 2000;
      if (inTrx >= 100_000) {
        await sql`COMMIT`.execute(store.db);
        await sql`BEGIN`.execute(store.db);
        inTrx = 0;
      }
    }
  }
  await flush();
  await sql`COMMIT`.execute(store.db);
  return n;
}

/**
 * Seed 90 days of history for `services` services with one http check each (named like
 * `httpConfig` names them): service and check state, a few outages per service as state changes,
 * and day / hour / minute aggregates (`minuteHours` of minutes).
 */
export async function seedHistory(dataDir: string, now: number, opts: { services: number; minuteHours: number }): Promise<Record<string, number>> {
  const SERVICES = opts.services;
  const minuteHours = opts.minuteHours;
  const { openStore } = await loadDist();
  const store = await openStore({ dataDir });
  const rand = rng(7);
  const counts: Record<string, number> = {};
  try {
    const start = now - 90 * DAY;
    const ids: number[] = [];
    for (let i = 0; i < SERVICES; i += 500) {
      const rows = await store.db
        .insertInto('checks')
        .values(Array.from({ length: Math.min(500, SERVICES - i) }, (_, j) => ({ key: `${serviceName(i + j + 1)}/http`, service: serviceName(i + j + 1), created_at: start })))
        .returning(['id', 'key'])
        .execute();
      for (const r of rows) ids.push(Number(r.id));
    }
    counts.checks = ids.length;

    // a few outages per service over the 90 days: service-level (check_key null) and check-level changes
    const changes: { at: number; service: string; check_key: string | null; from_state: string; to_state: string; reason: string }[] = [];
    const outages = new Map<number, { from: number; to: number }[]>();
    let lastUp = new Map<number, number>();
    for (let s = 1; s <= SERVICES; s++) {
      const svc = serviceName(s);
      const key = `${svc}/http`;
      const t0 = start + Math.floor(rand() * 60_000);
      changes.push({ at: t0, service: svc, check_key: key, from_state: 'pending', to_state: 'up', reason: '1 consecutive success' });
      changes.push({ at: t0, service: svc, check_key: null, from_state: 'unknown', to_state: 'up', reason: 'http is up' });
      const n = 2 + Math.floor(rand() * 4);
      const list: { from: number; to: number }[] = [];
      for (let o = 0; o < n; o++) {
        const from = start + HOUR + Math.floor(rand() * (90 * DAY - 3 * HOUR));
        list.push({ from, to: from + (2 + Math.floor(rand() * 58)) * MIN });
      }
      list.sort((x, y) => x.from - y.from);
      let end = t0;
      for (const o of list) {
        if (o.from <= end) continue;
        changes.push({ at: o.from, service: svc, check_key: key, from_state: 'up', to_state: 'down', reason: '2 consecutive failures: status == 2xx (503)' });
        changes.push({ at: o.from, service: svc, check_key: null, from_state: 'up', to_state: 'down', reason: 'http is down' });
        changes.push({ at: o.to, service: svc, check_key: key, from_state: 'down', to_state: 'up', reason: '1 consecutive success' });
        changes.push({ at: o.to, service: svc, check_key: null, from_state: 'down', to_state: 'up', reason: 'http is up' });
        end = o.to;
      }
      outages.set(s, list.filter((o) => o.to <= now));
      lastUp.set(s, end);
    }
    changes.sort((x, y) => x.at - y.at);
    for (let i = 0; i < changes.length; i += 1000) await store.db.insertInto('state_changes').values(changes.slice(i, i + 1000)).execute();
    counts.state_changes = changes.length;

    await store.db.transaction().execute(async (trx) => {
      for (let s = 1; s <= SERVICES; s += 500) {
        const svcRows = [];
        const stateRows = [];
        for (let j = s; j < Math.min(s + 500, SERVICES + 1); j++) {
          const since = lastUp.get(j) as number;
          svcRows.push({ service: serviceName(j), state: 'up', since });
          stateRows.push({
            check_id: ids[j - 1] as number,
            state: 'up',
            since,
            consecutive_ok: Math.floor((now - since) / 30_000),
            consecutive_fail: 0,
            last_at: now - Math.floor(rand() * 30_000),
            last_ok: 1,
            last_latency: 20,
            last_message: 'ok',
            last_conditions: JSON.stringify([{ condition: 'status == 2xx', ok: true, actual: '200' }]),
          });
        }
        await trx.insertInto('service_state').values(svcRows).execute();
        await trx.insertInto('check_state').values(stateRows).execute();
      }
    });
    counts.service_state = SERVICES;
    counts.check_state = SERVICES;
    lastUp = new Map();

    const failuresIn = (s: number, from: number, to: number, perRun: number) => {
      let f = 0;
      for (const o of outages.get(s) ?? []) {
        const a = Math.max(from, o.from);
        const b = Math.min(to, o.to);
        if (b > a) f += Math.ceil((b - a) / 30_000) * perRun;
      }
      return f;
    };
    const aggRow = (s: number, t: number, size: number): AggTable => {
      const count = Math.round(size / 30_000);
      const failures = Math.min(count, failuresIn(s, t, t + size, 1));
      const p50 = Math.round((18 + rand() * 4) * 100) / 100;
      return { check_id: ids[s - 1] as number, t, count, failures, p50, p95: Math.round(p50 * 1.6 * 100) / 100, max: Math.round(p50 * 3 * 100) / 100 };
    };
    const lastMinute = Math.floor(now / MIN) * MIN;
    const lastHour = Math.floor(now / HOUR) * HOUR;
    const lastDay = Math.floor(now / DAY) * DAY;
    counts.agg_day = await insertAgg(store, 'agg_day', function* () {
      for (let s = 1; s <= SERVICES; s++) for (let t = lastDay - 90 * DAY; t < lastDay; t += DAY) yield aggRow(s, t, DAY);
    });
    counts.agg_hour = await insertAgg(store, 'agg_hour', function* () {
      for (let s = 1; s <= SERVICES; s++) for (let t = lastHour - 90 * 24 * HOUR; t < lastHour; t += HOUR) yield aggRow(s, t, HOUR);
    });
    counts.agg_minute = await insertAgg(store, 'agg_minute', function* () {
      for (let s = 1; s <= SERVICES; s++) for (let t = lastMinute - minuteHours * 60 * MIN; t < lastMinute; t += MIN) yield aggRow(s, t, MIN);
    });
  } finally {
    await store.close();
  }
  return counts;
}

