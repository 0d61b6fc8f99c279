import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpConfig, scrape, startServer, startTarget } from './lib/shipshape.js';
import { stopChild, tempDir, removeTempDir } from './lib/proc.js';
const dir = tempDir('diag');
const target = await startTarget(dir);
const server = await startServer({ dir, configYaml: httpConfig({ services: 1000, perService: 1, url: `http://127.0.0.1:${target.port}/ok`, every: '20s' }), dataDir: join(dir, 'data'), env: { SHIPSHAPE_LOG_LEVEL: process.env.LL ?? 'info' } });
const threads = (pid: number) => {
  const out = new Map<string, { name: string; u: number; s: number }>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    out.set(t, { name, u: Number(f[11]), s: Number(f[12]) });
  }
  return out;
};
await sleep(30_000);
const a = threads(server.child.pid);
const m0 = await scrape(server.url);
await sleep(40_000);
const b = threads(server.child.pid);
const agg = new Map<string, { u: number; s: number }>();
for (const [tid, x] of b) { const y = a.get(tid) ?? { u: 0, s: 0 }; const k = tid === String(server.child.pid) ? 'main' : `thread ${tid}`; const e = agg.get(k) ?? { u: 0, s: 0 }; e.u += x.u - y.u; e.s += x.s - y.s; agg.set(k, e); }
for (const [k, v] of agg) console.log(k.padEnd(20), 'user%', (v.u / 40).toFixed(2), 'sys%', (v.s / 40).toFixed(2));
const m1 = await scrape(server.url);
for (const s of m1) if (/heap_size|external|rss|space_size_used/.test(s.name)) console.log(s.name, JSON.stringify(s.labels), (s.value / 1048576).toFixed(1));
console.log(server.child.output().split('\n').length, 'log lines');
await stopChild(server.child); await stopChild(target.child); removeTempDir(dir);
