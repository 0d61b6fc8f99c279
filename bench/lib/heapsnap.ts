/**
 * Where a V8 heap goes: reads a `.heapsnapshot`, builds the dominator tree (Cooper–Harvey–Kennedy,
 * weak edges ignored) and sums self and retained size by constructor / kind, plus the biggest
 * retainers (dominator-tree nodes) with their retaining path. Used by the http1k and soak scenarios
 * when `BENCH_HEAPSNAP_DIR` is set, or by hand: `npx tsx bench/lib/heapsnap.ts <file> [top]`.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapGroup {
  name: string;
  count: number;
  selfBytes: number;
  /** retained by the group's outermost members (members dominated by another member are not counted twice) */
  retainedBytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  byConstructor: HeapGroup[];
  /** loaded code by package (or Shipshape folder): each script's source text plus what its functions retain (bytecode, scope info…) */
  byPackage: { name: string; scripts: number; bytes: number }[];
  /** held right under a GC root (dominated by nothing but a root), by root and label */
  underRoots: HeapGroup[];
  /** the biggest single objects right under a GC root, with their biggest dominated children */
  singles: { path: string; selfBytes: number; retainedBytes: number }[];
  /** the biggest dominator-tree nodes, with the names on the dominator path from the root */
  retainers: { path: string; selfBytes: number; retainedBytes: number }[];
}

export function summariseHeap(file: string, top = 30): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const nTypes = s.snapshot.meta.node_types[0];
  const eTypes = s.snapshot.meta.edge_types[0];
  const NF = nf.length;
  const EF = ef.length;
  const N = s.nodes.length / NF;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const iSize = nf.indexOf('self_size');
  const iEdges = nf.indexOf('edge_count');
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const weak = eTypes.indexOf('weak');
  const shortcut = eTypes.indexOf('shortcut');
  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += (s.nodes[i * NF + iEdges] as number) * EF;
    firstEdge[i + 1] = e;
  }
  const size = (i: number) => s.nodes[i * NF + iSize] as number;
  const typeOf = (i: number) => nTypes[s.nodes[i * NF + iType] as number] as string;
  const rawName = (i: number) => s.strings[s.nodes[i * NF + iName] as number] as string;
  const label = (i: number): string => {
    const t = typeOf(i);
    const n = rawName(i);
    if (t === 'object' || t === 'native') return n.length > 60 ? `${n.slice(0, 60)}…` : n;
    if (t === 'closure') return `(closure ${n || 'anonymous'})`;
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return '(string)';
    if (t === 'array') return `(array ${n})`;
    if (t === 'code') return '(compiled code)';
    if (t === 'hidden') return `(hidden ${n.slice(0, 40)})`;
    return `(${t}${n ? ` ${n.slice(0, 40)}` : ''})`;
  };
  const usable = (e: number) => {
    const t = s.edges[e + eType] as number;
    return t !== weak && t !== shortcut;
  };
  // post-order DFS from node 0 (the synthetic root)
  const post = new Int32Array(N).fill(-1);
  const order: number[] = [];
  const stack: number[] = [0];
  const cursor = new Uint32Array(N);
  const seen = new Uint8Array(N);
  seen[0] = 1;
  cursor[0] = firstEdge[0] as number;
  while (stack.length) {
    const v = stack[stack.length - 1] as number;
    let pushed = false;
    while ((cursor[v] as number) < (firstEdge[v + 1] as number)) {
      const e = cursor[v] as number;
      cursor[v] = e + EF;
      if (!usable(e)) continue;
      const w = (s.edges[e + eTo] as number) / NF;
      if (!seen[w]) {
        seen[w] = 1;
        cursor[w] = firstEdge[w] as number;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      post[v] = order.length;
      order.push(v);
    }
  }
  // predecessors (reachable nodes only)
  const predCount = new Uint32Array(N + 1);
  for (let v = 0; v < N; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF) if (usable(e)) {
        const w = (s.edges[e + eTo] as number) / NF;
        predCount[w] = (predCount[w] as number) + 1;
      }
  }
  const predStart = new Uint32Array(N + 1);
  for (let i = 0; i < N; i++) predStart[i + 1] = (predStart[i] as number) + (predCount[i] as number);
  const preds = new Uint32Array(predStart[N] as number);
  const fill = predStart.slice();
  for (let v = 0; v < N; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF) {
      if (!usable(e)) continue;
      const w = (s.edges[e + eTo] as number) / NF;
      const at = fill[w] as number;
      fill[w] = at + 1;
      preds[at] = v;
    }
  }
  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while ((post[a] as number) < (post[b] as number)) a = idom[a] as number;
      while ((post[b] as number) < (post[a] as number)) b = idom[b] as number;
    }
    return a;
  };
  for (let changed = true, rounds = 0; changed && rounds < 50; rounds++) {
    changed = false;
    for (let k = order.length - 2; k >= 0; k--) {
      const v = order[k] as number;
      let d = -1;
      for (let p = predStart[v] as number; p < (predStart[v + 1] as number); p++) {
        const u = preds[p] as number;
        if (idom[u] === -1) continue;
        d = d === -1 ? u : intersect(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(N);
  for (const v of order) retained[v] = (retained[v] as number) + size(v);
  for (const v of order) if (v !== 0) retained[idom[v] as number] = (retained[idom[v] as number] as number) + (retained[v] as number);
  let total = 0;
  const groups = new Map<string, HeapGroup>();
  for (const v of order) {
    total += size(v);
    const name = label(v);
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, count: 0, selfBytes: 0, retainedBytes: 0 }));
    g.count++;
    g.selfBytes += size(v);
    // outermost member of its group: no dominator with the same label
    let d = idom[v] as number;
    let outer = true;
    while (d !== 0) {
      if (label(d) === name) {
        outer = false;
        break;
      }
      d = idom[d] as number;
    }
    if (outer) g.retainedBytes += retained[v] as number;
  }
  const byConstructor = [...groups.values()].sort((a, b) => b.retainedBytes - a.retainedBytes).slice(0, top);
  // biggest retainers: nodes retaining ≥ 1% of the heap whose children each retain less than half of them
  const big = order.filter((v) => v !== 0 && (retained[v] as number) >= total * 0.01);
  const path = (v: number) => {
    const names: string[] = [];
    for (let d = v; d !== 0 && names.length < 8; d = idom[d] as number) {
      const t = typeOf(d);
      if (t !== 'synthetic') names.push(label(d));
    }
    return names.reverse().join(' > ');
  };
  const retainers = big
  .filter((v) => !big.some((c) => idom[c] === v && (retained[c] as number) >= (retained[v] as number) * 0.5))
  .sort((a, b) => (retained[b] as number) - (retained[a] as number))
  .slice(0, top)
  .map((v) => ({ path: path(v), selfBytes: size(v), retainedBytes: retained[v] as number }));
  // code by package: Script nodes (type code, named by their file) and the functions pointing at them
  const edgeName = (e: number) => {
    const t = eTypes[s.edges[e + eType] as number];
    return t === 'element' || t === 'hidden' ? '' : (s.strings[s.edges[e + eName] as number] as string);
  };
  const pkgOf = (file: string) => {
    const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(file);
    if (m) return m[1] as string;
    const d = /\/dist\/([^/]+)/.exec(file);
    if (d) return `shipshape ${(d[1] as string).replace(/\.js$/, '')}`;
    return file.startsWith('node:') || !file.includes('/') ? 'node internals' : file.slice(0, 60);
  };
  const scriptPkg = new Map<number, string>();
  const pkgs = new Map<string, { name: string; scripts: number; bytes: number }>();
  const add = (name: string, bytes: number, script: boolean) => {
    let g = pkgs.get(name);
    if (!g) pkgs.set(name, (g = { name, scripts: 0, bytes: 0 }));
    g.bytes += bytes;
    if (script) g.scripts++;
  };
  for (const v of order) {
    if (typeOf(v) !== 'code') continue;
    for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF) {
      if (edgeName(e) !== 'source') continue;
      const pkg = pkgOf(rawName(v));
      scriptPkg.set(v, pkg);
      add(pkg, size(v) + size((s.edges[e + eTo] as number) / NF), true);
    }
  }
  for (const v of order) {
    for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF) {
      if (edgeName(e) !== 'script') continue;
      const pkg = scriptPkg.get((s.edges[e + eTo] as number) / NF);
      if (pkg !== undefined) add(pkg, retained[v] as number, false);
    }
  }
  // what the GC roots hold directly: the first non-synthetic node on each dominator path, by label
  const tops = new Map<string, { name: string; count: number; selfBytes: number; retainedBytes: number }>();
  for (const v of order) {
    if (v === 0 || typeOf(v) === 'synthetic' || typeOf(idom[v] as number) !== 'synthetic') continue;
    const root = rawName(idom[v] as number);
    const name = `${root.slice(0, 30)} > ${label(v)}`;
    let g = tops.get(name);
    if (!g) tops.set(name, (g = { name, count: 0, selfBytes: 0, retainedBytes: 0 }));
    g.count++;
    g.selfBytes += size(v);
    g.retainedBytes += retained[v] as number;
  }
  const underRoots = [...tops.values()].sort((a, b) => b.retainedBytes - a.retainedBytes).slice(0, top);
  // the biggest single objects right under the roots, with the names of their biggest children
  const singles = order
  .filter((v) => v !== 0 && typeOf(v) !== 'synthetic' && typeOf(idom[v] as number) === 'synthetic')
  .sort((a, b) => (retained[b] as number) - (retained[a] as number))
  .slice(0, top)
  .map((v) => {
    const kids: { name: string; bytes: number }[] = [];
    for (let e = firstEdge[v] as number; e < (firstEdge[v + 1] as number); e += EF) {
      const w = (s.edges[e + eTo] as number) / NF;
      if (idom[w] !== v) continue;
      const en = edgeName(e) || `[${s.edges[e + eName] as number}]`;
      kids.push({ name: `${en}: ${label(w)}`, bytes: retained[w] as number });
    }
    kids.sort((a, b) => b.bytes - a.bytes);
    return { path: `${label(v)} { ${kids.slice(0, 4).map((k) => `${k.name} ${(k.bytes / 1048576).toFixed(2)} MB`).join(', ')} }`, selfBytes: size(v), retainedBytes: retained[v] as number };
  });
  const byPackage = [...pkgs.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  return { totalBytes: total, nodes: N, byConstructor, byPackage, underRoots, singles, retainers };
}

export function formatHeap(h: HeapSummary): string {
  const mb = (b: number) => `${(b / 1048576).toFixed(2).padStart(7)} MB`;
  const lines = [`heap snapshot: ${mb(h.totalBytes)} reachable in ${h.nodes} nodes`, '  by constructor / kind (retained, self, count):'];
  for (const g of h.byConstructor) lines.push(`    ${mb(g.retainedBytes)} ${mb(g.selfBytes)} ${String(g.count).padStart(8)}  ${g.name}`);
  lines.push('  held right under the GC roots (retained, self, count):');
  for (const g of h.underRoots) lines.push(`    ${mb(g.retainedBytes)} ${mb(g.selfBytes)} ${String(g.count).padStart(8)}  ${g.name}`);
  lines.push('  biggest single objects under the GC roots (retained, self; biggest children):');
  for (const r of h.singles) lines.push(`    ${mb(r.retainedBytes)} ${mb(r.selfBytes)}  ${r.path}`);
  lines.push('  loaded code by package (source + retained by its functions; scripts):');
  for (const p of h.byPackage) lines.push(`    ${mb(p.bytes)} ${String(p.scripts).padStart(5)}  ${p.name}`);
  lines.push('  biggest retainers (retained, self; dominator path):');
  for (const r of h.retainers) lines.push(`    ${mb(r.retainedBytes)} ${mb(r.selfBytes)}  ${r.path}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'))) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/lib/heapsnap.ts <file.heapsnapshot> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatHeap(summariseHeap(file, Number(process.argv[3] ?? 30)))}\n`);
}

/** node flags that let `snapshotProcess` take a snapshot of a server started with them (only when `BENCH_HEAPSNAP_DIR` is set). */
export function heapSnapArgs(): string[] {
  const dir = process.env.BENCH_HEAPSNAP_DIR;
  return dir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] : [];
}

/** Signal a process started with `heapSnapArgs()` to write a snapshot; resolves with its summary once written (null when not enabled). */
export async function snapshotProcess(pid: number, tag: string, log: (s: string) => void): Promise<string | null> {
  const dir = process.env.BENCH_HEAPSNAP_DIR;
  if (!dir) return null;
  const { readdirSync, statSync, renameSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const start = performance.now();
  let file: string | undefined;
  let lastSize = -1;
  while (performance.now() - start < 120_000) {
    await new Promise((r) => setTimeout(r, 1000));
    file ??= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const sz = statSync(join(dir, file)).size;
    if (sz > 0 && sz === lastSize) break;
    lastSize = sz;
  }
  if (!file) {
    log(`${tag}: no heap snapshot was written`);
    return null;
  }
  const dest = join(dir, `${tag}.heapsnapshot`);
  renameSync(join(dir, file), dest);
  const text = formatHeap(summariseHeap(dest, 40));
  writeFileSync(join(dir, `${tag}.txt`), `${text}\n`);
  log(`${tag}: ${dest}\n${text}`);
  return text;
}
