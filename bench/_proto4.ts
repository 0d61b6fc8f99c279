import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
import { openStore } from '../src/store/db.ts';
for (const mode of ['single', 'multi', 'multi-noupsert']) {
const dir = mkdtempSync(join(tmpdir(), 'ss-p4-'));
const s = await openStore({ dataDir: dir }); await s.close();
const db = new Database(join(dir, 'shipshape.db')); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL');
const t0 = Date.UTC(2025,0,1);
const one = db.prepare('insert into agg_minute (check_id,t,count,failures,p50,p95,max) values (?,?,?,?,?,?,?) on conflict (check_id,t) do update set count=excluded.count, failures=excluded.failures, p50=excluded.p50, p95=excluded.p95, max=excluded.max');
const up = mode === 'multi' ? ' on conflict (check_id,t) do update set count=excluded.count, failures=excluded.failures, p50=excluded.p50, p95=excluded.p95, max=excluded.max' : '';
const sqlMulti = 'insert into agg_minute (check_id,t,count,failures,p50,p95,max) values ' + Array(500).fill('(?,?,?,?,?,?,?)').join(',') + up;
let a = performance.now();
for (let f = 0; f < 100; f++) {
  db.transaction(() => {
    for (let m = 0; m < 5; m++) {
      const params: number[] = [];
      for (let c = 1; c <= 500; c++) { const r = [c, t0 + (f * 5 + m) * 60000, 2, 0, 20.1, 25.3, 30.2]; if (mode === 'single') one.run(...r); else params.push(...r); }
      if (mode !== 'single') db.prepare(sqlMulti).run(...params);
    }
  })();
}
console.log(mode, (performance.now() - a) / 100, 'ms per flush of 2500 rows');
}
