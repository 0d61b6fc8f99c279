/** Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per file/package. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  where: string;
  selfPct: number;
  selfMs: number;
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

function pkgOf(url: string): string {
  const s = shortUrl(url);
  if (s.startsWith('node:')) return 'node internals';
  if (s.startsWith('dist/')) return s;
  if (s === '(native)') return '(native / V8)';
  const parts = s.split('/');
  return (parts[0] as string).startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
}

/**
 * Percentages are of busy time (idle excluded). `windowUs` keeps only the samples taken in that
 * span of the monotonic clock (V8 timestamps are CLOCK_MONOTONIC µs, like process.hrtime).
 */
export function summarise(file: string, top = 20, windowUs?: [number, number]): { busyMs: number; totalMs: number; samples: number; functions: HotSpot[]; files: HotSpot[]; shipshapeTotal: HotSpot[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfById = new Map<number, number>();
  let total = 0;
  let at = p.startTime;
  let kept = 0;
  p.samples.forEach((id, i) => {
    const delta = p.timeDeltas[i] ?? 0;
    at += delta;
    if (windowUs && (at < windowUs[0] || at > windowUs[1])) return;
    const dt = delta / 1000;
    selfById.set(id, (selfById.get(id) ?? 0) + dt);
    total += dt;
    kept++;
  });
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of selfById) {
    const cf = (byId.get(id) as Node).callFrame;
    if (cf.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const url = shortUrl(cf.url);
    const key = cf.url ? `${url}:${cf.functionName || '(anonymous)'}:${cf.lineNumber + 1}` : cf.functionName;
    fn.set(key, (fn.get(key) ?? 0) + ms);
    const pk = cf.url ? pkgOf(cf.url) : cf.functionName;
    files.set(pk, (files.get(pk) ?? 0) + ms);
  }
  const busy = total - idle;
  // inclusive time of Shipshape's own functions (dist/), each counted once per sample stack
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, ms] of selfById) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = (byId.get(cur) as Node).callFrame;
      if (!cf.url.includes('/dist/') || cf.url.includes('node_modules')) continue;
      const key = `${shortUrl(cf.url)}:${cf.functionName || '(anonymous)'}:${cf.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + ms);
    }
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, ms]) => ({ where, selfMs: ms, selfPct: (100 * ms) / Math.max(busy, 1e-9) }));
  return { busyMs: busy, totalMs: total, samples: kept, functions: list(fn), files: list(files), shipshapeTotal: list(incl) };
}
