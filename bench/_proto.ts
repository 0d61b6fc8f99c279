import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { History } from '../src/checks/history.ts';
import { openStore } from '../src/store/db.ts';
const dir = mkdtempSync(join(tmpdir(), 'ss-proto-'));
const store = await openStore({ dataDir: dir });
let clock = Date.UTC(2025, 0, 1);
const DAY = 86400000;
const h = new History(store, { minute: 48 * 3600_000, hour: 90 * DAY, day: 400 * DAY, failuresPerCheck: 100 }, () => clock);
const N = Number(process.env.N ?? 500), every = 30000;
const days = Number(process.argv[2] ?? 1);
if (process.env.CACHE) { const { sql } = await import('kysely'); await sql.raw('pragma cache_size = ' + process.env.CACHE).execute(store.db); }
const t0 = clock;
let rec = 0, recNs = 0n, flushMs = 0, pruneMs = 0;
const started = performance.now();
for (let step = t0; step < t0 + days * DAY; step += every) {
  const a = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const at = step + i * 60;
    const ok = Math.random() > 0.01;
    h.record(i + 1, at, ok, 20 * Math.exp(0.5 * (Math.random() - 0.5)), ok ? undefined : { message: 'status 503', conditions: [{ condition: 'status == 2xx', ok: false, actual: '503' }] });
  }
  recNs += process.hrtime.bigint() - a; rec += N;
  const next = step + every;
  if (next % 300000 === 0) { clock = next; const b = performance.now(); await h.flush(); flushMs += performance.now() - b; }
  if (next % 3600000 === 0) { const b = performance.now(); await h.prune(); pruneMs += performance.now() - b; }
}
console.log({ rec, recNsPer: Number(recNs) / rec, flushMs, pruneMs, total: performance.now() - started });
await store.close(); rmSync(dir, { recursive: true });
