import { mkdtempSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
import { openStore } from '../src/store/db.ts';
const dir = mkdtempSync(join(tmpdir(), 'ss-p3-'));
const s = await openStore({ dataDir: dir });
const db = s.db;
let t0 = Date.UTC(2025,0,1);
const tm = { ins: 0, fail: 0, trim: 0, commit: 0 };
for (let f = 0; f < 100; f++) {
  const rows = [] as any[];
  for (let m = 0; m < 5; m++) for (let c = 1; c <= 500; c++) rows.push({ check_id: c, t: t0 + (f * 5 + m) * 60000, count: 2, failures: 0, p50: 20.1, p95: 25.3, max: 30.2 });
  const fails = [] as any[]; for (let i = 0; i < 50; i++) fails.push({ check_id: (i * 37 + f) % 500 + 1, at: t0 + f * 300000, latency: 12, message: 'status 503', conditions: '[{"condition":"status == 2xx","ok":false,"actual":"503"}]' });
  await db.transaction().execute(async (trx) => {
    let a = performance.now();
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('agg_minute').values(rows.slice(i, i + 500)).onConflict((oc) => oc.columns(['check_id', 't']).doUpdateSet((eb) => ({ count: eb.ref('excluded.count'), failures: eb.ref('excluded.failures'), p50: eb.ref('excluded.p50'), p95: eb.ref('excluded.p95'), max: eb.ref('excluded.max') }))).execute();
    tm.ins += performance.now() - a; a = performance.now();
    await trx.insertInto('check_failures').values(fails).execute();
    tm.fail += performance.now() - a; a = performance.now();
    for (const checkId of new Set(fails.map((x) => x.check_id))) {
      const cutoff = await trx.selectFrom('check_failures').select('id').where('check_id', '=', checkId).orderBy('id', 'desc').offset(100).limit(1).executeTakeFirst();
      if (cutoff) await trx.deleteFrom('check_failures').where('check_id', '=', checkId).where('id', '<=', cutoff.id).execute();
    }
    tm.trim += performance.now() - a;
  });
}
console.log(tm);
